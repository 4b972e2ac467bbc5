"""Intake into the graph: parse files, turn records into writer rows, load them.

Parsing (``attribution.intake``) knows nothing of the graph; this module maps each record
kind to node and relationship rows and hands them to the one writer. A file's bad lines come
back as rejections while its good lines are written; a record counts as accepted only once
the write that carries it has committed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attribution.db import Graph
from attribution.identities import Identity
from attribution.intake.records import (
    FlowRecord,
    IncidentReportRecord,
    IndicatorRecord,
    IntakeResult,
    LabelRecord,
    PassiveDnsRecord,
    RdapRecord,
    Rejection,
)
from attribution.labels import audit_label_rels, entries_from_records, label_rows
from attribution.observations_to_rows import registration_rows
from attribution.rows import Rows, Seen
from attribution.schema import DNS_RELATIONSHIP, NODE_BY_LABEL, REL_BY_TYPE
from attribution.writer import GraphWriter, ValueOutOfRange


@dataclass(frozen=True)
class Submitter:
    """Who handed in the files, for the audit entries of the labels among them: in service
    mode, the authenticated principal, the service's audit log and the name the file was
    submitted under (not the path it was saved at)."""

    actor: str
    role: str
    log: Path
    name: str


@dataclass
class IngestSummary:
    """What an ingest run accepted and rejected, per file and in total."""

    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": [
                {
                    "file": r.source_name,
                    "line": r.line,
                    "field": r.field,
                    "value": r.value,
                    "reason": r.reason,
                }
                for r in self.rejected
            ],
            "files": self.files,
            "written": self.written,
        }


def _indicator_props(tags: Sequence[str], url: str | None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "indicator": True,
        "enrich_state": "pending",
        "enrich_depth": 0,
        "tags": list(tags),
    }
    if url:
        props["urls"] = [url]
    return props


def add_indicator(rows: Rows, record: IndicatorRecord, now: datetime) -> None:
    source = f"ingest:{record.source}"
    props = _indicator_props(record.tags, record.url)
    rows.node(record.identity, props, source, Seen.since(record.first_seen, now))


def _digest(content: object) -> str:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def incident_digest(record: IncidentReportRecord) -> str:
    """SHA-256 of a report's normalised content (not of the file or line it came from)."""
    indicators = [
        [
            item.identity.kind,
            item.identity.value,
            item.indicator_type,
            item.role,
            item.first_seen.isoformat(),
            item.last_seen.isoformat(),
            item.dst_port,
            item.protocol,
        ]
        for item in record.indicators
    ]
    return _digest(
        [
            record.report_id,
            record.operator_name,
            record.sector,
            record.observed_at.isoformat(),
            record.reported_at.isoformat(),
            record.confirmed,
            indicators,
        ]
    )


def flow_digest(record: FlowRecord) -> str:
    """SHA-256 of a flow record's normalised fields: the key that stops summing it twice."""
    return _digest(
        [
            record.src.value,
            record.dst.value,
            record.dst_port,
            record.protocol,
            record.first_seen.isoformat(),
            record.last_seen.isoformat(),
            record.packets,
            record.bytes,
            record.count,
        ]
    )


def add_incident(rows: Rows, record: IncidentReportRecord, now: datetime) -> None:
    """A report, its operator, and every indicator it names with the role it gives it."""
    source = f"incident:{record.source}"
    seen = Seen(record.observed_at, record.reported_at, now)
    report = {
        "sector": record.sector,
        "observed_at": record.observed_at,
        "reported_at": record.reported_at,
        "confirmed": record.confirmed,
        "digest": incident_digest(record),
    }
    rows.entity("IncidentReport", record.report_id, report, source, seen)
    rows.entity("Operator", record.operator_name, {"sector": record.sector}, source, seen)
    rows.rel("SUBMITTED_BY", record.report_id, record.operator_name, {}, source, seen)
    tags = _indicator_props((f"incident:{record.sector}",), None)
    for item in record.indicators:
        item_seen = Seen(item.first_seen, item.last_seen, now)
        rows.node(item.identity, tags, source, item_seen)
        value = item.identity.value
        if item.identity.kind == "domain":
            props: dict[str, Any] = {"role": item.role}
            rows.rel("REPORTED_IN", value, record.report_id, props, source, item_seen)
        elif item.identity.kind == "ip":
            props = {"role": item.role, "dst_port": item.dst_port, "protocol": item.protocol}
            rows.rel("IP_REPORTED_IN", value, record.report_id, props, source, item_seen)


