"""IP RDAP source: the registered network containing an address, its holder and abuse contact.

get: :func:`fetch_ip_network` finds the RDAP server through the configured bootstrap and
fetches ``<server>ip/<address>``. transform: :func:`transform_ip_network` parses the JSON with
ipwhois's RDAP network and entity parsers (``_RDAPNetwork``, ``_RDAPEntity``: ipwhois's public
``RDAP`` class needs an ``ipwhois.net.Net``, which refuses the documentation ranges used by the
sandbox and performs its own network I/O).

Registries allocate in ranges, and a scan of one hoster's addresses would otherwise ask the
same registry the same question hundreds of times. :class:`IpRdapCache` keeps each answer for
the range it describes: any address inside a fresh cached range costs no request.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import ipaddress
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ipwhois.exceptions import InvalidEntityObject, InvalidNetworkObject
from ipwhois.rdap import _RDAPEntity, _RDAPNetwork

from enrichment.failures import NoDataError, Outcome, PermanentError, SourceError
from enrichment.flights import Flights
from enrichment.observations import (
    IpNetwork,
    Provenance,
    RdapContact,
    SourceResult,
    result_from_error,
)
from enrichment.retry import with_retry

if TYPE_CHECKING:
    from enrichment.clients import EnrichmentClients

SOURCE = "ip_rdap"

# Registry names as Team Cymru and ipwhois spell them, keyed by WHOIS/RDAP host suffix.
_REGISTRY_HOSTS: tuple[tuple[str, str], ...] = (
    ("arin.net", "arin"),
    ("ripe.net", "ripencc"),
    ("apnic.net", "apnic"),
    ("lacnic.net", "lacnic"),
    ("registro.br", "lacnic"),
    ("afrinic.net", "afrinic"),
)


def registry_from_host(host: str | None) -> str | None:
    """The RIR name for a WHOIS or RDAP host name such as ``whois.ripe.net``, or None."""
    if not host:
        return None
    host = host.lower().rstrip(".")
    for suffix, name in _REGISTRY_HOSTS:
        if host == suffix or host.endswith("." + suffix):
            return name
    return None


def _registry(payload: dict[str, Any]) -> str | None:
    port43 = payload.get("port43")
    found = registry_from_host(port43 if isinstance(port43, str) else None)
    if found:
        return found
    for link in payload.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "self":
            found = registry_from_host(urlsplit(str(link.get("href", ""))).hostname)
            if found:
                return found
    return None


def parse_rdap_date(value: str | None) -> dt.datetime | None:
    """An RDAP eventDate (RFC 3339) as UTC; a date without zone is taken as UTC."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _walk_entities(entities: object) -> Iterator[dict[str, Any]]:
    """Entities in breadth-first order, including those nested inside other entities."""
    queue = [e for e in entities if isinstance(e, dict)] if isinstance(entities, list) else []
    while queue:
        entity = queue.pop(0)
        yield entity
        nested = entity.get("entities")
        if isinstance(nested, list):
            queue.extend(e for e in nested if isinstance(e, dict))


def contact_from_entity(entity: dict[str, Any]) -> RdapContact | None:
    """One RDAP entity as a :class:`RdapContact` (parsed by ipwhois); None without a handle."""
    parser = _RDAPEntity(entity)
    try:
        parser.parse()
    except InvalidEntityObject:
        return None
    found = parser.vars
    card = found.get("contact") or {}
    emails: list[str] = []
    for item in card.get("email") or []:
        value = str(item.get("value", "")).strip()
        if value and value not in emails:
            emails.append(value)
    return RdapContact(
        handle=str(found["handle"]),
        roles=tuple(str(r) for r in found.get("roles") or ()),
        name=card.get("name") or None,
        kind=card.get("kind") or None,
        emails=tuple(emails),
    )


def transform_ip_network(payload: dict[str, Any], url: str, retrieved_at: dt.datetime) -> IpNetwork:
    """Parse an RDAP "ip network" answer into an :class:`IpNetwork`.

    Raises:
        PermanentError: the answer is not a usable ip network object (no handle or range).
    """
    parser = _RDAPNetwork(payload)
    try:
        parser.parse()
    except InvalidNetworkObject as error:
        raise PermanentError(f"not an RDAP ip network from {url}: {error}", url) from error
    found = parser.vars
    contacts: list[RdapContact] = []
    for entity in _walk_entities(payload.get("entities")):
        contact = contact_from_entity(entity)
        if contact is not None and contact.handle not in {c.handle for c in contacts}:
            contacts.append(contact)
    events = {e["action"]: e["timestamp"] for e in reversed(found.get("events") or [])}
    cidr_text = found.get("cidr") or ""
    return IpNetwork(
        handle=str(found["handle"]),
        name=found.get("name") or None,
        cidrs=tuple(c.strip() for c in cidr_text.split(",") if c.strip()),
        start_address=str(found["start_address"]),
        end_address=str(found["end_address"]),
        ip_version=found.get("ip_version") or None,
        country=found.get("country") or None,
        registry=_registry(payload),
        parent_handle=found.get("parent_handle") or None,
        registered=parse_rdap_date(events.get("registration")),
        last_changed=parse_rdap_date(events.get("last changed")),
        registrant=next((c for c in contacts if "registrant" in c.roles), None),
        abuse=next((c for c in contacts if "abuse" in c.roles), None),
        contacts=tuple(contacts),
        provenance=Provenance(SOURCE, url, retrieved_at),
    )


