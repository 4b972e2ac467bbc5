"""The enrichment worker: claim indicators, run every source, write what came back.

One run of :class:`Worker` repeats *claim -> enrich -> load -> finish* until the queue is
empty (or, with ``watch``, until it is told to stop); claim and enrich run in lanes, load and
finish in one commit lane that overlaps them (see below):

claim
    One write transaction picks up to ``batch`` target nodes (each label of
    :data:`attribution.schema.TARGETS`: Domain and IPAddress) that are
    ``pending``, whose lease has lapsed (``leased`` with ``lease_expires`` in the past),
    whose last run is older than ``stale_after`` (``done``, ``partial`` or ``failed``), or whose
    retry time has come (``partial`` or ``failed`` with ``enrich_retry_at`` in the past; with
    ``retry_failed``, every ``partial`` or ``failed`` node at once), and leases them to
    this worker (``enrich_state=leased``, ``lease_owner``, ``lease_expires``). The first
    statement of the transaction finds candidates and write-locks them; the second re-reads
    each locked node and leases only those still claimable. A worker that raced another for the
    same nodes therefore waits for the other's commit and then sees the lease, so no two
    workers ever hold the same node. A lease runs from the moment the node is leased (the
    server's clock), not from when the claim began, so waiting for another claim's locks or
    for a cold query plan does not shorten it.
enrich
    ``enrichment.enrich_domain`` / ``enrich_address`` for every claimed node, concurrently in
    one event loop; the configuration's request gate bounds the requests in flight.
load
    All observations of the batch become rows (:mod:`attribution.observations_to_rows`) and go
    to the graph in one :meth:`GraphWriter.load`; batches that finished enriching while the
    previous load ran go together, in one load.
finish
    Each node becomes ``done`` when every source answered (a "no data" answer included),
    ``partial`` when some failed, ``failed`` when all failed, with ``enriched_at`` and
    ``enrich_failures`` listing ``source: reason`` of the sources that failed (and
    ``enrich_failing`` true when there are any, for the failures review). A node whose
    sources failed transiently gets ``enrich_attempts`` (consecutive such runs) and
    ``enrich_retry_at``: now plus ``min(base * 2**(attempts-1), cap)`` from the configuration's
    ``node_retry``; a later run claims it from then on. All of this happens
    only while this worker still holds its lease: a node whose lease lapsed and was claimed by
    someone else is left to them. Names and addresses the answers point at (name servers, mail
    servers, CNAME targets, resolved addresses) that have never been queued are set pending one
    hop deeper, up to ``max_depth`` and at most ``max_discovered`` per run. The states and the
    newly pending nodes are written in one transaction.

Several lanes (claim-enrich loops) run side by side in one worker, so one batch's slow tail
never leaves the network idle; each hands its enriched batch to the commit lane
(:class:`CommitLane`) and claims the next at once, so the graph write of one batch overlaps
the enrichment of the next. On :meth:`Worker.request_stop` (the CLI wires SIGTERM and SIGINT
to it) batches handed over are written and finished, batches still being enriched are
released (set back to ``pending``, lease cleared), and the run returns: a claim is never
lost. While a batch is enriched and written, its leases are renewed every third of
``lease``, so a batch slowed by timeouts and retries is not taken over by another worker
halfway. A worker killed outright stops renewing; its leases lapse after ``lease`` and are
claimed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from neo4j import ManagedTransaction, Transaction
from neo4j.exceptions import DriverError, Neo4jError

from attribution import collector
from attribution.db import Graph
from attribution.identities import Identity
from attribution.observations_to_rows import (
    ObservationRows,
    deferred_until,
    enrichment_state,
    needs_retry,
    rows_for_results,
)
from attribution.schema import TARGETS
from attribution.writer import GraphWriter
from enrichment.clients import EnrichmentClients, enrichment_runner
from enrichment.config import EnrichmentConfig, NodeRetry
from enrichment.enrich import enrich_address, enrich_domain
from enrichment.observations import EnrichmentResults

DEFAULT_BATCH = 100
DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_STALE_AFTER = timedelta(days=7)
DEFAULT_MAX_DEPTH = 1
DEFAULT_MAX_DISCOVERED = 10_000
DEFAULT_LANES = 2
# A node queued for the Dramatiq engine whose message has not been worked on after this long is
# queued again (the reconciler) or claimed by a lease worker.
DEFAULT_REQUEUE_AFTER = timedelta(minutes=15)
# A held batch's leases are extended this many times per lease term.
RENEWALS_PER_LEASE = 3

# Which nodes may be claimed; ``n`` is the node. Written once, used to find candidates and to
# re-check them after they are locked.
# A partial or failed node is retried when its retry time has come (or at once with
# ``$retry_failed``), but never twice in one pass over the queue (``$pass``).
# A deferred node (a registry's daily quota was spent) waits for its retry time, whatever
# ``$retry_failed`` says. A node queued for the Dramatiq engine is claimable again once it
# has waited longer than ``$queued_before`` allows: its message was lost.
CLAIMABLE = (
    "(n.enrich_state = 'pending'"
    " OR (n.enrich_state = 'leased' AND (n.lease_expires IS NULL OR n.lease_expires < $now))"
    " OR (n.enrich_state = 'queued' AND (n.queued_at IS NULL OR n.queued_at < $queued_before))"
    " OR (n.enrich_state IN ['done', 'partial', 'failed']"
    " AND (n.enriched_at IS NULL OR n.enriched_at < $stale))"
    " OR (n.enrich_state IN ['partial', 'failed'] AND n.enriched_at < $pass"
    " AND ($retry_failed OR n.enrich_retry_at <= $now))"
    " OR (n.enrich_state = 'deferred' AND n.enrich_retry_at <= $now))"
)

# The target labels, keys and kinds, read from the schema's one map (attribution.schema.TARGETS):
# ``NODE_VALUE`` is a claimed node's key value and ``NODE_KIND`` its identity kind, whatever its label.
NODE_VALUE = "coalesce(" + ", ".join(f"n.{t.key}" for t in TARGETS.values()) + ")"
NODE_KIND = (
    "CASE " + " ".join(f"WHEN n:{t.label} THEN '{t.kind}'" for t in TARGETS.values()) + " END"
)


def each_target(match: str) -> str:
    """``match`` (about ``n``, with ``LABEL`` for the label) once per target label, as a UNION."""
    return "\n  UNION\n".join(
        "  " + match.replace("LABEL", target.label) for target in TARGETS.values()
    )


_PENDING = "MATCH (n:LABEL) WHERE n.enrich_state = 'pending' RETURN n"
# Finished nodes are most of a mature graph: the stale ones are found by a range seek on
# enriched_at, so a claim reads those and not every finished node. (A finished node always
# has enriched_at; `attribution schema migrate` re-queues any a foreign write left without.)
# The other states go through the enrich_state index: left to the planner, the retry
# condition's `enriched_at < $pass` becomes a range seek that reads every finished node.
_STALE = (
    "MATCH (n:LABEL) USING INDEX SEEK n:LABEL(enriched_at) WHERE n.enriched_at < $stale"
    " AND n.enrich_state IN ['done', 'partial', 'failed'] RETURN n"
)
_RECLAIMABLE = (
    "MATCH (n:LABEL) USING INDEX SEEK n:LABEL(enrich_state)"
    " WHERE n.enrich_state IN ['leased', 'queued', 'partial', 'failed', 'deferred']"
    f" AND {CLAIMABLE} RETURN n"
)

CANDIDATES = f"""
CALL () {{
{each_target(_PENDING)}
  UNION
{each_target(_STALE)}
  UNION
{each_target(_RECLAIMABLE)}
}}
WITH n ORDER BY coalesce(n.enrich_depth, 0), {NODE_VALUE}
LIMIT $limit
SET n._claim_lock = true
REMOVE n._claim_lock
RETURN elementId(n) AS id
"""

_LEASE = f"""
UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id AND {CLAIMABLE}
SET n.enrich_state = 'leased', n.lease_owner = $owner,
    n.lease_expires = datetime.realtime() + duration({{milliseconds: $lease_ms}})