def add_flow(rows: Rows, record: FlowRecord, now: datetime) -> None:
    source = f"flow:{record.source}"
    seen = Seen(record.first_seen, record.last_seen, now)
    for end in (record.src, record.dst):
        rows.node(end, {}, source, seen)
    props = {
        "dst_port": record.dst_port if record.dst_port is not None else -1,
        "protocol": record.protocol,
        "packets": record.packets,
        "bytes": record.bytes,
        "flows": record.count,
        "records": [flow_digest(record)],
    }
    rows.rel("CONTACTED", record.src.value, record.dst.value, props, source, seen)


def add_passive_dns(rows: Rows, record: PassiveDnsRecord, now: datetime) -> None:
    """A passive DNS aggregate: the sighting window becomes first/last seen of the fact.

    Each value whose record is owned by a name maps through the one DNS map, as the worker's
    answers do; a PTR (owned by an address's reverse name) or DNAME sighting keeps the name
    alone.
    """
    source = f"passive-dns:{record.source}"
    seen = Seen(record.time_first, record.time_last, now)
    rel_type = DNS_RELATIONSHIP.get(record.rrtype)
    if rel_type is None or REL_BY_TYPE[rel_type].start != "Domain":
        rows.node(Identity("domain", record.rrname), {}, source, seen)
        return
    for value in record.rdata:
        rows.dns_record(record.rrtype, record.rrname, value, {}, source, seen)


def _event(record: RdapRecord, action: str) -> datetime | None:
    return next((at for name, at in record.events if name == action), None)


def _rdap_network(rows: Rows, record: RdapRecord, source: str, seen: Seen) -> None:
    """An RDAP ip network: the allocation and the organisation it is registered to."""
    props = {
        "name": record.name,
        "cidrs": list(record.cidrs),
        "country": record.country,
        "registered": _event(record, "registration"),
        "updated": _event(record, "last changed"),
    }
    rows.entity("Network", record.handle, props, source, seen)
    for entity in record.entities:
        if "registrant" in entity.roles and entity.handle:
            rows.entity("Organization", entity.handle, {"name": entity.name}, source, seen)
            rows.rel("ALLOCATED_TO", record.handle, entity.handle, {}, source, seen)


def add_rdap(rows: Rows, record: RdapRecord, now: datetime) -> None:
    """A raw RDAP answer: networks, domains' registration facts, AS numbers.

    A domain's registration was read by enrichment's own transform and is mapped by
    :func:`~attribution.observations_to_rows.registration_rows`, as enrichment's answers are.
    """
    source = f"rdap:{record.source}"
    seen = Seen.at(now)
    if record.object_class == "ip network" and record.handle:
        _rdap_network(rows, record, source, seen)
    elif record.object_class == "domain" and record.registration is not None:
        registration = replace(
            record.registration,
            provenance=replace(record.registration.provenance, source=source, retrieved_at=now),
        )
        rows.extend(registration_rows(Identity("domain", registration.domain), registration))
    elif record.object_class == "autnum" and record.asn_range is not None:
        props = {"name": record.name, "country": record.country}
        rows.node(Identity("asn", record.asn_range[0]), props, source, seen)


def add_label(rows: Rows, record: LabelRecord, now: datetime) -> None:
    """A feed or allowlist verdict: (LabelSource)-[:LABELS_*]->(target).

    The label rows are :func:`attribution.labels.label_rows`', as ``attribution label import``
    writes them. CIDR and AS verdicts label nothing (the classifier scores domains and
    addresses); their nodes keep the feed among their sources.
    """
    kind = "feed" if record.label == "malicious" else "allowlist"
    source_name = f"{kind}:{record.source}"
    rows.node(record.identity, {}, source_name, Seen.since(record.time, now))
    entries, _not_labelled = entries_from_records([record], record.source)
    nodes, rels = label_rows(entries, kind, source_name, source_name, record.time or now)
    rows.nodes.extend(nodes)
    rows.rels.extend(rels)


MAPPERS: dict[type, Callable[[Rows, Any, datetime], None]] = {
    IndicatorRecord: add_indicator,
    IncidentReportRecord: add_incident,
    FlowRecord: add_flow,
    PassiveDnsRecord: add_passive_dns,
    RdapRecord: add_rdap,
    LabelRecord: add_label,
}
"""The one mapper of each record kind; ``now`` is the load's retrieval time."""


def rows_for(records: Iterable[object], now: datetime | None = None) -> Rows:
    """Writer rows for parsed records, retrieved ``now`` (default: the current time)."""
    when = now or datetime.now(UTC)
    rows = Rows()
    for record in records:
        MAPPERS[type(record)](rows, record, when)
    return rows


