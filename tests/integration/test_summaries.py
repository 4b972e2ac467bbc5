"""Write-time summaries stay equal to their facts: after every load (first sightings,
re-observations, label verdicts changing, addresses and prefixes gaining origins later), after
the registrar-merging migration (which deletes relationships), and through ``summaries
rebuild | verify`` and the backfill migration.

Every summary is compared with a from-scratch recomputation written independently of
:mod:`attribution.summaries` (pattern counts and collected sets, not its subqueries).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from clirun import run_attribution
from fixture_graph import T0, T1, fixture_rows

from attribution import summaries
from attribution.db import Graph, python_value
from attribution.migrations import backfill_summaries, merge_split_registrars
from attribution.queries import run_query
from attribution.schema import NODE_BY_LABEL, SUMMARIES
from attribution.writer import GraphWriter, NodeRow, RelRow, UndeclaredProperty, prepare_rows

T2 = datetime(2026, 11, 1, tzinfo=UTC)


def _expected(graph: Graph) -> dict[tuple[str, Any], dict[str, Any]]:
    """Every summary of every node, recomputed from the facts with plain pattern counts."""
    out: dict[tuple[str, Any], dict[str, Any]] = {}
    for row in graph.read(
        """
MATCH (n:Domain)
WITH n, [(n)-[r:RESOLVES_TO]->(:IPAddress) | r] AS rs
WITH n, rs,
     [x IN COLLECT { MATCH (n)-[:RESOLVES_TO]->(:IPAddress)-[:IN_PREFIX]->(p:Prefix)
                     RETURN DISTINCT p } | x] AS prefixes,
     COLLECT { MATCH (n)-[:RESOLVES_TO]->(:IPAddress)-[:IN_PREFIX]->(:Prefix)
                     -[:ANNOUNCED_BY]->(a:AutonomousSystem) RETURN DISTINCT a } AS asns,
     COLLECT { MATCH (n)-[:RESOLVES_TO]->(:IPAddress)<-[:RESOLVES_TO]-(o:Domain) WHERE o <> n
               RETURN DISTINCT o } AS others,
     [(s:LabelSource)-[l:LABELS_DOMAIN]->(n) | l.verdict] AS verdicts
RETURN n.name AS key, {
  resolution_count: size(rs), prefix_count: size(prefixes), asn_count: size(asns),
  resolution_min_ttl: CASE WHEN size(rs) = 0 THEN null
                      ELSE reduce(m = rs[0].min_ttl, r IN rs |
                             CASE WHEN r.min_ttl < m THEN r.min_ttl ELSE m END) END,
  resolution_oldest_seen: CASE WHEN size(rs) = 0 THEN null
                          ELSE reduce(m = rs[0].last_seen, r IN rs |
                                 CASE WHEN r.last_seen < m THEN r.last_seen ELSE m END) END,
  cohosted_names: size(others),
  benign_neighbours: size([o IN others WHERE
      any(v IN [(:LabelSource)-[l:LABELS_DOMAIN]->(o) | l.verdict] WHERE v = 'benign')]),
  benign_labels: size([v IN verdicts WHERE v = 'benign']),
  malicious_labels: size([v IN verdicts WHERE v = 'malicious']),
  labels_disagree: 'benign' IN verdicts AND 'malicious' IN verdicts
} AS values"""
    ):
        out[("Domain", row["key"])] = python_value(row["values"])
    for row in graph.read(
        """
MATCH (n:IPAddress)
WITH n, COLLECT { MATCH (d:Domain)-[:RESOLVES_TO]->(n) RETURN DISTINCT d } AS names,
     [(:LabelSource)-[l:LABELS_IP]->(n) | l.verdict] AS verdicts
RETURN n.address AS key, {
  name_count: size(names),
  report_count: size(COLLECT { MATCH (n)-[:IP_REPORTED_IN]->(r:IncidentReport)
                               RETURN DISTINCT r }),
  reported: EXISTS { (n)-[:IP_REPORTED_IN]->(:IncidentReport) },
  benign_names: size([d IN names WHERE
      any(v IN [(:LabelSource)-[l:LABELS_DOMAIN]->(d) | l.verdict] WHERE v = 'benign')]),
  benign_labels: size([v IN verdicts WHERE v = 'benign']),
  malicious_labels: size([v IN verdicts WHERE v = 'malicious']),
  labels_disagree: 'benign' IN verdicts AND 'malicious' IN verdicts
} AS values"""
    ):
        out[("IPAddress", row["key"])] = row["values"]
    for row in graph.read(
        """
