"""The graph through the routing scheme (``neo4j://``), as on a cluster or Aura: reads are
routed read transactions, writes write transactions, bookmarks carry causality across
processes. Tested against the local server, which routes to itself."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from clirun import run_attribution
from neo4j.exceptions import ClientError

from attribution.db import Graph, open_driver
from attribution.settings import Settings


def _routed(settings: Settings) -> Graph:
    neo = settings.neo4j
    uri = f"neo4j://127.0.0.1:{neo.bolt_port}" if not neo.external else neo.uri
    assert uri is not None
    routed = replace(settings, neo4j=replace(neo, uri=uri))
    return Graph(open_driver(routed), neo.database)


def test_reads_and_writes_route(graph: Graph, test_settings: Settings) -> None:
    routed = _routed(test_settings)
    try:
        routed.run_write("CREATE (:Domain {name: $name})", {"name": "routed.example"})
        rows = routed.read(
            "MATCH (d:Domain {name: $name}) RETURN d.name AS name", {"name": "routed.example"}
        )
        assert rows == [{"name": "routed.example"}]
        with pytest.raises(ClientError) as refused:
            routed.read("CREATE (:Domain {name: 'smuggled.example'})")
        assert refused.value.code == "Neo.ClientError.Statement.AccessMode"
    finally:
        routed.close()


def test_bookmarks_hand_causality_to_another_process(graph: Graph, test_settings: Settings) -> None:
    writer, reader = _routed(test_settings), _routed(test_settings)
    try:
        writer.run_write("CREATE (:Domain {name: 'fresh.example'})")
        handed = writer.bookmark_values()
        assert len(handed) == 1 and all(isinstance(b, str) and b for b in handed)
        reader.include_bookmarks(handed)
        assert reader.bookmark_values() == handed
        assert reader.read("MATCH (d:Domain {name: 'fresh.example'}) RETURN count(d) AS n") == [
            {"n": 1}
        ]
    finally:
        writer.close()
        reader.close()


def test_the_command_line_works_unchanged_with_the_routing_scheme(
    graph: Graph, neo4j_env: dict[str, str], test_settings: Settings, tmp_path: Path
) -> None:
    env = dict(neo4j_env)
    if not test_settings.neo4j.external:
        env["NEO4J_URI"] = f"neo4j://127.0.0.1:{test_settings.neo4j.bolt_port}"
    listed = tmp_path / "indicators.txt"
    listed.write_text("c2.routed.example\n198.51.100.77\n", encoding="utf-8")
    ingested = run_attribution(env, "ingest", str(listed), "--json")
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["accepted"] == 2
    status = run_attribution(env, "neo4j", "status", "--json")
    assert json.loads(status.stdout)["bolt_uri"] == env["NEO4J_URI"]
    rows = graph.read(
        "MATCH (n) WHERE n.name = 'c2.routed.example' OR n.address = '198.51.100.77' RETURN count(n) AS n"
    )
    assert rows == [{"n": 2}]
