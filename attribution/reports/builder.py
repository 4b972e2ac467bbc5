"""Gather the evidence of a confidence report from the graph.

:func:`build_content` reads everything the report states about one target (a domain or an IP
address) and returns the report's ``content``: plain JSON data, sorted so that the same graph
and the same model give byte-identical canonical JSON and therefore the same digest.
:func:`generate_report` seals it (digest, optional signature, ``generated_at`` outside the
digested content) and checks it against ``report.schema.json``.

What goes in, one function per section, and why:

* ``target``: the canonical identity;
* ``parameters``: the hops, fact cap, collateral threshold, freshness window and the reference
  time ``as_of`` that currency and registration age are measured at;
* ``score``: the calibrated probability with its Venn-ABERS interval, the model's alpha, delta,
  benign calibration size and threshold from its manifest, and the explanation scoring wrote
  (:mod:`attribution.reports.explanation`): base value, every group's signed contribution with
  the node's values and where in this report to check them, and the groups not observed;
* ``evidence_families``: observed and not observed, and the model's minimum;
* ``evidence``: every relationship within two hops of the target and the properties of every
  node it reaches, each with its sources, first_seen, last_seen and retrieved_at (the
  operational enrichment bookkeeping, such as leases, is left out). Capped at ``max_facts``
  facts, target-nearest first; the total is always stated, and ``truncated`` is set when
  facts were left out (including when the neighbourhood exceeded the read cap, in which case
  ``total`` is a lower bound);
* ``labels`` and ``incident_reports`` on the target, and ``labelled_neighbours``;
* ``counter_evidence``: warninglist hits, registration age, benign labels and neighbours;
* ``servers`` (:mod:`attribution.reports.servers`): the addresses an action would be against,
  each current or stale, with its own collateral findings; ``action`` names the current ones;
* ``collateral``: who else an action would hit, and whether the name is on a shared platform;
* ``score_population``: the scores of all scored nodes of the same kind (for the figure);
* ``recommendation`` (:mod:`attribution.reports.recommend`).

Times are ISO 8601 in UTC with a ``Z``. The reference time ``as_of`` is the target's
``scored_at`` or, unscored, the latest ``last_seen`` in the evidence and resolutions, never the
clock, so regenerating a report from the same graph gives the same digest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from attribution.classifier.store import ModelManifest, ModelStore
from attribution.db import Graph, iso_utc
from attribution.identities import (
    InvalidIdentity,
    parse_target,
    private_suffix,
    registrable_domain,
)
from attribution.reports.canonical import seal
from attribution.reports.explanation import explanation_block, families_block, min_families
from attribution.reports.recommend import (
    COLLATERAL_RANGE_CATEGORIES,
    SHARED_PLATFORM_CATEGORIES,
    RecommendationInputs,
    ServerCheck,
    recommend,
)
from attribution.reports.servers import (
    action_block,
    address_chain,
    resolution_chains,
    server_check,
    server_entries,
)
from attribution.reports.values import hit_dict, latest, parse_time
from attribution.schema import NODE_BY_LABEL, PROVENANCE, RELATIONSHIPS, SUMMARIES, TARGETS
from attribution.scoring.explain import DEFERRED_NOTE, deferred_explanation
from attribution.settings import DEFAULT_MAX_FACTS, Settings
from attribution.warninglists import WarninglistIndex, load_warninglists

__all__ = [
    "CONTENT_VERSION",
    "DEFAULT_MAX_FACTS",
    "ReportError",
    "build_content",
    "generate_report",
    "report_schema",
    "resolve_target",
    "validate_document",
    "write_json",
]

CONTENT_VERSION = 2
HISTOGRAM_BINS = 20
QUERY_TIMEOUT_S = 60.0
_QUERY_CAP = 20000  # relationships read before sorting; beyond it the report says "truncated"

_WORKFLOW = {"CONCERNS_DOMAIN", "CONCERNS_IP", "DECIDES"}
_EVIDENCE_TYPES = "|".join(r.type for r in RELATIONSHIPS if r.type not in _WORKFLOW)
_LABEL_TYPES = ("LABELS_DOMAIN", "LABELS_IP")
_PROVENANCE_NAMES = {p.name for p in PROVENANCE}
_OPERATIONAL = {
    "lease_owner",
    "lease_expires",
    "enrich_state",
    "enrich_depth",
    "enriched_at",
    "enrich_failures",
}
# Write-time summaries are counters derived from other facts (attribution/summaries.py), not
# observations: a report cites the facts themselves.
_SUMMARY_NAMES = {p.name for props in SUMMARIES.values() for p in props}
# The feature row a score came from: the score section shows its values, group by group.
_DERIVED = {"score_features"}


class ReportError(ValueError):
    """The report cannot be built (bad target, unknown node); the message says why."""


@dataclass(frozen=True)
class _Target:
    kind: str
    value: str
    label: str
    key: str
    props: Mapping[str, Any]

    @property
    def node(self) -> tuple[str, str]:
        return self.label, self.value


def resolve_target(text: str) -> tuple[str, str]:
    """(kind, canonical value) of a report target; ReportError unless a domain or an address."""
    try:
        identity = parse_target(text, "the target of a report")
    except InvalidIdentity as exc:
        raise ReportError(f"not a domain or IP address: {exc}") from exc
    return identity.kind, str(identity.value)


def _read_target(graph: Graph, text: str) -> _Target:
    kind, value = resolve_target(text)
    label, key = TARGETS[kind].label, TARGETS[kind].key
    found = graph.read(
        f"MATCH (t:{label} {{{key}: $value}}) RETURN properties(t) AS props",
        {"value": value},
        timeout=QUERY_TIMEOUT_S,
        values="json",
    )
    if not found:
        raise ReportError(f"{kind} {value} is not in the graph")
    return _Target(kind, value, label, key, found[0]["props"])


def _node_key(labels: Iterable[str], props: Mapping[str, Any]) -> tuple[str, Any]:
    for label in labels:
        spec = NODE_BY_LABEL.get(label)
        if spec is not None:
            return label, props.get(spec.key)
    raise ReportError(f"node with labels {sorted(labels)} is not in the schema")


def _provenance(props: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "sources": sorted(props.get("source") or []),
        "first_seen": props.get("first_seen"),
        "last_seen": props.get("last_seen"),
        "retrieved_at": props.get("retrieved_at"),
        "sightings": props.get("sightings"),
    }


def _plain_props(props: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in sorted(props.items())
        if k not in _PROVENANCE_NAMES
        and k not in _OPERATIONAL
        and k not in _SUMMARY_NAMES
        and k not in _DERIVED
    }


def _sort_key(fact: Mapping[str, Any]) -> str:
    return json.dumps(
        [fact["hop"], fact["fact"], fact.get("type") or fact.get("label"), fact], sort_keys=True
    )


def _json_sorted(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: json.dumps(e, sort_keys=True))


def _evidence_rows(graph: Graph, t: _Target) -> list[dict[str, Any]]:
    # Labels and types come from the schema module only; values are parameters.
    cypher = (
        f"MATCH (t:{t.label} {{{t.key}: $value}})\n"
        "CALL (t) {\n"
        f"  MATCH (t)-[r:{_EVIDENCE_TYPES}]-() RETURN r, 1 AS hop\n"
        "  UNION\n"
        f"  MATCH (t)-[:{_EVIDENCE_TYPES}]-()-[r:{_EVIDENCE_TYPES}]-(n) WHERE n <> t "
        "RETURN r, 2 AS hop\n"
        "}\n"
        "WITH r, min(hop) AS hop ORDER BY hop LIMIT $cap\n"
        "WITH r, hop, startNode(r) AS s, endNode(r) AS e\n"
        "RETURN hop, type(r) AS type, properties(r) AS props, labels(s) AS s_labels, "
        "properties(s) AS s_props, labels(e) AS e_labels, properties(e) AS e_props"
    )
    return graph.read(
        cypher,
        {"value": t.value, "cap": _QUERY_CAP},
        timeout=QUERY_TIMEOUT_S,
        metadata={"app": "attribution.reports", "part": "evidence"},
        values="json",
    )


def _collect_facts(
    rows: list[dict[str, Any]], target: tuple[str, Any], target_props: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(relationship facts, node facts) from the evidence rows."""
    rel_facts: list[dict[str, Any]] = []
    nodes: dict[tuple[str, Any], tuple[int, Mapping[str, Any]]] = {target: (0, target_props)}
    for row in rows:
        start = _node_key(row["s_labels"], row["s_props"])
        end = _node_key(row["e_labels"], row["e_props"])
        props = row["props"]
        rel_facts.append(
            {
                "fact": "relationship",
                "hop": row["hop"],
                "type": row["type"],
                "start": {"label": start[0], "key": start[1]},
                "end": {"label": end[0], "key": end[1]},
                "properties": _plain_props(props),
                **_provenance(props),
            }
        )
        for node, node_props in ((start, row["s_props"]), (end, row["e_props"])):
            hop = 0 if node == target else row["hop"]
            if node not in nodes or nodes[node][0] > hop:
                nodes[node] = (hop, node_props)
    node_facts = [
        {
            "fact": "node",
            "hop": hop,
            "label": node[0],
            "key": node[1],
            "properties": _plain_props(props),
            **_provenance(props),
        }
        for node, (hop, props) in nodes.items()
    ]
    return rel_facts, node_facts


