"""Scoring in bounded memory: features once, from compact arrays, then pages of nodes.

:func:`score_graph` does what :func:`attribution.classifier.score.score_graph` does, with the
same results node for node, but holds at most one page of scored rows at a time:

1. the graph's facts are streamed into compact arrays
   (:func:`~attribution.features.facts.read_facts`), never into one Python object per node
   or edge;
2. the warninglists are loaded with only the categories a feature column reads, used for the
   nodes to score and released before the model runs;
3. the feature matrix (float64, ``nodes x columns``) is the one structure the size of the
   graph; each page of :data:`PAGE` nodes then gets its evidence families, scores,
   explanations and reasons, and is written back with the schema's ``UNWIND $rows``
   statements on a writer thread while the next page is built: the server writes one page as
   this process computes the next, and at most two pages of rows are held at once.

The result's ``stages_s`` says where the time went: reading the facts, the features, scoring
and explaining the pages, and the time spent waiting for the writer after them. The garbage
collector runs less often meanwhile (:mod:`attribution.collector`).

With ``changed_since_last_run``, only the changed nodes get the per-node work (lexical and
warninglist columns, explanations, the write-back); counts, graph structure and label features
are array operations over the whole graph, so a changed node's features are exactly the ones a
full run gives it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attribution import collector
from attribution.classifier.dataset import Progress
from attribution.classifier.score import (
    EXPLAIN_GATE,
    WRITE_BATCH,
    _changed_nodes,
    _insufficient_row,
    _model_policy,
    _scored_rows,
    _write_scores,
)
from attribution.classifier.store import LATEST, ModelStore
from attribution.db import Graph
from attribution.features import FEATURE_SET_VERSION, FeatureMatrix
from attribution.features.extract import (
    feature_warninglists,
    features_from_facts,
    names_to_match,
)
from attribution.features.facts import read_facts
from attribution.features.families import EvidencePolicy, evidence_families, labelled_nodes
from attribution.labels import NodeKey, read_label_observations, resolve_labels
from attribution.scoring.estimator import (
    ACT,
    INSUFFICIENT_EVIDENCE,
    NO_ACT,
    OUTSIDE_CALIBRATION,
    MaliciousnessClassifier,
)
from attribution.scoring.persistence import load_model

__all__ = ["PAGE", "page_rows", "score_graph"]

PAGE = 5_000
"""Nodes explained and written per page: bounds the explanations and rows held at once."""


def page_rows(
    classifier: MaliciousnessClassifier,
    policy: EvidencePolicy,
    features: FeatureMatrix,
    labelled: set[NodeKey],
    rows: Sequence[int],
    explain: str = EXPLAIN_GATE,
) -> list[dict[str, Any]]:
    """The write-back row of each of ``rows``: scored where the node has the evidence the
    policy asks for, ``insufficient-evidence`` elsewhere; ``explain`` as
    :func:`~attribution.classifier.score.explain_now`."""
    families = evidence_families(features, labelled, rows)
    enough, enough_families, out = [], [], []
    for i, observed in zip(rows, families, strict=True):
        why = policy.shortfall(features.keys[i], observed)
        if why is None:
            enough.append(i)
            enough_families.append(observed)
        else:
            out.append(_insufficient_row(features.keys[i], observed, why))
    return out + _scored_rows(classifier, features, enough, enough_families, explain)


def _features(
    graph: Graph,
    labels: Any,
    selected: set[NodeKey] | None,
    *,
    n_folds: int,
    seed: int,
    warninglists: Any,
    progress: Progress | None,
    stages: dict[str, float],
) -> tuple[int, FeatureMatrix]:
    """(nodes in the graph, features of the selected nodes, or of all); adds the seconds
    spent reading facts and computing features to ``stages``."""
    began = time.perf_counter()
    facts = read_facts(graph)
    stages["read_facts"] = time.perf_counter() - began
    if progress:
        progress("export")
    n_nodes = facts.n_rows
    rows = None
    if selected is not None:
        rows = [i for i, key in enumerate(facts.keys()) if key in selected]
    if warninglists == "settings":
        wanted = names_to_match(facts, rows) if rows is None or rows else None
        warninglists = None if wanted is None else feature_warninglists(wanted)
        if progress:
            progress("warninglists")
    features = features_from_facts(
        facts, labels, n_folds=n_folds, seed=seed, warninglists=warninglists, rows=rows,
        progress=progress,
    )  # fmt: skip
    stages["features"] = time.perf_counter() - began - stages["read_facts"]
    return n_nodes, features


@collector.thresholds()
def score_graph(
    graph: Graph,
    *,
    models_dir: Path,
    model: str = LATEST,
    name: str = "maliciousness",
    changed_since_last_run: bool = False,
    min_families: int | None = None,
    n_folds: int = 5,
    seed: int = 0,
    now: datetime | None = None,
    batch: int = WRITE_BATCH,
    page: int = PAGE,
    warninglists: Any = "settings",
    explain: str = EXPLAIN_GATE,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Score the graph's domains and addresses with ``model`` and write the results back,
    ``page`` nodes at a time; arguments and result as
    :func:`attribution.classifier.score.score_graph` (``warninglists``: a loaded index,
    None, or ``"settings"``; ``explain``: which nodes are explained now, as
    :func:`~attribution.classifier.score.explain_now`)."""
    began = time.perf_counter()
    store = ModelStore(models_dir)
    model_dir = store.resolve(model, name)
    classifier = load_model(model_dir, expected_feature_version=FEATURE_SET_VERSION)
    policy = _model_policy(model_dir, min_families)
    version = store.model_version(model_dir)
    started = now or datetime.now(UTC)
    at_ms = int(started.timestamp() * 1000)
    state = store.read_state(model_dir.parent.name, graph.database)
    selected = _changed_nodes(graph, state, version) if changed_since_last_run else None
    observations = read_label_observations(graph)
    labelled = labelled_nodes(observations)
    stages: dict[str, float] = {}
    n_nodes, features = _features(
        graph, resolve_labels(observations), selected, n_folds=n_folds, seed=seed,
        warninglists=warninglists, progress=progress, stages=stages,
    )  # fmt: skip
    del observations
    decisions = dict.fromkeys((ACT, NO_ACT, OUTSIDE_CALIBRATION, INSUFFICIENT_EVIDENCE), 0)
    explained = written = 0
    stages["score_explain"] = stages["write_wait"] = 0.0

    def collect(pending: Future[int] | None) -> None:
        """Wait for the previous page's write (a failed write raises here) and count it."""
        nonlocal written
        if pending is None:
            return
        began_wait = time.perf_counter()
        written += pending.result()
        stages["write_wait"] += time.perf_counter() - began_wait
        if progress:
            progress(f"scored {written} of {len(features.keys)}")

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="score-write") as writer:
        pending: Future[int] | None = None
        for start in range(0, len(features.keys), page):
            began_page = time.perf_counter()
            chunk = range(start, min(start + page, len(features.keys)))
            rows = page_rows(classifier, policy, features, labelled, chunk, explain)
            explained += sum(row["explanation"] is not None for row in rows)
            for row in rows:
                decisions[row["decision"]] += 1
            stages["score_explain"] += time.perf_counter() - began_page
            collect(pending)
            pending = writer.submit(_write_scores, graph, rows, version, at_ms, batch)
        collect(pending)
    store.write_state(
        model_dir.parent.name, graph.database, {"model_version": version, "last_run_ms": at_ms}
    )
    return {
        "model_version": version, "model_path": str(model_dir),
        "scored_at": started.isoformat(), "nodes": n_nodes, "selected": len(features.keys),
        "written": written, "explained": explained, "explain": explain, "decisions": decisions, "evidence_policy": policy.as_dict(),
        "threshold": float(classifier.threshold_), "changed_since_last_run": selected is not None,
        "seconds": round(time.perf_counter() - began, 3),
        "stages_s": {stage: round(seconds, 3) for stage, seconds in stages.items()},
    }  # fmt: skip
