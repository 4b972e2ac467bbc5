"""Label feeds: trails (malicious, family from file name), allowlists and warninglist labels."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from attribution.identities import Identity
from attribution.intake.feeds import (
    labels_from_warninglists,
    parse_allowlist,
    parse_trails,
    trail_family,
)
from attribution.intake.records import LabelRecord, Rejection

DATA = Path(__file__).resolve().parent.parent / "data" / "intake"
REPO_ROOT = Path(__file__).resolve().parents[2]
LISTS_DIR = Path(
    os.environ.get("ATTRIBUTION_WARNINGLISTS_DIR")
    or REPO_ROOT.parent / "shared" / "data" / "misp-warninglists"
)
TRAIL = "trails/static/malware/emotet.txt"


def test_trail_family_from_path() -> None:
    assert trail_family("trails/static/malware/emotet.txt") == ("emotet", "malware")
    assert trail_family("Qakbot.TXT") == ("qakbot", None)


def test_trail_lines_become_malicious_labels() -> None:
    result = parse_trails((DATA / TRAIL).read_bytes(), TRAIL)

    def label(identity: Identity, line: int, url: str | None = None) -> LabelRecord:
        return LabelRecord(identity, "malicious", "emotet", "malware", TRAIL, None, line, url)

    assert result.records == [
        label(Identity("domain", "evil.example"), 3),
        label(Identity("ip", "192.0.2.5"), 4),
        label(Identity("domain", "bad.example"), 5, "Bad.Example/gate.php"),
        label(Identity("cidr", "198.51.100.0/24"), 6),
        label(Identity("ip", "2001:db8::1"), 7),
    ]
    assert result.rejections == [
        Rejection(
            TRAIL, 8, "indicator", "[bad", "a single word is not a domain, IP address or AS number"
        ),
        Rejection(TRAIL, 9, "indicator", "192.0.2.6:99999", "not an IPv4 or IPv6 address"),
    ]


def test_allowlist_lines_become_benign_labels() -> None:
    result = parse_allowlist((DATA / "allowlist.txt").read_bytes(), "allowlist.txt")
    src = "allowlist.txt"
    assert result.records == [
        LabelRecord(
            Identity("domain", "www.city.kawasaki.jp"), "benign", None, "allowlist", src, None, 2
        ),
        LabelRecord(Identity("cidr", "203.0.113.0/24"), "benign", None, "allowlist", src, None, 3),
        LabelRecord(
            Identity("domain", "status.example"),
            "benign",
            None,
            "allowlist",
            src,
            None,
            4,
            "https://status.example/",
        ),
    ]
    assert result.rejections == [
        Rejection(
            src,
            5,
            "indicator",
            "not_a_host",
            "a single word is not a domain, IP address or AS number",
        )
    ]


def test_warninglist_labels_only_for_benign_categories() -> None:
    if not (LISTS_DIR / "lists").is_dir():
        pytest.skip(f"MISP warninglists not found at {LISTS_DIR}; set ATTRIBUTION_WARNINGLISTS_DIR")
    result = labels_from_warninglists(LISTS_DIR)
    by_list: dict[str, int] = {}
    for record in result.records:
        assert record.label == "benign"
        by_list[record.family or ""] = by_list.get(record.family or "", 0) + 1
    # Cloud, CDN, dynamic DNS, parking and LOTS lists never become benign labels.
    assert sorted(by_list) == [
        "cisco_top10k",
        "cloudflare-top10k",
        "crl-hostname",
        "crl-ip",
        "google",
        "public-dns-v4",
        "public-dns-v6",
        "tranco10k",
    ]
    assert (
        LabelRecord(
            Identity("ip", "8.8.8.8"),
            "benign",
            "public-dns-v4",
            "public-dns",
            "warninglist:public-dns-v4",
            None,
            0,
        )
        in result.records
    )
    assert [(r.source_name, r.field, r.value) for r in result.rejections] == [
        ("warninglist:cisco_top10k", "$.list[0]", "-container.supertms.com"),
        ("warninglist:cloudflare-top10k", "$.list[2492]", "domain"),
    ]
