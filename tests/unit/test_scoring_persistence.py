"""Saving and loading classifiers: manifest, model card, refusals, never overwriting."""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import skops.io
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from attribution.scoring import MaliciousnessClassifier
from attribution.scoring.metrics import evaluate_scores
from attribution.scoring.persistence import (
    ALLOWED_TYPES,
    FeatureVersionMismatch,
    LibraryVersionMismatch,
    ModelIntegrityError,
    ModelVersionExists,
    UntrustedModelTypes,
    library_versions,
    load_model,
    manifest_digest,
    save_model,
    training_data_id,
)

FEATURES = "graph-features-v1"
NAMES = [f"f{i}" for i in range(6)]
CREATED = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


class _UnvettedLogisticRegression(LogisticRegression):
    """A scorer type the persistence allowlist has never heard of."""


@pytest.fixture(autouse=True)
def _single_openmp_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def trained() -> tuple[MaliciousnessClassifier, np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=1500, n_features=6, n_informative=4, weights=[0.6], random_state=2
    )
    X[np.random.default_rng(2).random(X.shape) < 0.1] = np.nan
    with threadpool_limits(1):
        model = MaliciousnessClassifier(alpha=0.05, feature_names=NAMES, random_state=0)
        model.fit(X[:1000], y[:1000])
    return model, X, y


@pytest.fixture
def saved(tmp_path: Path, trained: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray]) -> Path:
    model, X, y = trained
    metrics = evaluate_scores(y[1000:], model.predict_proba(X[1000:])[:, 1], model.threshold_)
    return save_model(
        model,
        tmp_path / "models",
        "maliciousness",
        "2026.01.0",
        feature_version=FEATURES,
        X_train=X[:1000],
        y_train=y[:1000],
        metrics=metrics,
        created_at=CREATED,
    )


def _edit_manifest(directory: Path, edit: dict[str, object]) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    for dotted, value in edit.items():
        node = manifest
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(json.dumps(manifest))


def test_round_trip_gives_the_same_decisions(
    saved: Path, trained: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray]
) -> None:
    model, X, _ = trained
    assert saved.name == "2026.01.0"
    assert saved.parent.name == "maliciousness"
    assert sorted(p.name for p in saved.iterdir()) == [
        "MODEL_CARD.md",
        "manifest.json",
        "model.skops",
    ]
    loaded = load_model(saved, expected_feature_version=FEATURES)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.decide(X), model.decide(X))
    assert loaded.threshold_ == model.threshold_
    assert loaded.explain(X[:2]) == model.explain(X[:2])
    # The file inside the version directory is accepted too.
    assert load_model(saved / "model.skops", expected_feature_version=FEATURES).threshold_ == (
        model.threshold_
    )


def test_manifest_contents(
    saved: Path, trained: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray]
) -> None:
    model, X, y = trained
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["created_at"] == "2026-01-15T09:30:00+00:00"
    assert manifest["library_versions"] == library_versions()
    assert set(manifest["library_versions"]) == {"scikit-learn", "numpy", "scipy", "skops"}
    assert manifest["feature_set"] == {"version": FEATURES, "names": NAMES}
    assert manifest["training_data"] == {
        "id": training_data_id(X[:1000], y[:1000]),
        "n_samples": 1000,
        "n_benign": int(np.sum(y[:1000] == 0)),
        "n_malicious": int(np.sum(y[:1000] == 1)),
    }
    assert manifest["gate"]["alpha"] == 0.05
    assert manifest["gate"]["delta"] == 0.05
    assert manifest["gate"]["threshold"] == model.threshold_
    assert manifest["gate"]["n_calibration_benign"] == model.n_calibration_benign_
    assert manifest["gate"]["min_calibration_benign"] == 59
    assert manifest["trusted_types"] == sorted(
        skops.io.get_untrusted_types(file=saved / "model.skops")
    )
    assert set(manifest["trusted_types"]) <= ALLOWED_TYPES
    assert "attribution.scoring.estimator.MaliciousnessClassifier" in manifest["trusted_types"]
    assert set(manifest["metrics"]) >= {"roc_auc", "pr_auc", "brier", "ece", "gate_tpr", "gate_fpr"}
    assert len(manifest["model_file"]["sha256"]) == 64
    assert len(manifest_digest(saved)) == 64


