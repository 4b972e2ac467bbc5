"""Write-time summaries: counters kept on nodes so analyst queries need not scan the graph.

Which properties are summaries, and what each means, is declared in
:data:`attribution.schema.SUMMARIES`; this module keeps them equal to their facts:

* ``Domain``: how many addresses, prefixes and origin ASes its resolutions reach, the smallest
  TTL and the earliest ``last_seen`` of those resolutions, how many other names share an address
  with it and how many of those some source labels benign, and its label verdict counts;
* ``IPAddress``: how many names resolve to it, how many of them are labelled benign, how many
  incident reports name it, and its label verdict counts;
* ``Registrar``: domains it sponsors and how many of them some source labels malicious;
* ``Registrant``: domains it holds;
* ``LabelSource``: its labels on domains and on addresses, and how many of each are benign
  and malicious.

Each summary is computed by one Cypher fragment per label (:data:`COMPUTE`) from the facts
alone, never incremented: refreshing a node twice, or a node whose facts did not change, gives
the same value. :func:`after_load` runs at the end of every :meth:`GraphWriter.load
<attribution.writer.GraphWriter.load>` with the rows it wrote and refreshes every node whose
summaries those rows can change (see :func:`affected`). :func:`rebuild` recomputes every node
(for a graph written before summaries existed, and after any write that bypassed the writer);
:func:`verify` recomputes them without writing and reports every difference.

Summaries rest only on facts that go through the writer (relationships and label verdicts).
Properties written beside it, such as the classifier's ``score`` and ``decision``, are not
summarised: queries read them through their indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from neo4j import ManagedTransaction

from attribution.db import Graph, python_value, record_dict
from attribution.schema import NODE_BY_LABEL, SUMMARIES

Batches = list[tuple[str, list[dict[str, Any]]]]
"""``(label or relationship type, prepared rows)`` as the writer sent them."""

BATCH = 1000
"""Nodes refreshed per write transaction: small enough to hold few locks for long."""

Progress = Callable[[str, int], None]
"""Called with a label and how many of its nodes are done so far."""

Run = Callable[[str, dict[str, Any]], list[dict[str, Any]]]
"""Runs one statement with its parameters and returns its rows: in a transaction of its own
(:meth:`Graph.read`), or in the transaction of the load that changed the facts."""

_BENIGN = "EXISTS { (:LabelSource)-[:LABELS_DOMAIN {verdict: 'benign'}]->(%s) }"
_MALICIOUS = "EXISTS { (:LabelSource)-[:LABELS_DOMAIN {verdict: 'malicious'}]->(%s) }"


def _verdicts(rel_type: str) -> str:
    return (
        "CALL (n) {\n"
        f"  OPTIONAL MATCH (:LabelSource)-[l:{rel_type}]->(n)\n"
        "  RETURN count(CASE WHEN l.verdict = 'benign' THEN 1 END) AS benign_labels,\n"
        "         count(CASE WHEN l.verdict = 'malicious' THEN 1 END) AS malicious_labels\n"
        "}\n"
    )


_LABEL_FIELDS = (
    "benign_labels: benign_labels, malicious_labels: malicious_labels, "
    "labels_disagree: benign_labels > 0 AND malicious_labels > 0"
)

COMPUTE: dict[str, str] = {
    "Domain": (
        "CALL (n) {\n"
        "  OPTIONAL MATCH (n)-[r:RESOLVES_TO]->(:IPAddress)\n"
        "  RETURN count(r) AS resolutions, min(r.min_ttl) AS min_ttl, min(r.last_seen) AS oldest\n"
        "}\n"
        "CALL (n) {\n"
        "  OPTIONAL MATCH (n)-[:RESOLVES_TO]->(:IPAddress)-[:IN_PREFIX]->(p:Prefix)\n"
        "  OPTIONAL MATCH (p)-[:ANNOUNCED_BY]->(as:AutonomousSystem)\n"
        "  RETURN count(DISTINCT p) AS prefixes, count(DISTINCT as) AS asns\n"
        "}\n"
        "CALL (n) {\n"
        "  OPTIONAL MATCH (n)-[:RESOLVES_TO]->(:IPAddress)<-[:RESOLVES_TO]-(other:Domain)\n"
        "  WHERE other <> n\n"
        "  WITH DISTINCT other\n"
        "  RETURN count(other) AS cohosted,\n"
        f"         count(CASE WHEN {_BENIGN % 'other'} THEN 1 END) AS benign_neighbours\n"
        "}\n" + _verdicts("LABELS_DOMAIN") + "WITH n, {resolution_count: resolutions, "
        "prefix_count: prefixes, asn_count: asns, resolution_min_ttl: min_ttl, "
        "resolution_oldest_seen: oldest, cohosted_names: cohosted, "
        f"benign_neighbours: benign_neighbours, {_LABEL_FIELDS}}} AS fresh\n"
    ),
    "IPAddress": (
        "CALL (n) {\n"
        "  OPTIONAL MATCH (d:Domain)-[:RESOLVES_TO]->(n)\n"
        "  WITH DISTINCT d\n"
        "  RETURN count(d) AS names,\n"
        f"         count(CASE WHEN {_BENIGN % 'd'} THEN 1 END) AS benign_names\n"
        "}\n"
        "CALL (n) {\n"
        "  OPTIONAL MATCH (n)-[:IP_REPORTED_IN]->(r:IncidentReport)\n"
        "  RETURN count(DISTINCT r) AS reports\n"
        "}\n" + _verdicts("LABELS_IP") + "WITH n, {name_count: names, benign_names: benign_names, "
        f"report_count: reports, reported: reports > 0, {_LABEL_FIELDS}}} AS fresh\n"
    ),
    "Registrar": (
        "CALL (n) {\n"
        "  OPTIONAL MATCH (d:Domain)-[:REGISTERED_WITH]->(n)\n"
        "  RETURN count(d) AS domains,\n"
        f"         count(CASE WHEN {_MALICIOUS % 'd'} THEN 1 END) AS malicious\n"
        "}\n"
        "WITH n, {domain_count: domains, malicious_domains: malicious} AS fresh\n"
    ),
    "Registrant": (
        "CALL (n) {\n"
        "  OPTIONAL MATCH (d:Domain)-[:REGISTERED_BY]->(n)\n"
        "  RETURN count(d) AS domains\n"
        "}\n"
        "WITH n, {domain_count: domains} AS fresh\n"
    ),
    "LabelSource": (
        "CALL (n) {\n"
        "  OPTIONAL MATCH (n)-[l:LABELS_DOMAIN]->(:Domain)\n"
        "  RETURN count(l) AS domain_labels,\n"
        "         count(CASE WHEN l.verdict = 'benign' THEN 1 END) AS benign_domain_labels,\n"
        "         count(CASE WHEN l.verdict = 'malicious' THEN 1 END) AS malicious_domain_labels\n"
        "}\n"
        "CALL (n) {\n"
        "  OPTIONAL MATCH (n)-[l:LABELS_IP]->(:IPAddress)\n"
        "  RETURN count(l) AS ip_labels,\n"
        "         count(CASE WHEN l.verdict = 'benign' THEN 1 END) AS benign_ip_labels,\n"
        "         count(CASE WHEN l.verdict = 'malicious' THEN 1 END) AS malicious_ip_labels\n"
        "}\n"
        "WITH n, {domain_labels: domain_labels, benign_domain_labels: benign_domain_labels, "
        "malicious_domain_labels: malicious_domain_labels, ip_labels: ip_labels, "
        "benign_ip_labels: benign_ip_labels, malicious_ip_labels: malicious_ip_labels} AS fresh\n"
    ),
}
"""Per label, Cypher that binds ``fresh``: the node ``n``'s summaries computed from its facts."""


