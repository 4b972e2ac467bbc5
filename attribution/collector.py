"""How often the cyclic garbage collector runs during long, allocation-heavy work.

CPython starts a collection of the youngest generation after every 700 container objects
allocated and not yet freed, and the older generations after every 10 of those. An enrichment
worker parses thousands of DNS answers and RDAP documents a second: millions of short-lived
objects, freed by reference counting, almost none of them in a cycle. Measured on the
enrichment benchmark (``python -m benchmarks.enrich --size 2000 --no-limit``), the collector
ran about 1,600 times in a 16 s run and held the interpreter for 1.9 s of it, time the event
loop could not use; with :data:`WORKER_THRESHOLDS` it ran 14 times, for 0.3 s.

:func:`thresholds` applies other thresholds for the length of a block and puts the previous
ones back after it, so code that runs a worker inside another program (the tests, the
benchmarks) leaves the program's collector as it found it. Cycles are still collected, only
in larger batches; reference counting frees everything else at once, as before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["WORKER_THRESHOLDS", "thresholds"]

WORKER_THRESHOLDS = (50_000, 20, 20)
"""Collector thresholds while an enrichment worker runs (``gc.set_threshold`` arguments)."""


@contextmanager
def thresholds(values: tuple[int, int, int] = WORKER_THRESHOLDS) -> Iterator[None]:
    """Run the block with the collector's thresholds set to ``values``."""
    before = gc.get_threshold()
    gc.set_threshold(*values)
    try:
        yield
    finally:
        gc.set_threshold(*before)