def test_model_card_states_the_guarantee_and_its_assumptions(saved: Path) -> None:
    card = (saved / "MODEL_CARD.md").read_text()
    for phrase in (
        "## Intended use",
        "## False-positive guarantee",
        "alpha = 0.05",
        "delta = 0.05",
        "exchangeable",
        "P(false-positive rate > alpha) = 0.0",
        "## Metrics",
        "| roc_auc |",
        "## Limitations",
        FEATURES,
    ):
        assert phrase in card


def test_an_existing_version_is_never_overwritten(
    saved: Path, trained: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray]
) -> None:
    model, X, y = trained
    before = (saved / "model.skops").read_bytes()
    with pytest.raises(ModelVersionExists, match="already exists"):
        save_model(
            model,
            saved.parent.parent,
            "maliciousness",
            "2026.01.0",
            feature_version=FEATURES,
            X_train=X[:1000],
            y_train=y[:1000],
        )
    assert (saved / "model.skops").read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == ["2026.01.0"]


def test_feature_version_mismatch_is_refused(saved: Path) -> None:
    with pytest.raises(FeatureVersionMismatch, match=r"'graph-features-v1'.*'graph-features-v2'"):
        load_model(saved, expected_feature_version="graph-features-v2")


def test_library_version_mismatch_is_refused(saved: Path) -> None:
    _edit_manifest(saved, {"library_versions.scikit-learn": "1.5.0"})
    with pytest.raises(LibraryVersionMismatch, match=r"scikit-learn '1\.5\.0' at save time"):
        load_model(saved, expected_feature_version=FEATURES)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"gate.threshold": 0.5}, "disagrees with the model on: threshold"),
        ({"gate.alpha": 0.001}, "disagrees with the model on: alpha"),
        ({"feature_set.names": ["a", "b", "c", "d", "e", "f"]}, "feature names"),
        ({"model_file.sha256": "0" * 64}, "does not match the digest"),
        ({"model_file.name": "../other.skops"}, "expected 'model.skops'"),
        ({"gate": "trust me"}, "malformed gate"),
        ({"feature_set": None}, "malformed feature_set"),
    ],
)
def test_tampered_manifest_is_refused(saved: Path, edit: dict[str, object], message: str) -> None:
    _edit_manifest(saved, edit)
    with pytest.raises(ModelIntegrityError, match=message):
        load_model(saved, expected_feature_version=FEATURES)


def test_manifest_cannot_widen_the_trusted_types(saved: Path) -> None:
    manifest = json.loads((saved / "manifest.json").read_text())
    _edit_manifest(saved, {"trusted_types": [*manifest["trusted_types"], "builtins.eval"]})
    with pytest.raises(UntrustedModelTypes, match=r"builtins\.eval"):
        load_model(saved, expected_feature_version=FEATURES)


def test_manifest_must_list_every_type_the_file_needs(saved: Path) -> None:
    manifest = json.loads((saved / "manifest.json").read_text())
    dropped = manifest["trusted_types"][1:]
    _edit_manifest(saved, {"trusted_types": dropped})
    with pytest.raises(UntrustedModelTypes, match="does not list"):
        load_model(saved, expected_feature_version=FEATURES)


def test_altered_model_file_is_refused(saved: Path) -> None:
    with (saved / "model.skops").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelIntegrityError, match="does not match the digest"):
        load_model(saved, expected_feature_version=FEATURES)


