"""How often the cyclic garbage collector runs during long, allocation-heavy work.

CPython starts a collection of the youngest generation after every 700 container objects
allocated and not yet freed, and the older generations after every 10 of those. An enrichment
worker parses thousands of DNS answers and RDAP documents a second, and a scoring run reads
every fact of the graph into Python before it packs them into arrays: millions of short-lived
objects, freed by reference counting, almost none of them in a cycle. Timed with
``gc.callbacks``, the collector held the interpreter

- in an enrichment worker (``python -m benchmarks.enrich --size 2000 --no-limit``): 1.9 s of a
  16 s run, in about 1,600 collections; 0.3 s in 14 with :data:`BULK_THRESHOLDS`;
- in a scoring run of 200,000 nodes (``python -m benchmarks.score``): 3.9 s of 47.5 s, in about
  3,700 collections; 0.6 s in 38, with the same peak memory.

:func:`thresholds` applies other thresholds for the length of a block and puts the previous
ones back after it, so code that runs a worker or a scoring run inside another program (the
tests, the benchmarks) leaves that program's collector as it found it. Cycles are still
collected, only in larger batches; reference counting frees everything else at once, as before.
Use it around one long operation of a process, not around work that many threads start and end
at their own times: the thresholds are the process's, and the last block to end restores its own.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["BULK_THRESHOLDS", "thresholds"]

BULK_THRESHOLDS = (50_000, 20, 20)
"""Collector thresholds while an enrichment worker or a scoring run works
(``gc.set_threshold`` arguments)."""


@contextmanager
def thresholds(values: tuple[int, int, int] = BULK_THRESHOLDS) -> Iterator[None]:
    """Run the block with the collector's thresholds set to ``values``."""
    before = gc.get_threshold()
    gc.set_threshold(*values)
    try:
        yield
    finally:
        gc.set_threshold(*before)
