"""The Neyman–Pearson umbrella rule: a score threshold with a bounded false-positive rate.

Tong, Feng and Li (2018), "Neyman-Pearson classification algorithms and NP receiver
operating characteristics", Science Advances 4(2).

Given ``n`` scores of benign (class 0) samples that the scoring function never saw during
training, sort them ascending, ``s_(1) <= ... <= s_(n)``, and use ``s_(k)`` as the threshold,
where ``k`` is the smallest rank with

    sum_{j=k}^{n} C(n, j) (1 - alpha)^j alpha^(n - j) <= delta.

A server is acted upon only if its score is *strictly greater* than the threshold. If benign
calibration scores and benign deployment scores are exchangeable (drawn from the same
distribution, independently of how the model was fitted), then

    P( P(score > threshold | benign) > alpha ) <= delta,

where the outer probability is over the draw of the calibration set. The left-hand sum is the
probability that at least ``k`` of ``n`` benign scores fall below the benign ``(1 - alpha)``
quantile, i.e. ``P(Binomial(n, 1 - alpha) >= k)``; it is evaluated with ``scipy.stats.binom``
survival functions rather than by summing products of large binomial coefficients.

Ties do not weaken the guarantee under the strict rule: break them with an independent uniform
jitter; a score strictly above ``s_(k)`` is then also above the jittered ``k``-th order
statistic, so the false-positive rate of the strict rule is at most that of the continuous case.

The smallest rank exists only if ``(1 - alpha)^n <= delta`` (the case ``k = n``), which is
where the minimum calibration size comes from: 299 benign samples for ``alpha=0.01,
delta=0.05``, 59 for ``alpha=0.05, delta=0.05``, 22 for ``alpha=0.1, delta=0.1``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import binom

__all__ = [
    "InsufficientCalibrationData",
    "min_calibration_size",
    "umbrella_rank",
    "umbrella_threshold",
    "violation_probability",
]


class InsufficientCalibrationData(ValueError):
    """Too few benign calibration samples for the requested (alpha, delta) guarantee.

    ``required`` is the minimum number of benign calibration samples, ``given`` the number
    that was available; ``hint`` is appended to the message (e.g. how to get there).
    """

    def __init__(
        self, required: int, given: int, alpha: float, delta: float, hint: str = ""
    ) -> None:
        self.required = required
        self.given = given
        self.alpha = alpha
        self.delta = delta
        super().__init__(
            f"the false-positive gate needs at least {required} benign calibration samples "
            f"for alpha={alpha:g}, delta={delta:g}, but {given} were given" + hint
        )


def _check_level(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 < value < 1.0 or math.isnan(value):
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return value


def violation_probability(n: int, k: int | np.ndarray, alpha: float) -> float | np.ndarray:
    """P(FPR > alpha) when the ``k``-th smallest of ``n`` benign scores is the threshold.

    Equals ``P(Binomial(n, 1 - alpha) >= k)``. ``k`` may be an array of ranks.
    """
    alpha = _check_level("alpha", alpha)
    result = binom.sf(np.asarray(k) - 1, n, 1.0 - alpha)
    return float(result) if np.ndim(result) == 0 else np.asarray(result, dtype=float)


def _feasible(n: int, alpha: float, delta: float) -> bool:
    # The loosest rank is k = n; the rule can be met with n samples iff that rank meets it.
    return n >= 1 and float(binom.sf(n - 1, n, 1.0 - alpha)) <= delta


def min_calibration_size(alpha: float, delta: float) -> int:
    """Smallest number of benign calibration samples for which the umbrella rule exists.

    This is the smallest ``n`` with ``(1 - alpha)^n <= delta``. It is computed in closed form
    and then confirmed against the same binomial tail that :func:`umbrella_rank` uses, so the
    two functions never disagree at the boundary.
    """
    alpha = _check_level("alpha", alpha)
    delta = _check_level("delta", delta)
    n = max(1, math.ceil(math.log(delta) / math.log1p(-alpha)))
    while n > 1 and _feasible(n - 1, alpha, delta):
        n -= 1
    while not _feasible(n, alpha, delta):
        n += 1
    return n


def umbrella_rank(n: int, alpha: float, delta: float) -> int:
    """The 1-based rank ``k`` of the benign order statistic used as the threshold.

    Raises :class:`InsufficientCalibrationData` if ``n`` is below
    :func:`min_calibration_size`.
    """
    alpha = _check_level("alpha", alpha)
    delta = _check_level("delta", delta)
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    n = int(n)
    if not _feasible(n, alpha, delta):
        raise InsufficientCalibrationData(min_calibration_size(alpha, delta), n, alpha, delta)
    ranks = np.arange(1, n + 1)
    tails = binom.sf(ranks - 1, n, 1.0 - alpha)
    # The tail is non-increasing in k, so the first rank that meets delta is the smallest one.
    return int(ranks[np.argmax(tails <= delta)])


def umbrella_threshold(benign_scores: ArrayLike, alpha: float, delta: float) -> float:
    """Score threshold from held-out benign scores; act iff ``score > threshold``.

    ``benign_scores`` must come from benign samples that played no part in fitting the model
    that produced them. NaN scores are rejected rather than silently dropped, because dropping
    them would change which samples the guarantee is about.
    """
    scores = np.asarray(benign_scores, dtype=float).ravel()
    if np.isnan(scores).any():
        raise ValueError("benign_scores contains NaN; every calibration sample needs a score")
    k = umbrella_rank(scores.size, alpha, delta)
    return float(np.sort(scores)[k - 1])