NO_FACTS: dict[str, Any] = {
    prop.name: False if prop.type == "BOOLEAN" else 0 if prop.type == "INTEGER" else None
    for props in SUMMARIES.values()
    for prop in props
} | {"resolution_min_ttl": None}
"""What a summary reads as on a node none of whose facts it counts: such a node may never have
been refreshed, so queries read a missing summary as this (``coalesce(n.name_count, 0)``)."""


def _check_declared() -> None:
    """Every computed field is a declared summary and every declared summary is computed."""
    assert set(COMPUTE) == set(SUMMARIES)
    for label, cypher in COMPUTE.items():
        fresh = cypher.rsplit("WITH n, {", 1)[1]
        for prop in SUMMARIES[label]:
            assert f"{prop.name}: " in fresh, (label, prop.name)


_check_declared()


def refresh_statement(label: str) -> str:
    """Recompute and store the summaries of the nodes of ``label`` keyed ``$keys``.

    The nodes are locked in key order before their facts are read, so two refreshes of one
    node (from two concurrent loads) run one after the other and the later one reads the
    later facts.

    Every statement here finds nodes by key as ``key IN $keys`` with ``USING INDEX SEEK``:
    planned right after a first load, while the key index's sample still says it is empty,
    a lookup without that hint may scan the whole index once per key (and the plan stays
    cached while the graph fills).
    """
    key = NODE_BY_LABEL[label].key
    return (
        f"MATCH (n:{label}) USING INDEX SEEK n:{label}({key}) WHERE n.{key} IN $keys\n"
        f"WITH n ORDER BY n.{key}\n"
        "SET n._summary_lock = true REMOVE n._summary_lock\n"
        "WITH n\n" + COMPUTE[label] + "SET n += fresh"
    )