RETURN id, {NODE_KIND} AS kind,
       {NODE_VALUE} AS value, coalesce(n.enrich_depth, 0) AS depth
ORDER BY coalesce(n.enrich_depth, 0), value
"""

FAILING = "(n.enrich_state = 'failed' OR n.enrich_failures > [])"
"""When a node ``n`` is listed for the failures review: its last run failed, or recorded a
failure of some source. The finish stores it as ``enrich_failing`` (true, or absent), after the
state and failures it reads; ``schema migrate`` applies it to nodes finished before the flag."""

_FINISH = f"""
UNWIND $items AS item
MATCH (n) WHERE elementId(n) = item.id AND {NODE_VALUE} = item.value
  AND n.enrich_state = 'leased' AND n.lease_owner = $owner
SET n.enrich_state = item.state, n.enriched_at = datetime(), n.enrich_failures = item.failures,
    n.lease_owner = null, n.lease_expires = null, n.queue_owner = null, n.queued_at = null,
    n.enrich_attempts = CASE WHEN item.retry THEN coalesce(n.enrich_attempts, 0) + 1
                             WHEN item.retry_at IS NOT NULL THEN n.enrich_attempts END
WITH n, item, $retry_base_ms * 2.0 ^ (coalesce(n.enrich_attempts, 1) - 1) AS backoff_ms
SET n.enrich_retry_at = CASE WHEN item.retry_at IS NOT NULL THEN item.retry_at
    WHEN item.retry THEN datetime() + duration({{
      milliseconds: CASE WHEN backoff_ms < $retry_cap_ms THEN toInteger(backoff_ms)
                         ELSE $retry_cap_ms END}}) END,
    n.enrich_failing = CASE WHEN {FAILING} THEN true END
