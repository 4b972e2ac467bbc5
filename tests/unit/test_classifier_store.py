"""The model store: version folders, manifests by model version, score state, evaluations."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from attribution.classifier.store import ModelManifest, ModelStore

GATE = {
    "alpha": 0.01,
    "delta": 0.05,
    "threshold": 0.9,
    "n_calibration_benign": 299,
    "batch_size": 1000,
    "rule": "act iff the mean score of the fold scorers > threshold",
}


def _manifest(store: ModelStore, name: str, version: str, document: object) -> Path:
    folder = store.version_dir(name, version)
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(document))
    return folder


def test_versions_are_numbered_folders_in_numeric_order(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    for folder in ("v1", "v10", "v2", "v2.tmp", "draft", ".v11.abc", "evaluations"):
        (tmp_path / "m" / folder).mkdir(parents=True)
    (tmp_path / "m" / "v12").write_text("a file, not a version")
    assert store.versions("m") == ["v1", "v2", "v10"]
    assert store.next_version("m") == "v11"
    assert store.latest("m") == tmp_path / "m" / "v10"


def test_a_new_name_starts_at_v1_and_has_no_latest(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    assert store.versions("fresh") == []
    assert store.next_version("fresh") == "v1"
    with pytest.raises(FileNotFoundError) as caught:
        store.latest("fresh")
    assert str(caught.value) == (
        f"no trained model 'fresh' under {tmp_path / 'models'}; run `attribution train`"
    )


def test_resolve_latest_a_version_or_a_path(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    for folder in ("v1", "v3"):
        (tmp_path / "m" / folder).mkdir(parents=True)
    assert store.resolve("latest", "m") == tmp_path / "m" / "v3"
    assert store.resolve("v1", "m") == tmp_path / "m" / "v1"
    assert store.resolve("/elsewhere/m/v7", "m") == Path("/elsewhere/m/v7")
    assert store.resolve("v1x", "m") == Path("v1x")


def test_model_version_names_the_folder_and_its_parent(tmp_path: Path) -> None:
    assert ModelStore.model_version(tmp_path / "maliciousness" / "v4") == "maliciousness/v4"


def test_manifest_of_a_model_version_with_its_gate(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    document = {"name": "m", "version": "v1", "gate": GATE, "evidence_policy": {"min_families": 3}}
    folder = _manifest(store, "m", "v1", document)
    manifest = store.manifest("m/v1")
    raw = (folder / "manifest.json").read_bytes()
    assert manifest == ModelManifest("m", "v1", document, raw, None)
    assert manifest.sha256 == hashlib.sha256(raw).hexdigest()
    assert (manifest.alpha, manifest.delta, manifest.threshold) == (0.01, 0.05, 0.9)
    assert (manifest.benign_calibration_size, manifest.batch_size) == (299, 1000)
    assert manifest.gate_rule == "act iff the mean score of the fold scorers > threshold"
    assert manifest.min_families == 3


def test_manifest_values_absent_or_of_the_wrong_type_are_none(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    gate = {"alpha": "0.01", "delta": True, "threshold": None, "n_calibration_benign": 299.0}
    _manifest(store, "m", "v1", {"gate": gate, "evidence_policy": {"min_families": True}})
    _manifest(store, "m", "v2", {"alpha": 0.01, "threshold": 0.9})
    for version in ("v1", "v2"):
        manifest = store.manifest(f"m/{version}")
        assert manifest.problem is None
        assert [
            manifest.alpha,
            manifest.delta,
            manifest.threshold,
            manifest.benign_calibration_size,
            manifest.batch_size,
            manifest.gate_rule,
            manifest.min_families,
        ] == [None] * 7


@pytest.mark.parametrize(
    ("model_version", "problem"),
    [
        (None, "the target has no model version"),
        ("", "the target has no model version"),
        ("m/v9", "no model manifest at models/m/v9/manifest.json"),
        ("m", "no model manifest at models/m//manifest.json"),
        ("../m/v1", "no model manifest at models/../m/v1/manifest.json"),
        ("m/../../v1", "no model manifest at models/m/../../v1/manifest.json"),
    ],
)
def test_why_a_manifest_is_missing(tmp_path: Path, model_version: str | None, problem: str) -> None:
    store = ModelStore(tmp_path / "models")
    _manifest(ModelStore(tmp_path), "m", "v1", {"gate": GATE})  # outside the store's root
    manifest = store.manifest(model_version)
    assert (manifest.data, manifest.raw, manifest.problem, manifest.sha256) == (
        None,
        None,
        problem,
        None,
    )
    assert manifest.alpha is None


def test_unreadable_manifests_say_why(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    folder = _manifest(store, "m", "v1", [1, 2])
    assert (
        store.manifest("m/v1").problem
        == "model manifest models/m/v1/manifest.json is not an object"
    )
    (folder / "manifest.json").write_text("{not json")
    assert store.manifest("m/v1").problem == (
        "model manifest models/m/v1/manifest.json unreadable "
        "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"
    )
    (folder / "manifest.json").write_bytes(b"\xff")
    assert store.manifest("m/v1").problem.startswith(
        "model manifest models/m/v1/manifest.json unreadable ('utf-8' codec can't decode"
    )


def test_score_state_per_database(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    assert store.state_file("m") == tmp_path / "m" / "score-state.json"
    assert store.read_state("m", "neo4j") is None
    store.write_state("m", "neo4j", {"model_version": "m/v1", "last_run_ms": 1000})
    store.write_state("m", "other", {"model_version": "m/v2", "last_run_ms": 2000})
    store.write_state("m", "neo4j", {"model_version": "m/v1", "last_run_ms": 3000})
    assert store.read_state("m", "neo4j") == {"model_version": "m/v1", "last_run_ms": 3000}
    assert json.loads(store.state_file("m").read_text()) == {
        "neo4j": {"model_version": "m/v1", "last_run_ms": 3000},
        "other": {"model_version": "m/v2", "last_run_ms": 2000},
    }
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["score-state.json"]


@pytest.mark.parametrize("content", ["{broken", "[1, 2]", '{"neo4j": "not an object"}'])
def test_unreadable_score_state_counts_as_never_run(tmp_path: Path, content: str) -> None:
    store = ModelStore(tmp_path)
    store.state_file("m").parent.mkdir()
    store.state_file("m").write_text(content)
    assert store.read_state("m", "neo4j") is None
    store.write_state("m", "other", {"last_run_ms": 5})
    assert store.read_state("m", "other") == {"last_run_ms": 5}


def test_evaluation_folder_is_named_by_its_utc_time(tmp_path: Path) -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC)
    folder = ModelStore(tmp_path).evaluation_dir("m", at)
    assert folder == tmp_path / "m" / "evaluations" / "20260304T050607000089Z"
    assert not folder.exists()
