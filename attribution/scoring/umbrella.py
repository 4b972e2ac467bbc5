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

A guarantee for a batch of ``m`` benign servers
-----------------------------------------------
The rule above bounds the *population* false-positive rate, the share of all possible benign
servers that the threshold acts upon. An operator who scores a finite batch sees instead the
share of the ``m`` benign servers *in that batch* that were acted upon, which adds binomial
sampling noise: with the plain rule, a batch exceeds ``alpha`` more often than ``delta``.
Given ``batch_size=m``, the rank is chosen so that the batch share is bounded:

    P( (number of the m benign batch scores > threshold) / m > alpha ) <= delta.

Under the same exchangeability assumption, the population false-positive rate of ``s_(k)`` is
distributed as ``Beta(n - k + 1, k)`` (``1 - F(s_(k))`` for a uniform order statistic), and
the count above the threshold among ``m`` new benign scores is then beta-binomial,
``BetaBinomial(m, n - k + 1, k)``. The rank is the smallest ``k`` whose probability of more
than ``floor(alpha * m)`` such scores is at most ``delta`` (evaluated with
``scipy.stats.betabinom``). As ``m`` grows the batch rule tends to the population rule; for
finite ``m`` it picks a higher rank and needs more calibration samples.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import betabinom, binom

__all__ = [
    "InsufficientCalibrationData",
    "allowed_false_positives",
    "check_batch_size",
    "min_calibration_size",
    "umbrella_rank",
    "umbrella_threshold",
    "violation_probability",
]


class InsufficientCalibrationData(ValueError):
    """Too few benign calibration samples for the requested (alpha, delta) guarantee.

    ``required`` is the minimum number of benign calibration samples, ``given`` the number
    that was available; ``hint`` is appended to the message (e.g. how to get there);
    ``batch_size`` is set when the requirement is for the batch guarantee.
    """

    def __init__(
        self,
        required: int,
        given: int,
        alpha: float,
        delta: float,
        hint: str = "",
        batch_size: int | None = None,
    ) -> None:
        self.required = required
        self.given = given
        self.alpha = alpha
        self.delta = delta
        self.batch_size = batch_size
        batch = "" if batch_size is None else f" over batches of {batch_size}"
        super().__init__(
            f"the false-positive gate needs at least {required} benign calibration samples "
            f"for alpha={alpha:g}, delta={delta:g}{batch}, but {given} were given" + hint
        )


def _check_level(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 < value < 1.0 or math.isnan(value):
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return value


def check_batch_size(batch_size: int | None) -> int | None:
    """``batch_size`` as an ``int`` (``None`` stays ``None``); ValueError unless it is a
    positive integer (``bool`` and integral floats are refused)."""
    if batch_size is None:
        return None
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    return int(batch_size)


def allowed_false_positives(alpha: float, batch_size: int) -> int:
    """Most benign servers of a batch of ``batch_size`` that may be acted upon: ``floor(alpha*m)``.

    A relative tolerance absorbs binary rounding (``0.29 * 100`` is ``28.999...`` in floating
    point, and 29 of 100 is within a 29% rate).
    """
    return math.floor(alpha * batch_size * (1.0 + 1e-12))


def _tails(n: int, ks: np.ndarray, alpha: float, batch_size: int | None) -> np.ndarray:
    """P(violation) for each rank in ``ks`` with ``n`` calibration scores (see module docs)."""
    ks = np.asarray(ks)
    if batch_size is None:
        return np.asarray(binom.sf(ks - 1, n, 1.0 - alpha), dtype=float)
    allowed = allowed_false_positives(alpha, batch_size)
    return np.asarray(betabinom.sf(allowed, batch_size, n - ks + 1, ks), dtype=float)


def violation_probability(
    n: int, k: int | np.ndarray, alpha: float, batch_size: int | None = None
) -> float | np.ndarray:
    """Probability that the gate's false-positive rate exceeds ``alpha``.

    The threshold is the ``k``-th smallest of ``n`` benign calibration scores. Without
    ``batch_size`` this is the population rate, ``P(Binomial(n, 1 - alpha) >= k)``; with it,
    the share acted upon among ``batch_size`` benign servers (beta-binomial tail). ``k`` may be
    an array of ranks.
    """
    alpha = _check_level("alpha", alpha)
    batch_size = check_batch_size(batch_size)
    result = _tails(n, np.asarray(k), alpha, batch_size)
    return float(result) if np.ndim(result) == 0 else result


def _feasible(n: int, alpha: float, delta: float, batch_size: int | None) -> bool:
    # The loosest rank is k = n; the rule can be met with n samples iff that rank meets it.
    return n >= 1 and float(_tails(n, np.asarray(n), alpha, batch_size)) <= delta


def min_calibration_size(alpha: float, delta: float, batch_size: int | None = None) -> int:
    """Smallest number of benign calibration samples for which the umbrella rule exists.

    For the population rule this is the smallest ``n`` with ``(1 - alpha)^n <= delta``,
    computed in closed form; for a batch it is found by doubling and bisection (the tail at
    ``k = n`` falls as ``n`` grows). Either way the answer is confirmed against the same tail
    that :func:`umbrella_rank` uses, so the two functions never disagree at the boundary.
    """
    alpha = _check_level("alpha", alpha)
    delta = _check_level("delta", delta)
    batch_size = check_batch_size(batch_size)
    n = max(1, math.ceil(math.log(delta) / math.log1p(-alpha)))
    if batch_size is not None:
        # The batch rule needs at least as many samples as the population rule.
        low, high = n - 1, n
        while not _feasible(high, alpha, delta, batch_size):
            low, high = high, high * 2
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (
                (low, middle) if _feasible(middle, alpha, delta, batch_size) else (middle, high)
            )
        n = high
    while n > 1 and _feasible(n - 1, alpha, delta, batch_size):
        n -= 1
    while not _feasible(n, alpha, delta, batch_size):
        n += 1
    return n


def umbrella_rank(n: int, alpha: float, delta: float, batch_size: int | None = None) -> int:
    """The 1-based rank ``k`` of the benign order statistic used as the threshold.

    Raises :class:`InsufficientCalibrationData` if ``n`` is below
    :func:`min_calibration_size`.
    """
    alpha = _check_level("alpha", alpha)
    delta = _check_level("delta", delta)
    batch_size = check_batch_size(batch_size)
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    n = int(n)
    if not _feasible(n, alpha, delta, batch_size):
        raise InsufficientCalibrationData(
            min_calibration_size(alpha, delta, batch_size), n, alpha, delta, batch_size=batch_size
        )
    ranks = np.arange(1, n + 1)
    tails = _tails(n, ranks, alpha, batch_size)
    # The tail is non-increasing in k, so the first rank that meets delta is the smallest one.
    return int(ranks[np.argmax(tails <= delta)])


def umbrella_threshold(
    benign_scores: ArrayLike, alpha: float, delta: float, batch_size: int | None = None
) -> float:
    """Score threshold from held-out benign scores; act iff ``score > threshold``.

    ``benign_scores`` must come from benign samples that played no part in fitting the model
    that produced them. NaN scores are rejected rather than silently dropped, because dropping
    them would change which samples the guarantee is about.
    """
    scores = np.asarray(benign_scores, dtype=float).ravel()
    if np.isnan(scores).any():
        raise ValueError("benign_scores contains NaN; every calibration sample needs a score")
    k = umbrella_rank(scores.size, alpha, delta, batch_size)
    return float(np.sort(scores)[k - 1])