def test_model_needing_unvetted_types_is_not_saved(tmp_path: Path) -> None:
    X, y = make_classification(n_samples=600, n_features=4, random_state=0)
    model = MaliciousnessClassifier(
        alpha=0.1, delta=0.1, estimator=_UnvettedLogisticRegression(), random_state=0
    ).fit(X, y)
    with pytest.raises(UntrustedModelTypes, match="_UnvettedLogisticRegression"):
        save_model(model, tmp_path, "m", "1", feature_version=FEATURES, X_train=X, y_train=y)
    assert list((tmp_path / "m").iterdir()) == []


@pytest.mark.parametrize("version", ["../escape", "", ".", "a/b", "-x"])
def test_unsafe_version_names_are_rejected(
    tmp_path: Path,
    version: str,
    trained: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray],
) -> None:
    model, X, y = trained
    with pytest.raises(ValueError, match="model version"):
        save_model(
            model,
            tmp_path,
            "m",
            version,
            feature_version=FEATURES,
            X_train=X[:1000],
            y_train=y[:1000],
        )


def test_training_data_id_is_stable_across_containers() -> None:
    X = np.array([[0.0, np.nan], [1.5, -2.0]])
    y = np.array([0, 1])
    expected = training_data_id(X, y)
    assert training_data_id(X.tolist(), [0, 1]) == expected
    assert training_data_id(X.astype(np.float32), y.astype(float)) == expected
    assert training_data_id(X, np.array([1, 0])) != expected
    # Spelled out: a header with the shape, the float64 values, then the labels as text.
    by_hand = hashlib.sha256(
        b"attribution-training-data-v1:2x2\n"
        + struct.pack("<4d", 0.0, float("nan"), 1.5, -2.0)
        + b"0\n1"
    ).hexdigest()
    assert expected == by_hand
    assert expected == "ac60153b8868d7344fc931483fdc8da7675e1e53977c0a9e925ef3e54b8e28f3"


def test_a_closed_gate_is_saved_and_stated_in_the_card(tmp_path: Path) -> None:
    X, y = make_classification(n_samples=400, n_features=6, random_state=3)
    with pytest.warns(UserWarning, match="gate is closed"):
        model = MaliciousnessClassifier(on_insufficient="warn", random_state=0).fit(X, y)
    directory = save_model(
        model, tmp_path, "m", "1", feature_version=FEATURES, X_train=X, y_train=y
    )
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["gate"]["gate_closed"] is True
    assert manifest["gate"]["umbrella_rank"] is None
    assert manifest["metrics"] == {}
    assert "The gate is closed" in (directory / "MODEL_CARD.md").read_text()
    loaded = load_model(directory, expected_feature_version=FEATURES)
    assert set(loaded.decide(X)) == {"no-act"}


# --------------------------------------------------------------------------- signatures


def _key(path: Path) -> Ed25519PrivateKey:
    from attribution.reports.canonical import load_private_key
    from attribution.scoring.signing import model_signing_key
    from attribution.settings import load_settings

    with pytest.MonkeyPatch.context() as env:
        env.setenv("ATTRIBUTION_MODEL_SIGNING_KEY", str(path))
        model_signing_key(load_settings())
    return load_private_key(path)


def _fingerprint(key: Ed25519PrivateKey) -> str:
    from attribution.reports.canonical import public_key_fingerprint

    return public_key_fingerprint(key.public_key())


def _save_signed(
    trained: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray],
    models: Path,
    version: str,
    key: Ed25519PrivateKey | None,
    threshold: float | None = None,
) -> Path:
    import copy

    model, X, y = trained
    if threshold is not None:
        model = copy.deepcopy(model)
        model.threshold_ = threshold
    return save_model(
        model, models, "m", version, feature_version=FEATURES, X_train=X[:1000],
        y_train=y[:1000], signing_key=key,
    )  # fmt: skip


