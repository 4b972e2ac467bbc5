"""``attribution schema migrate`` on a graph written by an earlier version: split registrars
become one node, with their relationships' provenance combined, and a second run changes
nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from clirun import run_attribution

from attribution.db import Graph
from attribution.queries import run_query
from attribution.writer import GraphWriter, NodeRow, RelRow

T0 = datetime(2026, 9, 1, tzinfo=UTC)
T1 = datetime(2026, 10, 1, tzinfo=UTC)
T2 = datetime(2026, 11, 1, tzinfo=UTC)


def _split_registrars(graph: Graph) -> None:
    """As an earlier version wrote them: the RDAP handle from intake, the normalised name from
    enrichment, both for one.example."""
    GraphWriter(graph).load(
        nodes=[
            NodeRow("Registrar", "292", {"name": "Ex  Reg, Inc."}, "rdap:answer.json", T0, T0, T0),
            NodeRow("Registrar", "ex reg, inc.", {"name": "Ex Reg, Inc."}, "rdap", T1, T2, T2),
        ],
        rels=[
            RelRow("REGISTERED_WITH", "one.example", "292", {}, "rdap:answer.json", T0, T0, T0),
            RelRow("REGISTERED_WITH", "one.example", "ex reg, inc.", {}, "rdap", T1, T2, T2),
            RelRow("REGISTERED_WITH", "two.example", "ex reg, inc.", {}, "rdap", T1, T1, T1),
        ],
    )


def _state(graph: Graph) -> list[dict[str, object]]:
    return graph.read(
        "MATCH (d:Domain)-[r:REGISTERED_WITH]->(g:Registrar)\n"
        "RETURN d.name AS domain, g.key AS key, r.source AS sources, r.first_seen AS first,\n"
        "       r.last_seen AS last, r.sightings AS sightings, g.source AS registrar_sources,\n"
        "       g.first_seen AS registrar_first\n"
        "ORDER BY domain"
    )


def test_migrate_merges_split_registrars_once(graph: Graph, neo4j_env: dict[str, str]) -> None:
    _split_registrars(graph)
    done = run_attribution(neo4j_env, "schema", "migrate", "--json")
    assert done.returncode == 0, done.stderr
    refreshed = {"Domain": 2, "IPAddress": 0, "LabelSource": 0, "Registrant": 0, "Registrar": 1}
    assert json.loads(done.stdout) == {
        "registrars_merged": [{"old": "292", "new": "ex reg, inc."}],
        "summaries_refreshed": refreshed,
        "requeued_without_finish_time": 0,
        "failing_flags_changed": 0,
    }
    assert graph.read("MATCH (r:Registrar) RETURN r.domain_count AS n") == [{"n": 2}]
    state = _state(graph)
    assert [(row["domain"], row["key"]) for row in state] == [
        ("one.example", "ex reg, inc."),
        ("two.example", "ex reg, inc."),
    ]
    one = state[0]
    assert sorted(one["sources"]) == ["rdap", "rdap:answer.json"]
    assert (one["first"].to_native(), one["last"].to_native()) == (T0, T2)
    assert one["sightings"] == 2
    assert sorted(one["registrar_sources"]) == ["rdap", "rdap:answer.json"]
    assert one["registrar_first"].to_native() == T0
    assert graph.read("MATCH (r:Registrar) RETURN r.key AS key") == [{"key": "ex reg, inc."}]

    again = run_attribution(neo4j_env, "schema", "migrate", "--json")
    assert json.loads(again.stdout) == {
        "registrars_merged": [],
        "summaries_refreshed": refreshed,
        "requeued_without_finish_time": 0,
        "failing_flags_changed": 0,
    }
    assert _state(graph) == state


def test_migrate_requeues_finished_nodes_without_a_finish_time(
    graph: Graph, neo4j_env: dict[str, str]
) -> None:
    # A claim finds stale finished nodes by enriched_at; a node finished without one (written
    # outside the worker) would never be found stale, so migrate queues it again.
    graph.run_write(
        "CREATE (:Domain {name: 'no-time.example', enrich_state: 'done'}),"
        " (:Domain {name: 'timed.example', enrich_state: 'done', enriched_at: datetime()}),"
        " (:IPAddress {address: '192.0.2.9', enrich_state: 'failed'}),"
        " (:IPAddress {address: '192.0.2.10', enrich_state: 'leased'})"
    )
    done = run_attribution(neo4j_env, "schema", "migrate", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["requeued_without_finish_time"] == 2
    states = graph.read(
        "MATCH (n) WHERE n.enrich_state IS NOT NULL "
        "RETURN coalesce(n.name, n.address) AS node, n.enrich_state AS state ORDER BY node"
    )
    assert states == [
        {"node": "192.0.2.10", "state": "leased"},
        {"node": "192.0.2.9", "state": "pending"},
        {"node": "no-time.example", "state": "pending"},
        {"node": "timed.example", "state": "done"},
    ]
    again = run_attribution(neo4j_env, "schema", "migrate")
    assert "0 finished nodes without a finish time queued to enrich again" in again.stdout


def test_migrate_marks_failing_enrichment_as_the_failures_review_reads_it(
    graph: Graph, neo4j_env: dict[str, str]
) -> None:
    # Nodes finished before enrich_failing existed get it from their state and failures; a flag
    # that no longer agrees with them is removed; a failed node the requeue step sends back to
    # pending (no finish time, no failures) is not marked.
    graph.run_write(
        "CREATE (:Domain {name: 'failed.example', enrich_state: 'failed', enriched_at: datetime(),"
        "                 enrich_failures: ['rdap-domain: timeout']}),"
        " (:Domain {name: 'partial.example', enrich_state: 'leased', enriched_at: datetime(),"
        "           enrich_failures: ['dns: timeout']}),"
        " (:Domain {name: 'done.example', enrich_state: 'done', enriched_at: datetime(),"
        "           enrich_failures: [], enrich_failing: true}),"
        " (:IPAddress {address: '192.0.2.9', enrich_state: 'failed'}),"
        " (:IPAddress {address: '192.0.2.10', enrich_state: 'failed', enriched_at: datetime()})"
    )
    done = run_attribution(neo4j_env, "schema", "migrate", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["failing_flags_changed"] == 4
    flags = graph.read(
        "MATCH (n) WHERE n.enrich_state IS NOT NULL "
        "RETURN coalesce(n.name, n.address) AS node, n.enrich_failing AS failing ORDER BY node"
    )
    assert flags == [
        {"node": "192.0.2.10", "failing": True},
        {"node": "192.0.2.9", "failing": None},
        {"node": "done.example", "failing": None},
        {"node": "failed.example", "failing": True},
        {"node": "partial.example", "failing": True},
    ]
    listed = run_query(graph, "review-enrichment-failures", {"limit": 10}).rows
    assert [(row["kind"], row["target"]) for row in listed] == [
        ("domain", "failed.example"),
        ("domain", "partial.example"),
        ("ip", "192.0.2.10"),
    ]
    again = run_attribution(neo4j_env, "schema", "migrate")
    assert "0 enrich_failing flags set or removed" in again.stdout
