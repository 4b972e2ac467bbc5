"""What the classifier is measured against, on the same data and the same splits.

``naive_rule``
    Act when a node sits in a listed-bad AS (the AS of any feed-labelled malicious node) or its
    name looks generated (character entropy at or above :data:`NAIVE_ENTROPY_BITS`).
``plain_gate``
    The default scorer alone (scikit-learn's ``HistGradientBoostingClassifier`` with its
    defaults) trained on the same samples as :class:`~attribution.scoring.MaliciousnessClassifier`,
    thresholded by the same umbrella rule on the same held-out benign samples (same
    ``random_state``, same draw). The classifier must not lose true positives at its gate to this.
``uncalibrated_at_half``
    The default scorer, uncalibrated, acting at p >= 0.5: no false-positive guarantee at all.

:func:`baseline_figures` gives the three on one split, :func:`baselines_summary` over all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from attribution.classifier.dataset import Dataset
from attribution.db import Graph
from attribution.labels import read_label_observations
from attribution.scoring.estimator import benign_holdout, default_base_estimator
from attribution.scoring.umbrella import umbrella_threshold

__all__ = [
    "NAIVE_ENTROPY_BITS",
    "acted_share",
    "baseline_figures",
    "baselines_summary",
    "naive_flags",
    "naive_rule",
    "plain_gate",
    "uncalibrated_at_half",
]

NAIVE_ENTROPY_BITS = 3.5
"""The naive baseline calls a name DGA-looking at this character entropy (bits/char) or more."""


def naive_rule(dataset: Dataset, bad_asns: Iterable[int]) -> np.ndarray:
    """Act mask over the data set's rows: in a listed-bad AS, or a generated-looking name."""
    bad = frozenset(bad_asns)
    feats = dataset.features
    entropy = feats.column("lex_entropy")[dataset.rows]
    flags = []
    for j, i in enumerate(dataset.rows):
        key = feats.keys[i]
        in_bad = bool(feats.asns.get(key, frozenset()) & bad)
        dga = not math.isnan(entropy[j]) and entropy[j] >= NAIVE_ENTROPY_BITS
        flags.append(in_bad or dga)
    return np.array(flags, dtype=bool)


def naive_flags(graph: Graph, data: Dataset) -> np.ndarray:
    """:func:`naive_rule` with the ASes of the graph's feed-labelled malicious nodes as bad."""
    bad_asns: set[int] = set()
    for o in read_label_observations(graph):
        if o.kind == "feed" and o.verdict == "malicious":
            bad_asns |= data.features.asns.get(o.target, frozenset())
    return naive_rule(data, bad_asns)


def plain_gate(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    *,
    alpha: float,
    delta: float,
    batch_size: int | None,
    seed: int,
    calibration_fraction: float = 0.3,
) -> tuple[np.ndarray, float]:
    """(act mask over ``X_test``, threshold) of the plain model with the umbrella gate."""
    y_idx = np.unique(y_train, return_inverse=True)[1]
    rng = check_random_state(seed)
    holdout, _ = benign_holdout(y_idx, calibration_fraction, rng)
    train = np.ones(y_idx.size, dtype=bool)
    train[holdout] = False
    scorer_seed = rng.randint(np.iinfo(np.int32).max)
    model = default_base_estimator(random_state=scorer_seed)
    model.fit(X_train[train], y_idx[train])
    threshold = umbrella_threshold(
        model.predict_proba(X_train[holdout])[:, 1], alpha, delta, batch_size=batch_size
    )
    return model.predict_proba(X_test)[:, 1] > threshold, float(threshold)


def uncalibrated_at_half(
    X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, *, seed: int
) -> np.ndarray:
    """Act mask of the default scorer, uncalibrated, at p >= 0.5."""
    model = default_base_estimator(random_state=seed).fit(X_train, y_train)
    return np.asarray(model.predict_proba(X_test)[:, 1] >= 0.5)


def acted_share(act: np.ndarray, among: np.ndarray) -> float | None:
    """The share of the ``among`` rows acted upon (a false-positive rate among benign rows);
    ``None`` when there are none."""
    return float(act[among].mean()) if int(among.sum()) else None


def baseline_figures(
    data: Dataset,
    train: np.ndarray,
    test: np.ndarray,
    *,
    naive: np.ndarray,
    lookalike: np.ndarray,
    alpha: float,
    delta: float,
    batch_size: int | None,
    seed: int,
) -> dict[str, float | None]:
    """The three baselines' rates on one split's test rows (``naive``, ``lookalike``: masks
    over all the data set's rows)."""
    X, y = data.X, data.y
    plain_act, _ = plain_gate(
        X[train], y[train], X[test], alpha=alpha, delta=delta, batch_size=batch_size, seed=seed
    )
    base_act = uncalibrated_at_half(X[train], y[train], X[test], seed=seed)
    naive_act = naive[test]
    benign, look = y[test] == 0, lookalike[test]
    return {
        "plain_fpr": acted_share(plain_act, benign), "plain_tpr": float(plain_act[~benign].mean()),
        "base_fpr": acted_share(base_act, benign), "base_tpr": float(base_act[~benign].mean()),
        "base_fpr_lookalike": acted_share(base_act, look),
        "naive_fpr": acted_share(naive_act, benign), "naive_tpr": float(naive_act[~benign].mean()),
        "naive_fpr_lookalike": acted_share(naive_act, look),
    }  # fmt: skip


def _mean(figures: Mapping[str, list[float]], key: str) -> float | None:
    values = figures.get(key)
    return float(np.mean(values)) if values else None


def baselines_summary(
    figures: Mapping[str, list[float]], alpha: float, ours_tpr: float | None
) -> dict[str, Any]:
    """The baselines over every split (``figures``: each key of :func:`baseline_figures` with
    its values over the splits), beside the classifier's own TPR at the gate."""
    plain_fprs = figures.get("plain_fpr", [])
    plain_tpr = _mean(figures, "plain_tpr")
    return {
        "plain_hgb_umbrella": {
            "description": "HistGradientBoostingClassifier with scikit-learn's defaults, same "
            "training samples, same umbrella rule on the same held-out benign samples",
            "fpr": _mean(figures, "plain_fpr"),
            "tpr": plain_tpr,
            "fraction_splits_fpr_within_alpha": (
                float(np.mean([v <= alpha for v in plain_fprs])) if plain_fprs else None
            ),
            "tpr_ratio_ours_to_plain": (
                ours_tpr / plain_tpr if ours_tpr is not None and plain_tpr else None
            ),
        },
        "naive_rule": {
            "description": "listed-bad ASN (AS of any feed-labelled malicious node) or "
            f"name entropy >= {NAIVE_ENTROPY_BITS} bits/char",
            "fpr": _mean(figures, "naive_fpr"),
            "tpr": _mean(figures, "naive_tpr"),
            "fpr_on_benign_lookalikes": _mean(figures, "naive_fpr_lookalike"),
        },
        "uncalibrated_base_at_0_5": {
            "description": "default gradient-boosted trees, uncalibrated, act at p >= 0.5",
            "fpr": _mean(figures, "base_fpr"),
            "tpr": _mean(figures, "base_tpr"),
            "fpr_on_benign_lookalikes": _mean(figures, "base_fpr_lookalike"),
        },
    }
