"""Grouped counts, minima and medians over integer id arrays: the set and list operations the
features need, done with numpy instead of a Python set or list per node.

Every function returns exactly what the per-node Python computation would: counts are
integers, a median of an even number of values is ``(a + b) / 2`` of the two middle ones, as
:func:`statistics.median` computes it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["count", "expand", "group_max", "group_min_median", "group_sum", "unique_pairs"]


def unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (a, b) pairs, sorted by a then b (a set of pairs per a)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if a.size == 0:
        return a, b
    width = int(b.max()) + 1
    keys = np.unique(a * width + b)
    return keys // width, keys % width


def count(groups: np.ndarray, n: int) -> np.ndarray:
    """How many entries each of ``n`` groups has."""
    return np.bincount(np.asarray(groups, dtype=np.int64), minlength=n)[:n]


def group_sum(groups: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(np.asarray(groups, dtype=np.int64), weights=values, minlength=n)[:n]


def group_max(groups: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Largest value per group, NaN for a group without values."""
    out = np.full(n, np.nan)
    np.fmax.at(out, np.asarray(groups, dtype=np.int64), np.asarray(values, dtype=float))
    return out


def group_min_median(
    groups: np.ndarray, values: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and median of each group's values (NaN values ignored; NaN when none)."""
    keep = ~np.isnan(values)
    g, v = np.asarray(groups, dtype=np.int64)[keep], values[keep]
    order = np.lexsort((v, g))
    g, v = g[order], v[order]
    counts = np.bincount(g, minlength=n)[:n]
    starts = np.cumsum(counts) - counts
    has = counts > 0
    low, median = np.full(n, np.nan), np.full(n, np.nan)
    low[has] = v[starts[has]]
    mid = (starts + counts // 2)[has]
    odd = (counts % 2 == 1)[has]
    upper = v[mid]
    lower = v[np.where(odd, mid, mid - 1)]
    median[has] = np.where(odd, upper, (lower + upper) / 2)
    return low, median


def expand(
    sources: np.ndarray, via: np.ndarray, table_keys: np.ndarray, table_values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Join: for each ``(sources[i], via[i])``, one pair ``(sources[i], v)`` per row of the
    table whose key is ``via[i]`` (``table_keys`` need not be sorted)."""
    order = np.argsort(table_keys, kind="stable")
    keys, values = np.asarray(table_keys)[order], np.asarray(table_values)[order]
    begin = np.searchsorted(keys, via, side="left")
    end = np.searchsorted(keys, via, side="right")
    lengths = end - begin
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64), values[:0]
    out_sources = np.repeat(np.asarray(sources, dtype=np.int64), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return out_sources, values[np.repeat(begin, lengths) + offsets]
