"""The blank-column step in front of the tree scorers, and scores that stay what they were."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from attribution.classifier.baselines import plain_gate, uncalibrated_at_half
from attribution.scoring import MaliciousnessClassifier, default_base_estimator
from attribution.scoring.preprocess import BlankColumnFiller

NAN = np.nan


@pytest.fixture(autouse=True)
def _single_openmp_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield


def test_fills_only_the_columns_blank_where_it_was_fitted() -> None:
    fitted = BlankColumnFiller().fit([[1.0, NAN, NAN], [NAN, NAN, 2.0]])
    assert fitted.blank_columns_.tolist() == [False, True, False]
    out = fitted.transform([[NAN, 5.0, NAN], [3.0, NAN, 4.0]])
    np.testing.assert_array_equal(out, [[NAN, 0.0, NAN], [3.0, 0.0, 4.0]])
    assert fitted.get_feature_names_out().tolist() == ["x0", "x1", "x2"]


def test_without_blank_columns_the_input_passes_unchanged() -> None:
    X = np.array([[1.0, NAN], [NAN, 2.0]])
    assert BlankColumnFiller().fit(X).transform(X) is X


def test_refuses_before_fitting_and_on_another_width() -> None:
    with pytest.raises(NotFittedError):
        BlankColumnFiller().transform([[1.0]])
    with pytest.raises(ValueError, match="features"):
        BlankColumnFiller().fit([[1.0, 2.0]]).transform([[1.0]])


def test_the_default_scorer_is_a_pipeline_behind_the_step() -> None:
    scorer = default_base_estimator(random_state=4)
    assert isinstance(scorer, Pipeline)
    assert [name for name, _ in scorer.steps] == ["fill_blank", "trees"]
    assert scorer.named_steps["trees"].random_state == 4


def _blank_column_data() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=900, n_features=6, n_informative=4, weights=[0.6], random_state=5
    )
    X[np.random.default_rng(5).random(X.shape) < 0.15] = NAN
    X[:600, 5] = NAN  # blank in training, observed afterwards
    return X, y


def test_scores_are_those_of_the_classifier_before_the_step() -> None:
    """Values recorded with the classifier that filled blank columns by hand: moving the
    filling into each scorer's Pipeline changed no score, interval, threshold or explanation."""
    X, y = _blank_column_data()
    names = [f"x{i}" for i in range(6)]
    groups = {"a": ["x0", "x1"], "b": ["x2", "x3"], "c": ["x4", "x5"]}
    model = MaliciousnessClassifier(
        alpha=0.05, delta=0.1, feature_names=names, feature_groups=groups, random_state=3
    ).fit(X[:600], y[:600])
    T = X[600:]
    assert model.threshold_ == pytest.approx(0.9916235644848921, abs=1e-15)
    assert model.predict_proba(T)[:4, 1].tolist() == pytest.approx(
        [0.07666985273731669, 0.10316236169027507, 0.11586097458218574, 0.4960082127038707],
        abs=1e-15,
    )
    assert float(model.predict_proba(T)[:, 1].sum()) == pytest.approx(119.63475930127765, abs=1e-12)
    assert model.gate_score(T)[:4].tolist() == pytest.approx(
        [0.0014191877738815614, 0.0172334358037377, 0.010584908232373246, 0.6807961362454984],
        abs=1e-15,
    )
    assert model.predict_interval(T)[:2].tolist() == [
        [0.0, pytest.approx(0.16019417475728157, abs=1e-15)],
        [0.0, pytest.approx(0.20778477389811104, abs=1e-15)],
    ]
    assert model.shapley(T[:1]).values[0].tolist() == pytest.approx(
        [-0.11735195658340583, -0.11702135972453388, -0.031028054846557743], abs=1e-15
    )
    for scorer in model.scorers_:
        assert scorer.named_steps["fill_blank"].blank_columns_.tolist() == [False] * 5 + [True]


def test_baselines_are_those_before_the_step() -> None:
    """Recorded like the classifier's values above, with the baselines' own seed."""
    X, y = _blank_column_data()
    act, threshold = plain_gate(
        X[:600], y[:600], X[600:], alpha=0.05, delta=0.1, batch_size=None, seed=4
    )
    assert (int(act.sum()), threshold) == (47, pytest.approx(0.9923970747152563, abs=1e-15))
    assert int(uncalibrated_at_half(X[:600], y[:600], X[600:], seed=4).sum()) == 107
