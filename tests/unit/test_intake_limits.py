"""Hostile and unlucky input: each becomes a named rejection, never an exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from attribution.intake import parse_flows, parse_incident_reports, parse_rdap, parse_stix
from attribution.intake.detect import read_input
from attribution.intake.records import MAX_FILE_BYTES, Rejection, json_depth, parse_time
from attribution.schema import REL_BY_TYPE
from attribution.writer import RelRow, ValueOutOfRange, prepare_rows


def indicator(pattern: str, valid_from: str = "2026-01-01T00:00:00Z") -> dict[str, object]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2026-01-01T00:00:00Z",
        "modified": "2026-01-01T00:00:00Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": valid_from,
    }


def bundle(*objects: object) -> str:
    return json.dumps(
        {"type": "bundle", "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd30", "objects": objects}
    )


def where(rejection: Rejection) -> tuple[str, int, str | None, str]:
    return rejection.source_name, rejection.line, rejection.field, rejection.reason


def test_an_80_parenthesis_pattern_is_refused_by_depth() -> None:
    deep = "(" * 80 + "[ipv4-addr:value = '192.0.2.1']" + ")" * 80
    good = "[ipv4-addr:value = '192.0.2.2']"
    result = parse_stix(bundle(indicator(deep), indicator(good)), "feed.json")
    assert [where(r) for r in result.rejections] == [
        ("feed.json", 0, "$.objects[0].pattern", "pattern nested deeper than 16 levels")
    ]
    assert [r.identity.value for r in result.records] == ["192.0.2.2"]


def test_a_pattern_with_too_many_terms_is_refused() -> None:
    chain = " AND ".join(f"[ipv4-addr:value='192.0.2.{i % 250}']" for i in range(450))
    result = parse_stix(bundle(indicator(chain)), "feed.json")
    assert [where(r) for r in result.rejections] == [
        ("feed.json", 0, "$.objects[0].pattern", "pattern has too many terms")
    ]


def test_json_nested_10000_deep_is_refused_by_every_json_reader(tmp_path: Path) -> None:
    text = "[" * 10_000 + "]" * 10_000
    assert json_depth(text) == 10_000
    assert json_depth('{"a": "[[[[", "b": [1, {"c": 2}]}') == 3
    for parse in (parse_stix, parse_rdap, parse_incident_reports):
        result = parse(text, "deep.json")
        assert [where(r) for r in result.rejections] == [
            ("deep.json", 0, "$", "JSON nested deeper than 64 levels")
        ]
    path = tmp_path / "deep.json"
    path.write_text(text)
    kind, result = read_input(path)
    assert kind is None
    assert [where(r) for r in result.rejections] == [
        (str(path), 0, None, "file refused: JSON nested deeper than 64 levels")
    ]
    lines = '{"src_ip": "192.0.2.1"}\n' + '{"a": ' * 100 + "1" + "}" * 100 + "\n"
    flows = parse_flows(lines, "f.jsonl")
    assert [where(r) for r in flows.rejections] == [
        ("f.jsonl", 1, "dst_ip", "dst_ip is required"),
        ("f.jsonl", 2, None, "JSON nested deeper than 64 levels"),
    ]


def test_a_stix_object_given_as_a_string_is_refused() -> None:
    as_text = json.dumps(indicator("[ipv4-addr:value = '192.0.2.1']"))
    result = parse_stix(bundle("hello", as_text), "feed.json")
    assert [where(r) for r in result.rejections] == [
        ("feed.json", 0, "$.objects[0]", "a STIX object must be a JSON object"),
        ("feed.json", 0, "$.objects[1]", "a STIX object must be a JSON object"),
    ]
    assert result.records == []


def test_times_past_year_9999_or_in_the_future_name_line_and_field() -> None:
    text = (
        "src_ip,dst_ip,protocol,first_seen,last_seen\n"
        "192.0.2.1,198.51.100.1,tcp,9999-12-31T23:00:00-05:00,\n"
        "192.0.2.1,198.51.100.1,tcp,2026-01-01T00:00:00Z,9999-01-01T00:00:00Z\n"
        "192.0.2.1,198.51.100.1,tcp,253402300799,\n"
        "192.0.2.1,198.51.100.2,tcp,2026-01-01T00:00:00Z,\n"
    )
    result = parse_flows(text, "flows.csv")
    assert [where(r) for r in result.rejections] == [
        ("flows.csv", 2, "first_seen", "timestamp falls outside years 1..9999 in UTC"),
        ("flows.csv", 3, "last_seen", "time is more than 1 day in the future"),
        ("flows.csv", 4, "first_seen", "time is more than 1 day in the future"),
    ]
    assert [r.dst.value for r in result.records] == ["198.51.100.2"]
    # An RDAP expiration lies ahead by nature; its date is read.
    assert parse_time("9999-01-01T00:00:00Z", future=True) == datetime(9999, 1, 1, tzinfo=UTC)
    stix = parse_stix(
        bundle(indicator("[ipv4-addr:value = '192.0.2.1']", "9999-01-01T00:00:00Z")), "f.json"
    )
    assert [where(r) for r in stix.rejections] == [
        ("f.json", 0, "$.objects[0].valid_from", "time is more than 1 day in the future")
    ]


def test_counts_beyond_signed_64_bits_are_refused_at_parse_time() -> None:
    text = (
        "src_ip,dst_ip,protocol,first_seen,bytes,packets\n"
        f"192.0.2.1,198.51.100.1,tcp,2026-01-01T00:00:00Z,{2**63},1\n"
        f"192.0.2.1,198.51.100.2,tcp,2026-01-01T00:00:00Z,{2**63 - 1},1\n"
        "192.0.2.1,198.51.100.2,tcp,2026-01-01T00:00:01Z,1,1\n"
        f"192.0.2.1,198.51.100.3,tcp,2026-01-01T00:00:00Z,{2**63 - 1},1\n"
    )
    result = parse_flows(text, "flows.csv")
    assert [where(r) for r in result.rejections] == [
        ("flows.csv", 2, "bytes", "must be at most 9223372036854775807 (a signed 64-bit integer)"),
        (
            "flows.csv",
            3,
            "bytes",
            "bytes summed over lines 3, 4 exceed 9223372036854775807 (a signed 64-bit integer); "
            "none of these flows was kept",
        ),
    ]
    assert [(r.dst.value, r.bytes) for r in result.records] == [("198.51.100.3", 2**63 - 1)]


def test_the_writer_refuses_an_integer_neo4j_cannot_hold() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    row = RelRow(
        "CONTACTED",
        "192.0.2.1",
        "198.51.100.1",
        {"dst_port": 443, "protocol": "tcp", "bytes": 2**63},
        "flow:x",
        now,
        now,
        now,
    )
    with pytest.raises(ValueOutOfRange, match=r"CONTACTED.bytes = 9223372036854775808 does not"):
        prepare_rows(REL_BY_TYPE["CONTACTED"], [row])


def test_a_directory_and_dev_zero_are_refused_whole(tmp_path: Path) -> None:
    kind, result = read_input(tmp_path)
    assert (kind, [where(r) for r in result.rejections]) == (
        None,
        [
            (
                str(tmp_path),
                0,
                None,
                "file refused: is a directory, not a file (name the files in it)",
            )
        ],
    )
    zero = Path("/dev/zero")
    if not zero.exists():
        pytest.skip("no /dev/zero on this system")
    kind, result = read_input(zero)
    assert [where(r) for r in result.rejections] == [
        (
            "/dev/zero",
            0,
            None,
            f"file refused: larger than {MAX_FILE_BYTES} bytes; split it into smaller files",
        )
    ]
    kind, result = read_input(zero, "list")
    assert len(result.rejections) == 1 and result.records == []
