"""What every benchmark shares: a dedicated server instance and the figures' print format.

Benchmarks never touch the user's own graph: they start (or reuse) a separate local instance
named ``bench`` on its own ports, or use ``NEO4J_URI`` when it is set (that database is wiped).
``ATTRIBUTION_BENCH_INSTANCE``, ``ATTRIBUTION_BENCH_BOLT_PORT`` and
``ATTRIBUTION_BENCH_HTTP_PORT`` name another instance, so two benchmarks can run side by side.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from attribution.db import Graph, open_driver
from attribution.neo4j_server import LocalNeo4j
from attribution.settings import load_settings

BENCH_INSTANCE = os.environ.get("ATTRIBUTION_BENCH_INSTANCE", "bench")
BENCH_BOLT_PORT = int(os.environ.get("ATTRIBUTION_BENCH_BOLT_PORT", "7688"))
BENCH_HTTP_PORT = int(os.environ.get("ATTRIBUTION_BENCH_HTTP_PORT", "7475"))


def bench_instance() -> LocalNeo4j | None:
    """The local benchmark instance (None when ``NEO4J_URI`` names another server)."""
    settings = load_settings()
    if settings.neo4j.external:
        return None
    neo = replace(settings.neo4j, bolt_port=BENCH_BOLT_PORT, http_port=BENCH_HTTP_PORT)
    return LocalNeo4j(settings.home, neo, instance=BENCH_INSTANCE)


def bench_graph() -> Graph:
    """Connect to the benchmark instance, starting it when needed."""
    # Deadlocks between concurrent writers are retried by the driver; its per-retry warnings
    # would bury the figures.
    logging.getLogger("neo4j").setLevel(logging.ERROR)
    settings = load_settings()
    local = bench_instance()
    if local is not None:
        local.start(progress=True)
        # The bench instance keeps its own password file.
        neo = replace(local.settings, password=local.password())
        settings = replace(settings, neo4j=neo)
    return Graph(open_driver(settings), settings.neo4j.database)


def bench_server_env() -> dict[str, str]:
    """Neo4j's own variables naming the benchmark's server, for a benchmark's child process."""
    neo = load_settings().neo4j
    local = bench_instance()
    if local is None:
        uri, password = neo.uri or "", neo.password or ""
    else:
        uri, password = f"bolt://127.0.0.1:{BENCH_BOLT_PORT}", local.password()
    return {
        "NEO4J_URI": uri,
        "NEO4J_USERNAME": neo.username,
        "NEO4J_PASSWORD": password,
        "NEO4J_DATABASE": neo.database,
    }


def wipe(graph: Graph) -> None:
    """Empty the database in bounded transactions."""
    graph.wipe()


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def _milliseconds(fn: Callable[[], Any]) -> float:
    """Milliseconds one call of ``fn`` takes."""
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


def timed(fn: Callable[[], Any], warmup: int, runs: int) -> list[float]:
    """Milliseconds of each of ``runs`` calls of ``fn``, after ``warmup`` unmeasured ones."""
    for _ in range(warmup):
        fn()
    return [_milliseconds(fn) for _ in range(runs)]


def timed_beside(
    fn: Callable[[], Any], base: Callable[[], Any], warmup: int, runs: int
) -> tuple[list[float], list[float]]:
    """Milliseconds of ``runs`` calls of ``fn`` and of ``base``, taken alternately (after
    ``warmup`` unmeasured pairs), so the baseline sees the machine as the measure does."""
    for _ in range(warmup):
        fn()
        base()
    measured: list[float] = []
    baseline: list[float] = []
    for _ in range(runs):
        measured.append(_milliseconds(fn))
        baseline.append(_milliseconds(base))
    return measured, baseline


def emit(figures: dict[str, Any]) -> None:
    """The benchmark's last line: one JSON object."""
    sys.stdout.flush()
    print(json.dumps(figures, sort_keys=True))
