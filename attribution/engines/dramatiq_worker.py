"""The worker side of the Dramatiq engine: the actor, and a process that runs it.

Each message names a batch (its queue token and node ids) and the dispatching run's options.
The actor leases the batch's nodes that are still queued under that token (a duplicate or
superseded message finds none and is simply acknowledged), enriches them with the registry
limits kept in the broker's Redis (``shared_limits_url``), renews the leases while it works,
and writes through :class:`attribution.worker.BatchCommitter`, the lease worker's own load and
finish code. If anything raises, the nodes go back to ``queued`` under the same token and the
exception reaches Dramatiq, which retries the message.

Every worker thread keeps one event loop and one set of enrichment clients (RDAP bootstrap,
range cache, connection pools) across messages.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import dramatiq

from attribution import collector
from attribution.db import Graph
from attribution.engines.broker import ACTOR, ACTOR_OPTIONS, QUEUE, make_broker
from attribution.engines.queue import Batch, hand_back, lease_queued
from attribution.worker import (
    BatchCommitter,
    ClaimedItem,
    RunSummary,
    default_worker_id,
    enrich_items,
    keep_leases,
)
from enrichment.clients import EnrichmentClients, enrichment_runner
from enrichment.config import EnrichmentConfig
from enrichment.observations import EnrichmentResults

DEFAULT_THREADS = 2
STOP_TIMEOUT_MS = 120_000


@dataclass
class _ThreadState:
    runner: asyncio.Runner
    clients: EnrichmentClients


@dataclass
class BatchActor:
    """What a worker process needs to work on a message: the graph and its configuration."""

    graph: Graph
    config: EnrichmentConfig
    owner: str = field(default_factory=default_worker_id)
    _local: threading.local = field(default_factory=threading.local)
    _states: list[_ThreadState] = field(default_factory=list)

    def __call__(
        self,
        token: str,
        ids: list[str],
        max_depth: int,
        max_discovered: int,
        lease_seconds: float,
    ) -> None:
        """Enrich and write one batch; nothing to do when its nodes are no longer queued."""
        lease = timedelta(seconds=lease_seconds)
        items = lease_queued(self.graph, Batch(token, ids), self.owner, lease)
        if not items:
            return
        summary = RunSummary(self.owner, engine="dramatiq")
        committer = BatchCommitter(
            self.graph, self.owner, summary, self.config.node_retry, max_depth, max_discovered
        )
        state = self._thread_state()
        try:
            state.runner.run(self._work(items, state.clients, committer, lease))
        except BaseException:
            hand_back(self.graph, self.owner, items)
            raise

    async def _work(
        self,
        items: list[ClaimedItem],
        clients: EnrichmentClients,
        committer: BatchCommitter,
        lease: timedelta,
    ) -> None:
        keeper = asyncio.ensure_future(
            keep_leases(self.graph, self.owner, items, lease, committer.summary)
        )
        try:
            results: list[EnrichmentResults] = await enrich_items(items, clients)
            await asyncio.to_thread(committer.commit, items, results)
        finally:
            keeper.cancel()

    def _thread_state(self) -> _ThreadState:
        state: _ThreadState | None = getattr(self._local, "state", None)
        if state is None:
            runner = enrichment_runner()
            clients = runner.run(_make_clients(self.config))
            state = _ThreadState(runner, clients)
            self._local.state = state
            self._states.append(state)
        return state

    def close(self) -> None:
        """Release every thread's connections and event loop."""
        for state in self._states:
            # Each thread's connections (HTTP and the Redis limit store) close in its own loop.
            state.runner.run(state.clients.aclose())
            state.runner.close()
        self._states.clear()


async def _make_clients(config: EnrichmentConfig) -> EnrichmentClients:
    return EnrichmentClients.create(config)


def serve(
    url: str,
    graph: Graph,
    config: EnrichmentConfig,
    stop: threading.Event,
    *,
    threads: int = DEFAULT_THREADS,
) -> None:
    """Work on the broker's enrichment messages until ``stop`` is set; then finish the batches
    in hand and return (their messages are acknowledged, none is taken half-done)."""
    broker = make_broker(url)
    actor = BatchActor(graph, replace(config, shared_limits_url=url))
    dramatiq.Actor(
        _bound(actor),
        broker=broker,
        actor_name=ACTOR,
        queue_name=QUEUE,
        priority=0,
        options=dict(ACTOR_OPTIONS),
    )
    worker = dramatiq.Worker(broker, queues={QUEUE}, worker_threads=threads)
    # One message in hand per thread: a worker killed outright strands no prefetched batches.
    worker.queue_prefetch = threads
    with collector.thresholds():
        worker.start()
        try:
            stop.wait()
        finally:
            worker.stop(timeout=STOP_TIMEOUT_MS)
            actor.close()
            broker.close()


def _bound(actor: BatchActor) -> Any:
    """A plain function for Dramatiq to call (it inspects the callable it is given)."""

    def enrich_batch(
        token: str, ids: list[str], max_depth: int, max_discovered: int, lease_seconds: float
    ) -> None:
        actor(token, ids, max_depth, max_discovered, lease_seconds)

    return enrich_batch
