"""Intake into the graph: parse files, turn records into writer rows, load them.

Parsing (``attribution.intake``) knows nothing of the graph; this module maps each record
kind to node and relationship rows and hands them to the one writer. A file's bad lines come
back as rejections while its good lines are written; a record counts as accepted only once
the write that carries it has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attribution.db import Graph
from attribution.identities import Identity, registrable_domain
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
from attribution.labels import entries_from_records, label_rows
from attribution.schema import LABEL_OF_KIND
from attribution.writer import GraphWriter, NodeRow, RelRow


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


class Rows:
    """Node and relationship rows collected for one load."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.nodes: list[NodeRow] = []
        self.rels: list[RelRow] = []

    def node(
        self,
        identity: Identity,
        props: dict[str, Any],
        source: str,
        first: datetime | None = None,
        last: datetime | None = None,
    ) -> None:
        first = first or self.now
        last = max(last or self.now, first)
        props = dict(props)
        if identity.kind == "domain":
            registrable = registrable_domain(str(identity.value))
            props.setdefault("registrable", registrable)
            props.setdefault("tld", str(identity.value).rsplit(".", 1)[-1])
            if registrable and registrable != identity.value:
                self.nodes.append(
                    NodeRow(
                        "Domain",
                        registrable,
                        {"registrable": registrable},
                        source,
                        first,
                        last,
                        self.now,
                    )
                )
                self.rels.append(
                    RelRow(
                        "SUBDOMAIN_OF",
                        identity.value,
                        registrable,
                        {},
                        source,
                        first,
                        last,
                        self.now,
                    )
                )
        elif identity.kind in ("ip", "cidr"):
            props.setdefault("version", 6 if ":" in str(identity.value) else 4)
        self.nodes.append(
            NodeRow(
                LABEL_OF_KIND[identity.kind], identity.value, props, source, first, last, self.now
            )
        )

    def rel(
        self,
        rel_type: str,
        start: object,
        end: object,
        props: dict[str, Any],
        source: str,
        first: datetime | None = None,
        last: datetime | None = None,
    ) -> None:
        first = first or self.now
        self.rels.append(
            RelRow(
                rel_type, start, end, props, source, first, max(last or self.now, first), self.now
            )
        )


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


def add_indicator(rows: Rows, record: IndicatorRecord) -> None:
    source = f"ingest:{record.source}"
    rows.node(record.identity, _indicator_props(record.tags, record.url), source, record.first_seen)


def add_incident(rows: Rows, record: IncidentReportRecord) -> None:
    source = f"incident:{record.source}"
    rows.nodes.append(
        NodeRow(
            "IncidentReport",
            record.report_id,
            {
                "sector": record.sector,
                "observed_at": record.observed_at,
                "reported_at": record.reported_at,
                "confirmed": record.confirmed,
            },
            source,
            record.observed_at,
            record.reported_at,
            rows.now,
        )
    )
    rows.nodes.append(
        NodeRow(
            "Operator",
            record.operator_name,
            {"sector": record.sector},
            source,
            record.observed_at,
            record.reported_at,
            rows.now,
        )
    )
    rows.rel(
        "SUBMITTED_BY",
        record.report_id,
        record.operator_name,
        {},
        source,
        record.observed_at,
        record.reported_at,
    )
    for item in record.indicators:
        rows.node(
            item.identity,
            _indicator_props((f"incident:{record.sector}",), None),
            source,
            item.first_seen,
            item.last_seen,
        )
        if item.identity.kind == "domain":
            rows.rel(
                "REPORTED_IN",
                item.identity.value,
                record.report_id,
                {"role": item.role},
                source,
                item.first_seen,
                item.last_seen,
            )
        elif item.identity.kind == "ip":
            rows.rel(
                "IP_REPORTED_IN",
                item.identity.value,
                record.report_id,
                {
                    "role": item.role,
                    "dst_port": item.dst_port,
                    "protocol": item.protocol,
                },
                source,
                item.first_seen,
                item.last_seen,
            )


def add_flow(rows: Rows, record: FlowRecord) -> None:
    source = f"flow:{record.source}"
    for end in (record.src, record.dst):
        rows.node(end, {}, source, record.first_seen, record.last_seen)
    rows.rel(
        "CONTACTED",
        record.src.value,
        record.dst.value,
        {
            "dst_port": record.dst_port if record.dst_port is not None else -1,
            "protocol": record.protocol,
            "packets": record.packets,
            "bytes": record.bytes,
            "flows": record.count,
        },
        source,
        record.first_seen,
        record.last_seen,
    )


