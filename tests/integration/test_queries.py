"""The query library against the real server: EXPLAIN of every file, exact results on the
fixture graph, the read-only guarantee, the transaction metadata, and the CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from clirun import run_attribution
from fixture_graph import (
    CREATED,
    DIGEST,
    INC2_OBSERVED,
    INC2_REPORTED,
    MODEL,
    REQUESTED,
    SINCE,
    T0,
    T1,
    load_fixture,
)
from neo4j import READ_ACCESS, NotificationClassification
from neo4j.exceptions import ClientError

from attribution.db import Graph
from attribution.queries import Query, list_queries, run_query, run_query_page, run_read_only

REPO = Path(__file__).resolve().parents[2]
LIBRARY = list_queries()

SAMPLE_VALUES: dict[str, Any] = {
    "string": "x",
    "int": 1,
    "float": 0.5,
    "bool": True,
    "datetime": datetime(2026, 1, 1, tzinfo=UTC),
    "list<string>": ["act"],
}


def _rows(*columns: str, rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


@pytest.mark.parametrize("query", LIBRARY, ids=[q.id for q in LIBRARY])
def test_every_query_explains_on_the_server(graph: Graph, query: Query) -> None:
    params = {p.name: SAMPLE_VALUES[p.type] for p in query.params}
    with graph.session(default_access_mode=READ_ACCESS) as session:
        result = session.run("EXPLAIN " + query.cypher, params)
        keys = result.keys()
        summary = result.consume()
    assert summary.plan is not None
    assert tuple(keys) == query.returns
    deprecated = [
        s.status_description
        for s in summary.gql_status_objects
        if s.classification == NotificationClassification.DEPRECATION
    ]
    assert deprecated == []


def _operators(plan: Any) -> list[tuple[str, str]]:
    """Every operator of a plan with its details, parents before their children."""
    details = str(plan.get("args", {}).get("Details", ""))
    found = [(plan["operatorType"].split("@")[0], details)]
    for child in plan.get("children", []):
        found += _operators(child)
    return found


def plan_operators(graph: Graph, cypher: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """Every operator of the statement's plan (``EXPLAIN``), with its details."""
    with graph.session(default_access_mode=READ_ACCESS) as session:
        summary = session.run("EXPLAIN " + cypher, params).consume()
    return _operators(summary.plan)


def _plan(graph: Graph, query_id: str) -> list[tuple[str, str]]:
    query = next(q for q in LIBRARY if q.id == query_id)
    return plan_operators(
        graph, query.cypher, {p.name: SAMPLE_VALUES[p.type] for p in query.params}
    )


def fresh_statistics(graph: Graph) -> None:
    """Resample the indexes and forget cached plans: the next plan sees the graph as it is."""
    with graph.session() as session:
        session.run("CALL db.resampleOutdatedIndexes()").consume()
        session.run("CALL db.clearQueryCaches()").consume()


def _labels_without_disagreement(graph: Graph) -> None:
    """Three label sources labelling 3,000 domains, none of them disputed, with fresh index
    samples: the shape in which the planner would rather start from the sources."""
    graph.write(
        lambda tx: tx.run(
            "UNWIND range(1, 3) AS s CREATE (source:LabelSource {name: 'feed:' + s}) "
            "WITH source UNWIND range(1, 1000) AS i "
            "CREATE (source)-[:LABELS_DOMAIN {verdict: 'malicious'}]->"
            "(:Domain {name: source.name + '-' + i + '.test', labels_disagree: false})"
        ).consume()
    )
    fresh_statistics(graph)


def test_conflicting_labels_start_from_the_disagreement_index(graph: Graph) -> None:
    """Not from the label sources: walking every label they gave cost 26 ms on a 500k graph
    for an empty answer."""
    _labels_without_disagreement(graph)
    plan = _plan(graph, "review-conflicting-labels")
    seeks = [d for op, d in plan if op == "NodeIndexSeek"]
    assert seeks == [
        "RANGE INDEX d:Domain(labels_disagree) WHERE labels_disagree = true",
        "RANGE INDEX ip:IPAddress(labels_disagree) WHERE labels_disagree = true",
    ]
    assert [op for op, _ in plan if op == "NodeByLabelScan"] == []


