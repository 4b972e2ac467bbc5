"""The label, train and score commands, run as subprocesses against the test server."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import skops.io
from clirun import run_attribution

from attribution.classifier.score import DEFERRED_REASON
from attribution.db import Graph
from attribution.features import FEATURE_SET_VERSION
from attribution.reports.canonical import load_private_key, public_key_fingerprint
from attribution.writer import GraphWriter, NodeRow, RelRow

SEEN = datetime(2024, 6, 1, tzinfo=UTC)
N_BENIGN, N_MALICIOUS = 160, 60


def _node(label: str, key: object, **props: object) -> NodeRow:
    return NodeRow(label, key, dict(props), "test", SEEN, SEEN, SEEN)


def _rel(kind: str, start: object, end: object, **props: object) -> RelRow:
    return RelRow(kind, start, end, dict(props), "test", SEEN, SEEN, SEEN)


def build_world(graph: Graph, tmp: Path) -> tuple[Path, Path]:
    """Benign names on long-lived registrations and a shared host; malicious ones young,
    private, on low TTLs in a bad AS. Returns the feed and allowlist files."""
    nodes: list[NodeRow] = []
    rels: list[RelRow] = []
    words = ["maple", "harbor", "river", "garden", "silver", "forest", "ocean", "meadow"]
    benign = [f"{words[i % 8]}{words[(i // 8) % 8]}{i}.com" for i in range(N_BENIGN)]
    malicious = [f"x{(i * 7919) % 100003:05d}qz{i}.xyz" for i in range(N_MALICIOUS)]
    for i, name in enumerate(benign):
        nodes.append(
            _node(
                "Domain",
                name,
                registrable=name,
                created=datetime(2010 + i % 8, 1, 1, tzinfo=UTC),
                expires=datetime(2030, 1, 1, tzinfo=UTC),
                updated=datetime(2020, 1, 1, tzinfo=UTC),
                privacy_proxy=False,
            )
        )
        address = f"203.0.113.{1 + i % 20}"
        rels += [
            _rel("RESOLVES_TO", name, address, rtype="A", ttl=3600, min_ttl=3600),
            _rel("NAME_SERVER", name, "ns1.goodhost.net"),
            _rel("IN_PREFIX", address, "203.0.113.0/24"),
            _rel("REGISTERED_WITH", name, "good-registrar"),
        ]
    for i, name in enumerate(malicious):
        nodes.append(
            _node(
                "Domain",
                name,
                registrable=name,
                created=datetime(2024, 5, 20 + i % 10, tzinfo=UTC),
                expires=datetime(2025, 5, 20, tzinfo=UTC),
                updated=datetime(2024, 5, 29, tzinfo=UTC),
                privacy_proxy=True,
            )
        )
        address = f"198.51.100.{1 + i % 30}"
        rels += [
            _rel("RESOLVES_TO", name, address, rtype="A", ttl=60, min_ttl=60),
            _rel("NAME_SERVER", name, f"ns{i % 3}.fluxdns.biz"),
            _rel("IN_PREFIX", address, "198.51.100.0/24"),
            _rel("REGISTERED_WITH", name, "bad-registrar"),
        ]
    rels += [
        _rel("ANNOUNCED_BY", "203.0.113.0/24", 64500),
        _rel("ANNOUNCED_BY", "198.51.100.0/24", 64666),
    ]
    nodes.append(_node("Domain", "nothing-known.org"))
    GraphWriter(graph).load(nodes=nodes, rels=rels)
    feed = tmp / "feed.csv"
    feed.write_text("value,family,source\n" + "".join(f"{n},flux,vendor\n" for n in malicious))
    allow = tmp / "allow.txt"
    allow.write_text("".join(f"{n}\n" for n in benign))
    return feed, allow


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_attribution(env, *args, timeout=600)


def labelled_world(graph: Graph, neo4j_env: dict[str, str], tmp: Path) -> dict[str, str]:
    """:func:`build_world` with its feed and allowlist imported as labels by the CLI; returns
    the environment the tests run commands in (models under ``tmp/models``)."""
    env = {
        **neo4j_env,
        "ATTRIBUTION_MODELS_DIR": str(tmp / "models"),
        "ATTRIBUTION_AUDIT_LOG": str(tmp / "audit.jsonl"),
        "ATTRIBUTION_AUDIT_ANCHOR_DIR": str(tmp / "anchors"),
        "ATTRIBUTION_MODEL_SIGNING_KEY": str(tmp / "keys" / "model.pem"),
    }
    feed, allow = build_world(graph, tmp)
    assert _cli(env, "label", "import", str(feed), "--kind", "feed").returncode == 0
    assert _cli(env, "label", "import", str(allow), "--kind", "allowlist").returncode == 0
    return env


def test_label_command(graph: Graph, neo4j_env: dict[str, str], tmp_path: Path) -> None:
    env = {
        **neo4j_env,
        "ATTRIBUTION_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "ATTRIBUTION_AUDIT_ANCHOR_DIR": str(tmp_path / "anchors"),
    }
    feed = tmp_path / "trail.txt"
    feed.write_text("# trail\nbad.example.com  # c2\n192.0.2.7\nnot_a_name\n")
    done = _cli(env, "label", "import", str(feed), "--kind", "feed", "--json")
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)["imports"][0]
    assert (summary["written"], summary["sources"]) == (2, {"feed:trail.txt": 2})
    assert len(summary["rejected"]) == 1 and summary["rejected"][0].startswith("line 4:")

    done = _cli(
        env, "label", "bad.example.com", "benign", "--by", "alice", "--reason", "sinkholed",
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert {k: record[k] for k in ("target", "verdict", "source", "previous", "resolved")} == {
        "target": "bad.example.com",
        "verdict": "benign",
        "source": "analyst:alice",
        "previous": "malicious",
        "resolved": "benign",
    }
    rows = graph.read(
        "MATCH (s:LabelSource)-[r:LABELS_DOMAIN]->(:Domain {name: 'bad.example.com'}) "
        "RETURN s.name AS s, s.kind AS kind, r.verdict AS v, r.by AS by, r.reason AS reason "
        "ORDER BY s"
    )
    assert rows == [
        {
            "s": "analyst:alice",
            "kind": "analyst",
            "v": "benign",
            "by": "alice",
            "reason": "sinkholed",
        },
        {"s": "feed:trail.txt", "kind": "feed", "v": "malicious", "by": None, "reason": None},
    ]
    audited = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(e["action"], e["subject"]) for e in audited] == [
        ("label.import", str(feed)),
        ("label.set", "bad.example.com"),
    ]
    bad = _cli(env, "label", "bad.example.com", "evil", "--by", "a", "--reason", "r")
    assert bad.returncode == 2


def test_train_then_score_round_trip(
    graph: Graph, neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    env = labelled_world(graph, neo4j_env, tmp_path)

    done = _cli(env, "train", "--alpha", "0.1", "--delta", "0.1", "--folds", "3", "--json")
    assert done.returncode == 0, done.stderr
    trained = json.loads(done.stdout)
    assert (trained["version"], trained["n_benign"], trained["n_malicious"]) == ("v1", 160, 60)
    assert trained["target_source"] == "graph-labels"
    assert (models / "maliciousness" / "v1" / "manifest.json").is_file()
    key_file = tmp_path / "keys" / "model.pem"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    fingerprint = public_key_fingerprint(load_private_key(key_file).public_key())
    assert trained["signed_by"] == fingerprint
    signature = json.loads((models / "maliciousness" / "v1" / "manifest.sig").read_text())
    assert signature["public_key_fingerprint"] == fingerprint
    again = json.loads(_cli(env, "train", "--alpha", "0.1", "--delta", "0.1", "--json").stdout)
    assert again["version"] == "v2" and (models / "maliciousness" / "v1").is_dir()

    done = _cli(env, "score", "--model", str(models / "maliciousness" / "v1"), "--json")
    assert done.returncode == 0, done.stderr
    scored = json.loads(done.stdout)
    assert scored["model_version"] == "maliciousness/v1"
    assert scored["written"] == scored["nodes"] == N_BENIGN + N_MALICIOUS + 1 + 50 + 4
    assert scored["evidence_policy"]["min_families"] == 2
    rows = graph.read(
        "MATCH (d:Domain) RETURN d.name AS name, d.score AS score, d.decision AS decision, "
        "d.model_version AS version, d.reasons AS reasons, toString(d.scored_at) AS at, "
        "d.score_low AS low, d.score_high AS high, d.explanation AS explanation, "
        "d.evidence_families AS families"
    )
    by_name = {r["name"]: r for r in rows}
    lonely = by_name["nothing-known.org"]
    assert (lonely["score"], lonely["decision"], lonely["reasons"], lonely["families"]) == (
        None,
        "insufficient-evidence",
        [
            "insufficient evidence: 0 of the 2 evidence families needed; observed: nothing; "
            "not observed: resolution, hosting, registration, incident, labels, association"
        ],
        [],
    )
    assert {r["version"] for r in rows} == {"maliciousness/v1"}
    assert len({r["at"] for r in rows}) == 1
    benign_rows = [by_name[n] for n in by_name if n.endswith(".com") and not n.startswith("ns")]
    assert all(r["decision"] == "no-act" and r["score"] < 0.5 for r in benign_rows)
    # Far below the gate, their explanations are deferred to the report that asks for one.
    deferred = [DEFERRED_REASON]
    assert all(r["explanation"] is None and r["reasons"] == deferred for r in benign_rows)
    explained = graph.read(
        "MATCH (n) WHERE (n:Domain OR n:IPAddress) AND n.explanation IS NOT NULL "
        "RETURN n.decision AS decision, n.score AS score"
    )
    assert (scored["explain"], scored["explained"]) == ("gate", len(explained))
    assert all(r["decision"] == "act" for r in explained)
    bad_rows = [by_name[n] for n in by_name if n.endswith(".xyz")]
    assert all(r["decision"] == "act" for r in bad_rows)
    # A reason names its feature group, the node's own values and the contribution.
    reason = re.compile(r"^[a-zA-Z ,()']+: ([a-z_0-9]+ -?[0-9.e+-]+(, )?)+ \([+-]\d+\.\d\d\)$")
    for row in bad_rows:
        assert len(row["reasons"]) == 3 and all(reason.match(x) for x in row["reasons"])
        assert row["low"] <= row["score"] <= row["high"]
        explained = json.loads(row["explanation"])
        total = sum(c["contribution"] for c in explained["contributions"])
        assert total == pytest.approx(row["score"] - explained["base_value"], abs=1e-6)
        assert set(row["families"]) >= {"resolution", "labels"}

    # Nothing changed since: nothing is selected; a new fact selects its node.
    done = _cli(env, "score", "--model", str(models / "maliciousness" / "v1"),
                "--changed-since-last-run", "--json")  # fmt: skip
    assert json.loads(done.stdout)["selected"] == 0
    later = datetime(2099, 1, 1, tzinfo=UTC)
    GraphWriter(graph).load(
        rels=[RelRow("RESOLVES_TO", "nothing-known.org", "192.0.2.9", {}, "t", later, later, later)]
    )
    done = _cli(env, "score", "--model", str(models / "maliciousness" / "v1"),
                "--changed-since-last-run", "--json")  # fmt: skip
    changed = json.loads(done.stdout)
    assert changed["selected"] == 2  # the name and its new address

    # A model whose gate admits everything, saved with a consistent manifest under another key.
    forged = _forge_open_gate(models / "maliciousness" / "v1", models, tmp_path / "other.pem")
    done = _cli(env, "score", "--model", str(forged), "--json")
    assert (done.returncode, done.stdout) == (4, "")
    other = public_key_fingerprint(load_private_key(tmp_path / "other.pem").public_key())
    assert done.stderr == (
        f"attribution score: model in {forged} is signed by key {other}, which is not trusted "
        "(ATTRIBUTION_TRUSTED_MODEL_KEYS)\n"
    )


def _forge_open_gate(source: Path, models: Path, key_file: Path) -> Path:
    """``source`` with its threshold set to 0, saved as maliciousness/v9 signed by a new key."""
    from attribution.scoring.persistence import save_model
    from attribution.scoring.signing import model_signing_key
    from attribution.settings import load_settings

    model = skops.io.load(
        source / "model.skops", trusted=skops.io.get_untrusted_types(file=source / "model.skops")
    )
    model.threshold_ = 0.0
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATTRIBUTION_MODEL_SIGNING_KEY", str(key_file))
        key = model_signing_key(load_settings())
    X = np.zeros((2, model.n_features_in_))
    return save_model(
        model, models, "maliciousness", "v9", feature_version=FEATURE_SET_VERSION, X_train=X,
        y_train=np.array([0, 1]), signing_key=key,
    )  # fmt: skip


def test_evaluate_reports_the_batch_gate_beside_the_population_gate(
    graph: Graph, neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    env = labelled_world(graph, neo4j_env, tmp_path)
    out = tmp_path / "evaluation"

    done = _cli(env, "evaluate", "--alpha", "0.1", "--delta", "0.1", "--splits", "3",
                "--folds", "3", "--out", str(out), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # 30% of 160 benign and 60 malicious nodes are held out per split: 48 benign in each batch.
    assert (result["n_benign"], result["n_malicious"], result["n_splits"]) == (160, 60, 3)
    assert (result["gate_guarantee"], result["batch_size"]) == ("batch", 48)
    # Every malicious node is acted on; 2 of the 3 x 48 benign ones are, well within alpha.
    assert (result["empirical_fpr_at_gate"], result["tpr_at_gate"]) == (2 / 144, 1.0)
    assert (result["splits_fpr_within_alpha"], result["fraction_splits_fpr_within_alpha"]) == (
        3,
        1.0,
    )
    low, high = result["fraction_splits_fpr_within_alpha_ci95"]
    assert (low, high) == (pytest.approx(0.025 ** (1 / 3)), 1.0)  # Clopper–Pearson, 3 of 3
    assert 0.9 <= result["expected_fraction_splits_fpr_within_alpha"] < 1.0
    assert result["population_gate"]["fraction_splits_fpr_within_alpha"] == 1.0
    assert set(result["baselines"]) == {
        "naive_rule",
        "uncalibrated_base_at_0_5",
        "plain_hgb_umbrella",
    }
    for name in ("reliability.png", "roc.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "evaluation.json").read_text())["batch_size"] == 48

    # alpha = 0.01 over batches of 48 needs far more benign calibration samples than exist.
    refused = _cli(env, "evaluate", "--splits", "2", "--json")
    assert refused.returncode == 4
    assert re.search(r"needs at least \d+ benign calibration samples .* over batches of 48",
                     refused.stderr)  # fmt: skip
    assert "--guarantee population needs 299" in refused.stderr

    # The population rule as the gate: the same models' figures appear in both places.
    done = _cli(env, "evaluate", "--alpha", "0.1", "--delta", "0.1", "--splits", "3",
                "--folds", "3", "--guarantee", "population", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    population = json.loads(done.stdout)
    assert population["gate_guarantee"] == "population"
    assert population["empirical_fpr_at_gate"] == population["population_gate"]["empirical_fpr"]
    assert population["threshold_mean"] <= result["threshold_mean"]
    # Without --out the files go to a new directory under the models directory; the refused
    # run left nothing behind.
    [written] = (tmp_path / "models" / "maliciousness" / "evaluations").iterdir()
    assert sorted(f.name for f in written.iterdir()) == [
        "evaluation.json",
        "reliability.png",
        "roc.png",
    ]
    assert population["roc_png"] == str(written / "roc.png")


def test_train_with_a_batch_guarantee_records_it(
    graph: Graph, neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    env = labelled_world(graph, neo4j_env, tmp_path)
    done = _cli(env, "train", "--alpha", "0.1", "--delta", "0.1", "--batch-size", "40",
                "--folds", "3", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["batch_size"] == 40
    manifest = json.loads((models / "maliciousness" / "v1" / "manifest.json").read_text())
    assert manifest["gate"]["batch_size"] == 40
    card = (models / "maliciousness" / "v1" / "MODEL_CARD.md").read_text()
    assert "among 40 benign servers scored together" in card
    scored = _cli(env, "score", "--json")
    assert scored.returncode == 0, scored.stderr
