"""Exact group Shapley values: the values of an additive model, and each distinct coalition
row scored once."""

from __future__ import annotations

import numpy as np

from attribution.scoring import shapley

GROUPS = {"a": [0], "b": [1, 2]}
"""Column 3 is the node kind: in no group, so never masked."""

X = np.array(
    [
        [1.0, 2.0, 4.0, 0.0],
        [1.0, 2.0, 4.0, 0.0],
        [3.0, np.nan, np.nan, 1.0],
    ]
)


class Additive:
    """2a + b1 + b2/2 + 10 kind, a missing value adding nothing; counts the rows it scores."""

    def __init__(self) -> None:
        self.rows = 0

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        self.rows += len(rows)
        filled = np.nan_to_num(rows)
        return 2 * filled[:, 0] + filled[:, 1] + filled[:, 2] / 2 + 10 * rows[:, 3]


def test_an_additive_models_values_are_its_terms() -> None:
    found = shapley.group_shapley(Additive(), X, GROUPS)
    assert found.groups == ("a", "b")
    assert found.values.tolist() == [[2.0, 4.0], [2.0, 4.0], [6.0, 0.0]]
    assert found.base.tolist() == [0.0, 0.0, 10.0]
    assert found.scores.tolist() == [6.0, 6.0, 16.0]
    assert found.observed.tolist() == [[True, True], [True, True], [True, False]]


def test_each_distinct_coalition_row_is_scored_once() -> None:
    model = Additive()
    shapley.group_shapley(model, X, GROUPS)
    # Rows 0 and 1 share their four coalitions; row 2 observed one group: two coalitions.
    assert model.rows == 4 + 2


def test_scoring_distinct_rows_gives_what_scoring_every_row_gives() -> None:
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 3, size=(200, 4)).astype(float)
    rows[:, :3][rng.random((200, 3)) < 0.3] = np.nan
    model = Additive()
    assert shapley._predict_distinct(model, rows).tolist() == Additive()(rows).tolist()
    assert model.rows < 200
