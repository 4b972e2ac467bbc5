"""Canonical identities: exact values for every decision in attribution.identities."""

from __future__ import annotations

import socket

import pytest

from attribution import identities
from attribution.identities import (
    Identity,
    InvalidIdentity,
    canonical_asn,
    canonical_cidr,
    canonical_domain,
    canonical_ip,
    parse_indicator,
    parse_target,
    parse_url,
    registrable_domain,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.EXAMPLE", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("WWW.Example.COM.", "www.example.com"),
        ("  example.com\n", "example.com"),
        ("faß.de", "xn--fa-hia.de"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("a。b。jp", "a.b.jp"),
        ("r3---sn-abc.googlevideo.com", "r3---sn-abc.googlevideo.com"),
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("my_host.example.co.uk", "my_host.example.co.uk"),
        ("com", "com"),
    ],
)
def test_canonical_domain(given: str, expected: str) -> None:
    assert canonical_domain(given) == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "empty domain"),
        (".", "the root name is not a domain"),
        ("a..example", "empty label"),
        ("-a.example", "label '-a' starts or ends with a hyphen"),
        ("a_b.com", "underscore in the registered name or public suffix is not allowed"),
        ("192.0.2.1", "an IP address, not a domain"),
        ("192.0.2.300", "the last label is all digits, so this is not a domain"),
        ("x\x00.example", "contains control or format character U+0000"),
        ("x.example' MATCH (n) DETACH DELETE n", 'character "\'" is not allowed in a host name'),
        ("xn--zz.example", "invalid A-label 'xn--zz' (Invalid A-label)"),
        ("a" * 64 + ".example", "label longer than 63 octets"),
        (".".join(["a" * 50] * 5) + ".example", "longer than 253 octets once encoded"),
    ],
)
def test_canonical_domain_rejects(given: str, reason: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        canonical_domain(given)
    assert caught.value.reason == reason
    assert str(caught.value) == f"{identities._show(given)}: {reason}"


def test_invalid_identity_is_a_value_error_naming_the_value() -> None:
    with pytest.raises(ValueError, match=r"^'a\.\.example': empty label$"):
        canonical_domain("a..example")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("www.example.co.uk", "example.co.uk"),
        ("Bücher.example.jp", "example.jp"),
        ("a.b.github.io", "b.github.io"),  # private suffix: tenants stay apart
        ("foo.s3.amazonaws.com", "foo.s3.amazonaws.com"),
        ("city.kawasaki.jp", "city.kawasaki.jp"),  # PSL exception rule
        ("co.uk", None),
        ("printer.local", None),
    ],
)
def test_registrable_domain(given: str, expected: str | None) -> None:
    assert registrable_domain(given) == expected


def test_registrable_domain_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    identities._psl.cache_clear()
    assert registrable_domain("www.example.com.au") == "example.com.au"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:0db8::0001", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::", "::"),
    ],
)
def test_canonical_ip(given: str, expected: str) -> None:
    assert canonical_ip(given) == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("010.0.0.1", "leading zeros in an IPv4 octet are ambiguous (octal or decimal)"),
        ("fe80::1%eth0", "IPv6 zone id is not allowed (it names a local interface)"),
        ("[2001:db8::1]", "brackets are not part of an IP address"),
        ("192.0.2", "not an IPv4 or IPv6 address"),
        ("3221225985", "not an IPv4 or IPv6 address"),
    ],
)
def test_canonical_ip_rejects(given: str, reason: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        canonical_ip(given)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("192.0.2.0/24", "192.0.2.0/24"),
        ("2001:DB8:0::/32", "2001:db8::/32"),
        ("192.0.2.1/32", "192.0.2.1/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
    ],
)
def test_canonical_cidr(given: str, expected: str) -> None:
    assert canonical_cidr(given) == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("192.0.2.1/24", "host bits are set (the network is 192.0.2.0/24)"),
        ("192.0.2.0", "a CIDR block needs a /prefix length"),
        ("192.0.2.0/33", "prefix length 33 is longer than 32"),
        ("192.0.2.0/024", "prefix length '024' is not a decimal number"),
        ("192.0.2.0/255.255.255.0", "prefix length '255.255.255.0' is not a decimal number"),
        ("example.com/24", "the network part is not an IP address"),
    ],
)
def test_canonical_cidr_rejects(given: str, reason: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        canonical_cidr(given)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("AS64500", 64500),
        ("as64500", 64500),
        ("ASN64500", 64500),
        ("64500", 64500),
        (64500, 64500),
        ("AS0", 0),
        ("4294967295", 4294967295),
        ("1.10", 65546),
        ("AS1.10", 65546),
    ],
)
def test_canonical_asn(given: str | int, expected: int) -> None:
    assert canonical_asn(given) == expected


