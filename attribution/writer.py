"""The writer: schema declarations plus rows become batched ``UNWIND $rows ... MERGE`` writes.

Every row carries provenance (source, first and last seen, retrieval time). Combining a row
with what the graph already holds follows fixed rules, so loading is idempotent apart from
time moving forward:

* ``first_seen`` only moves back, ``last_seen`` and ``retrieved_at`` only move forward;
* ``sightings`` counts loaded observations; ``source`` is the union of sources;
* a property declared ``merge="min"`` keeps the smallest value, ``merge="sum"`` adds up,
  ``merge="union"`` collects list members, ``merge="keep"`` never overwrites a stored value;
* ``merge="sum_once"`` adds up once per record: the row names its records (digests) in the
  ``records`` property (``merge="union"``, declared after the sums), and a row whose records
  are all stored already adds nothing, so loading the same file again sums nothing twice;
* other properties take the value of the newest observation (an older observation loaded
  late does not overwrite newer values);
* nothing is ever removed because an observation lacks it (``None`` values are dropped).

An integer outside signed 64 bits raises :class:`ValueOutOfRange`, also before anything of
the load is written (Neo4j would refuse it mid-write, after other batches had committed).

Only what the schema declares reaches the graph: a row with a value for a property its label
or relationship type does not declare raises :class:`UndeclaredProperty`, before anything of
the load is written.

Rows are merged in Python first (one row per key per batch), sorted by key so that concurrent
writers lock nodes in the same order, and sent in managed transactions through
:class:`attribution.db.Graph`, whose driver holds the one retry policy. A node or relationship
the graph does not hold yet takes its merged row as it is (``ON CREATE SET``); the rules above
run on the server only against what it holds (``ON MATCH SET``). ``docs/performance-ingest.md``
has the measurements behind these choices.
"""

from __future__ import annotations

import gc
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from neo4j import ManagedTransaction

from attribution import summaries
from attribution.db import Graph
from attribution.schema import NODE_BY_LABEL, REL_BY_TYPE, NodeSpec, Prop, RelSpec

DEFAULT_BATCH = 5000
# Concurrent write transactions per statement: on a two-core server the second stream lets
# the server work while the client packs the next batch.
DEFAULT_STREAMS = 2


@dataclass(frozen=True)
class NodeRow:
    """One observation of a node."""

    label: str
    key: Any
    props: dict[str, Any]
    source: str
    first_seen: datetime
    last_seen: datetime
    retrieved_at: datetime


@dataclass(frozen=True)
class RelRow:
    """One observation of a relationship between two nodes given by their keys."""

    type: str
    start: Any
    end: Any
    props: dict[str, Any]
    source: str
    first_seen: datetime
    last_seen: datetime
    retrieved_at: datetime


@dataclass
class WriteStats:
    """What a load did: rows sent (after in-batch merging) and time spent."""

    node_rows: int = 0
    rel_rows: int = 0
    batches: int = 0
    seconds: float = 0.0
    summaries_seconds: float = 0.0
    """Of ``seconds``, those spent refreshing the write-time summaries the load changed."""
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, rows: int) -> None:
        self.by_kind[kind] = self.by_kind.get(kind, 0) + rows


def _combine(prop: Prop, target: str, value: str) -> str:
    """Cypher expression for a property that does not simply take the newest value."""
    if prop.merge == "min":
        return (
            f"CASE WHEN {value} IS NULL THEN {target} WHEN {target} IS NULL OR {value} < {target} "
            f"THEN {value} ELSE {target} END"
        )
    if prop.merge == "sum":
        return f"CASE WHEN {value} IS NULL THEN {target} ELSE coalesce({target}, 0) + {value} END"
    if prop.merge == "sum_once":
        var = target.split(".", 1)[0]
        loaded = (
            "size(coalesce(row.agg.records, [])) > 0 AND "
            f"all(d IN row.agg.records WHERE d IN coalesce({var}.records, []))"
        )
        return (
            f"CASE WHEN {value} IS NULL OR ({loaded}) THEN {target} "
            f"ELSE coalesce({target}, 0) + {value} END"
        )
    if prop.merge == "keep":
        return f"coalesce({target}, {value})"
    if prop.merge == "union":
        return (
            f"CASE WHEN {value} IS NULL THEN {target} "
            f"ELSE coalesce({target}, []) + [x IN {value} WHERE NOT x IN coalesce({target}, [])] END"
        )
    raise ValueError(f"unknown merge rule {prop.merge!r} for {prop.name}")


