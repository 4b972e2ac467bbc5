"""How good the scores are, and whether the false-positive gate keeps its promise.

Everything here takes plain arrays: ``y_true`` with 1 = malicious and 0 = benign, and the
calibrated probability of malicious. Plots are written with matplotlib's non-interactive Agg
backend, so they work on servers without a display.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedShuffleSplit

__all__ = [
    "evaluate_scores",
    "expected_calibration_error",
    "gate_rates",
    "reliability_diagram_data",
    "repeated_split_evaluation",
    "write_reliability_diagram",
    "write_roc_curve",
]


def _binary_inputs(y_true: ArrayLike, proba: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).ravel()
    p = np.asarray(proba, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y_true has {y.size} values but the scores have {p.size}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must contain only 0 (benign) and 1 (malicious)")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("probabilities must lie in [0, 1] and must not be NaN")
    return y.astype(int), p


def reliability_diagram_data(
    y_true: ArrayLike, proba: ArrayLike, n_bins: int = 10
) -> dict[str, np.ndarray]:
    """Per-bin counts, mean predicted probability and observed malicious frequency.

    Binning: ``n_bins`` equal-width bins over [0, 1]; bin ``b`` holds ``b/n_bins <= p <
    (b+1)/n_bins``, and the last bin also holds ``p == 1``. Empty bins have count 0 and NaN
    means.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    y, p = _binary_inputs(y_true, proba)
    # b / n_bins is correctly rounded, so a score written as 0.57 lands in bin 57 of 100;
    # int(p * n_bins) would put it in bin 56 (0.57 * 100 = 56.99999999999999).
    edges = np.arange(n_bins + 1) / n_bins
    bins = np.minimum(np.searchsorted(edges, p, side="right") - 1, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    sum_p = np.bincount(bins, weights=p, minlength=n_bins)
    sum_y = np.bincount(bins, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.where(counts > 0, sum_p / counts, np.nan)
        observed = np.where(counts > 0, sum_y / counts, np.nan)
    return {
        "bin_edges": edges,
        "counts": counts,
        "mean_predicted": mean_predicted,
        "observed_frequency": observed,
    }


def expected_calibration_error(y_true: ArrayLike, proba: ArrayLike, n_bins: int = 10) -> float:
    """Count-weighted mean gap between predicted and observed frequency over the bins.

    ``ECE = sum_b (n_b / n) * |mean(p in b) - mean(y in b)|`` with the equal-width bins of
    :func:`reliability_diagram_data`.
    """
    data = reliability_diagram_data(y_true, proba, n_bins)
    counts = data["counts"]
    filled = counts > 0
    if not filled.any():
        raise ValueError("cannot compute a calibration error from zero samples")
    gaps = np.abs(data["mean_predicted"][filled] - data["observed_frequency"][filled])
    return float(np.sum(gaps * counts[filled]) / counts.sum())


def gate_rates(y_true: ArrayLike, proba: ArrayLike, threshold: float) -> dict[str, float]:
    """True- and empirical false-positive rate of the rule "act iff score > threshold".

    A rate is NaN when its class is absent.
    """
    y, p = _binary_inputs(y_true, proba)
    act = p > threshold
    n_pos = int(np.count_nonzero(y == 1))
    n_neg = int(np.count_nonzero(y == 0))
    return {
        "tpr": float(act[y == 1].mean()) if n_pos else float("nan"),
        "fpr": float(act[y == 0].mean()) if n_neg else float("nan"),
        "false_positives": float(np.count_nonzero(act & (y == 0))),
        "n_benign": float(n_neg),
        "n_malicious": float(n_pos),
    }


def evaluate_scores(
    y_true: ArrayLike, proba: ArrayLike, threshold: float, n_bins: int = 10
) -> dict[str, float]:
    """The metric set reported for a model: ROC AUC, PR AUC, Brier, ECE, gate TPR/FPR."""
    y, p = _binary_inputs(y_true, proba)
    both = np.unique(y).size == 2
    rates = gate_rates(y, p, threshold)
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p, n_bins),
        "gate_tpr": rates["tpr"],
        "gate_fpr": rates["fpr"],
        "threshold": float(threshold),
        "n_samples": float(y.size),
    }


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _write_png(fig: Any, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=100, bbox_inches="tight")
    return out