Parser = Callable[[bytes, str], IntakeResult[Any]]


def load_records(
    graph: Graph,
    records: Sequence[object],
    *,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    audit_subject: str | None = None,
    submitter: Submitter | None = None,
) -> dict[str, int]:
    """Write parsed records; returns rows written per label and relationship type.

    With ``audit_subject`` (the file the records came from), the labels among them (trails,
    allowlists, label CSVs) are appended to the audit log first, as ``label.ingest``; when
    that entry cannot be written nothing is (:class:`attribution.audit.AuditError`). A
    ``submitter`` names the actor, log and subject of that entry instead.
    """
    rows = rows_for(records, now)
    if submitter is not None:
        audit_label_rels(
            rows.rels,
            "label.ingest",
            submitter.name,
            by=submitter.actor,
            details={"role": submitter.role},
            log=submitter.log,
        )
    elif audit_subject is not None:
        audit_label_rels(rows.rels, "label.ingest", audit_subject)
    stats = GraphWriter(graph).load(rows.nodes, rows.rels, progress=progress)
    return stats.by_kind


def refuse_changed_reports(graph: Graph, result: IntakeResult[Any]) -> IntakeResult[Any]:
    """``result`` without the incident reports whose report_id the graph holds with other
    content; each becomes a rejection naming the file, line and report id.

    A report given again unchanged stays (its load changes nothing but the sighting times).
    Refused rather than kept as a second version: approvals and reports cite a report by its
    id, so one id must name one content.
    """
    reports = [r for r in result.records if isinstance(r, IncidentReportRecord)]
    if not reports:
        return result
    spec = NODE_BY_LABEL["IncidentReport"]
    stored = {
        row["id"]: row["digest"]
        for row in graph.read(
            f"MATCH (r:{spec.label}) WHERE r.{spec.key} IN $ids "
            f"RETURN r.{spec.key} AS id, r.digest AS digest",
            {"ids": [r.report_id for r in reports]},
        )
    }
    kept: list[Any] = []
    rejections = list(result.rejections)
    for record in result.records:
        digest = stored.get(getattr(record, "report_id", None))
        if isinstance(record, IncidentReportRecord) and digest not in (
            None,
            incident_digest(record),
        ):
            reason = (
                f"report_id {record.report_id} is already loaded with other content; "
                "a corrected report needs its own report_id"
            )
            rejections.append(
                Rejection.of(record.source, record.line, "report_id", record.report_id, reason)
            )
        else:
            kept.append(record)
    return IntakeResult(kept, rejections)


def ingest_paths(
    graph: Graph,
    paths: Sequence[Path],
    *,
    fmt: str | None = None,
    progress: Callable[[str, int], None] | None = None,
    submitter: Submitter | None = None,
) -> IngestSummary:
    """Parse and load each file; the bad lines of one file never stop its good lines.

    A file refused whole (a directory, unreadable, too large, of unknown format) or a record
    the writer cannot hold is a rejection, and the next file is still read.
    """
    from attribution.intake.detect import read_chunks

    summary = IngestSummary()
    for path in paths:
        kind, accepted, rejected = fmt, 0, 0
        # Line formats come in chunks of lines, so memory holds one chunk's rows at a time.
        for found, chunk in read_chunks(path, fmt):
            kind = found
            result = _load_chunk(graph, path, chunk, summary, submitter)
            accepted += len(result.records)
            rejected += len(result.rejections)
        summary.files[str(path)] = {"format": kind, "accepted": accepted, "rejected": rejected}
        if progress:
            progress(str(path), accepted)
    return summary


def _load_chunk(
    graph: Graph,
    path: Path,
    result: IntakeResult[Any],
    summary: IngestSummary,
    submitter: Submitter | None = None,
) -> IntakeResult[Any]:
    """Write one chunk's records and add them to ``summary``; returns what was kept."""
    result = refuse_changed_reports(graph, result)
    try:
        written = load_records(graph, result.records, audit_subject=str(path), submitter=submitter)
    except ValueOutOfRange as exc:
        # Checked before anything of the chunk is sent: nothing of it was written.
        refusal = Rejection.of(str(path), 0, None, "", str(exc))
        result = IntakeResult(rejections=[*result.rejections, refusal])
        written = {}
    for key, value in written.items():
        summary.written[key] = summary.written.get(key, 0) + value
    summary.accepted += len(result.records)
    summary.rejected.extend(result.rejections)
    return result
