"""Scored targets as a STIX 2.1 bundle, with ids that do not change between exports.

Each Domain or IPAddress node with a score and a gate decision at or above the requested one
becomes:

* an SCO (``domain-name``, ``ipv4-addr`` or ``ipv6-addr``) with the id STIX derives from its
  value, so that other producers' objects for the same value share the id;
* an Indicator SDO whose pattern matches the canonical value, with ``confidence`` the
  calibrated probability on the 0–100 scale, and external references to the incident reports
  that name the target;
* an Infrastructure SDO standing for the server or name, typed from the roles the incident
  reports give it;
* relationships: indicator ``indicates`` infrastructure, infrastructure ``consists-of`` the SCO,
  and domain SCO ``resolves-to`` address SCO where the graph holds that resolution and both
  ends are exported. Addresses that are not targets themselves are never exported: a shared
  host named only because a target resolved to it is exactly the collateral to keep out.

SDO and relationship ids are UUIDv5 over the object's meaning (kind and canonical value), and
their timestamps come from the graph (first seen, scored at), so exporting an unchanged graph
twice gives byte-identical files.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stix2

from attribution.db import Graph
from attribution.schema import REL_BY_TYPE, RELATIONSHIPS, TARGET_BY_LABEL, TARGETS

# Namespace of every non-SCO id this service mints.
NAMESPACE = uuid.UUID("3f4c1f52-7a43-5b8e-9a1e-2c6a0d3b9e71")
DECISION_RANK = {"no-act": 0, "insufficient-evidence": 1, "act": 2}
PRODUCER_CREATED = datetime(2026, 1, 1, tzinfo=UTC)
ROLE_TO_INFRASTRUCTURE = {
    "c2": "command-and-control",
    "phishing": "phishing",
    "exfiltration": "exfiltration",
    "staging": "staging",
    "hosting-malware": "hosting-malware",
    "botnet": "botnet",
}

# Labels, keys and relationship types come from the schema: the target kinds, the
# relationships that put a target in an incident report, and the resolution between targets.
_REPORT_LABEL = "IncidentReport"
_REPORTED_IN = "|".join(
    rel.type for rel in RELATIONSHIPS if rel.end == _REPORT_LABEL and rel.start in TARGET_BY_LABEL
)
_RESOLVES = REL_BY_TYPE["RESOLVES_TO"]
_NAME, _ADDRESS = TARGET_BY_LABEL[_RESOLVES.start], TARGET_BY_LABEL[_RESOLVES.end]


def _targets_query() -> str:
    branches = "\n  UNION ALL\n".join(
        f"  MATCH (n:{spec.label})\n"
        "  WHERE n.decision IN $decisions AND n.score IS NOT NULL\n"
        f"  RETURN '{spec.kind}' AS kind, n.{spec.key} AS value, n"
        for spec in TARGETS.values()
    )
    return (
        f"CALL () {{\n{branches}\n}}\n"
        "RETURN kind, value, n.version AS version, n.score AS score, n.decision AS decision,\n"
        "       n.model_version AS model_version, n.scored_at AS scored_at,\n"
        "       n.first_seen AS first_seen, n.last_seen AS last_seen,\n"
        f"       COLLECT {{ MATCH (n)-[:{_REPORTED_IN}]->(r:{_REPORT_LABEL})\n"
        "                 RETURN DISTINCT r.report_id ORDER BY r.report_id } AS reports,\n"
        f"       COLLECT {{ MATCH (n)-[x:{_REPORTED_IN}]->(:{_REPORT_LABEL})\n"
        "                 WHERE x.role IS NOT NULL RETURN DISTINCT x.role } AS roles\n"
        "ORDER BY kind, value"
    )


_TARGETS = _targets_query()
_RESOLUTIONS = (
    f"MATCH (d:{_NAME.label})-[r:{_RESOLVES.type}]->(ip:{_ADDRESS.label})\n"
    f"WHERE d.{_NAME.key} IN $names AND ip.{_ADDRESS.key} IN $addresses\n"
    f"RETURN d.{_NAME.key} AS domain, ip.{_ADDRESS.key} AS address, r.first_seen AS first_seen,\n"
    "       r.last_seen AS last_seen\n"
    "ORDER BY domain, address"
)


@dataclass(frozen=True)
class Target:
    """One scored node as the export reads it."""

    kind: str
    value: str
    version: int | None
    score: float
    decision: str
    model_version: str | None
    scored_at: datetime | None
    first_seen: datetime | None
    reports: tuple[str, ...]
    roles: tuple[str, ...]


@dataclass(frozen=True)
class ExportSummary:
    targets: int
    objects: int
    by_type: dict[str, int]


def decisions_at_or_above(min_decision: str) -> list[str]:
    """The gate decisions ranked at or above ``min_decision`` (act > insufficient > no-act)."""
    if min_decision not in DECISION_RANK:
        raise ValueError(
            f"unknown decision {min_decision!r}: use one of {', '.join(DECISION_RANK)}"
        )
    floor = DECISION_RANK[min_decision]
    return sorted(d for d, rank in DECISION_RANK.items() if rank >= floor)


def stable_id(stix_type: str, *parts: str) -> str:
    """A deterministic id for an SDO or SRO from what it stands for."""
    return f"{stix_type}--{uuid.uuid5(NAMESPACE, '|'.join((stix_type, *parts)))}"


def confidence(score: float) -> int:
    """The calibrated probability on STIX's 0–100 confidence scale."""
    return max(0, min(100, round(score * 100)))