RETURN item.value AS value
"""

_RELEASE = """
UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id AND n.enrich_state = 'leased' AND n.lease_owner = $owner
SET n.enrich_state = 'pending', n.lease_owner = null, n.lease_expires = null
RETURN count(n) AS released
"""

_RENEW = """
UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id AND n.enrich_state = 'leased' AND n.lease_owner = $owner
SET n.lease_expires = datetime.realtime() + duration({milliseconds: $lease_ms})
RETURN count(n) AS renewed
"""

_QUEUED = f"MATCH (n:LABEL) WHERE n.enrich_state IS NOT NULL AND {CLAIMABLE} RETURN n"
_COUNT_CLAIMABLE = f"""
CALL () {{
{each_target(_QUEUED)}
}}
RETURN count(n) AS n
"""

_DISCOVER = """
UNWIND $items AS item
MATCH (n:LABEL {KEY: item.value})
WHERE n.enrich_state IS NULL
WITH n, item LIMIT $budget
SET n.enrich_state = 'pending', n.enrich_depth = item.depth
RETURN count(n) AS queued
"""
_DISCOVER_BY_KIND = {
    kind: _DISCOVER.replace("LABEL", target.label).replace("KEY", target.key)
    for kind, target in TARGETS.items()
}


@dataclass(frozen=True)
class ClaimedItem:
    """One leased node: its element id, identity and discovery depth."""

    id: str
    identity: Identity
    depth: int

    @property
    def key(self) -> str:
        return self.identity.key


@dataclass(frozen=True)
class Claim:
    """What a claim leased, and how many candidates it saw (more than leased: it lost a race)."""

    items: list[ClaimedItem]
    candidates: int


def claim(
    graph: Graph,
    owner: str,
    limit: int,
    *,
    lease: timedelta = DEFAULT_LEASE,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    now: datetime | None = None,
    not_after: datetime | None = None,
    retry_failed: bool = False,
    requeue_after: timedelta = DEFAULT_REQUEUE_AFTER,
) -> Claim:
    """Lease up to ``limit`` claimable nodes to ``owner`` in one write transaction.

    A finished node is stale when its run ended more than ``stale_after`` ago, and, when
    ``not_after`` is given, before that moment too: a worker passes the start of its current
    pass over the queue, so it never re-claims a node it finished in the same pass (with
    ``stale_after`` zero it would otherwise enrich the same nodes forever); the same bound
    keeps a node that is retried, and fails again, from being retried twice in one pass.
    ``retry_failed`` claims every partial or failed node without waiting for its retry time.
    """
    moment = now or datetime.now(UTC)
    stale = moment - stale_after
    if not_after is not None:
        stale = min(stale, not_after)
    params = claim_params(
        owner,
        limit,
        lease,
        stale,
        moment,
        retry_failed=retry_failed,
        pass_started=not_after,
        requeue_after=requeue_after,
    )
    return graph.write(lambda tx: claim_in(tx, params))


def _milliseconds(span: timedelta) -> int:
    return round(span.total_seconds() * 1000)


def claim_params(
    owner: str,
    limit: int,
    lease: timedelta,
    stale: datetime,
    now: datetime,
    *,
    retry_failed: bool = False,
    pass_started: datetime | None = None,
    requeue_after: timedelta = DEFAULT_REQUEUE_AFTER,
) -> dict[str, Any]:
    """The parameters of the claim statements."""
    return {
        "now": now,
        "queued_before": now - requeue_after,
        "stale": stale,
        "pass": pass_started or now,
        "retry_failed": retry_failed,
        "limit": limit,
        "owner": owner,
        "lease_ms": _milliseconds(lease),
    }


def claim_in(tx: ManagedTransaction | Transaction, params: dict[str, Any]) -> Claim:
    """The two statements of a claim, inside the caller's transaction.

    The first finds candidates and write-locks them; the second re-reads each one under its
    lock and leases only those still claimable, so a transaction that waited for another
    claim's locks sees that claim's leases and skips those nodes.
    """
    ids = [r["id"] for r in tx.run(CANDIDATES, params)]
    if not ids:
        return Claim([], 0)
    rows = tx.run(_LEASE, {**params, "ids": ids}).data()
    items = [ClaimedItem(r["id"], Identity(r["kind"], r["value"]), int(r["depth"])) for r in rows]
    return Claim(items, len(ids))


@dataclass(frozen=True)
class Outcome:
    """How one claimed node's run ended: its state, failures, and whether to retry it soon."""

    item: ClaimedItem
    state: str
    failures: list[str]
    retry: bool = False
    retry_at: datetime | None = None
    """When a deferred node may be claimed again (the spent quota's reset time)."""