NAMES_ON_STATEMENT = (
    "MATCH (ip:IPAddress) USING INDEX SEEK ip:IPAddress(address) WHERE ip.address IN $keys\n"
    "MATCH (ip)<-[:RESOLVES_TO]-(n:Domain)\n"
    "WITH DISTINCT n ORDER BY n.name\n"
    "SET n._summary_lock = true REMOVE n._summary_lock\n"
    "WITH n\n" + COMPUTE["Domain"] + "SET n += fresh"
)
"""Recompute and store the summaries of every name that resolves to an address keyed
``$keys``. Each transaction locks its names in name order, so two of them never wait on each
other in a cycle; a name on addresses of two batches is refreshed by both, to the same value."""


def page_statement(label: str, write: bool, first: bool) -> str:
    """The next ``$batch`` nodes of ``label`` in key order (the ``first`` page, or those after
    key ``$after``): recomputed and, with ``write``, stored; returns each node's key, fresh and
    stored summaries. Every key of a summarised label is text, so the key index gives the order.
    """
    key = NODE_BY_LABEL[label].key
    stored = ", ".join(f".{p.name}" for p in SUMMARIES[label])
    where = f"n.{key} >= ''" if first else f"n.{key} > $after"
    head = f"MATCH (n:{label}) WHERE {where}\nWITH n ORDER BY n.{key} LIMIT $batch\n"
    if write:
        head += "SET n._summary_lock = true REMOVE n._summary_lock\nWITH n\n"
    tail = f"RETURN n.{key} AS key, fresh, n {{{stored}}} AS stored"
    if write:
        tail = f"SET n += fresh\nRETURN n.{key} AS key, fresh, fresh AS stored"
    return head + COMPUTE[label] + tail


@dataclass
class Affected:
    """The nodes whose summaries a load can change: keys per label, and the addresses every
    name on which is affected (the server finds those names as it refreshes them, so they
    never travel to the client and back)."""

    keys: dict[str, set[Any]] = field(default_factory=lambda: {label: set() for label in SUMMARIES})
    names_on: set[Any] = field(default_factory=set)

    def add(self, label: str, keys: Iterable[Any]) -> None:
        self.keys[label].update(k for k in keys if k is not None)


def _ends(rows: list[dict[str, Any]], end: str) -> set[Any]:
    return {row[end] for row in rows}