# Times travel as epoch milliseconds and become DATETIME on the server: packing driver
# DateTime values costs the client about twenty times more per row than the conversion.
_TIMES = (
    "WITH row, datetime.fromepochmillis(row.first) AS first, "
    "datetime.fromepochmillis(row.last) AS last, "
    "datetime.fromepochmillis(row.retrieved) AS retrieved\n"
)


def _created_set(var: str) -> str:
    """``ON CREATE SET``: a new node or relationship takes the prepared row as it is.

    On an entity that holds nothing yet every rule of :func:`_provenance_set` gives the row's
    own value (``prepare_rows`` already folded the load's rows with the same rules), so the
    server need not evaluate them; this is most of what a first load writes.
    """
    return (
        f"ON CREATE SET {var} += row.props, {var} += row.agg, {var}.first_seen = first, "
        f"{var}.last_seen = last, {var}.retrieved_at = retrieved, {var}.sightings = row.n, "
        f"{var}.source = row.source\n"
    )


def _provenance_set(var: str, props: Sequence[Prop]) -> str:
    """``ON MATCH SET``: combine the row with what a stored entity holds, rule by rule."""
    parts = [
        # Newer-or-equal observations overwrite plain properties; older ones do not.
        f"{var} += CASE WHEN {var}.last_seen IS NULL OR last >= {var}.last_seen "
        "THEN row.props ELSE {} END",
    ]
    parts += [
        f"{var}.{p.name} = {_combine(p, f'{var}.{p.name}', f'row.agg.{p.name}')}" for p in props
    ]
    parts += [
        f"{var}.first_seen = CASE WHEN {var}.first_seen IS NULL OR first < {var}.first_seen "
        f"THEN first ELSE {var}.first_seen END",
        f"{var}.last_seen = CASE WHEN {var}.last_seen IS NULL OR last > {var}.last_seen "
        f"THEN last ELSE {var}.last_seen END",
        f"{var}.retrieved_at = CASE WHEN {var}.retrieved_at IS NULL OR retrieved > {var}.retrieved_at "
        f"THEN retrieved ELSE {var}.retrieved_at END",
        f"{var}.sightings = coalesce({var}.sightings, 0) + row.n",
        f"{var}.source = coalesce({var}.source, []) + "
        f"[s IN row.source WHERE NOT s IN coalesce({var}.source, [])]",
    ]
    return "ON MATCH SET " + ",\n    ".join(parts)


def _aggregated(props: Iterable[Prop]) -> list[Prop]:
    return [p for p in props if p.merge != "latest"]


@cache
def node_statement(label: str) -> str:
    """The MERGE statement for one label, generated from its declaration."""
    spec = NODE_BY_LABEL[label]
    return (
        "UNWIND $rows AS row\n"
        + _TIMES
        + f"MERGE (n:{spec.label} {{{spec.key}: row.key}})\n"
        + _created_set("n")
        + _provenance_set("n", _aggregated(spec.props))
    )


@cache
def rel_statement(rel_type: str) -> str:
    """The MERGE statement for one relationship type, endpoints merged by their keys."""
    spec = REL_BY_TYPE[rel_type]
    start, end = NODE_BY_LABEL[spec.start], NODE_BY_LABEL[spec.end]
    key = ", ".join(f"{k}: row.rkey.{k}" for k in spec.key)
    key_map = f" {{{key}}}" if key else ""
    return (
        "UNWIND $rows AS row\n" + _TIMES + f"MERGE (a:{start.label} {{{start.key}: row.start}})\n"
        f"MERGE (b:{end.label} {{{end.key}: row.end}})\n"
        f"MERGE (a)-[r:{spec.type}{key_map}]->(b)\n"
        + _created_set("r")
        + _provenance_set("r", _aggregated(spec.props))
    )