def read_targets(graph: Graph, min_decision: str = "act") -> list[Target]:
    rows = graph.read(
        _TARGETS,
        {"decisions": decisions_at_or_above(min_decision)},
        metadata={"query_id": "stix-export-targets"},
        values="python",
    )
    return [
        Target(
            kind=row["kind"],
            value=row["value"],
            version=row["version"],
            score=float(row["score"]),
            decision=row["decision"],
            model_version=row["model_version"],
            scored_at=row["scored_at"],
            first_seen=row["first_seen"],
            reports=tuple(row["reports"]),
            roles=tuple(sorted(row["roles"])),
        )
        for row in rows
    ]


def _sco(target: Target) -> Any:
    if target.kind == "domain":
        return stix2.DomainName(value=target.value)
    if target.version == 6 or ":" in target.value:
        return stix2.IPv6Address(value=target.value)
    return stix2.IPv4Address(value=target.value)


def indicator_pattern(sco: Any) -> str:
    escaped = str(sco.value).replace("\\", "\\\\").replace("'", "\\'")
    return f"[{sco.type}:value = '{escaped}']"


def producer_identity() -> Any:
    return stix2.Identity(
        id=stable_id("identity", "attribution-service"),
        name="attribution service",
        identity_class="system",
        created=PRODUCER_CREATED,
        modified=PRODUCER_CREATED,
    )


def _description(target: Target) -> str:
    return (
        f"Gate decision {target.decision} with calibrated probability {target.score:.3f}"
        + (f" from model {target.model_version}" if target.model_version else "")
        + "; inferred from communication metadata only."
    )


def _indicator(target: Target, sco: Any, common: dict[str, Any]) -> Any:
    references = [
        {"source_name": "incident-report", "external_id": report} for report in target.reports
    ]
    return stix2.Indicator(
        id=stable_id("indicator", sco.type, target.value),
        name=target.value,
        description=_description(target),
        indicator_types=["malicious-activity"],
        pattern=indicator_pattern(sco),
        pattern_type="stix",
        valid_from=common["created"],
        confidence=confidence(target.score),
        external_references=references or None,
        **common,
    )