def finish(
    graph: Graph, owner: str, outcomes: list[Outcome], node_retry: NodeRetry | None = None
) -> set[str]:
    """Set each node's state where ``owner`` still holds the lease; returns their values.

    An outcome with ``retry`` gets its next attempt time from ``node_retry``'s backoff; one
    with ``retry_at`` (deferred) gets that time, and its attempts are left as they were.
    """
    if not outcomes:
        return set()
    return graph.write(lambda tx: finish_in(tx, owner, outcomes, node_retry))


def finish_in(
    tx: ManagedTransaction | Transaction,
    owner: str,
    outcomes: list[Outcome],
    node_retry: NodeRetry | None = None,
) -> set[str]:
    """:func:`finish` inside the caller's transaction."""
    items = [
        {
            "id": o.item.id,
            "value": o.item.identity.value,
            "state": o.state,
            "failures": o.failures,
            "retry": o.retry,
            "retry_at": o.retry_at,
        }
        for o in outcomes
    ]
    if not items:
        return set()
    policy = node_retry or NodeRetry()
    params = {
        "items": items,
        "owner": owner,
        "retry_base_ms": policy.base * 1000.0,
        "retry_cap_ms": round(policy.cap * 1000),
    }
    return {str(r["value"]) for r in tx.run(_FINISH, params)}


def renew(graph: Graph, owner: str, items: list[ClaimedItem], lease: timedelta) -> int:
    """Extend ``owner``'s leases on ``items`` to ``lease`` from now; returns how many it holds."""
    if not items:
        return 0
    params = {"ids": [i.id for i in items], "owner": owner, "lease_ms": _milliseconds(lease)}
    rows = graph.run_write(_RENEW, params)
    return int(rows[0]["renewed"]) if rows else 0


def release(graph: Graph, owner: str, items: list[ClaimedItem]) -> int:
    """Hand leased nodes back (pending, lease cleared) where ``owner`` still holds them."""
    if not items:
        return 0
    rows = graph.run_write(_RELEASE, {"ids": [i.id for i in items], "owner": owner})
    return int(rows[0]["released"]) if rows else 0


def queue_discovered(graph: Graph, found: list[tuple[Identity, int]], budget: int) -> int:
    """Set never-queued nodes pending at the given depth, at most ``budget``; returns how many."""
    if not found or budget <= 0:
        return 0
    return graph.write(lambda tx: queue_discovered_in(tx, found, budget))


def queue_discovered_in(
    tx: ManagedTransaction | Transaction, found: list[tuple[Identity, int]], budget: int
) -> int:
    """:func:`queue_discovered` inside the caller's transaction."""
    queued = 0
    for kind in TARGETS:
        items = [{"value": i.value, "depth": d} for i, d in found if i.kind == kind]
        if not items or queued >= budget:
            continue
        rows = tx.run(_DISCOVER_BY_KIND[kind], {"items": items, "budget": budget - queued}).data()
        queued += int(rows[0]["queued"]) if rows else 0
    return queued


