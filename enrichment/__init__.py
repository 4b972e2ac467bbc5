"""Enrichment: DNS, ASN, IP RDAP and domain registration lookups returning typed observations.

Typical use from a worker::

    config = EnrichmentConfig()                  # or EnrichmentConfig.from_sandbox(endpoints)
    clients = EnrichmentClients.create(config)   # inside the running event loop
    results = await enrich_domain("example.com", clients)
    for result in results.results:               # ok / no_data / failed, with reason
        ...
    await clients.aclose()                       # HTTP pool, resolver sockets, limit store
"""

from enrichment.clients import EnrichmentClients
from enrichment.config import EnrichmentConfig, RateLimit, RetryPolicy
from enrichment.enrich import enrich_address, enrich_domain
from enrichment.failures import FailureKind, Outcome
from enrichment.observations import (
    AsnOrigin,
    DnsRecord,
    DomainRegistration,
    EnrichmentResults,
    IpNetwork,
    Observation,
    Provenance,
    RdapContact,
    SourceResult,
)

__all__ = [
    "AsnOrigin",
    "DnsRecord",
    "DomainRegistration",
    "EnrichmentClients",
    "EnrichmentConfig",
    "EnrichmentResults",
    "FailureKind",
    "IpNetwork",
    "Observation",
    "Outcome",
    "Provenance",
    "RateLimit",
    "RdapContact",
    "RetryPolicy",
    "SourceResult",
    "enrich_address",
    "enrich_domain",
]
