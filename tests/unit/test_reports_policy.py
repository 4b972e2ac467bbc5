"""Workflow and report settings read from the environment and the TOML file."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from attribution.approvals import policy_from_settings
from attribution.settings import ApprovalSettings, load_settings

ENV = (
    "ATTRIBUTION_REVIEWERS",
    "ATTRIBUTION_REPORT_MAX_AGE_DAYS",
    "ATTRIBUTION_REQUIRE_SIGNED_REPORTS",
    "ATTRIBUTION_TRUSTED_REPORT_KEYS",
    "ATTRIBUTION_COLLATERAL_THRESHOLD",
)


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    policy = policy_from_settings(replace(load_settings(), approvals=ApprovalSettings()))
    assert policy.reviewers == frozenset()
    assert policy.max_age == timedelta(days=7)
    assert (policy.require_signature, policy.trusted_keys) == (False, frozenset())


def test_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "attribution.toml"
    config.write_text(
        '[roles]\nreviewers = ["rita", " ravi "]\n'
        '[approvals]\nreport_max_age_days = 2\ntrusted_report_keys = ["AB12"]\n'
        "[reports]\ncollateral_threshold = 5\n"
    )
    monkeypatch.setenv("ATTRIBUTION_CONFIG", str(config))
    settings = load_settings()
    policy = policy_from_settings(settings)
    assert policy.reviewers == frozenset({"rita", "ravi"})
    assert policy.max_age == timedelta(days=2)
    assert (policy.require_signature, policy.trusted_keys) == (True, frozenset({"ab12"}))
    assert settings.reports.collateral_threshold == 5


def test_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "attribution.toml"
    config.write_text('[roles]\nreviewers = ["rita"]\n[reports]\ncollateral_threshold = 5\n')
    monkeypatch.setenv("ATTRIBUTION_CONFIG", str(config))
    monkeypatch.setenv("ATTRIBUTION_REVIEWERS", "carol,, dave ")
    monkeypatch.setenv("ATTRIBUTION_REPORT_MAX_AGE_DAYS", "0.5")
    monkeypatch.setenv("ATTRIBUTION_REQUIRE_SIGNED_REPORTS", "yes")
    monkeypatch.setenv("ATTRIBUTION_COLLATERAL_THRESHOLD", "1")
    settings = load_settings()
    policy = policy_from_settings(settings)
    assert policy.reviewers == frozenset({"carol", "dave"})
    assert policy.max_age == timedelta(hours=12)
    assert policy.require_signature
    assert settings.reports.collateral_threshold == 1
