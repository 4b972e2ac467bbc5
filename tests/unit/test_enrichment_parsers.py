"""Parsers of the enrichment sources, driven by real recorded registry answers.

The recorded answers live outside the repository (see ``ATTRIBUTION_FIXTURES_DIR``); tests
that need them skip with the reason when they are absent.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import dns.message
import pytest

from enrichment.asn_source import cymru_origin_qnames, origins_from_dns, origins_from_whois
from enrichment.dns_source import records_from_response
from enrichment.domain_registration import (
    parse_jprs_whois,
    parse_whois_domain,
    privacy_signs,
    registered_domain,
    transform_rdap_domain,
)
from enrichment.failures import PermanentError
from enrichment.ip_rdap import transform_ip_network
from enrichment.observations import Provenance
from enrichment.rdap_bootstrap import service_urls_for_address

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(
    os.environ.get("ATTRIBUTION_FIXTURES_DIR", REPO.parent / "shared/fixtures/rdap-whois-asn")
)
AT = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

needs_fixtures = pytest.mark.skipif(
    not (FIXTURES / "ipwhois" / "rdap.json").exists(),
    reason=f"recorded RDAP/WHOIS/ASN answers not found at {FIXTURES} (ATTRIBUTION_FIXTURES_DIR)",
)


def _load(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8"))


# --- IP RDAP ---------------------------------------------------------------------------------


@needs_fixtures
def test_ip_rdap_arin_network_with_nested_abuse_contact() -> None:
    payload = _load("ipwhois/rdap.json")["74.125.225.229"]["response"]
    net = transform_ip_network(payload, "https://rdap.arin.net/registry/ip/74.125.225.229", AT)
    assert net.handle == "NET-74-125-0-0-1"
    assert net.name == "GOOGLE"
    assert net.cidrs == ("74.125.0.0/16",)
    assert (net.start_address, net.end_address) == ("74.125.0.0", "74.125.255.255")
    assert net.registry == "arin"
    assert net.parent_handle == "NET-74-0-0-0-0"
    assert net.registered == dt.datetime(2007, 3, 13, 16, 9, 54, tzinfo=dt.UTC)
    assert net.last_changed == dt.datetime(2012, 2, 24, 14, 44, 34, tzinfo=dt.UTC)
    assert net.registrant is not None
    assert (net.registrant.handle, net.registrant.name) == ("GOGL", "Google Inc.")
    assert net.abuse is not None
    assert net.abuse.handle == "ZG39-ARIN"
    assert net.abuse.emails == ("arin-contact@google.com",)
    assert net.provenance == Provenance(
        "ip_rdap", "https://rdap.arin.net/registry/ip/74.125.225.229", AT
    )


@needs_fixtures
@pytest.mark.parametrize(
    ("address", "handle", "cidrs", "country", "registry"),
    [
        (
            "196.11.240.215",
            "196.11.239.0 - 196.11.246.255",
            ("196.11.239.0/24", "196.11.240.0/22", "196.11.244.0/23", "196.11.246.0/24"),
            "ZA",
            "afrinic",
        ),
        ("62.239.237.1", "62.239.237.0 - 62.239.237.255", ("62.239.237.0/24",), "GB", "ripencc"),
        ("210.107.73.73", "210.107.0.0 - 210.107.127.255", ("210.107.0.0/17",), "KR", "apnic"),
        ("200.57.141.161", "200.57.141.161", ("200.57.141.161/32",), "MX", "lacnic"),
        ("2001:240:10c:1::ca20:9d1d", "2001:0240::/32", ("2001:240::/32",), "JP", "apnic"),
        ("2001:43f8:7b0::", "2001:43f8:07b0::/48", ("2001:43f8:7b0::/48",), "KE", "afrinic"),
        ("2a00:2381:ffff::1", "2a00:2381:ffff::/64", ("2a00:2381:ffff::/64",), "GB", "ripencc"),
        ("2001:4860:4860::8888", "NET6-2001-4860-1", ("2001:4860::/32",), None, "arin"),
    ],
)
def test_ip_rdap_networks_of_all_five_registries(
    address: str, handle: str, cidrs: tuple[str, ...], country: str | None, registry: str
) -> None:
    payload = _load("ipwhois/rdap.json")[address]["response"]
    net = transform_ip_network(payload, "u", AT)
    assert (net.handle, net.cidrs, net.country, net.registry) == (
        handle,
        cidrs,
        country,
        registry,
    )


@needs_fixtures
def test_ip_rdap_lacnic_registrant_and_abuse() -> None:
    payload = _load("ipwhois/rdap.json")["200.57.141.161"]["response"]
    net = transform_ip_network(payload, "u", AT)
    assert net.registrant is not None and net.abuse is not None
    assert (net.registrant.handle, net.registrant.name, net.registrant.kind) == (
        "MX-TSCV6-LACNIC",
        "Triara.com, S.A. de C.V.",
        "org",
    )
    assert (net.abuse.handle, net.abuse.emails) == ("RYT2", ("operacion.redes@TRIARA.COM",))
    assert net.abuse.roles == ("administrative", "technical", "abuse")


@needs_fixtures
def test_ip_rdap_20c_recorded_network() -> None:
    payload = _load("20c-rdap/rdap/ip/206.41.110.0.input")
    net = transform_ip_network(payload, "u", AT)
    assert net.start_address <= "206.41.110.0"
    assert all("/" in c for c in net.cidrs)
    assert net.registry == "arin"


def test_ip_rdap_rejects_an_answer_that_is_not_a_network() -> None:
    with pytest.raises(PermanentError, match="not an RDAP ip network"):
        transform_ip_network({"errorCode": 400, "title": "bad"}, "http://x/ip/1.2.3.4", AT)


def test_bootstrap_longest_prefix_and_scheme() -> None:
    registry = {
        "services": [
            [["192.0.0.0/8"], ["https://wide.example/rdap/"]],
            [["192.0.2.0/24"], ["http://narrow.example/", "https://narrow.example/"]],
        ]
    }
    assert service_urls_for_address("192.0.2.7", registry, False) == ("https://narrow.example/",)
    assert service_urls_for_address("192.0.2.7", registry, True) == (
        "http://narrow.example/",
        "https://narrow.example/",
    )
    assert service_urls_for_address("192.9.9.9", registry, False) == ("https://wide.example/rdap/",)
    assert service_urls_for_address("10.0.0.1", registry, False) == ()


# --- ASN (Team Cymru) ------------------------------------------------------------------------


def _cymru_txt(asn_data: dict[str, str]) -> str:
    """The Cymru origin TXT string whose ipwhois parse the fixture recorded."""
    return " | ".join(
        [
            asn_data["asn"],
            asn_data["asn_cidr"],
            asn_data["asn_country_code"],
            asn_data["asn_registry"],
            asn_data["asn_date"],
        ]
    )


@needs_fixtures
def test_cymru_dns_origin_round_trips_recorded_asn_data() -> None:
    recorded = _load("ipwhois/rdap.json")
    prov = Provenance("asn_cymru_dns", "127.0.0.1:53", AT)
    got = {}
    for address, entry in recorded.items():
        origins = origins_from_dns(address, [_cymru_txt(entry["asn_data"])], (), prov)
        got[address] = [(o.asn, o.prefix, o.country, o.registry, o.allocated) for o in origins]
    assert got["74.125.225.229"] == [(15169, "74.125.225.0/24", "US", "arin", dt.date(2007, 3, 13))]
    assert got["196.11.240.215"] == [(12091, "196.11.240.0/23", "ZA", "afrinic", None)]
    assert got["2001:43f8:7b0::"] == [
        (37578, "2001:43f8:7b0::/48", "KE", "afrinic", dt.date(2013, 3, 22))
    ]
    assert got["2a00:2381:ffff::1"] == [
        (2856, "2a00:2380::/25", "GB", "ripencc", dt.date(2007, 8, 29))
    ]
    # Cymru's "NA" answer (2801:10:c000::, LACNIC) is no data, not an origin.
    assert got["2801:10:c000::"] == []


def test_cymru_dns_picks_most_specific_prefix_and_splits_multi_origin() -> None:
    prov = Provenance("asn_cymru_dns", "127.0.0.1:53", AT)
    origins = origins_from_dns(
        "192.0.2.10",
        [
            "64500 | 192.0.0.0/16 | JP | apnic | 2001-01-01",
            "64502 64501 | 192.0.2.0/24 | JP | apnic | 2010-05-06",
        ],
        [
            "64501 | JP | apnic | 2010-05-06 | EXAMPLE-NET Example Networks KK, JP",
            "64500 | US | arin | 1999-02-03 | WIDE-AS Wide Area Example, US",
        ],
        prov,
    )
    # Each AS gets its own registration; 64502's was not fetched, so it has none, rather
    # than another AS's name.
    assert [
        (o.asn, o.prefix, o.country, o.as_name, o.as_country, o.as_registry, o.as_allocated)
        for o in origins
    ] == [
        (64501, "192.0.2.0/24", "JP", "EXAMPLE-NET Example Networks KK, JP", "JP", "apnic",
         dt.date(2010, 5, 6)),
        (64502, "192.0.2.0/24", "JP", None, None, None, None),
    ]  # fmt: skip


def test_cymru_dns_unknown_registry_is_an_error() -> None:
    prov = Provenance("asn_cymru_dns", "127.0.0.1:53", AT)
    with pytest.raises(PermanentError, match="unusable Team Cymru answer"):
        origins_from_dns("192.0.2.1", ["64500 | 192.0.2.0/24 | JP | nowhere | "], (), prov)


def test_cymru_whois_verbose_answer() -> None:
    text = (
        "AS      | IP               | BGP Prefix          | CC | Registry | Allocated  "
        "| AS Name\n"
        "15169   | 74.125.225.229   | 74.125.225.0/24     | US | arin     | 2007-03-13 "
        "| GOOGLE, US\n"
    )
    prov = Provenance("asn_cymru_whois", "whois.cymru.com:43", AT)
    (origin,) = origins_from_whois("74.125.225.229", text, prov)
    assert origin.asn == 15169
    assert origin.prefix == "74.125.225.0/24"
    assert origin.country == "US"
    assert origin.registry == "arin"
    assert origin.allocated == dt.date(2007, 3, 13)
    assert origin.as_name == "GOOGLE, US"
    assert origin.provenance == prov


def test_cymru_whois_na_row_is_no_data() -> None:
    text = (
        "AS      | IP               | BGP Prefix          | CC | Registry | Allocated  "
        "| AS Name\nNA      | 192.0.2.1        | NA                  | NA | NA       | NA "
        "        | NA\n"
    )
    prov = Provenance("asn_cymru_whois", "w:43", AT)
    assert origins_from_whois("192.0.2.1", text, prov) == ()


def test_cymru_query_names() -> None:
    assert cymru_origin_qnames("74.125.225.229", "o4", "o6") == ("229.225.125.74.o4.",)
    assert cymru_origin_qnames("2001:db8::", "o4", "o6") == (
        "8.b.d.0.1.0.0.2.o6.",
        "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.o6.",
    )


# --- DNS -------------------------------------------------------------------------------------


def test_dns_records_follow_cname_chain_with_ttls() -> None:
    response = dns.message.from_text(
        "id 1\nopcode QUERY\nrcode NOERROR\nflags QR RD RA\n;QUESTION\n"
        "www.example.test. IN A\n;ANSWER\n"
        "www.example.test. 300 IN CNAME host.example.test.\n"
        "host.example.test. 60 IN A 192.0.2.11\n"
        "host.example.test. 60 IN A 192.0.2.10\n"
    )
    prov = Provenance("dns", "127.0.0.1:53", AT)
    records = records_from_response(response, prov)
    assert [(r.name, r.rrtype, r.value, r.ttl) for r in records] == [
        ("host.example.test", "A", "192.0.2.10", 60),
        ("host.example.test", "A", "192.0.2.11", 60),
    ]


def test_dns_txt_and_mx_presentation() -> None:
    response = dns.message.from_text(
        "id 1\nopcode QUERY\nrcode NOERROR\nflags QR RD RA\n;QUESTION\n"
        "example.test. IN TXT\n;ANSWER\n"
        'example.test. 120 IN TXT "v=spf1 " "-all"\n'
    )
    prov = Provenance("dns", "127.0.0.1:53", AT)
    assert [(r.rrtype, r.value) for r in records_from_response(response, prov)] == [
        ("TXT", "v=spf1 -all")
    ]


def test_dns_empty_answer_gives_no_records() -> None:
    response = dns.message.from_text(
        "id 1\nopcode QUERY\nrcode NOERROR\nflags QR RD RA\n;QUESTION\nexample.test. IN MX\n"
    )
    assert records_from_response(response, Provenance("dns", "s", AT)) == ()


# --- Domain registration ---------------------------------------------------------------------


@needs_fixtures
def test_domain_rdap_verisign_answer() -> None:
    payload = _load("20c-rdap/rdap/domain/20c.com.input")
    url = "https://rdap.verisign.com/com/v1/domain/20c.com"
    reg = transform_rdap_domain("20c.com", payload, url, AT)
    assert reg.domain == "20c.com"
    assert reg.registrar == "CSL Computer Service Langenbach GmbH d/b/a joker.com"
    assert reg.created == dt.datetime(2004, 6, 28, 18, 28, 14, tzinfo=dt.UTC)
    assert reg.expires == dt.datetime(2025, 6, 28, 18, 28, 14, tzinfo=dt.UTC)
    assert reg.updated == dt.datetime(2024, 6, 25, 3, 31, 37, tzinfo=dt.UTC)
    assert reg.nameservers == (
        "ns-1468.awsdns-55.org",
        "ns-1771.awsdns-29.co.uk",
        "ns-327.awsdns-40.com",
        "ns-545.awsdns-04.net",
    )
    assert reg.statuses == ()
    assert reg.privacy_signs == ()
    assert reg.protocol == "rdap"
    assert reg.provenance == Provenance("domain_rdap", url, AT)


def test_domain_rdap_redacted_registrant_is_a_privacy_sign() -> None:
    payload = {
        "objectClassName": "domain",
        "handle": "D1-TEST",
        "ldhName": "example.test",
        "status": ["client transfer prohibited"],
        "entities": [
            {
                "objectClassName": "entity",
                "handle": "R1",
                "roles": ["registrant"],
                "vcardArray": ["vcard", [["fn", {}, "text", "REDACTED FOR PRIVACY"]]],
            }
        ],
        "redacted": [{"name": {"type": "Registrant Email"}, "method": "removal"}],
    }
    reg = transform_rdap_domain("example.test", payload, "u", AT)
    assert reg.registrant_name == "REDACTED FOR PRIVACY"
    assert reg.statuses == ("client transfer prohibited",)
    assert reg.privacy_signs == ("redacted", "privacy", "redacted field: Registrant Email")
    assert reg.privacy_protected


def test_domain_rdap_wrong_object_class_is_an_error() -> None:
    with pytest.raises(PermanentError, match="not an RDAP domain answer"):
        transform_rdap_domain("x.test", {"objectClassName": "entity", "handle": "E"}, "u", AT)


# A JPRS answer in the format JPRS documents (English labels), written for this test.
JPRS_ANSWER = """[ JPRS database provides information on network administration. Its use is    ]
[ restricted to network administration purposes.                               ]