@dataclass(frozen=True)
class _Evidence:
    section: dict[str, Any]
    rel_facts: list[dict[str, Any]]
    node_facts: list[dict[str, Any]]
    latest_seen: str | None


def _evidence_section(graph: Graph, t: _Target, max_facts: int) -> _Evidence:
    rows = _evidence_rows(graph, t)
    rel_facts, node_facts = _collect_facts(rows, t.node, t.props)
    facts = sorted(rel_facts + node_facts, key=_sort_key)
    shown = facts[:max_facts]
    section = {
        "total": len(facts),
        "shown": len(shown),
        # At the read cap the neighbourhood is larger than what was read: say so.
        "truncated": len(facts) > len(shown) or len(rows) >= _QUERY_CAP,
        "facts": shown,
    }
    return _Evidence(section, rel_facts, node_facts, latest([f["last_seen"] for f in facts]))


def _label_entry(fact: Mapping[str, Any], source_kind: str | None) -> dict[str, Any]:
    props = fact["properties"]
    return {
        "source": fact["start"]["key"],
        "source_kind": source_kind,
        "verdict": props.get("verdict"),
        "family": props.get("family"),
        "by": props.get("by"),
        "reason": props.get("reason"),
        "sources": fact["sources"],
        "first_seen": fact["first_seen"],
        "last_seen": fact["last_seen"],
    }


