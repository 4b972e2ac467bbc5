"""`attribution ingest` end to end: bad lines named, good lines written, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import run_attribution

from attribution.db import Graph

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"


def test_list_and_csv_land_with_their_bad_lines_named(
    graph: Graph, neo4j_env: dict[str, str]
) -> None:
    result = run_attribution(
        neo4j_env, "ingest", "--json", str(DATA / "mixed.txt"), str(DATA / "feed.csv")
    )
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["accepted"] == 10
    assert [(r["file"], r["line"]) for r in summary["rejected"]] == [
        ("mixed.txt", 5),
        ("mixed.txt", 8),
        ("mixed.txt", 11),
        ("feed.csv", 4),
    ]
    assert all(r["reason"] for r in summary["rejected"])
    indicators = graph.read(
        "MATCH (n) WHERE n.indicator RETURN labels(n)[0] AS label, coalesce(n.name, n.address, n.cidr, n.asn) AS key, "
        "n.enrich_state AS state, n.tags AS tags ORDER BY label, toString(key)"
    )
    assert indicators == [
        {"label": "AutonomousSystem", "key": 64500, "state": "pending", "tags": []},
        {"label": "Domain", "key": "bad-host.example", "state": "pending", "tags": []},
        {"label": "Domain", "key": "evil.example", "state": "pending", "tags": ["c2", "emotet"]},
        {"label": "Domain", "key": "example.test", "state": "pending", "tags": []},
        {"label": "Domain", "key": "ok.example", "state": "pending", "tags": []},
        {"label": "Domain", "key": "www.example.co.jp", "state": "pending", "tags": []},
        {"label": "IPAddress", "key": "192.0.2.55", "state": "pending", "tags": []},
        {"label": "IPAddress", "key": "2001:db8::1", "state": "pending", "tags": []},
        {"label": "IPAddress", "key": "203.0.113.7", "state": "pending", "tags": ["scanner"]},
        {"label": "Prefix", "key": "198.51.100.0/24", "state": "pending", "tags": []},
    ]
    assert graph.read("MATCH (a)-[:SUBDOMAIN_OF]->(b) RETURN a.name AS a, b.name AS b") == [
        {"a": "www.example.co.jp", "b": "example.co.jp"}
    ]
    # An intel list may give a URL: its host is the indicator, the URL stays on it.
    assert graph.read("MATCH (d:Domain {name: 'bad-host.example'}) RETURN d.urls AS u") == [
        {"u": ["http://bad-host.example/path?q=1"]}
    ]
    sources = graph.read(
        "MATCH (d:Domain {name: 'evil.example'}) RETURN d.source AS s, d.first_seen.year AS y"
    )
    assert sources == [{"s": ["ingest:partner-a"], "y": 2026}]


def test_a_clean_file_exits_zero_and_reingest_changes_no_counts(
    graph: Graph, neo4j_env: dict[str, str]
) -> None:
    clean = DATA / "feed.csv"
    for _ in range(2):
        result = run_attribution(neo4j_env, "ingest", "--json", "--format", "csv", str(clean))
        assert result.returncode == 1  # feed.csv has one bad line
    counts = graph.read("MATCH (n) RETURN count(n) AS n, sum(n.sightings) AS s")
    assert counts == [{"n": 3, "s": 6}]


def test_missing_file_is_an_environment_error(neo4j_env: dict[str, str], tmp_path: Path) -> None:
    result = run_attribution(neo4j_env, "ingest", str(tmp_path / "absent.txt"))
    assert result.returncode == 3
    assert "absent.txt: no such file" in result.stderr
