"""Typed enrichment results to writer rows: every mapping, on hand-built observations."""

from __future__ import annotations

import datetime as dt

from attribution.identities import Identity
from attribution.observations_to_rows import (
    enrichment_state,
    needs_retry,
    normalised_name,
    rows_for_results,
)
from enrichment.failures import FailureKind, Outcome
from enrichment.observations import (
    AsnOrigin,
    DnsRecord,
    DomainRegistration,
    EnrichmentResults,
    IpNetwork,
    Provenance,
    RdapContact,
    SourceResult,
)

T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(seconds=1)
DNS = Provenance("dns", "127.0.0.1:53", T0)
DOMAIN = Identity("domain", "www.example.com")
ADDRESS = Identity("ip", "192.0.2.10")


def _dns(name: str, rrtype: str, value: str, ttl: int = 300) -> DnsRecord:
    return DnsRecord(name, rrtype, value, ttl, DNS)


def _rels(rows: object) -> set[tuple[str, object, object, str]]:
    return {(r.type, r.start, r.end, r.source) for r in rows.rels}  # type: ignore[attr-defined]


def _nodes(rows: object) -> dict[tuple[str, object], dict[str, object]]:
    merged: dict[tuple[str, object], dict[str, object]] = {}
    for node in rows.nodes:  # type: ignore[attr-defined]
        merged.setdefault((node.label, node.key), {}).update(node.props)
    return merged


def _domain_results(*results: SourceResult) -> EnrichmentResults:
    return EnrichmentResults("www.example.com", results)


def test_dns_answers_become_resolutions_aliases_servers_and_properties() -> None:
    records = (
        _dns("www.example.com", "CNAME", "example.com."),
        _dns("example.com", "A", "192.0.2.10", ttl=120),
        _dns("example.com", "A", "192.0.2.11", ttl=60),
        _dns("example.com", "AAAA", "2001:DB8::10"),
        _dns("www.example.com", "NS", "ns1.example.com."),
        _dns("www.example.com", "MX", "10 Mail.Example.Com."),
        _dns("www.example.com", "MX", "0 ."),
        _dns("www.example.com", "TXT", "v=spf1 -all"),
        _dns("www.example.com", "TXT", "hello"),
        _dns("www.example.com", "SOA", "ns1.example.com. hostmaster.example.com. 7 1 2 3 4"),
    )
    rows = rows_for_results(
        DOMAIN, _domain_results(SourceResult("dns", "www.example.com", Outcome.OK, records)), T1
    )
    assert _rels(rows) == {
        ("ALIAS_OF", "www.example.com", "example.com", "dns"),
        ("RESOLVES_TO", "example.com", "192.0.2.10", "dns"),
        ("RESOLVES_TO", "example.com", "192.0.2.11", "dns"),
        ("RESOLVES_TO", "example.com", "2001:db8::10", "dns"),
        ("NAME_SERVER", "www.example.com", "ns1.example.com", "dns"),
        ("MAIL_SERVER", "www.example.com", "mail.example.com", "dns"),
        ("SUBDOMAIN_OF", "www.example.com", "example.com", "dns"),
        ("SUBDOMAIN_OF", "ns1.example.com", "example.com", "dns"),
        ("SUBDOMAIN_OF", "mail.example.com", "example.com", "dns"),
    }
    mail = next(r for r in rows.rels if r.type == "MAIL_SERVER")
    assert mail.props == {"preference": 10, "ttl": 300, "min_ttl": 300}
    assert mail.first_seen == mail.last_seen == mail.retrieved_at == T0
    resolves = {r.end: r.props for r in rows.rels if r.type == "RESOLVES_TO"}
    assert resolves["192.0.2.11"] == {"rtype": "A", "ttl": 60, "min_ttl": 60}
    assert resolves["2001:db8::10"]["rtype"] == "AAAA"
    nodes = _nodes(rows)
    assert nodes[("Domain", "example.com")]["min_ttl"] == 60
    assert nodes[("IPAddress", "2001:db8::10")]["version"] == 6
    www = nodes[("Domain", "www.example.com")]
    assert www["txt"] == ["v=spf1 -all", "hello"]
    assert (www["soa_mname"], www["soa_rname"], www["soa_serial"]) == (
        "ns1.example.com",
        "hostmaster.example.com",
        7,
    )
    assert www["nxdomain"] is False
    assert rows.discovered == [
        Identity("domain", "example.com"),
        Identity("ip", "192.0.2.10"),
        Identity("ip", "192.0.2.11"),
        Identity("ip", "2001:db8::10"),
        Identity("domain", "ns1.example.com"),
        Identity("domain", "mail.example.com"),
    ]
    assert rows.kinds == {
        "dns:CNAME": 1,
        "dns:A": 2,
        "dns:AAAA": 1,
        "dns:NS": 1,
        "dns:MX": 2,
        "dns:TXT": 2,
        "dns:SOA": 1,
    }


