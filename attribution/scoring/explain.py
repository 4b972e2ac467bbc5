"""A deferred explanation: computed for a report from the feature values recorded with the score.

Scoring explains at once only the nodes the gate acts on
(:func:`attribution.classifier.score.explain_now`): an exact explanation costs ``2**groups``
model evaluations per node. Every scored node carries ``score_features``, the feature row its
score came from, so the explanation of any other node is computed when a report asks for it,
with the model version that scored it. An explanation depends on the row alone
(:mod:`attribution.scoring.shapley`), so it is exactly the one scoring would have written.
Nothing is written back: a report stays a read of the graph.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from attribution.classifier.store import ModelStore
from attribution.features import FEATURE_SET_VERSION
from attribution.scoring.estimator import MaliciousnessClassifier
from attribution.scoring.reasons import DEFERRED_REASON, explain_rows, kind_of
from attribution.settings import Settings

__all__ = ["DEFERRED_NOTE", "Deferred", "deferred_explanation"]

DEFERRED_NOTE = (
    "computed for this report from the feature values recorded with the score, with the model "
    "that scored it; scoring deferred it because the gate does not act on the target"
)


@dataclass(frozen=True)
class Deferred:
    """A deferred explanation as JSON with its reason lines, or the problem that stopped it."""

    explanation: str | None
    reasons: list[str]
    problem: str | None


@lru_cache(maxsize=4)
def _classifier(model_dir: str, manifest_sha256: str, trust: Any) -> MaliciousnessClassifier:
    """The model of a version folder, loaded (signature checked against ``trust``) once per
    manifest digest."""
    # Imported here: reports import this module, and persistence imports the reports' keys.
    from attribution.scoring.persistence import load_model

    del manifest_sha256  # part of the cache key only: a replaced manifest loads again
    return load_model(Path(model_dir), expected_feature_version=FEATURE_SET_VERSION, trust=trust)


def _trust(settings: Settings) -> Any:
    from attribution.scoring.signing import ModelTrust

    return ModelTrust.from_settings(settings)


def _feature_row(raw: Any, width: int) -> np.ndarray:
    values = json.loads(raw) if isinstance(raw, str) else None
    if not isinstance(values, list) or len(values) != width:
        raise ValueError(f"score_features is not a list of {width} values")
    row = [math.nan if v is None else v for v in values]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in row):
        raise ValueError("score_features holds a value that is not a number")
    return np.asarray([row], dtype=np.float64)


def deferred_explanation(props: Mapping[str, Any], label: str, settings: Settings) -> Deferred:
    """The explanation of a scored node whose scoring deferred it (``props``: the node's
    properties, ``label``: Domain or IPAddress), with the models and model trust of
    ``settings``."""
    store = ModelStore(settings.models_dir)
    manifest = store.manifest(props.get("model_version"))
    if manifest.problem is not None or manifest.sha256 is None:
        return Deferred(None, [], manifest.problem or "the model manifest is unreadable")
    model_dir = store.version_dir(manifest.name, manifest.version)
    try:
        classifier = _classifier(str(model_dir), manifest.sha256, _trust(settings))
        row = _feature_row(props.get("score_features"), len(classifier.feature_names_))
    except (OSError, ValueError) as exc:  # ModelLoadError and ModelSigningError are ValueErrors
        # As the manifest's problems do, name the model by its place under the models folder.
        where = f"models/{manifest.name}/{manifest.version}"
        return Deferred(None, [], str(exc).replace(str(model_dir), where))
    explanation, reasons = explain_rows(classifier, row, [kind_of(label)])[0]
    # Reasons scoring wrote besides the deferral (an outside-calibration line) come first, as
    # they would beside an explanation written at once.
    kept = [r for r in props.get("reasons") or [] if r != DEFERRED_REASON]
    return Deferred(json.dumps(explanation, sort_keys=True), [*kept, *reasons], None)
