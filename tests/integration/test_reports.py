"""Confidence reports built from a real graph: content, schema, digest, signature, CLI."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from clirun import run_attribution
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from attribution import audit
from attribution.db import Graph
from attribution.reports.builder import (
    ReportError,
    build_content,
    generate_report,
    validate_document,
)
from attribution.reports.canonical import public_key_fingerprint, verify_document
from attribution.reports.publish import publish_report
from attribution.settings import ReportSettings, Settings
from attribution.warninglists import WarninglistIndex, load_warninglists
from attribution.writer import GraphWriter, NodeRow, RelRow

T0 = datetime(2026, 3, 1, tzinfo=UTC)
T1 = datetime(2026, 3, 10, tzinfo=UTC)
SCORED = datetime(2026, 3, 11, tzinfo=UTC)
GENERATED = datetime(2026, 3, 12, 9, 30, tzinfo=UTC)


def _node(label: str, key: Any, source: str = "dns", **props: Any) -> NodeRow:
    return NodeRow(label, key, props, source, T0, T1, T1)


def _rel(kind: str, start: Any, end: Any, source: str = "dns", **props: Any) -> RelRow:
    return RelRow(kind, start, end, props, source, T0, T1, T1)


def write_lists(root: Path) -> Path:
    """Three tiny warninglists: a CDN range, a top site, a dynamic DNS provider."""
    lists = {
        "cloudflare": ("cidr", ["198.51.100.0/24"]),
        "tranco10k": ("hostname", ["popular.example"]),
        "dynamic-dns": ("string", [".dyn.example"]),
    }
    for name, (kind, entries) in lists.items():
        folder = root / "lists" / name
        folder.mkdir(parents=True)
        (folder / "list.json").write_text(
            json.dumps(
                {
                    "name": name,
                    "description": f"{name} test list",
                    "type": kind,
                    "list": entries,
                    "version": 1,
                }
            )
        )
    return root


def build_world(graph: Graph) -> None:
    """A C2 domain on a dedicated IP, a CDN address with many tenants, a benign top site."""
    nodes = [
        _node("Domain", "c2.bad.test", registrable="bad.test", created=T0),
        _node("Domain", "bad.test", "rdap-domain", created=datetime(2026, 2, 1, tzinfo=UTC)),
        _node("Domain", "alias.bad.test"),
        _node("IPAddress", "203.0.113.5", version=4),
        _node("Domain", "other.bad.test"),
        _node(
            "Network", "NET-203-0-113-0-1", "rdap-ip", name="EXAMPLE-NET", cidrs=["203.0.113.0/24"]
        ),
        _node("Prefix", "203.0.113.0/24", "asn"),
        _node("AutonomousSystem", 64500, "asn", name="EXAMPLE-AS"),
        _node("Registrar", "9999", "rdap-domain", name="Example Registrar"),
        _node(
            "IncidentReport",
            "IR-1",
            "incident",
            sector="energy",
            observed_at=T0,
            reported_at=T1,
            confirmed=True,
        ),
        _node("LabelSource", "feed:c2.txt", "feed", kind="feed"),
        _node("LabelSource", "allow:top", "allowlist", kind="allowlist"),
        _node("IPAddress", "198.51.100.7", version=4),
        _node("Domain", "popular.example"),
    ] + [_node("Domain", f"tenant{i}.cdn.test") for i in range(5)]
    rels = [
        _rel("RESOLVES_TO", "c2.bad.test", "203.0.113.5", rtype="A", ttl=60),
        _rel("RESOLVES_TO", "other.bad.test", "203.0.113.5", rtype="A", ttl=60),
        _rel("ALIAS_OF", "alias.bad.test", "c2.bad.test", ttl=300),
        _rel("SUBDOMAIN_OF", "c2.bad.test", "bad.test"),
        _rel("IN_NETWORK", "203.0.113.5", "NET-203-0-113-0-1", "rdap-ip"),
        _rel("IN_PREFIX", "203.0.113.5", "203.0.113.0/24", "asn"),
        _rel("ANNOUNCED_BY", "203.0.113.0/24", 64500, "asn"),
        _rel("REGISTERED_WITH", "bad.test", "9999", "rdap-domain"),
        _rel("REPORTED_IN", "c2.bad.test", "IR-1", "incident", role="c2"),
        _rel(
            "LABELS_DOMAIN",
            "feed:c2.txt",
            "c2.bad.test",
            "feed",
            verdict="malicious",
            family="examplebot",
        ),
        _rel("LABELS_DOMAIN", "allow:top", "popular.example", "allowlist", verdict="benign"),
        _rel("RESOLVES_TO", "popular.example", "198.51.100.7", rtype="A"),
    ] + [_rel("RESOLVES_TO", f"tenant{i}.cdn.test", "198.51.100.7", rtype="A") for i in range(5)]
    GraphWriter(graph).load(nodes=nodes, rels=rels)
    scores = [
        ("Domain", "name", "c2.bad.test", 0.97, "act"),
        ("Domain", "name", "other.bad.test", 0.40, "no-act"),
        ("Domain", "name", "popular.example", 0.02, "no-act"),
        ("IPAddress", "address", "198.51.100.7", 0.93, "act"),
        ("IPAddress", "address", "203.0.113.5", 0.91, "act"),
    ]
    for label, key, value, score, decision in scores:
        graph.run_write(
            f"MATCH (n:{label} {{{key}: $value}}) SET n.score = $score, n.decision = $decision, "
            "n.model_version = 'maliciousness/1', n.scored_at = datetime($at), "
            "n.reasons = ['fast_flux_asns=+0.21', 'young_registration=+0.12']",
            {"value": value, "score": score, "decision": decision, "at": SCORED.isoformat()},
        )


def write_manifest(models: Path) -> None:
    """A manifest laid out as attribution.scoring.persistence writes it (the gate block)."""
    folder = models / "maliciousness" / "1"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(
        json.dumps(
            {
                "name": "maliciousness",
                "version": "1",
                "gate": {
                    "alpha": 0.01,
                    "delta": 0.05,
                    "threshold": 0.9,
                    "n_calibration_benign": 299,
                    "batch_size": 1000,
                    "rule": "act iff the mean score of the fold scorers > threshold",
                },
            }
        )
    )


def make_world(
    graph: Graph,
    test_settings: Settings,
    tmp_path: Path,
    build: Callable[[Graph], None] = build_world,
    manifests: Callable[[Path], None] = write_manifest,
    lists: Callable[[Path], Path] = write_lists,
) -> tuple[Graph, Settings, WarninglistIndex]:
    """A fixture graph, model manifests and warninglists, with settings pointing at them."""
    build(graph)
    manifests(tmp_path / "models")
    lists_dir = lists(tmp_path / "warninglists")
    settings = replace(
        test_settings,
        models_dir=tmp_path / "models",
        warninglists_dir=lists_dir,
        home=tmp_path / "home",
        # The expected values assume the default report settings, whatever the environment sets.
        reports=ReportSettings(),
    )
    return graph, settings, load_warninglists(lists_dir)


@pytest.fixture
def world(
    graph: Graph, test_settings: Settings, tmp_path: Path
) -> tuple[Graph, Settings, WarninglistIndex]:
    return make_world(graph, test_settings, tmp_path)


def test_domain_report_content(world: tuple[Graph, Settings, WarninglistIndex]) -> None:
    graph, settings, lists = world
    content = build_content(graph, "C2.Bad.Test.", settings, warninglists=lists)
    assert content["target"] == {
        "kind": "domain",
        "value": "c2.bad.test",
        "registrable_domain": "bad.test",
        "ip_version": None,
    }
    assert content["score"]["probability"] == 0.97
    manifest = settings.models_dir / "maliciousness" / "1" / "manifest.json"
    assert content["score"]["model"] == {
        "manifest_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest(),
        "name": "maliciousness",
        "version": "1",
        "alpha": 0.01,
        "delta": 0.05,
        "benign_calibration_size": 299,
        "batch_size": 1000,
        "threshold": 0.9,
        "gate_rule": "act iff the mean score of the fold scorers > threshold",
    }
    assert content["score"]["top_reasons"] == ["fast_flux_asns=+0.21", "young_registration=+0.12"]
    rels = {
        (f["hop"], f["type"], f["start"]["key"], f["end"]["key"])
        for f in content["evidence"]["facts"]
        if f["fact"] == "relationship"
    }
    assert rels == {
        (1, "RESOLVES_TO", "c2.bad.test", "203.0.113.5"),
        (1, "ALIAS_OF", "alias.bad.test", "c2.bad.test"),
        (1, "SUBDOMAIN_OF", "c2.bad.test", "bad.test"),
        (1, "REPORTED_IN", "c2.bad.test", "IR-1"),
        (1, "LABELS_DOMAIN", "feed:c2.txt", "c2.bad.test"),
        (2, "RESOLVES_TO", "other.bad.test", "203.0.113.5"),
        (2, "IN_NETWORK", "203.0.113.5", "NET-203-0-113-0-1"),
        (2, "IN_PREFIX", "203.0.113.5", "203.0.113.0/24"),
        (2, "REGISTERED_WITH", "bad.test", "9999"),
    }
    resolution = next(
        f for f in content["evidence"]["facts"] if f.get("type") == "RESOLVES_TO" and f["hop"] == 1
    )
    assert resolution["sources"] == ["dns"]
    assert resolution["first_seen"] == "2026-03-01T00:00:00Z"
    assert resolution["last_seen"] == "2026-03-10T00:00:00Z"
    assert resolution["properties"] == {"rtype": "A", "ttl": 60}
    nodes = {
        (f["hop"], f["label"], f["key"])
        for f in content["evidence"]["facts"]
        if f["fact"] == "node"
    }
    assert nodes == {
        (0, "Domain", "c2.bad.test"),
        (1, "IPAddress", "203.0.113.5"),
        (1, "Domain", "alias.bad.test"),
        (1, "Domain", "bad.test"),
        (1, "IncidentReport", "IR-1"),
        (1, "LabelSource", "feed:c2.txt"),
        (2, "Domain", "other.bad.test"),
        (2, "Network", "NET-203-0-113-0-1"),
        (2, "Prefix", "203.0.113.0/24"),
        (2, "Registrar", "9999"),
    }
    assert content["evidence"] == {
        **content["evidence"],
        "total": 19,
        "shown": 19,
        "truncated": False,
    }
    assert content["evidence"]["facts"][0]["fact"] == "node"
    assert content["evidence"]["facts"][0]["key"] == "c2.bad.test"
    assert content["incident_reports"] == [
        {
            "report_id": "IR-1",
            "sector": "energy",
            "observed_at": "2026-03-01T00:00:00Z",
            "reported_at": "2026-03-10T00:00:00Z",
            "role": "c2",
            "confirmed": True,
        }
    ]
    assert content["counter_evidence"]["registration"] == {
        "created": "2026-03-01T00:00:00Z",
        "created_of": "c2.bad.test",
        "as_of": "2026-03-11T00:00:00Z",
        "age_days": 10,
    }
    assert content["collateral"] == {
        "registrable_domain": "bad.test",
        "private_suffix": None,
        "shared_platform": False,
        "shared_platform_hits": [],
        "current_servers": 1,
        "current_servers_with_findings": [],
    }
    assert content["parameters"]["freshness_hours"] == 72.0
    assert content["parameters"]["as_of"] == "2026-03-11T00:00:00Z"
    assert content["servers"] == [
        {
            "address": "203.0.113.5",
            "via": None,
            "sources": ["dns"],
            "first_seen": "2026-03-01T00:00:00Z",
            "last_seen": "2026-03-10T00:00:00Z",
            "current": True,
            "warninglist_hits": [],
            "cohosted_names": 1,
            "cohosted_examples": ["other.bad.test"],
            "cohosted_not_known_malicious": 1,
            "reported_tenants": [],
            "reported_tenants_count": 0,
            "benign_tenants": [],
            "benign_tenants_count": 0,
            "findings": [],
            "clear_to_act": True,
        }
    ]
    assert content["action"] == {
        "meaning": "Acting on domain c2.bad.test means acting on the servers it currently "
        "resolves to: 203.0.113.5.",
        "servers": ["203.0.113.5"],
        "not_acted_upon": [],
    }
    assert content["labelled_neighbours"] == []
    assert content["score_population"]["scored"] == 3
    assert content["recommendation"] == {
        "outcome": "eligible-for-approval",
        "reasons": [
            "the false-positive gate passed (decision act, score 0.97)",
            "current servers, each clear of findings: 203.0.113.5",
        ],
        "other_findings": [],
    }


def test_ip_in_cdn_range_with_benign_tenant_is_collateral_risk(
    world: tuple[Graph, Settings, WarninglistIndex],
) -> None:
    graph, settings, lists = world
    content = build_content(graph, "198.51.100.7", settings, warninglists=lists)
    collateral = content["collateral"]
    assert collateral["cohosted_names"] == 6
    assert collateral["cohosted_examples"] == [
        "popular.example",
        *(f"tenant{i}.cdn.test" for i in range(5)),
    ]
    assert collateral["benign_tenants"] == ["popular.example"]
    assert [h["category"] for h in collateral["shared_ranges"]] == ["cdn"]
    assert content["recommendation"] == {
        "outcome": "do-not-act-collateral-risk",
        "reasons": [
            "server 198.51.100.7: address in a cdn range (warninglist cloudflare)",
            "server 198.51.100.7: co-hosted name popular.example is labelled benign",
            "server 198.51.100.7: 6 co-hosted names not known to be malicious "
            "(threshold 3; 6 co-hosted in all)",
        ],
        "other_findings": [],
    }
    assert content["counter_evidence"]["benign_neighbours"] == [
        {"label": "Domain", "key": "popular.example", "source": "allow:top", "hop": 2}
    ]


def test_top_site_with_allowlist_label_is_likely_benign(
    world: tuple[Graph, Settings, WarninglistIndex],
) -> None:
    graph, settings, lists = world
    content = build_content(graph, "popular.example", settings, warninglists=lists)
    assert content["recommendation"]["outcome"] == "do-not-act-likely-benign"
    assert content["recommendation"]["reasons"] == [
        "benign verdict from allow:top",
        "allowlisted by allow:top",
        "on warninglist tranco10k (top-sites)",
    ]


def test_unknown_target_and_bad_input_are_refused(
    world: tuple[Graph, Settings, WarninglistIndex],
) -> None:
    graph, settings, lists = world
    with pytest.raises(ReportError, match="not in the graph"):
        build_content(graph, "absent.test", settings, warninglists=lists)
    with pytest.raises(ReportError, match="asn"):
        build_content(graph, "AS64500", settings, warninglists=lists)


def test_report_is_reproducible_valid_and_signed(
    world: tuple[Graph, Settings, WarninglistIndex],
) -> None:
    graph, settings, lists = world
    key = Ed25519PrivateKey.generate()
    first = generate_report(
        graph, "c2.bad.test", settings, generated_at=GENERATED, signing_key=key, warninglists=lists
    )
    second = generate_report(graph, "c2.bad.test", settings, warninglists=lists)
    assert first["digest"] == second["digest"]
    assert first["generated_at"] == "2026-03-12T09:30:00Z"
    assert verify_document(first).ok
    validate_document(first)
    validate_document(second)
    for path, value in [
        (("content", "recommendation", "outcome"), "act-now"),
        (("content", "score", "probability"), 1.5),
        (("digest",), "abc"),
        (("content", "evidence", "facts", 0, "first_seen"), "yesterday"),
    ]:
        broken = json.loads(json.dumps(first))
        holder = broken
        for step in path[:-1]:
            holder = holder[step]
        holder[path[-1]] = value
        with pytest.raises(jsonschema.ValidationError):
            validate_document(broken)
    extra = json.loads(json.dumps(first))
    extra["content"]["comment"] = "added later"
    with pytest.raises(jsonschema.ValidationError):
        validate_document(extra)
    assert verify_document(first, trusted_key=key.public_key()).ok
    other = Ed25519PrivateKey.generate().public_key()
    assert "not by the trusted key" in verify_document(first, trusted_key=other).reason
    tampered = json.loads(json.dumps(first))
    tampered["content"]["score"]["probability"] = 0.98
    assert verify_document(tampered).reason.startswith("digest mismatch")
    moved = json.loads(json.dumps(first))
    moved["generated_at"] = "2026-04-12T09:30:00Z"
    assert verify_document(moved).reason == (
        "the signature does not match the digest and generation time"
    )


def test_publishing_a_report_appends_its_audit_entry(
    world: tuple[Graph, Settings, WarninglistIndex], tmp_path: Path
) -> None:
    graph, settings, lists = world
    log = tmp_path / "audit.jsonl"
    key = Ed25519PrivateKey.generate()
    published = publish_report(
        graph,
        "203.0.113.5",
        replace(settings, audit_log=log),
        actor="alice",
        out=tmp_path / "out",
        fmt="json",
        signing_key=key,
        generated_at=GENERATED,
        warninglists=lists,
    )
    digest = published.document["digest"]
    name = f"report-ip-203.0.113.5-{digest[:12]}.json"
    assert published.files == [tmp_path / "out" / name]
    assert json.loads(published.files[0].read_text()) == published.document
    [entry] = [json.loads(line) for line in log.read_text().splitlines()]
    assert entry == published.audit_entry
    assert {k: entry[k] for k in ("seq", "actor", "action", "subject", "details")} == {
        "seq": 1,
        "actor": "alice",
        "action": "report.generate",
        "subject": "ip:203.0.113.5",
        "details": {
            "digest": digest,
            "generated_at": "2026-03-12T09:30:00Z",
            "recommendation": "eligible-for-approval",
            "action_servers": ["203.0.113.5"],
            "signed_by": public_key_fingerprint(key.public_key()),
            "files": [name],
        },
    }
    unsaved = publish_report(
        graph, "c2.bad.test", replace(settings, audit_log=log), actor="bob", warninglists=lists
    )
    assert unsaved.files == [] and unsaved.audit_entry["details"]["files"] == []
    assert unsaved.audit_entry["details"]["signed_by"] is None
    assert audit.verify(log).entries == 2


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the `attribution` command as a subprocess."""
    return run_attribution(env, *args, timeout=300)


