"""The classifier on the graph: data set, training, scoring, evaluation and the model store."""

from attribution.classifier.store import ModelManifest, ModelStore

__all__ = ["ModelManifest", "ModelStore"]
