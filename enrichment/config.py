"""Enrichment settings: where each source sends its questions, and how politely.

One frozen :class:`EnrichmentConfig` drives every source. Production uses the defaults (IANA
bootstrap, Team Cymru, JPRS) pointed at a local recursive resolver; the offline sandbox is
reached by :meth:`EnrichmentConfig.from_sandbox` alone, so the code under test is the code
that runs against the internet.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from enrichment.registries import CYMRU_DNS, NO_FIGURE, REGISTRIES, RegistryLimit


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: ``rate`` requests per second on average, bursts of up to ``burst``."""

    rate: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got {self.rate}, {self.burst}")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for transient failures.

    Attempt ``n`` (from 1) that fails transiently waits ``min(max_delay, base_delay * 2**(n-1))``
    scaled by a random factor in ``[1 - jitter, 1]`` before the next attempt, or longer when
    the server's ``Retry-After`` asks for more: that wait is obeyed as sent, not capped at
    ``max_delay``. A server asking for more than ``max_retry_after`` seconds is not waited
    for: the lookup fails transiently at once and the node is tried again later.
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.5
    max_retry_after: float = 3600.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("attempts must be >= 1, base_delay >= 0 and 0 <= jitter <= 1")
        if self.max_retry_after < 0:
            raise ValueError("max_retry_after must not be negative")


@dataclass(frozen=True)
class NodeRetry:
    """When a node whose sources failed transiently is enriched again.

    After ``n`` consecutive such runs the node waits ``min(base * 2**(n-1), cap)`` seconds:
    minutes at first, at most ``cap``, never the week a finished node waits to go stale.
    """

    base: float = 300.0
    cap: float = 21600.0

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < self.base:
            raise ValueError("node retry base must be >= 0 and cap >= base")


@dataclass(frozen=True)
class Breaker:
    """The circuit breaker per server: after ``failures`` consecutive failed requests
    (timeouts, refused connections, HTTP 429 and 5xx) the server is not asked for
    ``cooldown`` seconds; then one request probes it, and a success closes the breaker."""

    failures: int = 5
    cooldown: float = 60.0

    def __post_init__(self) -> None:
        if self.failures < 1 or self.cooldown < 0:
            raise ValueError("breaker failures must be >= 1 and cooldown >= 0")


# The default limit of a host the registry table does not list (each TLD's RDAP server).
DEFAULT_RATE_LIMIT = RateLimit(1.0, 2)
# The sandbox's servers when they publish no limit: the bucket only guards against loops.
SANDBOX_UNLIMITED = RateLimit(500.0, 50)
SANDBOX_RDAP = "sandbox-rdap"
SANDBOX_WHOIS = "sandbox-whois"

# Address ranges whose addresses are never sent to an outside service: nobody outside holds
# data on them, and asking would leak internal addressing to third parties. A lookup for such
# an address is recorded as "no data" without a request.
DEFAULT_UNROUTED_NETWORKS: tuple[str, ...] = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
)

# The documentation ranges (RFC 5737, RFC 3849): the sandbox world is built on them, and its
# servers are local, so the sandbox configuration lets these through.
DOCUMENTATION_NETWORKS: frozenset[str] = frozenset(
    {"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"}
)


