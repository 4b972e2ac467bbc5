"""The recommendation rules of a confidence report.

The unit of action is a server. An address is its own server; a domain is acted upon through
the addresses it currently resolves to (directly or through one CNAME), and each of them is
checked for collateral. Five outcomes, decided in this order of precedence, most cautious first
(the first that applies wins, because the worst failure is to act against a benign server):

1. ``do-not-act-likely-benign``: benign evidence on the target *and no malicious evidence on
   it*. Benign evidence is a benign verdict or an allowlist label on the target, or a
   warninglist of benign infrastructure (meaning ``benign`` or ``reserved`` in
   :mod:`attribution.warninglist_categories`: top sites, public resolvers, reserved ranges,
   certificate revocation, scanners, crawlers, sinkholes...) that vouches for it. A name-list
   entry vouches only for its own name, and for names under it only when it is their
   registrable domain and the name does not lie under a shared platform at or below the entry. Malicious evidence is a malicious label
   or an incident report naming the target. This wins even without a score: a benign signal
   needs no classifier to count against action.
2. ``do-not-act-collateral-risk``, each finding stated:

   * conflicting evidence: benign evidence together with malicious evidence on the target;
     or malicious evidence on a name whose parent is on a benign list but does not vouch for
     it, or which lies under a shared platform. Conflicts are stated, never resolved silently;
   * a shared platform: the domain is on or under a name list meaning ``shared``
     (dynamic DNS, LOTS (trusted sites commonly abused), URL shorteners, cloud, CDN...), or
     under a private Public Suffix List entry (anyone can publish names there);
   * a current server with a finding: its address is in a cloud or CDN range, or is benign
     infrastructure (public resolver, reserved, certificate revocation), a co-hosted name is
     labelled benign, or more than ``collateral_threshold`` co-hosted names are not known to be
     malicious. The reasons name the server and the finding and list the servers that are
     clear.
3. ``not-actionable-no-server``: a domain with no current server, because it resolves to no
   address (NXDOMAIN, or never resolved) or because every resolution is stale (last seen more
   than the freshness window before the report's reference time).
4. ``insufficient-evidence``: no score; the gate said ``insufficient-evidence``, ``no-act`` or
   ``outside-calibration`` (the target's evidence pattern is rare among the gate's calibration
   samples); the decision is unknown; fewer evidence families were observed than the model's
   minimum; or a misidentification control could not be checked (the warninglists were not
   loaded, so a CDN or top-site hit could not be ruled out).
5. ``eligible-for-approval``: the gate said ``act`` and none of the above applies.

``reasons`` lists every finding behind the chosen outcome; ``other_findings`` lists findings
of lower-precedence rules that also applied, and notes (stale addresses, parents on a list
that do not vouch), so the reviewer sees all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from attribution.identities import InvalidIdentity, canonical_domain
from attribution.settings import DEFAULT_COLLATERAL_THRESHOLD
from attribution.warninglist_categories import DO_NOT_ACT_CATEGORIES, SHARED_CATEGORIES

__all__ = [
    "COLLATERAL",
    "COLLATERAL_RANGE_CATEGORIES",
    "DEFAULT_COLLATERAL_THRESHOLD",
    "ELIGIBLE",
    "INSUFFICIENT",
    "LIKELY_BENIGN",
    "LIKELY_BENIGN_CATEGORIES",
    "NO_SERVER",
    "OUTCOMES",
    "SHARED_PLATFORM_CATEGORIES",
    "Recommendation",
    "RecommendationInputs",
    "ServerCheck",
    "is_current",
    "recommend",
    "server_findings",
]

ELIGIBLE = "eligible-for-approval"
INSUFFICIENT = "insufficient-evidence"
NO_SERVER = "not-actionable-no-server"
COLLATERAL = "do-not-act-collateral-risk"
LIKELY_BENIGN = "do-not-act-likely-benign"
OUTCOMES = (ELIGIBLE, INSUFFICIENT, NO_SERVER, COLLATERAL, LIKELY_BENIGN)

"""Co-hosted names not known to be malicious that an address may carry before acting on it
counts as a collateral risk."""

# From the one warninglist table: lists meaning "benign, do not act" (and reserved ranges)
# against lists meaning "shared, acting hits others" (ranges for servers, names for platforms).
LIKELY_BENIGN_CATEGORIES = DO_NOT_ACT_CATEGORIES
COLLATERAL_RANGE_CATEGORIES = SHARED_CATEGORIES
SHARED_PLATFORM_CATEGORIES = SHARED_CATEGORIES


@dataclass(frozen=True)
class ServerCheck:
    """One address a target would be acted upon through, with what the rules look at."""

    address: str
    current: bool
    last_seen: str | None = None
    via: str | None = None
    """The alias (CNAME target) the domain reaches the address through; None when direct."""
    warninglist_categories: Sequence[tuple[str, str]] = ()
    """(list name, category) of every warninglist hit on the address."""
    cohosted_names: int = 0
    cohosted_unvetted: int = 0
    """Co-hosted names not labelled malicious and not named in an incident report."""
    benign_cohosted: Sequence[str] = ()
    benign_cohosted_count: int | None = None
    """All co-hosted names labelled benign, when ``benign_cohosted`` lists only some."""


@dataclass(frozen=True)
class RecommendationInputs:
    """What the rules look at, extracted from a report's content."""

    kind: str  # "domain" or "ip"
    score: float | None
    decision: str | None
    target: str = ""
    """Canonical name or address (names decide which list entries vouch for the target)."""
    registrable_domain: str | None = None
    private_suffix: str | None = None
    """The private Public Suffix List entry the name lies under (a publishing platform)."""
    benign_labels: Sequence[str] = ()
    """Label sources giving the target a benign verdict."""
    allowlist_labels: Sequence[str] = ()
    """Label sources of kind allowlist naming the target."""
    malicious_labels: Sequence[str] = ()
    """Label sources giving the target a malicious verdict."""
    incident_reports: Sequence[str] = ()
    """Ids of the incident reports naming the target."""
    warninglist_hits: Sequence[tuple[str, str, str]] = ()
    """(list name, category, entry as written) of every warninglist hit on the target."""
    servers: Sequence[ServerCheck] = ()
    collateral_threshold: int = DEFAULT_COLLATERAL_THRESHOLD
    freshness_hours: float | None = None
    as_of: str | None = None
    """The reference time freshness is measured at (ISO 8601), stated in stale findings."""
    nxdomain: bool = False
    evidence_families: Sequence[str] | None = None
    """Families observed when the target was scored; None when the score did not record them."""
    min_families: int | None = None
    """The model's minimum of evidence families; None when its manifest states none."""
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