def _expand(run: Run, cypher: str, keys: set[Any]) -> set[Any]:
    """Keys that ``cypher`` (given ``$keys``, returning ``key``) reaches from ``keys``."""
    found: set[Any] = set()
    ordered = sorted(keys, key=repr)
    for start in range(0, len(ordered), BATCH * 10):
        rows = run(cypher, {"keys": ordered[start : start + BATCH * 10]})
        found.update(row["key"] for row in rows)
    return found


_IPS_OF_PREFIXES = (
    "MATCH (p:Prefix) USING INDEX SEEK p:Prefix(cidr) WHERE p.cidr IN $keys "
    "MATCH (p)<-[:IN_PREFIX]-(ip:IPAddress) "
    "RETURN DISTINCT ip.address AS key"
)
_IPS_OF_DOMAINS = (
    "MATCH (d:Domain) USING INDEX SEEK d:Domain(name) WHERE d.name IN $keys "
    "MATCH (d)-[:RESOLVES_TO]->(ip:IPAddress) "
    "RETURN DISTINCT ip.address AS key"
)
_REGISTRARS_OF_DOMAINS = (
    "MATCH (d:Domain) USING INDEX SEEK d:Domain(name) WHERE d.name IN $keys "
    "MATCH (d)-[:REGISTERED_WITH]->(r:Registrar) "
    "RETURN DISTINCT r.key AS key"
)


def affected(run: Run, rel_batches: Batches) -> Affected:
    """Every node whose summaries the relationships just written can change.

    Node rows change no summary (summaries count relationships and label verdicts). A
    resolution changes its domain's spread and co-hosting, its address's name count, and the
    co-hosting of every other name on that address; an address entering a prefix, or a prefix
    an AS, changes the spread of every name on those addresses; a domain label changes the
    domain's verdict counts, the benign counts of its addresses and of the names sharing them,
    and its registrars' malicious counts; an incident report naming an address changes that
    address's report count; every label changes its source's counts.
    """
    out = Affected()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for rel_type, rows in rel_batches:
        by_type.setdefault(rel_type, []).extend(rows)

    def rows_of(rel_type: str) -> list[dict[str, Any]]:
        return by_type.get(rel_type, [])

    labelled = _ends(rows_of("LABELS_DOMAIN"), "end")
    address_changes = _ends(rows_of("RESOLVES_TO"), "end")
    if labelled:
        address_changes |= _expand(run, _IPS_OF_DOMAINS, labelled)
    spread_changes = _ends(rows_of("IN_PREFIX"), "start")
    prefixes = _ends(rows_of("ANNOUNCED_BY"), "start")
    if prefixes:
        spread_changes |= _expand(run, _IPS_OF_PREFIXES, prefixes)
    out.add(
        "IPAddress",
        address_changes
        | _ends(rows_of("LABELS_IP"), "end")
        | _ends(rows_of("IP_REPORTED_IN"), "start"),
    )
    # A resolution's own name resolves to its address, so it is among the names on it; a
    # labelled name may resolve to nothing, so it is refreshed by its key as well.
    out.add("Domain", labelled)
    out.names_on = {k for k in address_changes | spread_changes if k is not None}
    out.add("Registrar", _ends(rows_of("REGISTERED_WITH"), "end"))
    if labelled:
        out.add("Registrar", _expand(run, _REGISTRARS_OF_DOMAINS, labelled))
    out.add("Registrant", _ends(rows_of("REGISTERED_BY"), "end"))
    out.add(
        "LabelSource",
        _ends(rows_of("LABELS_DOMAIN"), "start") | _ends(rows_of("LABELS_IP"), "start"),
    )
    return out


Job = tuple[str, list[Any]]
"""One refresh statement and the keys of its batch."""


def _batches(statement: str, keys: Iterable[Any]) -> list[Job]:
    ordered = sorted(set(keys), key=repr)
    return [(statement, ordered[i : i + BATCH]) for i in range(0, len(ordered), BATCH)]


