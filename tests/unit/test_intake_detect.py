"""Format detection by content and path, forcing a format, and reading through read_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from attribution.identities import Identity
from attribution.intake import (
    UnknownFormat,
    detect_format,
    parse_csv,
    parse_flows,
    parse_list,
    parser_for,
    read_path,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "intake"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("allowlist.txt", "allowlist"),
        ("bundle.json", "stix"),
        ("flows.csv", "flows"),
        ("flows.jsonl", "flows"),
        ("incidents.jsonl", "incident"),
        ("indicators.csv", "csv"),
        ("mixed.txt", "list"),
        ("passive-dns.jsonl", "passive-dns"),
        ("rdap-answers.json", "rdap"),
        ("trails/static/malware/emotet.txt", "trails"),
    ],
)
def test_detect_by_content_and_path(name: str, expected: str) -> None:
    assert detect_format(DATA / name) == expected


def test_detect_single_json_documents(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text('{"report_id": "IR-2026-000001", "operator": {}}')
    rdap = tmp_path / "answer"
    rdap.write_text('{"objectClassName": "autnum", "startAutnum": 64500}')
    assert detect_format(report) == "incident"
    assert detect_format(rdap) == "rdap"


def test_undetectable_input_names_the_format_option(tmp_path: Path) -> None:
    odd = tmp_path / "odd.json"
    odd.write_text('{"hello": "world"}')
    with pytest.raises(UnknownFormat, match=r"give --format, one of: list, csv, stix"):
        detect_format(odd)
    with pytest.raises(UnknownFormat, match=r"unknown format 'xml'"):
        read_path(odd, fmt="xml")


def test_read_path_matches_the_parser_and_format_can_be_forced() -> None:
    data = (DATA / "indicators.csv").read_bytes()
    assert read_path(DATA / "indicators.csv") == parse_csv(data, "indicators.csv")
    flows = (DATA / "flows.csv").read_bytes()
    assert read_path(DATA / "flows.csv", source_name="site-a") == parse_flows(flows, "site-a")
    # Forced: the allowlist file read as a plain indicator list.
    forced = read_path(DATA / "allowlist.txt", fmt="list")
    assert forced == parse_list((DATA / "allowlist.txt").read_bytes(), "allowlist.txt")


def test_read_path_trails_take_family_from_the_path() -> None:
    result = read_path(DATA / "trails" / "static" / "malware" / "emotet.txt")
    assert {(r.family, r.category, r.label) for r in result.records} == {
        ("emotet", "malware", "malicious")
    }
    assert result.records[0].identity == Identity("domain", "evil.example")


def test_parser_for_each_file_format() -> None:
    assert parser_for("csv") is parse_csv
    with pytest.raises(UnknownFormat, match="directory format"):
        parser_for("misp-warninglists")
    with pytest.raises(UnknownFormat, match="unknown format 'yaml'"):
        parser_for("yaml")
