"""``attribution warninglists list | check``: output, JSON and exit codes, on the shared subset
(``ATTRIBUTION_WARNINGLISTS_DIR``) and on the default package lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attribution.cli.main import main

SUBSET = Path(__file__).resolve().parents[3] / "shared" / "data" / "misp-warninglists"


@pytest.fixture
def subset(monkeypatch: pytest.MonkeyPatch) -> None:
    if not (SUBSET / "lists").is_dir():
        pytest.skip(f"the shared warninglists subset is not at {SUBSET}")
    monkeypatch.setenv("ATTRIBUTION_WARNINGLISTS_DIR", str(SUBSET))


def test_check_json_says_what_matched_and_why(
    subset: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["warninglists", "check", "104.16.0.0/16", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "value": "104.16.0.0/16",
        "matched": True,
        "meanings": ["shared"],
        "hits": [
            {
                "list": "cloudflare",
                "name": "List of known Cloudflare IP ranges",
                "category": "cdn",
                "meaning": "shared",
                "matched": "104.16.0.0/13",
                "kind": "cidr",
            }
        ],
    }


def test_check_text_and_no_match(subset: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["warninglists", "check", "10.1.2.3"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "10.1.2.3: on 2 warninglist entries (reserved)",
        "  rfc1918 (reserved, reserved): cidr match on '10.0.0.0/8'",
        "  rfc5735 (reserved, reserved): cidr match on '10.0.0.0/8'",
    ]
    assert main(["warninglists", "check", "nothing-here.invalid"]) == 1
    assert capsys.readouterr().out == "nothing-here.invalid: on no warninglist\n"


def test_check_refuses_what_is_no_value(subset: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["warninglists", "check", "a b"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attribution warninglists: 'a b' is not an address, CIDR network")
    assert main(["warninglists", "check"]) == 2
    assert "check needs a VALUE" in capsys.readouterr().err


def test_list_json_on_the_subset(subset: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["warninglists", "list", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["source"] == str(SUBSET)
    assert payload["rejections"] == []
    assert len(payload["lists"]) == 24
    akamai = json.loads((SUBSET / "lists" / "akamai" / "list.json").read_text())
    assert payload["lists"][0] == {
        "list": "akamai",
        "name": "List of known Akamai IP ranges",
        "type": "cidr",
        "entries": len(akamai["list"]),
        "category": "cdn",
        "meaning": "shared",
        "applies_to": ["address"],
        "version": akamai["version"],
    }


def test_missing_directory_is_an_environment_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATTRIBUTION_WARNINGLISTS_DIR", str(tmp_path))
    assert main(["warninglists", "list"]) == 3
    assert "no MISP warninglists" in capsys.readouterr().err