def is_current(last_seen: datetime | None, as_of: datetime | None, hours: float) -> bool:
    """A resolution is current when last seen at most ``hours`` before the reference time."""
    if last_seen is None or as_of is None:
        return False
    return as_of - last_seen <= timedelta(hours=hours)


def server_findings(server: ServerCheck, threshold: int) -> list[str]:
    """The collateral findings of one address (empty: clear to act on, if current)."""
    hits = sorted(set(server.warninglist_categories))
    found = [
        f"address in a {category} range (warninglist {name})"
        for name, category in hits
        if category in COLLATERAL_RANGE_CATEGORIES
    ]
    found += [
        f"benign infrastructure: {category} (warninglist {name})"
        for name, category in hits
        if category in LIKELY_BENIGN_CATEGORIES
    ]
    benign = sorted(set(server.benign_cohosted))
    found += [f"co-hosted name {name} is labelled benign" for name in benign]
    more = (server.benign_cohosted_count or 0) - len(benign)
    if more > 0:
        found.append(f"{more} more co-hosted names are labelled benign")
    if server.cohosted_unvetted > threshold:
        found.append(
            f"{server.cohosted_unvetted} co-hosted names not known to be malicious "
            f"(threshold {threshold}; {server.cohosted_names} co-hosted in all)"
        )
    return found


def _entry_name(target: str, matched: str) -> str | None:
    """The name a list entry names when that is the target or one of its parents, else None
    (substring and regex entries, or entries naming something else)."""
    try:
        name = canonical_domain(matched.strip().lstrip("."))
    except InvalidIdentity:
        return None
    if name == target or target.endswith("." + name):
        return name
    return None