def _target_labels(evidence: _Evidence, t: _Target) -> list[dict[str, Any]]:
    kinds = {
        f["key"]: f["properties"].get("kind")
        for f in evidence.node_facts
        if f["label"] == "LabelSource"
    }
    return _json_sorted(
        _label_entry(f, kinds.get(f["start"]["key"]))
        for f in evidence.rel_facts
        if f["type"] in _LABEL_TYPES and (f["end"]["label"], f["end"]["key"]) == t.node
    )


def _labelled_neighbours(evidence: _Evidence, t: _Target) -> list[dict[str, Any]]:
    """Labels on the nodes around the target (within the two hops read), any verdict."""
    return _json_sorted(
        {
            "label": f["end"]["label"],
            "key": f["end"]["key"],
            "source": f["start"]["key"],
            "verdict": f["properties"].get("verdict"),
            "hop": f["hop"],
        }
        for f in evidence.rel_facts
        if f["type"] in _LABEL_TYPES and (f["end"]["label"], f["end"]["key"]) != t.node
    )


def _incident_reports(graph: Graph, t: _Target) -> list[dict[str, Any]]:
    rows = graph.read(
        f"MATCH (t:{t.label} {{{t.key}: $value}})-[r:REPORTED_IN|IP_REPORTED_IN]->"
        "(i:IncidentReport)\n"
        "RETURN i.report_id AS report_id, i.sector AS sector, i.observed_at AS observed_at,\n"
        "  i.reported_at AS reported_at, r.role AS role, i.confirmed AS confirmed",
        {"value": t.value},
        timeout=QUERY_TIMEOUT_S,
        values="json",
    )
    return sorted(
        rows,
        key=lambda r: (r["reported_at"] or "", r["report_id"] or ""),
    )


def _model_block(manifest: ModelManifest) -> dict[str, Any] | None:
    """The gate's figures from the model's manifest, read through the model store."""
    if manifest.data is None:
        return None
    return {
        "name": manifest.name,
        "version": manifest.version,
        "alpha": manifest.alpha,
        "delta": manifest.delta,
        "benign_calibration_size": manifest.benign_calibration_size,
        # None: the gate bounds the population FPR; m: the FPR among m benign servers.
        "batch_size": manifest.batch_size,
        "threshold": manifest.threshold,
        # What the threshold applies to: the fold scorers' mean score, of which the
        # probability is a calibration.
        "gate_rule": manifest.gate_rule,
        # The manifest pins the model file's digest, so this one value pins the model.
        "manifest_sha256": manifest.sha256,
    }