MATCH (n:Registrar)
WITH n, [(d:Domain)-[:REGISTERED_WITH]->(n) | d] AS ds
RETURN n.key AS key, {
  domain_count: size(ds),
  malicious_domains: size([d IN ds WHERE
      any(v IN [(:LabelSource)-[l:LABELS_DOMAIN]->(d) | l.verdict] WHERE v = 'malicious')])
} AS values"""
    ):
        out[("Registrar", row["key"])] = row["values"]
    for row in graph.read(
        "MATCH (n:Registrant) "
        "RETURN n.key AS key, {domain_count: COUNT { (:Domain)-[:REGISTERED_BY]->(n) }} AS values"
    ):
        out[("Registrant", row["key"])] = row["values"]
    for row in graph.read(
        """
MATCH (n:LabelSource)
WITH n, [(n)-[l:LABELS_DOMAIN]->(:Domain) | l.verdict] AS ds,
     [(n)-[l:LABELS_IP]->(:IPAddress) | l.verdict] AS ips
RETURN n.name AS key, {
  domain_labels: size(ds), benign_domain_labels: size([v IN ds WHERE v = 'benign']),
  malicious_domain_labels: size([v IN ds WHERE v = 'malicious']),
  ip_labels: size(ips), benign_ip_labels: size([v IN ips WHERE v = 'benign']),
  malicious_ip_labels: size([v IN ips WHERE v = 'malicious'])
} AS values"""
    ):
        out[("LabelSource", row["key"])] = row["values"]
    return out


def _stored(graph: Graph) -> dict[tuple[str, Any], dict[str, Any]]:
    """Every summary as stored; one never computed (the node has no such facts) reads as 0,
    false or, for the smallest TTL and earliest sighting, null."""
    out: dict[tuple[str, Any], dict[str, Any]] = {}
    for label, props in SUMMARIES.items():
        key = NODE_BY_LABEL[label].key
        names = ", ".join(f".{p.name}" for p in props)
        for row in graph.read(f"MATCH (n:{label}) RETURN n.{key} AS key, n {{{names}}} AS v"):
            values = python_value(row["v"])
            for prop in props:
                if values[prop.name] is None and prop.name != "resolution_min_ttl":
                    values[prop.name] = {"INTEGER": 0, "BOOLEAN": False}.get(prop.type)
            out[(label, row["key"])] = values
    return out


def _assert_exact(graph: Graph) -> None:
    assert _stored(graph) == _expected(graph)
    checked, drift = summaries.verify(graph)
    assert drift == []
    assert set(checked) == set(SUMMARIES)


def _rel(kind: str, start: Any, end: Any, props: dict[str, Any], last: datetime) -> RelRow:
    return RelRow(kind, start, end, props, "later", T0, last, last)


def test_summaries_follow_every_load(graph: Graph) -> None:
    nodes, rels = fixture_rows()
    writer = GraphWriter(graph)
    # The fixture in three loads: nodes and registration, then DNS without prefixes, then the
    # rest (prefixes and their origins arrive after the resolutions they change).
    dns = {"RESOLVES_TO", "NAME_SERVER"}
    routing = {"IN_PREFIX", "ANNOUNCED_BY"}
    writer.load(nodes, [r for r in rels if r.type not in dns | routing])
    _assert_exact(graph)
    writer.load([], [r for r in rels if r.type in dns])
    _assert_exact(graph)
    writer.load([], [r for r in rels if r.type in routing])
    _assert_exact(graph)

    evil = graph.read("MATCH (d:Domain {name: 'evil.test'}) RETURN d {.*} AS d")[0]["d"]
    assert {k: evil[k] for k in ("resolution_count", "prefix_count", "asn_count")} == {
        "resolution_count": 3,
        "prefix_count": 3,
        "asn_count": 3,
    }
    assert (evil["resolution_min_ttl"], evil["cohosted_names"], evil["benign_neighbours"]) == (
        60,
        3,
        2,
    )
    shared = graph.read("MATCH (i:IPAddress {address: '192.0.2.10'}) RETURN i {.*} AS i")[0]["i"]
    assert (shared["name_count"], shared["benign_names"], shared["malicious_labels"]) == (4, 2, 1)
    assert shared["report_count"] == 2

    # Re-observations: the same facts again, later, change nothing but resolution times.
    writer.load([], [_rel("RESOLVES_TO", "evil.test", "192.0.2.10", {"min_ttl": 30}, T2)])
    writer.load(nodes, rels)
    _assert_exact(graph)
    # Verdicts change: blog.test stops being benign, a feed calls shop.test malicious (the
    # allowlist still calls it benign); the shared address is disputed; a second
    # AS starts announcing a prefix; a new name joins the shared address.
    writer.load(
        [NodeRow("AutonomousSystem", 64999, {"name": "MOAS"}, "later", T1, T2, T2)],
        [
            _rel("LABELS_DOMAIN", "allowlist:top", "blog.test", {"verdict": "malicious"}, T2),
            _rel("LABELS_DOMAIN", "feed:emotet", "shop.test", {"verdict": "malicious"}, T2),
            _rel("LABELS_IP", "allowlist:top", "192.0.2.10", {"verdict": "benign"}, T2),
            _rel("ANNOUNCED_BY", "192.0.2.0/24", 64999, {}, T2),
            _rel("RESOLVES_TO", "late.test", "192.0.2.10", {"min_ttl": 120}, T2),
            _rel("REGISTERED_WITH", "late.test", "reg-good", {}, T2),
            _rel("IP_REPORTED_IN", "198.51.100.20", "INC-2", {"role": "c2"}, T2),
            _rel("IP_REPORTED_IN", "192.0.2.10", "INC-2", {"role": "c2"}, T2),
        ],
    )
    _assert_exact(graph)
    evil = graph.read("MATCH (d:Domain {name: 'evil.test'}) RETURN d {.*} AS d")[0]["d"]
    assert (evil["asn_count"], evil["cohosted_names"], evil["benign_neighbours"]) == (4, 4, 1)
    shared = graph.read("MATCH (i:IPAddress {address: '192.0.2.10'}) RETURN i {.*} AS i")[0]["i"]
    assert (shared["name_count"], shared["benign_names"], shared["labels_disagree"]) == (
        5,
        1,
        True,
    )
    reports = graph.read(
        "MATCH (i:IPAddress) WHERE i.report_count > 0 "
        "RETURN i.address AS address, i.report_count AS n, i.reported AS reported ORDER BY address"
    )
    assert reports == [
        {"address": "192.0.2.10", "n": 2, "reported": True},
        {"address": "198.51.100.20", "n": 1, "reported": True},
    ]
    flagged = graph.read("MATCH (i:IPAddress {reported: true}) RETURN i.address AS a ORDER BY a")
    assert flagged == [{"a": "192.0.2.10"}, {"a": "198.51.100.20"}]


def test_a_small_load_commits_its_facts_and_summaries_together(graph: Graph) -> None:
    nodes, rels = fixture_rows()
    before = graph.committed_transactions
    stats = GraphWriter(graph).load(nodes, rels)
    assert (graph.committed_transactions - before, stats.batches) == (1, 1)
    _assert_exact(graph)
    # The same rows again in batches of 7: a bulk load, its summaries refreshed after it.
    before = graph.committed_transactions
    stats = GraphWriter(graph, batch_size=7).load(nodes, rels)
    assert graph.committed_transactions - before > stats.batches > 1
    _assert_exact(graph)


def test_a_bulk_refresh_over_concurrent_batches_stays_exact(
    graph: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of two keys over two streams: names on the shared address and on addresses
    # of other batches are refreshed by several concurrent transactions, to one value.
    monkeypatch.setattr(summaries, "BATCH", 2)
    nodes, rels = fixture_rows()
    stats = GraphWriter(graph, batch_size=7, streams=2).load(nodes, rels)
    assert stats.batches > 1
    _assert_exact(graph)
    writer = GraphWriter(graph, batch_size=2, streams=2)
    writer.load(
        [],
        [
            _rel("RESOLVES_TO", "late.test", "192.0.2.10", {"min_ttl": 120}, T2),
            _rel("RESOLVES_TO", "late.test", "198.51.100.20", {"min_ttl": 90}, T2),
            _rel("LABELS_DOMAIN", "allowlist:top", "late.test", {"verdict": "benign"}, T2),
        ],
    )
    _assert_exact(graph)
    late = graph.read("MATCH (d:Domain {name: 'late.test'}) RETURN d {.*} AS d")[0]["d"]
    assert (
        late["resolution_count"],
        late["resolution_min_ttl"],
        late["cohosted_names"],
        late["benign_labels"],
    ) == (2, 90, 4, 1)


def test_registrar_merge_keeps_summaries_exact(graph: Graph) -> None:
    writer = GraphWriter(graph)
    writer.load(
        [
            NodeRow("Registrar", "292", {"name": "Ex  Reg, Inc."}, "rdap", T0, T0, T0),
            NodeRow("Registrar", "ex reg, inc.", {"name": "Ex Reg, Inc."}, "rdap", T1, T1, T1),
        ],
        [
            _rel("REGISTERED_WITH", "one.example", "292", {}, T0),
            _rel("REGISTERED_WITH", "one.example", "ex reg, inc.", {}, T1),
            _rel("REGISTERED_WITH", "two.example", "ex reg, inc.", {}, T1),
            _rel("LABELS_DOMAIN", "feed:x", "two.example", {"verdict": "malicious"}, T1),
        ],
    )
    assert merge_split_registrars(graph) == [{"old": "292", "new": "ex reg, inc."}]
    _assert_exact(graph)
    rows = graph.read("MATCH (r:Registrar) RETURN r.key AS key, r.domain_count AS n")
    assert rows == [{"key": "ex reg, inc.", "n": 2}]


def test_verify_reports_drift_and_rebuild_repairs_it(graph: Graph) -> None:
    nodes, rels = fixture_rows()
    GraphWriter(graph).load(nodes, rels)
    graph.run_write("MATCH (i:IPAddress {address: '192.0.2.10'}) SET i.name_count = 7")
    graph.run_write("MATCH (d:Domain {name: 'blog.test'}) REMOVE d.benign_labels")
    _, drift = summaries.verify(graph)
    assert drift == [
        summaries.Drift("Domain", "blog.test", "benign_labels", None, 1),
        summaries.Drift("IPAddress", "192.0.2.10", "name_count", 7, 4),
    ]
    done = summaries.rebuild(graph, batch=2)
    assert done == {"Domain": 7, "IPAddress": 6, "Registrar": 2, "Registrant": 2, "LabelSource": 3}
    _assert_exact(graph)


def test_backfill_migration_computes_summaries_of_an_old_graph(graph: Graph) -> None:
    nodes, rels = fixture_rows()
    GraphWriter(graph).load(nodes, rels)
    props = sorted({p.name for ps in SUMMARIES.values() for p in ps})
    graph.run_write("MATCH (n) REMOVE " + ", ".join(f"n.{p}" for p in props))
    assert summaries.verify(graph)[1] != []
    seen: list[tuple[str, int]] = []
    assert backfill_summaries(graph, progress=lambda label, n: seen.append((label, n))) == {
        "Domain": 7,
        "IPAddress": 6,
        "Registrar": 2,
        "Registrant": 2,
        "LabelSource": 3,
    }
    assert seen[-1] == ("LabelSource", 3)
    _assert_exact(graph)
    # Idempotent.
    backfill_summaries(graph)
    _assert_exact(graph)


def test_cli_verify_and_rebuild(graph: Graph, neo4j_env: dict[str, str]) -> None:
    nodes, rels = fixture_rows()
    GraphWriter(graph).load(nodes, rels)
    done = run_attribution(neo4j_env, "summaries", "verify", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "checked": {"Domain": 7, "IPAddress": 6, "Registrar": 2, "Registrant": 2, "LabelSource": 3},
        "drift": [],
    }
    graph.run_write("MATCH (r:Registrar {key: 'reg-bad'}) SET r.domain_count = 1")
    done = run_attribution(neo4j_env, "summaries", "verify", "--json")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["drift"] == [
        {
            "label": "Registrar",
            "key": "reg-bad",
            "property": "domain_count",
            "stored": 1,
            "fresh": 3,
        }
    ]
    done = run_attribution(neo4j_env, "summaries", "rebuild")
    assert done.returncode == 0, done.stderr
    assert "Registrar: 2 nodes recomputed" in done.stdout
    done = run_attribution(neo4j_env, "summaries", "verify")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "20 nodes checked, 0 summaries drifted"


def test_no_observation_can_write_a_summary() -> None:
    row = NodeRow("IPAddress", "192.0.2.1", {"name_count": 99}, "feed", T0, T0, T0)
    with pytest.raises(UndeclaredProperty, match="name_count"):
        prepare_rows(NODE_BY_LABEL["IPAddress"], [row])


def test_refresh_takes_keys_only_as_parameters() -> None:
    for label in SUMMARIES:
        statement = summaries.refresh_statement(label)
        key = NODE_BY_LABEL[label].key
        assert statement.startswith(
            f"MATCH (n:{label}) USING INDEX SEEK n:{label}({key}) WHERE n.{key} IN $keys\n"
        )
        assert statement.endswith("SET n += fresh")


def _operators(graph: Graph, statement: str) -> set[str]:
    """The operators of the plan the server makes for ``statement`` now (caches cleared)."""
    with graph.session() as session:
        session.run("CALL db.clearQueryCaches()").consume()
        plan = session.run("EXPLAIN " + statement, keys=[]).consume().plan
    found: set[str] = set()
    stack = [plan]
    while stack:
        step = stack.pop()
        found.add(step["operatorType"].split("@")[0])
        stack.extend(step.get("children", []))
    return found


def _fill_after_sampling_empty(graph: Graph) -> None:
    """Key indexes sampled while empty, then 2,000 nodes of each summarised label: the state
    right after a first load, when the index samples still say the graph is empty."""
    graph.wipe()
    with graph.session() as session:
        session.run("CALL db.resampleOutdatedIndexes()").consume()
    time.sleep(1)
    for label in SUMMARIES:
        key = NODE_BY_LABEL[label].key
        graph.write(
            lambda tx, label=label, key=key: tx.run(
                f"UNWIND range(1, 2000) AS i CREATE (:{label} {{{key}: 'k' + i}})"
            ).consume()
        )


def test_refresh_plans_seek_keys_even_with_stale_index_samples(
    graph: Graph,
) -> None:
    # Planned while the key indexes' samples still say "empty", a lookup written as
    # UNWIND-then-match scans the whole index once per key; this builds that state (the
    # statement in that form shows it) and checks every refresh statement seeks.
    unhinted = summaries.NAMES_ON_STATEMENT.replace(
        "MATCH (ip:IPAddress) USING INDEX SEEK ip:IPAddress(address) WHERE ip.address IN $keys\n",
        "UNWIND $keys AS key MATCH (ip:IPAddress {address: key})\n",
    )
    assert unhinted != summaries.NAMES_ON_STATEMENT
    for _ in range(5):
        _fill_after_sampling_empty(graph)
        if "NodeIndexScan" in _operators(graph, unhinted):
            break
    else:
        pytest.skip("the server sampled the key indexes again before the plan was made")
    statements = [summaries.refresh_statement(label) for label in SUMMARIES]
    statements.append(summaries.NAMES_ON_STATEMENT)
    for statement in statements:
        operators = _operators(graph, statement)
        assert "NodeUniqueIndexSeek(Locking)" in operators, " ".join(sorted(operators))
        assert not operators & {"NodeIndexScan", "NodeByLabelScan", "AllNodesScan"}, statement


def test_labels_by_source_counts_any_verdict(graph: Graph) -> None:
    nodes, rels = fixture_rows()
    writer = GraphWriter(graph)
    writer.load(nodes, rels)
    # A verdict other than benign or malicious: that source's labels are counted one by one.
    writer.load([], [_rel("LABELS_DOMAIN", "feed:emotet", "new.test", {"verdict": "parked"}, T1)])
    _assert_exact(graph)
    rows = run_query(graph, "review-labels-by-source").rows
    assert [(r["source"], r["target_kind"], r["verdict"], r["labels"]) for r in rows] == [
        ("allowlist:top", "domain", "benign", 2),
        ("analyst:alice", "ip", "malicious", 1),
        ("feed:emotet", "domain", "malicious", 3),
        ("feed:emotet", "domain", "parked", 1),
    ]
