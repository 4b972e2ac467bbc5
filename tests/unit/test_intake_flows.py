"""Flow metadata: aggregation, per-row rejections and the metadata-only guard."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from attribution.identities import Identity
from attribution.intake.flows import canonical_protocol, parse_flows
from attribution.intake.guard import WITHHELD
from attribution.intake.records import FlowRecord, Rejection

DATA = Path(__file__).resolve().parent.parent / "data" / "intake"


def _ip(value: str) -> Identity:
    return Identity("ip", value)


def test_csv_flows_aggregate_per_contact_and_name_bad_rows() -> None:
    result = parse_flows((DATA / "flows.csv").read_bytes(), "flows.csv")
    assert result.records == [
        FlowRecord(
            _ip("10.0.0.5"),
            _ip("192.0.2.10"),
            443,
            "tcp",
            datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
            datetime(2026, 3, 1, 0, 5, 2, tzinfo=UTC),
            14,
            2100,
            2,
            "flows.csv",
            (2, 3),
        ),
        FlowRecord(
            _ip("10.0.0.5"),
            _ip("192.0.2.10"),
            53,
            "udp",
            datetime(2026, 3, 1, tzinfo=UTC),
            datetime(2026, 3, 1, tzinfo=UTC),
            1,
            80,
            1,
            "flows.csv",
            (4,),
        ),
        FlowRecord(
            _ip("10.0.0.6"),
            _ip("2001:db8::1"),
            8443,
            "tcp",
            datetime(2026, 2, 28, 14, 59, tzinfo=UTC),
            datetime(2026, 2, 28, 14, 59, 30, tzinfo=UTC),
            None,
            None,
            1,
            "flows.csv",
            (5,),
        ),
    ]
    assert result.rejections == [
        Rejection("flows.csv", 6, "dst_ip", "evil.example", "not an IPv4 or IPv6 address"),
        Rejection("flows.csv", 7, "dst_port", "70000", "port must be an integer 0..65535"),
        Rejection(
            "flows.csv", 8, "last_seen", "2026-02-01T00:00:00Z", "last_seen is before first_seen"
        ),
    ]


def test_jsonl_flow_with_content_is_refused_whole() -> None:
    result = parse_flows((DATA / "flows.jsonl").read_bytes(), "flows.jsonl")
    # Line 2 has the same contact as line 1 plus a payload: nothing of it may be counted.
    assert result.records == [
        FlowRecord(
            _ip("10.0.0.5"),
            _ip("192.0.2.10"),
            443,
            "tcp",
            datetime(2026, 3, 1, tzinfo=UTC),
            datetime(2026, 3, 1, 0, 1, tzinfo=UTC),
            3,
            300,
            1,
            "flows.jsonl",
            (1,),
        ),
        FlowRecord(
            _ip("10.0.0.8"),
            _ip("198.51.100.9"),
            None,
            "icmp",
            datetime(2026, 3, 1, 1, tzinfo=UTC),
            datetime(2026, 3, 1, 1, tzinfo=UTC),
            None,
            None,
            1,
            "flows.jsonl",
            (6,),
        ),
    ]
    guard = (
        "refused whole by the metadata-only guard: field {!r} carries communication content; "
        "nothing of this record is kept"
    )
    assert result.rejections == [
        Rejection("flows.jsonl", 2, "payload", WITHHELD, guard.format("payload")),
        Rejection("flows.jsonl", 3, "user_agent", WITHHELD, guard.format("user_agent")),
        Rejection("flows.jsonl", 4, None, "not json", "not JSON (Expecting value)"),
        Rejection(
            "flows.jsonl", 5, "packets", "True", "must be a non-negative integer, not a boolean"
        ),
    ]
    # The refused content appears nowhere in what intake returns.
    assert "R0VUIC8gSFRUUC8xLjE=" not in repr(result)
    assert "curl/8.0" not in repr(result)


def test_csv_export_with_a_content_column_refuses_every_row() -> None:
    data = (
        "src_ip,dst_ip,dport,proto,start,http_host\n"
        "10.0.0.1,192.0.2.1,80,tcp,2026-03-01T00:00:00Z,\n"
        "10.0.0.1,192.0.2.1,80,tcp,2026-03-01T00:00:00Z,evil.example\n"
    )
    result = parse_flows(data, "x.csv")
    assert result.records == []
    reason = (
        "refused whole by the metadata-only guard: field 'http_host' is not in the metadata "
        "allowlist for flow records; nothing of this record is kept"
    )
    assert result.rejections == [
        Rejection("x.csv", 2, "http_host", WITHHELD, reason),
        Rejection("x.csv", 3, "http_host", WITHHELD, reason),
    ]


def test_alias_and_canonical_name_together_are_rejected() -> None:
    data = (
        '{"src_ip": "10.0.0.1", "dst_ip": "192.0.2.1", "proto": "tcp", "protocol": "udp", '
        '"first_seen": 0}\n'
    )
    result = parse_flows(data, "x.jsonl")
    assert result.records == []
    assert result.rejections == [
        Rejection("x.jsonl", 1, "protocol", "udp", "protocol given twice in one flow")
    ]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("TCP", "tcp"),
        ("6", "tcp"),
        (17, "udp"),
        ("58", "ipv6-icmp"),
        ("icmpv6", "ipv6-icmp"),
        ("89", "89"),
    ],
)
def test_canonical_protocol(given: str | int, expected: str) -> None:
    assert canonical_protocol(given) == expected


def test_canonical_protocol_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match=r"^not an IP protocol name or number 0\.\.255$"):
        canonical_protocol("http")
