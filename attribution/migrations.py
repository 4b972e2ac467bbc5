"""Changes to graphs written by earlier versions, idempotent, run by ``attribution schema migrate``.

``merge_split_registrars``
    Raw RDAP answers given to ``attribution ingest`` once keyed a registrar by its RDAP handle
    or lower-cased name, while enrichment keyed it by its normalised name
    (:func:`attribution.observations_to_rows.normalised_name`), so one registrar could be two
    nodes and the registrar features split. Both paths now share one mapping; this merges the
    nodes already split: each ``Registrar`` whose key is not its name's normalised form is
    merged into the node of that form, its ``REGISTERED_WITH`` relationships moved with their
    provenance combined (sources united, ``first_seen`` the earliest, ``last_seen`` and
    ``retrieved_at`` the latest, sightings added up), and the merged registrars' summaries
    recomputed. Running it again changes nothing.

``backfill_summaries``
    Graphs written before :mod:`attribution.summaries` existed lack the write-time summaries
    the query library reads (``Domain.asn_count``, ``IPAddress.name_count``, ...); this
    computes every one of them from the facts, in batches. Running it again recomputes the same
    values.

``requeue_finished_without_time``
    A claim finds stale finished nodes by a range seek on ``enriched_at``, which the worker
    sets whenever it finishes a node; a node marked done, partial or failed without it (by a
    write outside the worker) would never be found stale. This puts such nodes back to
    ``pending``: when their last enrichment ended is not known, so they are enriched again.
    Running it again changes nothing.

``mark_failing_enrichment``
    The failures review (``review-enrichment-failures``) reads the ``enrich_failing`` flag the
    worker's finish sets beside ``enrich_state`` and ``enrich_failures``. This sets it on nodes
    finished before the flag existed (``failed``, or a non-empty ``enrich_failures``) and
    removes it where neither holds (a write outside the worker). Run after
    ``requeue_finished_without_time``, which can move a ``failed`` node back to ``pending``.
    Running it again changes nothing.
"""

from __future__ import annotations

from typing import Any

from attribution import summaries
from attribution.db import Graph
from attribution.observations_to_rows import normalised_name
from attribution.worker import FAILING, each_target

__all__ = [
    "backfill_summaries",
    "mark_failing_enrichment",
    "merge_split_registrars",
    "requeue_finished_without_time",
]


def _union(a: str, b: str) -> str:
    return f"reduce(acc = coalesce({a}, []), s IN coalesce({b}, []) | CASE WHEN s IN acc THEN acc ELSE acc + s END)"


def _combine(new: str, old: str) -> str:
    """SET clauses that fold ``old``'s provenance into ``new``'s (both variables)."""
    return (
        f"SET {new}.source = {_union(f'{new}.source', f'{old}.source')},\n"
        f"    {new}.first_seen = CASE WHEN {new}.first_seen IS NULL OR {old}.first_seen < "
        f"{new}.first_seen THEN {old}.first_seen ELSE {new}.first_seen END,\n"
        f"    {new}.last_seen = CASE WHEN {new}.last_seen IS NULL OR {old}.last_seen > "
        f"{new}.last_seen THEN {old}.last_seen ELSE {new}.last_seen END,\n"
        f"    {new}.retrieved_at = CASE WHEN {new}.retrieved_at IS NULL OR {old}.retrieved_at > "
        f"{new}.retrieved_at THEN {old}.retrieved_at ELSE {new}.retrieved_at END,\n"
        f"    {new}.sightings = coalesce({new}.sightings, 0) + coalesce({old}.sightings, 0)\n"
    )


_MERGE_REGISTRARS = (
    "UNWIND $rows AS row\n"
    "MATCH (old:Registrar {key: row.old})\n"
    "MERGE (new:Registrar {key: row.new})\n"
    "ON CREATE SET new.name = old.name, new.iana_id = old.iana_id\n"
    + _combine("new", "old")
    + "WITH old, new\n"
    "CALL (old, new) {\n"
    "  MATCH (d:Domain)-[r:REGISTERED_WITH]->(old)\n"
    "  MERGE (d)-[n:REGISTERED_WITH]->(new)\n  " + _combine("n", "r") + "  DELETE r\n"
    "}\n"
    "DETACH DELETE old"
)


def merge_split_registrars(graph: Graph) -> list[dict[str, Any]]:
    """Merge every registrar keyed otherwise than by its normalised name; the merges made."""
    found = graph.read(
        "MATCH (r:Registrar) WHERE r.name IS NOT NULL RETURN r.key AS key, r.name AS name",
        metadata={"query": "migrate.registrars"},
    )
    rows = [
        {"old": row["key"], "new": normalised_name(row["name"])}
        for row in found
        if normalised_name(row["name"]) and normalised_name(row["name"]) != row["key"]
    ]
    rows.sort(key=lambda row: (row["new"], row["old"]))
    if rows:
        graph.run_write(_MERGE_REGISTRARS, {"rows": rows})
        # Deleting the old nodes bypassed the writer, so their merged counters are refreshed.
        summaries.refresh(graph, "Registrar", {row["new"] for row in rows})
    return rows


def backfill_summaries(graph: Graph, progress: summaries.Progress | None = None) -> dict[str, int]:
    """Compute every write-time summary from the facts; nodes done per label."""
    return summaries.rebuild(graph, progress=progress)


_UNTIMED = (
    "MATCH (n:LABEL) WHERE n.enrich_state IN ['done', 'partial', 'failed']"
    " AND n.enriched_at IS NULL RETURN n"
)
_REQUEUE = f"""
CALL () {{
{each_target(_UNTIMED)}
}}
SET n.enrich_state = 'pending'
RETURN count(n) AS requeued
"""


def requeue_finished_without_time(graph: Graph) -> int:
    """Put finished nodes that lack ``enriched_at`` back in the queue; how many."""
    rows = graph.run_write(_REQUEUE, {})
    return int(rows[0]["requeued"]) if rows else 0


_MARK_FAILING = (
    f"MATCH (n:LABEL) WHERE {FAILING} AND n.enrich_failing IS NULL RETURN n"
    "\n  UNION\n"
    f"  MATCH (n:LABEL) WHERE n.enrich_failing IS NOT NULL AND NOT coalesce({FAILING}, false)"
    " RETURN n"
)
_MARK = f"""
CALL () {{
{each_target(_MARK_FAILING)}
}}
SET n.enrich_failing = CASE WHEN {FAILING} THEN true END
RETURN count(n) AS changed
"""


def mark_failing_enrichment(graph: Graph) -> int:
    """Make ``enrich_failing`` agree with each node's state and failures; how many changed."""
    rows = graph.run_write(_MARK, {})
    return int(rows[0]["changed"]) if rows else 0