def test_as_contents_orders_addresses_before_expanding_their_names(graph: Graph) -> None:
    """The final sort is then partial (the names of one address), so a page stops early."""
    ops = [op for op, _ in _plan(graph, "hosting-as-contents")]
    assert "PartialSort" in ops
    assert ops.index("PartialTop") < ops.index("PartialSort")


def test_shared_addresses_walk_reports_in_result_order(graph: Graph) -> None:
    """Reports come off their index in report_id order: only one report's addresses are
    sorted at a time, where every reported address was sorted before the first row."""
    plan = _plan(graph, "reports-shared-addresses")
    ops = [op for op, _ in plan]
    assert "Sort" not in ops
    assert ops.count("PartialSort") == 1
    assert plan[-1] == (
        "NodeIndexScan",
        "RANGE INDEX r:IncidentReport(report_id) WHERE report_id IS NOT NULL, cache[r.report_id]",
    )


def test_enrichment_failures_walk_the_failing_index_in_key_order(graph: Graph) -> None:
    """Each label's failing nodes come off the (enrich_failing, key) index in key order, so a
    branch stops after the page: the union of four seeks sorted 7,351 rows on a 500k graph."""
    plan = _plan(graph, "review-enrichment-failures")
    ops = [op for op, _ in plan]
    assert ops.count("Top") == 1 and ops.count("Limit") == 2
    assert "Sort" not in ops and "PartialSort" not in ops
    assert [d for op, d in plan if op == "NodeIndexSeek"] == [
        "RANGE INDEX d:Domain(enrich_failing, name) WHERE enrich_failing = true AND name IS NOT"
        " NULL, cache[d.name]",
        "RANGE INDEX ip:IPAddress(enrich_failing, address) WHERE enrich_failing = true AND"
        " address IS NOT NULL, cache[ip.address]",
    ]


def test_flows_walk_reported_addresses_in_address_order(graph: Graph) -> None:
    """Off the (reported, address) index in order: the first page no longer waits for every
    reported address to be sorted (5,632 on a 500k graph); only one destination's flows are.
    The graph has that shape: many flows, few of them to reported addresses."""
    graph.write(
        lambda tx: tx.run(
            "UNWIND range(1, 3000) AS i "
            "CREATE (:IPAddress {address: '10.1.' + (i / 256) + '.' + (i % 256)})"
            "-[:CONTACTED {dst_port: 443, protocol: 'tcp', last_seen: datetime()}]->"
            "(:IPAddress {address: '10.2.' + (i / 256) + '.' + (i % 256), reported: false})"
        ).consume()
    )
    fresh_statistics(graph)
    plan = _plan(graph, "reports-flows-to-reported")
    ops = [op for op, _ in plan]
    assert "Sort" not in [op for op, d in plan if "dst.address" in d]
    assert ops.count("PartialSort") == 1
    assert (
        "NodeIndexSeek",
        "RANGE INDEX dst:IPAddress(reported, address) WHERE reported = true AND address IS NOT"
        " NULL, cache[dst.reported], cache[dst.address]",
    ) in plan


ADDR = ("address", "names_on_address", "domain", "score", "decision")

