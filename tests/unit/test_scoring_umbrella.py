"""The Neyman–Pearson umbrella rule: known answers, exact arithmetic, Monte-Carlo bound."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from attribution.scoring.umbrella import (
    InsufficientCalibrationData,
    allowed_false_positives,
    min_calibration_size,
    umbrella_rank,
    umbrella_threshold,
    violation_probability,
)


def _exact_rank(n: int, alpha: Fraction, delta: Fraction) -> int | None:
    """Smallest k with sum_{j>=k} C(n,j)(1-a)^j a^(n-j) <= delta, in exact rational arithmetic."""
    tail = Fraction(0)
    best = None
    for k in range(n, 0, -1):
        tail += math.comb(n, k) * (1 - alpha) ** k * alpha ** (n - k)
        if tail <= delta:
            best = k
        else:
            break
    return best


@pytest.mark.parametrize(
    ("alpha", "delta", "expected"),
    [(0.01, 0.05, 299), (0.05, 0.05, 59), (0.1, 0.1, 22), (0.05, 0.1, 45), (0.5, 0.5, 1)],
)
def test_min_calibration_size_known_answers(alpha: float, delta: float, expected: int) -> None:
    assert min_calibration_size(alpha, delta) == expected
    # The boundary is exactly where (1 - alpha)^n crosses delta.
    assert (1 - alpha) ** expected <= delta < (1 - alpha) ** (expected - 1) or expected == 1


@pytest.mark.parametrize(
    ("n", "alpha", "delta", "expected"),
    [
        (299, 0.01, 0.05, 299),
        (300, 0.01, 0.05, 300),
        (500, 0.01, 0.05, 499),
        (630, 0.01, 0.05, 628),
        (1000, 0.01, 0.05, 996),
        (59, 0.05, 0.05, 59),
        (100, 0.05, 0.05, 99),
        (22, 0.1, 0.1, 22),
    ],
)
def test_umbrella_rank_known_answers(n: int, alpha: float, delta: float, expected: int) -> None:
    assert umbrella_rank(n, alpha, delta) == expected


@pytest.mark.parametrize(
    ("n", "alpha", "delta"),
    [(22, "1/10", "1/10"), (40, "1/10", "1/10"), (80, "1/20", "1/20"), (150, "1/20", "1/10")],
)
def test_umbrella_rank_matches_exact_rational_sum(n: int, alpha: str, delta: str) -> None:
    expected = _exact_rank(n, Fraction(alpha), Fraction(delta))
    assert umbrella_rank(n, float(Fraction(alpha)), float(Fraction(delta))) == expected


def test_violation_probability_is_the_binomial_tail() -> None:
    n, alpha = 30, 0.1
    for k in (20, 27, 30):
        direct = sum(math.comb(n, j) * 0.9**j * 0.1 ** (n - j) for j in range(k, n + 1))
        assert violation_probability(n, k, alpha) == pytest.approx(direct, rel=1e-12)


def test_insufficient_calibration_data_states_requirement() -> None:
    with pytest.raises(InsufficientCalibrationData, match=r"at least 299 .* but 298 were given"):
        umbrella_rank(298, 0.01, 0.05)
    with pytest.raises(InsufficientCalibrationData) as caught:
        umbrella_threshold(np.linspace(0, 1, 58), 0.05, 0.05)
    assert (caught.value.required, caught.value.given) == (59, 58)
    assert isinstance(caught.value, ValueError)


def test_threshold_is_the_kth_order_statistic() -> None:
    scores = np.random.default_rng(0).permutation(np.arange(100) / 100.0)
    # k = 99 for n=100, alpha=delta=0.05, so the threshold is the 99th smallest: 0.98.
    assert umbrella_threshold(scores, 0.05, 0.05) == 0.98


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, float("nan")])
def test_levels_outside_unit_interval_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        min_calibration_size(bad, 0.05)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        umbrella_rank(500, 0.01, bad)


def test_nan_scores_are_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        umbrella_threshold([0.1, float("nan")] * 200, 0.01, 0.05)


def _simulate_violations(n: int, alpha: float, delta: float, n_sets: int, seed: int) -> int:
    """Benign scores ~ Uniform(0, 1), so a threshold t has true FPR P(S > t) = 1 - t."""
    rng = np.random.default_rng(seed)
    k = umbrella_rank(n, alpha, delta)
    thresholds = np.sort(rng.uniform(size=(n_sets, n)), axis=1)[:, k - 1]
    return int(np.count_nonzero(1.0 - thresholds > alpha))


@pytest.mark.parametrize(
    ("n", "alpha", "delta", "expected_violations"),
    [(299, 0.01, 0.05, 91), (59, 0.05, 0.05, 113), (1000, 0.01, 0.05, 63), (400, 0.05, 0.1, 190)],
)
def test_monte_carlo_false_positive_bound(
    n: int, alpha: float, delta: float, expected_violations: int
) -> None:
    n_sets = 2000
    violations = _simulate_violations(n, alpha, delta, n_sets, seed=n)
    assert violations == expected_violations
    exact = violation_probability(n, umbrella_rank(n, alpha, delta), alpha)
    tolerance = 3.0 * math.sqrt(delta * (1 - delta) / n_sets)
    assert violations / n_sets <= delta + tolerance
    # The simulated rate matches the binomial tail the rule is built on.
    assert abs(violations / n_sets - exact) <= 3.0 * math.sqrt(exact * (1 - exact) / n_sets)


def test_bound_is_nearly_tight_at_the_minimum_size() -> None:
    # At n = 299 the only feasible rank is the maximum, and P(FPR > 0.01) = 0.99^299 ~ 0.0495.
    assert violation_probability(299, 299, 0.01) == pytest.approx(0.99**299)
    assert 0.049 < violation_probability(299, 299, 0.01) <= 0.05


# --- The batch guarantee: the share acted upon among m benign servers scored together. ---


def _beta_fn(a: int, b: int) -> Fraction:
    return Fraction(math.factorial(a - 1) * math.factorial(b - 1), math.factorial(a + b - 1))


def _exact_batch_rank(n: int, m: int, alpha: Fraction, delta: Fraction) -> int | None:
    """Smallest k whose BetaBinomial(m, n-k+1, k) tail above floor(alpha*m) is <= delta."""
    allowed = math.floor(alpha * m)
    for k in range(1, n + 1):
        a, b = n - k + 1, k
        tail = sum(
            math.comb(m, x) * _beta_fn(x + a, m - x + b) / _beta_fn(a, b)
            for x in range(allowed + 1, m + 1)
        )
        if tail <= delta:
            return k
    return None


@pytest.mark.parametrize(
    ("n", "m", "alpha", "delta"),
    [
        (40, 10, "1/10", "1/10"),
        (60, 25, "1/10", "1/10"),
        (90, 30, "1/20", "1/10"),
        (70, 7, "1/5", "1/20"),
    ],
)
def test_batch_rank_matches_exact_rational_beta_binomial(
    n: int, m: int, alpha: str, delta: str
) -> None:
    expected = _exact_batch_rank(n, m, Fraction(alpha), Fraction(delta))
    assert expected is not None
    assert (
        umbrella_rank(n, float(Fraction(alpha)), float(Fraction(delta)), batch_size=m) == expected
    )


def test_batch_minimum_size_has_a_closed_form_when_no_false_positive_is_allowed() -> None:
    # With floor(alpha*m) = 0 and k = n, P(at least one of m above the maximum of n) = m/(n+m),
    # so the requirement is n >= m(1 - delta)/delta: 323.3 -> 324 for m = 10, delta = 0.03.
    assert min_calibration_size(0.05, 0.03, batch_size=10) == 324
    assert violation_probability(324, 324, 0.05, batch_size=10) == pytest.approx(10 / 334)
    with pytest.raises(InsufficientCalibrationData, match=r"at least 324 .* over batches of 10"):
        umbrella_rank(323, 0.05, 0.03, batch_size=10)


@pytest.mark.parametrize(
    ("n", "m", "expected_batch", "expected_population"),
    [(1146, 1637, 1142, 1141), (540, 300, 540, 539), (1000, 10**7, 996, 996)],
)
def test_batch_rank_is_stricter_and_tends_to_the_population_rank(
    n: int, m: int, expected_batch: int, expected_population: int
) -> None:
    assert umbrella_rank(n, 0.01, 0.05, batch_size=m) == expected_batch
    assert umbrella_rank(n, 0.01, 0.05) == expected_population


def test_allowed_false_positives_absorbs_binary_rounding() -> None:
    assert allowed_false_positives(0.29, 100) == 29
    assert allowed_false_positives(0.01, 1637) == 16
    assert allowed_false_positives(0.01, 99) == 0


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_batch_size_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        umbrella_rank(500, 0.01, 0.05, batch_size=bad)  # type: ignore[arg-type]


def _simulate_batch_violations(
    n: int, m: int, alpha: float, delta: float, n_sets: int, seed: int, k: int
) -> int:
    """Draw n calibration and m batch benign scores ~ Uniform(0, 1) per set; count the sets in
    which more than floor(alpha*m) batch scores lie strictly above the k-th calibration score."""
    rng = np.random.default_rng(seed)
    thresholds = np.sort(rng.uniform(size=(n_sets, n)), axis=1)[:, k - 1]
    above = (rng.uniform(size=(n_sets, m)) > thresholds[:, None]).sum(axis=1)
    return int(np.count_nonzero(above > allowed_false_positives(alpha, m)))


@pytest.mark.parametrize(
    ("n", "m", "expected_batch", "expected_population"),
    [(540, 300, 25, 111), (1146, 1637, 52, 112)],
)
def test_monte_carlo_batch_bound(
    n: int, m: int, expected_batch: int, expected_population: int
) -> None:
    """The population rule's rank exceeds alpha on finite batches more often than delta; the
    batch rule's rank does not, and both simulated rates match their beta-binomial tails."""
    alpha, delta, n_sets = 0.01, 0.05, 2000
    for k, expected in (
        (umbrella_rank(n, alpha, delta, batch_size=m), expected_batch),
        (umbrella_rank(n, alpha, delta), expected_population),
    ):
        violations = _simulate_batch_violations(n, m, alpha, delta, n_sets, seed=n, k=k)
        assert violations == expected
        exact = violation_probability(n, k, alpha, batch_size=m)
        assert abs(violations / n_sets - exact) <= 3.0 * math.sqrt(exact * (1 - exact) / n_sets)
    assert expected_batch / n_sets <= delta < expected_population / n_sets
