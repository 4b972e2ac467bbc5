"""The maliciousness classifier: Venn-ABERS probabilities plus a Neyman–Pearson gate.

Pure numeric: rows are infrastructure nodes, columns are features (NaN = no evidence for that
feature), labels are 1 = malicious, 0 = benign. Graph feature extraction lives elsewhere and
feeds this estimator as a ``Pipeline`` step.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data
from venn_abers import calc_p0p1, calc_probs

from attribution.scoring import tree_coalitions
from attribution.scoring.preprocess import BlankColumnFiller
from attribution.scoring.shapley import GroupShapley, group_shapley, observed_groups
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
    "OUTSIDE_CALIBRATION",
    "InsufficientCalibrationWarning",
    "MaliciousnessClassifier",
    "default_base_estimator",
]

ACT = "act"
NO_ACT = "no-act"
INSUFFICIENT_EVIDENCE = "insufficient-evidence"
OUTSIDE_CALIBRATION = "outside-calibration"
"""The row's evidence pattern is rare among the gate's benign calibration samples."""


class InsufficientCalibrationWarning(UserWarning):
    """The gate was closed (never acts) because there were too few benign calibration samples."""


def default_base_estimator(random_state: int | np.random.RandomState | None = None) -> Pipeline:
    """The default scorer: gradient-boosted trees that treat NaN as its own branch, behind
    the step that gives 0 to columns blank in training (:mod:`attribution.scoring.preprocess`).

    scikit-learn's own defaults (31 leaves, 100 rounds, early stopping above 10,000 samples).
    Measured on generated worlds (``benchmarks/classifier.py``), the shallower, L2-regularised
    trees used before reached a lower TPR at the gate in every configuration tried; the fold
    ensemble already averages away the variance that regularisation was meant to curb. NaN
    (missing evidence) is routed natively at each split rather than imputed.
    """
    return Pipeline(
        [
            ("fill_blank", BlankColumnFiller()),
            ("trees", HistGradientBoostingClassifier(random_state=random_state)),
        ]
    )


def _holdout_size(fraction: float, n_benign: int) -> int:
    """Benign samples held out for the gate: the ``fraction`` share, rounded up.

    At least 2 benign samples stay in training, which needs examples of both classes; a
    negative result means there are too few benign samples to train at all.
    """
    return min(math.ceil(fraction * n_benign), n_benign - 2)


def benign_holdout(
    y_idx: np.ndarray, fraction: float, rng: np.random.RandomState
) -> tuple[np.ndarray, int]:
    """Indices of the benign samples held out for the gate, and the benign count.

    One draw shared by the classifier and the benchmarks' plain baseline, so that both set
    their gate on the same calibration samples.
    """
    benign = np.flatnonzero(y_idx == 0)
    n_holdout = _holdout_size(fraction, benign.size)
    if n_holdout < 0:
        return np.empty(0, dtype=int), int(benign.size)
    return rng.permutation(benign)[:n_holdout], int(benign.size)


def _mean_score(fold_scores: np.ndarray) -> np.ndarray:
    """The scorer's score of each row: the mean of its fold scorers' scores (n, folds)."""
    return np.asarray(fold_scores.mean(axis=1), dtype=float)


def _interval(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Venn-ABERS ends as an (n, 2) interval, smaller end first."""
    return np.column_stack([np.minimum(low, high), np.maximum(low, high)])


@dataclass(frozen=True)
class Assessment:
    """What scoring writes for each row (:meth:`MaliciousnessClassifier.assess`)."""

    proba: np.ndarray
    """P(malicious), as column 1 of ``predict_proba``."""
    interval: np.ndarray
    """The Venn-ABERS interval, shape (n, 2), as ``predict_interval``."""
    decisions: np.ndarray
    """Gate decisions, as ``decide``."""
    patterns: list[str]
    """Evidence patterns, as ``evidence_patterns``."""


