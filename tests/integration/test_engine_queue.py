"""The Dramatiq engine's graph statements against a real Neo4j: dispatch, lease by token,
reconcile, hand back, unqueue, and the deferred state the shared finish writes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pending import ingest_pending

from attribution.db import Graph
from attribution.engines.queue import (
    Batch,
    DispatchPolicy,
    dispatch,
    hand_back,
    lease_queued,
    reconcile,
    run_states,
    unqueue,
)
from attribution.worker import Outcome, claim, count_claimable, finish

VALUES = ["a.example.test", "b.example.test", "c.example.test", "192.0.2.1", "192.0.2.2"]
KEYS = [
    "domain:a.example.test",
    "domain:b.example.test",
    "domain:c.example.test",
    "ip:192.0.2.1",
    "ip:192.0.2.2",
]


def node(graph: Graph, value: str) -> dict[str, Any]:
    rows = graph.read(
        "MATCH (n) WHERE n.name = $v OR n.address = $v RETURN n.enrich_state AS state, "
        "n.queue_owner AS token, n.enrich_run AS run, n.lease_owner AS owner, "
        "n.enrich_attempts AS attempts, n.enrich_retry_at AS retry_at",
        {"v": value},
    )
    return rows[0]


def policy(run: str = "run-1", **kwargs: Any) -> DispatchPolicy:
    return DispatchPolicy(run, datetime.now(UTC), **kwargs)


def test_dispatch_queues_claimable_nodes_once_under_one_token(graph: Graph) -> None:
    ingest_pending(graph, VALUES)
    first = dispatch(graph, policy(), 3)
    second = dispatch(graph, policy(), 3)
    third = dispatch(graph, policy(), 3)
    assert (len(first.ids), len(second.ids), third.ids) == (3, 2, [])
    assert first.token.startswith("run-1/") and first.token != second.token
    assert {node(graph, v)["state"] for v in VALUES} == {"queued"}
    assert {node(graph, v)["run"] for v in VALUES} == {"run-1"}
    assert run_states(graph, "run-1") == {"queued": KEYS}
    # Queued nodes are no lease worker's to claim until they have waited too long.
    assert claim(graph, "lease-worker", 10).items == []
    assert count_claimable(graph) == 0


def test_a_message_leases_only_its_own_queued_nodes_once(graph: Graph) -> None:
    ingest_pending(graph, VALUES)
    started = policy(stale_after=timedelta(0))
    batch = dispatch(graph, started, 5)
    assert lease_queued(graph, Batch("run-1/other", batch.ids), "w1") == []
    items = lease_queued(graph, batch, "w1")
    assert sorted(i.key for i in items) == KEYS
    assert lease_queued(graph, batch, "w2") == []  # a duplicate message finds nothing
    assert {node(graph, v)["owner"] for v in VALUES} == {"w1"}
    outcomes = [Outcome(i, "done", []) for i in items]
    assert finish(graph, "w1", outcomes) == set(VALUES)
    assert run_states(graph, "run-1") == {"done": KEYS}
    assert {node(graph, v)["token"] for v in VALUES} == {None}
    # Finished in this run: not dispatched again, even with stale_after zero.
    assert dispatch(graph, started, 5).ids == []


def test_hand_back_requeues_under_the_same_token(graph: Graph) -> None:
    ingest_pending(graph, VALUES[:2])
    batch = dispatch(graph, policy(), 5)
    items = lease_queued(graph, batch, "w1")
    assert hand_back(graph, "w2", items) == 0
    assert hand_back(graph, "w1", items) == 2
    assert {node(graph, v)["state"] for v in VALUES[:2]} == {"queued"}
    assert [i.key for i in lease_queued(graph, batch, "w2")] == KEYS[:2]


def test_reconcile_requeues_overdue_queued_and_lapsed_leases_under_a_new_token(
    graph: Graph,
) -> None:
    ingest_pending(graph, VALUES[:4])
    quick = policy(requeue_after=timedelta(milliseconds=300))
    queued = dispatch(graph, quick, 2)
    leased = dispatch(graph, quick, 2)
    lease_queued(graph, leased, "doomed", timedelta(milliseconds=200))
    assert reconcile(graph, quick, 10, timedelta(0)).ids == []
    time.sleep(0.5)
    again = reconcile(graph, quick, 10, timedelta(0))
    assert sorted(again.ids) == sorted(queued.ids + leased.ids)
    assert {node(graph, v)["token"] for v in VALUES[:4]} == {again.token}
    assert {node(graph, v)["owner"] for v in VALUES[:4]} == {None}
    assert lease_queued(graph, queued, "w1") == []  # the superseded message
    assert len(lease_queued(graph, again, "w1")) == 4
    # Another run's nodes are not this run's to reconcile.
    assert reconcile(graph, policy("run-2"), 10, timedelta(0)).ids == []


def test_unqueue_sets_an_unsent_batch_back_to_pending(graph: Graph) -> None:
    ingest_pending(graph, VALUES[:3])
    batch = dispatch(graph, policy(), 5)
    assert unqueue(graph, Batch("run-1/other", batch.ids)) == 0
    assert unqueue(graph, batch) == 3
    assert {(node(graph, v)["state"], node(graph, v)["token"]) for v in VALUES[:3]} == {
        ("pending", None)
    }
    assert len(dispatch(graph, policy(), 5).ids) == 3


def test_a_deferred_outcome_waits_for_its_time_without_counting_an_attempt(
    graph: Graph,
) -> None:
    ingest_pending(graph, VALUES[:1])
    items = claim(graph, "w1", 5).items
    until = datetime.now(UTC) + timedelta(hours=3)
    assert finish(graph, "w1", [Outcome(items[0], "deferred", ["rdap: quota"], retry_at=until)])
    found = node(graph, VALUES[0])
    assert (found["state"], found["attempts"]) == ("deferred", None)
    assert found["retry_at"].to_native() == until
    assert count_claimable(graph, retry_failed=True) == 0
    assert claim(graph, "w2", 5, retry_failed=True).items == []
    later = until + timedelta(seconds=1)
    assert [i.key for i in claim(graph, "w2", 5, now=later).items] == KEYS[:1]