def write_reliability_diagram(
    path: str | Path, y_true: ArrayLike, proba: ArrayLike, n_bins: int = 10
) -> Path:
    """Write a reliability diagram (observed vs predicted per bin, with bin counts) as PNG."""
    data = reliability_diagram_data(y_true, proba, n_bins)
    plt = _pyplot()
    fig, (ax, ax_counts) = plt.subplots(
        2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    try:
        filled = data["counts"] > 0
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        ax.plot(
            data["mean_predicted"][filled],
            data["observed_frequency"][filled],
            marker="o",
            label=f"model (ECE {expected_calibration_error(y_true, proba, n_bins):.3f})",
        )
        ax.set_ylabel("observed share malicious")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(loc="upper left")
        ax.set_title("Reliability diagram")
        edges = data["bin_edges"]
        ax_counts.bar(edges[:-1], data["counts"], width=np.diff(edges), align="edge")
        ax_counts.set_yscale("symlog")
        ax_counts.set_xlabel("predicted probability of malicious")
        ax_counts.set_ylabel("samples")
        out = _write_png(fig, path)
    finally:
        plt.close(fig)
    return out


def write_roc_curve(
    path: str | Path,
    y_true: ArrayLike,
    proba: ArrayLike,
    threshold: float | None = None,
) -> Path:
    """Write the ROC curve as PNG, marking the gate's operating point when given."""
    y, p = _binary_inputs(y_true, proba)
    fpr, tpr, _ = roc_curve(y, p)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    try:
        ax.plot(fpr, tpr, label=f"ROC (AUC {roc_auc_score(y, p):.3f})")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
        if threshold is not None:
            rates = gate_rates(y, p, threshold)
            ax.scatter(
                [rates["fpr"]],
                [rates["tpr"]],
                color="red",
                zorder=3,
                label=f"gate (FPR {rates['fpr']:.4f}, TPR {rates['tpr']:.3f})",
            )
        ax.set_xlabel("false-positive rate")
        ax.set_ylabel("true-positive rate")
        ax.set_title("ROC curve")
        ax.legend(loc="lower right")
        out = _write_png(fig, path)
    finally:
        plt.close(fig)
    return out


def repeated_split_evaluation(
    X: ArrayLike,
    y: ArrayLike,
    make_estimator: Callable[[int], Any],
    n_splits: int = 20,
    test_size: float = 0.3,
    random_state: int = 0,
    alpha: float | None = None,
    n_bins: int = 10,
) -> dict[str, Any]:
    """Refit on ``n_splits`` random stratified splits and check the gate on each test part.

    ``make_estimator(seed)`` returns a fresh, unfitted classifier with ``predict_proba`` and a
    ``threshold_`` after fitting (e.g. ``MaliciousnessClassifier``); ``seed`` differs per split.
    The gate's rates and the ranking figures come from its ``gate_score`` where it has one
    (the score the threshold is set on), else from the probability; calibration figures
    always come from the probability.
    ``alpha`` defaults to the estimator's own ``alpha``.

    Returns ``fraction_fpr_within_alpha`` (share of splits whose empirical test FPR at the gate
    is <= alpha), ``mean_tpr``, ``mean_ece``, ``mean_roc_auc``, ``max_fpr`` and the per-split
    metric dicts under ``splits``. The empirical FPR of a finite test set scatters around the
    true FPR, so this is a check of the guarantee, not the guarantee itself.
    """
    X_arr = np.asarray(X, dtype=float)
    y_arr = np.asarray(y).astype(int)
    splitter = StratifiedShuffleSplit(
        n_splits=n_splits, test_size=test_size, random_state=random_state
    )
    seeds = np.random.RandomState(random_state).randint(np.iinfo(np.int32).max, size=n_splits)
    splits: list[dict[str, float]] = []
    level = alpha
    for seed, (train, test) in zip(seeds, splitter.split(X_arr, y_arr), strict=True):
        model = make_estimator(int(seed)).fit(X_arr[train], y_arr[train])
        if level is None:
            level = float(model.alpha)
        proba = model.predict_proba(X_arr[test])[:, 1]
        gate = getattr(model, "gate_score", None)
        scores = proba if gate is None else gate(X_arr[test])
        ranking = evaluate_scores(y_arr[test], scores, float(model.threshold_), n_bins)
        calibration = evaluate_scores(y_arr[test], proba, float(model.threshold_), n_bins)
        splits.append(ranking | {"brier": calibration["brier"], "ece": calibration["ece"]})
    assert level is not None
    fprs = np.array([s["gate_fpr"] for s in splits])
    return {
        "alpha": level,
        "n_splits": n_splits,
        "fraction_fpr_within_alpha": float(np.mean(fprs <= level)),
        "max_fpr": float(fprs.max()),
        "mean_fpr": float(fprs.mean()),
        "mean_tpr": float(np.mean([s["gate_tpr"] for s in splits])),
        "mean_ece": float(np.mean([s["ece"] for s in splits])),
        "mean_roc_auc": float(np.mean([s["roc_auc"] for s in splits])),
        "splits": splits,
    }
