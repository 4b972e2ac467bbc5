"""A port-43 WHOIS client (RFC 3912): send one line, read until the server closes.

Used for Team Cymru's WHOIS interface and for registries without RDAP (JPRS for .jp).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from dataclasses import dataclass

from enrichment.failures import TransientError
from enrichment.ratelimit import RequestGate

MAX_ANSWER_BYTES = 1_000_000
# Registries answer a client over its limit with a short text instead of data (RIPE's
# "%ERROR:201: access denied", "access control limit reached", a "rate limit exceeded" line).
OVER_LIMIT_PATTERN = re.compile(
    rb"rate limit exceeded|query limit exceeded|access control limit|error:201: access denied"
    rb"|exceeded (?:the )?(?:allowed|maximum)[a-z ]* (?:rate|number of queries)",
    re.IGNORECASE,
)
OVER_LIMIT_MAX_BYTES = 2048
RETRY_AFTER_PATTERN = re.compile(rb"(?:after|in)\s+(\d+)\s*s", re.IGNORECASE)


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


def check_over_limit(server: str, raw: bytes, default_pause: float) -> None:
    """Raise an over-limit :class:`TransientError` when the answer is a rate-limit notice.

    Only short answers are read so: a registry's terms of use in a real answer may well
    mention its limits. The pause is the one the notice names ("retry after 30 seconds"), or
    ``default_pause``.
    """
    if len(raw) > OVER_LIMIT_MAX_BYTES or not OVER_LIMIT_PATTERN.search(raw):
        return
    named = RETRY_AFTER_PATTERN.search(raw)
    pause = float(named.group(1)) if named else default_pause
    first = decode_whois(raw).strip().splitlines()[0][:120]
    error = TransientError(f"WHOIS {server} over limit: {first}", server, pause)
    error.over_limit = True
    raise error


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
    gate: RequestGate,
    host: str,
    port: int,
    query: str,
    timeout: float,
    over_limit_pause: float = 60.0,
) -> WhoisAnswer:
    """Send ``query`` to ``host:port`` and return the complete answer.

    Raises:
        TransientError: timeout, refused or reset connection, a truncated answer, or a
            rate-limit notice (marked ``over_limit``, pausing the registry).
    """
    server = f"{host}:{port}"
    async with gate.slot(host, port):
        try:
            raw = await asyncio.wait_for(_exchange(host, port, query), timeout)
        except TimeoutError as error:
            raise TransientError(f"timeout talking to WHOIS {server}", server) from error
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
            raise TransientError(f"WHOIS {server}: {error}", server) from error
        check_over_limit(server, raw, over_limit_pause)
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
