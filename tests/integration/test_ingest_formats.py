"""Each intake format lands in the graph as exactly these facts; refused records leave nothing."""

from __future__ import annotations

import json
from pathlib import Path

from attribution.db import Graph
from attribution.ingest import ingest_paths


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def rels(graph: Graph) -> list[dict[str, object]]:
    return graph.read(
        "MATCH (a)-[r]->(b) RETURN labels(a)[0] + ':' + toString(coalesce(a.name, a.address, a.report_id, a.handle)) AS a, "
        "type(r) AS t, labels(b)[0] + ':' + toString(coalesce(b.name, b.address, b.report_id, b.handle)) AS b "
        "ORDER BY a, t, b"
    )


INCIDENT = {
    "report_id": "IR-2026-000900",
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
        },
        {
            "type": "ipv4",
            "value": "203.0.113.9",
            "role": "c2",
            "dst_port": 443,
            "protocol": "tcp",
            "first_seen": "2026-08-30T00:00:00Z",
            "last_seen": "2026-09-01T00:00:00Z",
        },
    ],
}


def test_incident_report(graph: Graph, tmp_path: Path) -> None:
    path = write(tmp_path, "report.json", json.dumps(INCIDENT))
    summary = ingest_paths(graph, [path])
    assert (summary.accepted, summary.rejected) == (1, [])
    assert rels(graph) == [
        {"a": "Domain:c2.example.com", "t": "REPORTED_IN", "b": "IncidentReport:IR-2026-000900"},
        {"a": "Domain:c2.example.com", "t": "SUBDOMAIN_OF", "b": "Domain:example.com"},
        {"a": "IPAddress:203.0.113.9", "t": "IP_REPORTED_IN", "b": "IncidentReport:IR-2026-000900"},
        {"a": "IncidentReport:IR-2026-000900", "t": "SUBMITTED_BY", "b": "Operator:Kansai Power"},
    ]
    assert graph.read(
        "MATCH (:IPAddress)-[r:IP_REPORTED_IN]->(x:IncidentReport) "
        "RETURN r.role AS role, r.dst_port AS port, r.protocol AS proto, x.sector AS sector, x.confirmed AS ok"
    ) == [{"role": "c2", "port": 443, "proto": "tcp", "sector": "electricity", "ok": True}]


def test_incident_report_carrying_content_is_refused_whole(graph: Graph, tmp_path: Path) -> None:
    report = json.loads(json.dumps(INCIDENT))
    report["indicators"][1]["payload"] = "GET /secret HTTP/1.1"
    summary = ingest_paths(graph, [write(tmp_path, "report.json", json.dumps(report))])
    assert summary.accepted == 0
    assert [(r.line, r.field) for r in summary.rejected] == [(0, "$.indicators[1].payload")]
    assert "GET /secret" not in str(summary.rejected[0])
    assert graph.read("MATCH (n) RETURN count(n) AS n") == [{"n": 0}]


FLOWS = (
    "src_ip,dst_ip,src_port,dst_port,protocol,first_seen,last_seen,packets,bytes\n"
    "10.0.0.5,203.0.113.9,50000,443,tcp,2026-09-01T00:00:00Z,2026-09-01T00:00:10Z,10,1500\n"
    "10.0.0.5,203.0.113.9,50001,443,tcp,2026-09-01T01:00:00Z,2026-09-01T01:00:05Z,4,600\n"
    "10.0.0.5,203.0.113.9,50002,53,udp,2026-09-01T02:00:00Z,2026-09-01T02:00:00Z,1,80\n"
)


