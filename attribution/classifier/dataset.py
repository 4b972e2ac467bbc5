"""The labelled data set the classifier is trained and evaluated on, read from the graph.

Which labels go where. Label-derived *features* (registrar / AS rates, neighbour share,
PageRank) always come from the labels in the graph (feeds, allowlists, confirmed incidents,
analysts), cross-fitted so that no node sees its own label. The *targets* come from the graph's
resolved labels by default; with ``truth`` (an evaluation world's ``labels/truth.csv``) they come
from the ground truth, which is complete where the feed covers only part of the malicious
nodes and has a few mistakes. Nodes with insufficient evidence are left out of training and of
the evaluation: scoring never acts on them, so they can be neither true nor false positives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attribution.db import Graph
from attribution.features import FeatureMatrix, build_features
from attribution.features.families import EvidencePolicy, evidence_families, labelled_nodes
from attribution.labels import (
    NodeKey,
    TruthRow,
    read_label_observations,
    read_truth,
    resolve_labels,
)

__all__ = ["DEFAULT_MIN_FAMILIES", "Dataset", "Progress", "build_dataset"]

DEFAULT_MIN_FAMILIES = EvidencePolicy().min_families
LOOKALIKE_PREFIXES = ("lookalike",)
LOOKALIKE_CATEGORIES = frozenset({"dynamic-dns", "cdn-hostname"})
"""Truth categories of benign nodes that look malicious to naive rules."""

Progress = Callable[[str], None]
"""Told each finished step of a long run, for the command line to show."""


@dataclass
class Dataset:
    """Features of every node, and the rows that have a target and enough evidence."""

    features: FeatureMatrix
    rows: np.ndarray
    y: np.ndarray
    categories: list[str]
    target_source: str
    skipped_insufficient: int = 0
    truth_missing_from_graph: int = 0

    @property
    def X(self) -> np.ndarray:
        return self.features.X[self.rows]

    def lookalike_mask(self) -> np.ndarray:
        """Benign rows whose truth category is a look-alike that naive rules flag."""
        return np.array(
            [
                label == 0 and (c.startswith(LOOKALIKE_PREFIXES) or c in LOOKALIKE_CATEGORIES)
                for label, c in zip(self.y, self.categories, strict=True)
            ],
            dtype=bool,
        )


def build_dataset(
    graph: Graph,
    *,
    truth: Path | None = None,
    n_folds: int = 5,
    seed: int = 0,
    min_families: int = DEFAULT_MIN_FAMILIES,
    progress: Progress | None = None,
) -> Dataset:
    """Features from the graph, targets from the graph's labels or from ``truth``.

    A node with fewer evidence families than ``min_families`` is left out: scoring never
    decides about it, so it can be neither a true nor a false positive.
    """
    policy = EvidencePolicy(min_families)
    observations = read_label_observations(graph)
    labels = resolve_labels(observations)
    features = build_features(graph, labels, n_folds=n_folds, seed=seed, progress=progress)
    labelled = labelled_nodes(observations)
    index = features.index()
    targets: dict[NodeKey, tuple[int, str]]
    missing = 0
    if truth is not None:
        truth_rows: Mapping[NodeKey, TruthRow] = read_truth(truth)
        targets = {k: (int(t.malicious), t.category) for k, t in truth_rows.items()}
        missing = sum(1 for k in targets if k not in index)
        source = f"truth:{Path(truth).name}"
    else:
        targets = {k: (int(v.malicious), v.kind) for k, v in labels.items()}
        source = "graph-labels"
    candidates = [(key, index[key]) for key in sorted(targets) if key in index]
    families = evidence_families(features, labelled, [i for _, i in candidates])
    rows, y, categories = [], [], []
    skipped = 0
    for (key, i), observed in zip(candidates, families, strict=True):
        if policy.shortfall(key, observed) is not None:
            skipped += 1
            continue
        rows.append(i)
        y.append(targets[key][0])
        categories.append(targets[key][1])
    return Dataset(
        features=features,
        rows=np.array(rows, dtype=int),
        y=np.array(y, dtype=int),
        categories=categories,
        target_source=source,
        skipped_insufficient=skipped,
        truth_missing_from_graph=missing,
    )