class UndeclaredProperty(ValueError):
    """A row carries a property that its label or relationship type does not declare."""


class ValueOutOfRange(ValueError):
    """A row carries an integer that Neo4j cannot store (outside signed 64 bits)."""


_INT64 = (-(2**63), 2**63 - 1)


def _check_range(spec: NodeSpec | RelSpec, row: NodeRow | RelRow, clean: dict[str, Any]) -> None:
    """Refuse an integer outside signed 64 bits, alone or in a list, before anything is sent."""
    low, high = _INT64
    for name, value in clean.items():
        if isinstance(value, int):
            if not low <= value <= high:
                _out_of_range(spec, name, value)
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, int) and not low <= item <= high:
                    _out_of_range(spec, name, item)


def _out_of_range(spec: NodeSpec | RelSpec, name: str, value: int) -> None:
    kind = spec.label if isinstance(spec, NodeSpec) else spec.type
    raise ValueOutOfRange(
        f"{kind}.{name} = {value} does not fit a signed 64-bit integer; "
        "nothing of this load was written"
    )


def _check_declared(
    spec: NodeSpec | RelSpec, row: NodeRow | RelRow, clean: dict[str, Any], declared: set[str]
) -> None:
    """Refuse a value for a property the spec does not declare (a ``None`` is no value)."""
    if declared.issuperset(clean):
        return
    name = spec.label if isinstance(spec, NodeSpec) else spec.type
    where = f"key {row.key!r}" if isinstance(row, NodeRow) else f"{row.start!r} -> {row.end!r}"
    unknown = ", ".join(sorted(set(clean) - declared))
    raise UndeclaredProperty(
        f"{name} row ({where}) carries properties the schema does not declare for {name}: "
        f"{unknown} (declare them in attribution/schema.py, or leave them out)"
    )


def _first_prepared(
    row: NodeRow | RelRow, rel_key: tuple[str, ...], plain: dict[str, Any], agg: dict[str, Any]
) -> dict[str, Any]:
    """The prepared row of an identity's first row: that row's own values."""
    if isinstance(row, RelRow):
        rkey = {k: row.props.get(k) for k in rel_key}
        prepared: dict[str, Any] = {"start": row.start, "end": row.end, "rkey": rkey}
    else:
        prepared = {"key": row.key}
    prepared.update(
        props=plain,
        agg=agg,
        source=[row.source],
        first=row.first_seen,
        last=row.last_seen,
        retrieved=row.retrieved_at,
        n=1,
    )
    return prepared


