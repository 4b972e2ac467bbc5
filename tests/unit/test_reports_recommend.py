"""The recommendation rules: every combination of their inputs, then each rule on its own."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from attribution.reports.recommend import (
    COLLATERAL,
    ELIGIBLE,
    INSUFFICIENT,
    LIKELY_BENIGN,
    NO_SERVER,
    RecommendationInputs,
    ServerCheck,
    recommend,
)

AS_OF = "2026-03-11T00:00:00Z"
FRESH = "2026-03-10T00:00:00Z"
STALE = "2026-02-01T00:00:00Z"
DOMAIN = "evil.test"
ADDRESS = "192.0.2.1"

SCORES: list[tuple[float | None, str | None]] = [
    (None, None),
    (None, "insufficient-evidence"),
    (0.2, "insufficient-evidence"),
    (0.4, "no-act"),
    (0.95, "outside-calibration"),
    (0.97, "act"),
    (0.9, "?"),
]
MALICIOUS: list[dict[str, Any]] = [
    {},
    {"malicious_labels": ["feed:c2.txt"]},
    {"incident_reports": ["IR-1"]},
]
SERVER_FINDINGS: list[dict[str, Any]] = [
    {},
    {"warninglist_categories": [("cloudflare", "cdn")]},
    {"warninglist_categories": [("amazon-aws", "cloud")]},
    {"warninglist_categories": [("public-dns-v4", "public-dns")]},
    {"benign_cohosted": ["shop.example"], "cohosted_names": 1},
    {"cohosted_names": 4, "cohosted_unvetted": 4},
]


def _benign(kind: str) -> list[dict[str, Any]]:
    entry = DOMAIN if kind == "domain" else "192.0.2.0/24"
    return [
        {},
        {"benign_labels": ["analyst:bob"]},
        {"allowlist_labels": ["allow:corp"]},
        {"warninglist_hits": [("tranco10k", "top-sites", entry)]},
        {"warninglist_hits": [("public-dns-v4", "public-dns", entry)]},
        {"warninglist_hits": [("rfc1918", "reserved", entry)]},
        {"warninglist_hits": [("crl-ip", "crl", entry)]},
    ]


PLATFORMS: list[list[tuple[str, str, str]]] = [
    [],
    [("dynamic-dns", "dynamic-dns", DOMAIN)],
    [("lots-project", "lots", DOMAIN)],
    [("github", "cloud", DOMAIN)],
]


def _servers(state: str, findings: dict[str, Any]) -> list[ServerCheck]:
    if state == "none":
        return []
    seen = FRESH if state == "current" else STALE
    return [ServerCheck(ADDRESS, state == "current", seen, **findings)]


def _expected(
    score: tuple[Any, Any],
    benign: bool,
    malicious: bool,
    collateral: bool,
    server_state: str,
    missing: bool,
) -> str:
    if benign and not malicious:
        return LIKELY_BENIGN
    if collateral or (benign and malicious):
        return COLLATERAL
    if server_state != "current":
        return NO_SERVER
    if missing or score[1] != "act":
        return INSUFFICIENT
    return ELIGIBLE


def _inputs(
    kind: str, score: tuple[Any, Any], missing: bool, **fields: Any
) -> RecommendationInputs:
    return RecommendationInputs(
        kind=kind,
        score=score[0],
        decision=score[1],
        target=DOMAIN if kind == "domain" else ADDRESS,
        registrable_domain=DOMAIN if kind == "domain" else None,
        freshness_hours=72,
        as_of=AS_OF,
        controls_missing=["warninglists"] if missing else [],
        **fields,
    )


def _merge_hits(*parts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            out[key] = list(out.get(key, [])) + list(value)
    return out


def test_every_domain_combination_follows_the_precedence() -> None:
    for score, benign, malicious, findings, platform, state, missing in itertools.product(
        SCORES,
        _benign("domain"),
        MALICIOUS,
        SERVER_FINDINGS,
        PLATFORMS,
        ("current", "stale", "none"),
        (False, True),
    ):
        fields = _merge_hits(benign, malicious, {"warninglist_hits": platform})
        inputs = _inputs("domain", score, missing, servers=_servers(state, findings), **fields)
        result = recommend(inputs)
        collateral = bool(platform) or (bool(findings) and state == "current")
        expected = _expected(score, bool(benign), bool(malicious), collateral, state, missing)
        assert result.outcome == expected, inputs
        assert result.reasons


def test_every_address_combination_follows_the_precedence() -> None:
    for score, benign, malicious, findings, missing in itertools.product(
        SCORES, _benign("ip"), MALICIOUS, SERVER_FINDINGS, (False, True)
    ):
        inputs = _inputs(
            "ip",
            score,
            missing,
            servers=_servers("current", findings),
            **_merge_hits(benign, malicious),
        )
        result = recommend(inputs)
        expected = _expected(
            score, bool(benign), bool(malicious), bool(findings), "current", missing
        )
        assert result.outcome == expected, inputs
        assert result.reasons


def _domain(name: str = DOMAIN, **fields: Any) -> RecommendationInputs:
    base: dict[str, Any] = {
        "kind": "domain",
        "score": 0.97,
        "decision": "act",
        "target": name,
        "registrable_domain": name,
        "freshness_hours": 72,
        "as_of": AS_OF,
        "servers": [ServerCheck("203.0.113.5", True, FRESH)],
    }
    return RecommendationInputs(**{**base, **fields})


def test_eligible_names_the_gate_and_the_servers() -> None:
    assert recommend(_domain()).as_dict() == {
        "outcome": ELIGIBLE,
        "reasons": [
            "the false-positive gate passed (decision act, score 0.97)",
            "current servers, each clear of findings: 203.0.113.5",
        ],
        "other_findings": [],
    }
    address = RecommendationInputs(
        kind="ip", score=0.97, decision="act", servers=[ServerCheck(ADDRESS, True)]
    )
    assert recommend(address).as_dict() == {
        "outcome": ELIGIBLE,
        "reasons": ["the false-positive gate passed (decision act, score 0.97)"],
        "other_findings": [],
    }


def test_a_name_without_an_address_is_not_actionable() -> None:
    result = recommend(_domain(score=1.0, servers=[], nxdomain=True))
    assert result.as_dict() == {
        "outcome": NO_SERVER,
        "reasons": [
            "no current server: the name resolves to no address "
            "(the last DNS lookup said the name does not exist: NXDOMAIN)"
        ],
        "other_findings": [],
    }


def test_a_name_with_only_stale_addresses_says_when_they_were_seen() -> None:
    servers = [
        ServerCheck("203.0.113.9", False, STALE),
        ServerCheck("203.0.113.8", False, None),
    ]
    result = recommend(_domain(servers=servers, decision="no-act", score=0.4))
    assert result.as_dict() == {
        "outcome": NO_SERVER,
        "reasons": [
            "no current server: every address it resolved to is stale: 203.0.113.8 last seen "
            "at an unknown time, 203.0.113.9 last seen 2026-02-01T00:00:00Z (freshness window "
            "72 h before 2026-03-11T00:00:00Z)"
        ],
        "other_findings": [
            "the false-positive gate did not pass (decision no-act, score 0.4)",
        ],
    }


def test_collateral_is_judged_per_current_server() -> None:
    servers = [
        ServerCheck("203.0.113.5", True, FRESH),
        ServerCheck(
            "198.51.100.20",
            True,
            FRESH,
            warninglist_categories=[("cloudflare", "cdn")],
            cohosted_names=68,
            cohosted_unvetted=68,
        ),
        # Stale: shown, never judged, never acted upon.
        ServerCheck("198.51.100.99", False, STALE, warninglist_categories=[("akamai", "cdn")]),
    ]
    assert recommend(_domain(servers=servers)).as_dict() == {
        "outcome": COLLATERAL,
        "reasons": [
            "server 198.51.100.20: address in a cdn range (warninglist cloudflare)",
            "server 198.51.100.20: 68 co-hosted names not known to be malicious "
            "(threshold 3; 68 co-hosted in all)",
            "current servers clear of findings: 203.0.113.5",
        ],
        "other_findings": [
            "stale addresses, shown but not acted upon: 198.51.100.99 last seen "
            "2026-02-01T00:00:00Z (freshness window 72 h before 2026-03-11T00:00:00Z)"
        ],
    }


def test_benign_and_malicious_evidence_on_the_target_conflict() -> None:
    result = recommend(
        _domain(
            benign_labels=["analyst:bob"],
            warninglist_hits=[("tranco10k", "top-sites", DOMAIN)],
            malicious_labels=["feed:c2.txt"],
            incident_reports=["IR-1"],
        )
    )
    assert result.as_dict() == {
        "outcome": COLLATERAL,
        "reasons": [
            "conflicting evidence: benign verdict from analyst:bob; on warninglist tranco10k "
            "(top-sites); against: malicious label from feed:c2.txt; named in incident report "
            "IR-1",
            "current servers clear of findings: 203.0.113.5",
        ],
        "other_findings": [],
    }


def test_a_top_site_registrable_domain_vouches_unless_the_name_is_reported() -> None:
    name = "www.popular.example"
    hits = [("tranco10k", "top-sites", "popular.example")]
    quiet = _domain(name, registrable_domain="popular.example", warninglist_hits=hits)
    assert recommend(quiet).as_dict() == {
        "outcome": LIKELY_BENIGN,
        "reasons": [
            "on warninglist tranco10k (top-sites) through its registrable domain popular.example"
        ],
        "other_findings": [],
    }
    reported = _domain(
        name, registrable_domain="popular.example", warninglist_hits=hits, incident_reports=["IR-7"]
    )
    assert recommend(reported).reasons[0] == (
        "conflicting evidence: on warninglist tranco10k (top-sites) through its registrable "
        "domain popular.example; against: named in incident report IR-7"
    )
    assert recommend(reported).outcome == COLLATERAL


def test_a_listed_parent_below_the_registrable_domain_does_not_vouch() -> None:
    name = "x.blog.bigco.example"
    hits = [("tranco10k", "top-sites", "blog.bigco.example")]
    note = (
        "parent blog.bigco.example is on warninglist tranco10k (top-sites), which vouches only "
        "for that name, or for names under it as their registrable domain outside a shared "
        "platform"
    )
    quiet = recommend(_domain(name, registrable_domain="bigco.example", warninglist_hits=hits))
    assert quiet.outcome == ELIGIBLE
    assert quiet.other_findings == [note]
    labelled = recommend(
        _domain(
            name,
            registrable_domain="bigco.example",
            warninglist_hits=hits,
            malicious_labels=["feed:phish.txt"],
        )
    )
    assert labelled.as_dict() == {
        "outcome": COLLATERAL,
        "reasons": [
            f"conflicting evidence: {note}; against: malicious label from feed:phish.txt",
            "current servers clear of findings: 203.0.113.5",
        ],
        "other_findings": [],
    }


PLATFORM_CASES = [
    pytest.param(
        "user.github.io",
        {"private_suffix": "github.io", "registrable_domain": "user.github.io"},
        [("tranco10k", "top-sites", "github.io")],
        "shared platform: the name lies under github.io, a private Public Suffix List entry "
        "(anyone can publish names under it)",
        id="private-psl",
    ),
    pytest.param(
        "foo.dyn.example",
        {"registrable_domain": "dyn.example"},
        [("dynamic-dns", "dynamic-dns", ".dyn.example"), ("tranco10k", "top-sites", "dyn.example")],
        "shared platform: the name lies under dyn.example, on warninglist dynamic-dns "
        "(dynamic-dns)",
        id="dynamic-dns",
    ),
    pytest.param(
        "page.lots.example",
        {"registrable_domain": "lots.example"},
        [("lots-project", "lots", "lots.example"), ("tranco10k", "top-sites", "lots.example")],
        "shared platform: the name lies under lots.example, on warninglist lots-project (lots)",
        id="lots",
    ),
]


@pytest.mark.parametrize(("name", "fields", "hits", "platform"), PLATFORM_CASES)
def test_a_name_under_a_shared_platform_is_never_likely_benign(
    name: str, fields: dict[str, Any], hits: list[tuple[str, str, str]], platform: str
) -> None:
    parent = hits[-1][2]
    not_vouching = (
        f"parent {parent} is on warninglist tranco10k (top-sites), which vouches only for that "
        "name, or for names under it as their registrable domain outside a shared platform"
    )
    labelled = recommend(
        _domain(name, warninglist_hits=hits, malicious_labels=["feed:phish.txt"], **fields)
    )
    against = "; against: malicious label from feed:phish.txt"
    assert labelled.as_dict() == {
        "outcome": COLLATERAL,
        "reasons": [
            f"conflicting evidence: {not_vouching}{against}",
            f"conflicting evidence: {platform}{against}",
            "current servers clear of findings: 203.0.113.5",
        ],
        "other_findings": [],
    }
    unlabelled = recommend(_domain(name, warninglist_hits=hits, **fields))
    assert unlabelled.outcome == COLLATERAL
    assert unlabelled.reasons[0] == platform
    assert unlabelled.other_findings == [not_vouching]


def test_the_platform_s_own_domain_can_be_vouched_for() -> None:
    hits = [
        ("dynamic-dns", "dynamic-dns", ".dyn.example"),
        ("tranco10k", "top-sites", "dyn.example"),
    ]
    result = recommend(_domain("dyn.example", warninglist_hits=hits))
    assert result.as_dict() == {
        "outcome": LIKELY_BENIGN,
        "reasons": ["on warninglist tranco10k (top-sites)"],
        "other_findings": [
            "shared platform: the name itself is on warninglist dynamic-dns (dynamic-dns)",
            "current servers clear of findings: 203.0.113.5",
        ],
    }


@pytest.mark.parametrize(
    ("families", "minimum", "outcome", "reasons"),
    [
        (
            ["resolution"],
            2,
            INSUFFICIENT,
            ["only 1 of the model's minimum of 2 evidence families observed (resolution)"],
        ),
        (
            [],
            1,
            INSUFFICIENT,
            ["only 0 of the model's minimum of 1 evidence families observed (none)"],
        ),
        (
            None,
            2,
            INSUFFICIENT,
            ["the score recorded no evidence families (the model requires 2)"],
        ),
        (["resolution", "hosting"], 2, ELIGIBLE, None),
        (["resolution"], None, ELIGIBLE, None),
        (None, None, ELIGIBLE, None),
    ],
)
def test_fewer_evidence_families_than_the_minimum_is_insufficient(
    families: list[str] | None, minimum: int | None, outcome: str, reasons: list[str] | None
) -> None:
    result = recommend(_domain(evidence_families=families, min_families=minimum))
    assert result.outcome == outcome
    if reasons is not None:
        assert result.reasons == reasons


def test_outside_calibration_is_insufficient() -> None:
    result = recommend(_domain(score=0.99, decision="outside-calibration"))
    assert result.as_dict() == {
        "outcome": INSUFFICIENT,
        "reasons": [
            "the target's evidence pattern is rare among the gate's calibration samples "
            "(decision outside-calibration, score 0.99)"
        ],
        "other_findings": [],
    }


def test_reasons_and_lower_findings_are_listed() -> None:
    result = recommend(
        RecommendationInputs(
            kind="ip",
            score=None,
            decision=None,
            target=ADDRESS,
            benign_labels=["analyst:bob"],
            warninglist_hits=[("tranco10k", "top-sites", ADDRESS)],
            servers=[ServerCheck(ADDRESS, True, warninglist_categories=[("cloudflare", "cdn")])],
        )
    )
    assert result.as_dict() == {
        "outcome": LIKELY_BENIGN,
        "reasons": ["benign verdict from analyst:bob", "on warninglist tranco10k (top-sites)"],
        "other_findings": [
            "server 192.0.2.1: address in a cdn range (warninglist cloudflare)",
            "the target has no score",
        ],
    }


@pytest.mark.parametrize(("unvetted", "outcome"), [(2, ELIGIBLE), (3, ELIGIBLE), (4, COLLATERAL)])
def test_cohosting_threshold_is_strictly_above(unvetted: int, outcome: str) -> None:
    server = ServerCheck(ADDRESS, True, cohosted_names=9, cohosted_unvetted=unvetted)
    inputs = RecommendationInputs(
        kind="ip", score=0.99, decision="act", servers=[server], collateral_threshold=3
    )
    assert recommend(inputs).outcome == outcome


def test_missing_warninglists_are_a_control_not_checked() -> None:
    missing = _domain(controls_missing=["warninglists"])
    assert recommend(missing).as_dict() == {
        "outcome": INSUFFICIENT,
        "reasons": ["control not checked: warninglists"],
        "other_findings": [],
    }


def test_an_abstention_without_a_score_says_the_evidence_was_insufficient() -> None:
    result = recommend(_domain(score=None, decision="insufficient-evidence"))
    assert result.reasons == ["the classifier found insufficient evidence"]


def test_every_feature_group_says_where_a_report_shows_its_values() -> None:
    from attribution.features import FEATURE_GROUPS
    from attribution.features.families import FAMILIES
    from attribution.reports.explanation import CHECK_IN, EVIDENCE_FAMILIES

    assert set(CHECK_IN) == set(FEATURE_GROUPS)
    assert EVIDENCE_FAMILIES == FAMILIES
