"""Entry points for the worker loop: every source for one domain name or one address.

Each source runs concurrently and ends in its own :class:`SourceResult` (ok / no_data / failed
with reason); one source failing never hides another's result.
"""

from __future__ import annotations

import asyncio
import ipaddress

from enrichment.asn_source import fetch_asn
from enrichment.clients import EnrichmentClients
from enrichment.dns_source import fetch_dns_address, fetch_dns_name
from enrichment.domain_registration import fetch_domain_registration
from enrichment.ip_rdap import fetch_ip_network
from enrichment.observations import EnrichmentResults


async def enrich_domain(name: str, clients: EnrichmentClients) -> EnrichmentResults:
    """DNS records (A, AAAA, CNAME, NS, MX, TXT, SOA) and registration data for ``name``.

    Results in this order: ``dns``, ``domain_registration``.
    """
    subject = name.strip().rstrip(".").lower()
    results = await asyncio.gather(
        fetch_dns_name(subject, clients), fetch_domain_registration(subject, clients)
    )
    return EnrichmentResults(subject, tuple(results))


async def enrich_address(address: str, clients: EnrichmentClients) -> EnrichmentResults:
    """Reverse DNS, origin AS and the RDAP network for ``address``.

    Results in this order: ``dns`` (PTR), ``asn``, ``ip_rdap``. Raises ValueError for text
    that is not an IP address.
    """
    subject = str(ipaddress.ip_address(address.strip()))
    results = await asyncio.gather(
        fetch_dns_address(subject, clients),
        fetch_asn(subject, clients),
        fetch_ip_network(subject, clients),
    )
    return EnrichmentResults(subject, tuple(results))
