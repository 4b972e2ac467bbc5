"""DNS source: A, AAAA, CNAME, NS, MX, TXT and SOA for names, PTR for addresses, with TTLs.

get: :func:`fetch_dns_name` / :func:`fetch_dns_address` ask the configured resolver (dnspython
asyncio, no system configuration). transform: :func:`records_from_response` turns one DNS
response message into :class:`DnsRecord` observations, so recorded answers drive its tests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress

import dns.exception
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver
import dns.reversename
import dns.rrset
from dns.rdtypes.ANY.TXT import TXT

from enrichment.clients import EnrichmentClients
from enrichment.failures import (
    FailureKind,
    NoDataError,
    Outcome,
    PermanentError,
    QuotaExhausted,
    SourceError,
    TransientError,
)
from enrichment.observations import DnsRecord, Observation, Provenance, SourceResult, resume_time
from enrichment.retry import with_retry

SOURCE = "dns"
NAME_TYPES: tuple[str, ...] = ("A", "AAAA", "CNAME", "NS", "MX", "TXT", "SOA")


def _value(rdata: object) -> str:
    if isinstance(rdata, TXT):
        return "".join(part.decode("utf-8", "backslashreplace") for part in rdata.strings)
    return str(rdata.to_text())  # type: ignore[attr-defined]


def records_from_rrset(rrset: dns.rrset.RRset, provenance: Provenance) -> tuple[DnsRecord, ...]:
    """One :class:`DnsRecord` per rdata, sorted by value so results are reproducible."""
    name = rrset.name.to_text(omit_final_dot=True).lower()
    rrtype = dns.rdatatype.to_text(rrset.rdtype)
    values = sorted(_value(rdata) for rdata in rrset)
    return tuple(DnsRecord(name, rrtype, value, rrset.ttl, provenance) for value in values)


def records_from_response(
    response: dns.message.Message, provenance: Provenance
) -> tuple[DnsRecord, ...]:
    """The records answering the question of ``response``, following CNAME chains.

    A CNAME met on the way to another type is not returned here: the CNAME question returns it.
    Returns an empty tuple when the response holds no answer of the asked type.
    """
    if not isinstance(response, dns.message.QueryMessage):
        raise TypeError("records_from_response needs a DNS query response")
    chain = response.resolve_chaining()
    if chain.answer is None:
        return ()
    return records_from_rrset(chain.answer, provenance)


async def _query(clients: EnrichmentClients, qname: str, rrtype: str) -> tuple[DnsRecord, ...]:
    """One question, classified: NoDataError, TransientError or PermanentError on failure."""
    server = clients.dns_server
    config = clients.config
    async with clients.gate.slot(
        config.resolver_address, config.resolver_port, config.dns_rate_limit
    ):
        try:
            answer = await clients.resolver.resolve(qname, rrtype, search=False)
        except dns.resolver.NXDOMAIN as error:
            raise NoDataError(f"NXDOMAIN for {qname}", server) from error
        except dns.resolver.NoAnswer as error:
            raise NoDataError(f"no {rrtype} records for {qname}", server) from error
        except dns.exception.Timeout as error:
            raise TransientError(f"timeout asking {server} {qname} {rrtype}", server) from error
        except dns.resolver.NoNameservers as error:
            # Every server answered SERVFAIL (or REFUSED): the zone may be broken right now.
            raise TransientError(f"SERVFAIL from {server} for {qname} {rrtype}", server) from error
        except (dns.resolver.YXDOMAIN, dns.name.NameTooLong, dns.name.LabelTooLong) as error:
            raise PermanentError(f"{qname} {rrtype}: {error}", server) from error
    provenance = Provenance(SOURCE, server, dt.datetime.now(dt.UTC))
    if answer.rrset is None:
        raise NoDataError(f"no {rrtype} records for {qname}", server)
    return records_from_rrset(answer.rrset, provenance)


def _is_nxdomain(error: NoDataError) -> bool:
    return isinstance(error.__cause__, dns.resolver.NXDOMAIN)


async def _lookup(
    clients: EnrichmentClients, subject: str, qname: str, rrtypes: tuple[str, ...]
) -> SourceResult:
    async def one(rrtype: str) -> tuple[tuple[DnsRecord, ...], int, SourceError | None]:
        try:
            done = await with_retry(
                lambda: _query(clients, qname, rrtype), clients.config.retry, clients.rng
            )
        except SourceError as error:
            return (), error.attempts, error
        return done.value, done.attempts, None

    outcomes = await asyncio.gather(*(one(t) for t in rrtypes))
    observations: tuple[Observation, ...] = tuple(r for recs, _, _ in outcomes for r in recs)
    attempts = sum(n for _, n, _ in outcomes)
    failures = [
        (rrtype, e)
        for rrtype, (_, _, e) in zip(rrtypes, outcomes, strict=True)
        if e is not None and not isinstance(e, NoDataError)
    ]
    if failures:
        reason = "; ".join(f"{rrtype}: {e.reason}" for rrtype, e in failures)
        spent = [e for _, e in failures if isinstance(e, QuotaExhausted)]
        if spent:
            until = max(resume_time(e) for e in spent)
            return SourceResult(
                SOURCE, subject, Outcome.FAILED, observations, reason,
                FailureKind.DEFERRED, attempts, until,
            )  # fmt: skip
        kind = (
            FailureKind.TRANSIENT
            if all(isinstance(e, TransientError) for _, e in failures)
            else FailureKind.ERROR
        )
        return SourceResult(SOURCE, subject, Outcome.FAILED, observations, reason, kind, attempts)
    if observations:
        return SourceResult(SOURCE, subject, Outcome.OK, observations, attempts=attempts)
    nxdomain = any(isinstance(e, NoDataError) and _is_nxdomain(e) for _, _, e in outcomes)
    reason = f"NXDOMAIN for {qname}" if nxdomain else f"no {'/'.join(rrtypes)} records"
    return SourceResult(SOURCE, subject, Outcome.NO_DATA, (), reason, None, attempts)


async def fetch_dns_name(
    name: str, clients: EnrichmentClients, rrtypes: tuple[str, ...] = NAME_TYPES
) -> SourceResult:
    """Resolve ``name`` for each type in ``rrtypes`` (concurrently).

    ``ok`` with every record found; ``no_data`` when the name does not exist or holds none of
    the types; ``failed`` (with whatever records did arrive) when any question failed.
    """
    qname = name.rstrip(".").lower() + "."
    return await _lookup(clients, name, qname, rrtypes)


async def fetch_dns_address(address: str, clients: EnrichmentClients) -> SourceResult:
    """Reverse-resolve ``address`` (PTR under in-addr.arpa / ip6.arpa)."""
    canonical = str(ipaddress.ip_address(address))
    qname = dns.reversename.from_address(canonical).to_text()
    return await _lookup(clients, canonical, qname, ("PTR",))
