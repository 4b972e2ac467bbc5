"""The approval workflow on a real graph: the happy path and every refusal."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_reports import GENERATED, cli, make_world

from attribution import audit
from attribution.approvals import (
    UnknownRequest,
    WorkflowPolicy,
    WorkflowRefusal,
    decide,
    decision_anchors,
    get_request,
    list_requests,
    request_approval,
)
from attribution.db import Graph
from attribution.reports.builder import generate_report, write_json
from attribution.settings import Settings
from attribution.warninglists import WarninglistIndex

POLICY = WorkflowPolicy(reviewers=frozenset({"rita", "ravi"}))
NOW = GENERATED + timedelta(hours=2)
World = tuple[Graph, Settings, WarninglistIndex]


def _report(world: World, target: str = "c2.bad.test", **kwargs: Any) -> dict[str, Any]:
    graph, settings, lists = world
    return generate_report(
        graph, target, settings, generated_at=GENERATED, warninglists=lists, **kwargs
    )


@pytest.fixture
def world(graph: Graph, test_settings: Settings, tmp_path: Path) -> World:
    return make_world(graph, test_settings, tmp_path)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


def _request(world: World, log: Path, report: dict[str, Any] | None = None) -> dict[str, Any]:
    return request_approval(
        world[0], "c2.bad.test", report or _report(world), "alice", POLICY, now=NOW, audit_path=log
    )


def _decision_nodes(graph: Graph) -> list[dict[str, Any]]:
    return graph.read(
        "MATCH (d:Decision)-[:DECIDES]->(r:ApprovalRequest) "
        "RETURN r.request_id AS request, properties(d) AS props ORDER BY d.decided_at"
    )


def test_request_and_approve(world: World, log: Path) -> None:
    graph = world[0]
    report = _report(world)
    request = _request(world, log, report)
    assert request["status"] == "open"
    assert request["target"] == "c2.bad.test"
    assert request["report_digest"] == report["digest"]
    assert request["requested_by"] == "alice"
    assert request["requested_at"] == "2026-03-12T11:30:00Z"
    assert request["decisions"] == []
    linked = graph.read(
        "MATCH (r:ApprovalRequest)-[:CONCERNS_DOMAIN]->(d:Domain) RETURN d.name AS name"
    )
    assert linked == [{"name": "c2.bad.test"}]
    decided = decide(
        graph,
        request["request_id"],
        "approve",
        "rita",
        "C2 confirmed by IR-1",
        report,
        POLICY,
        now=NOW,
        audit_path=log,
    )
    assert decided["status"] == "approved"
    [decision] = decided["decisions"]
    entries = audit.read_entries(log)
    assert {k: v for k, v in decision.items() if k != "decision_id"} == {
        "outcome": "approve",
        "decided_by": "rita",
        "reason": "C2 confirmed by IR-1",
        "decided_at": "2026-03-12T11:30:00Z",
        "report_digest": report["digest"],
        "audit_head": f"2:{entries[1]['hash']}",
    }
    assert [r["request_id"] for r in list_requests(graph)] == [request["request_id"]]
    assert list_requests(graph, ["open"]) == []
    assert [(e["seq"], e["actor"], e["action"], e["subject"]) for e in entries] == [
        (1, "alice", "approval.request", request["request_id"]),
        (2, "rita", "approval.decide", request["request_id"]),
    ]
    assert audit.verify(log).ok


def test_a_decided_request_cannot_be_decided_again(world: World, log: Path) -> None:
    graph = world[0]
    report = _report(world)
    request_id = _request(world, log, report)["request_id"]
    decide(graph, request_id, "deny", "rita", "not enough", report, POLICY, now=NOW, audit_path=log)
    before = _decision_nodes(graph)
    for outcome in ("approve", "deny", "return"):
        with pytest.raises(WorkflowRefusal, match=f"request {request_id} is denied, not open"):
            decide(
                graph, request_id, outcome, "ravi", "again", report, POLICY, now=NOW, audit_path=log
            )
    assert _decision_nodes(graph) == before
    assert len(before) == 1


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("alice", "alice does not have the reviewer role"),
        ("mallory", "mallory does not have the reviewer role"),
    ],
)
def test_only_reviewers_decide(world: World, log: Path, who: str, message: str) -> None:
    report = _report(world)
    request_id = _request(world, log, report)["request_id"]
    with pytest.raises(WorkflowRefusal, match=message):
        decide(world[0], request_id, "approve", who, "ok", report, POLICY, now=NOW, audit_path=log)


def test_the_requester_cannot_decide_even_as_reviewer(world: World, log: Path) -> None:
    report = _report(world)
    request = request_approval(
        world[0], "c2.bad.test", report, "rita", POLICY, now=NOW, audit_path=log
    )
    with pytest.raises(WorkflowRefusal, match="rita made the request and cannot decide it"):
        decide(
            world[0],
            request["request_id"],
            "approve",
            "rita",
            "ok",
            report,
            POLICY,
            now=NOW,
            audit_path=log,
        )


def test_decision_refuses_a_report_that_fails_verification(world: World, log: Path) -> None:
    report = _report(world)
    request_id = _request(world, log, report)["request_id"]
    tampered = json.loads(json.dumps(report))
    tampered["content"]["score"]["probability"] = 0.99
    with pytest.raises(WorkflowRefusal, match="the report fails verification: digest mismatch"):
        decide(
            world[0], request_id, "approve", "rita", "ok", tampered, POLICY, now=NOW, audit_path=log
        )


def test_decision_refuses_a_report_on_another_target(world: World, log: Path) -> None:
    request_id = _request(world, log)["request_id"]
    other = _report(world, "203.0.113.5")
    with pytest.raises(
        WorkflowRefusal, match=re.escape("concerns ip 203.0.113.5, not domain c2.bad.test")
    ):
        decide(
            world[0], request_id, "approve", "rita", "ok", other, POLICY, now=NOW, audit_path=log
        )


def test_decision_refuses_a_report_the_request_did_not_name(world: World, log: Path) -> None:
    request_id = _request(world, log)["request_id"]
    different = _report(world, max_facts=3)
    with pytest.raises(WorkflowRefusal, match="is not the report the request named"):
        decide(
            world[0],
            request_id,
            "approve",
            "rita",
            "ok",
            different,
            POLICY,
            now=NOW,
            audit_path=log,
        )


def test_decision_refuses_a_stale_report(world: World, log: Path) -> None:
    report = _report(world)
    request_id = _request(world, log, report)["request_id"]
    late = GENERATED + timedelta(days=7, seconds=1)
    with pytest.raises(WorkflowRefusal, match="the report is 7 days old; the maximum is 7 days"):
        decide(
            world[0], request_id, "approve", "rita", "ok", report, POLICY, now=late, audit_path=log
        )
    strict = WorkflowPolicy(POLICY.reviewers, timedelta(hours=1))
    with pytest.raises(WorkflowRefusal, match="days old"):
        decide(
            world[0], request_id, "approve", "rita", "ok", report, strict, now=NOW, audit_path=log
        )


def test_requests_refused(world: World, log: Path) -> None:
    graph = world[0]
    report = _report(world)
    with pytest.raises(WorkflowRefusal, match="recommends do-not-act-collateral-risk"):
        request_approval(
            graph,
            "198.51.100.7",
            _report(world, "198.51.100.7"),
            "alice",
            POLICY,
            now=NOW,
            audit_path=log,
        )
    with pytest.raises(
        WorkflowRefusal, match=re.escape("concerns domain c2.bad.test, not ip 203.0.113.5")
    ):
        request_approval(graph, "203.0.113.5", report, "alice", POLICY, now=NOW, audit_path=log)
    stale = GENERATED + timedelta(days=8)
    with pytest.raises(WorkflowRefusal, match="8 days old"):
        request_approval(graph, "c2.bad.test", report, "alice", POLICY, now=stale, audit_path=log)
    first = _request(world, log, report)
    with pytest.raises(WorkflowRefusal, match=f"already has an open request {first['request_id']}"):
        _request(world, log, report)
    assert len(list_requests(graph)) == 1
    with pytest.raises(UnknownRequest):
        get_request(graph, "req-missing")


def test_return_then_request_again_with_a_new_report(world: World, log: Path) -> None:
    graph = world[0]
    report = _report(world)
    first = _request(world, log, report)
    returned = decide(
        graph,
        first["request_id"],
        "return",
        "rita",
        "add the NS evidence",
        report,
        POLICY,
        now=NOW,
        audit_path=log,
    )
    assert returned["status"] == "returned"
    with pytest.raises(
        WorkflowRefusal, match="was returned on this report; a new report is needed"
    ):
        _request(world, log, report)
    renewed = _report(world, max_facts=50)
    second = _request(world, log, renewed)
    assert second["status"] == "open"
    assert second["request_id"] != first["request_id"]
    approved = decide(
        graph,
        second["request_id"],
        "approve",
        "ravi",
        "ok",
        renewed,
        POLICY,
        now=NOW,
        audit_path=log,
    )
    assert approved["status"] == "approved"
    statuses = sorted((r["status"], r["report_digest"]) for r in list_requests(graph))
    assert statuses == sorted([("returned", report["digest"]), ("approved", renewed["digest"])])


def test_a_fresh_report_on_an_old_score_is_refused(world: World, tmp_path: Path) -> None:
    graph, _, _ = world
    log = tmp_path / "audit.jsonl"
    # Generated six days ago (within the seven allowed) on a score from seven days before.
    later = GENERATED + timedelta(days=6)
    with pytest.raises(WorkflowRefusal) as refused:
        request_approval(graph, "c2.bad.test", _report(world), "alice", POLICY, now=later,
                         audit_path=log)  # fmt: skip
    assert str(refused.value) == (
        "the evidence behind the report is as of 2026-03-11T00:00:00Z, 7 days ago; the maximum "
        "is 7 days: enrich and score the target again"
    )


def test_approval_cli(world: World, neo4j_env: dict[str, str], tmp_path: Path) -> None:
    _, settings, _ = world
    # The CLI runs on the clock: the target is resolved and scored again now, so the report's
    # evidence is current.
    world[0].run_write(
        "MATCH (d:Domain {name: 'c2.bad.test'})-[r:RESOLVES_TO]->() "
        "SET d.scored_at = datetime(), r.last_seen = datetime()"
    )
    report = generate_report(world[0], "c2.bad.test", settings, warninglists=world[2])
    path = tmp_path / "report.json"
    write_json(report, path)
    env = {
        **neo4j_env,
        "ATTRIBUTION_REVIEWERS": "rita, ravi",
        "ATTRIBUTION_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "ATTRIBUTION_WARNINGLISTS_DIR": str(settings.warninglists_dir),
    }
    made = cli(env, "approval", "request", "c2.bad.test", "--report", str(path), "--by", "alice")
    assert made.returncode == 0, made.stderr
    request_id = made.stdout.strip()
    refused = cli(
        env,
        "approval",
        "decide",
        request_id,
        "--by",
        "alice",
        "--approve",
        "--reason",
        "mine",
        "--report",
        str(path),
    )
    assert refused.returncode == 4
    assert refused.stderr == (
        "attribution approval: refused: alice does not have the reviewer role\n"
    )
    done = cli(
        env,
        "approval",
        "decide",
        request_id,
        "--by",
        "rita",
        "--approve",
        "--reason",
        "confirmed",
        "--report",
        str(path),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "approved"
    again = cli(
        env,
        "approval",
        "decide",
        request_id,
        "--by",
        "ravi",
        "--deny",
        "--reason",
        "late",
        "--report",
        str(path),
    )
    assert again.returncode == 4
    assert f"request {request_id} is approved, not open" in again.stderr
    shown = json.loads(cli(env, "approval", "show", request_id, "--json").stdout)
    assert [d["outcome"] for d in shown["decisions"]] == ["approve"]
    assert cli(env, "approval", "show", "req-nope").returncode == 1
    actions = [e["action"] for e in audit.read_entries(tmp_path / "audit.jsonl")]
    assert actions == ["approval.request", "approval.decide"]
    checked = cli(env, "audit", "verify", "--graph", "--json")
    assert (checked.returncode, json.loads(checked.stdout)["ok"]) == (0, True)
    log = tmp_path / "audit.jsonl"
    log.write_text(log.read_text().splitlines(keepends=True)[0])
    (tmp_path / "anchors").mkdir(exist_ok=True)
    cut = cli(
        {**env, "ATTRIBUTION_AUDIT_ANCHOR_DIR": str(tmp_path / "anchors")},
        "audit",
        "verify",
        "--graph",
    )
    assert cut.returncode == 4
    assert "in the graph" in cut.stdout


def test_signature_policy(world: World, log: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from attribution.reports.canonical import public_key_fingerprint

    key, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    trusted = public_key_fingerprint(key.public_key())
    policy = WorkflowPolicy(POLICY.reviewers, require_signature=True)
    graph = world[0]
    with pytest.raises(WorkflowRefusal, match="not signed, and signed reports are required"):
        request_approval(
            graph, "c2.bad.test", _report(world), "alice", policy, now=NOW, audit_path=log
        )
    only_ours = WorkflowPolicy(
        POLICY.reviewers, require_signature=True, trusted_keys=frozenset({trusted})
    )
    foreign = _report(world, signing_key=stranger)
    with pytest.raises(WorkflowRefusal, match="signed by an untrusted key"):
        request_approval(graph, "c2.bad.test", foreign, "alice", only_ours, now=NOW, audit_path=log)
    signed = _report(world, signing_key=key)
    request = request_approval(
        graph, "c2.bad.test", signed, "alice", only_ours, now=NOW, audit_path=log
    )
    decided = decide(
        graph,
        request["request_id"],
        "approve",
        "rita",
        "ok",
        signed,
        only_ours,
        now=NOW,
        audit_path=log,
    )
    assert decided["status"] == "approved"


def test_no_decision_without_its_audit_entry(world: World, log: Path) -> None:
    graph = world[0]
    report = _report(world)
    request_id = _request(world, log, report)["request_id"]
    log.unlink()
    log.mkdir()  # a directory where the log should be: nothing can be appended
    with pytest.raises(audit.AuditError):
        decide(graph, request_id, "approve", "rita", "ok", report, POLICY, now=NOW, audit_path=log)
    assert _decision_nodes(graph) == []
    assert get_request(graph, request_id)["status"] == "open"


def test_decisions_anchor_the_chain_in_the_graph(world: World, log: Path) -> None:
    graph = world[0]
    report = _report(world)
    request_id = _request(world, log, report)["request_id"]
    decided = decide(
        graph, request_id, "deny", "rita", "thin", report, POLICY, now=NOW, audit_path=log
    )
    [decision] = decided["decisions"]
    entries = audit.read_entries(log)
    anchors = decision_anchors(graph)
    assert anchors == [
        (f"decision {decision['decision_id']} in the graph", f"2:{entries[1]['hash']}")
    ]
    assert audit.verify(log, anchors=anchors).ok
    # The log cut back to its first entry verifies on its own, but not against the graph.
    log.write_text(log.read_text().splitlines(keepends=True)[0])
    assert audit.verify(log).ok
    cut = audit.verify(log, anchors=anchors)
    assert (cut.ok, cut.entries) == (False, 1)
    assert f"decision {decision['decision_id']} in the graph" in (cut.reason or "")


def test_no_request_without_its_audit_entry(world: World, log: Path) -> None:
    graph = world[0]
    log.mkdir()  # a directory where the log should be: nothing can be appended
    with pytest.raises(audit.AuditError):
        _request(world, log)
    assert list_requests(graph) == []
