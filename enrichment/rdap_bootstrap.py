"""RDAP bootstrap (RFC 9224): which RDAP server answers for an address, ASN or TLD.

The service registries (``dns.json``, ``ipv4.json``, ``ipv6.json``) are fetched, each when
first needed, from the configured base URL -- IANA in production, the sandbox in tests -- and reused
for ``bootstrap_ttl`` seconds. Domain lookups use them through whoisit's bootstrap loader;
address lookups use :func:`service_urls_for_address`, because whoisit refuses the documentation
ranges (RFC 5737) that the offline sandbox is built on.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from whoisit.bootstrap import BaseBootstrap
from whoisit.errors import BootstrapError

from enrichment.config import EnrichmentConfig
from enrichment.failures import PermanentError
from enrichment.http import HttpClient
from enrichment.retry import with_retry

# whoisit's bootstrap is used only to map TLDs to RDAP servers, yet it insists on every
# registry being present and non-empty. The address, ASN and entity-tag registries it never
# consults here get one-entry stand-ins pointing at the reserved ".invalid" name, which
# saves requests and keeps a world without autnum data usable.
_STANDIN_URL = "https://invalid/"
_WHOISIT_STANDINS: dict[str, dict[str, Any]] = {
    "asn": {"services": [[["0-0"], [_STANDIN_URL]]]},
    "ipv4": {"services": [[["0.0.0.0/32"], [_STANDIN_URL]]]},
    "ipv6": {"services": [[["::/128"], [_STANDIN_URL]]]},
    "object": {"services": [[[""], ["UNUSED"], [_STANDIN_URL]]]},
}


def _services(registry: dict[str, Any], name: str) -> list[Sequence[Any]]:
    services = registry.get("services")
    if not isinstance(services, list):
        raise PermanentError(f"bootstrap {name}.json has no services list")
    return services


def service_urls_for_address(
    address: str, registry: dict[str, Any], allow_insecure: bool
) -> tuple[str, ...]:
    """RDAP base URLs for ``address`` from an ipv4.json/ipv6.json registry (longest prefix).

    Returns an empty tuple when no service covers the address. ``http://`` URLs count only when
    ``allow_insecure`` is set.
    """
    ip = ipaddress.ip_address(address)
    best: tuple[int, tuple[str, ...]] = (-1, ())
    for entry in _services(registry, f"ipv{ip.version}"):
        prefixes, urls = entry[0], entry[1]
        usable = tuple(u for u in urls if _scheme_ok(u, allow_insecure))
        if not usable:
            continue
        for prefix in prefixes:
            network = ipaddress.ip_network(prefix, strict=False)
            if ip.version == network.version and ip in network and network.prefixlen > best[0]:
                best = (network.prefixlen, usable)
    return best[1]


def _scheme_ok(url: str, allow_insecure: bool) -> bool:
    scheme = urlsplit(url).scheme.lower()
    return scheme == "https" or (allow_insecure and scheme == "http")


class BootstrapCache:
    """Fetches and caches the bootstrap registries; one per :class:`EnrichmentClients`."""

    def __init__(
        self,
        config: EnrichmentConfig,
        http: HttpClient,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._http = http
        self._clock = clock
        self._registries: dict[str, tuple[float, dict[str, Any]]] = {}
        self._whoisit: tuple[float, BaseBootstrap] | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def registry(self, name: str) -> dict[str, Any]:
        """The named registry (``dns``, ``ipv4``, ``ipv6`` or ``asn``), fetched if stale.

        Raises the classified failure of the fetch (after retries) when it cannot be had.
        """
        async with self._lock:
            cached = self._registries.get(name)
            if cached is not None and self._clock() < cached[0]:
                return cached[1]
            url = f"{self._config.rdap_bootstrap_url}{name}.json"
            answer = await with_retry(lambda: self._http.get_json(url), self._config.retry)
            self.fetches += 1
            payload = answer.value.payload
            _services(payload, name)
            self._registries[name] = (self._clock() + self._config.bootstrap_ttl, payload)
            return payload

    async def address_service_urls(self, address: str) -> tuple[str, ...]:
        """RDAP base URLs serving ``address``; empty when the bootstrap names none."""
        version = ipaddress.ip_address(address).version
        registry = await self.registry(f"ipv{version}")
        return service_urls_for_address(address, registry, self._config.allow_insecure_rdap)

    async def whoisit_bootstrap(self) -> BaseBootstrap | None:
        """A whoisit bootstrap loaded with the configured dns.json instead of IANA's.

        None when dns.json lists no service at all (then no TLD has RDAP).
        """
        dns_registry = await self.registry("dns")
        if self._whoisit is not None and self._clock() < self._whoisit[0]:
            return self._whoisit[1]
        if not _services(dns_registry, "dns"):
            return None
        bootstrap = BaseBootstrap()
        data: dict[str, Any] = {"timestamp": int(time.time()), "dns": dns_registry}
        data.update(_WHOISIT_STANDINS)
        try:
            bootstrap.load_bootstrap_data(
                data, allow_insecure=self._config.allow_insecure_rdap, from_json=False
            )
        except (BootstrapError, ValueError) as error:
            raise PermanentError(f"unusable RDAP bootstrap data: {error}") from error
        self._whoisit = (self._clock() + self._config.bootstrap_ttl, bootstrap)
        return bootstrap
