"""Evaluation: held-out figures of the classifier and its baselines over repeated random splits.

Each stratified split (30 % held out) gets its own figures (:func:`split_figures`): held-out
ROC and PR AUC, Brier, ECE, TPR and empirical FPR at the gate, the population rule beside it,
and the baselines (:mod:`attribution.classifier.baselines`) with their false-positive rates on
benign look-alikes. :func:`summarise` gives the figures over all splits, with the share of
splits whose FPR stays within alpha and what the guarantee predicts for it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.stats import binomtest
from sklearn.model_selection import StratifiedShuffleSplit

from attribution.classifier.baselines import (
    acted_share,
    baseline_figures,
    baselines_summary,
    naive_flags,
)
from attribution.classifier.dataset import DEFAULT_MIN_FAMILIES, Dataset, Progress, build_dataset
from attribution.classifier.train import new_classifier
from attribution.db import Graph
from attribution.features import FEATURE_SET_VERSION
from attribution.scoring.metrics import (
    evaluate_scores,
    gate_rates,
    write_reliability_diagram,
    write_roc_curve,
)
from attribution.scoring.umbrella import umbrella_threshold, violation_probability

__all__ = [
    "TEST_SIZE",
    "Curve",
    "SplitFigures",
    "evaluate_dataset",
    "evaluate_model",
    "split_figures",
    "summarise",
]

TEST_SIZE = 0.3
Curve = tuple[np.ndarray, np.ndarray, np.ndarray, float]
"""One split's test labels, probabilities, gate scores and threshold, for the plots."""


@dataclass
class SplitFigures:
    """Each figure's values over the splits so far (``None`` and NaN are left out)."""

    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, figures: dict[str, float | None]) -> None:
        for key, value in figures.items():
            if value is not None and not math.isnan(value):
                self.values.setdefault(key, []).append(float(value))

    def mean(self, key: str) -> float | None:
        v = self.values.get(key)
        return float(np.mean(v)) if v else None

    def within(self, key: str, alpha: float) -> list[bool]:
        """Per split, whether the rate ``key`` stayed within ``alpha``."""
        return [v <= alpha for v in self.values.get(key, [])]


def _proportion_ci(successes: int, trials: int) -> list[float] | None:
    """Exact (Clopper–Pearson) 95% interval for a share of splits: 20 splits are few."""
    if trials == 0:
        return None
    interval = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="exact")
    return [float(interval.low), float(interval.high)]


def split_figures(
    data: Dataset,
    train: np.ndarray,
    test: np.ndarray,
    *,
    split_seed: int,
    alpha: float,
    delta: float,
    guarantee: str,
    naive: np.ndarray,
    lookalike: np.ndarray,
) -> tuple[dict[str, float | None], Curve]:
    """One split's figures: the classifier's gate and the baselines on its test part."""
    X, y = data.X, data.y
    batch = int(np.count_nonzero(y[test] == 0))
    batch_size = batch if guarantee == "batch" else None
    model = new_classifier(alpha, delta, split_seed, batch_size=batch_size)
    model.fit(X[train], y[train])
    proba = model.predict_proba(X[test])[:, 1]
    gate_scores = model.gate_score(X[test])
    act = gate_scores > model.threshold_
    ranking = evaluate_scores(y[test], gate_scores, model.threshold_)
    calibration = evaluate_scores(y[test], proba, 0.5)
    population = umbrella_threshold(model.calibration_scores_, alpha, delta)
    pm = gate_rates(y[test], gate_scores, population)
    benign = y[test] == 0
    rank = int(model.umbrella_rank_ or 0)  # fitting raised if calibration was short
    violation = violation_probability(model.n_calibration_benign_, rank, alpha, batch)
    figures: dict[str, float | None] = {
        "batch": float(batch),
        "gate_fpr": acted_share(act, benign), "gate_tpr": float(act[~benign].mean()),
        "threshold": float(model.threshold_), "guaranteed": 1.0 - float(violation),
        "population_fpr": pm["fpr"], "population_tpr": pm["tpr"],
        "population_threshold": float(population),
        "ours_fpr_lookalike": acted_share(act, lookalike[test]),
        # Ranking figures from the gate score; calibration figures from the probability.
        "roc_auc": ranking["roc_auc"], "pr_auc": ranking["pr_auc"],
        "brier": calibration["brier"], "ece": calibration["ece"],
    }  # fmt: skip
    figures |= baseline_figures(
        data, train, test, naive=naive, lookalike=lookalike, alpha=alpha, delta=delta,
        batch_size=batch_size, seed=split_seed,
    )  # fmt: skip
    return figures, (y[test], proba, gate_scores, float(model.threshold_))


def _population_gate(figures: SplitFigures, alpha: float) -> dict[str, Any]:
    fprs = figures.values.get("population_fpr", [])
    return {
        "description": "umbrella rule for the population FPR (batch_size=None), same "
        "models and calibration scores",
        "empirical_fpr": figures.mean("population_fpr"),
        "max_fpr": float(max(fprs)) if fprs else None,
        "tpr": figures.mean("population_tpr"),
        "threshold_mean": figures.mean("population_threshold"),
        "fraction_splits_fpr_within_alpha": (
            float(np.mean(figures.within("population_fpr", alpha))) if fprs else None
        ),
    }