def _jobs(found: Affected) -> list[Job]:
    """The refresh batches that bring every node of ``found`` up to date."""
    jobs = [
        job
        for label, keys in found.keys.items()
        for job in _batches(refresh_statement(label), keys)
    ]
    return jobs + _batches(NAMES_ON_STATEMENT, found.names_on)


def _run_jobs(graph: Graph, jobs: list[Job], streams: int = 1) -> None:
    """Each refresh batch in a write transaction of its own, ``streams`` at a time."""

    def run(job: Job) -> None:
        graph.run_write(job[0], {"keys": job[1]})

    if streams <= 1 or len(jobs) <= 1:
        for job in jobs:
            run(job)
        return
    with ThreadPoolExecutor(max_workers=streams, thread_name_prefix="summaries") as pool:
        for _ in pool.map(run, jobs):
            pass


def refresh(graph: Graph, label: str, keys: Iterable[Any]) -> int:
    """Recompute the summaries of the ``label`` nodes keyed ``keys``, in batches; how many.

    The entry point for a writer that bypasses :class:`~attribution.writer.GraphWriter`
    and changes a fact a summary counts (see the module docstring).
    """
    jobs = _batches(refresh_statement(label), keys)
    _run_jobs(graph, jobs)
    return sum(len(batch) for _, batch in jobs)


def after_load(
    graph: Graph, node_batches: Batches, rel_batches: Batches, *, streams: int = 1
) -> None:
    """Bring the summaries of every node the load touched up to date with its facts, in
    transactions of their own after the load's, ``streams`` of them at a time (no summary
    depends on node properties, so node rows change none; a load without relationship rows
    reads and refreshes nothing)."""
    del node_batches
    _run_jobs(graph, _jobs(affected(graph.read, rel_batches)), streams)


def after_load_in(tx: ManagedTransaction, node_batches: Batches, rel_batches: Batches) -> None:
    """:func:`after_load` inside the load's own transaction: the facts and their summaries
    commit together, so no crash between them can leave a summary behind its facts."""
    del node_batches

    def run(statement: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return [record_dict(record) for record in tx.run(statement, params)]

    for statement, batch in _jobs(affected(run, rel_batches)):
        run(statement, {"keys": batch})


def _pages(graph: Graph, label: str, write: bool, batch: int) -> Iterator[list[dict[str, Any]]]:
    """Every node of ``label`` in key order, ``batch`` at a time, recomputed (and stored)."""
    after: Any = None
    while True:
        statement = page_statement(label, write, first=after is None)
        params = {"after": after, "batch": batch}
        rows = graph.run_write(statement, params) if write else graph.read(statement, params)
        if not rows:
            return
        yield rows
        after = rows[-1]["key"]


def rebuild(
    graph: Graph, *, batch: int = BATCH, progress: Progress | None = None
) -> dict[str, int]:
    """Recompute and store every summary of every node, from the facts; nodes done per label."""
    done: dict[str, int] = {}
    for label in SUMMARIES:
        done[label] = 0
        for rows in _pages(graph, label, True, batch):
            done[label] += len(rows)
            if progress:
                progress(label, done[label])
    return done


@dataclass(frozen=True)
class Drift:
    """One summary that differs from its recomputation."""

    label: str
    key: Any
    prop: str
    stored: Any
    fresh: Any


def verify(
    graph: Graph, *, batch: int = BATCH, progress: Progress | None = None
) -> tuple[dict[str, int], list[Drift]]:
    """Recompute every summary without writing; nodes checked per label, and every drift."""
    checked: dict[str, int] = {}
    drift: list[Drift] = []
    for label in SUMMARIES:
        checked[label] = 0
        for rows in _pages(graph, label, False, batch):
            for row in rows:
                fresh, stored = python_value(row["fresh"]), python_value(row["stored"])
                drift += [
                    Drift(label, row["key"], name, stored.get(name), value)
                    for name, value in sorted(fresh.items())
                    if stored.get(name) != value
                    and not (stored.get(name) is None and value == NO_FACTS[name])
                ]
            checked[label] += len(rows)
            if progress:
                progress(label, checked[label])
    return checked, drift