def test_signing_key_is_made_on_first_use_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "model.pem"
    key = _key(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert _fingerprint(_key(path)) == _fingerprint(key)  # made once, then reused
    path.chmod(0o644)
    from attribution.scoring.signing import ModelSigningError

    with pytest.raises(ModelSigningError) as refused:
        _key(path)
    assert str(refused.value) == (
        f"ATTRIBUTION_MODEL_SIGNING_KEY: {path} is readable by others (mode 644); "
        "run chmod 600 on it"
    )


def test_a_signed_model_loads_only_under_a_trusted_key(
    tmp_path: Path, trained: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray]
) -> None:
    from attribution.scoring.persistence import UntrustedModelKey
    from attribution.scoring.signing import ModelTrust

    ours, theirs = _key(tmp_path / "ours.pem"), _key(tmp_path / "theirs.pem")
    trust = ModelTrust(require_signed=True, trusted_keys=frozenset({_fingerprint(ours)}))
    good = _save_signed(trained, tmp_path / "models", "1", ours)
    signature = json.loads((good / "manifest.sig").read_text())
    assert (signature["algorithm"], signature["public_key_fingerprint"]) == (
        "Ed25519",
        _fingerprint(ours),
    )
    loaded = load_model(good, expected_feature_version=FEATURES, trust=trust)
    assert loaded.threshold_ == trained[0].threshold_
    # The gate opened for everything, with a manifest consistent with it, signed by another key.
    forged = _save_signed(trained, tmp_path / "models", "2", theirs, threshold=0.0)
    assert json.loads((forged / "manifest.json").read_text())["gate"]["threshold"] == 0.0
    with pytest.raises(UntrustedModelKey) as refused:
        load_model(forged, expected_feature_version=FEATURES, trust=trust)
    assert str(refused.value) == (
        f"model in {forged} is signed by key {_fingerprint(theirs)}, which is not trusted "
        "(ATTRIBUTION_TRUSTED_MODEL_KEYS)"
    )


def test_an_unsigned_model_is_refused_when_signatures_are_required(
    tmp_path: Path, trained: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray]
) -> None:
    from attribution.scoring.persistence import UnsignedModel, UnsignedModelWarning
    from attribution.scoring.signing import ModelTrust

    forged = _save_signed(trained, tmp_path / "models", "1", None, threshold=0.0)
    with pytest.raises(UnsignedModel) as refused:
        load_model(forged, expected_feature_version=FEATURES, trust=ModelTrust(True))
    assert str(refused.value) == (
        f"model in {forged} is not signed, and ATTRIBUTION_REQUIRE_SIGNED_MODELS requires a "
        "signature"
    )
    with pytest.warns(UnsignedModelWarning, match="is not signed; set ATTRIBUTION_REQUIRE"):
        load_model(forged, expected_feature_version=FEATURES, trust=ModelTrust(False))


def test_a_manifest_edited_after_signing_is_refused(
    tmp_path: Path, trained: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray]
) -> None:
    from attribution.scoring.signing import ModelTrust

    key = _key(tmp_path / "ours.pem")
    saved = _save_signed(trained, tmp_path / "models", "1", key)
    _edit_manifest(saved, {"gate.threshold": 0.0})
    trust = ModelTrust(True, frozenset({_fingerprint(key)}))
    with pytest.raises(ModelIntegrityError) as refused:
        load_model(saved, expected_feature_version=FEATURES, trust=trust)
    assert str(refused.value) == (
        f"{saved / 'manifest.sig'}: the signature does not verify against the manifest; "
        "the manifest was altered after signing"
    )


def test_a_corrupt_model_file_is_refused_not_raised(saved: Path) -> None:
    model_file = saved / "model.skops"
    model_file.write_bytes(b"not a zip archive")
    _edit_manifest(saved, {"model_file.sha256": hashlib.sha256(b"not a zip archive").hexdigest()})
    with pytest.raises(ModelIntegrityError) as refused:
        load_model(saved, expected_feature_version=FEATURES)
    assert str(refused.value) == (
        f"{model_file} is not a readable model file (BadZipFile: File is not a zip file)"
    )
