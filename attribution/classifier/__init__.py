"""The classifier on the graph: one module per job.

:mod:`~attribution.classifier.dataset` reads the labelled data set from the graph,
:mod:`~attribution.classifier.train` fits and saves a version,
:mod:`~attribution.classifier.score` holds the score rows and write-back statements (the run
is :func:`attribution.scoring.paged.score_graph`),
:mod:`~attribution.classifier.evaluate` measures it over repeated splits against
:mod:`~attribution.classifier.baselines`, and :mod:`~attribution.classifier.store` knows where
every model's files are. The estimator itself is :mod:`attribution.scoring`.

The names below are loaded on first use, so that reading a manifest through the store (for a
report) does not import scikit-learn.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from attribution.classifier.baselines import naive_rule
    from attribution.classifier.dataset import Dataset, build_dataset
    from attribution.classifier.evaluate import evaluate_dataset, evaluate_model
    from attribution.classifier.store import ModelManifest, ModelStore
    from attribution.classifier.train import train_model

_HOME = {
    "Dataset": "dataset",
    "ModelManifest": "store",
    "ModelStore": "store",
    "build_dataset": "dataset",
    "evaluate_dataset": "evaluate",
    "evaluate_model": "evaluate",
    "naive_rule": "baselines",
    "train_model": "train",
}

__all__ = [
    "Dataset",
    "ModelManifest",
    "ModelStore",
    "build_dataset",
    "evaluate_dataset",
    "evaluate_model",
    "naive_rule",
    "train_model",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
