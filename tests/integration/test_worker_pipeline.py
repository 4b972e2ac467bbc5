"""The worker's commit lane against a real Neo4j: batches handed over while a write runs go to
the graph together in the next write, every batch handed over is written before the lane
returns, and a failed write leaves the batches still waiting to be handed back.

The committer is the real :class:`~attribution.worker.BatchCommitter`, held at a gate (a
``threading.Event``) during its first write so that the test decides what waits meanwhile;
nothing depends on timing.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import pytest
from pending import ingest_pending

from attribution.db import Graph
from attribution.identities import parse_indicator
from attribution.worker import (
    BatchCommitter,
    ClaimedItem,
    CommitLane,
    EnrichedBatch,
    RunSummary,
    claim,
    release,
)
from enrichment.failures import Outcome
from enrichment.observations import EnrichmentResults, SourceResult

OWNER = "w-pipeline"
VALUES = ["a.example.test", "b.example.test", "c.example.test", "192.0.2.1", "192.0.2.2"]


def answered(item: ClaimedItem) -> EnrichmentResults:
    """One source that answered "no data": the node is done, with nothing to write."""
    subject = str(item.identity.value)
    no_data = SourceResult("dns", subject, Outcome.NO_DATA, (), "no records")
    return EnrichmentResults(subject, (no_data,))


class GatedCommitter(BatchCommitter):
    """The real committer; its first write waits for ``gate``, and ``fail`` makes it raise."""

    def __init__(self, graph: Graph, fail: bool = False) -> None:
        super().__init__(graph, OWNER, RunSummary(OWNER))
        self.started = threading.Event()
        self.gate = threading.Event()
        self.fail = fail
        self.calls: list[tuple[list[str], int]] = []

    def commit(self, items: list[ClaimedItem], results: list[Any], batches: int = 1) -> None:
        self.calls.append(([i.key for i in items], batches))
        self.started.set()
        self.gate.wait(60)
        if self.fail:
            raise RuntimeError("the graph refused the write")
        super().commit(items, results, batches)


def batches(graph: Graph, sizes: list[int]) -> list[EnrichedBatch]:
    """Claim batches of ``sizes`` and answer every node; keepers stand for lease renewal."""
    out = []
    for size in sizes:
        items = claim(graph, OWNER, size, lease=timedelta(minutes=5)).items
        assert len(items) == size
        keeper: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        out.append(EnrichedBatch(items, [answered(i) for i in items], keeper))
    return out


def node_states(graph: Graph) -> dict[str, tuple[str, str | None]]:
    rows = graph.read(
        "MATCH (n) WHERE n.indicator RETURN coalesce(n.name, n.address) AS key, "
        "n.enrich_state AS state, n.lease_owner AS owner"
    )
    return {r["key"]: (r["state"], r["owner"]) for r in rows}


def test_batches_waiting_during_a_write_are_written_together_in_the_next(graph: Graph) -> None:
    ingest_pending(graph, VALUES)
    committer = GatedCommitter(graph)

    async def scenario() -> list[EnrichedBatch]:
        lane = CommitLane(committer, depth=2)
        first, second, third = batches(graph, [1, 2, 2])
        writer = asyncio.ensure_future(lane.run())
        await lane.hand_over(first)
        await asyncio.to_thread(committer.started.wait, 60)
        await lane.hand_over(second)
        await lane.hand_over(third)
        assert lane.unwritten == 3
        lane.close()  # the lanes are done; what was handed over is still written
        committer.gate.set()
        await writer
        assert lane.unwritten == 0
        return [first, second, third]

    handed = asyncio.run(scenario())
    assert committer.calls == [
        (["ip:192.0.2.1"], 1),
        (
            [
                "ip:192.0.2.2",
                "domain:a.example.test",
                "domain:b.example.test",
                "domain:c.example.test",
            ],
            2,
        ),
    ]
    assert all(batch.keeper.cancelled() for batch in handed)
    assert committer.summary.batches == 3
    assert sorted(committer.summary.done) == sorted(parse_indicator(v).key for v in VALUES)
    assert node_states(graph) == {v: ("done", None) for v in VALUES}


def test_a_failed_write_leaves_the_waiting_batches_to_be_handed_back(graph: Graph) -> None:
    ingest_pending(graph, VALUES)
    committer = GatedCommitter(graph, fail=True)

    async def scenario() -> list[ClaimedItem]:
        lane = CommitLane(committer, depth=2)
        first, second = batches(graph, [2, 3])
        writer = asyncio.ensure_future(lane.run())
        await lane.hand_over(first)
        await asyncio.to_thread(committer.started.wait, 60)
        await lane.hand_over(second)
        committer.gate.set()
        with pytest.raises(RuntimeError, match="refused"):
            await writer
        assert first.keeper.cancelled()
        left = lane.abandon()
        assert left == [second] and second.keeper.cancelled()
        return second.items

    left = asyncio.run(scenario())
    assert release(graph, OWNER, left) == 3
    assert committer.calls == [(["ip:192.0.2.1", "ip:192.0.2.2"], 1)]
    assert node_states(graph) == {
        "192.0.2.1": ("leased", OWNER),  # its write failed: the lease lapses, then it is claimed
        "192.0.2.2": ("leased", OWNER),
        "a.example.test": ("pending", None),
        "b.example.test": ("pending", None),
        "c.example.test": ("pending", None),
    }