EXPECTED: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "pivot-shared-name-server": (
        {"domain": "evil.test"},
        _rows(
            "name_server",
            "zones_served",
            "domain",
            "score",
            "decision",
            rows=[("ns1.badns.test", 2, "evil2.test", 0.91, "act")],
        ),
    ),
    "pivot-shared-registrant": (
        {"domain": "evil.test", "include_privacy": "true"},
        _rows(
            "registrant",
            "registrant_name",
            "privacy_proxy",
            "domain",
            "score",
            "decision",
            rows=[("privacy-guard", "Privacy Guard", True, "evil2.test", 0.91, "act")],
        ),
    ),
    "pivot-shared-address": (
        {"domain": "evil.test"},
        _rows(
            *ADDR,
            rows=[
                ("192.0.2.10", 4, "blog.test", None, None),
                ("192.0.2.10", 4, "evil2.test", 0.91, "act"),
                ("192.0.2.10", 4, "shop.test", 0.05, "no-act"),
            ],
        ),
    ),
    "pivot-shared-prefix": (
        {"domain": "evil.test"},
        _rows(
            "prefix",
            "domain",
            "address",
            rows=[
                ("192.0.2.0/24", "blog.test", "192.0.2.10"),
                ("192.0.2.0/24", "evil2.test", "192.0.2.10"),
                ("192.0.2.0/24", "shop.test", "192.0.2.10"),
                ("203.0.113.0/24", "new.test", "203.0.113.31"),
            ],
        ),
    ),
    "pivot-shared-asn": (
        {"domain": "evil.test"},
        _rows(
            "asn",
            "as_name",
            "domain",
            "addresses",
            rows=[
                (64500, "SHARED-HOSTING", "blog.test", 1),
                (64500, "SHARED-HOSTING", "evil2.test", 1),
                (64500, "SHARED-HOSTING", "shop.test", 1),
                (64502, "BULLETPROOF-NET", "new.test", 1),
            ],
        ),
    ),
    "hosting-cohosted-names": (
        {"address": "192.0.2.10"},
        _rows(
            "domain",
            "first_seen",
            "last_seen",
            "score",
            "decision",
            "benign_labels",
            "malicious_labels",
            rows=[
                ("blog.test", T0, T0, None, None, 1, 1),
                ("evil.test", T0, T0, 0.97, "act", 0, 1),
                ("evil2.test", T0, T0, 0.91, "act", 0, 1),
                ("shop.test", T0, T0, 0.05, "no-act", 1, 0),
            ],
        ),
    ),
    "hosting-as-contents": (
        {"asn": "64500"},
        _rows(
            "prefix",
            "address",
            "address_decision",
            "domain",
            "domain_decision",
            rows=[
                ("192.0.2.0/24", "192.0.2.10", "act", "blog.test", None),
                ("192.0.2.0/24", "192.0.2.10", "act", "evil.test", "act"),
                ("192.0.2.0/24", "192.0.2.10", "act", "evil2.test", "act"),
                ("192.0.2.0/24", "192.0.2.10", "act", "shop.test", "no-act"),
            ],
        ),
    ),
    "hosting-prefix-contents": (
        {"cidr": "203.0.113.0/24"},
        _rows(
            "prefix",
            "asn",
            "address",
            "names",
            "score",
            "decision",
            rows=[
                ("203.0.113.0/24", 64502, "203.0.113.30", 1, None, None),
                ("203.0.113.0/24", 64502, "203.0.113.31", 1, None, None),
            ],
        ),
    ),
    "registration-registrar-reputation": (
        {},
        _rows(
            "registrar",
            "name",
            "domains",
            "malicious",
            "act_decisions",
            "malicious_share",
            rows=[("reg-bad", "BadReg", 3, 2, 2, 0.667), ("reg-good", "GoodReg", 2, 1, 0, 0.5)],
        ),
    ),
    "registration-privacy-proxy": (
        {},
        _rows(
            "domain",
            "registrant",
            "registrar",
            "created",
            "score",
            "decision",
            rows=[
                ("evil.test", "Privacy Guard", "BadReg", CREATED, 0.97, "act"),
                ("evil2.test", "Privacy Guard", "BadReg", None, 0.91, "act"),
            ],
        ),
    ),
    "dns-fast-flux-candidates": (
        {},
        _rows(
            "domain",
            "addresses",
            "asns",
            "min_ttl",
            "score",
            "decision",
            rows=[("evil.test", 3, 3, 60, 0.97, "act")],
        ),
    ),
    "reports-by-sector": (
        {"window_start": "2026-09-01", "window_end": "2026-12-31T00:00:00+00:00"},
        _rows(
            "sector",
            "reports",
            "confirmed",
            "indicators",
            rows=[("energy", 1, 1, 2), ("finance", 1, 0, 1)],
        ),
    ),
    "reports-shared-addresses": (
        {},
        _rows(
            "report_id",
            "sector",
            "address",
            "role",
            "cohosted_names",
            rows=[
                ("INC-1", "energy", "192.0.2.10", "c2", 4),
                ("INC-2", "finance", "192.0.2.10", "c2", 4),
            ],
        ),
    ),
    "reports-flows-to-reported": (
        {},
        _rows(
            "source",
            "destination",
            "dst_port",
            "protocol",
            "flows",
            "last_seen",
            "reports",
            rows=[("10.0.0.5", "192.0.2.10", 443, "tcp", 3, T1, ["INC-1", "INC-2"])],
        ),
    ),
    "reports-report-indicators": (
        {"report_id": "INC-1"},
        _rows(
            "kind",
            "value",
            "role",
            "score",
            "decision",
            rows=[
                ("domain", "evil.test", "c2", 0.97, "act"),
                ("ip", "192.0.2.10", "c2", 0.88, "act"),
            ],
        ),
    ),
    "review-act-servers": (
        {},
        _rows(
            "kind",
            "target",
            "score",
            "score_low",
            "score_high",
            "server",
            "other_names",
            rows=[
                # Only 203.0.113.30 was seen within 72 hours of evil.test's scoring.
                ("domain", "evil.test", 0.97, None, None, "203.0.113.30", 0),
                # evil2.test's one address was last seen a month before it was scored.
                ("domain", "evil2.test", 0.91, None, None, None, None),
                ("ip", "192.0.2.10", 0.88, None, None, "192.0.2.10", 4),
            ],
        ),
    ),
    "review-high-score-unreviewed": (
        {},
        _rows(
            "kind",
            "target",
            "score",
            "decision",
            "reasons",
            "model_version",
            "scored_at",
            rows=[
                (
                    "domain",
                    "evil.test",
                    0.97,
                    "act",
                    ["lab_ppr=+0.41", "reg_age_days=+0.12"],
                    MODEL,
                    T1,
                ),
                ("ip", "192.0.2.10", 0.88, "act", ["lab_as_rate=+0.30"], MODEL, T1),
            ],
        ),
    ),
    "review-collateral-risk": (
        {},
        _rows(
            "kind",
            "target",
            "score",
            "cohosted_names",
            "benign_neighbours",
            rows=[
                ("ip", "192.0.2.10", 0.88, 4, 2),
                ("domain", "evil.test", 0.97, 3, 2),
                ("domain", "evil2.test", 0.91, 3, 2),
            ],
        ),
    ),
    "review-labels-by-source": (
        {},
        _rows(
            "source",
            "source_kind",
            "target_kind",
            "verdict",
            "labels",
            rows=[
                ("allowlist:top", "allowlist", "domain", "benign", 2),
                ("analyst:alice", "analyst", "ip", "malicious", 1),
                ("feed:emotet", "feed", "domain", "malicious", 3),
            ],
        ),
    ),
    "review-conflicting-labels": (
        {},
        _rows(
            "kind",
            "target",
            "source",
            "verdict",
            rows=[
                ("domain", "blog.test", "allowlist:top", "benign"),
                ("domain", "blog.test", "feed:emotet", "malicious"),
            ],
        ),
    ),
    "review-enrichment-failures": (
        {},
        _rows(
            "kind",
            "target",
            "state",
            "failures",
            "enriched_at",
            rows=[
                ("domain", "new.test", "failed", ["rdap-domain: timeout"], T1),
                ("ip", "203.0.113.31", "done", ["rdap-ip: rate-limited"], T1),
            ],
        ),
    ),
    "review-approval-requests": (
        {},
        _rows(
            "request_id",
            "target",
            "requested_by",
            "requested_at",
            "current_score",
            "current_decision",
            "report_digest",
            "decisions",
            rows=[("REQ-1", "evil2.test", "officer-sato", REQUESTED, 0.91, "act", DIGEST, 0)],
        ),
    ),
    "changes-changed-since": (
        {"since": SINCE.isoformat()},
        _rows(
            "label",
            "key",
            "change",
            "first_seen",
            "last_seen",
            rows=[
                ("Domain", "evil.test", "seen-again", T0, T1),
                ("Domain", "new.test", "new", T1, T1),
                ("IPAddress", "203.0.113.31", "new", T1, T1),
                ("IncidentReport", "INC-2", "new", INC2_OBSERVED, INC2_REPORTED),
            ],
        ),
    ),
    "changes-resolutions-since": (
        {"since": "2026-09-15T00:00:00Z"},
        _rows(
            "domain",
            "address",
            "change",
            "first_seen",
            "last_seen",
            "min_ttl",
            rows=[
                ("evil.test", "203.0.113.30", "seen-again", T0, T1, 60),
                ("new.test", "203.0.113.31", "new", T1, T1, 300),
            ],
        ),
    ),
    "paths-evidence-path": (
        {"source_indicator": "evil2.test", "target_indicator": "evil.test"},
        _rows(
            "path_nodes",
            "path_relationships",
            "hops",
            rows=[
                (
                    ["Domain:evil2.test", "Domain:ns1.badns.test", "Domain:evil.test"],
                    ["NAME_SERVER", "NAME_SERVER"],
                    2,
                ),
                (
                    ["Domain:evil2.test", "IPAddress:192.0.2.10", "Domain:evil.test"],
                    ["RESOLVES_TO", "RESOLVES_TO"],
                    2,
                ),
                (
                    ["Domain:evil2.test", "Registrant:privacy-guard", "Domain:evil.test"],
                    ["REGISTERED_BY", "REGISTERED_BY"],
                    2,
                ),
                (
                    ["Domain:evil2.test", "Registrar:reg-bad", "Domain:evil.test"],
                    ["REGISTERED_WITH", "REGISTERED_WITH"],
                    2,
                ),
            ],
        ),
    ),
}


