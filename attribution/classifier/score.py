"""What a score run writes, and how: the rows per node and the write-back statements.

The run itself (features from streamed facts, pages of nodes scored, explained and written
back) is :func:`attribution.scoring.paged.score_graph`; this module holds the parts it shares.

Every Domain and IPAddress (or those changed since the last run) gets ``score`` (the
Venn-ABERS probability) with its interval ``score_low``/``score_high``, ``decision``
(``act`` / ``no-act`` / ``outside-calibration``), ``model_version``, ``scored_at``,
``evidence_families``, ``score_features`` (the feature values the score came from) and, for
the nodes :func:`explain_now` picks, ``explanation`` (exact Shapley values over the feature
groups, as JSON) and ``reasons`` (its largest contributions with the node's values). The other
nodes' explanations are deferred: their ``reasons`` say so, and a report computes the
explanation from ``score_features`` (:mod:`attribution.scoring.explain`). A node with fewer
independent evidence families than the model's policy (:mod:`attribution.features.families`)
gets ``insufficient-evidence``, no score, and a reason naming what was and was not observed.

The write-back statements are generated from the schema: one parameterised
``UNWIND $rows ... SET`` per target kind (:data:`attribution.schema.TARGETS`), setting only
properties the target's node spec declares; an undeclared one fails at import.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from attribution.classifier.dataset import DEFAULT_MIN_FAMILIES
from attribution.classifier.store import ModelManifest
from attribution.db import Graph
from attribution.features import FeatureMatrix
from attribution.features.families import (
    FAMILIES,
    EvidencePolicy,
)
from attribution.labels import NodeKey
from attribution.schema import NODE_BY_LABEL, RELATIONSHIPS, TARGETS
from attribution.scoring.estimator import (
    ACT,
    INSUFFICIENT_EVIDENCE,
    OUTSIDE_CALIBRATION,
    MaliciousnessClassifier,
)
from attribution.scoring.reasons import DEFERRED_REASON, explain_rows, kind_of

__all__ = [
    "DEFERRED_REASON",
    "EXPLAIN_ALL",
    "EXPLAIN_GATE",
    "ROW_PROPERTIES",
    "RUN_PROPERTIES",
    "changed_statement",
    "explain_now",
    "feature_row_json",
    "score_statements",
]

WRITE_BATCH = 5000
REASONS = 3

ROW_PROPERTIES = (
    "score",
    "score_low",
    "score_high",
    "decision",
    "reasons",
    "explanation",
    "evidence_families",
    "score_features",
)
"""Score properties each node's row carries under the property's own name."""

EXPLAIN_GATE = "gate"
EXPLAIN_ALL = "all"

RUN_PROPERTIES = {"model_version": "$version", "scored_at": "datetime({epochMillis: $at})"}
"""Score properties one run sets alike on every node it scores, and the value it sets."""
_CHANGE_PROPERTIES = ("scored_at", "last_seen")
"""Properties the query for changed nodes reads."""


def _check_declared(label: str, properties: Sequence[str]) -> None:
    declared = {prop.name for prop in NODE_BY_LABEL[label].all_props()}
    undeclared = [name for name in properties if name not in declared]
    if undeclared:
        raise LookupError(
            f"scoring uses {', '.join(undeclared)} on {label}, which attribution.schema does "
            "not declare on that node"
        )


def score_statements(
    row_properties: Sequence[str] = ROW_PROPERTIES,
    run_properties: Mapping[str, str] = RUN_PROPERTIES,
) -> dict[str, str]:
    """The write-back statement of each target label: ``$rows`` of ``key`` plus
    ``row_properties``, with the run's ``$version`` and ``$at``.

    Raises :class:`LookupError` when a property is not declared on the target's node spec."""
    assignments = [f"n.{name} = row.{name}" for name in row_properties]
    assignments += [f"n.{name} = {value}" for name, value in run_properties.items()]
    statements = {}
    for target in TARGETS.values():
        _check_declared(target.label, [*row_properties, *run_properties])
        statements[target.label] = (
            f"UNWIND $rows AS row MATCH (n:{target.label} {{{target.key}: row.key}})\n"
            f"SET {', '.join(assignments)}"
        )
    return statements


def changed_statement() -> str:
    """Targets never scored, or with a fact (their own or a relationship's) seen after
    ``$since`` (epoch milliseconds): ``label`` and ``key`` of each, once.

    Changed relationships come from each type's ``last_seen`` index (a seek of what changed,
    in either direction the target takes part in), not from expanding every target's
    relationships (each seek is named: the time is a parameter, so the planner cannot see how
    few relationships are newer and may choose the expansion); the targets' own ``scored_at``
    and ``last_seen`` are read in one pass over the label (a node never scored has no value an
    index could find)."""
    since = "datetime({epochMillis: $since})"
    parts = []
    for target in TARGETS.values():
        label = target.label
        _check_declared(label, _CHANGE_PROPERTIES)
        branches = [f"MATCH (n:{label}) WHERE n.scored_at IS NULL OR n.last_seen > {since}"]
        for rel in RELATIONSHIPS:
            if not rel.provenance:
                continue
            hint, newer = f"USING INDEX r:{rel.type}(last_seen)", f"r.last_seen > {since}"
            if rel.start == label:
                branches.append(f"MATCH (n:{label})-[r:{rel.type}]->() {hint} WHERE {newer}")
            if rel.end == label:
                branches.append(f"MATCH ()-[r:{rel.type}]->(n:{label}) {hint} WHERE {newer}")
        union = "\n  UNION\n".join(f"  {branch} RETURN n" for branch in branches)
        parts.append(f"CALL () {{\n{union}\n}}\nRETURN '{label}' AS label, n.{target.key} AS key")
    return "\nUNION ALL\n".join(parts)


