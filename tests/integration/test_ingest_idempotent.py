"""Loading the same file again leaves the same graph; a report id names one report only."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import run_attribution

from attribution.db import Graph
from attribution.ingest import ingest_paths

FLOWS = (
    "src_ip,dst_ip,src_port,dst_port,protocol,first_seen,last_seen,packets,bytes\n"
    "10.0.0.5,203.0.113.9,50000,443,tcp,2026-09-01T00:00:00Z,2026-09-01T00:00:10Z,10,1500\n"
    "10.0.0.5,203.0.113.9,50001,443,tcp,2026-09-01T01:00:00Z,2026-09-01T01:00:05Z,4,600\n"
    "10.0.0.5,203.0.113.9,50002,53,udp,2026-09-01T02:00:00Z,2026-09-01T02:00:00Z,1,80\n"
)
CONTACTS = (
    "MATCH (:IPAddress {address: '10.0.0.5'})-[r:CONTACTED]->(:IPAddress {address: '203.0.113.9'}) "
    "RETURN r.dst_port AS port, r.packets AS pk, r.bytes AS by, r.flows AS n, "
    "size(r.records) AS keys ORDER BY port"
)


def test_the_same_flow_file_three_times_sums_each_record_once(graph: Graph, tmp_path: Path) -> None:
    path = tmp_path / "flows.csv"
    path.write_text(FLOWS)
    for _ in range(3):
        summary = ingest_paths(graph, [path])
        assert (summary.accepted, summary.rejected) == (2, [])
    assert graph.read(CONTACTS) == [
        {"port": 53, "pk": 1, "by": 80, "n": 1, "keys": 1},
        {"port": 443, "pk": 14, "by": 2100, "n": 2, "keys": 1},
    ]
    # Other flows for the same contact still add up, once each.
    other = tmp_path / "later.csv"
    other.write_text(
        FLOWS.splitlines()[0]
        + "\n10.0.0.5,203.0.113.9,50003,443,tcp,2026-09-02T00:00:00Z,2026-09-02T00:00:01Z,2,300\n"
    )
    for _ in range(2):
        ingest_paths(graph, [other])
    assert graph.read(CONTACTS)[1] == {"port": 443, "pk": 16, "by": 2400, "n": 3, "keys": 2}


REPORT = {
    "report_id": "IR-2026-000901",
    "operator": {"name": "Kansai Power", "sector": "electricity"},
    "observed_at": "2026-09-01T00:00:00Z",
    "reported_at": "2026-09-01T06:00:00Z",
    "confirmed": True,
    "indicators": [
        {
            "type": "domain",
            "value": "c2.example.com",
            "role": "c2",
            "first_seen": "2026-08-30T00:00:00Z",
            "last_seen": "2026-09-01T00:00:00Z",
        }
    ],
}


def test_a_report_id_given_again_is_idempotent_or_refused(
    graph: Graph, neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    first = tmp_path / "kansai.json"
    first.write_text(json.dumps(REPORT))
    for _ in range(2):
        summary = ingest_paths(graph, [first])
        assert (summary.accepted, summary.rejected) == (1, [])
    other = {**REPORT, "operator": {"name": "Tohoku Water", "sector": "water"}}
    second = tmp_path / "tohoku.json"
    second.write_text(json.dumps(other))
    result = run_attribution(neo4j_env, "ingest", "--json", str(second))
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["accepted"] == 0
    assert summary["rejected"] == [
        {
            "file": "tohoku.json",
            "line": 0,
            "field": "report_id",
            "value": "IR-2026-000901",
            "reason": "report_id IR-2026-000901 is already loaded with other content; "
            "a corrected report needs its own report_id",
        }
    ]
    assert graph.read(
        "MATCH (r:IncidentReport)-[:SUBMITTED_BY]->(o:Operator) "
        "RETURN r.report_id AS id, r.sector AS sector, o.name AS operator"
    ) == [{"id": "IR-2026-000901", "sector": "electricity", "operator": "Kansai Power"}]
    assert graph.read("MATCH (o:Operator) RETURN count(o) AS n") == [{"n": 1}]