def test_every_library_query_has_expected_fixture_results() -> None:
    assert sorted(EXPECTED) == sorted(q.id for q in LIBRARY)


@pytest.fixture
def fixture_graph(graph: Graph) -> Graph:
    load_fixture(graph)
    return graph


@pytest.mark.parametrize("query_id", sorted(EXPECTED))
def test_query_results_on_fixture_graph(fixture_graph: Graph, query_id: str) -> None:
    params, expected = EXPECTED[query_id]
    result = run_query(fixture_graph, query_id, params)
    assert result.rows == expected
    for row in result.rows:
        assert tuple(row) == result.columns


@pytest.mark.parametrize("size", [1, 2])
def test_pages_put_together_give_the_whole_result(fixture_graph: Graph, size: int) -> None:
    """Every query read page by page gives its expected rows in order, and only the last page
    says no more rows follow. A query with a page_limit runs each page with its limit lowered
    to the page's end plus one, so this also holds that lowering it keeps the rows."""
    for query_id, (params, expected) in sorted(EXPECTED.items()):
        pages = []
        while True:
            offset = sum(len(p.rows) for p in pages)
            pages.append(run_query_page(fixture_graph, query_id, params, offset=offset, size=size))
            if not pages[-1].more:
                break
        assert [row for page in pages for row in page.rows] == expected, query_id
        assert [len(page.rows) for page in pages[:-1]] == [size] * (len(pages) - 1), query_id
        assert len(pages) == max(1, -(-len(expected) // size)), query_id


def test_paged_queries_have_fixture_rows_to_page_through() -> None:
    """Each query with a page_limit returns at least two rows on the fixture, so single-row
    pages run it with a limit below its result's length."""
    paged = {q.id: len(EXPECTED[q.id][1]) for q in LIBRARY if q.page_limit}
    assert len(paged) == 13
    assert {query_id for query_id, rows in paged.items() if rows < 2} == {
        "dns-fast-flux-candidates"
    }


def test_parameters_narrow_results(fixture_graph: Graph) -> None:
    # Privacy registrants are not pivoted through unless asked for.
    assert run_query(fixture_graph, "pivot-shared-registrant", {"domain": "evil.test"}).rows == []
    # Every resolution onto the shared address was last seen before the cut-off.
    late = {"address": "192.0.2.10", "since": "2026-09-15"}
    assert run_query(fixture_graph, "hosting-cohosted-names", late).rows == []
    strict = run_query(fixture_graph, "review-collateral-risk", {"min_cohosted": 4})
    # Targets with benign neighbours stay listed whatever their count.
    assert [r["target"] for r in strict.rows] == ["192.0.2.10", "evil.test", "evil2.test"]
    first = run_query(fixture_graph, "review-collateral-risk", {"limit": 1})
    assert [r["target"] for r in first.rows] == ["192.0.2.10"]
    assert run_query(fixture_graph, "review-approval-requests", {"status": "approved"}).rows == []
    top = run_query(fixture_graph, "review-high-score-unreviewed", {"limit": 1})
    assert [(r["target"], r["reasons"]) for r in top.rows] == [
        ("evil.test", ["lab_ppr=+0.41", "reg_age_days=+0.12"])
    ]
    # A window of 31 days takes in evil.test's September resolutions too.
    wide = run_query(fixture_graph, "review-act-servers", {"fresh_hours": 31 * 24})
    assert [(r["target"], r["server"], r["other_names"]) for r in wide.rows] == [
        ("evil.test", "192.0.2.10", 3),
        ("evil.test", "198.51.100.20", 0),
        ("evil.test", "203.0.113.30", 0),
        ("evil2.test", "192.0.2.10", 3),
        ("192.0.2.10", "192.0.2.10", 4),
    ]


@pytest.mark.parametrize(
    "cypher",
    [
        "CREATE (n:Domain {name: 'written.test'}) RETURN n.name AS name",
        "MERGE (n:Domain {name: 'written.test'}) RETURN n.name AS name",
        "MATCH (n:Domain {name: 'evil.test'}) SET n.decision = 'no-act' RETURN n.name AS name",
        "MATCH (n:Domain {name: 'evil.test'}) DETACH DELETE n",
    ],
)
def test_writes_are_refused_on_the_query_path(fixture_graph: Graph, cypher: str) -> None:
    with pytest.raises(ClientError) as caught:
        run_read_only(fixture_graph, cypher, {}, query_id="write-attempt")
    assert "write" in (caught.value.message or "").lower()
    rows = fixture_graph.read(
        "MATCH (n:Domain) WHERE n.name IN ['written.test', 'evil.test'] "
        "RETURN n.name AS name, n.decision AS decision"
    )
    assert rows == [{"name": "evil.test", "decision": "act"}]


def test_query_id_is_the_transaction_metadata(graph: Graph) -> None:
    rows = run_read_only(
        graph,
        "SHOW TRANSACTIONS YIELD metaData, currentQuery "
        "WHERE currentQuery STARTS WITH 'SHOW TRANSACTIONS' RETURN metaData",
        {},
        query_id="probe-metadata",
    )
    assert rows == [{"metaData": {"query_id": "probe-metadata"}}]


def test_timeout_stops_a_long_query(graph: Graph) -> None:
    with pytest.raises(ClientError) as caught:
        run_read_only(
            graph,
            "UNWIND range(1, 10000000000) AS x WITH x WHERE x < 0 RETURN count(x) AS n",
            {},
            query_id="slow",
            timeout=0.5,
        )
    assert "Timed" in (caught.value.code or "") or "timed" in (caught.value.message or "")


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_attribution(env, "query", *args, cwd=REPO, timeout=120)


def test_cli_list_json(neo4j_env: dict[str, str]) -> None:
    done = _cli(neo4j_env, "list", "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [q["id"] for q in listed] == [q.id for q in LIBRARY]
    by_id = {q["id"]: q for q in listed}
    assert by_id["pivot-shared-name-server"]["params"] == [
        {
            "name": "domain",
            "type": "string",
            "default": None,
            "required": True,
            "meaning": "canonical domain name to pivot from",
        },
        {
            "name": "max_zones",
            "type": "int",
            "default": "500",
            "required": False,
            "meaning": "skip name servers that serve more zones than this",
        },
    ]


def test_cli_run_json_and_csv(fixture_graph: Graph, neo4j_env: dict[str, str]) -> None:
    done = _cli(neo4j_env, "run", "pivot-shared-address", "-p", "domain=evil.test", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload == {
        "query_id": "pivot-shared-address",
        "revision": 1,
        "params": {"domain": "evil.test"},
        "columns": list(ADDR),
        "rows": EXPECTED["pivot-shared-address"][1],
    }

    done = _cli(
        neo4j_env,
        "run",
        "changes-resolutions-since",
        "-p",
        "since=2026-09-15T00:00:00Z",
        "-p",
        "limit=1",
        "--csv",
    )
    assert done.returncode == 0, done.stderr
    assert list(csv.reader(io.StringIO(done.stdout))) == [
        ["domain", "address", "change", "first_seen", "last_seen", "min_ttl"],
        [
            "evil.test",
            "203.0.113.30",
            "seen-again",
            "2026-09-01T00:00:00+00:00",
            "2026-10-01T00:00:00+00:00",
            "60",
        ],
    ]

    done = _cli(neo4j_env, "run", "reports-flows-to-reported", "--csv")
    assert done.returncode == 0, done.stderr
    assert list(csv.reader(io.StringIO(done.stdout)))[1][-1] == '["INC-1", "INC-2"]'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "no-such-query"), "no query 'no-such-query'"),
        (("run", "pivot-shared-address"), "needs parameter domain"),
        (("run", "hosting-as-contents", "-p", "asn=AS64500"), "expected an integer"),
        (("run", "pivot-shared-address", "-p", "domain=a", "-p", "x=1"), "has no parameter x"),
        (("run", "pivot-shared-address", "-p", "domain"), "must read key=value"),
    ],
)
def test_cli_usage_errors(neo4j_env: dict[str, str], args: tuple[str, ...], message: str) -> None:
    done = _cli(neo4j_env, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
