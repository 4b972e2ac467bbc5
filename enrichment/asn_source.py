"""ASN source: origin AS, BGP prefix, country, registry and allocation date per address.

get: Team Cymru's DNS interface (TXT at ``<reversed>.origin.asn.cymru.com`` /
``origin6.asn.cymru.com``, then ``AS<n>.asn.cymru.com`` for each origin AS's name, country,
registry and allocation date) through the configured
resolver; when that fails (not when it says "nothing"), Team Cymru's WHOIS interface at the
configured host and port. transform: ipwhois's own Cymru parsers
(``IPASN.parse_fields_dns``, ``parse_fields_verbose_dns``, ``parse_fields_whois``) applied to
the fetched text by :func:`origins_from_dns` and :func:`origins_from_whois`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import ipaddress
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import dns.exception
import dns.resolver
from ipwhois.asn import IPASN
from ipwhois.exceptions import ASNParseError, ASNRegistryError
from ipwhois.net import ORG_MAP
from ipwhois.whois import RIR_WHOIS

from enrichment.failures import (
    NoDataError,
    Outcome,
    PermanentError,
    QuotaExhausted,
    SourceError,
    TransientError,
)
from enrichment.flights import Flights
from enrichment.ip_rdap import is_unrouted
from enrichment.observations import AsnOrigin, Provenance, SourceResult, result_from_error
from enrichment.registries import CYMRU_DNS
from enrichment.retry import with_retry
from enrichment.whois_client import whois_query

if TYPE_CHECKING:
    from enrichment.clients import EnrichmentClients

SOURCE = "asn"
VIA_DNS = "asn_cymru_dns"
VIA_WHOIS = "asn_cymru_whois"


class _CymruParser(IPASN):
    """ipwhois's Cymru answer parsers without an ``ipwhois.net.Net``.

    The parse methods read only the registry table. ``IPASN.__init__`` insists on a ``Net``,
    whose constructor reads the system resolver configuration and rejects the documentation
    ranges the sandbox uses, so it is deliberately not called.
    """

    def __init__(self) -> None:
        self.rir_whois = RIR_WHOIS
        self.org_map = ORG_MAP


_PARSER = _CymruParser()

# Origin ASes looked up by name per address: a prefix announced by more is a rare anomaly.
MAX_AS_LOOKUPS = 4


@dataclass(frozen=True)
class AsRegistration:
    """An AS number's registration, from ``AS<n>.asn.cymru.com``."""

    name: str | None
    country: str | None
    registry: str | None
    allocated: dt.date | None


def as_registration_from_dns(text: str, server: str) -> tuple[int, AsRegistration] | None:
    """The AS number and registration in a verbose Cymru TXT (``"ASN | CC | registry | date |
    name"``); ``None`` when the answer names no AS.

    Raises:
        PermanentError: a TXT string ipwhois cannot parse.
    """
    parsed = _parse(_PARSER.parse_fields_verbose_dns, text, server)
    asn = str(parsed.get("asn") or "").split()
    if len(asn) != 1 or not asn[0].isdigit():
        return None
    return int(asn[0]), AsRegistration(
        name=(parsed.get("asn_description") or "").strip() or None,
        country=(parsed.get("asn_country_code") or "").strip() or None,
        registry=(parsed.get("asn_registry") or "").strip() or None,
        allocated=_date(parsed.get("asn_date")),
    )


