"""The warninglists bundled with pymispwarninglists: every list categorised, the issue's
examples matched (crawlers, Microsoft 365, scanners, sinkholes, small CDNs, IPv6), CIDR inside
CIDR, and lists of hashes never consulted for names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attribution.warninglist_categories import (
    CATEGORY_BY_LIST,
    DO_NOT_ACT_CATEGORIES,
    MEANING_BY_CATEGORY,
    MEANINGS,
    SHARED_CATEGORIES,
)
from attribution.warninglists import (
    WarninglistHit,
    WarninglistIndex,
    load_warninglists,
    name_keys,
    package_lists_dir,
)


@pytest.fixture(scope="module")
def index() -> WarninglistIndex:
    return load_warninglists(None)


def _bundled_names() -> list[str]:
    return sorted(path.parent.name for path in (package_lists_dir() / "lists").glob("*/list.json"))


def _hits(hits: list[WarninglistHit]) -> list[tuple[str, str, str, str, str]]:
    return [(h.list_name, h.category, h.meaning, h.matched, h.kind) for h in hits]


def test_every_bundled_list_has_an_explicit_category() -> None:
    names = _bundled_names()
    assert len(names) == 119
    assert [name for name in names if name not in CATEGORY_BY_LIST] == []
    assert set(CATEGORY_BY_LIST.values()) <= set(MEANING_BY_CATEGORY)
    assert "other" not in CATEGORY_BY_LIST.values()
    assert set(MEANING_BY_CATEGORY.values()) == set(MEANINGS)
    # The table names only bundled lists, plus the shared test subset's cloudflare-top10k.
    assert sorted(set(CATEGORY_BY_LIST) - set(names)) == ["cloudflare-top10k"]


def test_benign_and_shared_are_apart() -> None:
    assert DO_NOT_ACT_CATEGORIES.isdisjoint(SHARED_CATEGORIES)
    assert {"top-sites", "public-dns", "reserved", "crl", "scanners", "sinkholes"} <= (
        DO_NOT_ACT_CATEGORIES
    )
    assert {"cloud", "cdn", "dynamic-dns", "lots", "vpn", "shared-platform"} <= SHARED_CATEGORIES


def test_default_is_the_package_folder(index: WarninglistIndex) -> None:
    assert package_lists_dir().parts[-3:] == ("pymispwarninglists", "data", "misp-warninglists")
    assert index.source == str(package_lists_dir())
    assert index.rejections == []
    assert len(index.lists) == 119
    assert {item.list_name for item in index.lists if item.category == "other"} == set()


def test_not_network_lists_are_never_consulted(index: WarninglistIndex) -> None:
    skipped = sorted(item.list_name for item in index.lists if not item.applies_to)
    assert skipped == sorted(n for n, c in CATEGORY_BY_LIST.items() if c == "not-network")
    # The MD5 of the empty file is on empty-hashes, but it is no name's warninglist hit.
    assert index.match("d41d8cd98f00b204e9800998ecf8427e") == []


def test_crawler_scanner_sinkhole_and_small_cdn(index: WarninglistIndex) -> None:
    assert _hits(index.match_ip("162.142.125.7")) == [
        ("censys-scanning", "scanners", "benign", "162.142.125.0/24", "cidr")
    ]
    assert _hits(index.match_ip("146.88.130.130")) == [
        ("stackpath", "cdn", "shared", "146.88.130.128/25", "cidr")
    ]
    assert _hits(index.match_ip("192.178.4.1"))[0] == (
        "googlebot",
        "crawlers",
        "benign",
        "192.178.4.0/25",
        "cidr",
    )
    assert ("sinkholes", "sinkholes", "benign", "104.155.11.149", "cidr") in _hits(
        index.match_ip("104.155.11.149")
    )
    assert ("microsoft-office365-ip", "cloud", "shared", "104.47.0.0/17", "cidr") in _hits(
        index.match_ip("104.47.1.1")
    )


def test_ipv6_and_cidr_inside_cidr(index: WarninglistIndex) -> None:
    assert _hits(index.match_ip("2001:1608:10:25:0:0:1c04:b12f")) == [
        ("public-dns-v6", "public-dns", "benign", "2001:1608:10:25::1c04:b12f", "cidr")
    ]
    assert _hits(index.match("104.16.0.0/16")) == [
        ("cloudflare", "cdn", "shared", "104.16.0.0/13", "cidr")
    ]
    assert _hits(index.match("2606:4700:10::/48")) == [
        ("cloudflare", "cdn", "shared", "2606:4700::/32", "cidr")
    ]
    # A network wider than every listed block is inside none of them.
    assert index.match("104.0.0.0/8") == []


def test_names_urls_and_reserved_names(index: WarninglistIndex) -> None:
    assert _hits(index.match("https://x.2ly.link/path")) == [
        ("tranco", "top-sites", "benign", "2ly.link", "hostname"),
        ("url-shortener", "shared-platform", "shared", "2ly.link", "hostname"),
    ]
    assert _hits(index.match("16.172.IN-ADDR.ARPA.")) == [
        ("rfc6761", "reserved", "reserved", "16.172.in-addr.arpa", "exact")
    ]


def test_substring_entries_apply_to_addresses_when_listed_for_them(index: WarninglistIndex) -> None:
    found = _hits(index.match_ip("52.168.52.134"))
    assert (
        "microsoft-attack-simulator",
        "security-vendor",
        "benign",
        "52.168.52.134",
        "substring",
    ) in found


def _write(root: Path, name: str, document: object) -> None:
    (root / "lists" / name).mkdir(parents=True)
    (root / "lists" / name / "list.json").write_text(json.dumps(document))


def test_misp_regex_form_and_matching_attributes(tmp_path: Path) -> None:
    base = {"description": "d", "version": 1}
    rx = {**base, "name": "R", "type": "regex", "list": [r"/^NS[0-9]+\./i"]}
    _write(tmp_path, "rx", {**rx, "matching_attributes": ["hostname"]})
    _write(tmp_path, "mails", {**rx, "matching_attributes": ["email-src"]})
    _write(tmp_path, "any", {**base, "name": "A", "type": "string", "list": ["192.0.2.7"]})
    index = load_warninglists(tmp_path)
    assert [(h.list_name, h.kind) for h in index.match("ns1.example")] == [("rx", "regex")]
    assert [(h.list_name, h.kind) for h in index.match("192.0.2.7")] == [("any", "exact")]
    assert {item.list_name: item.applies_to for item in index.lists} == {
        "any": ("address", "name"),
        "mails": (),
        "rx": ("name",),
    }


# Names hit by exact entries (the Chrome UX top list), hostname entries (Tranco) with their
# parents, suffix entries (".google.ad"), reserved names, and names on no list.
MATCHED_NAMES = [
    "google.com",
    "www.google.com",
    "mail.google.com",
    "x.2ly.link",
    "2ly.link",
    "maps.google.ad",
    "16.172.in-addr.arpa",
    "nothing-listed.example",
    "www.wikipedia.org",
]


def test_an_index_for_known_names_finds_the_same_hits_and_holds_fewer_entries(
    index: WarninglistIndex,
) -> None:
    only = load_warninglists(None, only_names=name_keys(MATCHED_NAMES))
    for name in MATCHED_NAMES:
        assert only.match_domain(name) == index.match_domain(name), name
    assert [h.list_name for h in only.match_domain("www.google.com")] == [
        h.list_name for h in index.match_domain("www.google.com")
    ]
    assert len(index.match_domain("www.google.com")) >= 2
    # The lists themselves are all described; only the unread name entries are left out.
    assert [item.list_name for item in only.lists] == [item.list_name for item in index.lists]
    assert [item.entries for item in only.lists] == [item.entries for item in index.lists]
    held = sum(len(t) for t in (only._names.exact, only._names.suffix, only._names.hostname))
    full = sum(len(t) for t in (index._names.exact, index._names.suffix, index._names.hostname))
    assert full > 1_000_000 and held < 100
    # Addresses are matched as before: the address lists are not filtered.
    assert only.match_ip("8.8.8.8") == index.match_ip("8.8.8.8")


def test_name_keys_are_each_name_and_its_parents() -> None:
    assert name_keys(["a.b.example", "c.example"]) == {
        "a.b.example",
        "b.example",
        "example",
        "c.example",
    }
