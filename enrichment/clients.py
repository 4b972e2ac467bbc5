"""The long-lived objects the sources share: resolver, HTTP client, rate gate and caches.

Build one :class:`EnrichmentClients` per worker process (or event loop) with
:meth:`EnrichmentClients.create` and pass it to every lookup, so rate limits, the concurrency
bound and the caches apply across all subjects.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import dns.asyncresolver
import uvloop

from enrichment.asn_source import AsRegistrationCache
from enrichment.config import EnrichmentConfig
from enrichment.dns_transport import ReusedSocketNameserver
from enrichment.http import HttpClient
from enrichment.ip_rdap import IpRdapCache
from enrichment.ratelimit import RequestGate
from enrichment.rdap_bootstrap import BootstrapCache


def enrichment_runner() -> asyncio.Runner:
    """An asyncio runner on the event loop enrichment runs on: uvloop's (libuv). A worker's
    loop handles every DNS question, registry request and limit-store call of its lanes, and
    uvloop does that work with less CPU than the standard loop
    (``docs/performance-enrichment.md``)."""
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def make_resolver(config: EnrichmentConfig) -> dns.asyncresolver.Resolver:
    """A stub resolver that asks only the configured server (never /etc/resolv.conf), over
    UDP sockets kept between questions (:mod:`enrichment.dns_transport`)."""
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [ReusedSocketNameserver(config.resolver_address, config.resolver_port)]
    resolver.lifetime = config.dns_lifetime
    resolver.timeout = config.dns_lifetime
    return resolver


async def close_resolver(resolver: dns.asyncresolver.Resolver) -> None:
    """Close the idle sockets of a resolver from :func:`make_resolver` (inside its loop)."""
    for nameserver in resolver.nameservers:
        if isinstance(nameserver, ReusedSocketNameserver):
            await nameserver.aclose()


@dataclass(frozen=True)
class EnrichmentClients:
    """Shared state for all sources; ``rng`` drives retry jitter (seed it for reproducibility)."""

    config: EnrichmentConfig
    gate: RequestGate
    resolver: dns.asyncresolver.Resolver
    http: HttpClient
    bootstrap: BootstrapCache
    ip_rdap_cache: IpRdapCache
    rng: random.Random
    as_registration_cache: AsRegistrationCache

    @classmethod
    def create(cls, config: EnrichmentConfig, seed: int | None = None) -> EnrichmentClients:
        """Build the clients for ``config``. Call from inside the event loop that will use them."""
        gate = RequestGate(config)
        http = HttpClient(config, gate)
        return cls(
            config=config,
            gate=gate,
            resolver=make_resolver(config),
            http=http,
            bootstrap=BootstrapCache(config, http),
            ip_rdap_cache=IpRdapCache(config.ip_rdap_cache_ttl),
            rng=random.Random(seed),
            as_registration_cache=AsRegistrationCache(config.as_registration_cache_ttl),
        )

    def close(self) -> None:
        """Release pooled HTTP connections only. Inside the event loop use :meth:`aclose`,
        which also closes the resolver's idle sockets and the limit store's connections."""
        self.http.close()

    async def aclose(self) -> None:
        """Release pooled HTTP connections, the resolver's idle sockets and the limit store's
        (Redis) connections."""
        self.http.close()
        await close_resolver(self.resolver)
        await self.gate.aclose()

    @property
    def dns_server(self) -> str:
        """The ``host:port`` of the resolver, as recorded in provenance."""
        return f"{self.config.resolver_address}:{self.config.resolver_port}"