def _deferred(t: _Target, settings: Settings) -> tuple[Mapping[str, Any], str | None]:
    """The target's properties with the explanation scoring deferred, computed for this report,
    and the note that says so (None when scoring wrote the explanation, or there is no score)."""
    props = t.props
    if props.get("explanation") is not None or props.get("score_features") is None:
        return props, None
    deferred = deferred_explanation(props, t.label, settings)
    if deferred.explanation is None:
        problem = deferred.problem
        return props, f"scoring deferred the explanation and it could not be computed: {problem}"
    return {**props, "explanation": deferred.explanation, "reasons": deferred.reasons}, (
        DEFERRED_NOTE
    )


def _score_section(t: _Target, manifest: ModelManifest, settings: Settings) -> dict[str, Any]:
    props, note = _deferred(t, settings)
    explanation = explanation_block(props)
    if note is not None:
        explanation["note"] = note
    low, high = props.get("score_low"), props.get("score_high")
    return {
        "probability": props.get("score"),
        "interval": None if low is None or high is None else {"low": low, "high": high},
        "decision": props.get("decision"),
        "model_version": props.get("model_version"),
        "scored_at": props.get("scored_at"),
        "model": _model_block(manifest),
        "model_note": manifest.problem,
        "top_reasons": list(props.get("reasons") or [])[:5],
        "explanation": explanation,
    }


def _families_section(props: Mapping[str, Any], manifest: ModelManifest) -> dict[str, Any]:
    minimum, source = min_families(manifest.min_families, manifest.problem)
    return families_block(props, minimum, source)


def _population(graph: Graph, label: str) -> dict[str, Any]:
    rows = graph.read(
        f"MATCH (n:{label}) WHERE n.score IS NOT NULL RETURN n.score AS s",
        timeout=QUERY_TIMEOUT_S,
        metadata={"app": "attribution.reports", "part": "population"},
        values="json",
    )
    counts = [0] * HISTOGRAM_BINS
    for row in rows:
        if row["s"] is not None:  # a non-finite score reads as None
            score = float(row["s"])
            counts[min(HISTOGRAM_BINS - 1, max(0, int(score * HISTOGRAM_BINS)))] += 1
    return {"label": label, "scored": sum(counts), "bins": HISTOGRAM_BINS, "counts": counts}


def _registration(
    graph: Graph, t: _Target, registrable: str | None, as_of: str | None
) -> dict[str, Any]:
    created = t.props.get("created")
    source = t.value
    if created is None and registrable and registrable != t.value:
        rows = graph.read(
            "MATCH (d:Domain {name: $name}) RETURN d.created AS created",
            {"name": registrable},
            timeout=QUERY_TIMEOUT_S,
            values="json",
        )
        if rows and rows[0]["created"] is not None:
            created, source = rows[0]["created"], registrable
    age_days = None
    created_at, as_of_at = parse_time(created), parse_time(as_of)
    if created_at is not None and as_of_at is not None:
        age_days = (as_of_at - created_at).days
    return {
        "created": created,
        "created_of": source if created else None,
        "as_of": as_of,
        "age_days": age_days,
    }


def _load_index(
    settings: Settings, warninglists: WarninglistIndex | None
) -> tuple[WarninglistIndex | None, str | None]:
    if warninglists is not None:
        return warninglists, None
    try:
        return load_warninglists(settings.warninglists_dir), None
    except FileNotFoundError as exc:
        return None, str(exc)


def _target_hits(t: _Target, index: WarninglistIndex | None) -> list[dict[str, str]]:
    if index is None:
        return []
    hits = index.match_domain(t.value) if t.kind == "domain" else index.match_ip(t.value)
    return [hit_dict(h) for h in hits]


def _counter_evidence(
    graph: Graph,
    t: _Target,
    content: Mapping[str, Any],
    index: WarninglistIndex | None,
    lists_note: str | None,
    hits: list[dict[str, str]],
) -> dict[str, Any]:
    registrable = content["target"]["registrable_domain"]
    labels = content["labels"]
    return {
        "warninglists": {
            "loaded": index is not None,
            "note": lists_note,
            "lists": sorted(f"{wl.list_name}@{wl.version}" for wl in index.lists) if index else [],
        },
        "warninglist_hits": hits,
        "registration": (
            _registration(graph, t, registrable, content["parameters"]["as_of"])
            if t.kind == "domain"
            else None
        ),
        "benign_labels": [e for e in labels if e["verdict"] == "benign"],
        "allowlist_labels": [e for e in labels if e["source_kind"] == "allowlist"],
        "benign_neighbours": [
            {k: n[k] for k in ("label", "key", "source", "hop")}
            for n in content["labelled_neighbours"]
            if n["verdict"] == "benign"
        ],
    }


