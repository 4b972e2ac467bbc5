"""The recommendation rules of a confidence report.

Four outcomes, decided in this order of precedence (the first that applies wins, because the
worst failure is to act against a benign server):

1. ``do-not-act-likely-benign``: the target carries a benign verdict or an allowlist label, or
   it is on a warninglist of benign infrastructure (top sites, public resolvers, reserved
   ranges, certificate revocation). This wins even without a score: a benign signal needs no
   classifier to count against action.
2. ``do-not-act-collateral-risk``: acting would hit others. For an address: it lies in a CDN or
   cloud range, a co-hosted name is labelled benign, or more than ``collateral_threshold``
   co-hosted names are not known to be malicious. For a domain: its name or registrable domain
   is a shared platform (dynamic DNS, cloud or CDN hosting names, trusted sites commonly
   abused) on a warninglist.
3. ``insufficient-evidence``: no score, the gate said ``insufficient-evidence`` or ``no-act``,
   the decision is unknown, or a misidentification control could not be checked (the
   warninglists were not loaded, so a CDN or top-site hit could not be ruled out).
4. ``eligible-for-approval``: the gate said ``act`` and none of the above applies.

``reasons`` lists every finding behind the chosen outcome; ``other_findings`` lists findings
of lower-precedence rules that also applied, so the reviewer sees all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COLLATERAL",
    "COLLATERAL_RANGE_CATEGORIES",
    "DEFAULT_COLLATERAL_THRESHOLD",
    "ELIGIBLE",
    "INSUFFICIENT",
    "LIKELY_BENIGN",
    "LIKELY_BENIGN_CATEGORIES",
    "OUTCOMES",
    "SHARED_PLATFORM_CATEGORIES",
    "RecommendationInputs",
    "recommend",
]

ELIGIBLE = "eligible-for-approval"
INSUFFICIENT = "insufficient-evidence"
COLLATERAL = "do-not-act-collateral-risk"
LIKELY_BENIGN = "do-not-act-likely-benign"
OUTCOMES = (ELIGIBLE, INSUFFICIENT, COLLATERAL, LIKELY_BENIGN)

DEFAULT_COLLATERAL_THRESHOLD = 3
"""Co-hosted names not known to be malicious that an address may carry before acting on it
counts as a collateral risk."""

LIKELY_BENIGN_CATEGORIES = frozenset({"top-sites", "public-dns", "reserved", "crl"})
COLLATERAL_RANGE_CATEGORIES = frozenset({"cdn", "cloud"})
SHARED_PLATFORM_CATEGORIES = frozenset({"dynamic-dns", "cloud", "cdn", "lots"})


@dataclass(frozen=True)
class RecommendationInputs:
    """What the rules look at, extracted from a report's content."""

    kind: str  # "domain" or "ip"
    score: float | None
    decision: str | None
    benign_labels: Sequence[str] = ()
    """Label sources giving the target a benign verdict."""
    allowlist_labels: Sequence[str] = ()
    """Label sources of kind allowlist naming the target."""
    warninglist_categories: Sequence[tuple[str, str]] = ()
    """(list name, category) of every warninglist hit on the target."""
    shared_platform_hits: Sequence[tuple[str, str]] = ()
    """(list name, category) of hits on a domain's registrable domain marking a shared platform."""
    cohosted_names: int = 0
    cohosted_unvetted: int = 0
    """Co-hosted names not labelled malicious and not named in an incident report."""
    benign_cohosted: Sequence[str] = ()
    collateral_threshold: int = DEFAULT_COLLATERAL_THRESHOLD
    controls_missing: Sequence[str] = ()
    """Misidentification controls that could not be checked (e.g. warninglists not loaded)."""


@dataclass(frozen=True)
class Recommendation:
    outcome: str
    reasons: list[str]
    other_findings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "other_findings": list(self.other_findings),
        }


def _likely_benign(inputs: RecommendationInputs) -> list[str]:
    found = [f"benign verdict from {source}" for source in sorted(set(inputs.benign_labels))]
    found += [f"allowlisted by {source}" for source in sorted(set(inputs.allowlist_labels))]
    found += [
        f"on warninglist {name} ({category})"
        for name, category in sorted(set(inputs.warninglist_categories))
        if category in LIKELY_BENIGN_CATEGORIES
    ]
    return found


def _collateral(inputs: RecommendationInputs) -> list[str]:
    found: list[str] = []
    if inputs.kind == "ip":
        found += [
            f"address in a {category} range (warninglist {name})"
            for name, category in sorted(set(inputs.warninglist_categories))
            if category in COLLATERAL_RANGE_CATEGORIES
        ]
        found += [
            f"co-hosted name {name} is labelled benign"
            for name in sorted(set(inputs.benign_cohosted))
        ]
        if inputs.cohosted_unvetted > inputs.collateral_threshold:
            found.append(
                f"{inputs.cohosted_unvetted} co-hosted names not known to be malicious "
                f"(threshold {inputs.collateral_threshold}; {inputs.cohosted_names} co-hosted in all)"
            )
    else:
        found += [
            f"shared platform: {category} (warninglist {name})"
            for name, category in sorted(set(inputs.shared_platform_hits))
            if category in SHARED_PLATFORM_CATEGORIES
        ]
    return found


def _insufficient(inputs: RecommendationInputs) -> list[str]:
    found = [f"control not checked: {name}" for name in sorted(set(inputs.controls_missing))]
    return found + _gate(inputs)


def _gate(inputs: RecommendationInputs) -> list[str]:
    if inputs.score is None or inputs.decision is None:
        return ["the target has no score"]
    if inputs.decision == "insufficient-evidence":
        return ["the classifier found insufficient evidence"]
    if inputs.decision == "no-act":
        return [f"the false-positive gate did not pass (decision no-act, score {inputs.score:g})"]
    if inputs.decision != "act":
        return [f"unknown gate decision {inputs.decision!r}"]
    return []


def recommend(inputs: RecommendationInputs) -> Recommendation:
    """Apply the rules in order of precedence (see the module docstring)."""
    stages = (
        (LIKELY_BENIGN, _likely_benign(inputs)),
        (COLLATERAL, _collateral(inputs)),
        (INSUFFICIENT, _insufficient(inputs)),
    )
    for position, (outcome, findings) in enumerate(stages):
        if findings:
            later = [item for _, items in stages[position + 1 :] for item in items]
            return Recommendation(outcome, findings, later)
    return Recommendation(
        ELIGIBLE,
        [f"the false-positive gate passed (decision act, score {inputs.score:g})"],
    )