def test_flows_aggregate_into_contacts(graph: Graph, tmp_path: Path) -> None:
    summary = ingest_paths(graph, [write(tmp_path, "flows.csv", FLOWS)])
    assert (summary.accepted, summary.rejected) == (2, [])
    assert graph.read(
        "MATCH (:IPAddress {address: '10.0.0.5'})-[r:CONTACTED]->(:IPAddress {address: '203.0.113.9'}) "
        "RETURN r.dst_port AS port, r.protocol AS proto, r.packets AS pk, r.bytes AS by, r.flows AS n, "
        "toString(r.first_seen) AS first, toString(r.last_seen) AS last ORDER BY port"
    ) == [
        {
            "port": 53,
            "proto": "udp",
            "pk": 1,
            "by": 80,
            "n": 1,
            "first": "2026-09-01T02:00:00Z",
            "last": "2026-09-01T02:00:00Z",
        },
        {
            "port": 443,
            "proto": "tcp",
            "pk": 14,
            "by": 2100,
            "n": 2,
            "first": "2026-09-01T00:00:00Z",
            "last": "2026-09-01T01:00:05Z",
        },
    ]
    # The same export loaded again sums nothing twice: each flow record is summed once.
    ingest_paths(graph, [write(tmp_path, "flows.csv", FLOWS)])
    assert graph.read(
        "MATCH ()-[r:CONTACTED {dst_port: 443}]->() RETURN r.packets AS pk, r.flows AS n"
    ) == [{"pk": 14, "n": 2}]


def test_flow_rows_with_content_columns_are_refused_and_nothing_is_written(
    graph: Graph, tmp_path: Path
) -> None:
    header, *lines = FLOWS.splitlines()
    text = "\n".join([header + ",http_user_agent", *(line + ",curl/8" for line in lines)]) + "\n"
    summary = ingest_paths(graph, [write(tmp_path, "flows.csv", text)])
    assert summary.accepted == 0
    assert [(r.line, r.field) for r in summary.rejected] == [
        (2, "http_user_agent"),
        (3, "http_user_agent"),
        (4, "http_user_agent"),
    ]
    assert all("curl" not in str(r) for r in summary.rejected)
    assert graph.read("MATCH (n) RETURN count(n) AS n") == [{"n": 0}]


def test_passive_dns_keeps_the_sighting_window(graph: Graph, tmp_path: Path) -> None:
    line = {
        "rrname": "c2.example.com.",
        "rrtype": "A",
        "rdata": ["203.0.113.9"],
        "time_first": 1756684800,
        "time_last": 1756771200,
        "count": 7,
    }
    summary = ingest_paths(graph, [write(tmp_path, "pdns.jsonl", json.dumps(line) + "\n")])
    assert (summary.accepted, summary.rejected) == (1, [])
    assert graph.read(
        "MATCH (d:Domain)-[r:RESOLVES_TO]->(i:IPAddress) RETURN d.name AS d, i.address AS i, r.rtype AS t, "
        "toString(r.first_seen) AS first, toString(r.last_seen) AS last, r.source AS src"
    ) == [
        {
            "d": "c2.example.com",
            "i": "203.0.113.9",
            "t": "A",
            "first": "2025-09-01T00:00:00Z",
            "last": "2025-09-02T00:00:00Z",
            "src": ["passive-dns:pdns.jsonl"],
        }
    ]


def test_stix_url_indicator_enters_as_its_host_with_the_url_kept(
    graph: Graph, tmp_path: Path
) -> None:
    bundle = {
        "type": "bundle",
        "id": "bundle--6d3f1f6e-8a52-4cd6-9d3e-2d0a8d1c6a10",
        "objects": [
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": "indicator--0c1f6a6e-55d4-4c0f-9d39-3f1e3b0f6f7a",
                "created": "2026-09-01T00:00:00.000Z",
                "modified": "2026-09-01T00:00:00.000Z",
                "pattern": "[url:value = 'http://Phish.Example.com/login?x=1']",
                "pattern_type": "stix",
                "valid_from": "2026-09-01T00:00:00Z",
                "labels": ["phishing"],
            }
        ],
    }
    summary = ingest_paths(graph, [write(tmp_path, "bundle.json", json.dumps(bundle))])
    assert (summary.accepted, summary.rejected) == (1, [])
    assert graph.read(
        "MATCH (d:Domain {indicator: true}) RETURN d.name AS name, d.urls AS urls"
    ) == [{"name": "phish.example.com", "urls": ["http://phish.example.com/login?x=1"]}]


