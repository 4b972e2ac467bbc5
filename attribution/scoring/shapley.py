"""Exact Shapley values over groups of features, with "not observed" as the missing value.

A model that treats NaN as "no evidence" (the gradient-boosted trees route NaN at every split)
gives a natural value function for a coalition ``S`` of feature groups: the score of the row
with every group outside ``S`` set to NaN. The Shapley values of the groups then

* add up exactly to ``score(row) - score(row with every group NaN)``: the efficiency axiom,
  with the base value stated as "the same kind of node with nothing observed";
* give exactly zero to a group the row did not observe (its value is NaN in every
  coalition, so it is a dummy player): a missing value can never be a reason;
* depend on the row alone, never on the batch it was scored in or its position.

The enumeration is exact: for the ``m`` groups a row observed, every one of the ``2**m``
coalitions is scored once. Rows are processed by observed pattern, so unobserved groups cost
nothing, and ``m`` stays small (the feature set has nine groups).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

__all__ = [
    "MAX_PLAYERS",
    "CoalitionScorer",
    "GroupShapley",
    "coalition_values",
    "group_shapley",
    "observed_groups",
]

MAX_PLAYERS = 14
"""More observed groups than this would need over 16k model evaluations per row."""

_CHUNK_CELLS = 4_000_000
"""Upper bound on rows * coalitions * columns materialised at once (about 32 MB of floats)."""


CoalitionScorer = Callable[[np.ndarray, list[list[int]]], np.ndarray]
"""``(rows, player_columns)`` to the score of every coalition of every row, shape
``(n, 2**m)``, as :func:`coalition_values` gives it, by a faster route."""


@dataclass(frozen=True)
class GroupShapley:
    """Per-row base values and group contributions; ``values[i, g]`` is row i's group g."""

    groups: tuple[str, ...]
    base: np.ndarray
    values: np.ndarray
    scores: np.ndarray
    observed: np.ndarray
    """``observed[i, g]``: row i has a value in group g (an unobserved group's value is 0)."""


def observed_groups(X: np.ndarray, columns: Sequence[Sequence[int]]) -> np.ndarray:
    """Boolean matrix: ``[i, g]`` is True when row i has any non-NaN value in group g."""
    out = np.zeros((X.shape[0], len(columns)), dtype=bool)
    for g, cols in enumerate(columns):
        if len(cols):
            out[:, g] = ~np.isnan(X[:, list(cols)]).all(axis=1)
    return out


def _weights(m: int) -> np.ndarray:
    """Shapley weight of a coalition of size s among m players: s! (m-s-1)! / m!."""
    return np.array(
        [math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) for s in range(m)]
    )


def coalition_values(
    predict: Callable[[np.ndarray], np.ndarray],
    rows: np.ndarray,
    player_columns: list[list[int]],
) -> np.ndarray:
    """``predict`` of every coalition (bit mask over players) of each row: shape (n, 2**m),
    with the columns of each player outside the coalition set to NaN."""
    m = len(player_columns)
    n_coalitions = 1 << m
    n, d = rows.shape
    # masked[c, j]: column j is set to NaN in coalition c (its player is not in the coalition).
    masked = np.zeros((n_coalitions, d), dtype=bool)
    for player, cols in enumerate(player_columns):
        absent = np.array([(mask >> player) & 1 == 0 for mask in range(n_coalitions)])
        masked[np.ix_(absent, np.asarray(cols, dtype=int))] = True
    out = np.empty((n, n_coalitions))
    chunk = max(1, _CHUNK_CELLS // max(1, n_coalitions * d))
    for start in range(0, n, chunk):
        block = rows[start : start + chunk]
        stacked = np.repeat(block[:, None, :], n_coalitions, axis=1)
        stacked[:, masked] = np.nan
        scores = _predict_distinct(predict, stacked.reshape(-1, d))
        out[start : start + len(block)] = scores.reshape(len(block), n_coalitions)
    return out


def _predict_distinct(predict: Callable[[np.ndarray], np.ndarray], rows: np.ndarray) -> np.ndarray:
    """``predict(rows)``, each distinct row scored once.

    Coalitions of few groups repeat across rows (every row of one kind shares the coalition
    with nothing observed; rows that agree on one group share its coalition), and a row's
    score depends on that row alone, so each distinct row is scored once and its score
    copied. Rows are compared by their bytes: two NaNs of different payloads count as
    different rows, which costs a repeat evaluation and never a wrong value.
    """
    rows = np.ascontiguousarray(rows, dtype=float)
    as_bytes = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, first, inverse = np.unique(as_bytes, return_index=True, return_inverse=True)
    return np.asarray(predict(rows[first]))[inverse.ravel()]


def _row_sums(terms: np.ndarray) -> np.ndarray:
    """Each row's terms added left to right.

    Not ``terms.sum(axis=1)`` (nor a BLAS product): numpy adds a row pairwise when it is
    alone and left to right when others share the array, so a row's value would depend on how
    many rows of its evidence pattern were scored with it. Added in one fixed order, each
    row's value is the same whatever else is scored (a page of nodes, or one node).
    """
    total = np.array(terms[:, 0], dtype=float)
    for j in range(1, terms.shape[1]):
        total += terms[:, j]
    return total


def group_shapley(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    groups: Mapping[str, Sequence[int]],
    coalitions: CoalitionScorer | None = None,
) -> GroupShapley:
    """Exact group Shapley values of ``predict`` (one score per row) at every row of ``X``.

    ``groups`` maps a group name to its column indices; columns in no group are never masked
    (for example the node kind). ``coalitions``, when given, scores the coalitions in place of
    :func:`coalition_values` and must give the same values (the estimator's tree-by-tree
    route, :mod:`attribution.scoring.tree_coalitions`). Raises ValueError when a row observed
    more than :data:`MAX_PLAYERS` groups.
    """
    if coalitions is None:
        coalitions = partial(coalition_values, predict)
    names = tuple(groups)
    columns = [list(groups[name]) for name in names]
    X = np.asarray(X, dtype=float)
    observed = observed_groups(X, columns)
    values = np.zeros((X.shape[0], len(names)))
    base = np.empty(X.shape[0])
    scores = np.empty(X.shape[0])
    patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        members = np.flatnonzero(inverse.ravel() == p)
        players = [g for g in range(len(names)) if pattern[g]]
        if len(players) > MAX_PLAYERS:
            raise ValueError(
                f"{len(players)} observed feature groups; exact Shapley values are computed "
                f"for at most {MAX_PLAYERS}"
            )
        v = coalitions(X[members], [columns[g] for g in players])
        full = (1 << len(players)) - 1
        base[members], scores[members] = v[:, 0], v[:, full]
        if not players:
            continue
        weights = _weights(len(players))
        sizes = np.array([bin(mask).count("1") for mask in range(1 << len(players))])
        for k, g in enumerate(players):
            bit = 1 << k
            without = np.array([mask for mask in range(1 << len(players)) if not mask & bit])
            gains = v[:, without | bit] - v[:, without]
            values[members, g] = _row_sums(gains * weights[sizes[without]])
    return GroupShapley(names, base, values, scores, observed)
