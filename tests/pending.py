"""Pending indicators in the graph, as intake leaves them for the enrichment workers."""

from __future__ import annotations

from datetime import UTC, datetime

from attribution.db import Graph
from attribution.identities import parse_indicator
from attribution.rows import Rows, Seen
from attribution.writer import GraphWriter


def ingest_pending(graph: Graph, values: list[str]) -> None:
    """Write ``values`` as indicators pending enrichment at depth 0, seen now."""
    rows = Rows()
    seen = Seen.at(datetime.now(UTC))
    for value in values:
        props = {"indicator": True, "enrich_state": "pending", "enrich_depth": 0}
        rows.node(parse_indicator(value), props, "ingest:test", seen)
    GraphWriter(graph).load(rows.nodes, rows.rels)
