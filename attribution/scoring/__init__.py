"""Scoring: a calibrated maliciousness classifier with a Neyman–Pearson false-positive gate."""

from attribution.scoring.estimator import (
    ACT,
    NO_ACT,
    InsufficientCalibrationWarning,
    MaliciousnessClassifier,
    default_base_estimator,
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
    "min_calibration_size",
    "umbrella_rank",
    "umbrella_threshold",
    "violation_probability",
]
