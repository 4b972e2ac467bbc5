"""Every coalition's score of a fitted tree scorer, evaluating each tree only on the groups it
splits on.

An exact explanation (:mod:`attribution.scoring.shapley`) needs the score of each row with
every subset of its observed feature groups masked: ``2**m`` scores per row. Scoring the
``2**m`` masked rows with the whole model walks every tree ``2**m`` times per row. But a tree
that splits only on columns of groups ``P`` gives the same value to two coalitions that agree
on ``P``, so it needs only ``2**|P|`` walks per row; the coalition's raw score is then the
model's baseline plus each tree's value for the coalition's restriction to that tree's
groups, added in the model's own tree order. The trees of the default scorer split on one to
three groups each, so a row costs about 2.7 walks per tree where it cost 2**m (128 with seven
groups).

The values are bit for bit those of ``predict_proba`` on the masked rows: the same trees
walked on the same values, summed in the same order, through the same link function. That
holds for the scorer this module knows, a ``Pipeline`` of :class:`BlankColumnFiller` (whose
filled columns no tree splits on, so it changes no walk) and scikit-learn's binary
``HistGradientBoostingClassifier`` without categorical features. :func:`supports` says
whether a scorer is one; any other scorer is scored coalition by coalition as before.

The trees are read through scikit-learn's private attributes (``_predictors``,
``_baseline_prediction``, ``_loss``, ``_bin_mapper``), which the pinned version fixes; the
unit tests compare this module with ``predict_proba`` on every coalition, so a version whose
internals differ fails them rather than explaining with wrong values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

from attribution.scoring.preprocess import BlankColumnFiller

__all__ = ["coalition_scores", "supports"]

_CHUNK_CELLS = 4_000_000
"""Upper bound on the floats held per chunk of rows (about 32 MB)."""


def _trees(scorer: Any) -> HistGradientBoostingClassifier | None:
    """The boosted trees at the end of ``scorer`` when every step before them is a
    :class:`BlankColumnFiller`; None for any other scorer."""
    if isinstance(scorer, HistGradientBoostingClassifier):
        return scorer
    if not isinstance(scorer, Pipeline):
        return None
    *prefix, (_, last) = scorer.steps
    if not isinstance(last, HistGradientBoostingClassifier):
        return None
    if not all(isinstance(step, BlankColumnFiller) for _, step in prefix):
        return None
    return last


def _split_columns(predictor: Any) -> set[int]:
    """The columns a tree splits on."""
    nodes = predictor.nodes
    return set(nodes["feature_idx"][nodes["is_leaf"] == 0].tolist())


def supports(scorer: Any) -> bool:
    """True when :func:`coalition_scores` can score ``scorer``: a fitted binary
    ``HistGradientBoostingClassifier`` without categorical features, alone or behind
    :class:`BlankColumnFiller` steps whose filled columns no tree splits on."""
    trees = _trees(scorer)
    if trees is None or not hasattr(trees, "_predictors"):
        return False
    if trees.n_trees_per_iteration_ != 1 or len(getattr(trees, "classes_", ())) != 2:
        return False
    if trees.is_categorical_ is not None and np.any(trees.is_categorical_):
        return False
    split = set().union(*(_split_columns(p) for (p,) in trees._predictors))
    if isinstance(scorer, Pipeline):
        for _, step in scorer.steps[:-1]:
            if split.intersection(np.flatnonzero(step.blank_columns_).tolist()):
                return False
    return True


def _tree_players(
    predictors: Sequence[Any], player_columns: Sequence[Sequence[int]]
) -> list[tuple[int, ...]]:
    """For each tree, the players (indices into ``player_columns``) whose columns it splits on."""
    owner = {c: k for k, cols in enumerate(player_columns) for c in cols}
    return [
        tuple(sorted({owner[c] for c in _split_columns(p) if c in owner})) for p in predictors
    ]


def _restriction(players: tuple[int, ...], n_coalitions: int) -> np.ndarray:
    """For each coalition (bit mask over all players), its restriction to ``players`` as a
    bit mask over them: bit i is set when player ``players[i]`` is in the coalition."""
    masks = np.arange(n_coalitions)
    sub = np.zeros(n_coalitions, dtype=np.intp)
    for i, k in enumerate(players):
        sub |= ((masks >> k) & 1) << i
    return sub


def _masked(
    rows: np.ndarray, players: tuple[int, ...], player_columns: Sequence[Sequence[int]]
) -> np.ndarray:
    """``rows`` once per coalition of ``players`` (shape ``(2**len(players) * n, d)``,
    coalition-major), each player outside the coalition set to NaN."""
    stacked = np.repeat(rows[None, :, :], 1 << len(players), axis=0)
    for u in range(1 << len(players)):
        for i, k in enumerate(players):
            if not (u >> i) & 1:
                stacked[u][:, list(player_columns[k])] = np.nan
    return stacked.reshape(-1, rows.shape[1])


def _raw_scores(
    trees: HistGradientBoostingClassifier,
    rows: np.ndarray,
    player_columns: Sequence[Sequence[int]],
    tree_players: list[tuple[int, ...]],
) -> np.ndarray:
    """The raw (margin) score of every coalition of every row: shape ``(2**m, n)``."""
    n = rows.shape[0]
    n_coalitions = 1 << len(player_columns)
    known_categories, feature_map = trees._bin_mapper.make_known_categories_bitsets()
    threads = _openmp_effective_n_threads()
    # Each tree's values on the coalitions of its own players, walked per distinct player set
    # so that one masked copy of the rows serves every tree that shares it.
    values: list[np.ndarray | None] = [None] * len(tree_players)
    for players in set(tree_players):
        stacked = _masked(rows, players, player_columns)
        for t, (predictor,) in enumerate(trees._predictors):
            if tree_players[t] == players:
                walked = predictor.predict(stacked, known_categories, feature_map, threads)
                values[t] = walked.reshape(1 << len(players), n)
    raw = np.zeros((n_coalitions, n), dtype=trees._baseline_prediction.dtype)
    raw += trees._baseline_prediction[0]
    restrictions = {p: _restriction(p, n_coalitions) for p in set(tree_players)}
    for t, players in enumerate(tree_players):
        raw += values[t][restrictions[players]]  # type: ignore[index]
    return raw


def coalition_scores(
    scorer: Any, rows: np.ndarray, player_columns: Sequence[Sequence[int]]
) -> np.ndarray:
    """``scorer.predict_proba(masked)[:, 1]`` for every coalition of every row, shape
    ``(2**m, n)``: entry ``[c, i]`` is row i with the columns of each player outside the bit
    mask ``c`` set to NaN. ``scorer`` must pass :func:`supports`."""
    trees = _trees(scorer)
    if trees is None:
        raise ValueError("coalition_scores needs a scorer that supports() accepts")
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    n, d = rows.shape
    n_coalitions = 1 << len(player_columns)
    tree_players = _tree_players([p for (p,) in trees._predictors], player_columns)
    per_row = n_coalitions + sum(1 << len(p) for p in tree_players)
    per_row += d * max((1 << len(p) for p in tree_players), default=1)
    chunk = max(1, _CHUNK_CELLS // per_row)
    out = np.empty((n_coalitions, n))
    for start in range(0, n, chunk):
        raw = _raw_scores(trees, rows[start : start + chunk], player_columns, tree_players)
        proba = trees._loss.predict_proba(raw.reshape(-1))[:, 1]
        out[:, start : start + chunk] = proba.reshape(n_coalitions, -1)
    return out
