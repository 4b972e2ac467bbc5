"""The recommendation rules, over every combination of their inputs."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from attribution.reports.recommend import (
    COLLATERAL,
    ELIGIBLE,
    INSUFFICIENT,
    LIKELY_BENIGN,
    RecommendationInputs,
    recommend,
)

SCORES: list[tuple[float | None, str | None]] = [
    (None, None),
    (0.2, "insufficient-evidence"),
    (0.4, "no-act"),
    (0.97, "act"),
    (0.9, "?"),
]
BENIGN: list[dict[str, Any]] = [
    {},
    {"benign_labels": ["analyst:bob"]},
    {"allowlist_labels": ["allow:corp"]},
    {"warninglist_categories": [("tranco10k", "top-sites")]},
    {"warninglist_categories": [("public-dns-v4", "public-dns")]},
    {"warninglist_categories": [("rfc1918", "reserved")]},
    {"warninglist_categories": [("crl-ip", "crl")]},
]
IP_COLLATERAL: list[dict[str, Any]] = [
    {},
    {"warninglist_categories": [("cloudflare", "cdn")]},
    {"warninglist_categories": [("amazon-aws", "cloud")]},
    {"benign_cohosted": ["shop.example"], "cohosted_names": 1},
    {"cohosted_names": 4, "cohosted_unvetted": 4},
]
DOMAIN_COLLATERAL: list[dict[str, Any]] = [
    {},
    {"shared_platform_hits": [("dynamic-dns", "dynamic-dns")]},
    {"shared_platform_hits": [("lots-project", "lots")]},
    {"shared_platform_hits": [("github", "cloud")]},
]


def _merge(*parts: dict) -> dict:
    out: dict = {}
    for part in parts:
        for key, value in part.items():
            out[key] = list(out.get(key, [])) + list(value) if isinstance(value, list) else value
    return out


def _expected(score: tuple, benign: dict, collateral: dict, missing: bool) -> str:
    if benign:
        return LIKELY_BENIGN
    if collateral:
        return COLLATERAL
    if missing or score[1] != "act":
        return INSUFFICIENT
    return ELIGIBLE


@pytest.mark.parametrize("kind", ["ip", "domain"])
def test_every_combination_follows_the_precedence(kind: str) -> None:
    collaterals = IP_COLLATERAL if kind == "ip" else DOMAIN_COLLATERAL
    for score, benign, collateral, missing in itertools.product(
        SCORES, BENIGN, collaterals, (False, True)
    ):
        inputs = RecommendationInputs(
            kind=kind,
            score=score[0],
            decision=score[1],
            controls_missing=["warninglists"] if missing else [],
            **_merge(benign, collateral),
        )
        result = recommend(inputs)
        assert result.outcome == _expected(score, benign, collateral, missing), inputs
        assert result.reasons


def test_eligible_states_the_gate() -> None:
    result = recommend(RecommendationInputs(kind="ip", score=0.97, decision="act"))
    assert result.as_dict() == {
        "outcome": ELIGIBLE,
        "reasons": ["the false-positive gate passed (decision act, score 0.97)"],
        "other_findings": [],
    }


def test_reasons_and_lower_findings_are_listed() -> None:
    result = recommend(
        RecommendationInputs(
            kind="ip",
            score=None,
            decision=None,
            benign_labels=["analyst:bob"],
            warninglist_categories=[("cloudflare", "cdn"), ("tranco10k", "top-sites")],
        )
    )
    assert result.as_dict() == {
        "outcome": LIKELY_BENIGN,
        "reasons": ["benign verdict from analyst:bob", "on warninglist tranco10k (top-sites)"],
        "other_findings": [
            "address in a cdn range (warninglist cloudflare)",
            "the target has no score",
        ],
    }


@pytest.mark.parametrize(("unvetted", "outcome"), [(2, ELIGIBLE), (3, ELIGIBLE), (4, COLLATERAL)])
def test_cohosting_threshold_is_strictly_above(unvetted: int, outcome: str) -> None:
    inputs = RecommendationInputs(
        kind="ip",
        score=0.99,
        decision="act",
        cohosted_names=9,
        cohosted_unvetted=unvetted,
        collateral_threshold=3,
    )
    assert recommend(inputs).outcome == outcome


def test_cdn_range_on_a_domain_is_not_a_platform_and_no_act_is_insufficient() -> None:
    inputs = RecommendationInputs(
        kind="domain", score=0.4, decision="no-act", warninglist_categories=[("fastly", "cdn")]
    )
    assert recommend(inputs).as_dict() == {
        "outcome": INSUFFICIENT,
        "reasons": ["the false-positive gate did not pass (decision no-act, score 0.4)"],
        "other_findings": [],
    }
    missing = RecommendationInputs(
        kind="domain", score=0.99, decision="act", controls_missing=["warninglists"]
    )
    assert recommend(missing).reasons == ["control not checked: warninglists"]