_WRITE_SCORES = score_statements()
_CHANGED = changed_statement()
_ROW_FIELDS = ("key", *ROW_PROPERTIES)


def _write_scores(
    graph: Graph, rows: list[dict[str, Any]], version: str, at_ms: int, batch: int
) -> int:
    written = 0
    for label, statement in _WRITE_SCORES.items():
        mine = [r for r in rows if r["label"] == label]
        for start in range(0, len(mine), batch):
            chunk = [{k: r[k] for k in _ROW_FIELDS} for r in mine[start : start + batch]]

            def work(tx: Any, c: list[dict[str, Any]] = chunk, s: str = statement) -> None:
                tx.run(s, rows=c, version=version, at=at_ms).consume()

            graph.write(work)
            written += len(chunk)
    return written


def _model_policy(model_dir: Path, override: int | None) -> EvidencePolicy:
    """The evidence policy the model was trained with, unless the caller overrides it."""
    if override is not None:
        return EvidencePolicy(override)
    recorded = ModelManifest.read(model_dir, model_dir.parent.name, model_dir.name).min_families
    return EvidencePolicy(DEFAULT_MIN_FAMILIES if recorded is None else recorded)


def _insufficient_row(key: NodeKey, observed: frozenset[str], why: str) -> dict[str, Any]:
    seen = [f for f in FAMILIES if f in observed]
    unseen = [f for f in FAMILIES if f not in observed]
    reason = (
        f"insufficient evidence: {why}; observed: {', '.join(seen) or 'nothing'}; "
        f"not observed: {', '.join(unseen)}"
    )
    return {
        "label": key[0], "key": key[1], "score": None, "score_low": None, "score_high": None,
        "decision": INSUFFICIENT_EVIDENCE, "reasons": [reason], "explanation": None,
        "evidence_families": seen, "score_features": None,
    }  # fmt: skip


def _outside_reason(classifier: MaliciousnessClassifier, pattern: str) -> str:
    """Why a row with evidence ``pattern`` is outside calibration: the pattern's support."""
    support = classifier.pattern_counts_.get(pattern, 0)
    return (
        f"outside calibration: evidence pattern {pattern or 'none'} has {support} benign "
        f"calibration samples (fewer than {classifier.min_pattern_count})"
    )


def explain_now(decided: np.ndarray, mode: str) -> np.ndarray:
    """Which scored rows (``decided``: their gate decisions) get their explanation now: every
    row with :data:`EXPLAIN_ALL`; with :data:`EXPLAIN_GATE`, those the gate acts on: the only
    ones a reviewer may be asked to approve. An exact explanation costs
    ``2**groups`` model evaluations per row, most of a full run's time when every row gets one.
    """
    if mode == EXPLAIN_ALL:
        return np.ones(len(decided), dtype=bool)
    if mode != EXPLAIN_GATE:
        raise ValueError(f"explain mode must be {EXPLAIN_GATE!r} or {EXPLAIN_ALL!r}, not {mode!r}")
    return np.asarray(decided == ACT)


def feature_row_json(row: np.ndarray) -> str:
    """A feature row as JSON, ``null`` where not observed; floats round-trip exactly."""
    return json.dumps([None if math.isnan(v) else v for v in row.tolist()])


def _scored_rows(
    classifier: MaliciousnessClassifier,
    features: FeatureMatrix,
    rows: list[int],
    families: list[frozenset[str]],
    explain: str = EXPLAIN_GATE,
) -> list[dict[str, Any]]:
    """Score, interval, decision and explanation for each of ``rows`` (enough evidence)."""
    if not rows:
        return []
    X = features.X[rows]
    # One validation and one pass of the fold scorers for the page's scores, intervals,
    # decisions and evidence patterns (a call each would repeat both, per row for patterns).
    assessed = classifier.assess(X)
    proba, interval, decided = assessed.proba, assessed.interval, assessed.decisions
    kinds = [kind_of(features.keys[i][0]) for i in rows]
    now = np.flatnonzero(explain_now(decided, explain))
    rows_now = explain_rows(classifier, X[now], [kinds[j] for j in now], REASONS)
    explained = dict(zip(now.tolist(), rows_now, strict=True))
    deferred = [DEFERRED_REASON]
    out = []
    for j, i in enumerate(rows):
        label, key = features.keys[i]
        explanation, reasons = explained.get(j, (None, deferred))
        if decided[j] == OUTSIDE_CALIBRATION:
            reasons = [_outside_reason(classifier, assessed.patterns[j]), *reasons]
        out.append(
            {
                "label": label, "key": key, "score": float(proba[j]),
                "score_low": float(interval[j, 0]), "score_high": float(interval[j, 1]),
                "decision": str(decided[j]), "reasons": reasons,
                "explanation": None if explanation is None else json.dumps(
                    explanation, sort_keys=True
                ),
                "evidence_families": [f for f in FAMILIES if f in families[j]],
                "score_features": feature_row_json(X[j]),
            }
        )  # fmt: skip
    return out


def _changed_nodes(graph: Graph, state: dict[str, Any] | None, version: str) -> set[NodeKey] | None:
    if state is None or state.get("model_version") != version:
        return None
    rows = graph.read(
        _CHANGED, {"since": int(state["last_run_ms"])}, metadata={"query": "score.changed"}
    )
    return {(r["label"], r["key"]) for r in rows}
