"""Coalition scores walked tree by tree are exactly the scorer's own scores of the masked rows."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from attribution.scoring import MaliciousnessClassifier, tree_coalitions
from attribution.scoring.estimator import default_base_estimator
from attribution.scoring.preprocess import BlankColumnFiller
from attribution.scoring.shapley import group_shapley

PLAYERS = [[0, 1], [2], [3, 4], [5]]
"""Four groups; column 6 is blank in training and column 7 belongs to no group."""


@pytest.fixture(autouse=True)
def _single_openmp_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=n, n_features=8, n_informative=6, n_redundant=0, random_state=seed
    )
    X[np.random.default_rng(seed).random(X.shape) < 0.15] = np.nan
    X[:, 6] = np.nan
    return X, y


@pytest.fixture(scope="module")
def scorer() -> Pipeline:
    X, y = _rows(1500, 4)
    with threadpool_limits(1):
        return default_base_estimator(random_state=0).set_params(trees__max_iter=40).fit(X, y)


def _masked_scores(scorer: Pipeline, rows: np.ndarray) -> np.ndarray:
    """The definition: predict_proba of each row with the players outside each coalition NaN."""
    out = np.empty((1 << len(PLAYERS), len(rows)))
    for c in range(1 << len(PLAYERS)):
        masked = rows.copy()
        for k, cols in enumerate(PLAYERS):
            if not (c >> k) & 1:
                masked[:, cols] = np.nan
        out[c] = scorer.predict_proba(masked)[:, 1]
    return out


def test_every_coalition_score_equals_predict_proba_of_the_masked_row(scorer: Pipeline) -> None:
    rows, _ = _rows(300, 9)
    rows[:, 6] = 5.0  # a value in the blank column: filled with 0 before the trees
    assert tree_coalitions.supports(scorer)
    found = tree_coalitions.coalition_scores(scorer, rows, PLAYERS)
    np.testing.assert_array_equal(found, _masked_scores(scorer, rows))


def test_the_trees_split_on_some_groups_each_so_walks_are_saved(scorer: Pipeline) -> None:
    trees = scorer[-1]
    players = tree_coalitions._tree_players([p for (p,) in trees._predictors], PLAYERS)
    assert len(players) == trees.n_iter_
    assert all(1 <= len(p) <= len(PLAYERS) for p in players)
    assert any(len(p) < len(PLAYERS) for p in players)


def test_rows_in_small_chunks_give_the_same_scores(
    scorer: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, _ = _rows(50, 11)
    whole = tree_coalitions.coalition_scores(scorer, rows, PLAYERS)
    monkeypatch.setattr(tree_coalitions, "_CHUNK_CELLS", 1)  # one row per chunk
    np.testing.assert_array_equal(tree_coalitions.coalition_scores(scorer, rows, PLAYERS), whole)


def test_no_players_gives_the_plain_score(scorer: Pipeline) -> None:
    rows, _ = _rows(20, 12)
    found = tree_coalitions.coalition_scores(scorer, rows, [])
    np.testing.assert_array_equal(found, scorer.predict_proba(rows)[:, 1][None, :])


def test_other_scorers_are_not_supported(scorer: Pipeline) -> None:
    X, y = _rows(600, 5)
    filled = np.nan_to_num(X)
    assert not tree_coalitions.supports(LogisticRegression().fit(filled, y))
    assert not tree_coalitions.supports(make_pipeline(StandardScaler(), LogisticRegression()))
    assert not tree_coalitions.supports(HistGradientBoostingClassifier())  # not fitted
    three = np.arange(len(y)) % 3
    multiclass = HistGradientBoostingClassifier(max_iter=5).fit(filled, three)
    assert not tree_coalitions.supports(multiclass)
    scaled = make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=5))
    assert not tree_coalitions.supports(scaled.fit(filled, y))
    assert tree_coalitions.supports(scorer[-1])
    with pytest.raises(ValueError, match="supports"):
        tree_coalitions.coalition_scores(LogisticRegression(), X, PLAYERS)


def test_a_filler_whose_column_a_tree_splits_on_is_not_supported() -> None:
    X, y = _rows(600, 6)
    filler = BlankColumnFiller().fit(X)
    trees = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(
        np.nan_to_num(X, nan=0.0) + 0.0, y
    )
    filler.blank_columns_ = np.ones(X.shape[1], dtype=bool)  # claims every column blank
    assert not tree_coalitions.supports(Pipeline([("fill", filler), ("trees", trees)]))


def test_the_classifiers_explanations_equal_the_generic_route() -> None:
    X, y = _rows(1500, 7)
    names = [f"f{i}" for i in range(8)]
    groups = {"a": ["f0", "f1"], "b": ["f2"], "c": ["f3", "f4"], "d": ["f5"]}
    model = MaliciousnessClassifier(
        alpha=0.1, feature_names=names, feature_groups=groups, random_state=0
    ).fit(X, y)
    rows, _ = _rows(200, 8)
    fast = model.shapley(rows)
    generic = group_shapley(lambda r: model._venn_abers(r)[0], model._validated(rows), model.groups_)
    np.testing.assert_array_equal(fast.values, generic.values)
    np.testing.assert_array_equal(fast.scores, generic.scores)
    np.testing.assert_array_equal(fast.base, generic.base)
    np.testing.assert_array_equal(fast.scores, model.predict_proba(rows)[:, 1])


def test_the_classifier_walks_the_trees_only_through_the_coalition_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = _rows(1200, 10)
    model = MaliciousnessClassifier(alpha=0.1, random_state=0).fit(X, y)

    def refuse(rows: np.ndarray) -> None:
        raise AssertionError("scored masked rows one coalition at a time")

    monkeypatch.setattr(model, "_venn_abers", refuse)
    assert model.shapley(X[:30]).values.shape == (30, len(model.groups_))
