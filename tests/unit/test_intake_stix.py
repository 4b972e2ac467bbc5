"""STIX 2.1 bundles: indicators from parsed patterns, observed data, per-object rejections."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from attribution.identities import Identity
from attribution.intake.records import IndicatorRecord, Rejection
from attribution.intake.stix import parse_stix

DATA = Path(__file__).resolve().parent.parent / "data" / "intake"
SRC = "bundle.json"
VALID_FROM = datetime(2026, 2, 28, tzinfo=UTC)
OBSERVED = datetime(2026, 2, 27, 10, tzinfo=UTC)


def test_bundle_records_and_rejections() -> None:
    result = parse_stix((DATA / "bundle.json").read_bytes(), SRC)
    tags = ("malicious-activity", "emotet")
    assert result.records == [
        IndicatorRecord(Identity("ip", "192.0.2.10"), tags, SRC, VALID_FROM, 0),
        IndicatorRecord(Identity("domain", "c2.example"), tags, SRC, VALID_FROM, 0),
        # An intel feed may give a URL with a path: the host is the identity, the URL is kept.
        IndicatorRecord(
            Identity("domain", "dl.example"),
            tags,
            SRC,
            VALID_FROM,
            0,
            url="http://dl.example/payload.bin?x=1",
        ),
        IndicatorRecord(Identity("ip", "2001:db8::1"), (), SRC, VALID_FROM, 0),
        IndicatorRecord(Identity("ip", "2001:db8::2"), (), SRC, VALID_FROM, 0),
        IndicatorRecord(Identity("cidr", "198.51.100.0/24"), (), SRC, VALID_FROM, 0),
        IndicatorRecord(Identity("ip", "203.0.113.5"), (), SRC, OBSERVED, 0),
        IndicatorRecord(Identity("asn", 64500), (), SRC, OBSERVED, 0),
        IndicatorRecord(Identity("domain", "xn--bcher-kva.example"), (), SRC, OBSERVED, 0),
    ]
    reasons = [(r.field, r.value, r.reason) for r in result.rejections]
    assert reasons[0][:2] == ("$.objects[4]", "indicator")
    assert reasons[0][2].startswith("invalid STIX object: Invalid value for Indicator 'pattern'")
    assert reasons[1:] == [
        (
            "$.objects[10]",
            "indicator",
            "invalid STIX object: Invalid value for Indicator 'id': not a valid STIX identifier,"
            " must match <object-type>--<UUID>: indicator--not-a-uuid",
        ),
        (
            "$.objects[2].pattern",
            "[file:hashes.'SHA-256' = "
            "'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
            "pattern names no IP address, domain or URL value",
        ),
        ("$.objects[3].pattern", "2001:db8::5", "not an ipv4 value"),
        ("$.objects[3].pattern", "bad..example", "empty label"),
    ]
    assert all(r.source_name == SRC and r.line == 0 for r in result.rejections)


def test_non_stix_pattern_types_and_broken_json_are_rejected() -> None:
    indicator = (
        '{"type": "indicator", "spec_version": "2.1", '
        '"id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", '
        '"created": "2026-03-01T00:00:00Z", "modified": "2026-03-01T00:00:00Z", '
        '"pattern": "alert tcp any any -> any any", "pattern_type": "snort", '
        '"valid_from": "2026-03-01T00:00:00Z"}'
    )
    result = parse_stix(indicator, "one.json")
    assert result.records == []
    assert result.rejections == [
        Rejection("one.json", 0, "$.pattern_type", "snort", "only STIX patterns are read")
    ]
    broken = parse_stix("{", "broken.json")
    assert [(r.field, r.reason[:8]) for r in broken.rejections] == [("$", "not JSON")]
