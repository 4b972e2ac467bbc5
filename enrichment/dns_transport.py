"""The resolver's UDP transport: each socket asks several questions before it is closed.

dnspython's stub resolver opens a new UDP socket for every question and closes it after the
answer (an asyncio datagram endpoint each time: socket, transport, selector registration). A
worker asks about six questions per indicator, and a profile of the enrichment benchmark put
that set-up and tear-down at about a tenth of the event loop's time.

:class:`ReusedSocketNameserver` is dnspython's own ``Do53Nameserver`` with one change: a UDP
question borrows an idle socket (or opens one), and gives it back after a good answer, so the
resolver keeps its whole behaviour (retries, TCP on truncation, the answer's classification).

- At most one question is in flight on a socket, so there are never more sockets than
  questions in flight (the request gate bounds those).
- A socket that saw a timeout or an error is closed, never given back; an answer arriving late
  for an earlier question on a reused socket is told apart by its id and question and ignored
  (``ignore_unexpected``, as dnspython does for every question).
- A socket answers at most :data:`QUESTIONS_PER_SOCKET` questions, then is closed, so the
  source port still changes every few dozen questions (the defence against forged answers that
  a random source port gives is kept, at a fraction of the cost).

An answer is also read only as far as its answer section (:func:`answer_only`). The worker
records the records that answer its question; the authority section (the zone's name servers,
or the SOA of a negative answer) and the additional section (glue) of the same datagram are
never used, and dnspython building and hashing every one of their records took about twice the
time of the answer section itself in a profile of the enrichment benchmark. Questions carry no
EDNS (the resolver's default), so no OPT record is lost with the additional section.
"""

from __future__ import annotations

import socket
from typing import Any

import dns.asyncbackend
import dns.asyncquery
import dns.inet
import dns.message
import dns.nameserver

__all__ = ["QUESTIONS_PER_SOCKET", "ReusedSocketNameserver", "answer_only"]

QUESTIONS_PER_SOCKET = 64
"""Questions one UDP socket asks before it is closed and a new port is taken."""


_HEADER = 12
"""Bytes of a DNS header; the authority and additional counts are its bytes 8 to 11."""


def answer_only(wire: bytes) -> bytes:
    """``wire`` with its authority and additional record counts set to zero, so a parser
    reading it with ``ignore_trailing`` stops after the answer section. A datagram too short
    to hold a header is returned as it is (the parser rejects it)."""
    if len(wire) < _HEADER:
        return wire
    return wire[:8] + bytes(4) + wire[_HEADER:]


class _AnswerOnlySocket:
    """A borrowed UDP socket whose datagrams reach dnspython's reader as :func:`answer_only`
    makes them; sending is the socket's own."""

    def __init__(self, sock: dns.asyncbackend.DatagramSocket) -> None:
        self._sock = sock
        self.family = sock.family

    async def sendto(self, what: bytes, destination: Any, timeout: float | None) -> int:
        return await self._sock.sendto(what, destination, timeout)

    async def recvfrom(self, size: int, timeout: float | None) -> tuple[bytes, Any]:
        wire, source = await self._sock.recvfrom(size, timeout)
        return answer_only(wire), source


class ReusedSocketNameserver(dns.nameserver.Do53Nameserver):
    """A plain DNS server (UDP, TCP on truncation) whose UDP sockets are kept between
    questions. Use it from one event loop; :meth:`aclose` closes the idle sockets.

    With ``answer_only`` (the default), a UDP answer is read up to its answer section
    (:func:`answer_only`); an answer over TCP is read whole."""

    def __init__(
        self,
        address: str,
        port: int = 53,
        questions_per_socket: int = QUESTIONS_PER_SOCKET,
        *,
        answer_only: bool = True,
    ) -> None:
        super().__init__(address, port)
        if questions_per_socket < 1:
            raise ValueError("questions_per_socket must be at least 1")
        self.questions_per_socket = questions_per_socket
        self.answer_only = answer_only
        self._idle: list[tuple[dns.asyncbackend.DatagramSocket, int]] = []
        self.sockets_opened = 0
        """Sockets opened so far: what the reuse saves is questions asked minus this."""

    async def _borrow(
        self, backend: dns.asyncbackend.Backend
    ) -> tuple[dns.asyncbackend.DatagramSocket, int]:
        if self._idle:
            return self._idle.pop()
        family = dns.inet.af_for_address(self.address)
        sock = await backend.make_socket(family, socket.SOCK_DGRAM)
        self.sockets_opened += 1
        return sock, 0

    async def async_query(
        self,
        request: dns.message.QueryMessage,
        timeout: float,
        source: str | None,
        source_port: int,
        max_size: bool,
        backend: dns.asyncbackend.Backend,
        one_rr_per_rrset: bool = False,
        ignore_trailing: bool = False,
    ) -> dns.message.Message:
        if max_size or source is not None or source_port:
            # TCP (a truncated answer's retry), or a pinned source: dnspython's own path.
            return await super().async_query(
                request, timeout, source, source_port, max_size, backend,
                one_rr_per_rrset, ignore_trailing,
            )  # fmt: skip
        sock, asked = await self._borrow(backend)
        answered = False
        reader: Any = _AnswerOnlySocket(sock) if self.answer_only else sock
        try:
            response = await dns.asyncquery.udp(
                request, self.address, timeout=timeout, port=self.port,
                raise_on_truncation=True, one_rr_per_rrset=one_rr_per_rrset,
                ignore_trailing=ignore_trailing or self.answer_only, ignore_errors=True,
                ignore_unexpected=True, sock=reader,
            )  # fmt: skip
            answered = True
            return response
        finally:
            if answered and asked + 1 < self.questions_per_socket:
                self._idle.append((sock, asked + 1))
            else:
                await sock.close()

    async def aclose(self) -> None:
        """Close the idle sockets (call before the event loop ends)."""
        idle, self._idle = self._idle, []
        for sock, _ in idle:
            await sock.close()
