"""The resolver's reused UDP sockets, against a DNS responder on 127.0.0.1.

The responder answers every A question with an address derived from the name, records the
source port each question came from, and can hold an answer back (a timeout) or send a stray
answer first (a late answer to an earlier question).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import dns.asyncbackend
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.resolver
import dns.rrset
import pytest

from enrichment.clients import enrichment_runner
from enrichment.dns_transport import ReusedSocketNameserver, answer_only


def _address_of(name: str) -> str:
    return f"192.0.2.{sum(name.encode()) % 250 + 1}"


def _answer(query: dns.message.Message, address: str) -> bytes:
    """The wire answer to ``query``: one A record of ``address``."""
    response = dns.message.make_response(query)
    name = query.question[0].name
    response.answer.append(dns.rrset.from_text(name, 300, "IN", "A", address))
    return response.to_wire()


ZONE_NS = ("ns1.hoster.test.", "ns2.hoster.test.")
GLUE = {"ns1.hoster.test.": "192.0.2.253", "ns2.hoster.test.": "192.0.2.254"}


def _full_answer(query: dns.message.Message) -> bytes:
    """The wire answer of an authoritative server that is not minimal: the answer (following
    ``alias.test`` to ``target.test`` by a CNAME), the zone's name servers in the authority
    section and their addresses in the additional section; ``missing.test`` is NXDOMAIN with
    the zone's SOA in the authority section."""
    response = dns.message.make_response(query)
    name = query.question[0].name
    text = name.to_text(omit_final_dot=True)
    if text == "missing.test":
        response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(
            dns.rrset.from_text("test.", 60, "IN", "SOA", "ns1.hoster.test. h.test. 1 2 3 4 60")
        )
        return response.to_wire()
    if text == "alias.test":
        response.answer.append(dns.rrset.from_text(name, 300, "IN", "CNAME", "target.test."))
        name, text = dns.name.from_text("target.test."), "target.test"
    response.answer.append(dns.rrset.from_text(name, 300, "IN", "A", _address_of(text)))
    response.authority.append(dns.rrset.from_text("test.", 300, "IN", "NS", *ZONE_NS))
    for host, address in GLUE.items():
        response.additional.append(dns.rrset.from_text(host, 300, "IN", "A", address))
    return response.to_wire()


class Responder(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.ports: list[int] = []
        self.hold: set[str] = set()
        self.stray_before: set[str] = set()
        self.truncate: set[str] = set()
        self.delays: dict[str, float] = {}
        self.full = False
        """Answer as :func:`_full_answer` does (authority and additional sections)."""
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # a datagram transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        name = query.question[0].name.to_text(omit_final_dot=True)
        self.ports.append(addr[1])
        if name in self.hold:
            return
        assert self.transport is not None
        if name in self.truncate:
            cut = dns.message.make_response(query)
            cut.flags |= dns.flags.TC
            self.transport.sendto(cut.to_wire(), addr)
            return
        if name in self.stray_before:
            stray = dns.message.make_query(query.question[0].name, "A")
            stray.id = (query.id + 1) % 65536
            self.transport.sendto(_answer(stray, "198.51.100.99"), addr)
        wire = _full_answer(query) if self.full else _answer(query, _address_of(name))
        delay = self.delays.get(name, 0.0)
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self.transport.sendto, wire, addr)


@asynccontextmanager
async def responder() -> AsyncIterator[tuple[Responder, int]]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        Responder, local_addr=("127.0.0.1", 0)
    )
    try:
        yield protocol, transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


def _run(test: Callable[[Responder, int], Awaitable[None]]) -> None:
    async def main() -> None:
        async with responder() as (server, port):
            await test(server, port)

    asyncio.run(main())


async def _response(
    nameserver: ReusedSocketNameserver, name: str, timeout: float = 2.0
) -> dns.message.Message:
    query = dns.message.make_query(name, "A")
    backend = dns.asyncbackend.get_default_backend()
    return await nameserver.async_query(query, timeout, None, 0, False, backend)