def default_worker_id() -> str:
    """Host, process id and a random suffix: unique among concurrent workers."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class WorkerOptions:
    """How much to claim at once, how far to follow answers, and how long leases last."""

    worker_id: str = field(default_factory=default_worker_id)
    batch: int = DEFAULT_BATCH
    limit: int | None = None
    max_depth: int = DEFAULT_MAX_DEPTH
    max_discovered: int = DEFAULT_MAX_DISCOVERED
    stale_after: timedelta = DEFAULT_STALE_AFTER
    lease: timedelta = DEFAULT_LEASE
    watch: bool = False
    poll_seconds: float = 5.0
    lanes: int = DEFAULT_LANES
    retry_failed: bool = False

    def __post_init__(self) -> None:
        if self.batch < 1 or self.lanes < 1:
            raise ValueError("batch and lanes must be at least 1")
        if self.limit is not None and self.limit < 0:
            raise ValueError("limit must not be negative")
        if self.max_depth < 0 or self.max_discovered < 0:
            raise ValueError("max_depth and max_discovered must not be negative")
        if self.lease.total_seconds() <= 0 or self.poll_seconds <= 0:
            raise ValueError("lease and poll_seconds must be positive")


@dataclass
class RunSummary:
    """What a run did; ``as_dict`` is the CLI's ``--json`` output."""

    worker_id: str
    claimed: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    released: int = 0
    renewals: int = 0
    batches: int = 0
    observations: Counter[str] = field(default_factory=Counter)
    rows_written: Counter[str] = field(default_factory=Counter)
    sources: dict[str, Counter[str]] = field(default_factory=dict)
    discovered: int = 0
    dns_queries: int = 0
    requests_by_server: dict[str, int] = field(default_factory=dict)
    breaker_openings: dict[str, int] = field(default_factory=dict)
    rdap_cache_hits: int = 0
    rdap_cache_misses: int = 0
    as_cache_hits: int = 0
    as_cache_misses: int = 0
    seconds: float = 0.0
    # Seconds spent per stage, summed over lanes (lanes overlap, so the sum can exceed
    # ``seconds``): where a slow run spends its time.
    stage_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    engine: str = "lease"
    # Per registry: requests, over-limit answers, deferrals and pauses during the run.
    registries: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "worker_id": self.worker_id,
            "claimed": len(self.claimed),
            "claimed_keys": sorted(self.claimed),
            "done": len(self.done),
            "partial": len(self.partial),
            "partial_keys": sorted(self.partial),
            "failed": len(self.failed),
            "failed_keys": sorted(self.failed),
            "deferred": len(self.deferred),
            "deferred_keys": sorted(self.deferred),
            "not_done": len(self.partial) + len(self.failed),
            "lost_leases": sorted(self.lost),
            "released": self.released,
            "lease_renewals": self.renewals,
            "batches": self.batches,
            "observations": dict(sorted(self.observations.items())),
            "rows_written": dict(sorted(self.rows_written.items())),
            "sources": {s: dict(sorted(c.items())) for s, c in sorted(self.sources.items())},
            "discovered": self.discovered,
            "dns_queries": self.dns_queries,
            "requests_by_server": dict(sorted(self.requests_by_server.items())),
            "breaker_openings": dict(sorted(self.breaker_openings.items())),
            "rdap_cache": {"hits": self.rdap_cache_hits, "misses": self.rdap_cache_misses},
            "as_registration_cache": {"hits": self.as_cache_hits, "misses": self.as_cache_misses},
            "registries": {r: dict(sorted(c.items())) for r, c in sorted(self.registries.items())},
            "seconds": round(self.seconds, 3),
            "stage_seconds": {k: round(v, 3) for k, v in sorted(self.stage_seconds.items())},
        }


async def enrich_one(item: ClaimedItem, clients: EnrichmentClients) -> EnrichmentResults:
    """Every source for one claimed node."""
    if item.identity.kind == "domain":
        return await enrich_domain(str(item.identity.value), clients)
    return await enrich_address(str(item.identity.value), clients)


async def enrich_items(
    items: list[ClaimedItem],
    clients: EnrichmentClients,
    progress: Callable[[int], None] | None = None,
) -> list[EnrichmentResults]:
    """Every source for every claimed node, concurrently; results in the order of ``items``."""

    async def one(item: ClaimedItem) -> EnrichmentResults:
        result = await enrich_one(item, clients)
        if progress:
            progress(1)
        return result

    return list(await asyncio.gather(*(one(i) for i in items)))


async def keep_leases(
    graph: Graph, owner: str, items: list[ClaimedItem], lease: timedelta, summary: RunSummary
) -> None:
    """Renew ``owner``'s leases on ``items`` every third of ``lease`` until cancelled.

    A failed renewal is tried again next time. Nodes another worker took over meanwhile are
    not renewed (the statement matches this owner's leases only); the commit reports them lost.
    """
    interval = lease.total_seconds() / RENEWALS_PER_LEASE
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(renew, graph, owner, items, lease)
        except (Neo4jError, DriverError, OSError):
            continue
        summary.renewals += 1