@dataclass(frozen=True)
class EnrichmentConfig:
    """Every endpoint, timeout and limit the enrichment sources use.

    Attributes:
        resolver_address: recursive resolver asked for all DNS data (incl. Team Cymru's zones).
        resolver_port: its port.
        dns_lifetime: seconds one DNS question may take in total, across retransmissions.
        cymru_origin_zone / cymru_origin6_zone / cymru_asn_zone: Team Cymru's DNS interface.
        cymru_whois: host and port of Team Cymru's WHOIS interface, the fallback for ASN data.
        rdap_bootstrap_url: base URL of the RFC 9224 bootstrap files (dns.json, ipv4.json, ...).
        bootstrap_ttl: seconds a fetched bootstrap file is reused.
        allow_insecure_rdap: accept ``http://`` RDAP service URLs (only the loopback sandbox).
        whois_servers: port-43 WHOIS server per TLD (lower case, no dot) for TLDs without RDAP.
        http_timeout: seconds for connecting to and reading from an RDAP server.
        whois_timeout: seconds for a whole port-43 exchange.
        retry: backoff policy for transient failures.
        registries: the registry limits (:mod:`enrichment.registries`): a token bucket, a
            daily quota and pauses per registry; ``default_rate_limit`` for hosts not listed.
        shared_limits_url: a Redis URL: keep buckets, quotas, pauses and counters there,
            shared by every worker process; None keeps them in the process.
        whois_over_limit_pause: seconds a WHOIS registry is paused after it answered "rate
            limit exceeded" without saying for how long.
        max_concurrency: requests in flight at once across all sources.
        ip_rdap_cache_ttl: seconds a fetched RDAP network answers for every address it covers.
        as_registration_cache_ttl: seconds a fetched Team Cymru AS registration answers for
            every address its AS announces.
        follow_registrar_rdap: for thin registries (.com), also fetch the registrar's RDAP
            answer linked from the registry's, and merge it over the registry's.
        unrouted_networks: ranges never sent to outside services (recorded as no data).
        node_retry: when a node whose sources failed transiently is enriched again.
        breaker: the circuit breaker applied to every RDAP/HTTP server.
    """

    resolver_address: str = "127.0.0.1"
    resolver_port: int = 53
    dns_lifetime: float = 5.0
    cymru_origin_zone: str = "origin.asn.cymru.com"
    cymru_origin6_zone: str = "origin6.asn.cymru.com"
    cymru_asn_zone: str = "asn.cymru.com"
    cymru_whois: tuple[str, int] = ("whois.cymru.com", 43)
    rdap_bootstrap_url: str = "https://data.iana.org/rdap/"
    bootstrap_ttl: float = 86400.0
    allow_insecure_rdap: bool = False
    whois_servers: Mapping[str, tuple[str, int]] = field(
        default_factory=lambda: MappingProxyType({"jp": ("whois.jprs.jp", 43)})
    )
    http_timeout: float = 10.0
    whois_timeout: float = 15.0
    retry: RetryPolicy = RetryPolicy()
    registries: tuple[RegistryLimit, ...] = REGISTRIES
    shared_limits_url: str | None = None
    whois_over_limit_pause: float = 60.0
    default_rate_limit: RateLimit = DEFAULT_RATE_LIMIT
    dns_rate_limit: RateLimit = RateLimit(50.0, 20)
    max_concurrency: int = 16
    ip_rdap_cache_ttl: float = 86400.0
    as_registration_cache_ttl: float = 86400.0
    follow_registrar_rdap: bool = True
    unrouted_networks: tuple[str, ...] = DEFAULT_UNROUTED_NETWORKS
    node_retry: NodeRetry = NodeRetry()
    breaker: Breaker = Breaker()

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if not self.rdap_bootstrap_url.endswith("/"):
            raise ValueError("rdap_bootstrap_url must end with '/'")
        for network in self.unrouted_networks:
            ipaddress.ip_network(network)  # ValueError names the bad entry

    def registry_for(self, host: str, port: int, name: str | None = None) -> RegistryLimit:
        """The registry a request to ``host:port`` is charged to.

        ``name`` picks a registry by name (Team Cymru's DNS interface is asked through the
        local resolver, so its host says nothing). Otherwise ``host:port`` is looked up first
        (the sandbox runs several servers on one address), then ``host``; a host not listed
        is its own registry with :attr:`default_rate_limit`.
        """
        for registry in self.registries:
            if name is not None and registry.name == name:
                return registry
            if name is None and f"{host}:{port}" in registry.hosts:
                return registry
        for registry in self.registries:
            if name is None and host in registry.hosts:
                return registry
        limit = self.default_rate_limit
        return RegistryLimit(name or host, (host,), 1, 1 / limit.rate, limit.burst, None, NO_FIGURE)

    def rate_limit_for(self, host: str) -> RateLimit:
        """The token bucket settings for a server host name."""
        registry = self.registry_for(host, 0)
        return RateLimit(registry.rate, registry.burst)

    def whois_server_for(self, tld: str) -> tuple[str, int] | None:
        """The port-43 server configured for a TLD, or None."""
        return self.whois_servers.get(tld.lower().strip("."))

    @classmethod
    def from_sandbox(cls, endpoints: Mapping[str, object]) -> EnrichmentConfig:
        """Point every source at a running loopback sandbox.

        ``endpoints`` is the mapping the sandbox manager returns (``dns_host``, ``dns_port``,
        ``rdap_bootstrap_url``, ``whois_host``, ``whois_port``, ``data_dir``, ``limits``, ...).
        Every TLD listed in ``<data_dir>/whois/rdap-less-tlds.txt`` is mapped to the sandbox
        WHOIS server, and so is Team Cymru's WHOIS interface. The sandbox's RDAP and WHOIS
        servers are the registries ``sandbox-rdap`` and ``sandbox-whois``, limited to what the
        sandbox publishes in ``limits`` (or only against runaway loops when it publishes
        nothing); retries are quick, and the documentation ranges the sandbox world uses are
        let through.
        """
        try:
            dns_host = str(endpoints["dns_host"])
            dns_port = _as_int(endpoints["dns_port"], "dns_port")
            bootstrap = str(endpoints["rdap_bootstrap_url"])
            whois_host = str(endpoints["whois_host"])
            whois_port = _as_int(endpoints["whois_port"], "whois_port")
            data_dir = Path(str(endpoints["data_dir"]))
        except KeyError as missing:
            raise ValueError(f"sandbox endpoints lack the key {missing}") from None
        whois = (whois_host, whois_port)
        registries = sandbox_registries(endpoints, whois)
        tlds_file = data_dir / "whois" / "rdap-less-tlds.txt"
        tlds = read_tld_list(tlds_file) if tlds_file.exists() else ()
        return replace(
            cls(),
            resolver_address=dns_host,
            resolver_port=dns_port,
            dns_lifetime=2.0,
            cymru_whois=whois,
            rdap_bootstrap_url=bootstrap if bootstrap.endswith("/") else bootstrap + "/",
            allow_insecure_rdap=True,
            whois_servers=MappingProxyType({tld: whois for tld in tlds}),
            http_timeout=2.0,
            whois_timeout=2.0,
            retry=RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.5, jitter=0.5),
            breaker=Breaker(failures=5, cooldown=2.0),
            registries=registries,
            default_rate_limit=SANDBOX_UNLIMITED,
            whois_over_limit_pause=1.0,
            # A loopback server publishes no limit; the bucket only guards against runaway loops.
            dns_rate_limit=RateLimit(20000.0, 2000),
            # Registrar links in recorded answers point at the internet, outside the sandbox.
            follow_registrar_rdap=False,
            unrouted_networks=tuple(
                n for n in DEFAULT_UNROUTED_NETWORKS if n not in DOCUMENTATION_NETWORKS
            ),
        )


