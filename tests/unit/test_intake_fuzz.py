"""Bounded fuzzing of the intake entry point: a named rejection or a landing, never an exception.

``parse_input`` (format detection, then the format's parser) gets arbitrary bytes, JSON
documents shaped like each format, JSON Lines and CSV lines. Every run is derandomised and
small, so the suite stays deterministic and fast.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attribution.intake.detect import FORMATS, parse_input
from attribution.intake.records import FlowRecord, IntakeResult

FUZZ = settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
NAMES = st.sampled_from(
    ["input.txt", "input.json", "input.jsonl", "input.csv", "trails/static/malware/x.txt"]
)
# Keys that steer format detection and the parsers toward their deeper paths.
KEYS = st.sampled_from(
    [
        "type", "spec_version", "objects", "pattern", "pattern_type", "valid_from", "id",
        "report_id", "operator", "indicators", "value", "first_seen", "last_seen",
        "objectClassName", "handle", "events", "eventDate", "rrname", "rrtype", "rdata",
        "time_first", "time_last", "src_ip", "dst_ip", "bytes", "packets", "protocol",
        "dst_port", "x",
    ]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "bundle", "indicator", "stix", "2.1", "ip network", "domain", "A", "tcp",
            "192.0.2.1", "2001:db8::1", "evil.example", "9999-12-31T23:00:00-05:00",
            "2026-01-01T00:00:00Z", "[ipv4-addr:value = '192.0.2.1']", "((((((((",
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        ]
    ),
)  # fmt: skip
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=25,
)
CELLS = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="\n\r"), max_size=12),
    st.sampled_from(["192.0.2.1", "tcp", "443", "2026-01-01T00:00:00Z", str(2**64), "-1", ""]),
)


def check(result: tuple[str | None, IntakeResult[Any]], name: str) -> None:
    """Every rejection names its file and a reason; no flow line is both kept and rejected."""
    kind, outcome = result
    assert kind is None or kind in FORMATS
    source = name.rsplit("/", 1)[-1]
    for rejection in outcome.rejections:
        assert rejection.source_name in (name, source)
        assert rejection.line >= 0 and rejection.reason
        str(rejection)
    kept = {line for r in outcome.records if isinstance(r, FlowRecord) for line in r.lines}
    assert not kept & {r.line for r in outcome.rejections if r.line}


@FUZZ
@given(data=st.binary(max_size=300), name=NAMES)
def test_arbitrary_bytes(data: bytes, name: str) -> None:
    check(parse_input(data, name), name)


@FUZZ
@given(document=JSON_VALUES, name=NAMES, fmt=st.sampled_from([None, "stix", "incident", "rdap"]))
def test_json_documents(document: object, name: str, fmt: str | None) -> None:
    data = json.dumps(document).encode()
    check(parse_input(data, name, fmt), name)


@FUZZ
@given(
    lines=st.lists(st.dictionaries(KEYS, SCALARS, max_size=8), min_size=1, max_size=5),
    fmt=st.sampled_from([None, "flows", "passive-dns", "incident"]),
)
def test_json_lines(lines: list[dict[str, object]], fmt: str | None) -> None:
    data = "\n".join(json.dumps(line) for line in lines).encode()
    check(parse_input(data, "input.jsonl", fmt), "input.jsonl")


@FUZZ
@given(
    header=st.sampled_from(
        [
            "src_ip,dst_ip,protocol,first_seen,last_seen,bytes,packets,dst_port",
            "indicator,tags,source,first_seen",
            "value,tags",
        ]
    ),
    rows=st.lists(st.lists(CELLS, min_size=1, max_size=9), max_size=6),
)
def test_csv_lines(header: str, rows: list[list[str]]) -> None:
    data = "\n".join([header, *(",".join(row) for row in rows)]).encode()
    check(parse_input(data, "input.csv"), "input.csv")