@dataclass
class BatchCommitter:
    """The load and finish steps every engine shares: one enriched batch becomes graph rows,
    its nodes' states, and the pending nodes its answers point at."""

    graph: Graph
    owner: str
    summary: RunSummary
    node_retry: NodeRetry = field(default_factory=NodeRetry)
    max_depth: int = DEFAULT_MAX_DEPTH
    max_discovered: int = DEFAULT_MAX_DISCOVERED
    writer: GraphWriter = field(init=False)

    def __post_init__(self) -> None:
        self.writer = GraphWriter(self.graph)

    def commit(
        self, items: list[ClaimedItem], results: list[EnrichmentResults], batches: int = 1
    ) -> None:
        """Load the observations of ``items``, finish them, queue what they point at.

        ``items`` may join several claimed batches (``batches`` of them): their rows go to the
        graph in one load, and their states and the nodes they point at in one transaction.
        """
        began = time.perf_counter()
        rows, outcomes, found = self._rows(items, results)
        self.summary.stage_seconds["rows"] += time.perf_counter() - began
        began = time.perf_counter()
        stats = self.writer.load(rows.nodes, rows.rels)
        self.summary.rows_written.update(stats.by_kind)
        self.summary.observations.update(rows.kinds)
        finishing = time.perf_counter()
        self._finish(outcomes, found)
        self.summary.batches += batches
        stages = self.summary.stage_seconds
        stages["write"] += time.perf_counter() - began
        # Parts of "write": the load's summaries refresh, and the states-and-discovery step.
        stages["write_summaries"] += stats.summaries_seconds
        stages["write_finish"] += time.perf_counter() - finishing

    def _rows(
        self, items: list[ClaimedItem], results: list[EnrichmentResults]
    ) -> tuple[ObservationRows, list[Outcome], list[tuple[Identity, int]]]:
        now = datetime.now(UTC)
        rows = ObservationRows()
        outcomes: list[Outcome] = []
        found: list[tuple[Identity, int]] = []
        for item, result in zip(items, results, strict=True):
            item_rows = rows_for_results(item.identity, result, now)
            rows.extend(item_rows)
            outcomes.append(outcome_of(item, result))
            for source_result in result.results:
                counts = self.summary.sources.setdefault(source_result.source, Counter())
                counts[str(source_result.outcome)] += 1
            if item.depth < self.max_depth:
                found.extend((i, item.depth + 1) for i in item_rows.discovered)
        return rows, outcomes, found

    def _finish(self, outcomes: list[Outcome], found: list[tuple[Identity, int]]) -> None:
        """Set the nodes' states and queue what they point at, in one transaction."""
        summary = self.summary
        budget = self.max_discovered - summary.discovered

        def work(tx: ManagedTransaction) -> tuple[set[str], int]:
            finished = finish_in(tx, self.owner, outcomes, self.node_retry)
            return finished, queue_discovered_in(tx, found, budget) if budget > 0 else 0

        finished, queued = self.graph.write(work)
        summary.discovered += queued
        by_state = {
            "done": summary.done,
            "partial": summary.partial,
            "failed": summary.failed,
            "deferred": summary.deferred,
        }
        for outcome in outcomes:
            if str(outcome.item.identity.value) not in finished:
                summary.lost.append(outcome.item.key)
            else:
                by_state[outcome.state].append(outcome.item.key)


def outcome_of(item: ClaimedItem, result: EnrichmentResults) -> Outcome:
    """How one node's run ended, from its sources' results."""
    state, failures = enrichment_state(result)
    if state == "deferred":
        return Outcome(item, state, failures, retry_at=deferred_until(result))
    return Outcome(item, state, failures, needs_retry(result))


@dataclass
class EnrichedBatch:
    """A claimed batch whose sources have answered, waiting to be written; ``keeper`` renews
    its leases until then."""

    items: list[ClaimedItem]
    results: list[EnrichmentResults]
    keeper: asyncio.Future[None]


