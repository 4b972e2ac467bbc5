"""How enrichment runs: one interface, two engines.

``lease`` (:mod:`attribution.engines.lease`)
    Today's :class:`attribution.worker.Worker`: each process claims nodes straight from the
    graph with leases. The default when no broker is configured.
``dramatiq`` (:mod:`attribution.engines.dramatiq_engine`)
    A dispatcher marks nodes ``queued`` in the graph and sends one Dramatiq message per batch
    through a Redis broker; worker processes on any machine (:mod:`attribution.engines.
    dramatiq_worker`) lease the batch's nodes, enrich them with the registry limits held in
    that Redis, and write through the same code as the lease worker. Neo4j stays the record of
    every indicator's state; a reconciler queues again what a lost message or a killed worker
    left behind.

Both return a :class:`attribution.worker.RunSummary` from ``run()``.
"""

from __future__ import annotations

from typing import Protocol

from attribution.worker import RunSummary

ENGINES = ("lease", "dramatiq")


class EngineError(RuntimeError):
    """The engine cannot run (its broker is unreachable, say); the message says why, on one line."""


class EnrichmentEngine(Protocol):
    """Runs enrichment over the graph's queue until it is done or told to stop."""

    def run(self) -> RunSummary:
        """Enrich until every indicator the run took on is finished; blocking."""
        ...

    def request_stop(self) -> None:
        """Stop taking on work and return soon; safe from a signal handler."""
        ...
