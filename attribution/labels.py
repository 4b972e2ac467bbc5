"""Labels in the graph: who says a domain or address is malicious or benign, and which word counts.

A label is an observation like any other fact: ``(:LabelSource {name, kind})
-[:LABELS_DOMAIN|LABELS_IP {verdict, family, by, reason}]->(target)`` written through
:class:`~attribution.writer.GraphWriter`, with provenance (source, first_seen, last_seen,
retrieved_at). Kinds of label source:

``feed``
    Malicious lists (one ``LabelSource`` per feed name, ``feed:<name>``); the family or
    category the feed gives goes to ``family``. Feeds are the weakest word: they are partial
    and sometimes wrong.
``allowlist``
    Benign lists (``allowlist:<file name>``).
``incident``
    A domain or address named in a *confirmed* incident report (``REPORTED_IN`` /
    ``IP_REPORTED_IN`` to an ``IncidentReport`` with ``confirmed = true``) counts as malicious
    evidence from source ``incident``. It is read from those relationships directly rather
    than copied, so it follows the reports as they are confirmed.
``analyst``
    An analyst's verdict (``analyst:<user>``) with ``by`` and ``reason``.

Every label change is appended to the audit log (:mod:`attribution.audit`) *before* it is
written: an analyst's verdict (``label.set``), a feed or allowlist file (``label.import``),
and labels arriving with other records (``label.ingest``, :func:`audit_label_rels`). When the
entry cannot be written, :class:`attribution.audit.AuditError` is raised and nothing is written.

Conflicts resolve by precedence, strongest first: analyst > incident > allowlist > feed.
Within one kind the most recent observation (``last_seen``) wins; on equal times the source
name decides, so the result never depends on the order the graph returns rows in.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import rfc8785

from attribution import audit, identities
from attribution.db import Graph
from attribution.identities import InvalidIdentity
from attribution.intake.feeds import parse_label_list
from attribution.intake.records import LabelRecord, Rejection
from attribution.rows import Rows, Seen
from attribution.schema import TARGET_BY_LABEL, TARGETS
from attribution.settings import load_settings
from attribution.writer import GraphWriter, NodeRow, RelRow

__all__ = [
    "KINDS",
    "PRECEDENCE",
    "LabelEntry",
    "LabelImport",
    "LabelObservation",
    "NodeKey",
    "ResolvedLabel",
    "TruthRow",
    "audit_label_rels",
    "entries_from_records",
    "import_label_file",
    "label_rows",
    "parse_target",
    "read_label_observations",
    "read_labels",
    "read_truth",
    "resolve_labels",
    "set_analyst_label",
]

NodeKey = tuple[str, str]
"""A scored node: (``"Domain"``, name) or (``"IPAddress"``, address)."""

KINDS = ("feed", "allowlist", "incident", "analyst")
PRECEDENCE: dict[str, int] = {"feed": 0, "allowlist": 1, "incident": 2, "analyst": 3}
VERDICTS = ("malicious", "benign")


@dataclass(frozen=True)
class LabelObservation:
    """One source's verdict on one node, as read from the graph."""

    target: NodeKey
    verdict: str
    kind: str
    source: str
    at: int
    """Epoch milliseconds of the observation (``last_seen``)."""
    family: str | None = None
    by: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ResolvedLabel:
    """The verdict that counts for a node after precedence, and the observation behind it."""

    verdict: str
    kind: str
    source: str
    at: int
    family: str | None = None

    @property
    def malicious(self) -> bool:
        return self.verdict == "malicious"


def _rank(obs: LabelObservation) -> tuple[int, int, str]:
    return (PRECEDENCE[obs.kind], obs.at, obs.source)


def resolve_labels(observations: Iterable[LabelObservation]) -> dict[NodeKey, ResolvedLabel]:
    """One verdict per node: highest kind in :data:`PRECEDENCE`, then the latest, then by name."""
    best: dict[NodeKey, LabelObservation] = {}
    for obs in observations:
        current = best.get(obs.target)
        if current is None or _rank(obs) > _rank(current):
            best[obs.target] = obs
    return {
        key: ResolvedLabel(o.verdict, o.kind, o.source, o.at, o.family)
        for key, o in sorted(best.items())
    }


