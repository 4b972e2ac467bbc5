"""Settings: environment over the TOML file over defaults, section by section, and malformed
values refused with a message that names where they were set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from attribution.settings import (
    ApprovalSettings,
    EnrichmentSettings,
    ReportSettings,
    SettingsError,
    load_settings,
)

VARIABLES = (
    "ATTRIBUTION_AUDIT_LOG",
    "ATTRIBUTION_COLLATERAL_THRESHOLD",
    "ATTRIBUTION_FRESHNESS_HOURS",
    "ATTRIBUTION_HOME",
    "ATTRIBUTION_REPORT_MAX_AGE_DAYS",
    "ATTRIBUTION_REQUIRE_SIGNED_REPORTS",
    "ATTRIBUTION_REVIEWERS",
    "ATTRIBUTION_SANDBOX_ENDPOINTS",
    "ATTRIBUTION_SIGNING_KEY",
    "ATTRIBUTION_TRUSTED_REPORT_KEYS",
    "ATTRIBUTION_USER",
)

TOML = """\
home = "/srv/attribution"
[reports]
collateral_threshold = 5
max_facts = 50
freshness_hours = 24
[roles]
reviewers = ["rita", " ravi "]
[approvals]
report_max_age_days = 2
require_signed_reports = true
trusted_report_keys = ["AB12"]
[enrichment]
sandbox_endpoints = "/srv/sandbox/endpoints.json"
resolver_address = "192.0.2.53"
resolver_port = 5353
http_timeout = 4
"""


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ATTRIBUTION_CONFIG", str(tmp_path / "absent.toml"))


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / "attribution.toml"
    path.write_text(text)
    monkeypatch.setenv("ATTRIBUTION_CONFIG", str(path))


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ATTRIBUTION_HOME", str(tmp_path / "home"))
    settings = load_settings()
    assert settings.reports == ReportSettings(3, 400, 72.0, None)
    assert settings.approvals == ApprovalSettings(frozenset(), 7.0, False, frozenset())
    assert settings.enrichment == EnrichmentSettings()
    assert settings.enrichment.overrides() == {}
    assert settings.audit_log == tmp_path / "home" / "audit.jsonl"
    assert settings.user is None


def test_toml_over_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _config(tmp_path, monkeypatch, TOML)
    settings = load_settings()
    assert settings.home == Path("/srv/attribution")
    assert settings.audit_log == Path("/srv/attribution/audit.jsonl")
    assert settings.reports == ReportSettings(5, 50, 24.0, None)
    assert settings.approvals == ApprovalSettings(
        frozenset({"rita", "ravi"}), 2.0, True, frozenset({"ab12"})
    )
    assert settings.enrichment.sandbox_endpoints == Path("/srv/sandbox/endpoints.json")
    assert settings.enrichment.overrides() == {
        "resolver_address": "192.0.2.53",
        "resolver_port": 5353,
        "http_timeout": 4.0,
    }


def test_environment_over_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _config(tmp_path, monkeypatch, TOML)
    monkeypatch.setenv("ATTRIBUTION_COLLATERAL_THRESHOLD", "1")
    monkeypatch.setenv("ATTRIBUTION_FRESHNESS_HOURS", "6.5")
    monkeypatch.setenv("ATTRIBUTION_SIGNING_KEY", str(tmp_path / "key.pem"))
    monkeypatch.setenv("ATTRIBUTION_REVIEWERS", "carol,, dave ")
    monkeypatch.setenv("ATTRIBUTION_REPORT_MAX_AGE_DAYS", "0.5")
    monkeypatch.setenv("ATTRIBUTION_REQUIRE_SIGNED_REPORTS", "no")
    monkeypatch.setenv("ATTRIBUTION_TRUSTED_REPORT_KEYS", "")
    monkeypatch.setenv("ATTRIBUTION_SANDBOX_ENDPOINTS", str(tmp_path / "endpoints.json"))
    monkeypatch.setenv("ATTRIBUTION_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("ATTRIBUTION_USER", "officer-sato")
    settings = load_settings()
    assert settings.reports == ReportSettings(1, 50, 6.5, tmp_path / "key.pem")
    # A variable set to nothing still wins for lists and flags: no trusted keys, not required.
    assert settings.approvals == ApprovalSettings(
        frozenset({"carol", "dave"}), 0.5, False, frozenset()
    )
    assert settings.enrichment.sandbox_endpoints == tmp_path / "endpoints.json"
    assert settings.audit_log == tmp_path / "audit.jsonl"
    assert settings.acting_user() == "officer-sato"


def test_an_empty_variable_falls_back_to_the_toml_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _config(tmp_path, monkeypatch, TOML)
    monkeypatch.setenv("ATTRIBUTION_COLLATERAL_THRESHOLD", "")
    monkeypatch.setenv("ATTRIBUTION_REPORT_MAX_AGE_DAYS", "")
    settings = load_settings()
    assert (settings.reports.collateral_threshold, settings.approvals.report_max_age_days) == (
        5,
        2.0,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ATTRIBUTION_COLLATERAL_THRESHOLD", "many", "ATTRIBUTION_COLLATERAL_THRESHOLD = 'many' is not an integer"),
        ("ATTRIBUTION_REPORT_MAX_AGE_DAYS", "a week", "ATTRIBUTION_REPORT_MAX_AGE_DAYS = 'a week' is not a number"),
        ("ATTRIBUTION_BOLT_PORT", "76xx", "ATTRIBUTION_BOLT_PORT = '76xx' is not an integer"),
        (
            "ATTRIBUTION_REQUIRE_SIGNED_REPORTS",
            "maybe",
            "ATTRIBUTION_REQUIRE_SIGNED_REPORTS = 'maybe' is not one of 1/true/yes/0/false/no",
        ),
    ],
)  # fmt: skip
def test_a_malformed_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[reports]\ncollateral_threshold = true\n", "[reports] collateral_threshold = True is not an integer"),
        ("[enrichment]\nresolver_port = 'x'\n", "[enrichment] resolver_port = 'x' is not an integer"),
        ("enrichment = 3\n", "[enrichment] in the TOML file must be a table"),
        ("[roles]\nreviewers = 'rita'\n", "[roles] reviewers = 'rita' is not a list of strings"),
        ("[approvals]\nrequire_signed_reports = 'no'\n", "[approvals] require_signed_reports = 'no' is not true or false"),
    ],
)  # fmt: skip
def test_a_malformed_toml_value_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str, message: str
) -> None:
    _config(tmp_path, monkeypatch, text)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == message


def test_unreadable_toml_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _config(tmp_path, monkeypatch, "[reports\n")
    with pytest.raises(SettingsError, match=r"attribution\.toml: not a valid TOML file \("):
        load_settings()


def test_the_command_reports_a_malformed_setting_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "ATTRIBUTION_CONFIG": str(tmp_path / "absent.toml")}
    env["ATTRIBUTION_REPORT_MAX_AGE_DAYS"] = "a week"
    done = subprocess.run(
        [sys.executable, "-m", "attribution.cli.main", "approval", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "attribution approval: ATTRIBUTION_REPORT_MAX_AGE_DAYS = 'a week' is not a number\n"
    )


NEW_VARIABLES = (
    "ATTRIBUTION_AUDIT_ANCHOR_DIR",
    "ATTRIBUTION_AUDIT_ANCHOR_COMMAND",
    "ATTRIBUTION_MODEL_SIGNING_KEY",
    "ATTRIBUTION_REQUIRE_SIGNED_MODELS",
    "ATTRIBUTION_TRUSTED_MODEL_KEYS",
    "ATTRIBUTION_NEO4J_RETRY_SECONDS",
)


def test_audit_model_and_retry_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from attribution.settings import AuditSettings, ModelSettings

    for name in NEW_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.audit == AuditSettings(None, None)
    assert settings.models == ModelSettings(None, False, frozenset())
    assert settings.neo4j.retry_seconds == 60.0
    _config(
        tmp_path,
        monkeypatch,
        '[audit]\nanchor_dir = "/srv/anchors"\nanchor_command = "logger -t audit"\n'
        '[models]\nrequire_signed = true\ntrusted_keys = ["AA", "bb"]\n'
        "[neo4j]\nretry_seconds = 5\n",
    )
    settings = load_settings()
    assert settings.audit == AuditSettings(Path("/srv/anchors"), "logger -t audit")
    assert settings.models == ModelSettings(None, True, frozenset({"aa", "bb"}))
    assert settings.neo4j.retry_seconds == 5.0
    monkeypatch.setenv("ATTRIBUTION_MODEL_SIGNING_KEY", str(tmp_path / "k.pem"))
    monkeypatch.setenv("ATTRIBUTION_REQUIRE_SIGNED_MODELS", "no")
    monkeypatch.setenv("ATTRIBUTION_NEO4J_RETRY_SECONDS", "2.5")
    settings = load_settings()
    assert settings.models == ModelSettings(tmp_path / "k.pem", False, frozenset({"aa", "bb"}))
    assert settings.neo4j.retry_seconds == 2.5
    monkeypatch.setenv("ATTRIBUTION_NEO4J_RETRY_SECONDS", "soon")
    with pytest.raises(SettingsError, match="ATTRIBUTION_NEO4J_RETRY_SECONDS = 'soon'"):
        load_settings()


def test_enrichment_failure_policy_from_toml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from attribution.cli.enrich_cmd import _with_failure_policy
    from enrichment.config import Breaker, EnrichmentConfig, NodeRetry

    _config(
        tmp_path,
        monkeypatch,
        "[enrichment]\nnode_retry_base = 60\nbreaker_failures = 3\nmax_retry_after = 120\n",
    )
    table = load_settings().enrichment
    assert table.overrides() == {}
    assert table.failure_policy() == {
        "node_retry_base": 60.0,
        "breaker_failures": 3,
        "max_retry_after": 120.0,
    }
    config = _with_failure_policy(EnrichmentConfig(), table.failure_policy())
    assert config.node_retry == NodeRetry(base=60.0, cap=21600.0)
    assert config.breaker == Breaker(failures=3, cooldown=60.0)
    assert config.retry.max_retry_after == 120.0
    assert _with_failure_policy(EnrichmentConfig(), {}) == EnrichmentConfig()