def _fold(
    current: dict[str, Any],
    row: NodeRow | RelRow,
    plain: dict[str, Any],
    agg: dict[str, Any],
    aggregated: dict[str, Prop],
) -> None:
    """Fold one more row into the prepared row of its identity."""
    if row.last_seen >= current["last"]:
        current["props"].update(plain)
    else:
        current["props"] = {**plain, **current["props"]}
    for name, value in agg.items():
        old = current["agg"].get(name)
        if old is None:
            current["agg"][name] = value
        elif aggregated[name].merge == "min":
            current["agg"][name] = min(old, value)
        elif aggregated[name].merge in ("sum", "sum_once"):
            current["agg"][name] = old + value
        elif aggregated[name].merge == "union":
            current["agg"][name] = old + [x for x in value if x not in old]
        # "keep": the first value stays
    if row.source not in current["source"]:
        current["source"].append(row.source)
    current["first"] = min(current["first"], row.first_seen)
    current["last"] = max(current["last"], row.last_seen)
    current["retrieved"] = max(current["retrieved"], row.retrieved_at)
    current["n"] += 1


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while rows are prepared.

    A large load allocates hundreds of thousands of small dicts that hold no cycles; the
    collector's passes over them took a third of the preparation time and freed nothing.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def prepare_rows(
    spec: NodeSpec | RelSpec, rows: Iterable[NodeRow | RelRow]
) -> list[dict[str, Any]]:
    """Fold rows with the same identity into one, with the same rules the Cypher applies.

    Raises:
        UndeclaredProperty: a row gives a value for a property its spec does not declare.
        ValueOutOfRange: a row gives an integer outside signed 64 bits.
    """
    declared = {p.name for p in spec.props}
    aggregated = {p.name: p for p in _aggregated(spec.props)}
    rel_key = spec.key if isinstance(spec, RelSpec) else ()
    not_plain = set(aggregated) | set(rel_key)
    merged: dict[Any, dict[str, Any]] = {}
    with _gc_paused():
        for row in rows:
            clean = {k: v for k, v in row.props.items() if v is not None}
            _check_declared(spec, row, clean, declared)
            _check_range(spec, row, clean)
            if not_plain.isdisjoint(clean):
                plain, agg = clean, {}
            else:
                plain = {k: v for k, v in clean.items() if k not in not_plain}
                agg = {k: v for k, v in clean.items() if k in aggregated}
            if isinstance(row, RelRow):
                identity: Any = (row.start, row.end, tuple(clean.get(k) for k in rel_key))
            else:
                identity = row.key
            current = merged.get(identity)
            if current is None:
                merged[identity] = _first_prepared(row, rel_key, plain, agg)
            else:
                _fold(current, row, plain, agg, aggregated)
        out = [merged[k] for k in sorted(merged, key=repr)]
        for prepared in out:
            for name in ("first", "last", "retrieved"):
                prepared[name] = _epoch_ms(prepared[name])
    return out


