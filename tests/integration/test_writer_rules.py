"""A first load and a later load reach the same values by different statements.

A node or relationship the graph does not hold yet takes its folded row as it is (the
statements' ``ON CREATE SET``); one it holds is combined rule by rule (``ON MATCH SET``).
These tests load the same observations once and in two loads, and require the exact values
every merge rule gives, both ways.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from neo4j.time import DateTime

from attribution.db import Graph
from attribution.schema import NODE_BY_LABEL
from attribution.writer import GraphWriter, NodeRow, RelRow

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=3)


def domain_rows() -> list[NodeRow]:
    """Two observations of one name: every node merge rule has something to combine."""
    newer = {"soa_serial": 7, "tags": ["feed-a", "x"], "enrich_state": "done", "enrich_depth": 2}
    older = {"soa_serial": 3, "tags": ["x", "feed-b"], "enrich_state": "pending", "min_ttl": 30}
    return [
        NodeRow("Domain", "a.example.test", newer, "dns", T1, T1, T1),
        NodeRow("Domain", "a.example.test", {**older, "enrich_depth": 1}, "feed", T0, T0, T1),
    ]


def contact_rows() -> list[RelRow]:
    """Two flow records of one contact (summed once each) and a repeat of the first."""
    first = {"dst_port": 443, "protocol": "tcp", "packets": 3, "bytes": 100, "flows": 1}
    second = {"dst_port": 443, "protocol": "tcp", "packets": 4, "bytes": 50, "flows": 1}
    return [
        RelRow("CONTACTED", "10.0.0.1", "192.0.2.9", {**first, "records": ["r1"]}, "f", T0, T0, T0),
        RelRow(
            "CONTACTED", "10.0.0.1", "192.0.2.9", {**second, "records": ["r2"]}, "f", T1, T1, T1
        ),
        RelRow("CONTACTED", "10.0.0.1", "192.0.2.9", {**first, "records": ["r1"]}, "f", T0, T0, T0),
    ]


def stored(graph: Graph) -> dict[str, object]:
    """The domain's and the contact's properties, without the summary counters."""
    domain = graph.read("MATCH (d:Domain) RETURN properties(d) AS p")[0]["p"]
    for prop in NODE_BY_LABEL["Domain"].summaries:
        domain.pop(prop.name, None)
    contact = graph.read("MATCH ()-[c:CONTACTED]->() RETURN properties(c) AS p")[0]["p"]
    return {"domain": domain, "contact": contact}


EXPECTED = {
    "domain": {
        "name": "a.example.test",
        "soa_serial": 7,
        "tags": ["feed-a", "x", "feed-b"],
        "enrich_state": "done",
        "enrich_depth": 1,
        "min_ttl": 30,
        "source": ["dns", "feed"],
        "first_seen": DateTime.from_native(T0),
        "last_seen": DateTime.from_native(T1),
        "retrieved_at": DateTime.from_native(T1),
        "sightings": 2,
    },
    "contact": {
        "dst_port": 443,
        "protocol": "tcp",
        "packets": 7,
        "bytes": 150,
        "flows": 2,
        "records": ["r1", "r2"],
        "source": ["f"],
        "first_seen": DateTime.from_native(T0),
        "last_seen": DateTime.from_native(T1),
        "retrieved_at": DateTime.from_native(T1),
    },
}


def test_one_load_into_an_empty_graph_gives_every_rule_its_value(graph: Graph) -> None:
    GraphWriter(graph).load(domain_rows(), contact_rows()[:2])
    assert stored(graph) == {**EXPECTED, "contact": {**EXPECTED["contact"], "sightings": 2}}


def test_loading_observation_by_observation_gives_the_same_values(graph: Graph) -> None:
    writer = GraphWriter(graph)
    for domain, contact in zip(domain_rows(), contact_rows()[:2], strict=True):
        writer.load([domain], [contact])
    # The first record once more: a sighting, and nothing summed twice.
    writer.load([], contact_rows()[2:])
    assert stored(graph) == {**EXPECTED, "contact": {**EXPECTED["contact"], "sightings": 3}}