def test_asn_spellings_are_equal() -> None:
    assert canonical_asn("AS64500") == canonical_asn("64500") == canonical_asn("as64500")
    assert parse_indicator("AS64500") == parse_indicator("64500") == Identity("asn", 64500)


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("AS4294967296", "AS number out of range 0..4294967295"),
        (-1, "AS number out of range 0..4294967295"),
        ("AS 64500", "not an AS number (AS64500, 64500 or asdot 1.10)"),
        ("AS064500", "not an AS number (AS64500, 64500 or asdot 1.10)"),
        ("1.65536", "each asdot half must be 0..65535"),
        (True, "an AS number must be text or an integer, not a boolean"),
    ],
)
def test_canonical_asn_rejects(given: str | int, reason: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        canonical_asn(given)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Bücher.example.", Identity("domain", "xn--bcher-kva.example")),
        ("evil[.]example", Identity("domain", "evil.example")),
        ("192.0.2.1", Identity("ip", "192.0.2.1")),
        ("2001:db8::0:1", Identity("ip", "2001:db8::1")),
        ("198.51.100.0/24", Identity("cidr", "198.51.100.0/24")),
        ("192.0.2.1/32", Identity("ip", "192.0.2.1")),
        ("2001:db8::1/128", Identity("ip", "2001:db8::1")),
        ("AS64500", Identity("asn", 64500)),
        ("AS1.10", Identity("asn", 65546)),
        ("asdf.example", Identity("domain", "asdf.example")),
        ("https://Evil.Example:8443/path?q=1", Identity("domain", "evil.example")),
        ("hxxp://[2001:db8::1]/x", Identity("ip", "2001:db8::1")),
    ],
)
def test_parse_indicator(given: str, expected: Identity) -> None:
    assert parse_indicator(given) == expected


def test_identity_key() -> None:
    assert parse_indicator("Example.COM").key == "domain:example.com"
    assert parse_indicator("AS64500").key == "asn:64500"
    assert parse_indicator("10.0.0.0/8").key == "cidr:10.0.0.0/8"
    assert parse_indicator("192.0.2.1").key == "ip:192.0.2.1"


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("192.0.2.1/24", "host bits are set (the network is 192.0.2.0/24)"),
        (
            "user@mail.example",
            "an e-mail address names a mailbox, not infrastructure; give its domain",
        ),
        ("malware", "a single word is not a domain, IP address or AS number"),
        ("1.10", "the last label is all digits, so this is not a domain"),
        ("a b.example", "contains whitespace; an indicator is a single token"),
        ("http:///nohost", "URL without a host"),
        (
            "http://a_b.com/",
            "URL host: underscore in the registered name or public suffix is not allowed",
        ),
        ("x" * 3000, "longer than 2048 characters"),
    ],
)
def test_parse_indicator_rejects(given: str, reason: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        parse_indicator(given)
    assert caught.value.reason == reason


def test_parse_url_keeps_the_url_and_drops_credentials() -> None:
    assert parse_url("HTTP://user:pw@Bücher.example:80/P?q=1#f") == (
        Identity("domain", "xn--bcher-kva.example"),
        "http://xn--bcher-kva.example:80/P?q=1#f",
    )
    assert parse_url("https://[2001:DB8::1]/") == (
        Identity("ip", "2001:db8::1"),
        "https://[2001:db8::1]/",
    )


def test_parse_target_takes_domains_and_addresses_only() -> None:
    assert parse_target("WWW.Example.COM.") == Identity("domain", "www.example.com")
    assert parse_target("2001:DB8::1") == Identity("ip", "2001:db8::1")
    with pytest.raises(InvalidIdentity) as refused:
        parse_target("198.51.100.0/24", "labelled")
    assert refused.value.reason == "a cidr cannot be labelled; give a domain or address"
    with pytest.raises(InvalidIdentity, match="a asn cannot be a target"):
        parse_target("AS64500")


def test_one_map_from_target_kind_to_node_and_relationships() -> None:
    from attribution.schema import NODE_BY_LABEL, REL_BY_TYPE, TARGETS

    assert {k: (t.label, t.key, t.labelled_by, t.concerned_by) for k, t in TARGETS.items()} == {
        "domain": ("Domain", "name", "LABELS_DOMAIN", "CONCERNS_DOMAIN"),
        "ip": ("IPAddress", "address", "LABELS_IP", "CONCERNS_IP"),
    }
    for target in TARGETS.values():
        assert NODE_BY_LABEL[target.label].key == target.key
        assert REL_BY_TYPE[target.concerned_by].start == "ApprovalRequest"
        assert REL_BY_TYPE[target.labelled_by].start == "LabelSource"