def _epoch_ms(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError(
            f"naive datetime {value.isoformat()}: provenance times must carry a time zone"
        )
    return int(value.timestamp() * 1000)


@dataclass(frozen=True)
class _Prepared:
    """A load's rows, checked and prepared, with the stats it fills and its progress callback."""

    node_batches: summaries.Batches
    rel_batches: summaries.Batches
    stats: WriteStats
    progress: Callable[[int], None] | None


class GraphWriter:
    """Writes node and relationship rows in batches of ``batch_size``."""

    def __init__(
        self, graph: Graph, batch_size: int = DEFAULT_BATCH, streams: int = DEFAULT_STREAMS
    ) -> None:
        self.graph = graph
        self.batch_size = batch_size
        self.streams = max(1, streams)

    def _send(
        self,
        statement: str,
        rows: list[dict[str, Any]],
        lock_key: str,
        stats: WriteStats,
        progress: Callable[[int], None] | None,
    ) -> None:
        """Send ``rows`` in batches over ``streams`` concurrent transactions.

        Rows are split by a hash of the key whose node each row locks first (a node's own key;
        a relationship's end node, which many rows share), so concurrent streams rarely wait on
        each other; the rare deadlock is a transient error the driver retries.
        """
        parts: list[list[dict[str, Any]]] = [[] for _ in range(self.streams)]
        for row in rows:
            parts[zlib.crc32(repr(row[lock_key]).encode()) % self.streams].append(row)
        lock = threading.Lock()

        def stream(part: list[dict[str, Any]]) -> None:
            for start in range(0, len(part), self.batch_size):
                chunk = part[start : start + self.batch_size]

                def work(tx: ManagedTransaction, c: list[dict[str, Any]] = chunk) -> None:
                    tx.run(statement, rows=c).consume()

                self.graph.write(work)
                with lock:
                    stats.batches += 1
                    if progress:
                        progress(len(chunk))

        busy = [part for part in parts if part]
        if len(busy) <= 1:
            for part in busy:
                stream(part)
            return
        with ThreadPoolExecutor(max_workers=len(busy), thread_name_prefix="writer") as pool:
            for future in [pool.submit(stream, part) for part in busy]:
                future.result()

    def load(
        self,
        nodes: Iterable[NodeRow] = (),
        rels: Iterable[RelRow] = (),
        *,
        progress: Callable[[int], None] | None = None,
    ) -> WriteStats:
        """Write all node rows (grouped by label), then all relationship rows (by type), then
        the write-time summaries they change (:mod:`attribution.summaries`).

        A load of at most ``batch_size`` rows (a worker's batch, one intake chunk) runs in one
        transaction, summaries included; a larger one in batches over ``streams`` concurrent
        transactions, its summaries refreshed after. Every row is checked against the schema before anything is sent, so a row the schema
        does not allow (an unknown label or type, an :class:`UndeclaredProperty`) stops the
        load with nothing written.
        """
        began = time.perf_counter()
        stats = WriteStats()
        by_label: dict[str, list[NodeRow]] = {}
        for node in nodes:
            by_label.setdefault(node.label, []).append(node)
        by_type: dict[str, list[RelRow]] = {}
        for rel in rels:
            by_type.setdefault(rel.type, []).append(rel)
        node_batches = [
            (label, prepare_rows(NODE_BY_LABEL[label], node_rows))
            for label, node_rows in sorted(by_label.items())
        ]
        rel_batches = [
            (rel_type, prepare_rows(REL_BY_TYPE[rel_type], rel_rows))
            for rel_type, rel_rows in sorted(by_type.items())
        ]
        for label, rows in node_batches:
            stats.node_rows += len(rows)
            stats.add(label, len(rows))
        for rel_type, rows in rel_batches:
            stats.rel_rows += len(rows)
            stats.add(rel_type, len(rows))
        prepared = _Prepared(node_batches, rel_batches, stats, progress)
        if stats.node_rows + stats.rel_rows <= self.batch_size:
            self._load_at_once(prepared)
        else:
            self._load_in_batches(prepared)
        stats.seconds = time.perf_counter() - began
        return stats

    def _load_at_once(self, load: _Prepared) -> None:
        """A load of at most one batch: every statement and the summaries it changes in one
        transaction, so a worker's small loads cost one commit each, and their facts and
        summaries are never seen apart."""
        statements = [(node_statement(label), rows) for label, rows in load.node_batches]
        statements += [(rel_statement(rel_type), rows) for rel_type, rows in load.rel_batches]

        def work(tx: ManagedTransaction) -> float:
            for statement, rows in statements:
                tx.run(statement, rows=rows).consume()
            refreshing = time.perf_counter()
            summaries.after_load_in(tx, load.node_batches, load.rel_batches)
            return time.perf_counter() - refreshing

        stats = load.stats
        stats.summaries_seconds = self.graph.write(work)
        stats.batches += 1
        if load.progress:
            load.progress(stats.node_rows + stats.rel_rows)

    def _load_in_batches(self, load: _Prepared) -> None:
        """A bulk load: each statement in batches over concurrent transactions, then the
        summaries refreshed in transactions of their own, over as many streams."""
        for label, rows in load.node_batches:
            self._send(node_statement(label), rows, "key", load.stats, load.progress)
        for rel_type, rows in load.rel_batches:
            self._send(rel_statement(rel_type), rows, "end", load.stats, load.progress)
        refreshing = time.perf_counter()
        summaries.after_load(
            self.graph, load.node_batches, load.rel_batches, streams=self.streams
        )
        load.stats.summaries_seconds = time.perf_counter() - refreshing


def apply_schema(graph: Graph) -> list[str]:
    """Create every declared constraint and index (idempotent); return the statements run."""
    from attribution.schema import constraint_statements

    statements = constraint_statements()
    with graph.session() as session:
        for statement in statements:
            session.run(statement).consume()
        session.run("CALL db.awaitIndexes(300)").consume()
    return statements
