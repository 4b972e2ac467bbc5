"""A port-43 WHOIS client (RFC 3912): send one line, read until the server closes.

Used for Team Cymru's WHOIS interface and for registries without RDAP (JPRS for .jp).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass

from enrichment.failures import TransientError
from enrichment.ratelimit import RequestGate

MAX_ANSWER_BYTES = 1_000_000


@dataclass(frozen=True)
class WhoisAnswer:
    """The text a WHOIS server sent, who sent it (``host:port``) and when (UTC)."""

    server: str
    text: str
    retrieved_at: dt.datetime


def decode_whois(raw: bytes) -> str:
    """Decode a WHOIS answer: UTF-8 where valid (JPRS sends UTF-8), else Latin-1 byte for byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def check_complete(server: str, raw: bytes) -> None:
    """Raise :class:`TransientError` when an answer looks cut off.

    WHOIS has no length framing; a complete answer is non-empty and ends with a line break.
    A server that closes mid-line (or sends nothing) has been interrupted.
    """
    if not raw.strip():
        raise TransientError(f"empty WHOIS answer from {server}", server)
    if not raw.endswith(b"\n"):
        raise TransientError(f"truncated WHOIS answer from {server}", server)


async def whois_query(
    gate: RequestGate, host: str, port: int, query: str, timeout: float
) -> WhoisAnswer:
    """Send ``query`` to ``host:port`` and return the complete answer.

    Raises:
        TransientError: timeout, refused or reset connection, or a truncated answer.
    """
    server = f"{host}:{port}"
    async with gate.slot(host, port):
        try:
            raw = await asyncio.wait_for(_exchange(host, port, query), timeout)
        except TimeoutError as error:
            raise TransientError(f"timeout talking to WHOIS {server}", server) from error
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
            raise TransientError(f"WHOIS {server}: {error}", server) from error
    check_complete(server, raw)
    return WhoisAnswer(server, decode_whois(raw), dt.datetime.now(dt.UTC))


async def _exchange(host: str, port: int, query: str) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(query.encode("utf-8") + b"\r\n")
        await writer.drain()
        chunks: list[bytes] = []
        size = 0
        while size < MAX_ANSWER_BYTES and (chunk := await reader.read(65536)):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        writer.close()
        # The answer is already read; a reset while closing changes nothing.
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