def _infrastructure(target: Target, sco: Any, common: dict[str, Any]) -> Any:
    infra_types = sorted(
        {ROLE_TO_INFRASTRUCTURE[r] for r in target.roles if r in ROLE_TO_INFRASTRUCTURE}
    )
    return stix2.Infrastructure(
        id=stable_id("infrastructure", sco.type, target.value),
        name=target.value,
        infrastructure_types=infra_types or None,
        first_seen=target.first_seen,
        confidence=confidence(target.score),
        **common,
    )


def _target_objects(target: Target, sco: Any, producer: Any) -> list[Any]:
    """The SCO, indicator and infrastructure of one target, and the relationships among them."""
    created = target.first_seen or target.scored_at or PRODUCER_CREATED
    modified = max(created, target.scored_at or created)
    common = {"created_by_ref": producer.id, "created": created, "modified": modified}
    indicator = _indicator(target, sco, common)
    infrastructure = _infrastructure(target, sco, common)
    objects = [sco, indicator, infrastructure]
    for rel_type, source, dest in (
        ("indicates", indicator, infrastructure),
        ("consists-of", infrastructure, sco),
    ):
        objects.append(
            stix2.Relationship(
                id=stable_id("relationship", rel_type, source.id, dest.id),
                relationship_type=rel_type,
                source_ref=source.id,
                target_ref=dest.id,
                **common,
            )
        )
    return objects


def _resolution(name: Any, address: Any, res: dict[str, Any], producer: Any) -> Any:
    """``resolves-to`` from a name's SCO to an address's, over the time it was seen."""
    first = res["first_seen"] or PRODUCER_CREATED
    last = max(first, res["last_seen"] or first)
    return stix2.Relationship(
        id=stable_id("relationship", "resolves-to", name.id, address.id),
        relationship_type="resolves-to",
        source_ref=name.id,
        target_ref=address.id,
        created_by_ref=producer.id,
        created=first,
        modified=last,
        start_time=first,
        stop_time=last if last > first else None,
    )


def build_objects(targets: Sequence[Target], resolutions: Sequence[dict[str, Any]]) -> list[Any]:
    """The STIX objects for ``targets`` and the resolutions among them, sorted by id."""
    producer = producer_identity()
    objects: list[Any] = [producer]
    sco_of: dict[tuple[str, str], Any] = {}
    for target in targets:
        sco = _sco(target)
        sco_of[(target.kind, target.value)] = sco
        objects += _target_objects(target, sco, producer)
    for res in resolutions:
        name = sco_of.get((_NAME.kind, res["domain"]))
        address = sco_of.get((_ADDRESS.kind, res["address"]))
        if name is not None and address is not None:
            objects.append(_resolution(name, address, res, producer))
    return sorted(objects, key=lambda o: str(o.id))


def build_bundle(graph: Graph, min_decision: str = "act") -> tuple[dict[str, Any], int]:
    """The bundle as a plain dict (and the number of targets in it)."""
    targets = read_targets(graph, min_decision)
    names = [t.value for t in targets if t.kind == _NAME.kind]
    addresses = [t.value for t in targets if t.kind == _ADDRESS.kind]
    resolutions = (
        graph.read(
            _RESOLUTIONS,
            {"names": names, "addresses": addresses},
            metadata={"query_id": "stix-export-resolutions"},
            values="python",
        )
        if names and addresses
        else []
    )
    objects = build_objects(targets, resolutions)
    ids = "|".join(str(o.id) for o in objects)
    bundle = {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid5(NAMESPACE, 'bundle|' + ids)}",
        "objects": [json.loads(o.serialize()) for o in objects],
    }
    return bundle, len(targets)


def serialise(bundle: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(bundle, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export_stix(graph: Graph, min_decision: str = "act") -> tuple[str, ExportSummary]:
    """The bundle text for every target at or above ``min_decision``, and what it holds."""
    bundle, targets = build_bundle(graph, min_decision)
    by_type: dict[str, int] = {}
    for obj in bundle["objects"]:
        by_type[obj["type"]] = by_type.get(obj["type"], 0) + 1
    return serialise(bundle), ExportSummary(targets, len(bundle["objects"]), by_type)
