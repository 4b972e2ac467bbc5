"""The Dramatiq engine's dispatching side: queue batches, start local workers, reconcile, wait.

One run (:meth:`DramatiqEngine.run`):

1. checks that the broker answers (else :class:`EngineError`, one line);
2. starts ``workers`` local worker processes (``attribution worker --engine dramatiq``; none
   with 0, when workers run elsewhere against the same broker and graph);
3. every ``pass_seconds``: dispatches claimable nodes in batches (one write transaction and one
   message per batch, see :mod:`attribution.engines.queue`), and reconciles (queues again the
   run's nodes that stayed queued longer than ``requeue_after`` or whose lease lapsed);
4. stops when none of the run's nodes is queued or leased any more (per the graph) and nothing
   new was dispatched; stops its workers with SIGTERM (they finish the batch in hand);
5. returns a :class:`RunSummary` read from the graph: the run's nodes by state.

A message that cannot be sent (Redis restarting) sets its nodes back to pending; the next pass
dispatches them again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dramatiq.errors
import redis

from attribution.db import Graph
from attribution.engines import EngineError
from attribution.engines.broker import batch_message, check_broker, make_broker
from attribution.engines.queue import (
    Batch,
    DispatchPolicy,
    dispatch,
    reconcile,
    run_states,
    unqueue,
)
from attribution.worker import (
    DEFAULT_BATCH,
    DEFAULT_LEASE,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_DISCOVERED,
    DEFAULT_REQUEUE_AFTER,
    DEFAULT_STALE_AFTER,
    RunSummary,
    default_worker_id,
)

DEFAULT_WORKERS = 2
DEFAULT_PASS_SECONDS = 2.0
WORKER_STOP_TIMEOUT_S = 150.0
Counters = dict[str, dict[str, int]]


def default_run_id() -> str:
    """``run:`` and the dispatching process's worker id (host, pid, random suffix)."""
    return f"run:{default_worker_id()}"


@dataclass(frozen=True)
class DramatiqOptions:
    """What to dispatch, how batches are worked on, and how the run watches over them."""

    run_id: str = field(default_factory=default_run_id)
    batch: int = DEFAULT_BATCH
    limit: int | None = None
    max_depth: int = DEFAULT_MAX_DEPTH
    max_discovered: int = DEFAULT_MAX_DISCOVERED
    stale_after: timedelta = DEFAULT_STALE_AFTER
    lease: timedelta = DEFAULT_LEASE
    retry_failed: bool = False
    requeue_after: timedelta = DEFAULT_REQUEUE_AFTER
    pass_seconds: float = DEFAULT_PASS_SECONDS
    workers: int = DEFAULT_WORKERS

    def __post_init__(self) -> None:
        if self.batch < 1 or self.workers < 0:
            raise ValueError("batch must be at least 1 and workers not negative")
        if self.limit is not None and self.limit < 0:
            raise ValueError("limit must not be negative")
        if min(self.lease, self.requeue_after).total_seconds() <= 0 or self.pass_seconds <= 0:
            raise ValueError("lease, requeue_after and pass_seconds must be positive")


def counter_difference(before: Counters, after: Counters) -> Counters:
    """Per registry and counter, ``after`` minus ``before`` (registries with no change omitted)."""
    out: Counters = {}
    for registry, counts in after.items():
        earlier = before.get(registry, {})
        changed = {name: n - earlier.get(name, 0) for name, n in counts.items()}
        if any(changed.values()):
            out[registry] = changed
    return out