def _platforms(inputs: RecommendationInputs) -> list[tuple[str | None, str]]:
    """(platform name, finding) of each shared platform the domain is on or under; the name
    is None when a substring or regex entry matched and the platform is not named."""
    if inputs.kind != "domain":
        return []
    found: list[tuple[str | None, str]] = []
    for name, category, matched in sorted(set(inputs.warninglist_hits)):
        if category not in SHARED_PLATFORM_CATEGORIES:
            continue
        where = _entry_name(inputs.target, matched)
        if where == inputs.target:
            text = f"the name itself is on warninglist {name} ({category})"
        elif where is not None:
            text = f"the name lies under {where}, on warninglist {name} ({category})"
        else:
            text = f"the name matches entry {matched!r} of warninglist {name} ({category})"
        found.append((where, f"shared platform: {text}"))
    if inputs.private_suffix:
        found.append(
            (
                inputs.private_suffix,
                f"shared platform: the name lies under {inputs.private_suffix}, a private Public "
                "Suffix List entry (anyone can publish names under it)",
            )
        )
    return found


def _tenant_platforms(inputs: RecommendationInputs) -> list[tuple[str | None, str]]:
    """Platforms the name lies under (it is not the platform's own domain)."""
    return [(where, text) for where, text in _platforms(inputs) if where != inputs.target]


def _vouches(inputs: RecommendationInputs, matched: str) -> str | None:
    """How a benign-list entry vouches for the target ('' directly), or None when it does not."""
    if inputs.kind != "domain":
        return ""
    where = _entry_name(inputs.target, matched)
    if where == inputs.target:
        return ""
    if where is None or where != inputs.registrable_domain:
        return None
    for platform, _ in _tenant_platforms(inputs):
        if platform is None or platform == where or platform.endswith("." + where):
            return None
    return f" through its registrable domain {where}"


def _benign_hits(inputs: RecommendationInputs) -> list[tuple[str, str, str, str | None]]:
    """(list, category, entry, how it vouches or None) of the target's benign-list hits."""
    return [
        (name, category, matched, _vouches(inputs, matched))
        for name, category, matched in sorted(set(inputs.warninglist_hits))
        if category in LIKELY_BENIGN_CATEGORIES
    ]


def _likely_benign(inputs: RecommendationInputs) -> list[str]:
    found = [f"benign verdict from {source}" for source in sorted(set(inputs.benign_labels))]
    found += [f"allowlisted by {source}" for source in sorted(set(inputs.allowlist_labels))]
    found += [
        f"on warninglist {name} ({category}){how}"
        for name, category, _, how in _benign_hits(inputs)
        if how is not None
    ]
    return found


def _parents_not_vouching(inputs: RecommendationInputs) -> list[str]:
    found = []
    for name, category, matched, how in _benign_hits(inputs):
        if how is not None:
            continue
        where = _entry_name(inputs.target, matched)
        listed = f"parent {where}" if where else f"entry {matched!r}"
        found.append(
            f"{listed} is on warninglist {name} ({category}), which vouches only for that name, "
            "or for names under it as their registrable domain outside a shared platform"
        )
    return found


def _malicious(inputs: RecommendationInputs) -> list[str]:
    found = [f"malicious label from {source}" for source in sorted(set(inputs.malicious_labels))]
    return found + [f"named in incident report {r}" for r in sorted(set(inputs.incident_reports))]


def _server_lines(inputs: RecommendationInputs) -> tuple[list[str], list[str]]:
    """(findings of current servers as 'server A: ...', addresses of current servers clear)."""
    lines: list[str] = []
    clear: list[str] = []
    for server in sorted(inputs.servers, key=lambda s: s.address):
        if not server.current:
            continue
        found = server_findings(server, inputs.collateral_threshold)
        lines += [f"server {server.address}: {text}" for text in found]
        if not found:
            clear.append(server.address)
    return lines, clear


def _collateral(inputs: RecommendationInputs, benign: list[str], malicious: list[str]) -> list[str]:
    found: list[str] = []
    against = "; ".join(malicious)
    if benign and malicious:
        found.append(f"conflicting evidence: {'; '.join(benign)}; against: {against}")
    if malicious:
        found += [
            f"conflicting evidence: {text}; against: {against}"
            for text in _parents_not_vouching(inputs)
        ]
    tenant = {text for _, text in _tenant_platforms(inputs)}
    for _, text in _platforms(inputs):
        conflict = malicious and text in tenant
        found.append(f"conflicting evidence: {text}; against: {against}" if conflict else text)
    lines, clear = _server_lines(inputs)
    found += lines
    if found and inputs.kind == "domain" and any(s.current for s in inputs.servers):
        found.append(
            f"current servers clear of findings: {', '.join(clear)}"
            if clear
            else "no current server is clear of findings"
        )
    return found


