"""Calibration and gate metrics, plots, and the repeated-split check of the FPR guarantee."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_limits

from attribution.scoring import MaliciousnessClassifier
from attribution.scoring.metrics import (
    evaluate_scores,
    expected_calibration_error,
    gate_rates,
    reliability_diagram_data,
    repeated_split_evaluation,
    write_reliability_diagram,
    write_roc_curve,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _single_openmp_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield


def test_reliability_bins_are_equal_width_and_close_on_the_right_at_one() -> None:
    proba = np.array([0.0, 0.05, 0.1, 0.15, 0.95, 1.0])
    y = np.array([0, 0, 1, 0, 1, 1])
    data = reliability_diagram_data(y, proba, n_bins=10)
    np.testing.assert_allclose(data["bin_edges"], np.linspace(0, 1, 11))
    np.testing.assert_array_equal(data["counts"], [2, 2, 0, 0, 0, 0, 0, 0, 0, 2])
    np.testing.assert_allclose(data["mean_predicted"][[0, 1, 9]], [0.025, 0.125, 0.975])
    np.testing.assert_allclose(data["observed_frequency"][[0, 1, 9]], [0.0, 0.5, 1.0])
    assert np.isnan(data["mean_predicted"][2])


def test_scores_on_a_bin_edge_fall_in_the_upper_bin() -> None:
    data = reliability_diagram_data([1, 0, 1], [0.57, 0.29, 0.3], n_bins=100)
    assert list(np.flatnonzero(data["counts"])) == [29, 30, 57]


def test_expected_calibration_error_known_value() -> None:
    proba = np.array([0.0, 0.05, 0.1, 0.15, 0.95, 1.0])
    y = np.array([0, 0, 1, 0, 1, 1])
    # bins: |0.025 - 0| * 2/6 + |0.125 - 0.5| * 2/6 + |0.975 - 1| * 2/6
    assert expected_calibration_error(y, proba) == pytest.approx((0.025 + 0.375 + 0.025) / 3)


def test_perfectly_calibrated_scores_have_zero_ece() -> None:
    proba = np.repeat([0.25, 0.75], 4)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert expected_calibration_error(y, proba) == 0.0


def test_gate_rates_use_the_strict_rule() -> None:
    y = np.array([0, 0, 0, 0, 1, 1])
    proba = np.array([0.1, 0.5, 0.5, 0.9, 0.5, 0.9])
    rates = gate_rates(y, proba, threshold=0.5)
    assert rates["fpr"] == 0.25  # only 0.9 is strictly above 0.5
    assert rates["tpr"] == 0.5
    assert rates["false_positives"] == 1.0


def test_evaluate_scores_known_values() -> None:
    y = np.array([0, 0, 1, 1])
    proba = np.array([0.1, 0.4, 0.35, 0.8])
    metrics = evaluate_scores(y, proba, threshold=0.5)
    assert metrics["roc_auc"] == 0.75
    assert metrics["pr_auc"] == pytest.approx(0.8333333333333333)
    assert metrics["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert metrics["gate_tpr"] == 0.5
    assert metrics["gate_fpr"] == 0.0


@pytest.mark.parametrize(
    ("y", "proba", "message"),
    [
        ([0, 1], [0.5], "y_true has 2 values but the scores have 1"),
        ([0, 2], [0.5, 0.5], "only 0"),
        ([0, 1], [0.5, 1.5], r"\[0, 1\]"),
        ([0, 1], [0.5, np.nan], "NaN"),
    ],
)
def test_bad_metric_inputs_are_explained(y: list[int], proba: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expected_calibration_error(y, proba)


def test_plots_are_written_as_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    proba = rng.uniform(size=500)
    y = (rng.uniform(size=500) < proba).astype(int)
    reliability = write_reliability_diagram(tmp_path / "plots" / "reliability.png", y, proba)
    roc = write_roc_curve(tmp_path / "plots" / "roc.png", y, proba, threshold=0.9)
    for path in (reliability, roc):
        assert path.read_bytes()[:8] == PNG_MAGIC
        assert path.stat().st_size > 5000


def _synthetic_attribution_data() -> tuple[np.ndarray, np.ndarray]:
    """6000 nodes, 40 % malicious, 10 % of feature values missing at random."""
    X, y = make_classification(
        n_samples=6000,
        n_features=12,
        n_informative=6,
        n_redundant=2,
        weights=[0.6],
        class_sep=1.0,
        flip_y=0.0,
        random_state=0,
    )
    X[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan
    return X, y


def test_gate_holds_over_repeated_splits() -> None:
    """Acceptance: FPR <= alpha in >= 95 % of 20 splits, and calibration error <= 0.05."""
    X, y = _synthetic_attribution_data()
    assert np.isnan(X).mean() == pytest.approx(0.1, abs=0.005)
    result = repeated_split_evaluation(
        X,
        y,
        lambda seed: MaliciousnessClassifier(alpha=0.01, delta=0.05, random_state=seed),
        n_splits=20,
        test_size=0.3,
        random_state=0,
    )
    assert result["alpha"] == 0.01
    assert len(result["splits"]) == 20
    assert result["fraction_fpr_within_alpha"] >= 0.95
    assert result["mean_ece"] <= 0.05
    assert all(split["ece"] <= 0.05 for split in result["splits"])
    # Measured on this data (seeded, deterministic): 19 of 20 splits within alpha, worst FPR
    # 11/1080, mean TPR 0.595, mean ECE 0.026, mean ROC AUC 0.971.
    assert result["fraction_fpr_within_alpha"] == 0.95
    assert result["max_fpr"] == pytest.approx(11 / 1080)
    assert result["mean_tpr"] == pytest.approx(0.5948611111111111)
    assert result["mean_ece"] == pytest.approx(0.026484182294176494)
    assert result["mean_roc_auc"] == pytest.approx(0.9710480324074074)