def test_report_cli_writes_verifies_and_audits(
    world: tuple[Graph, Settings, WarninglistIndex],
    neo4j_env: dict[str, str],
    tmp_path: Path,
) -> None:
    _, settings, _ = world
    key_path = tmp_path / "signing.pem"
    key_path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    env = {
        **neo4j_env,
        "ATTRIBUTION_MODELS_DIR": str(settings.models_dir),
        "ATTRIBUTION_WARNINGLISTS_DIR": str(settings.warninglists_dir),
        "ATTRIBUTION_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "ATTRIBUTION_SIGNING_KEY": str(key_path),
    }
    out = tmp_path / "out"
    done = cli(env, "report", "203.0.113.5", "--out", str(out), "--json", "--by", "alice")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["recommendation"] == "eligible-for-approval"
    json_path, html_path = (Path(p) for p in summary["files"])
    assert json_path.name == f"report-ip-203.0.113.5-{summary['digest'][:12]}.json"
    html = html_path.read_text()
    assert 'id="collateral"' in html
    assert "<th>Alpha bounds the FPR of</th><td>batches of 1000 benign servers</td>" in html
    rerendered = tmp_path / "again.html"
    checked = cli(env, "report", "verify", str(json_path), "--html", str(rerendered))
    assert checked.returncode == 0, checked.stderr
    assert 'id="digest"' in rerendered.read_text()
    raw = json_path.read_bytes()
    position = raw.index(b'"203.0.113.0/24"') + 2
    json_path.write_bytes(raw[:position] + b"4" + raw[position + 1 :])
    failed = cli(env, "report", "verify", str(json_path))
    assert failed.returncode == 4
    assert "digest mismatch" in failed.stderr
    entries = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(e["actor"], e["action"], e["subject"]) for e in entries] == [
        ("alice", "report.generate", "ip:203.0.113.5")
    ]
    assert entries[0]["details"]["digest"] == summary["digest"]
    assert cli(env, "report", "AS64500").returncode == 1
