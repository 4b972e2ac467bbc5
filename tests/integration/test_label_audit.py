"""Every label change is audited before it is written, and not written when it cannot be."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import run_attribution

from attribution import audit
from attribution.db import Graph
from attribution.ingest import rows_for
from attribution.intake.feeds import parse_label_list
from attribution.labels import audit_label_rels, read_labels, set_analyst_label


@pytest.fixture
def audit_env(tmp_path: Path, neo4j_env: dict[str, str]) -> dict[str, str]:
    env = dict(neo4j_env)
    env["ATTRIBUTION_AUDIT_LOG"] = str(tmp_path / "log" / "audit.jsonl")
    env["ATTRIBUTION_AUDIT_ANCHOR_DIR"] = str(tmp_path / "anchors")
    env["ATTRIBUTION_USER"] = "ingrid"
    env.pop("ATTRIBUTION_AUDIT_ANCHOR_COMMAND", None)
    return env


def _use(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Path:
    for name in ("ATTRIBUTION_AUDIT_LOG", "ATTRIBUTION_AUDIT_ANCHOR_DIR", "ATTRIBUTION_USER"):
        monkeypatch.setenv(name, env[name])
    return Path(env["ATTRIBUTION_AUDIT_LOG"])


def test_allowlist_import_is_audited(
    graph: Graph, tmp_path: Path, audit_env: dict[str, str]
) -> None:
    allow = tmp_path / "allow.txt"
    allow.write_text("good.example\n192.0.2.10\n")
    done = run_attribution(audit_env, "label", "import", str(allow), "--kind", "allowlist")
    assert (done.returncode, done.stderr) == (0, "")
    [entry] = audit.read_entries(Path(audit_env["ATTRIBUTION_AUDIT_LOG"]))
    assert (entry["actor"], entry["action"], entry["subject"]) == (
        "ingrid",
        "label.import",
        str(allow),
    )
    details = dict(entry["details"])
    assert len(details.pop("labels_sha256")) == 64
    assert details == {
        "kind": "allowlist",
        "rejected": 0,
        "labels": 2,
        "sources": {"allowlist:allow.txt": 2},
        "targets": [
            {"target": "192.0.2.10", "verdict": "benign", "source": "allowlist:allow.txt"},
            {"target": "good.example", "verdict": "benign", "source": "allowlist:allow.txt"},
        ],
    }
    assert sorted(read_labels(graph)) == [("Domain", "good.example"), ("IPAddress", "192.0.2.10")]


def _block_log(env: dict[str, str]) -> None:
    """A directory where the log file should be: no entry can be appended."""
    Path(env["ATTRIBUTION_AUDIT_LOG"]).mkdir(parents=True)


def test_no_label_without_its_audit_entry(
    graph: Graph, tmp_path: Path, audit_env: dict[str, str]
) -> None:
    _block_log(audit_env)
    log = audit_env["ATTRIBUTION_AUDIT_LOG"]
    feed = tmp_path / "feed.txt"
    feed.write_text("bad.example\n")
    runs = {
        "set": run_attribution(
            audit_env, "label", "bad.example", "malicious", "--by", "ann", "--reason", "c2"
        ),
        "import": run_attribution(audit_env, "label", "import", str(feed), "--kind", "feed"),
    }
    for action, done in runs.items():
        assert done.returncode == 3, action
        assert done.stderr == (
            f"attribution label: cannot write the audit log {log}: Is a directory\n"
        ), action
    assert read_labels(graph) == {}


def test_no_analyst_label_when_the_anchor_cannot_be_written(
    graph: Graph, tmp_path: Path, audit_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, audit_env)
    Path(audit_env["ATTRIBUTION_AUDIT_ANCHOR_DIR"]).write_text("not a directory")
    with pytest.raises(
        audit.AuditError, match=r"^cannot anchor the audit head of .*audit\.jsonl in .*anchors: "
    ):
        set_analyst_label(graph, "bad.example", "malicious", by="ann", reason="c2")
    assert read_labels(graph) == {}


def test_analyst_verdict_is_audited_with_the_outcome(
    graph: Graph, audit_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _use(monkeypatch, audit_env)
    set_analyst_label(graph, "bad.example", "benign", by="ann", reason="sinkhole")
    record = set_analyst_label(graph, "bad.example", "malicious", by="bob", reason="c2 seen")
    entries = audit.read_entries(log)
    assert [(e["actor"], e["action"], e["subject"]) for e in entries] == [
        ("ann", "label.set", "bad.example"),
        ("bob", "label.set", "bad.example"),
    ]
    assert entries[1]["details"] == {k: v for k, v in record.items() if k != "audited"}
    assert (record["previous"], record["previous_source"], record["resolved"]) == (
        "benign",
        "analyst:ann",
        "malicious",
    )
    assert read_labels(graph)[("Domain", "bad.example")].source == "analyst:bob"


def test_labels_arriving_with_other_records_are_audited(
    audit_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _use(monkeypatch, audit_env)
    parsed = parse_label_list(b"evil.example\n198.51.100.7\n", "trail.txt", "malicious")
    rows = rows_for(parsed.records)
    assert audit_label_rels(rows.rels, "label.ingest", "trail.txt") == 2
    [entry] = audit.read_entries(log)
    assert (entry["actor"], entry["action"], entry["details"]["sources"]) == (
        "ingrid",
        "label.ingest",
        {"feed:trail.txt": 2},
    )
    assert audit_label_rels([], "label.ingest", "empty.txt") == 0
    assert len(audit.read_entries(log)) == 1
    assert json.loads(log.read_text())["seq"] == 1


def test_labels_ingested_with_a_file_are_audited_first(
    graph: Graph, tmp_path: Path, audit_env: dict[str, str]
) -> None:
    trails = tmp_path / "trails.txt"
    trails.write_text("# trails\nevil.example\n198.51.100.7\n")
    done = run_attribution(audit_env, "ingest", "--format", "trails", str(trails))
    assert (done.returncode, done.stderr) == (0, f"{trails}: 2 records written\n")
    [entry] = audit.read_entries(Path(audit_env["ATTRIBUTION_AUDIT_LOG"]))
    assert (entry["action"], entry["subject"], entry["details"]["labels"]) == (
        "label.ingest",
        str(trails),
        2,
    )
    assert sorted(read_labels(graph)) == [("Domain", "evil.example"), ("IPAddress", "198.51.100.7")]


def test_no_ingested_label_without_its_audit_entry(
    graph: Graph, tmp_path: Path, audit_env: dict[str, str]
) -> None:
    _block_log(audit_env)
    trails = tmp_path / "trails.txt"
    trails.write_text("evil.example\n")
    done = run_attribution(audit_env, "ingest", "--format", "trails", str(trails))
    assert done.returncode == 3
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert read_labels(graph) == {}
