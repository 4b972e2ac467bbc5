"""``/api/v1/targets/{kind}/{value}``: what the graph holds about one domain or address.

The answer is the node's properties (times as ISO 8601 in UTC), its enrichment state and its
score drawn out of them, and its immediate neighbours: each relationship's type and
direction, the node at its other end (label and key) and the relationship's properties,
provenance included (source, first_seen, last_seen, retrieved_at). At most
:data:`MAX_NEIGHBOURS` neighbours are listed, in a fixed order; ``neighbour_count`` says how
many there are.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from neo4j.exceptions import Neo4jError, ServiceUnavailable, SessionExpired

from attribution.db import Graph
from attribution.identities import InvalidIdentity, parse_target
from attribution.schema import NODE_BY_LABEL, TARGETS, TargetSpec
from attribution.service.auth import context, require
from attribution.service.errors import ApiError
from attribution.service.principals import Principal
from attribution.service.routes.queries import server_refusal

router = APIRouter(tags=["targets"])

MAX_NEIGHBOURS = 500
ENRICHMENT_PROPS = (
    "indicator",
    "enrich_state",
    "enrich_depth",
    "enriched_at",
    "enrich_attempts",
    "enrich_retry_at",
    "enrich_failures",
)
SCORE_PROPS = (
    "score",
    "score_low",
    "score_high",
    "decision",
    "model_version",
    "scored_at",
    "reasons",
    "evidence_families",
)
_NAMES = {"domain": "a domain", "ip": "an IP address"}
_KEYS = {label: spec.key for label, spec in NODE_BY_LABEL.items()}


def _target(kind: str, value: str) -> tuple[TargetSpec, str]:
    """The target's spec and its canonical value; 422 naming ``value`` when it is not one."""
    spec = TARGETS[kind]
    try:
        identity = parse_target(value, "a target")
    except ValueError as exc:  # InvalidIdentity, or a name IDNA cannot encode
        reason = exc.reason if isinstance(exc, InvalidIdentity) else str(exc)
        raise ApiError(
            422, f"value: {exc}", details=[{"field": "value", "reason": reason}]
        ) from exc
    if identity.kind != kind:
        reason = f"{identity.value} is {_NAMES[identity.kind]}, not {_NAMES[kind]}"
        raise ApiError(422, f"value: {reason}", details=[{"field": "value", "reason": reason}])
    return spec, str(identity.value)


def _node(graph: Graph, spec: TargetSpec, value: str) -> dict[str, Any] | None:
    rows = graph.read(
        f"MATCH (n:{spec.label} {{{spec.key}: $value}}) RETURN properties(n) AS props, "
        "COUNT { (n)--() } AS degree",
        {"value": value},
        values="json",
    )
    return rows[0] if rows else None


def _neighbours(graph: Graph, spec: TargetSpec, value: str) -> list[dict[str, Any]]:
    rows = graph.read(
        f"MATCH (n:{spec.label} {{{spec.key}: $value}})-[r]-(m) "
        "WITH r, m, startNode(r) = n AS outgoing, labels(m)[0] AS label "
        "WITH r, outgoing, label, m[$keys[label]] AS key "
        "RETURN type(r) AS type, CASE WHEN outgoing THEN 'out' ELSE 'in' END AS direction, "
        "label, key, properties(r) AS properties "
        "ORDER BY type, direction, label, toString(key) LIMIT $cap",
        {"value": value, "keys": _KEYS, "cap": MAX_NEIGHBOURS},
        values="json",
    )
    return rows


@router.get(
    "/targets/{kind}/{value}",
    summary="A domain's or address's properties, enrichment, score and immediate neighbours",
)
def show_target(
    kind: Literal["domain", "ip"],
    value: str,
    request: Request,
    _: Principal = Depends(require("targets.read")),  # noqa: B008
) -> dict[str, Any]:
    spec, canonical = _target(kind, value)
    graph = context(request).graph
    try:
        node = _node(graph, spec, canonical)
        if node is None:
            raise ApiError(404, f"{kind} {canonical} is not in the graph")
        neighbours = _neighbours(graph, spec, canonical)
    except (Neo4jError, ServiceUnavailable, SessionExpired) as exc:
        raise server_refusal(exc) from exc
    props: dict[str, Any] = node["props"]
    scored = {k: props[k] for k in SCORE_PROPS if k in props}
    return {
        "kind": kind,
        "value": canonical,
        "label": spec.label,
        "properties": props,
        "enrichment": {k: props.get(k) for k in ENRICHMENT_PROPS},
        "score": scored or None,
        "neighbour_count": node["degree"],
        "neighbours": neighbours,
        "neighbours_truncated": node["degree"] > len(neighbours),
    }