def _ip_collateral(server: Mapping[str, Any], hits: list[dict[str, str]]) -> dict[str, Any]:
    """Who else acting on the address would hit: its tenants and the ranges it lies in."""
    names = (
        "cohosted_names",
        "cohosted_examples",
        "cohosted_not_known_malicious",
        "reported_tenants",
        "reported_tenants_count",
        "benign_tenants",
        "benign_tenants_count",
    )
    return {
        **{name: server[name] for name in names},
        "shared_ranges": [h for h in hits if h["category"] in COLLATERAL_RANGE_CATEGORIES],
    }


def _domain_collateral(
    t: _Target, registrable: str | None, hits: list[dict[str, str]], servers: list[dict[str, Any]]
) -> dict[str, Any]:
    """Whether the name lives on a shared platform, and which current servers have findings."""
    platform_hits = [h for h in hits if h["category"] in SHARED_PLATFORM_CATEGORIES]
    private = private_suffix(t.value)
    return {
        "registrable_domain": registrable,
        "private_suffix": private,
        "shared_platform": bool(platform_hits) or private is not None,
        "shared_platform_hits": platform_hits,
        "current_servers": sum(1 for s in servers if s["current"]),
        "current_servers_with_findings": [
            s["address"] for s in servers if s["current"] and s["findings"]
        ],
    }


def _target_section(t: _Target) -> dict[str, Any]:
    registrable = None
    if t.kind == "domain":
        # The Public Suffix List first; the graph's own value for suffixes it does not know.
        registrable = registrable_domain(t.value) or t.props.get("registrable")
    return {
        "kind": t.kind,
        "value": t.value,
        "registrable_domain": registrable,
        "ip_version": (6 if ":" in t.value else 4) if t.kind == "ip" else None,
    }


def _recommendation(content: Mapping[str, Any], t: _Target, index_loaded: bool) -> dict[str, Any]:
    """The recommendation, from what the content states (and the node's NXDOMAIN flag)."""
    labels = content["labels"]
    score = content["score"]
    families = content["evidence_families"]
    servers: list[ServerCheck] = [server_check(s) for s in content["servers"]]
    inputs = RecommendationInputs(
        kind=t.kind,
        score=score["probability"],
        decision=score["decision"],
        target=t.value,
        registrable_domain=content["target"]["registrable_domain"],
        private_suffix=content["collateral"].get("private_suffix"),
        benign_labels=[e["source"] for e in labels if e["verdict"] == "benign"],
        allowlist_labels=[e["source"] for e in labels if e["source_kind"] == "allowlist"],
        malicious_labels=[e["source"] for e in labels if e["verdict"] == "malicious"],
        incident_reports=[r["report_id"] for r in content["incident_reports"]],
        warninglist_hits=[
            (h["list"], h["category"], h["matched"])
            for h in content["counter_evidence"]["warninglist_hits"]
        ],
        servers=servers,
        collateral_threshold=content["parameters"]["collateral_threshold"],
        freshness_hours=content["parameters"]["freshness_hours"],
        as_of=content["parameters"]["as_of"],
        nxdomain=bool(t.props.get("nxdomain")),
        evidence_families=families["observed"],
        min_families=families["minimum"],
        controls_missing=[] if index_loaded else ["warninglists"],
    )
    return recommend(inputs).as_dict()


@dataclass(frozen=True)
class _Parameters:
    """The options a report was built with, each given or else from the report settings."""

    max_facts: int
    collateral_threshold: int
    freshness_hours: float

    @classmethod
    def resolve(
        cls,
        settings: Settings,
        max_facts: int | None,
        collateral_threshold: int | None,
        freshness_hours: float | None,
    ) -> _Parameters:
        reports = settings.reports
        return cls(
            reports.max_facts if max_facts is None else max_facts,
            reports.collateral_threshold if collateral_threshold is None else collateral_threshold,
            reports.freshness_hours if freshness_hours is None else freshness_hours,
        )


def _parameters_section(parameters: _Parameters, as_of: str | None) -> dict[str, Any]:
    return {
        "hops": 2,
        "max_facts": parameters.max_facts,
        "collateral_threshold": parameters.collateral_threshold,
        "freshness_hours": parameters.freshness_hours,
        "as_of": as_of,
    }


def _server_chains(graph: Graph, t: _Target) -> list[dict[str, Any]]:
    """A domain's resolutions, or an address as its own server."""
    if t.kind == "domain":
        return resolution_chains(graph, t.value)
    return [address_chain(t.value, t.props)]