def test_allowlist_and_trail_labels(graph: Graph, tmp_path: Path) -> None:
    trails = tmp_path / "trails" / "static" / "malware"
    trails.mkdir(parents=True)
    (trails / "emotet.txt").write_text(
        "# emotet C2\nbad.example.com\n203.0.113.9\n", encoding="utf-8"
    )
    allow = write(tmp_path, "allowlist.txt", "www.example.org\n")
    summary = ingest_paths(graph, [trails / "emotet.txt", allow])
    assert (summary.accepted, summary.rejected) == (3, [])
    assert graph.read(
        "MATCH (s:LabelSource)-[r]->(t) RETURN s.name AS s, type(r) AS t, coalesce(t.name, t.address) AS target, "
        "r.verdict AS v, r.family AS f ORDER BY target"
    ) == [
        {
            "s": "feed:emotet.txt",
            "t": "LABELS_IP",
            "target": "203.0.113.9",
            "v": "malicious",
            "f": "emotet",
        },
        {
            "s": "feed:emotet.txt",
            "t": "LABELS_DOMAIN",
            "target": "bad.example.com",
            "v": "malicious",
            "f": "emotet",
        },
        {
            "s": "allowlist:allowlist.txt",
            "t": "LABELS_DOMAIN",
            "target": "www.example.org",
            "v": "benign",
            "f": "allowlist",
        },
    ]


def _rdap_domain(name: str, registrar: str, handle: str) -> dict[str, object]:
    return {
        "objectClassName": "domain",
        "ldhName": name,
        "events": [{"eventAction": "registration", "eventDate": "2024-05-20T00:00:00Z"}],
        "entities": [
            {
                "objectClassName": "entity",
                "handle": handle,
                "roles": ["registrar"],
                "vcardArray": [
                    "vcard",
                    [["version", {}, "text", "4.0"], ["fn", {}, "text", registrar]],
                ],
            }
        ],
    }


def test_one_registrar_whether_its_answer_came_by_intake_or_by_enrichment(
    graph: Graph, tmp_path: Path
) -> None:
    """A raw RDAP answer goes through enrichment's own transform and row mapping, so the
    registrar an ingested answer names is the node the worker writes for it (here spelled
    differently and carrying the same registry handle, which must not become the key)."""
    from datetime import UTC, datetime

    from attribution.identities import Identity
    from attribution.observations_to_rows import rows_for_results
    from attribution.writer import GraphWriter
    from enrichment.domain_registration import SOURCE, transform_rdap_domain
    from enrichment.failures import Outcome
    from enrichment.observations import EnrichmentResults, SourceResult

    answer = tmp_path / "answer.rdap.json"
    answer.write_text(json.dumps(_rdap_domain("one.example", "Ex  Reg, Inc.", "292")))
    assert ingest_paths(graph, [answer], fmt="rdap").accepted == 1
    when = datetime(2026, 11, 1, tzinfo=UTC)
    enriched = transform_rdap_domain(
        "two.example", _rdap_domain("two.example", "EX REG, INC.", "292"), "https://rdap", when
    )
    results = EnrichmentResults(
        "two.example", (SourceResult(SOURCE, "two.example", Outcome.OK, (enriched,)),)
    )
    rows = rows_for_results(Identity("domain", "two.example"), results, when)
    GraphWriter(graph).load(nodes=rows.nodes, rels=rows.rels)
    found = graph.read(
        "MATCH (d:Domain)-[:REGISTERED_WITH]->(r:Registrar) "
        "RETURN d.name AS domain, r.key AS key ORDER BY domain"
    )
    assert found == [
        {"domain": "one.example", "key": "ex reg, inc."},
        {"domain": "two.example", "key": "ex reg, inc."},
    ]
    assert graph.read("MATCH (r:Registrar) RETURN count(r) AS n") == [{"n": 1}]