async def _ask(nameserver: ReusedSocketNameserver, name: str, timeout: float = 2.0) -> str:
    """The first record of the answer to an A question for ``name``."""
    return (await _response(nameserver, name, timeout)).answer[0][0].to_text()


def test_sequential_questions_share_one_socket_until_its_budget_is_spent() -> None:
    async def test(server: Responder, port: int) -> None:
        nameserver = ReusedSocketNameserver("127.0.0.1", port, questions_per_socket=3)
        names = [f"n{i}.test" for i in range(7)]
        answers = [await _ask(nameserver, name) for name in names]
        await nameserver.aclose()
        assert answers == [_address_of(name) for name in names]
        assert nameserver.sockets_opened == 3
        ports = server.ports
        assert len(set(ports)) == 3
        assert ports[0] == ports[1] == ports[2] != ports[3]
        assert ports[3] == ports[4] == ports[5] != ports[6]

    _run(test)


def test_questions_in_flight_never_share_a_socket_and_each_gets_its_own_answer() -> None:
    async def test(server: Responder, port: int) -> None:
        nameserver = ReusedSocketNameserver("127.0.0.1", port)
        names = [f"c{i}.test" for i in range(5)]
        # Answers come back in the reverse order of the questions.
        server.delays = {name: 0.05 * (5 - i) for i, name in enumerate(names)}
        answers = await asyncio.gather(*(_ask(nameserver, name) for name in names))
        assert answers == [_address_of(name) for name in names]
        assert nameserver.sockets_opened == 5
        assert len(set(server.ports)) == 5
        # The five sockets are kept: the next five questions open none.
        server.delays = {}
        await asyncio.gather(*(_ask(nameserver, f"d{i}.test") for i in range(5)))
        assert nameserver.sockets_opened == 5
        await nameserver.aclose()

    _run(test)


def test_a_socket_that_timed_out_is_closed_not_reused() -> None:
    async def test(server: Responder, port: int) -> None:
        nameserver = ReusedSocketNameserver("127.0.0.1", port)
        assert await _ask(nameserver, "first.test") == _address_of("first.test")
        server.hold = {"silent.test"}
        with pytest.raises(dns.exception.Timeout):
            await _ask(nameserver, "silent.test", timeout=0.2)
        assert await _ask(nameserver, "after.test") == _address_of("after.test")
        await nameserver.aclose()
        assert nameserver.sockets_opened == 2
        first, silent, after = server.ports
        assert first == silent != after

    _run(test)


def test_a_stray_answer_on_a_reused_socket_is_ignored() -> None:
    async def test(server: Responder, port: int) -> None:
        nameserver = ReusedSocketNameserver("127.0.0.1", port)
        assert await _ask(nameserver, "one.test") == _address_of("one.test")
        server.stray_before = {"two.test"}
        assert await _ask(nameserver, "two.test") == _address_of("two.test")
        await nameserver.aclose()
        assert nameserver.sockets_opened == 1

    _run(test)