class DramatiqEngine:
    """Dispatches the graph's queue to Dramatiq workers and waits until the run is finished."""

    def __init__(
        self,
        graph: Graph,
        url: str,
        options: DramatiqOptions,
        *,
        worker_command: Sequence[str] = (),
        worker_env: Mapping[str, str] | None = None,
        counters: Callable[[], Counters | None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.graph = graph
        self.url = url
        self.options = options
        self.worker_command = list(worker_command)
        self.worker_env = dict(worker_env if worker_env is not None else os.environ)
        self.counters = counters
        self.progress = progress
        self.summary = RunSummary(options.run_id, engine="dramatiq")
        self._stop = threading.Event()
        self._dispatched: set[str] = set()
        self._finished = 0
        self.workers: list[subprocess.Popen[bytes]] = []

    def request_stop(self) -> None:
        self._stop.set()

    def run(self) -> RunSummary:
        began = time.perf_counter()
        check_broker(self.url)
        before = self.counters() if self.counters else None
        broker = make_broker(self.url)
        policy = DispatchPolicy(
            self.options.run_id,
            datetime.now(UTC),
            self.options.stale_after,
            self.options.retry_failed,
            self.options.requeue_after,
        )
        try:
            self._start_workers()
            while not self._stop.is_set():
                sent = self._dispatch_pass(broker, policy)
                if not sent and self._outstanding() == 0:
                    break
                self._check_workers()
                self._stop.wait(self.options.pass_seconds)
        finally:
            self._stop_workers()
            broker.close()
        self._fill_summary(before)
        self.summary.seconds = time.perf_counter() - began
        return self.summary

    # -- dispatching ---------------------------------------------------------------------

    def _budget(self) -> int:
        if self.options.limit is None:
            return self.options.batch
        return max(0, min(self.options.batch, self.options.limit - len(self._dispatched)))

    def _dispatch_pass(self, broker: dramatiq.Broker, policy: DispatchPolicy) -> int:
        """Reconcile, then dispatch new work until none is left; returns the nodes sent."""
        sent = 0
        grace = self.options.lease / 3
        while not self._stop.is_set():
            batch = reconcile(self.graph, policy, self.options.batch, grace)
            if not batch.ids:
                break
            sent += self._send(broker, batch)
        while not self._stop.is_set():
            budget = self._budget()
            batch = dispatch(self.graph, policy, budget) if budget else Batch("", [])
            if not batch.ids:
                break
            self._dispatched.update(batch.ids)
            sent += self._send(broker, batch)
        return sent

    def _send(self, broker: dramatiq.Broker, batch: Batch) -> int:
        payload = {
            "token": batch.token,
            "ids": batch.ids,
            "max_depth": self.options.max_depth,
            "max_discovered": self.options.max_discovered,
            "lease_seconds": self.options.lease.total_seconds(),
        }
        try:
            broker.enqueue(batch_message(payload))
        except (redis.RedisError, dramatiq.errors.ConnectionError, OSError):
            # Maybe sent, maybe not: the nodes go back to pending, and a message that did
            # arrive finds its token gone. The next pass dispatches them again.
            unqueue(self.graph, batch)
            self._stop.wait(self.options.pass_seconds)
            return 0
        self.summary.batches += 1
        return len(batch.ids)

    def _outstanding(self) -> int:
        states = run_states(self.graph, self.options.run_id)
        finished = sum(len(v) for k, v in states.items() if k not in ("queued", "leased"))
        if self.progress and finished > self._finished:
            self.progress(finished - self._finished)
        self._finished = max(self._finished, finished)
        return len(states.get("queued", [])) + len(states.get("leased", []))

    def _fill_summary(self, before: Counters | None) -> None:
        states = run_states(self.graph, self.options.run_id)
        summary = self.summary
        summary.claimed = sorted(k for keys in states.values() for k in keys)
        summary.done = states.get("done", [])
        summary.partial = states.get("partial", [])
        summary.failed = states.get("failed", [])
        summary.deferred = states.get("deferred", [])
        summary.lost = states.get("queued", []) + states.get("leased", [])
        # The counters of the run: the difference of two snapshots, when both could be read.
        after = self.counters() if self.counters else None
        if before is not None and after is not None:
            summary.registries = counter_difference(before, after)

    # -- local worker processes ----------------------------------------------------------

    def _start_workers(self) -> None:
        if not self.options.workers:
            return
        if not self.worker_command:
            raise EngineError("no worker command to start local workers with")
        env = {**self.worker_env, "REDIS_URL": self.url}
        for _ in range(self.options.workers):
            self.workers.append(subprocess.Popen(self.worker_command, env=env))

    def _check_workers(self) -> None:
        """A local worker that died is started again, so the run cannot stall."""
        env = {**self.worker_env, "REDIS_URL": self.url}
        for index, process in enumerate(self.workers):
            if process.poll() is not None:
                self.workers[index] = subprocess.Popen(self.worker_command, env=env)

    def _stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + WORKER_STOP_TIMEOUT_S
        for process in self.workers:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers.clear()
