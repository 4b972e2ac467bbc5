"""Analysts run the query library (JSON or CSV, a page at a time) and read-only ad-hoc Cypher
with a timeout and a row cap; writes and reaching outside the graph are refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import LiveService

from attribution.db import Graph
from attribution.queries import list_queries

RUN = "/queries/hosting-cohosted-names/run"
CDN = {"address": "198.51.100.7"}


def cohosted(domain: str, score: float | None, decision: str | None, benign: int) -> dict:
    return {
        "domain": domain,
        "first_seen": "2026-03-01T00:00:00Z",
        "last_seen": "2026-03-10T00:00:00Z",
        "score": score,
        "decision": decision,
        "benign_labels": benign,
        "malicious_labels": 0,
    }


ALL_ROWS = [cohosted("popular.example", 0.02, "no-act", 1)] + [
    cohosted(f"tenant{i}.cdn.test", None, None, 0) for i in range(5)
]


def run(service: LiveService, body: dict[str, Any], path: str = RUN, **kw: Any) -> Any:
    return service.client("ana").post(service.api(path), json=body, timeout=30, **kw)


def test_the_library_is_listed(live_service: LiveService) -> None:
    answer = live_service.client("ana").get(live_service.api("/queries"), timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"queries": [q.as_dict() for q in list_queries()]}
    listed = {q["id"]: q for q in answer.json()["queries"]}
    assert listed["hosting-cohosted-names"]["params"] == [
        {
            "name": "address",
            "type": "string",
            "default": None,
            "required": True,
            "meaning": "canonical IP address",
        },
        {
            "name": "since",
            "type": "datetime",
            "default": "1970-01-01T00:00:00Z",
            "required": False,
            "meaning": "only resolutions last seen at or after this",
        },
    ]
    pipeline = live_service.client("pia").get(live_service.api("/queries"), timeout=10)
    assert pipeline.status_code == 403


def test_a_query_runs_with_its_params_in_pages(live_service: LiveService) -> None:
    whole = run(live_service, {"params": CDN})
    assert whole.status_code == 200, whole.text
    assert whole.json() == {
        "query": "hosting-cohosted-names",
        "revision": 1,
        "params": {"address": "198.51.100.7", "since": "1970-01-01T00:00:00Z"},
        "columns": [
            "domain",
            "first_seen",
            "last_seen",
            "score",
            "decision",
            "benign_labels",
            "malicious_labels",
        ],
        "rows": ALL_ROWS,
        "next_cursor": None,
    }
    first = run(live_service, {"params": CDN, "limit": 4}).json()
    assert first["rows"] == ALL_ROWS[:4]
    second = run(live_service, {"params": CDN, "limit": 4, "cursor": first["next_cursor"]}).json()
    assert (second["rows"], second["next_cursor"]) == (ALL_ROWS[4:], None)
    since = run(live_service, {"params": {**CDN, "since": "2026-03-11"}})
    assert since.json()["rows"] == []


def test_a_cursor_serves_only_its_own_query_and_params(live_service: LiveService) -> None:
    cursor = run(live_service, {"params": CDN, "limit": 2}).json()["next_cursor"]
    other = {"address": "203.0.113.5"}
    moved = run(live_service, {"params": other, "limit": 2, "cursor": cursor})
    assert (moved.status_code, moved.json()["message"]) == (
        400,
        "cursor: the cursor belongs to another query or other parameters",
    )
    forged = run(live_service, {"params": CDN, "cursor": "not-a-cursor"})
    assert (forged.status_code, forged.json()["message"]) == (
        400,
        "cursor: not a cursor this service gave",
    )


def test_csv_output(live_service: LiveService) -> None:
    header = "domain,first_seen,last_seen,score,decision,benign_labels,malicious_labels\n"
    first = run(live_service, {"params": CDN, "limit": 2}, params={"format": "csv"})
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/csv")
    assert first.text == (
        header + "popular.example,2026-03-01T00:00:00Z,2026-03-10T00:00:00Z,0.02,no-act,1,0\n"
        "tenant0.cdn.test,2026-03-01T00:00:00Z,2026-03-10T00:00:00Z,,,0,0\n"
    )
    cursor = first.headers["X-Next-Cursor"]
    last = run(
        live_service,
        {"params": CDN, "limit": 4, "cursor": cursor},
        headers={"Accept": "text/csv"},
    )
    assert last.text == header + "".join(
        f"tenant{i}.cdn.test,2026-03-01T00:00:00Z,2026-03-10T00:00:00Z,,,0,0\n"
        for i in (1, 2, 3, 4)
    )
    assert "X-Next-Cursor" not in last.headers


def test_bad_params_are_422_naming_the_param(live_service: LiveService) -> None:
    cases = [
        ({}, "params.address", "query hosting-cohosted-names needs parameter address"),
        ({"address": 5}, "params.address", "parameter address: expected string, got int 5"),
        ({**CDN, "since": "yesterday"}, "params.since", "parameter since: expected an ISO 8601"),
        ({**CDN, "bogus": 1}, "params.bogus", "query hosting-cohosted-names has no parameter"),
    ]
    for params, field, start in cases:
        answer = run(live_service, {"params": params})
        assert answer.status_code == 422, params
        detail = answer.json()["details"][0]
        assert detail["field"] == field
        assert detail["reason"].startswith(start), detail
    unknown = run(live_service, {}, path="/queries/no-such-query/run")
    assert (unknown.status_code, unknown.json()["message"]) == (
        404,
        "no query 'no-such-query' in the library (see `attribution query list`)",
    )


def cypher(service: LiveService, query: str, **params: Any) -> Any:
    return run(service, {"query": query, "params": params}, path="/cypher")


def test_ad_hoc_cypher_reads(live_service: LiveService) -> None:
    answer = cypher(
        live_service,
        "MATCH (d:Domain {name: $name}) RETURN d.name AS name, d.score AS score, "
        "d.scored_at AS scored_at, [d.decision] AS decisions",
        name="c2.bad.test",
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "columns": ["name", "score", "scored_at", "decisions"],
        "rows": [
            {
                "name": "c2.bad.test",
                "score": 0.97,
                "scored_at": "2026-03-11T00:00:00Z",
                "decisions": ["act"],
            }
        ],
        "truncated": False,
        "row_cap": 1000,
    }


def count(graph: Graph) -> tuple[int, int]:
    nodes = graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"]
    rels = graph.read("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"]
    return nodes, rels


def test_writes_are_refused_and_change_nothing(live_service: LiveService, graph: Graph) -> None:
    before = count(graph)
    for query in (
        "CREATE (:Domain {name: 'planted.test'})",
        "MATCH (n) DETACH DELETE n",
        "MATCH (d:Domain) SET d.score = 0.0 RETURN count(d)",
        "MERGE (d:Domain {name: 'planted.test'}) RETURN d",
        "CALL db.createLabel('Planted')",
    ):
        answer = cypher(live_service, query)
        assert (answer.status_code, answer.json()["message"]) == (
            403,
            "the query writes to the graph; only reading is allowed here",
        ), query
    assert count(graph) == before
    assert graph.read("MATCH (d:Domain) WHERE d.score = 0.0 RETURN d") == []


def test_reaching_outside_the_graph_is_refused(live_service: LiveService) -> None:
    cases = {
        "LOAD CSV FROM 'http://127.0.0.1:9/x' AS row RETURN row": "may not use LoadCSV here",
        "TERMINATE TRANSACTIONS 'neo4j-transaction-1'": "may not use TerminateTransactions here",
        "SHOW TRANSACTIONS": "may not use ShowTransactions here",
        "SHOW SETTINGS": "may not use ShowSettings here",
        "CALL dbms.components()": "may not call dbms.* procedures or functions",
    }
    for query, message in cases.items():
        answer = cypher(live_service, query)
        assert (answer.status_code, answer.json()["message"]) == (
            403,
            f"ad-hoc Cypher {message}",
        ), query


def test_syntax_errors_and_long_queries_are_refused(live_service: LiveService) -> None:
    bad = cypher(live_service, "MATCH (n RETURN n")
    assert bad.status_code == 400
    assert bad.json()["message"].startswith(
        "the graph refused the query: Invalid input 'RETURN': expected"
    )
    assert "\n" not in bad.json()["message"]
    missing = cypher(live_service, "RETURN $x AS x")
    assert (missing.status_code, missing.json()["message"]) == (
        400,
        "the graph refused the query: Expected parameter(s): x",
    )
    long = cypher(live_service, "RETURN 1 " + " " * 20_000)
    assert (long.status_code, long.json()["details"]) == (
        422,
        [{"field": "query", "reason": "must be 1 to 20000 characters of Cypher"}],
    )
    huge = cypher(live_service, "RETURN $n AS n", n=[1, 2**64])
    assert (huge.status_code, huge.json()["details"]) == (
        422,
        [{"field": "params.n[1]", "reason": "integers must fit in a signed 64-bit integer"}],
    )


def test_the_row_cap_truncates_and_the_timeout_stops(
    make_service: Callable[..., LiveService],
) -> None:
    service = make_service(cypher_row_cap=3, cypher_timeout_s=1.0)
    service.add("ana", "analyst")
    capped = cypher(service, "UNWIND range(1, 10) AS i RETURN i")
    assert capped.json() == {
        "columns": ["i"],
        "rows": [{"i": 1}, {"i": 2}, {"i": 3}],
        "truncated": True,
        "row_cap": 3,
    }
    exact = cypher(service, "UNWIND range(1, 3) AS i RETURN i")
    assert exact.json()["truncated"] is False
    slow = cypher(service, "UNWIND range(1, 1000000000) AS x WITH x WHERE x < 0 RETURN count(*)")
    assert (slow.status_code, slow.json()) == (
        504,
        {"error": "timeout", "message": "the query ran past the service's time limit"},
    )