def summarise(
    data: Dataset, figures: SplitFigures, *, alpha: float, delta: float, n_splits: int,
    guarantee: str, min_families: int,
) -> dict[str, Any]:  # fmt: skip
    """The evaluation's figures over every split."""
    y, mean = data.y, figures.mean
    fprs = figures.values.get("gate_fpr", [])
    within = figures.within("gate_fpr", alpha)
    batches = figures.values.get("batch", [])
    return {
        "alpha": alpha, "delta": delta, "n_splits": n_splits, "test_size": TEST_SIZE,
        "target_source": data.target_source, "n_samples": int(y.size),
        "n_benign": int((y == 0).sum()), "n_malicious": int((y == 1).sum()),
        "n_benign_lookalike": int(data.lookalike_mask().sum()),
        "skipped_insufficient_evidence": data.skipped_insufficient,
        "truth_missing_from_graph": data.truth_missing_from_graph,
        "min_evidence_families": min_families, "feature_set": FEATURE_SET_VERSION,
        "empirical_fpr_at_gate": mean("gate_fpr"),
        "max_fpr_at_gate": float(max(fprs)) if fprs else None,
        "fraction_splits_fpr_within_alpha": float(np.mean(within)) if within else None,
        "splits_fpr_within_alpha": int(np.sum(within)),
        "fraction_splits_fpr_within_alpha_ci95": _proportion_ci(int(np.sum(within)), len(within)),
        "expected_fraction_splits_fpr_within_alpha": mean("guaranteed"),
        "gate_guarantee": guarantee,
        "batch_size": int(batches[-1]) if batches else None,
        "population_gate": _population_gate(figures, alpha),
        "tpr_at_gate": mean("gate_tpr"), "threshold_mean": mean("threshold"),
        "ece": mean("ece"), "roc_auc": mean("roc_auc"), "pr_auc": mean("pr_auc"),
        "brier": mean("brier"), "fpr_on_benign_lookalikes": mean("ours_fpr_lookalike"),
        "baselines": baselines_summary(figures.values, alpha, mean("gate_tpr")),
    }  # fmt: skip


def evaluate_dataset(
    data: Dataset,
    naive: np.ndarray,
    *,
    n_splits: int = 20,
    alpha: float = 0.01,
    delta: float = 0.05,
    seed: int = 0,
    min_families: int = DEFAULT_MIN_FAMILIES,
    guarantee: Literal["batch", "population"] = "batch",
    progress: Progress | None = None,
) -> tuple[dict[str, Any], Curve | None]:
    """Held-out figures of a data set over ``n_splits`` stratified random splits (see
    :func:`evaluate_model`), and the first split's :data:`Curve`."""
    if guarantee not in ("batch", "population"):
        raise ValueError(f"guarantee must be 'batch' or 'population', got {guarantee!r}")
    y = data.y
    if y.size == 0 or np.unique(y).size < 2:
        raise ValueError("evaluation needs benign and malicious examples with enough evidence")
    lookalike = data.lookalike_mask()
    figures = SplitFigures()
    first = None
    splitter = StratifiedShuffleSplit(n_splits=n_splits, test_size=TEST_SIZE, random_state=seed)
    seeds = np.random.RandomState(seed).randint(np.iinfo(np.int32).max, size=n_splits)
    for k, (s, (train, test)) in enumerate(zip(seeds, splitter.split(data.X, y), strict=True)):
        split, curve = split_figures(
            data, train, test, split_seed=int(s), alpha=alpha, delta=delta, guarantee=guarantee,
            naive=naive, lookalike=lookalike,
        )  # fmt: skip
        figures.add(split)
        first = first or curve
        if progress:
            progress(f"split {k + 1}/{n_splits}")
    summary = summarise(
        data, figures, alpha=alpha, delta=delta, n_splits=n_splits, guarantee=guarantee,
        min_families=min_families,
    )  # fmt: skip
    return summary, first


def _write_outputs(out_dir: Path, result: dict[str, Any], first: Curve) -> None:
    """The first split's reliability diagram and ROC curve, and ``evaluation.json``."""
    y_first, p_first, s_first, threshold = first
    out_dir.mkdir(parents=True, exist_ok=True)
    result["reliability_png"] = str(
        write_reliability_diagram(out_dir / "reliability.png", y_first, p_first)
    )
    result["roc_png"] = str(write_roc_curve(out_dir / "roc.png", y_first, s_first, threshold))
    (out_dir / "evaluation.json").write_text(
        json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def evaluate_model(
    graph: Graph,
    *,
    truth: Path | None = None,
    n_splits: int = 20,
    alpha: float = 0.01,
    delta: float = 0.05,
    n_folds: int = 5,
    seed: int = 0,
    min_families: int = DEFAULT_MIN_FAMILIES,
    out_dir: Path | None = None,
    guarantee: Literal["batch", "population"] = "batch",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Held-out figures over ``n_splits`` random stratified splits, with three baselines.

    What each split measures is the share of the test split's benign nodes that the gate acts
    upon: a batch of ``m`` benign servers, ``m`` fixed by the class counts and ``test_size``
    (never by scores). The gate is therefore fitted with ``batch_size=m``, the guarantee about
    exactly that share (:mod:`attribution.scoring.umbrella`), and ``expected_fraction_...``
    states what the guarantee predicts for it. The population rule is reported beside it
    under ``population_gate``; ``guarantee="population"`` evaluates it as the gate. The plain
    baseline (:func:`attribution.classifier.baselines.plain_gate`) gets the same guarantee on
    the same splits, and ``tpr_ratio_ours_to_plain`` compares the two.
    """
    data = build_dataset(
        graph, truth=truth, n_folds=n_folds, seed=seed, min_families=min_families,
        progress=progress,
    )  # fmt: skip
    result, first = evaluate_dataset(
        data, naive_flags(graph, data), n_splits=n_splits, alpha=alpha, delta=delta, seed=seed,
        min_families=min_families, guarantee=guarantee, progress=progress,
    )  # fmt: skip
    if out_dir is not None and first is not None:
        _write_outputs(out_dir, result, first)
    return result
