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

_TARGETS = """
CALL () {
  MATCH (d:Domain)
  WHERE d.decision IN $decisions AND d.score IS NOT NULL
  RETURN 'domain' AS kind, d.name AS value, d AS n
  UNION ALL
  MATCH (ip:IPAddress)
  WHERE ip.decision IN $decisions AND ip.score IS NOT NULL
  RETURN 'ip' AS kind, ip.address AS value, ip AS n
}
RETURN kind, value, n.version AS version, n.score AS score, n.decision AS decision,
       n.model_version AS model_version, n.scored_at AS scored_at,
       n.first_seen AS first_seen, n.last_seen AS last_seen,
       COLLECT { MATCH (n)-[:REPORTED_IN|IP_REPORTED_IN]->(r:IncidentReport)
                 RETURN DISTINCT r.report_id ORDER BY r.report_id } AS reports,
       COLLECT { MATCH (n)-[x:REPORTED_IN|IP_REPORTED_IN]->(:IncidentReport)
                 WHERE x.role IS NOT NULL RETURN DISTINCT x.role } AS roles
ORDER BY kind, value
"""

_RESOLUTIONS = """
MATCH (d:Domain)-[r:RESOLVES_TO]->(ip:IPAddress)
WHERE d.name IN $domains AND ip.address IN $addresses
RETURN d.name AS domain, ip.address AS address, r.first_seen AS first_seen,
       r.last_seen AS last_seen
ORDER BY domain, address
"""


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


def _pattern(sco: Any) -> str:
    escaped = str(sco.value).replace("\\", "\\\\").replace("'", "\\'")
    return f"[{sco.type}:value = '{escaped}']"


def build_objects(targets: Sequence[Target], resolutions: Sequence[dict[str, Any]]) -> list[Any]:
    """The STIX objects for ``targets`` and the resolutions among them, sorted by id."""
    producer = stix2.Identity(
        id=stable_id("identity", "attribution-service"),
        name="attribution service",
        identity_class="system",
        created=PRODUCER_CREATED,
        modified=PRODUCER_CREATED,
    )
    objects: list[Any] = [producer]
    sco_of: dict[tuple[str, str], Any] = {}
    for target in targets:
        sco = _sco(target)
        sco_of[(target.kind, target.value)] = sco
        created = target.first_seen or target.scored_at or PRODUCER_CREATED
        modified = max(created, target.scored_at or created)
        common = {
            "created_by_ref": producer.id,
            "created": created,
            "modified": modified,
        }
        description = (
            f"Gate decision {target.decision} with calibrated probability {target.score:.3f}"
            + (f" from model {target.model_version}" if target.model_version else "")
            + "; inferred from communication metadata only."
        )
        references = [
            {"source_name": "incident-report", "external_id": report} for report in target.reports
        ]
        indicator = stix2.Indicator(
            id=stable_id("indicator", sco.type, target.value),
            name=target.value,
            description=description,
            indicator_types=["malicious-activity"],
            pattern=_pattern(sco),
            pattern_type="stix",
            valid_from=created,
            confidence=confidence(target.score),
            external_references=references or None,
            **common,
        )
        infra_types = sorted(
            {ROLE_TO_INFRASTRUCTURE[r] for r in target.roles if r in ROLE_TO_INFRASTRUCTURE}
        )
        infrastructure = stix2.Infrastructure(
            id=stable_id("infrastructure", sco.type, target.value),
            name=target.value,
            infrastructure_types=infra_types or None,
            first_seen=target.first_seen,
            confidence=confidence(target.score),
            **common,
        )
        objects += [sco, indicator, infrastructure]
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
    for res in resolutions:
        domain = sco_of.get(("domain", res["domain"]))
        address = sco_of.get(("ip", res["address"]))
        if domain is None or address is None:
            continue
        first = res["first_seen"] or PRODUCER_CREATED
        last = max(first, res["last_seen"] or first)
        objects.append(
            stix2.Relationship(
                id=stable_id("relationship", "resolves-to", domain.id, address.id),
                relationship_type="resolves-to",
                source_ref=domain.id,
                target_ref=address.id,
                created_by_ref=producer.id,
                created=first,
                modified=last,
                start_time=first,
                stop_time=last if last > first else None,
            )
        )
    return sorted(objects, key=lambda o: str(o.id))


def build_bundle(graph: Graph, min_decision: str = "act") -> tuple[dict[str, Any], int]:
    """The bundle as a plain dict (and the number of targets in it)."""
    targets = read_targets(graph, min_decision)
    domains = [t.value for t in targets if t.kind == "domain"]
    addresses = [t.value for t in targets if t.kind == "ip"]
    resolutions = (
        graph.read(
            _RESOLUTIONS,
            {"domains": domains, "addresses": addresses},
            metadata={"query_id": "stix-export-resolutions"},
            values="python",
        )
        if domains and addresses
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