class MaliciousnessClassifier(ClassifierMixin, BaseEstimator):
    """Venn-ABERS calibrated maliciousness score with a false-positive gate of guaranteed level.

    How the labelled data is used:

    1. A random share ``calibration_fraction`` of the *benign* samples is held out. It takes no
       part in fitting or calibrating; the scorer's scores on it set the gate threshold by the
       Neyman–Pearson umbrella rule (:mod:`attribution.scoring.umbrella`), so that
       ``P(false-positive rate > alpha) <= delta`` holds for benign servers exchangeable with
       the held-out ones. Only benign samples are held out because the guarantee is about
       benign servers, and malicious labels are the scarcer ones.
    2. The rest is split into ``calibration_cv`` stratified folds. One scorer is trained per
       fold on the other folds (``scorers_``), and scores the fold it did not see. The gate
       acts on the mean of the scorers' scores (:meth:`gate_score`): an average of models fit
       on overlapping subsets ranks better than any one of them, and its ranking is as fine as
       the trees make it. (Gating on a calibrated probability instead would lose true
       positives: isotonic calibration maps whole score ranges onto one plateau value, and the
       strict threshold then drops every malicious server on the plateau it sits on.)
    3. Probabilities come from cross Venn-ABERS calibration (with the maintained
       ``venn-abers`` package): each scorer's out-of-fold scores calibrate that scorer, so
       every training sample serves calibration without being scored in-sample. Each fold
       gives a pair ``(p0, p1)``: the isotonic calibration with the new score added as benign,
       and as malicious. Their spread is the calibration data's own uncertainty at that score
       (wide where few calibration samples lie near it); :meth:`predict_interval` returns it,
       and ``predict_proba`` the merged probability.
    4. Holding out benign samples lowers the benign share of the training data, which would
       inflate probabilities. Posterior odds are multiplied by ``n_benign_train /
       n_benign_total`` (``prior_correction_``), the standard correction for a known change
       of class prior; it is monotone and applied to ``p0``, ``p1`` and the merged value alike.

    ``predict`` is the gate decision, not the most probable class: it returns the malicious
    label (``classes_[1]``) only where :meth:`gate_score` is strictly above ``threshold_``.
    ``decide`` returns ``"act"`` / ``"no-act"``, and withholds the decision as
    ``"outside-calibration"`` for a row whose evidence pattern (which ``feature_groups`` it
    observed) occurs fewer than ``min_pattern_count`` times among the held-out benign samples:
    the guarantee rests on exchangeability with them, and a pattern they hardly contain was
    not calibrated on.

    Parameters
    ----------
    alpha : float, default=0.01
        Largest tolerated false-positive rate (share of benign servers acted upon).
    delta : float, default=0.05
        Largest tolerated probability that the false-positive rate exceeds ``alpha``.
    batch_size : int or None, default=None
        Which false-positive rate the guarantee is about. ``None``: the population rate (the
        classic umbrella rule). An integer ``m``: the share acted upon among ``m`` benign
        servers scored together, which also covers a finite batch's sampling noise (see
        :mod:`attribution.scoring.umbrella`).
    estimator : classifier or None, default=None
        Unfitted scorer with ``predict_proba``; ``None`` uses :func:`default_base_estimator`.
        It is cloned, never modified, and sees the columns as they are: NaN included.
    calibration_fraction : float, default=0.3
        Share of benign samples held out for the gate.
    calibration_cv : int, default=5
        Folds: scorers in the ensemble, each calibrated on the fold it did not see (reduced,
        down to 2, when a class has fewer training samples than folds).
    on_insufficient : {"raise", "warn"}, default="raise"
        Too few held-out benign samples for the umbrella rule: raise
        :class:`InsufficientCalibrationData`, or warn
        (:class:`InsufficientCalibrationWarning`) and close the gate (never act).
    feature_names : sequence of str or None, default=None
        Column names; a DataFrame's own column names are used and must agree.
    feature_groups : mapping of str to sequence of str, or None, default=None
        Named groups of columns: the players of :meth:`explain` and the evidence pattern of
        :meth:`decide`. ``None`` makes each column its own group. Columns in no group (such
        as the node kind) are never masked.
    min_pattern_count : int, default=20
        Held-out benign samples a row's evidence pattern needs before the gate decides on it.
    random_state : int, RandomState or None, default=None
        Controls the hold-out draw, the folds and the default scorer.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        Sorted labels; ``classes_[0]`` is benign, ``classes_[1]`` malicious.
    n_features_in_, feature_names_in_, feature_names_
        Column count and names.
    scorers_ : list of classifiers
        One fitted scorer per fold (each a ``Pipeline`` with its own fitted preprocessing, by
        default); their mean score is :meth:`gate_score`.
    venn_abers_ : list of tuples of three ndarrays
        Each fold's Venn-ABERS calibration vectors ``(p0, p1, c)`` (``venn_abers.calc_p0p1``).
    prior_correction_ : float
    threshold_ : float
        Gate threshold on :meth:`gate_score`; act iff the score is strictly greater.
    umbrella_rank_ : int or None
    n_calibration_benign_, min_calibration_benign_ : int
    gate_closed_ : bool
    calibration_scores_ : ndarray
        Gate scores of the held-out benign samples (kept for audit).
    pattern_counts_ : dict of str to int
        Held-out benign samples per evidence pattern (groups joined by ``+``).
    """

    def __init__(
        self,
        alpha: float = 0.01,
        delta: float = 0.05,
        batch_size: int | None = None,
        estimator: Any = None,
        calibration_fraction: float = 0.3,
        calibration_cv: int = 5,
        on_insufficient: Literal["raise", "warn"] = "raise",
        feature_names: Sequence[str] | None = None,
        feature_groups: Mapping[str, Sequence[str]] | None = None,
        min_pattern_count: int = 20,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.alpha = alpha
        self.delta = delta
        self.batch_size = batch_size
        self.estimator = estimator
        self.calibration_fraction = calibration_fraction
        self.calibration_cv = calibration_cv
        self.on_insufficient = on_insufficient
        self.feature_names = feature_names
        self.feature_groups = feature_groups
        self.min_pattern_count = min_pattern_count
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    # ------------------------------------------------------------------ validation

    def _validate_params_values(self) -> None:
        for name in ("alpha", "delta", "calibration_fraction"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not 0.0 < float(value) < 1.0:
                raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")
        check_batch_size(self.batch_size)
        if self.on_insufficient not in ("raise", "warn"):
            raise ValueError(
                f"on_insufficient must be 'raise' or 'warn', got {self.on_insufficient!r}"
            )
        for name, low in (("calibration_cv", 2), ("min_pattern_count", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")

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

    def _resolve_groups(self) -> dict[str, list[int]]:
        position = {name: i for i, name in enumerate(self.feature_names_)}
        if self.feature_groups is None:
            return {name: [i] for name, i in position.items()}
        groups: dict[str, list[int]] = {}
        seen: set[str] = set()
        for group, members in self.feature_groups.items():
            unknown = sorted(set(members) - set(position))
            if unknown:
                raise ValueError(f"feature group {group!r} names unknown features {unknown}")
            if seen & set(members):
                raise ValueError(f"feature group {group!r} repeats features of another group")
            seen |= set(members)
            groups[str(group)] = [position[m] for m in members]
        return groups

    # ------------------------------------------------------------------ fit

    def _check_target(self, y_arr: np.ndarray) -> np.ndarray:
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
        return np.asarray(y_idx)

    def _base(self, seed: int) -> Any:
        if self.estimator is None:
            return default_base_estimator(random_state=seed)
        base = clone(self.estimator)
        if base.get_params().get("random_state", 0) is None:
            base.set_params(random_state=seed)
        return base

    def fit(self, X: ArrayLike, y: ArrayLike) -> MaliciousnessClassifier:
        """Fit the scorer, calibrate it, and set the gate threshold from held-out benign data."""
        self._validate_params_values()
        X_arr, y_arr = validate_data(
            self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=False
        )
        y_idx = self._check_target(y_arr)
        self.feature_names_ = self._resolve_feature_names()
        self.groups_ = self._resolve_groups()

        rng = check_random_state(self.random_state)
        holdout, n_benign = benign_holdout(y_idx, self.calibration_fraction, rng)
        n_holdout = _holdout_size(self.calibration_fraction, n_benign)
        if n_holdout < 0:
            raise ValueError(
                f"the classifier needs at least 2 benign samples, got {n_benign} "
                f"(class {self.classes_[0]!r})"
            )
        self.min_calibration_benign_ = min_calibration_size(self.alpha, self.delta, self.batch_size)
        shortfall = (
            self._insufficient(n_holdout, n_benign)
            if n_holdout < self.min_calibration_benign_
            else None
        )
        if shortfall is not None and self.on_insufficient == "raise":
            raise shortfall  # before the expensive fit: nothing trained here could be used

        train_mask = np.ones(y_idx.size, dtype=bool)
        train_mask[holdout] = False
        seed = rng.randint(np.iinfo(np.int32).max)
        self._fit_scorer(X_arr[train_mask], y_idx[train_mask], seed)
        self.prior_correction_ = float(n_benign - n_holdout) / float(n_benign)
        self.n_calibration_benign_ = int(n_holdout)
        self.calibration_scores_ = self._raw_score(X_arr[holdout])
        self.pattern_counts_ = dict(Counter(self._patterns(X_arr[holdout])))
        self._set_gate(shortfall)
        return self

    def _fit_scorer(self, X_train: np.ndarray, y_train: np.ndarray, seed: int) -> None:
        smallest_class = int(np.bincount(y_train, minlength=2).min())
        n_folds = min(self.calibration_cv, smallest_class)
        if n_folds < 2:
            raise ValueError(
                "each class needs at least 2 training samples for cross-fitted calibration; "
                f"got {smallest_class} in the smaller class"
            )
        folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        self.scorers_: list[Any] = []
        self.venn_abers_: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for fit_rows, calibration_rows in folds.split(X_train, y_train):
            scorer = self._base(seed).fit(X_train[fit_rows], y_train[fit_rows])
            held = scorer.predict_proba(X_train[calibration_rows])[:, 1]
            with warnings.catch_warnings():
                # calc_p0p1 takes nanmin over slopes that are all NaN at the ends of the
                # cumulative sum diagram, and handles that case itself.
                warnings.simplefilter("ignore", RuntimeWarning)
                p0, p1, c = calc_p0p1(
                    np.column_stack([1.0 - held, held]), y_train[calibration_rows].astype(float)
                )
            self.scorers_.append(scorer)
            self.venn_abers_.append((p0, p1, c))

    def _set_gate(self, shortfall: InsufficientCalibrationData | None) -> None:
        if shortfall is None:
            k = umbrella_rank(self.n_calibration_benign_, self.alpha, self.delta, self.batch_size)
            self.umbrella_rank_: int | None = k
            self.threshold_ = float(np.sort(self.calibration_scores_)[k - 1])
            self.gate_closed_ = False
            return
        warnings.warn(
            f"{shortfall}; the gate is closed and the classifier will not act on any sample",
            InsufficientCalibrationWarning,
            stacklevel=3,
        )
        self.umbrella_rank_ = None
        self.threshold_ = 1.0
        self.gate_closed_ = True

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
        ``delta``; ``None`` when the gate is closed).
        """
        check_is_fitted(self, "threshold_")
        rank = self.umbrella_rank_
        return {
            "alpha": float(self.alpha),
            "delta": float(self.delta),
            "batch_size": None if self.batch_size is None else int(self.batch_size),
            "threshold": float(self.threshold_),
            "rule": "act iff the mean score of the fold scorers > threshold",
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
            "calibration": "venn-abers",
            "min_pattern_count": int(self.min_pattern_count),
            "pattern_counts": {k: int(v) for k, v in sorted(self.pattern_counts_.items())},
        }

    # ------------------------------------------------------------------ scores

    def _validated(self, X: ArrayLike) -> np.ndarray:
        check_is_fitted(self, "threshold_")
        X_arr: np.ndarray = validate_data(
            self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64
        )
        return X_arr

    def _correct(self, p: np.ndarray) -> np.ndarray:
        c = self.prior_correction_
        with np.errstate(divide="ignore", invalid="ignore"):
            corrected = c * p / (c * p + (1.0 - p))
        return np.asarray(np.where(p <= 0.0, 0.0, np.where(p >= 1.0, 1.0, corrected)))

    def _fold_scores(self, X_arr: np.ndarray) -> np.ndarray:
        """Each fold scorer's score of each row: shape (n, folds)."""
        return np.column_stack([m.predict_proba(X_arr)[:, 1] for m in self.scorers_])

    def _raw_score(self, X_arr: np.ndarray) -> np.ndarray:
        if X_arr.shape[0] == 0:
            return np.empty(0)
        return _mean_score(self._fold_scores(X_arr))

    def _venn_abers(self, X_arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(merged probability, low, high) for each row, prior-corrected."""
        if X_arr.shape[0] == 0:
            empty = np.empty(0)
            return empty, empty, empty
        return self._venn_abers_of(self._fold_scores(X_arr))

    def _venn_abers_of(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(merged probability, low, high) from the fold scorers' scores (shape (n, folds)).

        Cross Venn-ABERS: each fold's calibrator turns its own scorer's score into a pair
        ``(p0_k, p1_k)``; the pairs merge as ``GM(p1) / (GM(1 - p0) + GM(p1))`` (the log-loss
        merge of Vovk, Petej and Fedorova), and the interval runs from the smallest ``p0_k``
        to the largest ``p1_k``, which always holds the merged value.
        """
        p0s, p1s = [], []
        for k, (p0, p1, c) in enumerate(self.venn_abers_):
            column = scores[:, k]
            _, pair = calc_probs(p0, p1, c, np.column_stack([1.0 - column, column]))
            p0s.append(pair[:, 0])
            p1s.append(pair[:, 1])
        low_k, high_k = np.column_stack(p0s), np.column_stack(p1s)
        k = low_k.shape[1]
        top, bottom = high_k.prod(axis=1) ** (1 / k), (1.0 - low_k).prod(axis=1) ** (1 / k)
        merged = top / (bottom + top)
        return (
            self._correct(merged),
            self._correct(low_k.min(axis=1)),
            self._correct(high_k.max(axis=1)),
        )

    def gate_score(self, X: ArrayLike) -> np.ndarray:
        """The scorer's own score, on which the gate's threshold is set."""
        return self._raw_score(self._validated(X))

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Venn-ABERS probabilities; columns follow ``classes_`` (benign, malicious)."""
        p = self._venn_abers(self._validated(X))[0]
        return np.column_stack([1.0 - p, p])

    def predict_interval(self, X: ArrayLike) -> np.ndarray:
        """The Venn-ABERS interval ``(p0, p1)`` of P(malicious) for each row: shape (n, 2)."""
        _, low, high = self._venn_abers(self._validated(X))
        return _interval(low, high)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Gate decision as labels: ``classes_[1]`` where the gate score is above ``threshold_``."""
        act = self._raw_score(self._validated(X)) > self.threshold_
        return np.asarray(self.classes_[act.astype(int)])

    # ------------------------------------------------------------------ decisions

    def _patterns(self, X_arr: np.ndarray) -> list[str]:
        names = list(self.groups_)
        observed = observed_groups(X_arr, [self.groups_[n] for n in names])
        return ["+".join(n for n, seen in zip(names, row, strict=True) if seen) for row in observed]

    def evidence_patterns(self, X: ArrayLike) -> list[str]:
        """Each row's evidence pattern: the feature groups it observed, joined by ``+``."""
        return self._patterns(self._validated(X))

    def decide(self, X: ArrayLike, *, min_observed: int = 0) -> np.ndarray:
        """Gate decision per row: ``"act"`` iff the gate score exceeds ``threshold_``.

        A row whose evidence pattern has fewer than ``min_pattern_count`` held-out benign
        samples gets ``"outside-calibration"``. With ``min_observed > 0``, a row with fewer
        than that many observed (non-NaN) features gets ``"insufficient-evidence"``.
        """
        if (
            isinstance(min_observed, bool)
            or not isinstance(min_observed, int | np.integer)
            or min_observed < 0
        ):
            raise ValueError(f"min_observed must be a non-negative integer, got {min_observed!r}")
        X_arr = self._validated(X)
        return self._decisions(X_arr, self._raw_score(X_arr), self._patterns(X_arr), min_observed)

    def _decisions(
        self, X_arr: np.ndarray, raw: np.ndarray, patterns: list[str], min_observed: int
    ) -> np.ndarray:
        decisions = np.where(raw > self.threshold_, ACT, NO_ACT)
        support = np.array([self.pattern_counts_.get(p, 0) for p in patterns])
        decisions = np.where(support < self.min_pattern_count, OUTSIDE_CALIBRATION, decisions)
        if min_observed:
            observed = np.count_nonzero(~np.isnan(X_arr), axis=1)
            decisions = np.where(observed < min_observed, INSUFFICIENT_EVIDENCE, decisions)
        return decisions

    def assess(self, X: ArrayLike) -> Assessment:
        """:meth:`predict_proba`'s probability, :meth:`predict_interval`, :meth:`decide` and
        :meth:`evidence_patterns` of each row, the same values, from one validation of ``X``
        and one pass of the fold scorers (each of those methods makes its own)."""
        X_arr = self._validated(X)
        scores = self._fold_scores(X_arr)
        proba, low, high = self._venn_abers_of(scores)
        patterns = self._patterns(X_arr)
        decisions = self._decisions(X_arr, _mean_score(scores), patterns, 0)
        return Assessment(proba, _interval(low, high), decisions, patterns)

    # ------------------------------------------------------------------ explanations

    def shapley(self, X: ArrayLike) -> GroupShapley:
        """Exact Shapley values of the probability over ``feature_groups`` (see
        :mod:`attribution.scoring.shapley`): per row, contributions that add up to
        ``predict_proba - base``, with ``base`` the probability of the same row with every
        group unobserved; an unobserved group contributes exactly 0."""
        X_arr = self._validated(X)
        coalitions = self._coalition_scores if self._trees_supported() else None
        return group_shapley(
            lambda rows: self._venn_abers(rows)[0], X_arr, self.groups_, coalitions
        )

    def _trees_supported(self) -> bool:
        """Every fold scorer can be scored tree by tree (:mod:`.tree_coalitions`)."""
        return all(tree_coalitions.supports(scorer) for scorer in self.scorers_)

    def _coalition_scores(self, rows: np.ndarray, player_columns: list[list[int]]) -> np.ndarray:
        """The probability of every coalition of every row (shape ``(n, 2**m)``), the fold
        scorers' scores found tree by tree: the values :meth:`_venn_abers` gives the masked
        rows, at a fraction of the tree walks."""
        folds = [tree_coalitions.coalition_scores(s, rows, player_columns) for s in self.scorers_]
        scores = np.column_stack([f.reshape(-1) for f in folds])
        proba = self._venn_abers_of(scores)[0]
        return np.ascontiguousarray(proba.reshape(1 << len(player_columns), len(rows)).T)

    def explain(self, X: ArrayLike, top: int = 5) -> list[list[tuple[str, float]]]:
        """Per row, up to ``top`` ``(group, contribution)`` pairs of :meth:`shapley`, by
        decreasing absolute contribution (ties by group order); unobserved groups are never
        listed."""
        if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
            raise ValueError(f"top must be a positive integer, got {top!r}")
        result = self.shapley(X)
        out = []
        for values, observed in zip(result.values, result.observed, strict=True):
            order = np.argsort(-np.abs(values), kind="stable")
            pairs = [(result.groups[g], float(values[g])) for g in order if observed[g]]
            out.append(pairs[:top])
        return out
