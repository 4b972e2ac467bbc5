"""`attribution ingest` over hostile files: each is named and refused, the next still lands."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import run_attribution

from attribution.db import Graph


def test_bad_files_are_named_and_the_good_ones_land(
    graph: Graph, neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 10_000 + "]" * 10_000)
    folder = tmp_path / "folder"
    folder.mkdir()
    far = tmp_path / "far.csv"
    far.write_text(
        "src_ip,dst_ip,protocol,first_seen\n192.0.2.1,198.51.100.1,tcp,9999-12-31T23:00:00-05:00\n"
    )
    good = tmp_path / "good.txt"
    good.write_text("evil.example\n")
    files = [str(p) for p in (deep, folder, far, good)]
    result = run_attribution(neo4j_env, "ingest", "--json", *files)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    summary = json.loads(result.stdout)
    assert summary["accepted"] == 1
    assert [(r["file"], r["line"], r["field"], r["reason"]) for r in summary["rejected"]] == [
        (str(deep), 0, None, "file refused: JSON nested deeper than 64 levels"),
        (str(folder), 0, None, "file refused: is a directory, not a file (name the files in it)"),
        ("far.csv", 2, "first_seen", "timestamp falls outside years 1..9999 in UTC"),
    ]
    assert graph.read("MATCH (n) RETURN labels(n)[0] AS l, n.name AS k ORDER BY k") == [
        {"l": "Domain", "k": "evil.example"}
    ]


def test_an_oversized_count_leaves_nothing_of_its_record(
    graph: Graph, neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    flows = tmp_path / "flows.csv"
    flows.write_text(
        "src_ip,dst_ip,protocol,first_seen,bytes\n"
        "192.0.2.1,198.51.100.1,tcp,2026-01-01T00:00:00Z,100\n"
        f"192.0.2.2,198.51.100.2,tcp,2026-01-01T00:00:00Z,{2**63}\n"
    )
    result = run_attribution(neo4j_env, "ingest", "--json", str(flows))
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert [(r["line"], r["field"]) for r in summary["rejected"]] == [(3, "bytes")]
    assert graph.read("MATCH (n:IPAddress) RETURN n.address AS a ORDER BY a") == [
        {"a": "192.0.2.1"},
        {"a": "198.51.100.1"},
    ]
    assert graph.read("MATCH ()-[r:CONTACTED]->() RETURN r.bytes AS b") == [{"b": 100}]
