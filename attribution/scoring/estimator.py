"""The maliciousness classifier: calibrated probabilities plus a Neyman–Pearson gate.

Pure numeric: rows are infrastructure nodes, columns are features (NaN = no evidence for that
feature), labels are 1 = malicious, 0 = benign. Graph feature extraction lives elsewhere and
feeds this estimator as a ``Pipeline`` step.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from attribution.scoring.umbrella import (
    InsufficientCalibrationData,
    check_batch_size,
    min_calibration_size,
    umbrella_rank,
    violation_probability,
)

__all__ = [
    "ACT",
    "INSUFFICIENT_EVIDENCE",
    "NO_ACT",
    "InsufficientCalibrationWarning",
    "MaliciousnessClassifier",
    "default_base_estimator",
]

ACT = "act"
NO_ACT = "no-act"
INSUFFICIENT_EVIDENCE = "insufficient-evidence"


class InsufficientCalibrationWarning(UserWarning):
    """The gate was closed (never acts) because there were too few benign calibration samples."""


def default_base_estimator(random_state: int | np.random.RandomState | None = None) -> Any:
    """The default scorer: gradient-boosted trees that treat NaN as its own branch.

    Shallow trees (at most 15 leaves, 20 samples per leaf), L2 leaf regularisation, a modest
    learning rate and a bounded number of boosting rounds keep the model from memorising
    individual servers (scikit-learn switches on early stopping by itself above 10,000
    samples). NaN (missing evidence) is routed natively at each split rather than imputed.
    """
    return HistGradientBoostingClassifier(
        learning_rate=0.1,
        max_iter=100,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping="auto",
        random_state=random_state,
    )


def _holdout_size(fraction: float, n_benign: int) -> int:
    """Benign samples held out for the gate: the ``fraction`` share, rounded up.

    At least 2 benign samples stay in training, which needs examples of both classes; a
    negative result means there are too few benign samples to train at all.
    """
    return min(math.ceil(fraction * n_benign), n_benign - 2)


class MaliciousnessClassifier(ClassifierMixin, BaseEstimator):
    """Calibrated maliciousness score with a false-positive gate of guaranteed level.

    How the labelled data is used (the choice behind ``calibration_fraction``):

    1. A random share ``calibration_fraction`` of the *benign* samples is held out. It takes no
       part in fitting or calibrating; its calibrated scores set the gate threshold by the
       Neyman–Pearson umbrella rule (:mod:`attribution.scoring.umbrella`). This is what makes
       the guarantee ``P(false-positive rate > alpha) <= delta`` hold: the held-out benign
       scores are exchangeable with future benign scores. Only benign samples are held out
       because the gate's guarantee is about benign servers, and malicious labels are the
       scarcer ones; all of them go into training.
    2. The rest (all malicious samples and the remaining benign ones) trains the scorer with
       ``CalibratedClassifierCV`` and stratified ``calibration_cv``-fold cross-fitting, so that
       every sample is used both to fit and to calibrate, without calibrating on in-sample
       scores, and without carving out a second hold-out from scarce malicious labels.
    3. Holding out benign samples lowers the benign share of the training data, which would
       inflate calibrated probabilities. The posterior odds are multiplied by
       ``n_benign_train / n_benign_total`` (``prior_correction_``), the standard correction
       for a known change of class prior, so ``predict_proba`` refers to the class balance of
       the full labelled data. The correction is monotone, so it does not change the ranking
       of scores nor the gate's guarantee (the threshold is computed on corrected scores).

    ``predict`` is the gate decision, not the most probable class: it returns the malicious
    label (``classes_[1]``, i.e. 1) only where the calibrated probability is strictly above
    ``threshold_``. ``decide`` returns the same decision as ``"act"`` / ``"no-act"``, and can
    withhold it (``"insufficient-evidence"``) for rows with too few observed features.

    Parameters
    ----------
    alpha : float, default=0.01
        Largest tolerated false-positive rate (share of benign servers acted upon).
    delta : float, default=0.05
        Largest tolerated probability that the false-positive rate exceeds ``alpha``.
    batch_size : int or None, default=None
        Which false-positive rate the guarantee is about. ``None``: the population rate, the
        share of all benign servers the gate would act upon (the classic umbrella rule). An
        integer ``m``: the share acted upon among ``m`` benign servers scored together, which
        also covers the sampling noise of a finite batch; the gate is then a little stricter
        and needs a few more calibration samples (see :mod:`attribution.scoring.umbrella`).
        Use it when the rate that matters is the one observed on a run of known size.
    estimator : classifier or None, default=None
        Unfitted scorer with ``predict_proba``; ``None`` uses
        :func:`default_base_estimator`. It is cloned, never modified.
    calibration : {"isotonic", "sigmoid"}, default="isotonic"
        Probability calibration method passed to ``CalibratedClassifierCV``.
    calibration_fraction : float, default=0.3
        Share of benign samples held out for the gate.
    calibration_cv : int, default=3
        Folds for cross-fitted probability calibration (reduced automatically, down to 2, when
        a class has fewer training samples than folds).
    on_insufficient : {"raise", "warn"}, default="raise"
        What to do when the held-out benign samples are fewer than the umbrella rule needs:
        raise :class:`InsufficientCalibrationData`, or emit
        :class:`InsufficientCalibrationWarning` and close the gate (``threshold_ = 1.0``, so
        the classifier never acts). It never falls back to an unguaranteed threshold.
    feature_names : sequence of str or None, default=None
        Names for the columns, used by :meth:`explain`. When ``fit`` receives a DataFrame, its
        column names (``feature_names_in_``) are used and must agree with this if both exist.
    random_state : int, RandomState or None, default=None
        Controls the hold-out draw, the calibration folds, the default scorer, and a given
        ``estimator`` whose own ``random_state`` is ``None``.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        Sorted labels; ``classes_[0]`` is benign, ``classes_[1]`` malicious.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when fitted on a DataFrame
    feature_names_ : list of str
        Names used by :meth:`explain` (``x0``, ``x1``, ... when none were given).
    calibrated_ : CalibratedClassifierCV
        The fitted, calibrated scorer.
    prior_correction_ : float
        Factor applied to the calibrated posterior odds (see point 3 above).
    threshold_ : float
        Gate threshold on ``predict_proba[:, 1]``; act iff the score is strictly greater.
    umbrella_rank_ : int or None
        Rank ``k`` of the benign order statistic used as threshold; ``None`` if the gate was
        closed for lack of calibration data.
    n_calibration_benign_ : int
        Number of held-out benign samples behind ``threshold_``.
    min_calibration_benign_ : int
        Number the umbrella rule needs for ``(alpha, delta)``.
    gate_closed_ : bool
        True when the gate never acts because calibration data was insufficient.
    calibration_scores_ : ndarray
        Calibrated scores of the held-out benign samples (kept for audit).
    feature_medians_ : ndarray of shape (n_features_in_,)
        Training medians (NaN ignored), the reference values of :meth:`explain`.
    """

    def __init__(
        self,
        alpha: float = 0.01,
        delta: float = 0.05,
        batch_size: int | None = None,
        estimator: Any = None,
        calibration: Literal["isotonic", "sigmoid"] = "isotonic",
        calibration_fraction: float = 0.3,
        calibration_cv: int = 3,
        on_insufficient: Literal["raise", "warn"] = "raise",
        feature_names: Sequence[str] | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.alpha = alpha
        self.delta = delta
        self.batch_size = batch_size
        self.estimator = estimator
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.calibration_cv = calibration_cv
        self.on_insufficient = on_insufficient
        self.feature_names = feature_names
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    def _validate_params_values(self) -> None:
        for name in ("alpha", "delta", "calibration_fraction"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not 0.0 < float(value) < 1.0:
                raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")
        check_batch_size(self.batch_size)
        if self.calibration not in ("isotonic", "sigmoid"):
            raise ValueError(
                f"calibration must be 'isotonic' or 'sigmoid', got {self.calibration!r}"
            )
        if self.on_insufficient not in ("raise", "warn"):
            raise ValueError(
                f"on_insufficient must be 'raise' or 'warn', got {self.on_insufficient!r}"
            )
        if (
            isinstance(self.calibration_cv, bool)
            or not isinstance(self.calibration_cv, int)
            or self.calibration_cv < 2
        ):
            raise ValueError(f"calibration_cv must be an integer >= 2, got {self.calibration_cv!r}")

    def fit(self, X: ArrayLike, y: ArrayLike) -> MaliciousnessClassifier:
        """Fit the scorer, calibrate it, and set the gate threshold from held-out benign data."""
        self._validate_params_values()
        X_arr, y_arr = validate_data(
            self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=False
        )
        y_type = type_of_target(y_arr, input_name="y", raise_unknown=True)
        if np.unique(y_arr).size == 1:
            raise ValueError(
                "the classifier needs both classes (benign and malicious) to train; "
                "y contains only one class"
            )
        if y_type != "binary":
            raise ValueError(
                "Only binary classification is supported (0 = benign, 1 = malicious). "
                f"The type of the target is {y_type}."
            )
        self.classes_, y_idx = np.unique(y_arr, return_inverse=True)
        self.feature_names_ = self._resolve_feature_names()

        rng = check_random_state(self.random_state)
        benign = np.flatnonzero(y_idx == 0)
        n_benign = benign.size
        n_holdout = _holdout_size(self.calibration_fraction, n_benign)
        if n_holdout < 0:
            raise ValueError(
                f"the classifier needs at least 2 benign samples, got {n_benign} "
                f"(class {self.classes_[0]!r})"
            )
        holdout = rng.permutation(benign)[:n_holdout]
        train_mask = np.ones(y_idx.size, dtype=bool)
        train_mask[holdout] = False

        self.min_calibration_benign_ = min_calibration_size(self.alpha, self.delta, self.batch_size)
        shortfall = (
            self._insufficient(n_holdout, n_benign)
            if n_holdout < self.min_calibration_benign_
            else None
        )
        if shortfall is not None and self.on_insufficient == "raise":
            # Fail before the expensive fit: nothing trained here could be used.
            raise shortfall

        X_train, y_train = X_arr[train_mask], y_idx[train_mask]
        smallest_class = int(np.bincount(y_train, minlength=2).min())
        n_folds = min(self.calibration_cv, smallest_class)
        if n_folds < 2:
            raise ValueError(
                "each class needs at least 2 training samples for cross-fitted calibration; "
                f"got {smallest_class} in the smaller class"
            )
        seed = rng.randint(np.iinfo(np.int32).max)
        base = (
            default_base_estimator(random_state=seed)
            if self.estimator is None
            else clone(self.estimator)
        )
        if self.estimator is not None and base.get_params().get("random_state", 0) is None:
            base.set_params(random_state=seed)
        self.calibrated_ = CalibratedClassifierCV(
            base,
            method=self.calibration,
            cv=StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed),
            ensemble=True,
        ).fit(X_train, y_train)

        self.prior_correction_ = float(n_benign - n_holdout) / float(n_benign)
        with warnings.catch_warnings():
            # A column with no values at all has a NaN median: its reference is "missing".
            warnings.simplefilter("ignore", RuntimeWarning)
            self.feature_medians_ = np.nanmedian(X_arr, axis=0)

        self.n_calibration_benign_ = int(n_holdout)
        self.calibration_scores_ = self._malicious_proba(X_arr[holdout])
        if shortfall is None:
            k = umbrella_rank(n_holdout, self.alpha, self.delta, self.batch_size)
            self.umbrella_rank_: int | None = k
            self.threshold_ = float(np.sort(self.calibration_scores_)[k - 1])
            self.gate_closed_ = False
        else:
            warnings.warn(
                f"{shortfall}; the gate is closed and the classifier will not act on any sample",
                InsufficientCalibrationWarning,
                stacklevel=2,
            )
            self.umbrella_rank_ = None
            self.threshold_ = 1.0
            self.gate_closed_ = True
        return self

    def _insufficient(self, n_holdout: int, n_benign: int) -> InsufficientCalibrationData:
        required = self.min_calibration_benign_
        fraction = self.calibration_fraction
        # Smallest benign count whose hold-out reaches the requirement.
        needed_benign = max(required + 2, math.ceil(required / fraction))
        while _holdout_size(fraction, needed_benign - 1) >= required:
            needed_benign -= 1
        while _holdout_size(fraction, needed_benign) < required:
            needed_benign += 1
        hint = (
            f" (calibration_fraction={self.calibration_fraction:g} of {n_benign} benign "
            f"samples; with this fraction the training data needs at least {needed_benign} "
            "benign samples)"
        )
        return InsufficientCalibrationData(
            required, n_holdout, self.alpha, self.delta, hint, batch_size=self.batch_size
        )

    def gate_summary(self) -> dict[str, Any]:
        """The gate's parameters and guarantee as plain JSON-ready values, for reports.

        ``violation_probability`` is the exact ``P(FPR > alpha)`` of the chosen rank (at most
        ``delta``; ``None`` when the gate is closed); with ``batch_size`` it is about the share
        of a batch of that many benign servers.
        """
        check_is_fitted(self, "threshold_")
        rank = self.umbrella_rank_
        return {
            "alpha": float(self.alpha),
            "delta": float(self.delta),
            "batch_size": None if self.batch_size is None else int(self.batch_size),
            "threshold": float(self.threshold_),
            "rule": "act iff calibrated P(malicious) > threshold",
            "umbrella_rank": rank,
            "n_calibration_benign": int(self.n_calibration_benign_),
            "min_calibration_benign": int(self.min_calibration_benign_),
            "violation_probability": (
                None
                if rank is None
                else float(
                    violation_probability(
                        self.n_calibration_benign_, rank, self.alpha, self.batch_size
                    )
                )
            ),
            "gate_closed": bool(self.gate_closed_),
            "calibration": self.calibration,
        }

    def _resolve_feature_names(self) -> list[str]:
        from_data = getattr(self, "feature_names_in_", None)
        if self.feature_names is not None:
            names = [str(name) for name in self.feature_names]
            if len(names) != self.n_features_in_:
                raise ValueError(
                    f"feature_names has {len(names)} names but X has {self.n_features_in_} columns"
                )
            if from_data is not None and list(from_data) != names:
                raise ValueError("feature_names disagrees with the column names of X")
            return names
        if from_data is not None:
            return [str(name) for name in from_data]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def _validated(self, X: ArrayLike) -> np.ndarray:
        check_is_fitted(self, "threshold_")
        X_arr: np.ndarray = validate_data(
            self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64
        )
        return X_arr

    def _malicious_proba(self, X_arr: np.ndarray) -> np.ndarray:
        if X_arr.shape[0] == 0:
            return np.empty(0)
        p = self.calibrated_.predict_proba(X_arr)[:, 1]
        c = self.prior_correction_
        with np.errstate(divide="ignore", invalid="ignore"):
            corrected = c * p / (c * p + (1.0 - p))
        corrected = np.where(p <= 0.0, 0.0, np.where(p >= 1.0, 1.0, corrected))
        return np.asarray(corrected, dtype=float)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Calibrated probabilities; columns follow ``classes_`` (benign, malicious)."""
        p = self._malicious_proba(self._validated(X))
        return np.column_stack([1.0 - p, p])

    def _act_mask(self, X_arr: np.ndarray) -> np.ndarray:
        return np.asarray(self._malicious_proba(X_arr) > self.threshold_)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Gate decision as labels: ``classes_[1]`` where the score is above ``threshold_``."""
        act = self._act_mask(self._validated(X))
        return np.asarray(self.classes_[act.astype(int)])

    def decide(self, X: ArrayLike, *, min_observed: int = 0) -> np.ndarray:
        """Gate decision per row: ``"act"`` iff the calibrated score exceeds ``threshold_``.

        With ``min_observed > 0``, a row with fewer than that many observed (non-NaN) features
        gets ``"insufficient-evidence"`` instead of a decision, so that a node is never acted
        on, nor cleared, on the strength of missing data alone. The default (0) returns only
        ``"act"`` / ``"no-act"``.
        """
        if (
            isinstance(min_observed, bool)
            or not isinstance(min_observed, int | np.integer)
            or min_observed < 0
        ):
            raise ValueError(f"min_observed must be a non-negative integer, got {min_observed!r}")
        X_arr = self._validated(X)
        decisions = np.where(self._act_mask(X_arr), ACT, NO_ACT)
        if min_observed:
            observed = np.count_nonzero(~np.isnan(X_arr), axis=1)
            decisions = np.where(observed < min_observed, INSUFFICIENT_EVIDENCE, decisions)
        return decisions

    def explain(self, X: ArrayLike, top: int = 5) -> list[list[tuple[str, float]]]:
        """Largest feature contributions to each row's calibrated maliciousness probability.

        Contribution of feature ``j`` to row ``x``: ``p(x) - p(x with x_j := median_j)``, the
        change in calibrated probability when that one feature is replaced by its training
        median (a typical value). Positive values pushed the row towards malicious. A missing
        feature (NaN) gets the effect of the absence of evidence relative to a typical value.
        This is an exact, one-feature-at-a-time occlusion of the fitted model, not an additive
        decomposition: when features interact, contributions need not add up to ``p(x)`` minus
        the score of the all-median row, and two features that only matter together can each
        show a small value.

        Returns, per row, up to ``top`` ``(feature_name, contribution)`` pairs ordered by
        decreasing absolute contribution (ties by column order).
        """
        if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
            raise ValueError(f"top must be a positive integer, got {top!r}")
        X_arr = self._validated(X)
        base = self._malicious_proba(X_arr)
        contributions = np.empty_like(X_arr)
        for j in range(X_arr.shape[1]):
            reference = X_arr.copy()
            reference[:, j] = self.feature_medians_[j]
            contributions[:, j] = base - self._malicious_proba(reference)
        order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :top]
        return [
            [(self.feature_names_[j], float(contributions[i, j])) for j in row]
            for i, row in enumerate(order)
        ]