def _no_server(inputs: RecommendationInputs) -> list[str]:
    if inputs.kind != "domain" or any(s.current for s in inputs.servers):
        return []
    if not inputs.servers:
        text = "no current server: the name resolves to no address"
        if inputs.nxdomain:
            text += " (the last DNS lookup said the name does not exist: NXDOMAIN)"
        return [text]
    stale = ", ".join(
        f"{s.address} last seen {s.last_seen or 'at an unknown time'}"
        for s in sorted(inputs.servers, key=lambda s: s.address)
    )
    return [f"no current server: every address it resolved to is stale: {stale}{_window(inputs)}"]


def _window(inputs: RecommendationInputs) -> str:
    if inputs.freshness_hours is None:
        return ""
    return f" (freshness window {inputs.freshness_hours:g} h before {inputs.as_of or 'unknown'})"


def _families(inputs: RecommendationInputs) -> list[str]:
    minimum = inputs.min_families
    if minimum is None:
        return []
    if inputs.evidence_families is None:
        return [f"the score recorded no evidence families (the model requires {minimum})"]
    observed = sorted(set(inputs.evidence_families))
    if len(observed) >= minimum:
        return []
    return [
        f"only {len(observed)} of the model's minimum of {minimum} evidence families observed "
        f"({', '.join(observed) or 'none'})"
    ]


def _insufficient(inputs: RecommendationInputs) -> list[str]:
    found = [f"control not checked: {name}" for name in sorted(set(inputs.controls_missing))]
    return found + _gate(inputs) + _families(inputs)


def _gate(inputs: RecommendationInputs) -> list[str]:
    if inputs.decision == "insufficient-evidence":
        return ["the classifier found insufficient evidence"]
    if inputs.score is None or inputs.decision is None:
        return ["the target has no score"]
    if inputs.decision == "outside-calibration":
        return [
            "the target's evidence pattern is rare among the gate's calibration samples "
            f"(decision outside-calibration, score {inputs.score:g})"
        ]
    if inputs.decision == "no-act":
        return [f"the false-positive gate did not pass (decision no-act, score {inputs.score:g})"]
    if inputs.decision != "act":
        return [f"unknown gate decision {inputs.decision!r}"]
    return []


def _notes(inputs: RecommendationInputs, malicious: list[str]) -> list[str]:
    """Facts beside the rules: stale addresses, parents on a list that do not vouch."""
    notes = [] if malicious else _parents_not_vouching(inputs)
    current = [s for s in inputs.servers if s.current]
    stale = sorted((s for s in inputs.servers if not s.current), key=lambda s: s.address)
    if current and stale:
        listed = ", ".join(f"{s.address} last seen {s.last_seen or 'unknown'}" for s in stale)
        notes.append(f"stale addresses, shown but not acted upon: {listed}{_window(inputs)}")
    if current and inputs.nxdomain:
        notes.append("the last DNS lookup said the name does not exist (NXDOMAIN)")
    return notes


def _eligible(inputs: RecommendationInputs) -> list[str]:
    reasons = [f"the false-positive gate passed (decision act, score {inputs.score:g})"]
    if inputs.kind == "domain":
        current = sorted(s.address for s in inputs.servers if s.current)
        reasons.append(f"current servers, each clear of findings: {', '.join(current)}")
    return reasons


def recommend(inputs: RecommendationInputs) -> Recommendation:
    """Apply the rules in order of precedence (see the module docstring)."""
    benign = _likely_benign(inputs)
    malicious = _malicious(inputs)
    stages = (
        (LIKELY_BENIGN, [] if malicious else benign),
        (COLLATERAL, _collateral(inputs, benign, malicious)),
        (NO_SERVER, _no_server(inputs)),
        (INSUFFICIENT, _insufficient(inputs)),
    )
    notes = _notes(inputs, malicious)
    for position, (outcome, findings) in enumerate(stages):
        if findings:
            later = [item for _, items in stages[position + 1 :] for item in items]
            return Recommendation(outcome, findings, later + notes)
    return Recommendation(ELIGIBLE, _eligible(inputs), notes)
