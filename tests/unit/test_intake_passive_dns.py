"""Passive DNS (COF): canonical names and data, per-line rejections, metadata guard."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from attribution.intake.guard import WITHHELD
from attribution.intake.passive_dns import parse_passive_dns
from attribution.intake.records import PassiveDnsRecord, Rejection

DATA = Path(__file__).resolve().parent.parent / "data" / "intake"
SRC = "pdns.jsonl"
DAY1 = datetime(2026, 3, 1, tzinfo=UTC)
DAY2 = datetime(2026, 3, 2, tzinfo=UTC)


def test_cof_records_and_rejections() -> None:
    result = parse_passive_dns((DATA / "passive-dns.jsonl").read_bytes(), SRC)
    assert result.records == [
        PassiveDnsRecord("c2.example", "A", ("192.0.2.10", "192.0.2.11"), DAY1, DAY2, 42, SRC, 1),
        PassiveDnsRecord(
            "www.xn--bcher-kva.example", "CNAME", ("c2.example",), DAY1, DAY1, None, SRC, 2
        ),
        PassiveDnsRecord("example", "MX", ("10 mail.example",), DAY1, DAY2, 1, SRC, 3),
        PassiveDnsRecord("_dmarc.example", "PTR", ("ns1.example",), DAY1, DAY1, None, SRC, 8),
    ]
    assert result.rejections == [
        Rejection(
            SRC,
            4,
            "rrtype",
            "TXT",
            "record type not taken (taken: A, AAAA, CNAME, DNAME, NS, MX, PTR)",
        ),
        Rejection(SRC, 5, "rdata", "192.0.2.1", "not an address of an AAAA record"),
        Rejection(
            SRC,
            6,
            "query_payload",
            WITHHELD,
            "refused whole by the metadata-only guard: field 'query_payload' is not in the "
            "metadata allowlist for passive-dns records; nothing of this record is kept",
        ),
        Rejection(SRC, 7, "time_last", "1772323200", "time_last is before time_first"),
    ]


def test_line_with_content_is_refused_whole() -> None:
    result = parse_passive_dns((DATA / "passive-dns.jsonl").read_bytes(), SRC)
    produced = repr(result)
    assert "leak.example" not in produced
    assert "192.0.2.12" not in produced
    assert "AAABAAAB" not in produced
    assert "ZXhmaWx0cmF0ZWQ=" not in produced
