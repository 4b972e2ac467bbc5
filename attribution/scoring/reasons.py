"""A score's explanation as data and as reason lines, from its group Shapley values.

Each explanation states what the contributions add up to: ``score - base_value``, where the
base value is the score of the same kind of node with nothing observed. Every contribution
carries the node's own values of the features in its group, so a reviewer can check it
against the evidence; a group the node did not observe is listed under ``not_observed`` and
never as a contribution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from attribution.features import GROUP_TITLES
from attribution.schema import TARGETS
from attribution.scoring.shapley import GroupShapley

if TYPE_CHECKING:
    from attribution.scoring.estimator import MaliciousnessClassifier

__all__ = ["DEFERRED_REASON", "METHOD", "explain_rows", "explanations", "kind_of", "reason_lines"]

METHOD = "shapley-over-feature-groups"
DEFERRED_REASON = (
    "explanation deferred: the gate does not act on this node; a report on it computes the "
    "explanation from the feature values recorded with the score"
)
"""The reason line of a scored node whose explanation scoring deferred."""


def kind_of(label: str) -> str:
    """How an explanation's base value names a node of ``label``: "an address" or "a domain"."""
    return "an address" if label == TARGETS["ip"].label else "a domain"


def _value(value: float) -> float | int:
    """A feature value as JSON: whole numbers as integers, others rounded to 6 places."""
    if float(value).is_integer():
        return int(value)
    return round(float(value), 6)


def _contribution(
    name: str, title: str, phi: float, row: np.ndarray, columns: Sequence[int], names: Sequence[str]
) -> dict[str, Any]:
    values = {names[c]: _value(row[c]) for c in columns if not math.isnan(row[c])}
    return {"group": name, "title": title, "contribution": float(phi), "values": values}


def explanations(
    result: GroupShapley,
    X: np.ndarray,
    feature_names: Sequence[str],
    groups: Mapping[str, Sequence[int]],
    titles: Mapping[str, str],
    kinds: Sequence[str],
) -> list[dict[str, Any]]:
    """One explanation per row of ``X`` (``kinds[i]`` names the node kind for the base)."""
    out = []
    for i, row in enumerate(X):
        contributions, absent = [], []
        for g, name in enumerate(result.groups):
            columns = groups[name]
            title = titles.get(name, name)
            if not result.observed[i, g]:
                absent.append(title)
                continue
            contributions.append(
                _contribution(name, title, result.values[i, g], row, columns, feature_names)
            )
        contributions.sort(key=lambda c: (-abs(c["contribution"]), c["group"]))
        out.append(
            {
                "method": METHOD,
                "score": float(result.scores[i]),
                "base_value": float(result.base[i]),
                "base_description": f"the score of {kinds[i]} with no evidence observed",
                "contributions": contributions,
                "not_observed": absent,
            }
        )
    return out


def reason_lines(explanation: Mapping[str, Any], top: int = 3) -> list[str]:
    """The ``top`` largest contributions as lines, e.g.
    ``hosting: host_cohost_max 68, dns_distinct_asn 1 (+0.21)``."""
    lines = []
    for item in explanation["contributions"][:top]:
        values = ", ".join(f"{k} {v:g}" for k, v in item["values"].items())
        lines.append(f"{item['title']}: {values} ({item['contribution']:+.2f})")
    return lines


def explain_rows(
    classifier: MaliciousnessClassifier, X: np.ndarray, kinds: Sequence[str], top: int = 3
) -> list[tuple[dict[str, Any], list[str]]]:
    """(explanation, ``top`` reason lines) of each row of ``X``; ``kinds[i]``: the row's node
    kind (:func:`kind_of`). Depends on the row alone, so a deferred explanation equals an immediate one.
    """
    if not len(X):
        return []
    shapley = classifier.shapley(X)
    explained = explanations(
        shapley, X, classifier.feature_names_, classifier.groups_, GROUP_TITLES, kinds
    )
    return [(item, reason_lines(item, top)) for item in explained]