def cymru_origin_qnames(address: str, config_v4: str, config_v6: str) -> tuple[str, ...]:
    """Names to ask for an address's origin, in order.

    IPv4: reversed octets. IPv6: reversed nibbles with trailing all-zero groups dropped (as
    ipwhois sends them), then the full 32-nibble form as a second try.
    """
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return (".".join(reversed(str(ip).split("."))) + f".{config_v4}.",)
    groups = ip.exploded.split(":")
    full = ".".join(reversed("".join(groups))) + f".{config_v6}."
    while groups and groups[-1] == "0000":
        groups.pop()
    trimmed = ".".join(reversed("".join(groups))) + f".{config_v6}."
    return (trimmed,) if trimmed == full else (trimmed, full)


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _origins(
    address: str, parsed: dict[str, Any], provenance: Provenance, as_name: str | None = None
) -> list[AsnOrigin]:
    """One origin per AS in a parsed Cymru row."""
    asns = str(parsed.get("asn") or "").split()
    if not asns or asns == ["NA"]:
        return []
    country = (parsed.get("asn_country_code") or "").strip() or None
    return [
        AsnOrigin(
            address=address,
            asn=int(asn),
            prefix=str(parsed["asn_cidr"]),
            country=country,
            registry=str(parsed["asn_registry"]),
            allocated=_date(parsed.get("asn_date")),
            as_name=as_name,
            provenance=provenance,
        )
        for asn in asns
        if asn.isdigit()
    ]


def with_registrations(
    origins: Iterable[AsnOrigin],
    as_txts: Iterable[str],
    server: str,
    retrieved_at: Mapping[str, dt.datetime] | None = None,
) -> tuple[AsnOrigin, ...]:
    """``origins`` with the AS registrations in ``as_txts`` (``AS<n>.asn.cymru.com`` answers).

    Each answer is matched to an origin by the AS number it states, so an AS is never given
    another AS's name or country; an origin without an answer keeps what it had.
    ``retrieved_at`` gives the time each answer was retrieved, kept as the origin's
    ``as_retrieved_at``.

    Raises:
        PermanentError: a TXT string ipwhois cannot parse.
    """
    registrations: dict[int, tuple[AsRegistration, dt.datetime | None]] = {}
    for text in as_txts:
        found = as_registration_from_dns(text, server)
        if found is not None:
            registrations[found[0]] = (found[1], (retrieved_at or {}).get(text))
    out = []
    for origin in origins:
        if origin.asn in registrations:
            registration, when = registrations[origin.asn]
            origin = replace(
                origin,
                as_name=registration.name,
                as_country=registration.country,
                as_registry=registration.registry,
                as_allocated=registration.allocated,
                as_retrieved_at=when,
            )
        out.append(origin)
    return tuple(out)


def _parse(method: Any, text: str, server: str) -> dict[str, Any]:
    try:
        parsed: dict[str, Any] = method(text)
    except (ASNParseError, ASNRegistryError) as error:
        raise PermanentError(f"unusable Team Cymru answer {text!r}: {error}", server) from error
    return parsed


def _most_specific(origins: list[AsnOrigin]) -> tuple[AsnOrigin, ...]:
    """Keep the origins of the longest prefix (one per origin AS); ipwhois does the same."""
    if not origins:
        return ()
    longest = max(ipaddress.ip_network(o.prefix, strict=False).prefixlen for o in origins)
    best = [o for o in origins if ipaddress.ip_network(o.prefix, strict=False).prefixlen == longest]
    return tuple(sorted(best, key=lambda o: o.asn))


def origins_from_dns(
    address: str,
    origin_txts: list[str],
    as_txts: Iterable[str],
    provenance: Provenance,
) -> tuple[AsnOrigin, ...]:
    """Origins from Cymru DNS TXT strings (``"ASN | prefix | CC | registry | date"``).

    ``as_txts`` are ``AS<n>.asn.cymru.com`` answers, if fetched (see
    :func:`with_registrations`). Returns the most specific prefix's origins; empty when Cymru
    reports none.

    Raises:
        PermanentError: a TXT string ipwhois cannot parse.
    """
    origins: list[AsnOrigin] = []
    for txt in origin_txts:
        parsed = _parse(_PARSER.parse_fields_dns, txt, provenance.server)
        origins += _origins(address, parsed, provenance)
    return with_registrations(_most_specific(origins), as_txts, provenance.server)


