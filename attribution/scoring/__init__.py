"""Scoring: a calibrated maliciousness classifier with a Neyman–Pearson false-positive gate."""

from attribution.scoring.estimator import (
    ACT,
    NO_ACT,
    InsufficientCalibrationWarning,
    MaliciousnessClassifier,
    default_base_estimator,
)
from attribution.scoring.metrics import (
    evaluate_scores,
    expected_calibration_error,
    gate_rates,
    reliability_diagram_data,
    repeated_split_evaluation,
    write_reliability_diagram,
    write_roc_curve,
)
from attribution.scoring.umbrella import (
    InsufficientCalibrationData,
    min_calibration_size,
    umbrella_rank,
    umbrella_threshold,
    violation_probability,
)

__all__ = [
    "ACT",
    "NO_ACT",
    "InsufficientCalibrationData",
    "InsufficientCalibrationWarning",
    "MaliciousnessClassifier",
    "default_base_estimator",
    "evaluate_scores",
    "expected_calibration_error",
    "gate_rates",
    "min_calibration_size",
    "reliability_diagram_data",
    "repeated_split_evaluation",
    "umbrella_rank",
    "umbrella_threshold",
    "violation_probability",
    "write_reliability_diagram",
    "write_roc_curve",
]
