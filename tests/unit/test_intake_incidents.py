"""Incident reports: schema validation by JSON path, identities, and the metadata guard."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema

from attribution.identities import Identity
from attribution.intake.guard import WITHHELD
from attribution.intake.incidents import incident_schema, parse_incident_reports
from attribution.intake.records import IncidentIndicator, IncidentReportRecord, Rejection

DATA = Path(__file__).resolve().parent.parent / "data" / "intake"
SRC = "incidents.jsonl"
FIRST = datetime(2026, 2, 28, tzinfo=UTC)
LAST = datetime(2026, 3, 1, tzinfo=UTC)


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(incident_schema())


def test_reports_keep_good_indicators_and_name_bad_ones_by_json_path() -> None:
    result = parse_incident_reports((DATA / "incidents.jsonl").read_bytes(), SRC)
    assert result.records == [
        IncidentReportRecord(
            report_id="IR-2026-000123",
            operator_name="Kanto Water",
            sector="water",
            observed_at=LAST,
            reported_at=LAST,
            confirmed=True,
            indicators=(
                IncidentIndicator(
                    Identity("domain", "c2.xn--bcher-kva.example"),
                    "domain",
                    "c2",
                    FIRST,
                    LAST,
                    443,
                    "tcp",
                    0,
                ),
                IncidentIndicator(
                    Identity("domain", "phish.example"),
                    "url",
                    "phishing",
                    FIRST,
                    LAST,
                    None,
                    None,
                    2,
                ),
                IncidentIndicator(
                    Identity("asn", 64500), "asn", "other", FIRST, LAST, None, None, 3
                ),
            ),
            source=SRC,
            line=1,
        )
    ]
    sectors = (
        "['electricity', 'gas', 'water', 'oil', 'rail', 'trucking', 'ocean-shipping', "
        "'aviation', 'airports', 'ports', 'telecommunications', 'broadcasting', 'postal', "
        "'finance', 'credit-cards']"
    )
    assert result.rejections == [
        Rejection(
            SRC,
            1,
            "$.indicators[4].dst_port",
            "70000",
            "70000 is greater than the maximum of 65535",
        ),
        Rejection(
            SRC,
            1,
            "$.indicators[1].value",
            "2001:db8::1",
            "type is ipv4 but the value is not an ipv4 address",
        ),
        Rejection(
            SRC,
            2,
            "$.operator.sector",
            "railways",
            f"report rejected: 'railways' is not one of {sectors}",
        ),
        Rejection(
            SRC,
            3,
            "$.indicators[1].value",
            WITHHELD,
            "refused whole by the metadata-only guard: URL has a path, query or fragment "
            "(what was requested is content; give only scheme://host[:port])",
        ),
        Rejection(
            SRC,
            4,
            "$.indicators[0].http_headers",
            WITHHELD,
            "refused whole by the metadata-only guard: field 'http_headers' carries "
            "communication content; nothing of this record is kept",
        ),
    ]


def test_report_with_content_is_refused_whole() -> None:
    # Report 3 has a good indicator (192.0.2.8) next to a URL with a query; report 4 has a
    # good address next to HTTP headers. Nothing of either may come out.
    result = parse_incident_reports((DATA / "incidents.jsonl").read_bytes(), SRC)
    produced = repr(result.records)
    for leaked in ("IR-2026-000125", "IR-2026-000126", "192.0.2.8", "192.0.2.9", "secret-agent"):
        assert leaked not in produced
    assert "secret-agent" not in repr(result.rejections)
    assert "upload?id=42" not in repr(result.rejections)


def _report(**changes: object) -> dict[str, object]:
    report: dict[str, object] = {
        "report_id": "IR-2026-000001",
        "operator": {"name": "Hokkaido Electric", "sector": "electricity"},
        "observed_at": "2026-03-01T00:00:00Z",
        "reported_at": "2026-03-01T01:00:00Z",
        "confirmed": True,
        "indicators": [
            {
                "type": "ipv6",
                "value": "2001:DB8::0:1",
                "role": "c2",
                "first_seen": "2026-03-01T00:00:00Z",
                "last_seen": "2026-03-01T00:00:00Z",
            }
        ],
    }
    report.update(changes)
    return report


def test_single_json_document_uses_line_zero_and_array_paths() -> None:
    one = parse_incident_reports(json.dumps(_report()), "one.json")
    assert [r.indicators[0].identity for r in one.records] == [Identity("ip", "2001:db8::1")]
    assert one.records[0].line == 0
    many = parse_incident_reports(
        json.dumps(
            [_report(), _report(report_id="IR-26-1"), _report(reported_at="2026-02-01T00:00:00Z")]
        ),
        "many.json",
    )
    assert [r.report_id for r in many.records] == ["IR-2026-000001"]
    assert many.rejections == [
        Rejection(
            "many.json",
            0,
            "$[1].report_id",
            "IR-26-1",
            "report rejected: 'IR-26-1' does not match '^IR-[0-9]{4}-[0-9]{6}$'",
        ),
        Rejection(
            "many.json",
            0,
            "$[2].reported_at",
            "2026-02-01T00:00:00Z",
            "report rejected: reported_at is before observed_at",
        ),
    ]


def test_unknown_top_level_field_refuses_the_report() -> None:
    result = parse_incident_reports(json.dumps(_report(subject="invoice")), "x.json")
    assert result.records == []
    assert result.rejections == [
        Rejection(
            "x.json",
            0,
            "$.subject",
            WITHHELD,
            "refused whole by the metadata-only guard: field 'subject' carries communication "
            "content; nothing of this record is kept",
        )
    ]


def test_duplicate_keys_and_broken_json_are_rejected() -> None:
    text = '{"report_id": "IR-2026-000001", "report_id": "IR-2026-000002"}'
    result = parse_incident_reports(text, "dup.json")
    assert result.records == []
    assert result.rejections == [
        Rejection("dup.json", 0, "$", text[:80], "not JSON (key 'report_id' given twice)")
    ]


def test_long_report_lines_are_read_and_bad_utf8_is_rejected() -> None:
    many = [
        {
            "type": "ipv4",
            "value": f"192.0.2.{i}",
            "role": "scanner",
            "first_seen": "2026-03-01T00:00:00Z",
            "last_seen": "2026-03-01T00:00:00Z",
        }
        for i in range(1, 201)
    ]
    line = json.dumps(_report(indicators=many))
    assert len(line) > 4096
    result = parse_incident_reports(
        line + "\n" + json.dumps(_report(report_id="IR-2026-000002")), "l.jsonl"
    )
    assert result.rejections == []
    assert [len(r.indicators) for r in result.records] == [200, 1]
    assert [r.line for r in result.records] == [1, 2]
    bad = parse_incident_reports(b'{"report_id": "\xff"}', "bad.json")
    assert bad.rejections == [
        Rejection("bad.json", 0, "$", "", "not UTF-8 (invalid start byte at byte 15)")
    ]
