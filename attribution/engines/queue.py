"""Neo4j as the record of a Dramatiq run: which nodes are queued, for which message, by which run.

The broker carries messages; the graph says what each indicator's state is. Every statement
here runs in a write transaction of its own (one per batch), with the same two-step pattern
as the lease worker's claim: the first statement finds the nodes and write-locks them, the
second re-reads each locked node and changes only those still in the expected state, so two
processes racing for the same nodes never both win.

dispatch
    Claimable nodes (the lease worker's :data:`attribution.worker.CLAIMABLE`: pending, stale,
    due for a retry, lease lapsed, or queued too long ago) become ``queued`` with
    ``queue_owner`` (the batch's token, which its message carries), ``queued_at`` and
    ``enrich_run`` (the dispatching run).
reconcile
    The run's nodes that stayed ``queued`` longer than ``requeue_after`` or whose lease lapsed
    (a worker killed mid-batch) are queued again under a new token.
lease_queued
    A worker leases the nodes of its message that are still ``queued`` under the message's
    token: a duplicate or superseded message finds nothing to do.
hand_back
    A batch that failed in a worker goes back to ``queued`` under the same token, so the
    broker's retry of the message finds it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from neo4j import ManagedTransaction

from attribution.db import Graph
from attribution.identities import Identity
from attribution.worker import (
    CANDIDATES,
    CLAIMABLE,
    DEFAULT_LEASE,
    DEFAULT_REQUEUE_AFTER,
    DEFAULT_STALE_AFTER,
    NODE_KIND,
    NODE_VALUE,
    ClaimedItem,
    claim_params,
    each_target,
)

_LOCK = """
UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id
SET n._claim_lock = true
REMOVE n._claim_lock
RETURN id
"""

_QUEUE = f"""
UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id AND {CLAIMABLE}
SET n.enrich_state = 'queued', n.queue_owner = $token, n.enrich_run = $run,
    n.queued_at = datetime.realtime(), n.lease_owner = null, n.lease_expires = null
RETURN id
"""

_OVERDUE = (
    "MATCH (n:LABEL) WHERE n.enrich_run = $run"
    " AND ((n.enrich_state = 'queued' AND n.queued_at < $queued_before)"
    " OR (n.enrich_state = 'leased' AND n.lease_expires < $now)) RETURN n"
)
_RECONCILE_CANDIDATES = f"""
CALL () {{
{each_target(_OVERDUE)}
}}
WITH n LIMIT $limit
RETURN elementId(n) AS id
"""

_LEASE_QUEUED = f"""
UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id AND n.enrich_state = 'queued' AND n.queue_owner = $token
SET n.enrich_state = 'leased', n.lease_owner = $owner,
    n.lease_expires = datetime.realtime() + duration({{milliseconds: $lease_ms}})
RETURN id, {NODE_KIND} AS kind, {NODE_VALUE} AS value, coalesce(n.enrich_depth, 0) AS depth
ORDER BY coalesce(n.enrich_depth, 0), value
"""

_HAND_BACK = """
UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id AND n.enrich_state = 'leased' AND n.lease_owner = $owner
SET n.enrich_state = 'queued', n.queued_at = datetime.realtime(),
    n.lease_owner = null, n.lease_expires = null
RETURN count(n) AS handed_back
"""

_UNQUEUE = """
UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id AND n.enrich_state = 'queued' AND n.queue_owner = $token
SET n.enrich_state = 'pending', n.queue_owner = null, n.queued_at = null
RETURN count(n) AS unqueued
"""

_OF_RUN = "MATCH (n:LABEL) WHERE n.enrich_run = $run RETURN n"
_RUN_STATES = f"""
CALL () {{
{each_target(_OF_RUN)}
}}
RETURN {NODE_KIND} AS kind, {NODE_VALUE} AS value, n.enrich_state AS state
"""


def new_token(run: str) -> str:
    """A batch's queue token: the run id and a random suffix."""
    return f"{run}/{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Batch:
    """Nodes queued under one token: what one message names."""

    token: str
    ids: list[str]