_READ_LABELS = """
MATCH (s:LabelSource)-[r:LABELS_DOMAIN]->(d:Domain)
RETURN 'Domain' AS label, d.name AS key, r.verdict AS verdict, s.kind AS kind, s.name AS source,
       r.last_seen.epochMillis AS at, r.family AS family, r.by AS by, r.reason AS reason
UNION ALL
MATCH (s:LabelSource)-[r:LABELS_IP]->(i:IPAddress)
RETURN 'IPAddress' AS label, i.address AS key, r.verdict AS verdict, s.kind AS kind,
       s.name AS source, r.last_seen.epochMillis AS at, r.family AS family, r.by AS by,
       r.reason AS reason
UNION ALL
MATCH (d:Domain)-[r:REPORTED_IN]->(rep:IncidentReport {confirmed: true})
RETURN 'Domain' AS label, d.name AS key, 'malicious' AS verdict, 'incident' AS kind,
       'incident' AS source,
       coalesce(rep.reported_at, r.last_seen).epochMillis AS at, r.role AS family,
       null AS by, rep.report_id AS reason
UNION ALL
MATCH (i:IPAddress)-[r:IP_REPORTED_IN]->(rep:IncidentReport {confirmed: true})
RETURN 'IPAddress' AS label, i.address AS key, 'malicious' AS verdict, 'incident' AS kind,
       'incident' AS source,
       coalesce(rep.reported_at, r.last_seen).epochMillis AS at, r.role AS family,
       null AS by, rep.report_id AS reason
"""


def read_label_observations(graph: Graph) -> list[LabelObservation]:
    """Every label observation in the graph, incident reports included (read-only)."""
    rows = graph.read(_READ_LABELS, metadata={"query": "labels.read"})
    out = []
    for row in rows:
        if row["verdict"] not in VERDICTS or row["kind"] not in PRECEDENCE:
            continue  # a label written by something else, in a vocabulary we do not know
        out.append(
            LabelObservation(
                target=(row["label"], row["key"]),
                verdict=row["verdict"],
                kind=row["kind"],
                source=row["source"],
                at=int(row["at"] or 0),
                family=row["family"],
                by=row["by"],
                reason=row["reason"],
            )
        )
    return out


def read_labels(graph: Graph) -> dict[NodeKey, ResolvedLabel]:
    """The resolved verdict of every labelled node."""
    return resolve_labels(read_label_observations(graph))


# --------------------------------------------------------------------------- label files


@dataclass(frozen=True)
class LabelEntry:
    """One line of a label file: the target, its verdict, and the family/feed it names."""

    target: NodeKey
    verdict: str
    family: str | None = None
    feed: str | None = None
    line: int = 0


@dataclass
class LabelImport:
    """What an import did: entries written per source and lines refused, with reasons."""

    path: str
    kind: str
    written: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "written": self.written,
            "sources": dict(sorted(self.sources.items())),
            "rejected": list(self.rejected),
        }


def parse_target(value: str) -> NodeKey:
    identity = identities.parse_target(value, "labelled")
    return (TARGETS[identity.kind].label, str(identity.value))


def entries_from_records(
    records: Iterable[LabelRecord], file_source: str
) -> tuple[list[LabelEntry], list[Rejection]]:
    """Label entries for the domain and address records, and rejections for the others.

    ``file_source`` is the name the records carry when no line named its own feed; an entry
    keeps ``feed`` only when its line did (a label CSV's ``source`` column).
    """
    entries: list[LabelEntry] = []
    refused: list[Rejection] = []
    for record in records:
        target = TARGETS.get(record.identity.kind)
        if target is None:
            reason = f"a {record.identity.kind} cannot be labelled; give a domain or address"
            refused.append(
                Rejection.of(file_source, record.line, "value", record.identity.value, reason)
            )
            continue
        entries.append(
            LabelEntry(
                (target.label, str(record.identity.value)),
                record.label,
                record.family or record.category,
                record.source if record.source != file_source else None,
                record.line,
            )
        )
    return entries, refused


