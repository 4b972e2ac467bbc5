"""Label feeds: trails (malicious, family from file name), allowlists and warninglist labels."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from attribution.identities import Identity
from attribution.ingest import add_label
from attribution.intake.feeds import (
    labels_from_warninglists,
    parse_allowlist,
    parse_label_csv,
    parse_label_list,
    parse_trails,
    trail_family,
)
from attribution.intake.records import LabelRecord, Rejection
from attribution.labels import entries_from_records, label_rows
from attribution.rows import Rows
from attribution.writer import RelRow

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


LABEL_CSV = (
    "# vendor export\n"
    "value,family,category,source\n"
    "alpha.com,emotet,malware,vendor-a\n"
    "192.0.2.1,,phishing,\n"
    "198.51.100.0/24,qakbot,,vendor-a\n"
    "not a domain,x,,\n"
)


def test_label_csv_lines_carry_family_category_and_their_own_source() -> None:
    result = parse_label_csv(LABEL_CSV, "export.csv", "malicious")
    assert result.records == [
        LabelRecord(
            Identity("domain", "alpha.com"), "malicious", "emotet", "malware", "vendor-a", None, 3
        ),
        LabelRecord(
            Identity("ip", "192.0.2.1"), "malicious", None, "phishing", "export.csv", None, 4
        ),
        LabelRecord(
            Identity("cidr", "198.51.100.0/24"), "malicious", "qakbot", None, "vendor-a", None, 5
        ),
    ]
    assert [(r.line, r.field, r.value) for r in result.rejections] == [
        (6, "indicator", "not a domain")
    ]


def test_label_list_layout_is_told_by_the_header() -> None:
    assert parse_label_list(LABEL_CSV, "export.csv", "benign").records[0].label == "benign"
    trail = parse_label_list("evil.example\n", "trails/static/malware/emotet.txt", "malicious")
    assert [(r.identity.value, r.family, r.category) for r in trail.records] == [
        ("evil.example", "emotet", "malware")
    ]
    allow = parse_label_list("good.example\n", "allow.txt", "benign")
    assert [(r.identity.value, r.category) for r in allow.records] == [
        ("good.example", "allowlist")
    ]
    headless = parse_label_csv("alpha.com,emotet\n", "x.csv", "malicious")
    assert [(r.line, r.field, r.reason) for r in headless.rejections] == [
        (1, "alpha.com", "unknown column, ignored (accepted: indicator or value, family, "
         "category, source)"),
        (1, "emotet", "unknown column, ignored (accepted: indicator or value, family, "
         "category, source)"),
        (1, None, "header has no indicator (or value) column; file not read"),
    ]  # fmt: skip
    assert headless.records == []


def test_label_csv_cells_are_checked_like_indicator_csv_cells() -> None:
    text = "value,family,source\na.example,emo\x07tet,v\nb.example,x,y,z\nc.example,qakbot,v\n"
    result = parse_label_csv(text, "f.csv", "malicious")
    assert [r.identity.value for r in result.records] == ["c.example"]
    assert [(r.line, r.field, r.reason) for r in result.rejections] == [
        (2, "family", "family contains a control character"),
        (3, None, "4 fields where the header has 3"),
    ]


def test_ingest_and_label_import_write_the_same_labels() -> None:
    """``attribution ingest`` (via :func:`add_label`) and ``attribution label import`` (via
    :func:`entries_from_records` and :func:`label_rows`) give the same label relationships."""
    at = datetime(2026, 1, 2, tzinfo=UTC)
    records = parse_label_list(LABEL_CSV, "export.csv", "malicious").records
    rows = Rows()
    for record in records:
        add_label(rows, record, at)
    entries, refused = entries_from_records(records, "export.csv")
    _, rels = label_rows(entries, "feed", "feed:export.csv", "feed:export.csv", at)

    def labels(found: list[RelRow]) -> list[tuple[str, object, object, dict[str, object]]]:
        return sorted(
            (r.type, r.start, r.end, r.props) for r in found if r.type.startswith("LABELS")
        )

    assert (
        labels(rows.rels)
        == labels(rels)
        == [
            (
                "LABELS_DOMAIN",
                "feed:vendor-a",
                "alpha.com",
                {"verdict": "malicious", "family": "emotet"},
            ),
            (
                "LABELS_IP",
                "feed:export.csv",
                "192.0.2.1",
                {"verdict": "malicious", "family": "phishing"},
            ),
        ]
    )
    # The CIDR labels nothing; label import names it as refused, ingest keeps its node.
    assert [(r.line, r.reason) for r in refused] == [
        (5, "a cidr cannot be labelled; give a domain or address")
    ]
    assert ("Prefix", "198.51.100.0/24") in {(n.label, n.key) for n in rows.nodes}
