"""Plain models the classifier is measured against, on the same data and the same splits.

``plain_gate``
    A plain ``HistGradientBoostingClassifier`` (scikit-learn's defaults) trained on the same
    samples as :class:`~attribution.scoring.MaliciousnessClassifier`, thresholded by the same
    umbrella rule on the same held-out benign samples (same ``random_state``, same draw). The
    classifier must not lose true positives at its gate to this.
``uncalibrated_at_half``
    The default scorer, uncalibrated, acting at p >= 0.5: no false-positive guarantee at all.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from attribution.scoring.estimator import benign_holdout, default_base_estimator
from attribution.scoring.umbrella import umbrella_threshold

__all__ = ["plain_gate", "uncalibrated_at_half"]


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