def label_rows(
    entries: Iterable[LabelEntry],
    kind: str,
    default_source: str,
    provenance: str,
    at: datetime,
    *,
    by: str | None = None,
    reason: str | None = None,
) -> tuple[list[NodeRow], list[RelRow]]:
    """Writer rows for label entries: one ``LabelSource`` per source name and one label each.

    The source name is ``<kind>:<entry's feed>`` when the line names one, else
    ``default_source``.
    """
    rows = Rows()
    seen = Seen.at(at)
    sources: set[str] = set()
    for entry in entries:
        source = f"{kind}:{entry.feed}" if entry.feed else default_source
        if source not in sources:
            sources.add(source)
            rows.entity("LabelSource", source, {"kind": kind}, provenance, seen)
        label, key = entry.target
        props: dict[str, Any] = {"verdict": entry.verdict, "family": entry.family}
        if by is not None:
            props["by"] = by
        if reason is not None:
            props["reason"] = reason
        rows.rel(TARGET_BY_LABEL[label].labelled_by, source, key, props, provenance, seen)
    return rows.nodes, rows.rels


def import_label_file(
    graph: Graph,
    path: Path,
    kind: str,
    *,
    source: str | None = None,
    at: datetime | None = None,
    by: str | None = None,
) -> LabelImport:
    """Write a feed (malicious) or allowlist (benign) file as labels; good lines survive bad ones.

    The file is read by :func:`attribution.intake.feeds.parse_label_list` (a label CSV, a
    trail file, or an allowlist), the same parser ``attribution ingest`` uses. ``source``
    names the label source (default ``<kind>:<file name>``; a CSV line's own ``source`` cell
    wins); ``at`` is the observation time (default now); ``by`` who imports it (default
    :meth:`~attribution.settings.Settings.acting_user`), named in the ``label.import`` audit
    entry written before the labels.
    """
    if kind not in ("feed", "allowlist"):
        raise ValueError(f"label files are feeds or allowlists, not {kind!r}")
    name = Path(path).name
    parsed = parse_label_list(
        Path(path).read_bytes(), name, "malicious" if kind == "feed" else "benign"
    )
    entries, refused = entries_from_records(parsed.records, name)
    rejected = [
        f"line {r.line}: {r.field + ': ' if r.field else ''}{r.reason}"
        for r in sorted(parsed.rejections + refused, key=lambda r: r.line)
    ]
    when = at or datetime.now(UTC)
    default_source = source or f"{kind}:{Path(path).name}"
    nodes, rels = label_rows(entries, kind, default_source, f"label:{Path(path).name}", when)
    summary = LabelImport(str(path), kind, written=len(rels), rejected=rejected)
    for rel in rels:
        summary.sources[rel.start] = summary.sources.get(rel.start, 0) + 1
    if rels:
        audit_label_rels(
            rels,
            "label.import",
            str(path),
            by=by,
            details={"kind": kind, "rejected": len(rejected)},
        )
    GraphWriter(graph).load(nodes=nodes, rels=rels)
    return summary


_LABEL_TYPES = frozenset(target.labelled_by for target in TARGETS.values())
_LISTED_TARGETS = 50
"""Labels an audit entry names one by one; beyond that, their count and digest stand for them."""


