"""Training: fit the classifier on the graph's data set, cross-validate it, save the next version.

Features come from the graph (:mod:`attribution.features`), targets from the graph's resolved
labels or, for evaluation worlds, from a ground-truth CSV given explicitly
(:mod:`attribution.classifier.dataset`). The final :class:`MaliciousnessClassifier` is saved
with :func:`attribution.scoring.persistence.save_model` as the next version of its name in the
:class:`~attribution.classifier.store.ModelStore` (``models/<name>/v<N>/``, never overwriting).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from attribution.classifier.dataset import DEFAULT_MIN_FAMILIES, Dataset, Progress, build_dataset
from attribution.classifier.store import ModelStore
from attribution.db import Graph
from attribution.features import FEATURE_GROUPS, FEATURE_NAMES, FEATURE_SET_VERSION
from attribution.features.families import EvidencePolicy
from attribution.reports.canonical import public_key_fingerprint
from attribution.scoring.estimator import MaliciousnessClassifier
from attribution.scoring.metrics import evaluate_scores
from attribution.scoring.persistence import save_model
from attribution.scoring.signing import model_signing_key
from attribution.settings import load_settings

__all__ = ["cross_validated_metrics", "new_classifier", "train_model"]


def new_classifier(alpha: float, delta: float, seed: int, **kwargs: Any) -> MaliciousnessClassifier:
    """An unfitted classifier over the graph's feature set, explained by its feature groups."""
    return MaliciousnessClassifier(
        alpha=alpha,
        delta=delta,
        feature_names=list(FEATURE_NAMES),
        feature_groups={name: list(columns) for name, columns in FEATURE_GROUPS.items()},
        random_state=seed,
        **kwargs,
    )


def cross_validated_metrics(
    X: np.ndarray, y: np.ndarray, *, alpha: float, delta: float, n_folds: int, seed: int
) -> dict[str, float]:
    """Mean held-out metrics over stratified folds, each fold scored by a model fitted without it.

    A fold whose training part has too few benign samples for the gate gets a closed gate
    (never acts) rather than an error, so small graphs still report their AUCs.
    """
    folds = min(n_folds, int(np.bincount(y, minlength=2).min()))
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 samples of each class")
    per_fold = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(splitter.split(X, y)):
        model = new_classifier(alpha, delta, seed + k, on_insufficient="warn")
        model.fit(X[train], y[train])
        proba = model.predict_proba(X[test])[:, 1]
        per_fold.append(evaluate_scores(y[test], proba, float(model.threshold_)))
    keys = ("roc_auc", "pr_auc", "brier", "ece", "gate_tpr", "gate_fpr")
    return {f"cv_{k}": float(np.nanmean([m[k] for m in per_fold])) for k in keys} | {
        "cv_folds": float(folds)
    }


def train_model(
    graph: Graph,
    *,
    models_dir: Path,
    name: str = "maliciousness",
    alpha: float = 0.01,
    delta: float = 0.05,
    batch_size: int | None = None,
    n_folds: int = 5,
    truth: Path | None = None,
    seed: int = 0,
    min_families: int = DEFAULT_MIN_FAMILIES,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fit, cross-validate and save the next model version; return what was saved.

    ``min_families`` (the evidence policy) is written into the manifest: scoring with this
    model applies the same policy as the data it was trained and calibrated on.

    ``batch_size`` selects the batch guarantee of the gate (see
    :class:`~attribution.scoring.MaliciousnessClassifier`); ``None`` is the population one.

    The manifest is signed with the configured model signing key, generated on first use
    (:func:`attribution.scoring.signing.model_signing_key`); a key that cannot be used is
    refused (ModelSigningError, a ValueError) before anything is fitted.
    """
    key = model_signing_key(load_settings())
    policy = EvidencePolicy(min_families)
    data = build_dataset(
        graph, truth=truth, n_folds=n_folds, seed=seed, min_families=min_families,
        progress=progress,
    )  # fmt: skip
    X, y = data.X, data.y
    if y.size == 0 or np.unique(y).size < 2:
        raise ValueError(
            f"training needs benign and malicious examples with enough evidence; "
            f"found {int((y == 0).sum())} benign and {int((y == 1).sum())} malicious"
        )
    metrics = cross_validated_metrics(X, y, alpha=alpha, delta=delta, n_folds=n_folds, seed=seed)
    if progress:
        progress("cross-validation")
    model = new_classifier(alpha, delta, seed, batch_size=batch_size).fit(X, y)
    version = ModelStore(models_dir).next_version(name)
    path = save_model(
        model, models_dir, name, version, feature_version=FEATURE_SET_VERSION, X_train=X,
        y_train=y, metrics=metrics, feature_names=list(FEATURE_NAMES),
        evidence_policy=policy.as_dict(), signing_key=key,
    )  # fmt: skip
    signed_by = public_key_fingerprint(key.public_key())
    return _trained(data, model, name, version, path, policy) | {
        "metrics": metrics,
        "signed_by": signed_by,
    }


def _trained(
    data: Dataset,
    model: MaliciousnessClassifier,
    name: str,
    version: str,
    path: Path,
    policy: EvidencePolicy,
) -> dict[str, Any]:
    """What :func:`train_model` saved, as JSON-ready values."""
    y = data.y
    return {
        "name": name,
        "version": version,
        "path": str(path),
        "target_source": data.target_source,
        "n_samples": int(y.size),
        "n_benign": int((y == 0).sum()),
        "n_malicious": int((y == 1).sum()),
        "skipped_insufficient_evidence": data.skipped_insufficient,
        "threshold": float(model.threshold_),
        "n_calibration_benign": int(model.n_calibration_benign_),
        "alpha": float(model.alpha),
        "delta": float(model.delta),
        "batch_size": model.batch_size,
        "evidence_policy": policy.as_dict(),
    }
