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
from attribution.scoring.persistence import (
    ALLOWED_TYPES,
    FeatureVersionMismatch,
    LibraryVersionMismatch,
    ModelIntegrityError,
    ModelLoadError,
    ModelVersionExists,
    UntrustedModelTypes,
    load_model,
    manifest_digest,
    save_model,
    training_data_id,
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
    "ALLOWED_TYPES",
    "NO_ACT",
    "FeatureVersionMismatch",
    "InsufficientCalibrationData",
    "InsufficientCalibrationWarning",
    "LibraryVersionMismatch",
    "MaliciousnessClassifier",
    "ModelIntegrityError",
    "ModelLoadError",
    "ModelVersionExists",
    "UntrustedModelTypes",
    "default_base_estimator",
    "evaluate_scores",
    "expected_calibration_error",
    "gate_rates",
    "load_model",
    "manifest_digest",
    "min_calibration_size",
    "reliability_diagram_data",
    "repeated_split_evaluation",
    "save_model",
    "training_data_id",
    "umbrella_rank",
    "umbrella_threshold",
    "violation_probability",
    "write_reliability_diagram",
    "write_roc_curve",
]