def add_passive_dns(rows: Rows, record: PassiveDnsRecord) -> None:
    """A passive DNS aggregate: the sighting window becomes first/last seen of the fact."""
    source = f"passive-dns:{record.source}"
    first, last = record.time_first, record.time_last
    name = Identity("domain", record.rrname)
    rows.node(name, {}, source, first, last)
    for value in record.rdata:
        if record.rrtype in ("A", "AAAA"):
            rows.node(Identity("ip", value), {}, source, first, last)
            rows.rel(
                "RESOLVES_TO", record.rrname, value, {"rtype": record.rrtype}, source, first, last
            )
        elif record.rrtype in ("CNAME", "NS", "MX"):
            target = value.split()[-1] if record.rrtype == "MX" else value
            rows.node(Identity("domain", target), {}, source, first, last)
            rel = {"CNAME": "ALIAS_OF", "NS": "NAME_SERVER", "MX": "MAIL_SERVER"}[record.rrtype]
            rows.rel(rel, record.rrname, target, {}, source, first, last)


def _event(record: RdapRecord, action: str) -> datetime | None:
    return next((at for name, at in record.events if name == action), None)


def add_rdap(rows: Rows, record: RdapRecord) -> None:
    """A raw RDAP answer: networks, domains' registration facts, AS numbers."""
    source = f"rdap:{record.source}"
    registered = _event(record, "registration")
    changed = _event(record, "last changed")
    if record.object_class == "ip network" and record.handle:
        rows.nodes.append(
            NodeRow(
                "Network",
                record.handle,
                {
                    "name": record.name,
                    "cidrs": list(record.cidrs),
                    "country": record.country,
                    "registered": registered,
                    "updated": changed,
                },
                source,
                rows.now,
                rows.now,
                rows.now,
            )
        )
        for entity in record.entities:
            if "registrant" in entity.roles and entity.handle:
                rows.nodes.append(
                    NodeRow(
                        "Organization",
                        entity.handle,
                        {"name": entity.name},
                        source,
                        rows.now,
                        rows.now,
                        rows.now,
                    )
                )
                rows.rel("ALLOCATED_TO", record.handle, entity.handle, {}, source)
    elif record.object_class == "domain" and record.registration is not None:
        # observations_to_rows builds on this module's Rows; imported here to avoid the cycle
        # until the row builder has a module of its own.
        from attribution.observations_to_rows import registration_rows

        when = rows.now
        registration = replace(
            record.registration,
            provenance=replace(record.registration.provenance, source=source, retrieved_at=when),
        )
        mapped = registration_rows(Identity("domain", registration.domain), registration)
        rows.nodes.extend(mapped.nodes)
        rows.rels.extend(mapped.rels)
    elif record.object_class == "autnum" and record.asn_range is not None:
        rows.node(
            Identity("asn", record.asn_range[0]),
            {"name": record.name, "country": record.country},
            source,
        )


def add_label(rows: Rows, record: LabelRecord) -> None:
    """A feed or allowlist verdict: (LabelSource)-[:LABELS_*]->(target).

    The label rows are :func:`attribution.labels.label_rows`', as ``attribution label import``
    writes them. CIDR and AS verdicts label nothing (the classifier scores domains and
    addresses); their nodes keep the feed among their sources.
    """
    kind = "feed" if record.label == "malicious" else "allowlist"
    source_name = f"{kind}:{record.source}"
    rows.node(record.identity, {}, source_name, record.time)
    entries, _not_labelled = entries_from_records([record], record.source)
    nodes, rels = label_rows(entries, kind, source_name, source_name, record.time or rows.now)
    rows.nodes.extend(nodes)
    rows.rels.extend(rels)


MAPPERS: dict[type, Callable[[Rows, Any], None]] = {
    IndicatorRecord: add_indicator,
    IncidentReportRecord: add_incident,
    FlowRecord: add_flow,
    PassiveDnsRecord: add_passive_dns,
    RdapRecord: add_rdap,
    LabelRecord: add_label,
}


def register_mapper(record_type: type, mapper: Callable[[Rows, Any], None]) -> None:
    """Teach ingest how to write another record kind."""
    MAPPERS[record_type] = mapper


def rows_for(records: Iterable[object], now: datetime | None = None) -> Rows:
    rows = Rows(now or datetime.now(UTC))
    for record in records:
        MAPPERS[type(record)](rows, record)
    return rows


Parser = Callable[[bytes, str], IntakeResult[Any]]


def load_records(
    graph: Graph,
    records: Sequence[object],
    *,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write parsed records; returns rows written per label and relationship type."""
    rows = rows_for(records, now)
    stats = GraphWriter(graph).load(rows.nodes, rows.rels, progress=progress)
    return stats.by_kind


def ingest_paths(
    graph: Graph,
    paths: Sequence[Path],
    *,
    fmt: str | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> IngestSummary:
    """Parse and load each file; the bad lines of one file never stop its good lines."""
    from attribution.intake.detect import detect_format, read_path

    summary = IngestSummary()
    for path in paths:
        kind = fmt or detect_format(path)
        result = read_path(path, kind)
        written = load_records(graph, result.records)
        for key, value in written.items():
            summary.written[key] = summary.written.get(key, 0) + value
        summary.accepted += len(result.records)
        summary.rejected.extend(result.rejections)
        summary.files[str(path)] = {
            "format": kind,
            "accepted": len(result.records),
            "rejected": len(result.rejections),
        }
        if progress:
            progress(str(path), len(result.records))
    return summary
