"""Behaviour of MaliciousnessClassifier: the gate, NaN handling, explanations, validation."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from attribution.classifier.score import _outside_reason
from attribution.scoring import (
    InsufficientCalibrationData,
    InsufficientCalibrationWarning,
    MaliciousnessClassifier,
    umbrella_rank,
    violation_probability,
)


@pytest.fixture(autouse=True)
def _single_openmp_thread() -> Iterator[None]:
    # Results do not depend on the thread count; one OpenMP/BLAS thread avoids spin-waiting
    # when the test machine is shared.
    with threadpool_limits(1):
        yield


def _dataset(n_samples: int = 3000, missing: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=n_samples,
        n_features=8,
        n_informative=5,
        n_redundant=1,
        weights=[0.6],
        flip_y=0.0,
        random_state=1,
    )
    X[np.random.default_rng(1).random(X.shape) < missing] = np.nan
    return X, y


@pytest.fixture(scope="module")
def fitted() -> tuple[MaliciousnessClassifier, np.ndarray, np.ndarray]:
    X, y = _dataset()
    with threadpool_limits(1):
        model = MaliciousnessClassifier(random_state=0).fit(X[:2000], y[:2000])
    return model, X[2000:], y[2000:]


def test_fit_sets_gate_from_held_out_benign(
    fitted: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray],
) -> None:
    model, _, _ = fitted
    n_benign = 1203  # benign samples among the first 2000 rows
    assert model.n_calibration_benign_ == int(np.ceil(0.3 * n_benign)) == 361
    assert model.min_calibration_benign_ == 299
    assert model.umbrella_rank_ == 361  # n = 361 is close to the 299 minimum
    assert model.gate_closed_ is False
    assert model.threshold_ == np.sort(model.calibration_scores_)[360]
    assert model.prior_correction_ == pytest.approx((1203 - 361) / 1203)
    assert model.n_features_in_ == 8
    assert list(model.classes_) == [0, 1]
    assert model.feature_names_ == [f"x{i}" for i in range(8)]


def test_gate_summary_reports_the_guarantee(
    fitted: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray],
) -> None:
    model, _, _ = fitted
    summary = model.gate_summary()
    assert summary == {
        "alpha": 0.01,
        "delta": 0.05,
        "batch_size": None,
        "threshold": model.threshold_,
        "rule": "act iff the mean score of the fold scorers > threshold",
        "umbrella_rank": 361,
        "n_calibration_benign": 361,
        "min_calibration_benign": 299,
        "violation_probability": pytest.approx(0.99**361),
        "gate_closed": False,
        "calibration": "venn-abers",
        "min_pattern_count": 20,
        "pattern_counts": model.pattern_counts_,
    }
    assert sum(summary["pattern_counts"].values()) == 361
    assert summary["violation_probability"] <= 0.05


def test_batch_guarantee_raises_the_rank_and_reports_the_batch() -> None:
    X, y = _dataset()
    with threadpool_limits(1):
        model = MaliciousnessClassifier(random_state=0, batch_size=300).fit(X, y)
    assert int((y == 0).sum()) == 1800
    assert model.n_calibration_benign_ == 540
    # The population rule would use rank 539 of 540, which exceeds alpha on a batch of 300
    # benign servers with probability 0.0576 > delta; the batch rule moves up to the maximum.
    assert umbrella_rank(540, 0.01, 0.05) == 539
    assert violation_probability(540, 539, 0.01, batch_size=300) == pytest.approx(0.0576, abs=1e-4)
    assert model.umbrella_rank_ == 540
    assert model.min_calibration_benign_ == 333
    assert model.threshold_ == np.max(model.calibration_scores_)
    summary = model.gate_summary()
    assert summary["batch_size"] == 300
    assert summary["violation_probability"] == pytest.approx(
        violation_probability(540, 540, 0.01, batch_size=300)
    )
    assert summary["violation_probability"] <= 0.05


def test_batch_guarantee_states_its_larger_requirement() -> None:
    X, y = _dataset()
    # 1,203 benign rows hold out 361, enough for the population rule (299) but not for
    # batches of 50, where 951 are needed.
    model = MaliciousnessClassifier(random_state=0, batch_size=50)
    with pytest.raises(InsufficientCalibrationData, match=r"at least 951 .* over batches of 50"):
        model.fit(X[:2000], y[:2000])


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "100"])
def test_batch_size_must_be_a_positive_integer(bad: object) -> None:
    X, y = _dataset(600)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        MaliciousnessClassifier(batch_size=bad).fit(X, y)  # type: ignore[arg-type]


def test_decide_predict_and_gate_score_agree(
    fitted: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray],
) -> None:
    model, X, y = fitted
    proba = model.predict_proba(X)
    assert proba.shape == (1000, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    act = model.gate_score(X) > model.threshold_
    np.testing.assert_array_equal(model.predict(X), act.astype(int))
    everywhere = clone(model).set_params(min_pattern_count=0)
    everywhere.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    np.testing.assert_array_equal(everywhere.decide(X), np.where(act, "act", "no-act"))
    # The gate is conservative: on held-out data it acts on few benign rows.
    assert np.mean(act[y == 0]) <= 0.01


def test_probability_lies_inside_its_interval(
    fitted: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray],
) -> None:
    model, X, _ = fitted
    proba = model.predict_proba(X)[:, 1]
    interval = model.predict_interval(X)
    assert (interval[:, 0] <= proba + 1e-12).all()
    assert (proba <= interval[:, 1] + 1e-12).all()
    # The scores take many values: no isotonic plateau swallows the ranking.
    assert np.unique(model.gate_score(X)).size > 900


def test_rare_evidence_patterns_are_outside_calibration(
    fitted: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray],
) -> None:
    model, X, _ = fitted
    rows = np.nan_to_num(X[:2])
    rows[1, [0, 1, 2]] = np.nan  # three columns missing: a pattern the hold-out hardly holds
    patterns = model.evidence_patterns(rows)
    assert patterns == ["x0+x1+x2+x3+x4+x5+x6+x7", "x3+x4+x5+x6+x7"]
    assert model.pattern_counts_[patterns[0]] >= 20
    assert model.pattern_counts_.get(patterns[1], 0) < 20
    assert model.decide(rows)[1] == "outside-calibration"
    assert model.decide(rows)[0] in ("act", "no-act")


def test_same_random_state_gives_same_model() -> None:
    X, y = _dataset(1500)
    a = MaliciousnessClassifier(alpha=0.05, random_state=3).fit(X, y)
    b = clone(a).fit(X, y)
    assert a.threshold_ == b.threshold_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_rows_with_missing_evidence_are_scored() -> None:
    X, y = _dataset(1500, missing=0.3)
    model = MaliciousnessClassifier(alpha=0.05, random_state=0).fit(X, y)
    empty = np.full((2, 8), np.nan)
    proba = model.predict_proba(empty)
    assert np.isfinite(proba).all()
    # A row with no evidence at all gets one score, whatever else is in the batch.
    assert proba[0, 1] == proba[1, 1]
    assert model.predict_proba(np.vstack([X[:3], empty]))[3, 1] == proba[0, 1]


def test_infinite_values_are_rejected() -> None:
    X, y = _dataset(1500)
    model = MaliciousnessClassifier(alpha=0.05, random_state=0).fit(X, y)
    bad = X[:2].copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.predict(bad)


def test_too_few_benign_calibration_samples_raise_by_default() -> None:
    X, y = _dataset(1000)  # about 600 benign -> 180 held out, below the 299 needed
    with pytest.raises(InsufficientCalibrationData, match="at least 299 benign") as caught:
        MaliciousnessClassifier(random_state=0).fit(X, y)
    assert caught.value.required == 299
    assert caught.value.given == 180


def test_warn_mode_closes_the_gate() -> None:
    X, y = _dataset(1000)
    with pytest.warns(InsufficientCalibrationWarning, match="gate is closed"):
        model = MaliciousnessClassifier(on_insufficient="warn", random_state=0).fit(X, y)
    assert model.gate_closed_ is True
    assert model.umbrella_rank_ is None
    assert model.threshold_ == 1.0
    assert "act" not in set(model.decide(X))
    assert set(model.decide(X)) == {"no-act", "outside-calibration"}


def test_custom_estimator() -> None:
    X, y = _dataset(2000, missing=0.0)
    model = MaliciousnessClassifier(alpha=0.05, estimator=LogisticRegression(), random_state=0).fit(
        X, y
    )
    assert len(model.scorers_) == 5
    assert all(isinstance(scorer, LogisticRegression) for scorer in model.scorers_)
    assert model.umbrella_rank_ is not None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alpha": 0.0}, "alpha must lie"),
        ({"delta": 1.5}, "delta must lie"),
        ({"calibration_fraction": 1.0}, "calibration_fraction must lie"),
        ({"min_pattern_count": -1}, "min_pattern_count must be"),
        ({"feature_groups": {"a": ["x0", "nope"]}}, "names unknown features"),
        ({"feature_groups": {"a": ["x0"], "b": ["x0"]}}, "repeats features"),
        ({"on_insufficient": "ignore"}, "on_insufficient must be"),
        ({"calibration_cv": 1}, "calibration_cv must be"),
    ],
)
def test_invalid_parameters_are_named(params: dict[str, object], message: str) -> None:
    X, y = _dataset(500)
    with pytest.raises(ValueError, match=message):
        MaliciousnessClassifier(**params).fit(X, y)  # type: ignore[arg-type]


_GROUPS = {
    "first": ["f0", "f1"],
    "second": ["f2", "f3", "f4"],
    "third": ["f5"],
    "last": ["f6", "f7"],
}


@pytest.fixture(scope="module")
def grouped() -> tuple[MaliciousnessClassifier, np.ndarray]:
    X, y = _dataset(1500, missing=0.2)
    names = [f"f{i}" for i in range(8)]
    with threadpool_limits(1):
        model = MaliciousnessClassifier(
            alpha=0.05, feature_names=names, feature_groups=_GROUPS, random_state=0
        ).fit(X, y)
    return model, X


def test_shapley_values_add_up_to_score_minus_base(
    grouped: tuple[MaliciousnessClassifier, np.ndarray],
) -> None:
    model, X = grouped
    result = model.shapley(X[:50])
    proba = model.predict_proba(X[:50])[:, 1]
    np.testing.assert_allclose(result.scores, proba, atol=1e-12)
    np.testing.assert_allclose(result.values.sum(axis=1), proba - result.base, atol=1e-6)
    # The base is the score of a row with nothing observed.
    nothing = model.predict_proba(np.full((1, 8), np.nan))[0, 1]
    np.testing.assert_allclose(result.base, nothing, atol=1e-12)


def test_an_unobserved_group_is_never_a_reason(
    grouped: tuple[MaliciousnessClassifier, np.ndarray],
) -> None:
    model, X = grouped
    rows = X[:40].copy()
    rows[:, 2:5] = np.nan  # group "second" unobserved everywhere
    result = model.shapley(rows)
    assert result.groups == ("first", "second", "third", "last")
    assert (result.values[:, 1] == 0.0).all()
    for pairs in model.explain(rows, top=4):
        assert "second" not in [name for name, _ in pairs]


def test_shapley_values_do_not_depend_on_row_order(
    grouped: tuple[MaliciousnessClassifier, np.ndarray],
) -> None:
    model, X = grouped
    order = np.random.default_rng(3).permutation(60)
    forward = model.shapley(X[:60]).values
    shuffled = model.shapley(X[:60][order]).values
    np.testing.assert_array_equal(shuffled, forward[order])


def test_shapley_matches_the_definition_on_three_groups(
    grouped: tuple[MaliciousnessClassifier, np.ndarray],
) -> None:
    """Brute force over permutations of the observed groups for one row."""
    from itertools import permutations

    model, X = grouped
    row = np.nan_to_num(X[5:6])
    row[0, 5] = np.nan  # "third" unobserved: three players remain
    columns = {"first": [0, 1], "second": [2, 3, 4], "last": [6, 7]}

    def value(present: set[str]) -> float:
        masked = row.copy()
        for name, cols in columns.items():
            if name not in present:
                masked[0, cols] = np.nan
        return float(model.predict_proba(masked)[0, 1])

    expected = dict.fromkeys(columns, 0.0)
    orders = list(permutations(columns))
    for order in orders:
        present: set[str] = set()
        for name in order:
            before = value(present)
            present.add(name)
            expected[name] += (value(present) - before) / len(orders)
    got = dict(zip(model.shapley(row).groups, model.shapley(row).values[0], strict=True))
    for name, contribution in expected.items():
        assert got[name] == pytest.approx(contribution, abs=1e-12)
    assert got["third"] == 0.0


def test_explain_orders_by_magnitude(grouped: tuple[MaliciousnessClassifier, np.ndarray]) -> None:
    model, X = grouped
    for pairs in model.explain(np.nan_to_num(X[:4]), top=3):
        assert len(pairs) == 3
        magnitudes = [abs(value) for _, value in pairs]
        assert magnitudes == sorted(magnitudes, reverse=True)
    assert len(model.explain(np.nan_to_num(X[:1]), top=50)[0]) == 4


def test_explain_points_at_the_informative_feature() -> None:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(2000, 4))
    y = (X[:, 2] > 0.5).astype(int)
    model = MaliciousnessClassifier(
        alpha=0.05, feature_names=["a", "b", "signal", "d"], random_state=0
    ).fit(X, y)
    top = model.explain(np.array([[0.0, 0.0, 3.0, 0.0]]), top=1)[0][0]
    assert top[0] == "signal"
    assert top[1] > 0.3


def test_feature_names_must_match_columns() -> None:
    X, y = _dataset(1500)
    with pytest.raises(ValueError, match="feature_names has 2 names but X has 8 columns"):
        MaliciousnessClassifier(alpha=0.05, feature_names=["a", "b"]).fit(X, y)


def test_explain_rejects_bad_top(
    fitted: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray],
) -> None:
    model, X, _ = fitted
    with pytest.raises(ValueError, match="top must be a positive integer"):
        model.explain(X[:1], top=0)


def test_string_labels_use_sorted_order() -> None:
    X, y = _dataset(1500)
    labels = np.where(y == 1, "malicious", "benign")
    model = MaliciousnessClassifier(alpha=0.05, random_state=0).fit(X, labels)
    assert list(model.classes_) == ["benign", "malicious"]
    assert set(model.predict(X)) <= {"benign", "malicious"}


def test_decide_can_withhold_a_decision_for_thin_evidence(
    fitted: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray],
) -> None:
    model, X, _ = fitted
    rows = X[:3].copy()
    rows[0] = np.nan  # nothing observed
    rows[1, :6] = np.nan  # 2 of 8 observed
    full = model.decide(np.nan_to_num(rows[2:3]))
    decisions = model.decide(np.vstack([rows, np.nan_to_num(rows[2:3])]), min_observed=3)
    assert list(decisions[:2]) == ["insufficient-evidence", "insufficient-evidence"]
    assert decisions[3] == full[0]
    assert set(model.decide(rows)) <= {"act", "no-act", "outside-calibration"}
    with pytest.raises(ValueError, match="min_observed"):
        model.decide(rows, min_observed=-1)


def _gaussian_nodes(rng: np.random.Generator, n: int, malicious: bool) -> np.ndarray:
    """Benign ~ N(0, I); malicious shifted on four of six features; 15 % values missing."""
    shift = np.array([1.2, 0.8, 0.6, 0.0, 0.0, 0.4]) if malicious else np.zeros(6)
    X = rng.normal(size=(n, 6)) + shift
    X[rng.random(X.shape) < 0.15] = np.nan
    return X


def test_gate_bounds_the_true_false_positive_rate_end_to_end() -> None:
    """Refit 50 times on fresh data; measure each model's FPR on 20,000 new benign nodes.

    Exercises the whole path (hold-out draw, scorer, umbrella threshold on its scores, strict
    rule) against a population where the true
    FPR can be estimated. A fast imputer + logistic scorer keeps this quick; the guarantee
    does not depend on the scorer.
    """
    alpha, delta, repetitions = 0.05, 0.1, 50
    population = _gaussian_nodes(np.random.default_rng(12345), 20_000, malicious=False)
    scorer = make_pipeline(SimpleImputer(add_indicator=True), LogisticRegression())
    y = np.r_[np.zeros(600, dtype=int), np.ones(400, dtype=int)]
    fprs = []
    for seed in range(repetitions):
        rng = np.random.default_rng(seed)
        X = np.vstack([_gaussian_nodes(rng, 600, False), _gaussian_nodes(rng, 400, True)])
        model = MaliciousnessClassifier(
            alpha=alpha, delta=delta, estimator=scorer, random_state=seed
        ).fit(X, y)
        assert (model.n_calibration_benign_, model.umbrella_rank_) == (180, 176)
        fprs.append(float(np.mean(model.gate_score(population) > model.threshold_)))
    violations = sum(fpr > alpha for fpr in fprs)
    bound = violation_probability(180, umbrella_rank(180, alpha, delta), alpha)
    assert bound <= delta
    assert violations <= repetitions * bound + 3 * np.sqrt(repetitions * bound * (1 - bound))
    # Measured (seeded): 3 of 50 models above alpha (the bound allows 3.6 on average), mean
    # true FPR 0.028.
    assert violations == 3
    assert np.mean(fprs) == pytest.approx(0.028053, abs=5e-5)


def test_assess_gives_what_the_separate_methods_give(
    fitted: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray],
) -> None:
    model, X, _ = fitted
    rows = np.nan_to_num(X[:300])
    rows[1, [0, 1, 2]] = np.nan
    rows[2, :] = np.nan
    assessed = model.assess(rows)
    np.testing.assert_array_equal(assessed.proba, model.predict_proba(rows)[:, 1])
    np.testing.assert_array_equal(assessed.interval, model.predict_interval(rows))
    np.testing.assert_array_equal(assessed.decisions, model.decide(rows))
    assert assessed.patterns == model.evidence_patterns(rows)
    assert list(assessed.decisions[1:3]) == ["outside-calibration"] * 2


def test_an_outside_calibration_reason_names_the_pattern_and_its_support(
    fitted: tuple[MaliciousnessClassifier, np.ndarray, np.ndarray],
) -> None:
    model, _, _ = fitted
    support = model.pattern_counts_.get("x3+x4+x5+x6+x7", 0)
    assert _outside_reason(model, "x3+x4+x5+x6+x7") == (
        f"outside calibration: evidence pattern x3+x4+x5+x6+x7 has {support} benign "
        "calibration samples (fewer than 20)"
    )
    assert _outside_reason(model, "") == (
        "outside calibration: evidence pattern none has 0 benign calibration samples "
        "(fewer than 20)"
    )