Domain Information:
[Domain Name]                   EXAMPLE.JP

[Registrant]                    Example Shoji KK

[Name Server]                   ns1.example.jp
[Name Server]                   ns2.example.jp
[Signing Key]

[Created on]                    2001/02/03
[Expires on]                    2026/02/28
[Status]                        Active
[Last Updated]                  2025/03/01 01:05:04 (JST)

Contact Information:
[Name]                          Example Shoji KK
"""


def test_jprs_whois_answer() -> None:
    reg = parse_jprs_whois("example.jp", JPRS_ANSWER, "whois.jprs.jp:43", AT)
    assert reg is not None
    assert reg.domain == "example.jp"
    assert reg.registrant_name == "Example Shoji KK"
    assert reg.nameservers == ("ns1.example.jp", "ns2.example.jp")
    assert reg.created == dt.datetime(2001, 2, 2, 15, 0, tzinfo=dt.UTC)
    assert reg.expires == dt.datetime(2026, 2, 27, 15, 0, tzinfo=dt.UTC)
    assert reg.updated == dt.datetime(2025, 2, 28, 16, 5, 4, tzinfo=dt.UTC)
    assert reg.statuses == ("active",)
    assert reg.privacy_signs == ()
    assert reg.protocol == "whois"
    assert reg.provenance == Provenance("domain_whois", "whois.jprs.jp:43", AT)
    assert parse_whois_domain("example.jp", JPRS_ANSWER, "s", AT) == parse_jprs_whois(
        "example.jp", JPRS_ANSWER, "s", AT
    )


def test_jprs_no_match_is_none_and_garbage_is_an_error() -> None:
    assert parse_jprs_whois("nx.jp", "No match!!\n\n[ JPRS ]\n", "s", AT) is None
    with pytest.raises(PermanentError):
        parse_jprs_whois("x.jp", "[ JPRS database ]\n[Registrant] Someone\n", "s", AT)


def test_whois_answer_with_privacy_service() -> None:
    text = (
        "Domain Name: EXAMPLE.COM\n"
        "Registrar: Example Registrar, Inc.\n"
        "Creation Date: 2019-05-06T07:08:09Z\n"
        "Updated Date: 2024-01-02T03:04:05Z\n"
        "Registry Expiry Date: 2026-05-06T07:08:09Z\n"
        "Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited\n"
        "Name Server: NS1.EXAMPLE.NET\n"
        "Name Server: NS2.EXAMPLE.NET\n"
        "Registrant Organization: Domains By Proxy, LLC\n"
        ">>> Last update of whois database: 2025-01-01T00:00:00Z <<<\n"
    )
    reg = parse_whois_domain("example.com", text, "whois.example:43", AT)
    assert reg is not None
    assert reg.registrar == "Example Registrar, Inc."
    assert reg.created == dt.datetime(2019, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    assert reg.updated == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert reg.expires == dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    assert reg.statuses == ("clienttransferprohibited",)
    assert reg.nameservers == ("ns1.example.net", "ns2.example.net")
    assert reg.registrant_organization == "Domains By Proxy, LLC"
    assert reg.privacy_signs == ("proxy", "domains by proxy")
    assert parse_whois_domain("nx.com", 'No match for "NX.COM".\r\n', "s", AT) is None


def test_registrar_iana_id_where_the_answer_states_it() -> None:
    payload = {
        "objectClassName": "domain",
        "ldhName": "example.com",
        "entities": [
            {
                "objectClassName": "entity",
                "handle": "292",
                "roles": ["registrar"],
                "publicIds": [{"type": "IANA Registrar ID", "identifier": "292"}],
                "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "R"]]],
            }
        ],
    }
    reg = transform_rdap_domain("example.com", payload, "https://rdap/domain/example.com", AT)
    assert (reg.registrar, reg.registrar_iana_id) == ("R", "292")
    # A handle alone is the registry's own name for the registrar, not its IANA id.
    del payload["entities"][0]["publicIds"]  # type: ignore[index]
    assert transform_rdap_domain("example.com", payload, "u", AT).registrar_iana_id is None
    text = "Domain Name: EXAMPLE.COM\nRegistrar: R\nRegistrar IANA ID: 292\n"
    whois = parse_whois_domain("example.com", text, "whois.example:43", AT)
    assert whois is not None and whois.registrar_iana_id == "292"


def test_registered_domain_and_privacy_signs() -> None:
    assert registered_domain("WWW.Example.co.jp.") == ("example.co.jp", "jp")
    assert registered_domain("a.b.example.test") == ("example.test", "test")
    assert registered_domain("example.com") == ("example.com", "com")
    with pytest.raises(ValueError, match="not a domain name"):
        registered_domain("localhost")
    assert privacy_signs(["WhoisShield Privacy Services Ltd"]) == ("privacy", "whois protection")
    assert privacy_signs(["Example KK", None]) == ()