class CommitLane:
    """Writes enriched batches while the lanes go on claiming and enriching the next ones.

    A lane hands its enriched batch over (:meth:`hand_over`) and claims again at once. The
    commit lane takes every batch waiting at that moment and writes them together with one
    :meth:`BatchCommitter.commit` (one load, one finish transaction), so a write that takes
    long gathers more batches into the next one instead of holding enrichment up. At most
    ``depth`` batches wait, so enrichment never runs far ahead of the graph. A batch's leases
    are renewed until it is written; a batch handed over is always written, even after a stop.
    """

    def __init__(self, committer: BatchCommitter, depth: int) -> None:
        self._committer = committer
        self._waiting: list[EnrichedBatch] = []
        self._space = asyncio.Semaphore(max(1, depth))
        self._ready = asyncio.Event()
        self._closed = False
        self._unwritten = 0
        self._all_written = asyncio.Event()
        self._all_written.set()

    async def hand_over(self, batch: EnrichedBatch) -> None:
        """Queue ``batch`` for writing, waiting while ``depth`` batches already wait."""
        await self._space.acquire()
        self._waiting.append(batch)
        self._unwritten += 1
        self._all_written.clear()
        self._ready.set()

    @property
    def unwritten(self) -> int:
        """Batches handed over and not written yet."""
        return self._unwritten

    async def all_written(self) -> None:
        """Wait until every batch handed over so far is written (its discoveries queued)."""
        await self._all_written.wait()

    def _written(self, batches: int) -> None:
        self._unwritten -= batches
        if self._unwritten == 0:
            self._all_written.set()

    def close(self) -> None:
        """No more batches come: :meth:`run` returns once the waiting ones are written."""
        self._closed = True
        self._ready.set()

    async def run(self) -> None:
        """Write waiting batches, all of them at once each time, until closed and drained."""
        while True:
            if not self._waiting:
                if self._closed:
                    return
                await self._ready.wait()
                self._ready.clear()
                continue
            group, self._waiting = self._waiting, []
            for _ in group:
                self._space.release()
            items = [item for batch in group for item in batch.items]
            results = [result for batch in group for result in batch.results]
            try:
                write = asyncio.to_thread(self._committer.commit, items, results, len(group))
                await asyncio.shield(write)
            finally:
                for batch in group:
                    batch.keeper.cancel()
            self._written(len(group))

    def abandon(self) -> list[EnrichedBatch]:
        """The batches still waiting, taken out (after the commit lane failed)."""
        left, self._waiting = self._waiting, []
        for batch in left:
            batch.keeper.cancel()
        return left


def _failed(task: asyncio.Future[Any]) -> bool:
    """Whether ``task`` ended by raising (not by being cancelled)."""
    return task.done() and not task.cancelled() and task.exception() is not None


class _Stopped(Exception):
    """The run was asked to stop while a batch was being enriched."""