@dataclass(frozen=True)
class _Entry:
    first: int
    last: int
    expires: float
    network: IpNetwork


class IpRdapCache:
    """RDAP network answers keyed by the address range they describe, with a freshness TTL.

    ``hits`` and ``misses`` count lookups, so a benchmark can report requests per distinct
    network. ``clock`` is injectable for tests.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[int, list[_Entry]] = {4: [], 6: []}
        self._flights = Flights()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _neighbourhood(address: str) -> str:
        """Addresses that most likely share one registration: the same /16 or IPv6 /32."""
        ip = ipaddress.ip_address(address)
        return str(ipaddress.ip_network(f"{ip}/{16 if ip.version == 4 else 32}", strict=False))

    @contextlib.asynccontextmanager
    async def single_flight(self, address: str) -> AsyncIterator[IpNetwork | None]:
        """Wait for lookups of nearby addresses already in flight before asking the registry.

        Concurrent lookups of addresses in one network would otherwise all miss and all send
        the same request. Yields the cached network when a finished lookup covered
        ``address`` (the miss already counted becomes a hit), else None: the caller then makes
        the request while holding the neighbourhood, and :meth:`put` s what it got.
        """
        key = self._neighbourhood(address)
        while await self._flights.landed(key):
            found = self._peek(address)
            if found is not None:
                self.misses -= 1
                self.hits += 1
                yield found
                return
        async with self._flights.hold(key):
            yield None

    def _peek(self, address: str) -> IpNetwork | None:
        ip = ipaddress.ip_address(address)
        value = int(ip)
        now = self._clock()
        candidates = [
            e for e in self._entries[ip.version] if e.first <= value <= e.last and e.expires > now
        ]
        return min(candidates, key=lambda e: e.last - e.first).network if candidates else None

    def get(self, address: str) -> IpNetwork | None:
        """The freshest smallest cached network containing ``address``, or None (a miss)."""
        ip = ipaddress.ip_address(address)
        value = int(ip)
        now = self._clock()
        entries = self._entries[ip.version]
        self._entries[ip.version] = entries = [e for e in entries if e.expires > now]
        candidates = [e for e in entries if e.first <= value <= e.last]
        if not candidates:
            self.misses += 1
            return None
        self.hits += 1
        return min(candidates, key=lambda e: e.last - e.first).network

    def put(self, network: IpNetwork) -> None:
        """Remember ``network`` for every address from its start to its end address."""
        first = ipaddress.ip_address(network.start_address)
        last = ipaddress.ip_address(network.end_address)
        entry = _Entry(int(first), int(last), self._clock() + self._ttl, network)
        entries = self._entries[first.version]
        entries = [e for e in entries if (e.first, e.last) != (entry.first, entry.last)]
        bisect.insort(entries, entry, key=lambda e: (e.first, e.last))
        self._entries[first.version] = entries

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())


def network_contains(network: IpNetwork, address: str) -> bool:
    """Whether ``address`` lies between the network's start and end address."""
    ip = ipaddress.ip_address(address)
    first = ipaddress.ip_address(network.start_address)
    last = ipaddress.ip_address(network.end_address)
    return ip.version == first.version and first <= ip <= last  # type: ignore[operator]


@functools.cache
def _networks(
    networks: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The configured ranges parsed once (a configuration holds one tuple for its life)."""
    return tuple(ipaddress.ip_network(n) for n in networks)


def is_unrouted(address: str, networks: tuple[str, ...]) -> bool:
    """Whether ``address`` lies in one of the configured never-looked-up ranges."""
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in _networks(networks))


async def fetch_ip_network(address: str, clients: EnrichmentClients) -> SourceResult:
    """Look up the RDAP network containing ``address``: from the cache, or its RIR's server.

    ``no_data`` for unrouted addresses (no request), for an RDAP 404, or when the bootstrap
    names no server; ``failed`` when the bootstrap or the answer cannot be had or used.
    """
    subject = str(ipaddress.ip_address(address))
    if is_unrouted(subject, clients.config.unrouted_networks):
        return SourceResult(
            SOURCE, subject, Outcome.NO_DATA, (), "special-use address, not looked up"
        )
    cached = clients.ip_rdap_cache.get(subject)
    if cached is not None:
        return SourceResult(SOURCE, subject, Outcome.OK, (cached,), attempts=0)
    async with clients.ip_rdap_cache.single_flight(subject) as covered:
        if covered is not None:
            return SourceResult(SOURCE, subject, Outcome.OK, (covered,), attempts=0)
        return await _fetch_ip_network(subject, clients)


async def _fetch_ip_network(subject: str, clients: EnrichmentClients) -> SourceResult:
    try:
        bases = await clients.bootstrap.address_service_urls(subject)
        if not bases:
            raise NoDataError(f"no RDAP service for {subject} in the bootstrap")
        base = bases[0] if bases[0].endswith("/") else bases[0] + "/"
        url = f"{base}ip/{subject}"
        done = await with_retry(
            lambda: clients.http.get_json(url), clients.config.retry, clients.rng
        )
        network = transform_ip_network(done.value.payload, url, done.value.retrieved_at)
        if not network_contains(network, subject):
            raise PermanentError(
                f"{url} answered with {network.start_address}-{network.end_address}, "
                f"which does not contain {subject}",
                url,
            )
    except SourceError as error:
        return result_from_error(SOURCE, subject, error)
    clients.ip_rdap_cache.put(network)
    return SourceResult(SOURCE, subject, Outcome.OK, (network,), attempts=done.attempts)