def _reference_time(
    score: Mapping[str, Any], evidence: _Evidence, chains: list[dict[str, Any]]
) -> str | None:
    """``as_of``: the scoring time, else the latest sighting in the evidence and resolutions."""
    seen = [evidence.latest_seen, *(c["last_seen"] for c in chains)]
    return score["scored_at"] or latest(seen)


def _servers_section(
    graph: Graph,
    t: _Target,
    chains: list[dict[str, Any]],
    index: WarninglistIndex | None,
    as_of: str | None,
    parameters: _Parameters,
) -> list[dict[str, Any]]:
    domain = t.kind == "domain"
    return server_entries(
        graph,
        chains,
        index=index,
        as_of=as_of,
        freshness_hours=parameters.freshness_hours,
        threshold=parameters.collateral_threshold,
        exclude=t.value if domain else None,
        always_current=not domain,
    )


def _collateral_section(
    t: _Target, content: Mapping[str, Any], hits: list[dict[str, str]]
) -> dict[str, Any]:
    servers = content["servers"]
    if t.kind == "domain":
        return _domain_collateral(t, content["target"]["registrable_domain"], hits, servers)
    return _ip_collateral(servers[0], hits)


def build_content(
    graph: Graph,
    target: str,
    settings: Settings,
    *,
    collateral_threshold: int | None = None,
    max_facts: int | None = None,
    warninglists: WarninglistIndex | None = None,
    freshness_hours: float | None = None,
) -> dict[str, Any]:
    """The report content for ``target``; ReportError when it is not a node of the graph.

    ``collateral_threshold``, ``max_facts`` and ``freshness_hours`` default to the report
    settings (:class:`attribution.settings.ReportSettings`).
    """
    t = _read_target(graph, target)
    parameters = _Parameters.resolve(settings, max_facts, collateral_threshold, freshness_hours)
    evidence = _evidence_section(graph, t, parameters.max_facts)
    manifest = ModelStore(settings.models_dir).manifest(t.props.get("model_version"))
    score = _score_section(t, manifest, settings)
    chains = _server_chains(graph, t)
    as_of = _reference_time(score, evidence, chains)
    index, lists_note = _load_index(settings, warninglists)
    hits = _target_hits(t, index)
    servers = _servers_section(graph, t, chains, index, as_of, parameters)
    content: dict[str, Any] = {
        "content_version": CONTENT_VERSION,
        "target": _target_section(t),
        "parameters": _parameters_section(parameters, as_of),
        "score": score,
        "evidence_families": _families_section(t.props, manifest),
        "evidence": evidence.section,
        "labels": _target_labels(evidence, t),
        "labelled_neighbours": _labelled_neighbours(evidence, t),
        "incident_reports": _incident_reports(graph, t),
        "servers": servers,
        "action": action_block(t.kind, t.value, servers),
        "score_population": _population(graph, t.label),
    }
    # These sections read what the ones above state.
    content["counter_evidence"] = _counter_evidence(graph, t, content, index, lists_note, hits)
    content["collateral"] = _collateral_section(t, content, hits)
    content["recommendation"] = _recommendation(content, t, index is not None)
    return content


@cache
def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every report document conforms to."""
    text = resources.files("attribution.reports").joinpath("report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_document(document: Mapping[str, Any]) -> None:
    """Raise jsonschema.ValidationError when the document does not follow the schema."""
    jsonschema.Draft202012Validator(report_schema()).validate(document)


def generate_report(
    graph: Graph,
    target: str,
    settings: Settings,
    *,
    generated_at: datetime | None = None,
    signing_key: Any = None,
    collateral_threshold: int | None = None,
    max_facts: int | None = None,
    warninglists: WarninglistIndex | None = None,
    freshness_hours: float | None = None,
) -> dict[str, Any]:
    """Build, seal and validate the report document for ``target`` (the unset options from
    the report settings), without side effects."""
    content = build_content(
        graph,
        target,
        settings,
        collateral_threshold=collateral_threshold,
        max_facts=max_facts,
        warninglists=warninglists,
        freshness_hours=freshness_hours,
    )
    when = iso_utc(generated_at or datetime.now(UTC))
    document = seal(content, when, signing_key)
    validate_document(document)
    return document


def write_json(document: Mapping[str, Any], path: Path) -> None:
    """The document as indented JSON (the digest covers the content, not this layout)."""
    path.write_text(
        json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8"
    )
