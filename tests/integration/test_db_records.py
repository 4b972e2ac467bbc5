"""Rows read through :class:`attribution.db.Graph` are the driver's ``Record.data``, value for
value, whether a row takes the fast path (plain values) or the driver's exporter."""

from __future__ import annotations

from typing import Any

from attribution.db import Graph, record_dict

ROWS = """
CREATE (a:Domain {name: 'a.test', tags: ['x', 'y']})-[r:RESOLVES_TO {min_ttl: 60}]->
       (b:IPAddress {address: '192.0.2.1'})
WITH a, r, b
MATCH p = (a)-[:RESOLVES_TO]->(b)
UNWIND range(1, 3) AS i
RETURN i, 'text' + i AS text, i / 2.0 AS ratio, i % 2 = 0 AS even, null AS nothing,
       datetime({epochMillis: 1700000000000 + i}) AS moment, date('2026-01-0' + i) AS day,
       localtime('10:00') AS clock, time('10:00Z') AS zoned, duration({days: i}) AS span,
       ['a', 'b', toString(i)] AS names, [[i, i + 1], []] AS nested,
       CASE WHEN i = 1 THEN a END AS node, CASE WHEN i = 2 THEN r END AS rel,
       CASE WHEN i = 3 THEN p END AS path, CASE WHEN i = 1 THEN {k: a, n: i} END AS map,
       CASE WHEN i = 2 THEN [a, b] END AS nodes, point({x: i, y: 2}) AS spot,
       CASE WHEN i = 3 THEN localdatetime('2026-01-01T10:00') END AS local
"""


def test_every_row_is_the_drivers_record_data(graph: Graph) -> None:
    def work(tx: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return [(record_dict(r), r.data()) for r in tx.run(ROWS)]

    pairs = graph.write(work)
    assert len(pairs) == 3
    for fast, driver in pairs:
        assert fast == driver
        assert list(fast) == list(driver)
    assert pairs[0][0]["node"] == {"name": "a.test", "tags": ["x", "y"]}
    assert pairs[1][0]["rel"] == ({"name": "a.test", "tags": ["x", "y"]}, "RESOLVES_TO",
                                  {"address": "192.0.2.1"})  # fmt: skip


def test_graph_reads_and_pages_give_the_same_rows(graph: Graph) -> None:
    query = "UNWIND range(1, 5) AS i RETURN i, ['n' + i] AS names, {i: i} AS map"
    rows = graph.read(query)
    assert rows == [{"i": i, "names": [f"n{i}"], "map": {"i": i}} for i in range(1, 6)]
    columns, page, more = graph.read_page(query, skip=1, take=2)
    assert (columns, page, more) == (["i", "names", "map"], rows[1:3], True)