@dataclass(frozen=True)
class DispatchPolicy:
    """Which nodes a dispatch may queue: the lease worker's claim rules, as of one run."""

    run: str
    started: datetime
    stale_after: timedelta = DEFAULT_STALE_AFTER
    retry_failed: bool = False
    requeue_after: timedelta = DEFAULT_REQUEUE_AFTER

    def params(self, limit: int, now: datetime | None = None) -> dict[str, Any]:
        """The claim statements' parameters; finished in this run means not stale."""
        moment = now or datetime.now(UTC)
        stale = min(moment - self.stale_after, self.started)
        params = claim_params(
            self.run,
            limit,
            DEFAULT_LEASE,
            stale,
            moment,
            retry_failed=self.retry_failed,
            pass_started=self.started,
            requeue_after=self.requeue_after,
        )
        return {**params, "run": self.run}


def _queue(tx: ManagedTransaction, ids: list[str], params: dict[str, Any]) -> list[str]:
    if not ids:
        return []
    tx.run(_LOCK, {"ids": ids}).consume()
    return [r["id"] for r in tx.run(_QUEUE, {**params, "ids": ids})]


def dispatch(graph: Graph, policy: DispatchPolicy, limit: int) -> Batch:
    """Queue up to ``limit`` claimable nodes under a new token, in one write transaction."""
    token = new_token(policy.run)
    params = {**policy.params(limit), "token": token}

    def work(tx: ManagedTransaction) -> list[str]:
        ids = [r["id"] for r in tx.run(CANDIDATES, params)]
        return _queue(tx, ids, params)

    return Batch(token, graph.write(work))


def reconcile(graph: Graph, policy: DispatchPolicy, limit: int, lease_grace: timedelta) -> Batch:
    """Queue again, under a new token, up to ``limit`` of the run's nodes that stayed queued
    longer than the policy's ``requeue_after`` or whose lease lapsed ``lease_grace`` ago."""
    token = new_token(policy.run)
    now = datetime.now(UTC)
    params = {**policy.params(limit, now), "token": token}
    overdue = {**params, "now": now - lease_grace}

    def work(tx: ManagedTransaction) -> list[str]:
        ids = [r["id"] for r in tx.run(_RECONCILE_CANDIDATES, overdue)]
        return _queue(tx, ids, params)

    return Batch(token, graph.write(work))


def unqueue(graph: Graph, batch: Batch) -> int:
    """Set a batch whose message could not be sent back to pending; returns how many."""
    rows = graph.run_write(_UNQUEUE, {"ids": batch.ids, "token": batch.token})
    return int(rows[0]["unqueued"]) if rows else 0


def lease_queued(
    graph: Graph, batch: Batch, owner: str, lease: timedelta = DEFAULT_LEASE
) -> list[ClaimedItem]:
    """Lease to ``owner`` the nodes of ``batch`` still queued under its token."""
    params = {
        "ids": batch.ids,
        "token": batch.token,
        "owner": owner,
        "lease_ms": round(lease.total_seconds() * 1000),
    }

    def work(tx: ManagedTransaction) -> list[ClaimedItem]:
        tx.run(_LOCK, params).consume()
        rows = tx.run(_LEASE_QUEUED, params).data()
        return [
            ClaimedItem(r["id"], Identity(r["kind"], r["value"]), int(r["depth"])) for r in rows
        ]

    return graph.write(work)


def hand_back(graph: Graph, owner: str, items: list[ClaimedItem]) -> int:
    """Put ``owner``'s leased nodes back in the queue under their token; returns how many."""
    if not items:
        return 0
    rows = graph.run_write(_HAND_BACK, {"ids": [i.id for i in items], "owner": owner})
    return int(rows[0]["handed_back"]) if rows else 0


def run_states(graph: Graph, run: str) -> dict[str, list[str]]:
    """The keys (``kind:value``) of the run's nodes, by enrichment state."""
    states: dict[str, list[str]] = {}
    for row in graph.read(_RUN_STATES, {"run": run}):
        key = Identity(row["kind"], row["value"]).key
        states.setdefault(str(row["state"]), []).append(key)
    return {state: sorted(keys) for state, keys in states.items()}


def outstanding(graph: Graph, run: str) -> int:
    """How many of the run's nodes are still queued or leased."""
    states = run_states(graph, run)
    return len(states.get("queued", [])) + len(states.get("leased", []))
