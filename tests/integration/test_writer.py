"""The writer against the real server: exact graphs, idempotent reloads, concurrent writers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from neo4j.time import DateTime

from attribution.db import Graph
from attribution.schema import NODE_BY_LABEL
from attribution.writer import GraphWriter, NodeRow, RelRow, UndeclaredProperty

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=6)


def _dt(value: datetime) -> DateTime:
    return DateTime.from_native(value)


def observation(
    at: datetime, ip: str = "192.0.2.10", ttl: int = 300
) -> tuple[list[NodeRow], list[RelRow]]:
    nodes = [
        NodeRow("Domain", "www.example.test", {"registrable": "example.test"}, "dns", at, at, at),
        NodeRow("IPAddress", ip, {"version": 4}, "dns", at, at, at),
    ]
    rels = [
        RelRow(
            "RESOLVES_TO",
            "www.example.test",
            ip,
            {"rtype": "A", "ttl": ttl, "min_ttl": ttl},
            "dns",
            at,
            at,
            at,
        )
    ]
    return nodes, rels


def snapshot(graph: Graph) -> dict[str, object]:
    """Every node and relationship with the properties the writer sets.

    The summary counters :mod:`attribution.summaries` keeps on nodes after each load are left
    out: they have their own tests, and these check the writer's rules.
    """
    nodes = graph.read(
        "MATCH (n) RETURN labels(n)[0] AS label, properties(n) AS props ORDER BY label, coalesce(n.name, n.address)"
    )
    for node in nodes:
        for prop in NODE_BY_LABEL[node["label"]].summaries:
            node["props"].pop(prop.name, None)
    rels = graph.read(
        "MATCH (a)-[r]->(b) RETURN type(r) AS type, coalesce(a.name, a.address) AS start, "
        "coalesce(b.name, b.address) AS end, properties(r) AS props ORDER BY type, start, end"
    )
    return {"nodes": nodes, "rels": rels}


def test_one_observation_gives_exactly_these_nodes_and_relationships(graph: Graph) -> None:
    stats = GraphWriter(graph).load(*observation(T0))
    assert (stats.node_rows, stats.rel_rows) == (2, 1)
    prov = {
        "source": ["dns"],
        "first_seen": _dt(T0),
        "last_seen": _dt(T0),
        "retrieved_at": _dt(T0),
        "sightings": 1,
    }
    assert snapshot(graph) == {
        "nodes": [
            {
                "label": "Domain",
                "props": {"name": "www.example.test", "registrable": "example.test", **prov},
            },
            {"label": "IPAddress", "props": {"address": "192.0.2.10", "version": 4, **prov}},
        ],
        "rels": [
            {
                "type": "RESOLVES_TO",
                "start": "www.example.test",
                "end": "192.0.2.10",
                "props": {"rtype": "A", "ttl": 300, "min_ttl": 300, **prov},
            },
        ],
    }


def test_loading_again_gives_the_same_graph_with_last_seen_advanced(graph: Graph) -> None:
    writer = GraphWriter(graph)
    writer.load(*observation(T0))
    writer.load(*observation(T1, ttl=60))
    after = snapshot(graph)
    rel = after["rels"][0]["props"]  # type: ignore[index]
    assert len(after["nodes"]) == 2 and len(after["rels"]) == 1  # type: ignore[arg-type]
    assert rel["first_seen"] == _dt(T0)
    assert rel["last_seen"] == _dt(T1)
    assert rel["retrieved_at"] == _dt(T1)
    assert rel["sightings"] == 2
    assert (rel["ttl"], rel["min_ttl"]) == (60, 60)
    # An older observation arriving late moves first_seen back and changes nothing else.
    writer.load(*observation(T0 - timedelta(days=2), ttl=900))
    rel = snapshot(graph)["rels"][0]["props"]  # type: ignore[index]
    assert rel["first_seen"] == _dt(T0 - timedelta(days=2))
    assert rel["last_seen"] == _dt(T1)
    assert (rel["ttl"], rel["min_ttl"], rel["sightings"]) == (60, 60, 3)


def test_nothing_is_deleted_when_a_later_run_does_not_see_it(graph: Graph) -> None:
    writer = GraphWriter(graph)
    writer.load(*observation(T0, ip="192.0.2.10"))
    writer.load(*observation(T1, ip="192.0.2.20"))  # the domain moved
    rels = snapshot(graph)["rels"]
    assert [(r["end"], r["props"]["last_seen"]) for r in rels] == [  # type: ignore[attr-defined, index]
        ("192.0.2.10", _dt(T0)),
        ("192.0.2.20", _dt(T1)),
    ]


def test_small_batches_give_the_same_graph(graph: Graph) -> None:
    nodes, rels = [], []
    for i in range(25):
        n, r = observation(T0, ip=f"198.51.100.{i}")
        nodes += n
        rels += r
    stats = GraphWriter(graph, batch_size=4).load(nodes, rels)
    assert stats.batches == 1 + 7 + 7  # one Domain row after merging, 25 IPs, 25 relationships
    counts = graph.read(
        "MATCH (d:Domain) OPTIONAL MATCH (d)-[r:RESOLVES_TO]->() RETURN d.sightings AS s, count(r) AS n"
    )
    assert counts == [{"s": 25, "n": 25}]


CONCURRENT = textwrap.dedent(
    """
    import random, sys
    from datetime import UTC, datetime
    from attribution.db import Graph
    from attribution.writer import GraphWriter, NodeRow, RelRow
    seed = int(sys.argv[1])
    at = datetime(2026, 3, 1, tzinfo=UTC)
    items = list(range(1500))
    random.Random(seed).shuffle(items)
    nodes, rels = [], []
    for i in items:
        name, ip = f"n{i}.shared.test", f"10.1.{i % 50}.{i % 200}"
        nodes += [NodeRow("Domain", name, {}, "dns", at, at, at), NodeRow("IPAddress", ip, {}, "dns", at, at, at)]
        rels.append(RelRow("RESOLVES_TO", name, ip, {"rtype": "A"}, "dns", at, at, at))
    with Graph.connect() as graph:
        GraphWriter(graph, batch_size=200).load(nodes, rels)
    """
)


def test_two_processes_writing_the_same_entities_create_no_duplicates(
    graph: Graph, neo4j_env: dict[str, str]
) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(seed)], env=neo4j_env, stderr=subprocess.PIPE
        )
        for seed in (1, 2)
    ]
    errors = [p.communicate(timeout=300)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    distinct_ips = len({f"10.1.{i % 50}.{i % 200}" for i in range(1500)})
    assert graph.read(
        "MATCH (d:Domain) WITH count(d) AS domains MATCH (i:IPAddress) WITH domains, count(i) AS ips "
        "MATCH ()-[r:RESOLVES_TO]->() RETURN domains, ips, count(r) AS rels, min(r.sightings) AS lo, max(r.sightings) AS hi"
    ) == [{"domains": 1500, "ips": distinct_ips, "rels": 1500, "lo": 2, "hi": 2}]


def test_a_load_with_an_undeclared_property_writes_nothing(graph: Graph) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(UndeclaredProperty, match="colour"):
        GraphWriter(graph).load(
            nodes=[
                NodeRow("AutonomousSystem", 64500, {"name": "AS-A"}, "asn", at, at, at),
                NodeRow("Domain", "a.example", {"colour": "red"}, "dns", at, at, at),
            ]
        )
    assert graph.read("MATCH (n) RETURN count(n) AS n") == [{"n": 0}]
