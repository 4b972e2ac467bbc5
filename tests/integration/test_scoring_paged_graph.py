"""Scoring in pages from streamed, compact facts against a real Neo4j: the same features as the
straightforward computation on the dictionary export, the same written scores as scoring
every node at once, and a changed-only run that writes exactly what a full run would."""

from __future__ import annotations

import gc
import re
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_scoring_commands import build_world

from attribution import collector
from attribution.classifier.score import _model_policy
from attribution.classifier.store import ModelStore
from attribution.classifier.train import train_model
from attribution.db import Graph
from attribution.features import FEATURE_SET_VERSION, build_features, export_graph
from attribution.features import facts as facts_module
from attribution.features.families import labelled_nodes
from attribution.labels import import_label_file, read_label_observations, resolve_labels
from attribution.scoring.explain import deferred_explanation
from attribution.scoring.paged import page_rows, score_graph
from attribution.scoring.persistence import load_model
from attribution.settings import load_settings
from attribution.writer import GraphWriter, RelRow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_scoring_stream_reference import reference_features

NOW = datetime(2026, 1, 2, tzinfo=UTC)
OUTSIDE = (
    r"outside calibration: evidence pattern [a-z_+]+ has [0-9]+ benign calibration samples "
    r"\(fewer than [0-9]+\)"
)
SCORE_PROPS = ("score", "score_low", "score_high", "decision", "reasons", "explanation",
               "evidence_families", "model_version")  # fmt: skip