async def _answer_over_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One length-prefixed question over TCP, answered in full."""
    size = int.from_bytes(await reader.readexactly(2), "big")
    query = dns.message.from_wire(await reader.readexactly(size))
    wire = _answer(query, _address_of(query.question[0].name.to_text(omit_final_dot=True)))
    writer.write(len(wire).to_bytes(2, "big") + wire)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


def test_a_truncated_answer_is_asked_again_over_tcp_and_its_socket_closed() -> None:
    async def test(server: Responder, port: int) -> None:
        server.truncate = {"big.test"}
        tcp = await asyncio.start_server(_answer_over_tcp, "127.0.0.1", port)
        resolver = dns.asyncresolver.Resolver(configure=False)
        nameserver = ReusedSocketNameserver("127.0.0.1", port)
        resolver.nameservers = [nameserver]
        try:
            answer = await resolver.resolve("big.test.", "A", search=False)
            assert [r.to_text() for r in answer] == [_address_of("big.test")]
            assert await _ask(nameserver, "next.test") == _address_of("next.test")
        finally:
            tcp.close()
            await tcp.wait_closed()
            await nameserver.aclose()
        assert nameserver.sockets_opened == 2
        big, after = server.ports
        assert big != after

    _run(test)


def test_closing_drops_the_idle_sockets() -> None:
    async def test(server: Responder, port: int) -> None:
        nameserver = ReusedSocketNameserver("127.0.0.1", port)
        await _ask(nameserver, "one.test")
        await nameserver.aclose()
        await _ask(nameserver, "two.test")
        await nameserver.aclose()
        assert nameserver.sockets_opened == 2
        assert server.ports[0] != server.ports[1]

    _run(test)


def test_the_resolver_answers_through_it() -> None:
    async def test(server: Responder, port: int) -> None:
        resolver = dns.asyncresolver.Resolver(configure=False)
        nameserver = ReusedSocketNameserver("127.0.0.1", port)
        resolver.nameservers = [nameserver]
        for name in ("a.test", "b.test", "c.test"):
            answer = await resolver.resolve(name + ".", "A", search=False)
            assert [r.to_text() for r in answer] == [_address_of(name)]
        await nameserver.aclose()
        assert nameserver.sockets_opened == 1
        assert len(set(server.ports)) == 1

    _run(test)


def test_a_budget_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ReusedSocketNameserver("127.0.0.1", 53, questions_per_socket=0)


def test_answer_only_zeroes_the_authority_and_additional_counts_and_keeps_every_byte_else() -> None:
    wire = bytes(range(1, 31))
    assert answer_only(wire) == bytes(range(1, 9)) + bytes(4) + bytes(range(13, 31))
    assert answer_only(b"\x01\x02\x03") == b"\x01\x02\x03"


def test_an_answer_is_read_up_to_its_answer_section() -> None:
    async def test(server: Responder, port: int) -> None:
        server.full = True
        trimmed = ReusedSocketNameserver("127.0.0.1", port)
        whole = ReusedSocketNameserver("127.0.0.1", port, answer_only=False)
        for name in ("www.test", "alias.test"):
            cut, full = await _response(trimmed, name), await _response(whole, name)
            assert cut.answer == full.answer
            assert (cut.flags, cut.question) == (full.flags, full.question)
            assert (cut.authority, cut.additional) == ([], [])
            assert sorted(r.to_text() for r in full.authority[0]) == list(ZONE_NS)
            assert len(full.additional) == 2
        await trimmed.aclose()
        await whole.aclose()

    _run(test)


def test_the_resolver_gives_the_same_answers_and_errors_from_answer_sections_alone() -> None:
    async def test(server: Responder, port: int) -> None:
        server.full = True
        resolver = dns.asyncresolver.Resolver(configure=False)
        nameserver = ReusedSocketNameserver("127.0.0.1", port)
        resolver.nameservers = [nameserver]
        plain = await resolver.resolve("www.test.", "A", search=False)
        assert [r.to_text() for r in plain] == [_address_of("www.test")]
        chained = await resolver.resolve("alias.test.", "A", search=False)
        assert chained.canonical_name.to_text() == "target.test."
        assert [r.to_text() for r in chained] == [_address_of("target.test")]
        with pytest.raises(dns.resolver.NXDOMAIN):
            await resolver.resolve("missing.test.", "A", search=False)
        await nameserver.aclose()

    _run(test)


def test_enrichment_runs_on_uvloop_and_the_resolver_answers_there() -> None:
    async def ask(port: int) -> str:
        nameserver = ReusedSocketNameserver("127.0.0.1", port)
        try:
            return await _ask(nameserver, "loop.test")
        finally:
            await nameserver.aclose()

    async def main() -> tuple[str, str]:
        async with responder() as (_, port):
            return type(asyncio.get_running_loop()).__module__, await ask(port)

    with enrichment_runner() as runner:
        assert runner.run(main()) == ("uvloop", _address_of("loop.test"))