def origins_from_whois(address: str, text: str, provenance: Provenance) -> tuple[AsnOrigin, ...]:
    """Origins from a Cymru WHOIS answer (``-v``: header line, then pipe-separated rows).

    Rows whose AS is ``NA`` (nothing announced) are skipped, so an empty tuple means no data.

    Raises:
        PermanentError: a row ipwhois cannot parse.
    """
    origins: list[AsnOrigin] = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 7 or cells[0] in {"AS", "NA"} or not cells[0].split()[0].isdigit():
            continue
        parsed = _parse(_PARSER.parse_fields_whois, line, provenance.server)
        origins += _origins(address, parsed, provenance, parsed.get("asn_description") or None)
    return _most_specific(origins)


async def _txt(clients: EnrichmentClients, qname: str) -> list[str]:
    server = clients.dns_server
    config = clients.config
    async with clients.gate.slot(
        config.resolver_address, config.resolver_port, config.dns_rate_limit, registry=CYMRU_DNS
    ):
        try:
            answer = await clients.resolver.resolve(qname, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer) as error:
            raise NoDataError(f"no Team Cymru record {qname}", server) from error
        except dns.exception.Timeout as error:
            raise TransientError(f"timeout asking {server} for {qname}", server) from error
        except dns.resolver.NoNameservers as error:
            raise TransientError(f"SERVFAIL from {server} for {qname}", server) from error
    return sorted(b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer)


@dataclass(frozen=True)
class CachedAnswer:
    """An ``AS<n>.asn.cymru.com`` answer, when it was retrieved, and until when (the cache's
    clock) it is used."""

    texts: tuple[str, ...]
    retrieved_at: dt.datetime
    expires: float


class AsRegistrationCache:
    """Team Cymru's AS registration answers by AS number, for ``ttl`` seconds.

    Every address announced by one AS asked the same ``AS<n>.asn.cymru.com`` question; an AS's
    name, country, registry and allocation date change rarely, and every question counts
    against the registry's limit. An answer taken from the cache keeps the time it was
    retrieved, so the AS's facts say when they were observed. Only answers are kept: a failure
    or "no record" is asked again next time. ``hits`` and ``misses`` count lookups; ``clock``
    is injectable for tests.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[int, CachedAnswer] = {}
        self._flights = Flights()
        self.hits = 0
        self.misses = 0

    def _fresh(self, asn: int) -> CachedAnswer | None:
        entry = self._entries.get(asn)
        return entry if entry is not None and entry.expires > self._clock() else None

    @contextlib.asynccontextmanager
    async def single_flight(self, asn: int) -> AsyncIterator[CachedAnswer | None]:
        """The cached answer for ``asn`` (a hit), or None (a miss): the caller then asks,
        while lookups of the same AS wait for it, and :meth:`put` s what it got."""
        while await self._flights.landed(asn):
            pass
        found = self._fresh(asn)
        if found is not None:
            self.hits += 1
            yield found
            return
        self.misses += 1
        async with self._flights.hold(asn):
            yield None

    def put(self, asn: int, texts: Iterable[str], retrieved_at: dt.datetime) -> CachedAnswer:
        """Remember the answer for ``asn`` for the cache's ``ttl``."""
        entry = CachedAnswer(tuple(texts), retrieved_at, self._clock() + self._ttl)
        self._entries[asn] = entry
        return entry


async def _as_answer(clients: EnrichmentClients, asn: int) -> tuple[CachedAnswer, int]:
    """The AS registration answer for ``asn`` and the attempts it took (0 from the cache)."""
    cache = clients.as_registration_cache
    async with cache.single_flight(asn) as cached:
        if cached is not None:
            return cached, 0
        qname = f"AS{asn}.{clients.config.cymru_asn_zone}."
        done = await with_retry(
            functools.partial(_txt, clients, qname), clients.config.retry, clients.rng
        )
        return cache.put(asn, done.value, dt.datetime.now(dt.UTC)), done.attempts


