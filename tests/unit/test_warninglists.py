"""MISP warninglists: the shared 24-list subset (a small fixed set) and exact hits for chosen
values; the bundled package lists are tested in test_warninglists_package.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attribution.identities import canonical_domain
from attribution.warninglists import (
    WarninglistHit,
    WarninglistIndex,
    category_for,
    load_warninglists,
    name_keys,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
# Explicitly the shared subset, never the setting: these expectations hold for it only.
LISTS_DIR = REPO_ROOT.parent / "shared" / "data" / "misp-warninglists"


@pytest.fixture(scope="module")
def index() -> WarninglistIndex:
    if not (LISTS_DIR / "lists").is_dir():
        pytest.skip(f"the shared warninglists subset is not at {LISTS_DIR}")
    return load_warninglists(LISTS_DIR)


def _hits(hits: list[WarninglistHit]) -> list[tuple[str, str, str]]:
    return [(hit.list_name, hit.category, hit.matched) for hit in hits]


def test_real_subset_loads_every_list(index: WarninglistIndex) -> None:
    assert index.rejections == []
    assert len(index.lists) == 24
    categories = {item.list_name: item.category for item in index.lists}
    assert categories["cloudflare"] == "cdn"
    assert categories["amazon-aws"] == "cloud"
    assert set(categories.values()) == {
        "cloud",
        "cdn",
        "top-sites",
        "public-dns",
        "reserved",
        "dynamic-dns",
        "parking",
        "crl",
        "lots",
        "tld",
    }


def test_address_in_a_cloudflare_range(index: WarninglistIndex) -> None:
    hits = index.match_ip("104.16.1.1")
    assert _hits(hits) == [("cloudflare", "cdn", "104.16.0.0/13")]
    assert hits[0].name == "List of known Cloudflare IP ranges"
    assert (
        hits[0].description
        == "List of known Cloudflare IP ranges (https://www.cloudflare.com/ips/)"
    )
    assert _hits(index.match_ip("2606:4700:0:0::1")) == [("cloudflare", "cdn", "2606:4700::/32")]


def test_private_shared_and_documentation_ranges(index: WarninglistIndex) -> None:
    assert _hits(index.match_ip("10.0.0.1")) == [
        ("rfc1918", "reserved", "10.0.0.0/8"),
        ("rfc5735", "reserved", "10.0.0.0/8"),
    ]
    assert _hits(index.match_ip("100.64.1.1")) == [("rfc6598", "reserved", "100.64.0.0/10")]
    assert _hits(index.match_ip("192.0.2.1")) == [("rfc5735", "reserved", "192.0.2.0/24")]


def test_public_resolver_and_unlisted_address(index: WarninglistIndex) -> None:
    assert _hits(index.match_ip("8.8.8.8")) == [("public-dns-v4", "public-dns", "8.8.8.8")]
    assert index.match_ip("45.33.32.156") == []


def test_top_sites_and_google_suffix_entries(index: WarninglistIndex) -> None:
    assert _hits(index.match_domain("WWW.Google.COM.")) == [
        ("cisco_top10k", "top-sites", "www.google.com"),
        ("google", "top-sites", ".google.com"),
        ("google", "top-sites", "www.google.com"),
        ("tranco10k", "top-sites", "google.com"),
    ]
    # hostname list: a parent matches; string list: a leading-dot entry matches names under it
    assert _hits(index.match_domain("mail.google.ad")) == [
        ("google", "top-sites", ".google.ad"),
        ("tranco10k", "top-sites", "google.ad"),
    ]


def test_dynamic_dns_lots_and_tld_entries(index: WarninglistIndex) -> None:
    assert _hits(index.match_domain("foo.duckdns.org")) == [
        ("dynamic-dns", "dynamic-dns", ".duckdns.org"),
        ("lots-project", "lots", ".duckdns.org"),
        ("tranco10k", "top-sites", "duckdns.org"),
    ]
    assert _hits(index.match_domain("co.uk")) == [("second-level-tlds", "tld", "co.uk")]
    assert index.match_domain("nothing-here.invalid") == []


def _write(root: Path, name: str, document: object) -> None:
    (root / "lists" / name).mkdir(parents=True)
    (root / "lists" / name / "list.json").write_text(json.dumps(document))


def test_substring_regex_and_broken_lists(tmp_path: Path) -> None:
    base = {"description": "d", "version": 1, "matching_attributes": ["domain"]}
    _write(tmp_path, "subs", {**base, "name": "S", "type": "substring", "list": ["cdn"]})
    _write(tmp_path, "rx", {**base, "name": "R", "type": "regex", "list": [r"^ns[0-9]+\.", "("]})
    _write(tmp_path, "broken", {"name": "B", "type": "cidr", "list": []})
    _write(tmp_path, "nets", {**base, "name": "N", "type": "cidr", "list": ["2001:db8::/32", "x"]})
    index = load_warninglists(tmp_path)
    assert _hits(index.match_domain("ns1.mycdn.example")) == [
        ("rx", "other", r"^ns[0-9]+\."),
        ("subs", "other", "cdn"),
    ]
    assert _hits(index.match_ip("2001:db8::1")) == [("nets", "other", "2001:db8::/32")]
    assert index.rejections == [
        f"{tmp_path / 'lists' / 'broken' / 'list.json'}: missing description, version",
        "nets: 'x' is not an address or CIDR block",
        "rx: bad regex '(' (missing ), unterminated subpattern at position 0)",
    ]


def test_an_index_for_known_names_reads_entries_as_the_whole_index_does(tmp_path: Path) -> None:
    # Entries written loosely: case, spaces, trailing and leading dots, an IDN in Unicode, an
    # address in a list for names; each must land under the key the whole index gives it.
    base = {"description": "d", "version": 1, "matching_attributes": ["domain"]}
    entries = [" Shop.Example. ", ".Suffix.Example", "xn--bcher-kva.example", "büro.example",
               "192.0.2.7", "other.example"]  # fmt: skip
    _write(tmp_path, "strings", {**base, "name": "S", "type": "string", "list": entries})
    _write(tmp_path, "hosts", {**base, "name": "H", "type": "hostname", "list": entries})
    names = ["shop.example", "a.suffix.example", "bücher.example", "xn--bro-hoa.example",
             "www.shop.example"]  # fmt: skip
    whole = load_warninglists(tmp_path)
    only = load_warninglists(tmp_path, only_names=name_keys(canonical_domain(n) for n in names))
    for name in names:
        assert _hits(only.match_domain(name)) == _hits(whole.match_domain(name)), name
    assert _hits(only.match_domain("www.shop.example")) == [("hosts", "other", " Shop.Example. ")]
    assert _hits(only.match_domain("bücher.example")) == [
        ("hosts", "other", "xn--bcher-kva.example"),
        ("strings", "other", "xn--bcher-kva.example"),
    ]
    assert len(only._names.exact) + len(only._names.hostname) < len(whole._names.exact) + len(
        whole._names.hostname
    )
    assert only.match_domain("other.example") == []  # not asked for, so not indexed


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_warninglists(tmp_path)


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("microsoft-azure-us-gov", "cloud"),
        ("cloudflare-top10k", "top-sites"),
        ("vpn-ipv4", "vpn"),
        ("example-nt-scanning", "scanners"),
        ("someone-elses-list", "other"),
    ],
)
def test_category_for_upstream_families(name: str, category: str) -> None:
    assert category_for(name) == category