def audit_label_rels(
    rels: Sequence[RelRow],
    action: str,
    subject: str,
    *,
    by: str | None = None,
    details: dict[str, Any] | None = None,
    log: Path | None = None,
) -> int:
    """Append one audit entry for the label relationships among ``rels``, before they are
    written (to ``log``, default the settings' audit log); returns how many there were (no
    entry when none).

    The entry names the sources, the count, the SHA-256 of the labels' canonical JSON
    (source, target, verdict, family of each) and the targets themselves when they are few.
    ``by`` defaults to the acting user. Raises :class:`attribution.audit.AuditError` when the
    entry cannot be written: the caller must then not write the labels.
    """
    labels = sorted(
        [rel.start, rel.end, rel.props.get("verdict"), rel.props.get("family")]
        for rel in rels
        if rel.type in _LABEL_TYPES
    )
    if not labels:
        return 0
    sources: dict[str, int] = {}
    for label in labels:
        sources[label[0]] = sources.get(label[0], 0) + 1
    record: dict[str, Any] = {
        **(details or {}),
        "labels": len(labels),
        "sources": sources,
        "labels_sha256": hashlib.sha256(rfc8785.dumps(labels)).hexdigest(),
    }
    if len(labels) <= _LISTED_TARGETS:
        record["targets"] = [{"target": t, "verdict": v, "source": s} for s, t, v, _ in labels]
    audit.append(by or load_settings().acting_user(), action, subject, record, path=log)
    return len(labels)


def set_analyst_label(
    graph: Graph,
    target: str,
    verdict: str,
    *,
    by: str,
    reason: str,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Record an analyst's verdict on a domain or address, audited before it is written.

    Returns what was written: the target, verdict, source, and the resolved verdict before
    and after (precedence may still let an older analyst verdict by someone else stand if it
    is newer, but a new verdict is always the newest). Raises
    :class:`attribution.audit.AuditError`, writing nothing, when the audit entry cannot be
    written.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be malicious or benign, not {verdict!r}")
    if not by.strip():
        raise ValueError("an analyst verdict needs the analyst's name (--by)")
    if not reason.strip():
        raise ValueError("an analyst verdict needs a reason (--reason)")
    node = parse_target(target)
    observations = [o for o in read_label_observations(graph) if o.target == node]
    when = at or datetime.now(UTC)
    source = f"analyst:{by}"
    millis = (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    new = LabelObservation(node, verdict, "analyst", source, millis, by=by, reason=reason)
    before = resolve_labels(observations).get(node)
    # The new verdict replaces this analyst's earlier one (one label per source and target).
    after = resolve_labels([*(o for o in observations if o.source != source), new]).get(node)
    record: dict[str, Any] = {
        "target": node[1],
        "label": node[0],
        "verdict": verdict,
        "source": source,
        "reason": reason,
        "previous": before.verdict if before else None,
        "previous_source": before.source if before else None,
        "resolved": after.verdict if after else None,
    }
    audit.append(by, "label.set", node[1], dict(record))
    nodes, rels = label_rows(
        [LabelEntry(node, verdict)], "analyst", source, "analyst", when, by=by, reason=reason
    )
    GraphWriter(graph).load(nodes=nodes, rels=rels)
    record["audited"] = True
    return record


def read_labels_for(graph: Graph, targets: Iterable[NodeKey]) -> dict[NodeKey, ResolvedLabel]:
    """Resolved verdicts of a few nodes."""
    wanted = set(targets)
    return resolve_labels(o for o in read_label_observations(graph) if o.target in wanted)


# --------------------------------------------------------------------------- ground truth


@dataclass(frozen=True)
class TruthRow:
    """A ground-truth row of an evaluation world (``labels/truth.csv``)."""

    malicious: bool
    category: str
    family: str | None


def read_truth(path: Path) -> dict[NodeKey, TruthRow]:
    """Read ``value,kind,label,category,family`` rows; evaluation only, never written."""
    out: dict[NodeKey, TruthRow] = {}
    with Path(path).open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            try:
                target = parse_target(row["value"])
            except (InvalidIdentity, KeyError, TypeError) as exc:
                raise ValueError(f"{path} line {number}: {exc}") from exc
            label = (row.get("label") or "").strip()
            if label not in VERDICTS:
                raise ValueError(f"{path} line {number}: label must be malicious or benign")
            out[target] = TruthRow(
                label == "malicious", (row.get("category") or "").strip(), row.get("family") or None
            )
    return out
