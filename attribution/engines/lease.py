"""The lease engine: :class:`attribution.worker.Worker` behind the engine interface."""

from __future__ import annotations

from collections.abc import Callable

from attribution.db import Graph
from attribution.worker import RunSummary, Worker, WorkerOptions
from enrichment.config import EnrichmentConfig


class LeaseEngine:
    """Claims nodes straight from the graph in this process (SIGTERM/SIGINT stop it cleanly)."""

    def __init__(
        self,
        graph: Graph,
        config: EnrichmentConfig,
        options: WorkerOptions,
        *,
        progress: Callable[[int], None] | None = None,
        handle_signals: bool = False,
    ) -> None:
        self.worker = Worker(graph, config, options, progress=progress)
        self.handle_signals = handle_signals

    def run(self) -> RunSummary:
        return self.worker.run(handle_signals=self.handle_signals)

    def request_stop(self) -> None:
        self.worker.request_stop()
