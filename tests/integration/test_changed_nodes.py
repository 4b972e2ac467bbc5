"""Which targets a changed-only scoring run picks: never scored, seen again themselves, or with
a relationship of theirs seen again, whichever direction it points; nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

from test_queries import fresh_statistics, plan_operators

from attribution.classifier.score import changed_statement
from attribution.db import Graph
from attribution.writer import GraphWriter, NodeRow, RelRow

BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
RUN = datetime(2026, 2, 1, tzinfo=UTC)
AFTER = datetime(2026, 3, 1, tzinfo=UTC)


def _node(label: str, key: str, seen: datetime) -> NodeRow:
    return NodeRow(label, key, {}, "test", seen, seen, seen)


def _rel(kind: str, start: str, end: str, seen: datetime) -> RelRow:
    return RelRow(kind, start, end, {}, "test", seen, seen, seen)


def test_the_changed_targets_are_exactly_those_with_a_newer_fact(graph: Graph) -> None:
    names = ["quiet.example", "resolved.example", "ptr.example", "seen.example", "ns.example"]
    addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    GraphWriter(graph).load(
        nodes=[
            *(_node("Domain", n, BEFORE) for n in names),
            _node("Domain", "seen.example", AFTER),  # seen again itself
            *(_node("IPAddress", a, BEFORE) for a in addresses),
        ],
        rels=[
            _rel("RESOLVES_TO", "quiet.example", "192.0.2.1", BEFORE),
            _rel("RESOLVES_TO", "resolved.example", "192.0.2.2", AFTER),  # both ends
            _rel("REVERSE_NAME", "192.0.2.3", "ptr.example", AFTER),  # into a domain
            _rel("NAME_SERVER", "quiet.example", "ns.example", BEFORE),
        ],
    )
    graph.run_write("MATCH (n) WHERE n:Domain OR n:IPAddress SET n.scored_at = $at", {"at": RUN})
    graph.run_write("CREATE (:Domain {name: 'new.example', last_seen: $at})", {"at": BEFORE})

    rows = graph.read(changed_statement(), {"since": int(RUN.timestamp() * 1000)})
    assert sorted((r["label"], r["key"]) for r in rows) == [
        ("Domain", "new.example"),  # never scored, whatever its sightings
        ("Domain", "ptr.example"),
        ("Domain", "resolved.example"),
        ("Domain", "seen.example"),
        ("IPAddress", "192.0.2.2"),
        ("IPAddress", "192.0.2.3"),
    ]


def test_every_relationship_branch_seeks_its_last_seen_index(graph: Graph) -> None:
    """Not a scan of the targets with an expansion of each: with the time a parameter the
    planner took that for RESOLVES_TO and NAME_SERVER on a 200k graph (1.8 s for no change).
    The graph has that shape: most domains resolve, fresh index samples."""
    graph.run_write(
        "UNWIND range(1, 3000) AS i "
        "CREATE (d:Domain {name: 'd' + i + '.example'})-[:RESOLVES_TO {last_seen: datetime()}]->"
        "(:IPAddress {address: '10.0.' + (i / 256) + '.' + (i % 256)}), "
        "(d)-[:NAME_SERVER {last_seen: datetime()}]->(:Domain {name: 'ns' + i + '.example'})"
    )
    fresh_statistics(graph)
    operators = [op for op, _ in plan_operators(graph, changed_statement(), {"since": 0})]
    seeks = [op for op in operators if op.endswith("RelationshipIndexSeekByRange")]
    assert len(seeks) == 22
    assert operators.count("NodeByLabelScan") == 2  # the targets' own sightings, per label
    assert "Expand(All)" not in operators
