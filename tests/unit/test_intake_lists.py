"""Plain lists and CSV: exact records and rejections, good lines kept beside bad ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from attribution.identities import Identity
from attribution.intake.lists import parse_csv, parse_list
from attribution.intake.records import IndicatorRecord, Rejection

DATA = Path(__file__).resolve().parent.parent / "data" / "intake"


def test_plain_list_keeps_good_lines_and_names_each_bad_one() -> None:
    result = parse_list((DATA / "mixed.txt").read_bytes(), "mixed.txt")
    src = "mixed.txt"
    assert result.records == [
        IndicatorRecord(Identity("domain", "evil.example"), (), src, None, 3),
        IndicatorRecord(Identity("domain", "xn--bcher-kva.example"), (), src, None, 4),
        IndicatorRecord(Identity("ip", "192.0.2.10"), (), src, None, 5),
        IndicatorRecord(Identity("ip", "2001:db8::5"), (), src, None, 6),
        IndicatorRecord(Identity("cidr", "198.51.100.0/24"), (), src, None, 7),
        IndicatorRecord(Identity("asn", 64500), (), src, None, 8),
        IndicatorRecord(
            Identity("domain", "phish.example"),
            (),
            src,
            None,
            9,
            url="http://phish.example/login?a=1",
        ),
    ]
    assert result.rejections == [
        Rejection(src, 10, "indicator", "bad..example", "empty label"),
        Rejection(
            src, 11, "indicator", "192.0.2.1/24", "host bits are set (the network is 192.0.2.0/24)"
        ),
        Rejection(
            src,
            12,
            "indicator",
            "x.example' MATCH (n) DETACH DELETE n //",
            "contains whitespace; an indicator is a single token",
        ),
        Rejection(
            src,
            13,
            "indicator",
            "user@mail.example",
            "an e-mail address names a mailbox, not infrastructure; give its domain",
        ),
        Rejection(
            src, 14, "indicator", "nul\\x00.example", "contains control or format character U+0000"
        ),
    ]


def test_plain_list_rejects_oversized_and_non_utf8_lines() -> None:
    data = b"a.example\n" + b"b" * 5000 + b".example\n\xff\xfe.example\r\nc.example\r\n"
    result = parse_list(data, "big.txt")
    assert [r.identity.value for r in result.records] == ["a.example", "c.example"]
    assert [r.line for r in result.records] == [1, 4]
    assert [(r.line, r.field, r.reason) for r in result.rejections] == [
        (2, None, "line longer than 4096 bytes"),
        (3, None, "not UTF-8 (invalid start byte)"),
    ]
    assert result.rejections[0].value == "b" * 200 + "..."


def test_unicode_line_separators_do_not_forge_lines() -> None:
    result = parse_list("a.example\u2028b.example\n", "sep.txt")
    assert result.records == []
    assert result.rejections == [
        Rejection(
            "sep.txt",
            1,
            "indicator",
            "a.example\\u2028b.example",
            "contains whitespace; an indicator is a single token",
        )
    ]


def test_csv_reads_tags_sources_and_times_and_names_bad_rows() -> None:
    result = parse_csv((DATA / "indicators.csv").read_bytes(), "indicators.csv")
    src = "indicators.csv"
    assert result.records == [
        IndicatorRecord(
            Identity("domain", "evil.example"),
            ("c2", "emotet"),
            "feed-a",
            datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
            2,
        ),
        IndicatorRecord(Identity("ip", "192.0.2.10"), (), src, None, 3),
        IndicatorRecord(
            Identity("cidr", "203.0.113.0/24"), (), "feed-b", datetime(2026, 3, 2, tzinfo=UTC), 6
        ),
    ]
    assert result.rejections == [
        Rejection(
            src,
            1,
            "comment",
            "comment",
            "unknown column, ignored (accepted: indicator or value, tags, source, first_seen)",
        ),
        Rejection(
            src,
            4,
            "indicator",
            "not a domain",
            "contains whitespace; an indicator is a single token",
        ),
        Rejection(
            src,
            5,
            "first_seen",
            "2026-03-01 10:00:00",
            "timestamp has no UTC offset (add Z or +09:00)",
        ),
        Rejection(src, 7, None, "a,b", "2 fields where the header has 5"),
    ]


def test_csv_without_indicator_column_is_not_read() -> None:
    result = parse_csv("host,tags\nevil.example,c2\n", "x.csv")
    assert result.records == []
    assert result.rejections == [
        Rejection(
            "x.csv",
            1,
            "host",
            "host",
            "unknown column, ignored (accepted: indicator or value, tags, source, first_seen)",
        ),
        Rejection(
            "x.csv",
            1,
            None,
            "host,tags",
            "header has no indicator (or value) column; file not read",
        ),
    ]


def test_csv_bad_tag_rejects_the_row_only() -> None:
    result = parse_csv("indicator,tags\na.example,ok\nb.example,bad\x07tag\n", "t.csv")
    assert [r.identity.value for r in result.records] == ["a.example"]
    assert result.rejections == [
        Rejection("t.csv", 3, "tags", "bad\\x07tag", "tag contains a control character")
    ]