def test_nxdomain_is_recorded_but_a_failed_lookup_is_not() -> None:
    gone = SourceResult(
        "dns", "www.example.com", Outcome.NO_DATA, (), "NXDOMAIN for www.example.com."
    )
    rows = rows_for_results(DOMAIN, _domain_results(gone), T1)
    assert _nodes(rows)[("Domain", "www.example.com")]["nxdomain"] is True
    assert rows.nodes[-1].retrieved_at == T1

    timeout = SourceResult(
        "dns",
        "www.example.com",
        Outcome.FAILED,
        (_dns("www.example.com", "NS", "ns1.example.com."),),
        "A: timeout asking 127.0.0.1:53",
        FailureKind.TRANSIENT,
    )
    rows = rows_for_results(DOMAIN, _domain_results(timeout), T1)
    assert "nxdomain" not in _nodes(rows)[("Domain", "www.example.com")]
    assert ("NAME_SERVER", "www.example.com", "ns1.example.com", "dns") in _rels(rows)
    assert enrichment_state(_domain_results(timeout)) == (
        "failed",
        ["dns: A: timeout asking 127.0.0.1:53"],
    )


def test_registration_lands_on_the_registered_domain() -> None:
    registration = DomainRegistration(
        domain="example.com",
        registrar="Ex  Reg, Inc.",
        created=T0,
        updated=None,
        expires=T1,
        statuses=("active",),
        nameservers=("ns1.example.com",),
        registrant_name="REDACTED FOR PRIVACY",
        registrant_organization=None,
        privacy_signs=("redacted",),
        protocol="rdap",
        provenance=Provenance("domain_rdap", "http://rdap/domain/example.com", T0),
    )
    results = _domain_results(
        SourceResult("dns", "www.example.com", Outcome.NO_DATA, (), "no A records"),
        SourceResult("domain_registration", "example.com", Outcome.OK, (registration,)),
    )
    rows = rows_for_results(DOMAIN, results, T1)
    assert _rels(rows) == {
        ("REGISTERED_WITH", "example.com", "ex reg, inc.", "domain_rdap"),
        ("REGISTERED_BY", "example.com", "redacted for privacy", "domain_rdap"),
        ("NAME_SERVER", "example.com", "ns1.example.com", "domain_rdap"),
        ("SUBDOMAIN_OF", "ns1.example.com", "example.com", "domain_rdap"),
    }
    nodes = _nodes(rows)
    assert nodes[("Domain", "example.com")] == {
        "created": T0,
        "updated": None,
        "expires": T1,
        "statuses": ["active"],
        "parse_notes": [],
        "privacy_proxy": True,
        "registrable": "example.com",
        "tld": "com",
    }
    assert nodes[("Registrar", "ex reg, inc.")] == {"name": "Ex  Reg, Inc."}
    assert nodes[("Registrant", "redacted for privacy")] == {
        "name": "REDACTED FOR PRIVACY",
        "privacy_proxy": True,
    }
    assert ("Domain", "www.example.com") not in nodes  # "no data" for A says nothing more
    assert rows.discovered == [Identity("domain", "ns1.example.com")]
    assert enrichment_state(results) == ("done", [])


def test_registrar_keeps_its_iana_id() -> None:
    registration = DomainRegistration(
        domain="example.com",
        registrar="Ex Reg, Inc.",
        created=None,
        updated=None,
        expires=None,
        statuses=(),
        nameservers=(),
        registrant_name=None,
        registrant_organization=None,
        privacy_signs=(),
        protocol="whois",
        provenance=Provenance("domain_whois", "whois.example:43", T0),
        registrar_iana_id="292",
    )
    results = _domain_results(
        SourceResult("domain_registration", "example.com", Outcome.OK, (registration,))
    )
    nodes = _nodes(rows_for_results(DOMAIN, results, T1))
    assert nodes[("Registrar", "ex reg, inc.")] == {"name": "Ex Reg, Inc.", "iana_id": "292"}