SANDBOX_CLIENT_MARGIN = 0.9
"""The share of a sandbox server's published rate the client keeps to."""


def _sandbox_registry(
    name: str, host: str, published: object, unlimited: RateLimit
) -> RegistryLimit:
    """One sandbox server as a registry: its published limit, or ``unlimited``."""
    if not published:
        rate = RateLimit(unlimited.rate, unlimited.burst)
        return RegistryLimit(name, (host,), int(rate.rate), 1.0, rate.burst, None, NO_FIGURE)
    if not isinstance(published, Mapping):
        raise ValueError(f"sandbox limit of {name} must be a mapping, got {published!r}")
    try:
        requests = _as_int(published["requests"], "requests")
        period = float(published["seconds"])
    except KeyError as missing:
        raise ValueError(f"sandbox limit of {name} lacks the key {missing}") from None
    # The client keeps under the published rate (SANDBOX_CLIENT_MARGIN of it), one request at a
    # time (burst 1): a request that got its token but left late, followed by one on time,
    # still arrives within what the server allows.
    return RegistryLimit(
        name,
        (host,),
        requests,
        period / SANDBOX_CLIENT_MARGIN,
        1,
        None,
        f"the sandbox's own limit, kept at {SANDBOX_CLIENT_MARGIN:.0%}",
    )


def sandbox_registries(
    endpoints: Mapping[str, object], whois: tuple[str, int]
) -> tuple[RegistryLimit, ...]:
    """The registries of a sandbox: its RDAP and WHOIS servers, and Team Cymru's DNS zones
    (served by the sandbox's DNS server, so limited only against runaway loops)."""
    limits = endpoints.get("limits") or {}
    if not isinstance(limits, Mapping):
        raise ValueError(f"sandbox limits must be a mapping, got {limits!r}")
    rdap_url = str(endpoints.get("rdap_base_url") or endpoints["rdap_bootstrap_url"])
    parts = urlsplit(rdap_url)
    rdap_host = f"{parts.hostname}:{parts.port or 80}"
    return (
        _sandbox_registry(SANDBOX_RDAP, rdap_host, limits.get("rdap"), SANDBOX_UNLIMITED),
        _sandbox_registry(
            SANDBOX_WHOIS, f"{whois[0]}:{whois[1]}", limits.get("whois"), SANDBOX_UNLIMITED
        ),
        RegistryLimit(CYMRU_DNS, (), 20000, 1.0, 2000, None, NO_FIGURE),
    )


def read_tld_list(path: Path) -> tuple[str, ...]:
    """Read a TLD list (one per line, ``#`` comments, optional leading dot) in file order."""
    tlds: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip().strip(".").lower()
        if entry and entry not in tlds:
            tlds.append(entry)
    return tuple(tlds)


def _as_int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"sandbox endpoint {key} must be an integer, got {value!r}")
    return int(value)
