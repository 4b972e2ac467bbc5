"""Every enrichment source against the live loopback sandbox, including injected faults."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from enrichment.asn_source import fetch_asn
from enrichment.clients import EnrichmentClients
from enrichment.config import EnrichmentConfig, RetryPolicy
from enrichment.dns_source import fetch_dns_name
from enrichment.domain_registration import fetch_domain_registration
from enrichment.enrich import enrich_address, enrich_domain
from enrichment.failures import FailureKind, Outcome
from enrichment.ip_rdap import fetch_ip_network
from enrichment.observations import (
    AsnOrigin,
    DnsRecord,
    DomainRegistration,
    IpNetwork,
    SourceResult,
)
from enrichment.sandbox.manager import unresponsive_port

pytestmark = pytest.mark.sandbox

T = TypeVar("T")


def run(
    config: EnrichmentConfig, job: Callable[[EnrichmentClients], Awaitable[T]]
) -> tuple[T, EnrichmentClients]:
    """Run one job with fresh clients (seeded jitter) inside a new event loop."""

    async def main() -> tuple[T, EnrichmentClients]:
        clients = EnrichmentClients.create(config, seed=1)
        try:
            return await job(clients), clients
        finally:
            await clients.aclose()

    return asyncio.run(main())


@pytest.fixture(scope="module")
def config(sandbox_endpoints: dict[str, Any]) -> EnrichmentConfig:
    return replace(
        EnrichmentConfig.from_sandbox(sandbox_endpoints),
        http_timeout=1.0,
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, jitter=0.5),
    )


def _values(result: SourceResult) -> list[tuple[str, str, str, int]]:
    records = [r for r in result.observations if isinstance(r, DnsRecord)]
    assert len(records) == len(result.observations)
    return [(r.name, r.rrtype, r.value, r.ttl) for r in records]


# --- DNS -------------------------------------------------------------------------------------


def test_dns_name_all_types(config: EnrichmentConfig) -> None:
    result, _ = run(config, lambda c: fetch_dns_name("www.example.test", c))
    assert result.outcome is Outcome.OK
    assert _values(result) == [
        ("example.test", "A", "192.0.2.10", 300),
        ("example.test", "AAAA", "2001:db8::10", 300),
        ("www.example.test", "CNAME", "example.test.", 60),
        ("example.test", "NS", "ns1.example.test.", 3600),
        ("example.test", "MX", "10 mail.example.test.", 300),
        ("example.test", "TXT", "v=spf1 -all", 300),
        (
            "example.test",
            "SOA",
            "ns1.example.test. hostmaster.example.test. 2025010101 3600 900 604800 300",
            3600,
        ),
    ]
    first = result.observations[0]
    server = f"127.0.0.1:{config.resolver_port}"
    assert first.provenance.server == server
    assert first.provenance.retrieved_at.tzinfo is dt.UTC


def test_dns_nxdomain_is_no_data(config: EnrichmentConfig) -> None:
    result, _ = run(config, lambda c: fetch_dns_name("nothere.example.test", c))
    assert (result.outcome, result.reason, result.observations) == (
        Outcome.NO_DATA,
        "NXDOMAIN for nothere.example.test.",
        (),
    )
    assert result.attempts == 7


def test_dns_servfail_is_a_transient_failure(config: EnrichmentConfig) -> None:
    result, _ = run(config, lambda c: fetch_dns_name("host.servfail.test", c, ("A",)))
    assert result.outcome is Outcome.FAILED
    assert result.failure_kind is FailureKind.TRANSIENT
    assert result.reason == (
        f"A: SERVFAIL from 127.0.0.1:{config.resolver_port} for host.servfail.test. A "
        "(after 3 attempts)"
    )
    assert result.attempts == 3


def test_dns_timeout_is_a_transient_failure(config: EnrichmentConfig) -> None:
    with unresponsive_port() as port:
        silent = replace(config, resolver_port=port, dns_lifetime=0.3)
        result, _ = run(silent, lambda c: fetch_dns_name("example.test", c, ("A",)))
    assert result.outcome is Outcome.FAILED
    assert result.failure_kind is FailureKind.TRANSIENT
    assert result.reason == (
        f"A: timeout asking 127.0.0.1:{port} example.test. A (after 3 attempts)"
    )


def test_address_ptr(config: EnrichmentConfig) -> None:
    results, _ = run(config, lambda c: enrich_address("192.0.2.10", c))
    ptr = results.by_source("dns")
    assert ptr.outcome is Outcome.OK
    assert _values(ptr) == [("10.2.0.192.in-addr.arpa", "PTR", "example.test.", 120)]
    # Not announced in the recorded Cymru zones, not in any recorded RDAP network.
    assert results.by_source("asn").outcome is Outcome.NO_DATA
    assert results.by_source("ip_rdap").outcome is Outcome.NO_DATA


# --- ASN -------------------------------------------------------------------------------------


def _origin(result: SourceResult) -> tuple[Any, ...]:
    (origin,) = result.observations
    assert isinstance(origin, AsnOrigin)
    return (origin.asn, origin.prefix, origin.country, origin.registry, origin.allocated)


def test_asn_over_cymru_dns(config: EnrichmentConfig) -> None:
    result, _ = run(config, lambda c: fetch_asn("74.125.225.229", c))
    assert result.outcome is Outcome.OK
    assert _origin(result) == (15169, "74.125.225.0/24", "US", "arin", dt.date(2007, 3, 13))
    origin = result.observations[0]
    assert isinstance(origin, AsnOrigin)
    assert origin.as_name == "GOOGLE - Google LLC, US"
    assert (origin.as_country, origin.as_registry, origin.as_allocated) == (
        "US",
        "arin",
        dt.date(2000, 3, 30),
    )
    assert origin.provenance.source == "asn_cymru_dns"


def test_an_as_registration_is_asked_once_for_every_address_the_as_announces(
    config: EnrichmentConfig,
) -> None:
    async def job(c: EnrichmentClients) -> list[SourceResult]:
        together = await asyncio.gather(*(fetch_asn("74.125.225.229", c) for _ in range(3)))
        return [*together, await fetch_asn("74.125.225.229", c)]

    results, clients = run(config, job)
    origins = [r.observations[0] for r in results]
    assert all(isinstance(o, AsnOrigin) for o in origins)
    assert {o.as_name for o in origins if isinstance(o, AsnOrigin)} == {"GOOGLE - Google LLC, US"}
    # Four origin questions, one AS question: the others waited for it or found it kept.
    assert clients.gate.registry_counters()["Team Cymru DNS"]["requests"] == 5
    cache = clients.as_registration_cache
    assert (cache.hits, cache.misses) == (3, 1)
    times = {o.as_retrieved_at for o in origins if isinstance(o, AsnOrigin)}
    assert len(times) == 1 and None not in times
    assert [r.attempts for r in results].count(2) == 1


def test_asn_ipv6_and_other_registries(config: EnrichmentConfig) -> None:
    async def job(c: EnrichmentClients) -> list[SourceResult]:
        return list(
            await asyncio.gather(
                fetch_asn("2001:43f8:7b0::", c),
                fetch_asn("200.57.141.161", c),
                fetch_asn("2001:240:10c:1::ca20:9d1d", c),
            )
        )

    results, _ = run(config, job)
    assert [_origin(r) for r in results] == [
        (37578, "2001:43f8:7b0::/48", "KE", "afrinic", dt.date(2013, 3, 22)),
        (19373, "200.57.128.0/20", "MX", "lacnic", dt.date(2000, 12, 4)),
        (2497, "2001:240::/32", "JP", "apnic", dt.date(2000, 3, 8)),
    ]


def test_asn_falls_back_to_cymru_whois_when_dns_fails(config: EnrichmentConfig) -> None:
    with unresponsive_port() as port:
        silent = replace(config, resolver_port=port, dns_lifetime=0.3)
        result, _ = run(silent, lambda c: fetch_asn("74.125.225.229", c))
    assert result.outcome is Outcome.OK
    assert _origin(result) == (15169, "74.125.225.0/24", "US", "arin", dt.date(2007, 3, 13))
    origin = result.observations[0]
    assert isinstance(origin, AsnOrigin)
    assert origin.as_name == "GOOGLE - Google LLC, US"
    # The WHOIS row's country and registry are the prefix's; the AS's own are not in it.
    assert (origin.as_country, origin.as_registry, origin.as_allocated) == (None, None, None)
    assert origin.provenance.source == "asn_cymru_whois"
    assert origin.provenance.server == f"127.0.0.1:{config.cymru_whois[1]}"
    assert result.attempts == 4


# --- IP RDAP ---------------------------------------------------------------------------------


def test_ip_rdap_and_range_cache(config: EnrichmentConfig) -> None:
    async def job(c: EnrichmentClients) -> list[SourceResult]:
        first = await fetch_ip_network("74.125.225.229", c)
        second = await fetch_ip_network("74.125.1.1", c)
        return [first, second]

    (first, second), clients = run(config, job)
    assert first.outcome is Outcome.OK and second.outcome is Outcome.OK
    (net,) = first.observations
    assert isinstance(net, IpNetwork)
    assert (net.handle, net.cidrs, net.registry) == ("NET-74-125-0-0-1", ("74.125.0.0/16",), "arin")
    assert net.abuse is not None and net.abuse.emails == ("arin-contact@google.com",)
    assert net.provenance.server == f"{config.rdap_bootstrap_url[:-10]}ip/74.125.225.229"
    assert second.observations == (net,)
    assert (first.attempts, second.attempts) == (1, 0)
    assert (clients.ip_rdap_cache.hits, clients.ip_rdap_cache.misses) == (1, 1)


def test_ip_rdap_unknown_address_is_no_data(config: EnrichmentConfig) -> None:
    result, _ = run(config, lambda c: fetch_ip_network("8.8.8.8", c))
    assert (result.outcome, result.reason) == (
        Outcome.NO_DATA,
        "no RDAP service for 8.8.8.8 in the bootstrap",
    )


def test_ip_rdap_429_is_retried_then_failed(config: EnrichmentConfig) -> None:
    result, _ = run(config, lambda c: fetch_ip_network("62.239.237.1", c))
    assert result.outcome is Outcome.FAILED
    assert result.failure_kind is FailureKind.TRANSIENT
    assert result.attempts == 3
    assert result.reason is not None and result.reason.startswith("HTTP 429 from ")


def test_ip_rdap_503_once_then_succeeds(config: EnrichmentConfig) -> None:
    result, _ = run(config, lambda c: fetch_ip_network("210.107.73.73", c))
    assert result.outcome is Outcome.OK
    assert result.attempts == 2
    (net,) = result.observations
    assert isinstance(net, IpNetwork)
    assert (net.cidrs, net.country) == (("210.107.0.0/17",), "KR")


def test_ip_rdap_malformed_json_is_an_error_not_no_data(config: EnrichmentConfig) -> None:
    result, _ = run(config, lambda c: fetch_ip_network("200.57.141.161", c))
    assert result.outcome is Outcome.FAILED
    assert result.failure_kind is FailureKind.ERROR
    assert result.attempts == 1
    assert result.reason is not None and "malformed JSON" in result.reason


def test_ip_rdap_slow_answer_times_out(config: EnrichmentConfig) -> None:
    fast = replace(config, http_timeout=0.3, retry=RetryPolicy(attempts=2, base_delay=0.01))
    result, _ = run(fast, lambda c: fetch_ip_network("196.11.240.215", c))
    assert result.outcome is Outcome.FAILED
    assert result.failure_kind is FailureKind.TRANSIENT
    assert result.reason is not None and result.reason.startswith("timeout fetching ")
    assert result.attempts == 2


# --- Domain registration ---------------------------------------------------------------------


def _registration(result: SourceResult) -> DomainRegistration:
    assert result.outcome is Outcome.OK, result.reason
    (reg,) = result.observations
    assert isinstance(reg, DomainRegistration)
    return reg


def test_domain_rdap_recorded_and_written(config: EnrichmentConfig) -> None:
    async def job(c: EnrichmentClients) -> list[SourceResult]:
        return [
            await fetch_domain_registration("www.20c.com", c),
            await fetch_domain_registration("example.test", c),
        ]

    (recorded, written), _ = run(config, job)
    reg = _registration(recorded)
    assert recorded.subject == "20c.com"
    assert reg.registrar == "CSL Computer Service Langenbach GmbH d/b/a joker.com"
    assert reg.created == dt.datetime(2004, 6, 28, 18, 28, 14, tzinfo=dt.UTC)
    assert reg.protocol == "rdap"
    own = _registration(written)
    assert (own.registrar, own.statuses, own.nameservers) == (
        "Ex Reg",
        ("active",),
        ("ns1.example.test",),
    )
    assert own.privacy_signs == ("redacted", "privacy")


def test_domain_rdap_404_is_no_data(config: EnrichmentConfig) -> None:
    result, _ = run(config, lambda c: fetch_domain_registration("unregistered.test", c))
    assert result.outcome is Outcome.NO_DATA
    assert result.reason is not None and result.reason.startswith("HTTP 404 from ")


def test_domain_whois_for_rdap_less_tld(config: EnrichmentConfig) -> None:
    result, _ = run(config, lambda c: fetch_domain_registration("www.example.jp", c))
    reg = _registration(result)
    assert (reg.domain, reg.registrant_name, reg.protocol) == (
        "example.jp",
        "Example Shoji KK",
        "whois",
    )
    assert reg.expires == dt.datetime(2026, 2, 27, 15, 0, tzinfo=dt.UTC)
    assert reg.provenance.server == f"127.0.0.1:{config.whois_servers['jp'][1]}"


def test_domain_whois_no_match_and_truncation(config: EnrichmentConfig) -> None:
    async def job(c: EnrichmentClients) -> list[SourceResult]:
        return [
            await fetch_domain_registration("nothere.jp", c),
            await fetch_domain_registration("cut.jp", c),
        ]

    (missing, cut), _ = run(config, job)
    assert missing.outcome is Outcome.NO_DATA
    assert cut.outcome is Outcome.FAILED
    assert cut.failure_kind is FailureKind.TRANSIENT
    assert cut.reason is not None and "truncated WHOIS answer" in cut.reason
    assert cut.attempts == 3


def test_enrich_domain_entry_point(config: EnrichmentConfig) -> None:
    results, _ = run(config, lambda c: enrich_domain("example.test", c))
    assert [r.source for r in results.results] == ["dns", "domain_registration"]
    assert [r.outcome for r in results.results] == [Outcome.OK, Outcome.OK]