def test_address_sources_become_prefix_as_network_and_holder() -> None:
    origin = AsnOrigin(
        address="192.0.2.10",
        asn=64500,
        prefix="192.0.2.0/24",
        country="JP",
        registry="apnic",
        allocated=dt.date(2010, 1, 1),
        as_name="EXAMPLE-AS Example KK, JP",
        provenance=Provenance("asn_cymru_dns", "127.0.0.1:53", T0),
        as_country="JP",
        as_registry="apnic",
        as_allocated=dt.date(2001, 2, 3),
    )
    holder = RdapContact("ORG-EX1", ("registrant",), "Example KK", "org", ())
    abuse = RdapContact("AB-1", ("abuse",), None, None, ("abuse@example.com",))
    network = IpNetwork(
        handle="NET-192-0-2-0-1",
        name="EXAMPLE-NET",
        cidrs=("192.0.2.0/24",),
        start_address="192.0.2.0",
        end_address="192.0.2.255",
        ip_version="v4",
        country="JP",
        registry="apnic",
        parent_handle=None,
        registered=T0,
        last_changed=None,
        registrant=holder,
        abuse=abuse,
        contacts=(holder, abuse),
        provenance=Provenance("ip_rdap", "http://rdap/ip/192.0.2.10", T0),
    )
    ptr = DnsRecord("10.2.0.192.in-addr.arpa", "PTR", "host.example.com.", 60, DNS)
    results = EnrichmentResults(
        "192.0.2.10",
        (
            SourceResult("dns", "192.0.2.10", Outcome.OK, (ptr,)),
            SourceResult("asn", "192.0.2.10", Outcome.OK, (origin,)),
            SourceResult("ip_rdap", "192.0.2.10", Outcome.OK, (network,)),
        ),
    )
    rows = rows_for_results(ADDRESS, results, T1)
    assert _rels(rows) == {
        ("REVERSE_NAME", "192.0.2.10", "host.example.com", "dns"),
        ("SUBDOMAIN_OF", "host.example.com", "example.com", "dns"),
        ("IN_PREFIX", "192.0.2.10", "192.0.2.0/24", "asn_cymru_dns"),
        ("ANNOUNCED_BY", "192.0.2.0/24", 64500, "asn_cymru_dns"),
        ("IN_NETWORK", "192.0.2.10", "NET-192-0-2-0-1", "ip_rdap"),
        ("ALLOCATED_TO", "NET-192-0-2-0-1", "ORG-EX1", "ip_rdap"),
    }
    nodes = _nodes(rows)
    assert nodes[("AutonomousSystem", 64500)] == {
        "name": "EXAMPLE-AS Example KK, JP",
        "country": "JP",
        "registry": "apnic",
        "allocated": dt.date(2001, 2, 3),
    }
    assert nodes[("Prefix", "192.0.2.0/24")] == {
        "version": 4,
        "country": "JP",
        "registry": "apnic",
        "allocated": dt.date(2010, 1, 1),
    }
    assert nodes[("Network", "NET-192-0-2-0-1")]["abuse_email"] == "abuse@example.com"
    assert nodes[("Network", "NET-192-0-2-0-1")]["cidrs"] == ["192.0.2.0/24"]
    assert nodes[("Organization", "ORG-EX1")] == {"name": "Example KK"}
    assert rows.discovered == []  # a reverse name is not followed
    assert rows.kinds == {"dns:PTR": 1, "asn": 1, "ip_network": 1}


def test_an_as_registration_from_a_cache_is_dated_by_its_own_answer() -> None:
    earlier = T0 - dt.timedelta(hours=3)
    origin = AsnOrigin(
        "192.0.2.10", 64500, "192.0.2.0/24", "JP", "apnic", None, "EXAMPLE-AS, JP",
        Provenance("asn_cymru_dns", "127.0.0.1:53", T0), as_retrieved_at=earlier,
    )  # fmt: skip
    results = EnrichmentResults(
        "192.0.2.10", (SourceResult("asn", "192.0.2.10", Outcome.OK, (origin,)),)
    )
    rows = rows_for_results(ADDRESS, results, T1)
    seen = {(n.label, n.key): (n.first_seen, n.last_seen, n.retrieved_at) for n in rows.nodes}
    assert seen[("AutonomousSystem", 64500)] == (earlier, earlier, earlier)
    assert seen[("Prefix", "192.0.2.0/24")] == (T0, T0, T0)
    assert seen[("IPAddress", "192.0.2.10")] == (T0, T0, T0)
    announced = [r for r in rows.rels if r.type == "ANNOUNCED_BY"]
    assert [(r.first_seen, r.last_seen) for r in announced] == [(T0, T0)]


def test_state_is_partial_when_a_source_failed_and_failed_when_every_source_failed() -> None:
    failed = SourceResult(
        "ip_rdap", "192.0.2.10", Outcome.FAILED, (), "HTTP 503", FailureKind.TRANSIENT
    )
    no_data = SourceResult("asn", "192.0.2.10", Outcome.NO_DATA, (), "no origin")
    assert enrichment_state(EnrichmentResults("192.0.2.10", (failed, no_data))) == (
        "partial",
        ["ip_rdap: HTTP 503"],
    )
    assert enrichment_state(EnrichmentResults("192.0.2.10", (failed,))) == (
        "failed",
        ["ip_rdap: HTTP 503"],
    )
    assert enrichment_state(EnrichmentResults("192.0.2.10", (no_data,))) == ("done", [])


def test_only_a_transient_failure_asks_for_a_retry() -> None:
    transient = SourceResult(
        "ip_rdap", "192.0.2.10", Outcome.FAILED, (), "HTTP 429", FailureKind.TRANSIENT
    )
    broken = SourceResult(
        "ip_rdap", "192.0.2.10", Outcome.FAILED, (), "malformed JSON", FailureKind.ERROR
    )
    no_data = SourceResult("asn", "192.0.2.10", Outcome.NO_DATA, (), "no origin")
    assert needs_retry(EnrichmentResults("192.0.2.10", (transient, no_data))) is True
    assert needs_retry(EnrichmentResults("192.0.2.10", (broken, no_data))) is False
    assert enrichment_state(EnrichmentResults("192.0.2.10", (broken, no_data)))[0] == "partial"
    assert needs_retry(EnrichmentResults("192.0.2.10", (no_data,))) is False


def test_normalised_name_folds_case_and_spaces() -> None:
    assert normalised_name("  Onyx   Domain\tRegistrar OOO ") == "onyx domain registrar ooo"