class Worker:
    """Runs claim -> enrich (in lanes) and load -> finish (in the commit lane) over the
    graph's queue."""

    def __init__(
        self,
        graph: Graph,
        config: EnrichmentConfig,
        options: WorkerOptions | None = None,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.graph = graph
        self.config = config
        self.options = options or WorkerOptions()
        self.progress = progress
        self.summary = RunSummary(self.options.worker_id)
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reserved = 0
        self._pass_started = datetime.now(UTC)
        self._committer = BatchCommitter(
            graph,
            self.options.worker_id,
            self.summary,
            config.node_retry,
            self.options.max_depth,
            self.options.max_discovered,
        )

    # -- control -------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop claiming; release batches still being enriched; finish batches being written.

        Safe to call from a signal handler or another thread.
        """
        loop, stop = self._loop, self._stop
        if loop is None or stop is None:
            return
        if loop.is_running():
            loop.call_soon_threadsafe(stop.set)
        else:
            stop.set()

    def run(self, *, handle_signals: bool = False) -> RunSummary:
        """Run until the queue is empty (or, with ``watch``, until stopped); blocking. The
        garbage collector runs less often meanwhile (:mod:`attribution.collector`)."""
        with collector.thresholds(), enrichment_runner() as runner:
            return runner.run(self.run_async(handle_signals=handle_signals))

    async def run_async(self, *, handle_signals: bool = False) -> RunSummary:
        began = time.perf_counter()
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._loop.add_signal_handler(sig, self._stop.set)
        clients = EnrichmentClients.create(self.config)
        try:
            await self._run_lanes(clients)
        finally:
            await clients.aclose()
            if handle_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    self._loop.remove_signal_handler(sig)
            summary = self.summary
            server = clients.dns_server
            summary.requests_by_server = dict(clients.gate.requests_by_server)
            summary.breaker_openings = clients.gate.breaker_openings()
            summary.registries = clients.gate.registry_counters()
            summary.dns_queries = summary.requests_by_server.get(server, 0)
            summary.rdap_cache_hits = clients.ip_rdap_cache.hits
            summary.rdap_cache_misses = clients.ip_rdap_cache.misses
            summary.as_cache_hits = clients.as_registration_cache.hits
            summary.as_cache_misses = clients.as_registration_cache.misses
            summary.seconds = time.perf_counter() - began
        return self.summary

    # -- one lane ------------------------------------------------------------------------

    def _take_budget(self) -> int:
        """How many nodes this lane may claim now, reserved against ``limit``."""
        want = self.options.batch
        if self.options.limit is not None:
            want = min(want, self.options.limit - self._reserved)
        want = max(want, 0)
        self._reserved += want
        return want

    async def _wait_stop(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when a stop was requested meanwhile."""
        assert self._stop is not None
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _run_lanes(self, clients: EnrichmentClients) -> None:
        """The claim-enrich lanes and the commit lane, until the lanes are done and every
        batch they handed over is written.

        When a lane raises, the others are cancelled (each releases the batch in its hands)
        and what was handed over is still written; when a write raises, the lanes are
        cancelled too and the batches waiting to be written are released. Then the first
        error is raised.
        """
        commits = CommitLane(self._committer, self.options.lanes)
        writer: asyncio.Future[None] = asyncio.ensure_future(commits.run())
        lanes = [
            asyncio.ensure_future(self._lane(clients, commits)) for _ in range(self.options.lanes)
        ]
        running: set[asyncio.Future[None]] = {writer, *lanes}
        while not writer.done() and any(not lane.done() for lane in lanes):
            await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            running = {f for f in running if not f.done()}
            if any(_failed(lane) for lane in lanes):
                break
        for lane in lanes:
            lane.cancel()
        await asyncio.wait(lanes)
        if writer.done():
            left = [item for batch in commits.abandon() for item in batch.items]
            await asyncio.shield(
                asyncio.to_thread(release, self.graph, self.options.worker_id, left)
            )
        else:
            commits.close()
            await asyncio.wait([writer])
        for task in (writer, *lanes):
            if _failed(task):
                task.result()

    async def _claim(self, want: int) -> Claim:
        """Lease up to ``want`` nodes (in a thread: the claim is a blocking transaction)."""
        options = self.options
        began = time.perf_counter()
        got = await asyncio.to_thread(
            claim,
            self.graph,
            options.worker_id,
            want,
            lease=options.lease,
            stale_after=options.stale_after,
            not_after=self._pass_started,
            retry_failed=options.retry_failed,
        )
        self._reserved -= want - len(got.items)
        self.summary.stage_seconds["claim"] += time.perf_counter() - began
        return got

    async def _lane(self, clients: EnrichmentClients, commits: CommitLane) -> None:
        """Claim and enrich batches and hand them to the commit lane, until the queue is empty
        (or, with ``watch``, until stopped)."""
        assert self._stop is not None
        options = self.options
        while not self._stop.is_set():
            want = self._take_budget()
            if want == 0:
                return
            got = await self._claim(want)
            if not got.items:
                if got.candidates:
                    continue  # another worker leased them first; look again
                if commits.unwritten:
                    # A batch being written may queue the nodes it points at: look again then.
                    await commits.all_written()
                    continue
                if not options.watch:
                    return
                if await self._wait_stop(options.poll_seconds):
                    return
                self._pass_started = datetime.now(UTC)  # a new pass over the queue
                continue
            self.summary.claimed.extend(i.key for i in got.items)
            if not await self._enrich_and_hand_over(got.items, clients, commits):
                return

    async def _enrich_and_hand_over(
        self, items: list[ClaimedItem], clients: EnrichmentClients, commits: CommitLane
    ) -> bool:
        """Enrich one claimed batch and queue it for writing; False when stopped meanwhile
        (the batch is then released)."""
        owner = self.options.worker_id
        keeper = asyncio.ensure_future(
            keep_leases(self.graph, owner, items, self.options.lease, self.summary)
        )
        began = time.perf_counter()
        try:
            results = await self._enrich_batch(items, clients)
            self.summary.stage_seconds["enrich"] += time.perf_counter() - began
            # Once enriched, a batch is written and finished even when a stop arrives.
            await commits.hand_over(EnrichedBatch(items, results, keeper))
        except _Stopped:
            keeper.cancel()
            self.summary.released += await asyncio.to_thread(release, self.graph, owner, items)
            return False
        except BaseException:
            # A bug in a source, or cancellation: hand the batch back before raising.
            keeper.cancel()
            await asyncio.shield(asyncio.to_thread(release, self.graph, owner, items))
            raise
        return True

    async def _enrich_batch(
        self, items: list[ClaimedItem], clients: EnrichmentClients
    ) -> list[EnrichmentResults]:
        assert self._stop is not None

        batch = asyncio.ensure_future(enrich_items(items, clients, self.progress))
        stop: asyncio.Future[Any] = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait([batch, stop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not batch.done():
            batch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await batch
            raise _Stopped
        return batch.result()


def count_claimable(
    graph: Graph, stale_after: timedelta = DEFAULT_STALE_AFTER, *, retry_failed: bool = False
) -> int:
    """How many nodes a claim could pick up now (for a progress bar's total)."""
    now = datetime.now(UTC)
    params = {
        "now": now,
        "stale": now - stale_after,
        "pass": now,
        "retry_failed": retry_failed,
        "queued_before": now - DEFAULT_REQUEUE_AFTER,
    }
    rows = graph.read(_COUNT_CLAIMABLE, params)
    return int(rows[0]["n"])
