"""Gather the evidence of a confidence report from the graph.

:func:`build_content` reads everything the report states about one target (a domain or an IP
address) and returns the report's ``content``: plain JSON data, sorted so that the same graph
and the same model give byte-identical canonical JSON and therefore the same digest.
:func:`generate_report` seals it (digest, optional signature, ``generated_at`` outside the
digested content) and checks it against ``report.schema.json``.

What goes in, and why:

* the target's canonical identity;
* the evidence chain: every relationship within two hops of the target and the properties of
  every node it reaches, each with its sources, first_seen, last_seen and retrieved_at (the
  operational enrichment bookkeeping, such as leases, is left out). Capped at ``max_facts``
  facts, target-nearest first; the total is always stated, and ``truncated`` is set when
  facts were left out (including when the neighbourhood exceeded the read cap, in which case
  ``total`` is a lower bound);
* the incident reports that name the target;
* the score with the model's alpha, delta and benign calibration size from its manifest;
* counter-evidence: warninglist hits, registration age, benign-labelled neighbours and
  allowlist labels;
* collateral: who else an action would hit;
* the score distribution of all scored nodes of the same kind (for the report's figure);
* the recommendation (:mod:`attribution.reports.recommend`).

Times are ISO 8601 in UTC with a ``Z``. The registration age is measured at the target's
``scored_at`` (or, unscored, at the latest ``last_seen`` in the evidence), never at the clock,
so it does not change the digest from one run to the next.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from attribution.db import Graph
from attribution.identities import InvalidIdentity, parse_indicator, registrable_domain
from attribution.reports.canonical import seal
from attribution.reports.recommend import (
    COLLATERAL_RANGE_CATEGORIES,
    DEFAULT_COLLATERAL_THRESHOLD,
    SHARED_PLATFORM_CATEGORIES,
    RecommendationInputs,
    recommend,
)
from attribution.schema import NODE_BY_LABEL, PROVENANCE, RELATIONSHIPS
from attribution.settings import Settings
from attribution.warninglists import WarninglistIndex, load_warninglists

__all__ = [
    "DEFAULT_MAX_FACTS",
    "ReportError",
    "build_content",
    "generate_report",
    "report_schema",
    "resolve_target",
    "validate_document",
]

CONTENT_VERSION = 1
DEFAULT_MAX_FACTS = 400
MAX_EXAMPLES = 20
HISTOGRAM_BINS = 20
QUERY_TIMEOUT_S = 60.0
_QUERY_CAP = 20000  # relationships read before sorting; beyond it the report says "truncated"

_WORKFLOW = {"CONCERNS_DOMAIN", "CONCERNS_IP", "DECIDES"}
_EVIDENCE_TYPES = "|".join(r.type for r in RELATIONSHIPS if r.type not in _WORKFLOW)
_PROVENANCE_NAMES = {p.name for p in PROVENANCE}
_OPERATIONAL = {
    "lease_owner",
    "lease_expires",
    "enrich_state",
    "enrich_depth",
    "enriched_at",
    "enrich_failures",
}
_TARGET_SPECS = {"domain": ("Domain", "name"), "ip": ("IPAddress", "address")}


class ReportError(ValueError):
    """The report cannot be built (bad target, unknown node); the message says why."""


def _json_value(value: Any) -> Any:
    """Driver values as JSON data: times as ISO text in UTC, non-finite floats as None."""
    if hasattr(value, "to_native"):
        value = value.to_native()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        text = value.astimezone(UTC).isoformat()
        return text.replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def resolve_target(text: str) -> tuple[str, str]:
    """(kind, canonical value) of a report target; ReportError unless a domain or an address."""
    try:
        identity = parse_indicator(text)
    except InvalidIdentity as exc:
        raise ReportError(f"not a domain or IP address: {exc}") from exc
    if identity.kind not in _TARGET_SPECS:
        raise ReportError(f"{text!r} is a {identity.kind}; reports cover domains and IP addresses")
    return identity.kind, str(identity.value)


def _node_key(labels: Iterable[str], props: Mapping[str, Any]) -> tuple[str, Any]:
    for label in labels:
        spec = NODE_BY_LABEL.get(label)
        if spec is not None:
            return label, _json_value(props.get(spec.key))
    raise ReportError(f"node with labels {sorted(labels)} is not in the schema")


def _provenance(props: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "sources": sorted(_json_value(props.get("source")) or []),
        "first_seen": _json_value(props.get("first_seen")),
        "last_seen": _json_value(props.get("last_seen")),
        "retrieved_at": _json_value(props.get("retrieved_at")),
        "sightings": _json_value(props.get("sightings")),
    }


def _plain_props(props: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: _json_value(v)
        for k, v in sorted(props.items())
        if k not in _PROVENANCE_NAMES and k not in _OPERATIONAL
    }


def _sort_key(fact: Mapping[str, Any]) -> str:
    return json.dumps(
        [fact["hop"], fact["fact"], fact.get("type") or fact.get("label"), fact], sort_keys=True
    )


def _evidence(graph: Graph, label: str, key: str, value: str) -> list[dict[str, Any]]:
    # Labels and types come from the schema module only; values are parameters.
    cypher = (
        f"MATCH (t:{label} {{{key}: $value}})\n"
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
        {"value": value, "cap": _QUERY_CAP},
        timeout=QUERY_TIMEOUT_S,
        metadata={"app": "attribution.reports", "part": "evidence"},
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


def _hit_dict(hit: Any) -> dict[str, str]:
    return {
        "list": hit.list_name,
        "name": hit.name,
        "category": hit.category,
        "matched": hit.matched,
    }


def _model_block(
    settings: Settings, model_version: str | None
) -> tuple[dict[str, Any] | None, str | None]:
    if not model_version:
        return None, "the target has no model version"
    name, _, version = model_version.partition("/")
    path = settings.models_dir / name / version / "manifest.json"
    if not name or not version or not path.is_file():
        return None, f"no model manifest at models/{name}/{version}/manifest.json"
    try:
        raw = path.read_bytes()
        manifest = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"model manifest models/{name}/{version}/manifest.json unreadable ({exc})"
    return {
        "name": name,
        "version": version,
        "alpha": _manifest_value(manifest, ("alpha",)),
        "delta": _manifest_value(manifest, ("delta",)),
        "benign_calibration_size": _manifest_value(
            manifest,
            (
                "benign_calibration_size",
                "n_calibration_benign",
                "calibration_size",
                "n_calibration",
            ),
        ),
        # None: the gate bounds the population FPR; m: the FPR among m benign servers.
        "batch_size": _manifest_value(manifest, ("batch_size",)),
        "threshold": _manifest_value(manifest, ("threshold", "gate_threshold", "threshold_")),
        # The manifest pins the model file's digest, so this one value pins the model.
        "manifest_sha256": hashlib.sha256(raw).hexdigest(),
    }, None


def _manifest_value(manifest: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    """A value from the manifest's ``gate`` object (as :mod:`attribution.scoring.persistence`
    writes it), else its top level, else any other nested object."""
    gate = manifest.get("gate")
    scopes: list[Mapping[str, Any]] = [gate] if isinstance(gate, Mapping) else []
    scopes.append(manifest)
    scopes += [v for _, v in sorted(manifest.items()) if isinstance(v, Mapping)]
    for scope in scopes:
        for name in names:
            value = scope.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
    return None


def _population(graph: Graph, label: str) -> dict[str, Any]:
    rows = graph.read(
        f"MATCH (n:{label}) WHERE n.score IS NOT NULL RETURN n.score AS s",
        timeout=QUERY_TIMEOUT_S,
        metadata={"app": "attribution.reports", "part": "population"},
    )
    counts = [0] * HISTOGRAM_BINS
    for row in rows:
        score = float(row["s"])
        if math.isfinite(score):
            counts[min(HISTOGRAM_BINS - 1, max(0, int(score * HISTOGRAM_BINS)))] += 1
    return {"label": label, "scored": sum(counts), "bins": HISTOGRAM_BINS, "counts": counts}


def _cohosted(graph: Graph, address: str) -> list[dict[str, Any]]:
    return graph.read(
        "MATCH (ip:IPAddress {address: $address})<-[:RESOLVES_TO]-(d:Domain)\n"
        "RETURN d.name AS name,\n"
        "  [(s:LabelSource)-[l:LABELS_DOMAIN]->(d) | "
        "{source: s.name, kind: s.kind, verdict: l.verdict}] AS labels,\n"
        "  COUNT { (d)-[:REPORTED_IN]->(:IncidentReport) } AS reports\n"
        "ORDER BY name",
        {"address": address},
        timeout=QUERY_TIMEOUT_S,
        metadata={"app": "attribution.reports", "part": "cohosted"},
    )


def _shared_ips(graph: Graph, name: str) -> list[dict[str, Any]]:
    return graph.read(
        "MATCH (d:Domain {name: $name})-[:RESOLVES_TO]->(ip:IPAddress)\n"
        "RETURN ip.address AS address, "
        "COUNT { (ip)<-[:RESOLVES_TO]-(o:Domain) WHERE o <> d } AS other_names\n"
        "ORDER BY address",
        {"name": name},
        timeout=QUERY_TIMEOUT_S,
        metadata={"app": "attribution.reports", "part": "shared-ips"},
    )


def _registration(
    graph: Graph, name: str, registrable: str | None, props: Mapping[str, Any], as_of: str | None
) -> dict[str, Any]:
    created = _json_value(props.get("created"))
    source = name
    if created is None and registrable and registrable != name:
        rows = graph.read(
            "MATCH (d:Domain {name: $name}) RETURN d.created AS created",
            {"name": registrable},
            timeout=QUERY_TIMEOUT_S,
        )
        if rows and rows[0]["created"] is not None:
            created, source = _json_value(rows[0]["created"]), registrable
    age_days = None
    created_at, as_of_at = _parse_time(created), _parse_time(as_of)
    if created_at is not None and as_of_at is not None:
        age_days = (as_of_at - created_at).days
    return {
        "created": created,
        "created_of": source if created else None,
        "as_of": as_of,
        "age_days": age_days,
    }


def _label_entry(fact: Mapping[str, Any]) -> dict[str, Any]:
    props = fact["properties"]
    return {
        "source": fact["start"]["key"],
        "verdict": props.get("verdict"),
        "family": props.get("family"),
        "by": props.get("by"),
        "reason": props.get("reason"),
        "sources": fact["sources"],
        "first_seen": fact["first_seen"],
        "last_seen": fact["last_seen"],
    }


def _ip_collateral(graph: Graph, address: str, target_hits: list[dict[str, str]]) -> dict[str, Any]:
    """Who else acting on the address would hit: its tenants and the ranges it lies in."""
    tenants = _cohosted(graph, address)
    reported = [t["name"] for t in tenants if t["reports"]]
    benign = [
        t["name"]
        for t in tenants
        if any(lab["verdict"] == "benign" or lab["kind"] == "allowlist" for lab in t["labels"])
    ]
    malicious = {
        t["name"]
        for t in tenants
        if t["reports"] or any(lab["verdict"] == "malicious" for lab in t["labels"])
    }
    return {
        "cohosted_names": len(tenants),
        "cohosted_examples": [t["name"] for t in tenants[:MAX_EXAMPLES]],
        "cohosted_not_known_malicious": len(tenants) - len(malicious),
        "shared_ranges": [h for h in target_hits if h["category"] in COLLATERAL_RANGE_CATEGORIES],
        "reported_tenants": reported[:MAX_EXAMPLES],
        "reported_tenants_count": len(reported),
        "benign_tenants": benign[:MAX_EXAMPLES],
        "benign_tenants_count": len(benign),
    }


def _domain_collateral(
    graph: Graph,
    name: str,
    registrable: str | None,
    target_hits: list[dict[str, str]],
    index: WarninglistIndex | None,
) -> dict[str, Any]:
    """The addresses the name shares with others, and whether it lives on a shared platform."""
    shared = [
        {
            "address": row["address"],
            "other_names": row["other_names"],
            "range_categories": (
                sorted({h.category for h in index.match_ip(row["address"])}) if index else []
            ),
        }
        for row in _shared_ips(graph, name)
    ]
    platform_hits = [h for h in target_hits if h["category"] in SHARED_PLATFORM_CATEGORIES]
    return {
        "shared_ips": shared,
        "registrable_domain": registrable,
        "shared_platform": bool(platform_hits),
        "shared_platform_hits": platform_hits,
    }


def build_content(
    graph: Graph,
    target: str,
    settings: Settings,
    *,
    collateral_threshold: int = DEFAULT_COLLATERAL_THRESHOLD,
    max_facts: int = DEFAULT_MAX_FACTS,
    warninglists: WarninglistIndex | None = None,
) -> dict[str, Any]:
    """The report content for ``target``; ReportError when it is not a node of the graph."""
    kind, value = resolve_target(target)
    label, key = _TARGET_SPECS[kind]
    found = graph.read(
        f"MATCH (t:{label} {{{key}: $value}}) RETURN properties(t) AS props",
        {"value": value},
        timeout=QUERY_TIMEOUT_S,
    )
    if not found:
        raise ReportError(f"{kind} {value} is not in the graph")
    props = found[0]["props"]
    target_node = (label, value)

    rows = _evidence(graph, label, key, value)
    rel_facts, node_facts = _collect_facts(rows, target_node, props)
    facts = sorted(rel_facts + node_facts, key=_sort_key)
    total = len(facts)
    shown = facts[:max_facts]
    # At the read cap the neighbourhood is larger than what was read: say so.
    truncated = total > len(shown) or len(rows) >= _QUERY_CAP

    labels_on_target = sorted(
        (
            _label_entry(f)
            for f in rel_facts
            if f["type"] in ("LABELS_DOMAIN", "LABELS_IP")
            and (f["end"]["label"], f["end"]["key"]) == target_node
        ),
        key=lambda e: json.dumps(e, sort_keys=True),
    )
    source_kinds = {
        f["key"]: f["properties"].get("kind") for f in node_facts if f["label"] == "LabelSource"
    }
    for entry in labels_on_target:
        entry["source_kind"] = source_kinds.get(entry["source"])

    reports = graph.read(
        f"MATCH (t:{label} {{{key}: $value}})-[r:REPORTED_IN|IP_REPORTED_IN]->(i:IncidentReport)\n"
        "RETURN i.report_id AS report_id, i.sector AS sector, i.observed_at AS observed_at,\n"
        "  i.reported_at AS reported_at, r.role AS role, i.confirmed AS confirmed",
        {"value": value},
        timeout=QUERY_TIMEOUT_S,
    )
    incident_reports = sorted(
        (_json_value(row) for row in reports),
        key=lambda r: (r["reported_at"] or "", r["report_id"] or ""),
    )

    model, model_note = _model_block(settings, props.get("model_version"))
    score_value = _json_value(props.get("score"))
    score = {
        "probability": score_value,
        "decision": props.get("decision"),
        "model_version": props.get("model_version"),
        "scored_at": _json_value(props.get("scored_at")),
        "model": model,
        "model_note": model_note,
        "top_reasons": list(props.get("reasons") or [])[:5],
    }

    registrable = None
    if kind == "domain":
        # The Public Suffix List first; the graph's own value for suffixes it does not know.
        registrable = registrable_domain(value) or props.get("registrable")
    try:
        index = warninglists or load_warninglists(settings.warninglists_dir)
        lists_note = None
    except FileNotFoundError as exc:
        index, lists_note = None, str(exc)
    match = (
        (lambda v: index.match_domain(v) if kind == "domain" else index.match_ip(v))
        if index is not None
        else None
    )
    target_hits = [_hit_dict(h) for h in match(value)] if match else []

    benign_neighbours = sorted(
        (
            {
                "label": f["end"]["label"],
                "key": f["end"]["key"],
                "source": f["start"]["key"],
                "hop": f["hop"],
            }
            for f in rel_facts
            if f["type"] in ("LABELS_DOMAIN", "LABELS_IP")
            and f["properties"].get("verdict") == "benign"
            and (f["end"]["label"], f["end"]["key"]) != target_node
        ),
        key=lambda e: json.dumps(e, sort_keys=True),
    )
    latest_seen = max((f["last_seen"] for f in facts if f["last_seen"]), default=None)
    as_of = score["scored_at"] or latest_seen
    counter_evidence: dict[str, Any] = {
        "warninglists": {
            "loaded": index is not None,
            "note": lists_note,
            "lists": sorted(f"{wl.list_name}@{wl.version}" for wl in index.lists) if index else [],
        },
        "warninglist_hits": target_hits,
        "registration": (
            _registration(graph, value, registrable, props, as_of) if kind == "domain" else None
        ),
        "benign_labels": [e for e in labels_on_target if e["verdict"] == "benign"],
        "allowlist_labels": [e for e in labels_on_target if e["source_kind"] == "allowlist"],
        "benign_neighbours": benign_neighbours,
    }

    collateral = (
        _ip_collateral(graph, value, target_hits)
        if kind == "ip"
        else _domain_collateral(graph, value, registrable, target_hits, index)
    )

    inputs = RecommendationInputs(
        kind=kind,
        score=score_value,
        decision=score["decision"],
        benign_labels=[e["source"] for e in counter_evidence["benign_labels"]],
        allowlist_labels=[e["source"] for e in counter_evidence["allowlist_labels"]],
        warninglist_categories=[(h["list"], h["category"]) for h in target_hits],
        shared_platform_hits=[
            (h["list"], h["category"]) for h in collateral.get("shared_platform_hits", [])
        ],
        cohosted_names=collateral.get("cohosted_names", 0),
        cohosted_unvetted=collateral.get("cohosted_not_known_malicious", 0),
        benign_cohosted=collateral.get("benign_tenants", []),
        collateral_threshold=collateral_threshold,
        controls_missing=["warninglists"] if index is None else [],
    )

    return {
        "content_version": CONTENT_VERSION,
        "target": {
            "kind": kind,
            "value": value,
            "registrable_domain": registrable,
            "ip_version": (6 if ":" in value else 4) if kind == "ip" else None,
        },
        "parameters": {
            "hops": 2,
            "max_facts": max_facts,
            "collateral_threshold": collateral_threshold,
        },
        "score": score,
        "evidence": {
            "total": total,
            "shown": len(shown),
            "truncated": truncated,
            "facts": shown,
        },
        "labels": labels_on_target,
        "incident_reports": incident_reports,
        "counter_evidence": counter_evidence,
        "collateral": collateral,
        "score_population": _population(graph, label),
        "recommendation": recommend(inputs).as_dict(),
    }


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
    collateral_threshold: int = DEFAULT_COLLATERAL_THRESHOLD,
    max_facts: int = DEFAULT_MAX_FACTS,
    warninglists: WarninglistIndex | None = None,
) -> dict[str, Any]:
    """Build, seal and validate the report document for ``target``."""
    content = build_content(
        graph,
        target,
        settings,
        collateral_threshold=collateral_threshold,
        max_facts=max_facts,
        warninglists=warninglists,
    )
    when = _json_value(generated_at or datetime.now(UTC))
    document = seal(content, when, signing_key)
    validate_document(document)
    return document


def write_json(document: Mapping[str, Any], path: Path) -> None:
    """The document as indented JSON (the digest covers the content, not this layout)."""
    path.write_text(
        json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8"
    )