async def _via_dns(address: str, clients: EnrichmentClients) -> tuple[tuple[AsnOrigin, ...], int]:
    config = clients.config
    attempts = 0
    texts: list[str] = []
    last: NoDataError | None = None
    for qname in cymru_origin_qnames(address, config.cymru_origin_zone, config.cymru_origin6_zone):
        try:
            done = await with_retry(
                functools.partial(_txt, clients, qname), config.retry, clients.rng
            )
        except NoDataError as error:
            attempts += error.attempts
            last = error
            continue
        except SourceError as error:
            error.attempts += attempts
            raise
        attempts += done.attempts
        texts = done.value
        break
    if not texts:
        empty = last or NoDataError(f"no Team Cymru record for {address}", clients.dns_server)
        empty.attempts = attempts
        raise empty
    retrieved = Provenance(VIA_DNS, clients.dns_server, dt.datetime.now(dt.UTC))
    # The AS lookups follow the most specific prefix's origins, which need no AS data.
    origins = origins_from_dns(address, texts, (), retrieved)
    asns = sorted({o.asn for o in origins})
    answered_at: dict[str, dt.datetime] = {}
    for asn in asns[:MAX_AS_LOOKUPS]:
        try:
            answer, tries = await _as_answer(clients, asn)
        except QuotaExhausted:
            raise
        except SourceError as error:
            # The AS registration is a courtesy; the origin facts stand without it.
            attempts += error.attempts
            continue
        attempts += tries
        answered_at.update(dict.fromkeys(answer.texts, answer.retrieved_at))
    origins = with_registrations(origins, list(answered_at), retrieved.server, answered_at)
    if not origins:
        raise NoDataError(f"Team Cymru lists no origin for {address}", retrieved.server)
    return origins, attempts


async def _via_whois(address: str, clients: EnrichmentClients) -> tuple[tuple[AsnOrigin, ...], int]:
    host, port = clients.config.cymru_whois
    done = await with_retry(
        lambda: whois_query(
            clients.gate,
            host,
            port,
            f" -v {address}",
            clients.config.whois_timeout,
            clients.config.whois_over_limit_pause,
        ),
        clients.config.retry,
        clients.rng,
    )
    answer = done.value
    provenance = Provenance(VIA_WHOIS, answer.server, answer.retrieved_at)
    origins = origins_from_whois(address, answer.text, provenance)
    if not origins:
        error = NoDataError(f"Team Cymru lists no origin for {address}", answer.server)
        error.attempts = done.attempts
        raise error
    return origins, done.attempts


async def fetch_asn(address: str, clients: EnrichmentClients) -> SourceResult:
    """Origin AS data for ``address``: Cymru DNS first, Cymru WHOIS when DNS fails.

    ``no_data`` when Cymru says nothing is announced (or the address is special-use);
    ``failed`` when both interfaces fail, with both reasons.
    """
    subject = str(ipaddress.ip_address(address))
    if is_unrouted(subject, clients.config.unrouted_networks):
        return SourceResult(
            SOURCE, subject, Outcome.NO_DATA, (), "special-use address, not looked up"
        )
    try:
        origins, attempts = await _via_dns(subject, clients)
        return SourceResult(SOURCE, subject, Outcome.OK, origins, attempts=attempts)
    except NoDataError as error:
        return result_from_error(SOURCE, subject, error)
    except QuotaExhausted as dns_error:
        return result_from_error(SOURCE, subject, dns_error)
    except SourceError as dns_error:
        try:
            origins, attempts = await _via_whois(subject, clients)
        except SourceError as whois_error:
            whois_error.reason = f"DNS: {dns_error.reason}; WHOIS: {whois_error.reason}"
            whois_error.attempts += dns_error.attempts
            return result_from_error(SOURCE, subject, whois_error)
        return SourceResult(
            SOURCE, subject, Outcome.OK, origins, attempts=attempts + dns_error.attempts
        )