@pytest.fixture
def world(graph: Graph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The labelled world of the scoring commands' tests, a model trained on it; no lists."""
    monkeypatch.setenv("ATTRIBUTION_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("ATTRIBUTION_AUDIT_ANCHOR_DIR", str(tmp_path / "anchors"))
    monkeypatch.setenv("ATTRIBUTION_MODEL_SIGNING_KEY", str(tmp_path / "keys" / "model.pem"))
    (tmp_path / "no-lists").mkdir()
    monkeypatch.setenv("ATTRIBUTION_WARNINGLISTS_DIR", str(tmp_path / "no-lists"))
    feed, allow = build_world(graph, tmp_path)
    import_label_file(graph, feed, "feed", at=NOW)
    import_label_file(graph, allow, "allowlist", at=NOW)
    models = tmp_path / "models"
    train_model(graph, models_dir=models, alpha=0.1, delta=0.1, n_folds=3)
    return models


def _written(graph: Graph) -> dict[tuple[str, str], dict[str, Any]]:
    props = ", ".join(f"n.{p} AS {p}" for p in SCORE_PROPS)
    rows = graph.read(
        f"MATCH (n:Domain) RETURN 'Domain' AS label, n.name AS key, {props} "
        f"UNION ALL MATCH (n:IPAddress) RETURN 'IPAddress' AS label, n.address AS key, {props}"
    )
    return {(r.pop("label"), r.pop("key")): r for r in rows}


def _reference_rows(graph: Graph, models: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Every node's row from the reference features, all nodes in one page."""
    model_dir = ModelStore(models).resolve("latest", "maliciousness")
    classifier = load_model(model_dir, expected_feature_version=FEATURE_SET_VERSION)
    observations = read_label_observations(graph)
    features = reference_features(export_graph(graph), resolve_labels(observations))
    rows = page_rows(
        classifier, _model_policy(model_dir, None), features, labelled_nodes(observations),
        range(len(features.keys)),
    )  # fmt: skip
    return {(r["label"], r["key"]): {p: r[p] for p in SCORE_PROPS if p in r} for r in rows}


def test_streamed_features_equal_the_reference_on_the_export(graph: Graph, world: Path) -> None:
    labels = resolve_labels(read_label_observations(graph))
    streamed = build_features(graph, labels, warninglists=None)
    reference = reference_features(export_graph(graph), labels)
    assert streamed.keys == reference.keys and len(streamed.keys) == 160 + 60 + 1 + 4 + 50
    np.testing.assert_array_equal(streamed.X, reference.X)
    np.testing.assert_array_equal(streamed.folds, reference.folds)
    assert streamed.asns == reference.asns


def test_facts_refuse_an_export_statement_whose_columns_moved(
    graph: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records are read by position, so a statement returning its columns in another order is
    refused by name instead of filling the wrong arrays."""
    moved = (
        "MATCH (i:IPAddress) RETURN i.address AS address, [] AS reverse, 1 AS first, "
        "2 AS last, [] AS prefixes"
    )
    monkeypatch.setitem(facts_module.EXPORT_STATEMENTS, "addresses", moved)
    expected = (
        "features.addresses returned columns ['address', 'reverse', 'first', 'last', "
        "'prefixes'], expected ['address', 'first', 'last', 'reverse', 'prefixes']"
    )
    with pytest.raises(RuntimeError, match=re.escape(expected)):
        facts_module.read_facts(graph)


def test_paged_scores_equal_the_reference_scored_at_once(graph: Graph, world: Path) -> None:
    result = score_graph(graph, models_dir=world, now=NOW, page=7)
    assert (result["nodes"], result["selected"], result["written"]) == (275, 275, 275)
    assert sorted(result["stages_s"]) == ["features", "read_facts", "score_explain", "write_wait"]
    written = _written(graph)
    expected = _reference_rows(graph, world)
    assert written.keys() == expected.keys()
    for key, row in expected.items():
        assert {p: written[key][p] for p in row} == row, key
    assert {r["model_version"] for r in written.values()} == {"maliciousness/v1"}
    decided = [r["decision"] for r in written.values()]
    assert result["decisions"] == {d: decided.count(d) for d in result["decisions"]}
    # Each node outside calibration leads its reasons with its evidence pattern's support.
    outside = [r["reasons"][0] for r in written.values() if r["decision"] == "outside-calibration"]
    assert len(outside) == result["decisions"]["outside-calibration"] > 0
    assert all(re.fullmatch(OUTSIDE, reason) for reason in outside), outside


def test_the_collector_runs_less_often_during_a_run_and_as_before_after(
    graph: Graph, world: Path
) -> None:
    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    score_graph(
        graph, models_dir=world, now=NOW, progress=lambda _: during.append(gc.get_threshold())
    )
    assert during and set(during) == {collector.BULK_THRESHOLDS}
    assert gc.get_threshold() == before


def test_changed_only_run_writes_what_a_full_run_would(graph: Graph, world: Path) -> None:
    score_graph(graph, models_dir=world, now=NOW)
    assert score_graph(graph, models_dir=world, changed_since_last_run=True)["selected"] == 0
    later = datetime(2099, 1, 1, tzinfo=UTC)
    GraphWriter(graph).load(
        rels=[
            RelRow("RESOLVES_TO", "nothing-known.org", "203.0.113.5", {}, "t", later, later, later)
        ]
    )
    changed = score_graph(graph, models_dir=world, changed_since_last_run=True, now=NOW)
    assert (changed["nodes"], changed["selected"], changed["written"]) == (275, 2, 2)
    written = _written(graph)
    expected = _reference_rows(graph, world)
    for key in (("Domain", "nothing-known.org"), ("IPAddress", "203.0.113.5")):
        assert {p: written[key][p] for p in expected[key]} == expected[key]
    assert written[("Domain", "nothing-known.org")]["decision"] != "insufficient-evidence"


def test_a_deferred_explanation_is_the_one_scoring_all_would_write(
    graph: Graph, world: Path
) -> None:
    full = score_graph(graph, models_dir=world, now=NOW, explain="all")
    eager = _written(graph)
    gate = score_graph(graph, models_dir=world, now=NOW)
    insufficient = full["decisions"]["insufficient-evidence"]
    assert (full["explained"], insufficient) == (full["written"] - insufficient, 5)
    assert 0 < gate["explained"] < full["explained"]
    rows = graph.read(
        "MATCH (n:Domain) RETURN 'Domain' AS label, n.name AS key, properties(n) AS props "
        "UNION ALL MATCH (n:IPAddress) RETURN 'IPAddress' AS label, n.address AS key, "
        "properties(n) AS props"
    )
    settings = replace(load_settings(), models_dir=world)
    deferred = [r for r in rows if r["props"].get("score_features") and not r["props"].get(
        "explanation"
    )]  # fmt: skip
    assert len(deferred) == full["explained"] - gate["explained"]
    for row in deferred:
        late = deferred_explanation(row["props"], row["label"], settings)
        expected = eager[(row["label"], row["key"])]
        assert (late.explanation, late.reasons, late.problem) == (
            expected["explanation"], expected["reasons"], None,
        )  # fmt: skip
