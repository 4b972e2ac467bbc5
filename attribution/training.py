"""Train, score and evaluate the maliciousness classifier on the graph.

``train``
    Features from the graph (:mod:`attribution.features`), targets from the graph's resolved
    labels (:mod:`attribution.labels`) or, for evaluation worlds, from a ground-truth CSV given
    explicitly; cross-validated metrics; the final :class:`MaliciousnessClassifier` saved with
    :func:`attribution.scoring.persistence.save_model` as the next version
    ``models/<name>/v<N>/`` (never overwriting).
``score``
    Every Domain and IPAddress (or those changed since the last run) gets ``score`` (the
    Venn-ABERS probability) with its interval ``score_low``/``score_high``, ``decision``
    (``act`` / ``no-act`` / ``outside-calibration``), ``model_version``, ``scored_at``,
    ``evidence_families``, ``explanation`` (exact Shapley values over the feature groups, as
    JSON) and ``reasons`` (its largest contributions with the node's values), written with
    parameterised ``UNWIND ... SET`` in batches. A node with fewer independent evidence
    families than the model's policy (:mod:`attribution.features.families`) gets
    ``insufficient-evidence``, no score, and a reason naming what was and was not observed.
``evaluate``
    Repeated random splits (stratified, 30 % held out): held-out ROC and PR AUC, Brier, ECE,
    TPR and empirical FPR at the gate, the share of splits whose FPR stays within alpha, and
    two baselines with their false-positive rates on benign look-alikes.

Which labels go where. Label-derived *features* (registrar / AS rates, neighbour share,
PageRank) always come from the labels in the graph (feeds, allowlists, confirmed incidents,
analysts), cross-fitted so that no node sees its own label. The *targets* come from the graph's
resolved labels by default; with ``truth`` (an evaluation world's ``labels/truth.csv``) they come
from the ground truth, which is complete where the feed covers only part of the malicious
nodes and has a few mistakes. Nodes with insufficient evidence are left out of training and of
the evaluation: scoring never acts on them, so they can be neither true nor false positives.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from attribution.classifier.store import ModelManifest, ModelStore
from attribution.db import Graph
from attribution.features import (
    FEATURE_GROUPS,
    FEATURE_NAMES,
    FEATURE_SET_VERSION,
    GROUP_TITLES,
    FeatureMatrix,
    build_features,
)
from attribution.features.families import (
    FAMILIES,
    EvidencePolicy,
    evidence_families,
    labelled_nodes,
)
from attribution.labels import (
    NodeKey,
    TruthRow,
    import_label_file,
    read_label_observations,
    read_truth,
    resolve_labels,
)
from attribution.schema import TARGETS
from attribution.scoring.baselines import plain_gate, uncalibrated_at_half
from attribution.scoring.estimator import (
    OUTSIDE_CALIBRATION,
    MaliciousnessClassifier,
)
from attribution.scoring.metrics import (
    evaluate_scores,
    gate_rates,
    write_reliability_diagram,
    write_roc_curve,
)
from attribution.scoring.reasons import explanations, reason_lines

__all__ = [
    "DEFAULT_MIN_FAMILIES",
    "INSUFFICIENT",
    "Dataset",
    "build_dataset",
    "evaluate_model",
    "load_world_facts",
    "score_graph",
    "train_model",
]

DEFAULT_MIN_FAMILIES = EvidencePolicy().min_families
INSUFFICIENT = "insufficient-evidence"
NAIVE_ENTROPY_BITS = 3.5
"""The naive baseline calls a name DGA-looking at this character entropy (bits/char) or more."""
LOOKALIKE_PREFIXES = ("lookalike",)
LOOKALIKE_CATEGORIES = frozenset({"dynamic-dns", "cdn-hostname"})
WRITE_BATCH = 5000
REASONS = 3

Progress = Callable[[str], None]


# --------------------------------------------------------------------------- data set


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


def _classifier(alpha: float, delta: float, seed: int, **kwargs: Any) -> MaliciousnessClassifier:
    return MaliciousnessClassifier(
        alpha=alpha,
        delta=delta,
        feature_names=list(FEATURE_NAMES),
        feature_groups={name: list(columns) for name, columns in FEATURE_GROUPS.items()},
        random_state=seed,
        **kwargs,
    )


# --------------------------------------------------------------------------- train


def cross_validated_metrics(
    X: np.ndarray, y: np.ndarray, *, alpha: float, delta: float, n_folds: int, seed: int
) -> dict[str, float]:
    """Mean held-out metrics over stratified folds, each fold scored by a model fitted without it.

    A fold whose training part has too few benign samples for the gate gets a closed gate
    (never acts) rather than an error, so small graphs still report their AUCs.
    """
    from sklearn.model_selection import StratifiedKFold

    folds = min(n_folds, int(np.bincount(y, minlength=2).min()))
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 samples of each class")
    per_fold = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(splitter.split(X, y)):
        model = _classifier(alpha, delta, seed + k, on_insufficient="warn").fit(X[train], y[train])
        proba = model.predict_proba(X[test])[:, 1]
        per_fold.append(evaluate_scores(y[test], proba, float(model.threshold_)))
    keys = ("roc_auc", "pr_auc", "brier", "ece", "gate_tpr", "gate_fpr")
    return {f"cv_{k}": float(np.nanmean([m[k] for m in per_fold])) for k in keys} | {
        "cv_folds": float(folds)
    }


def train_model(
    graph: Graph,
    *,
    models_dir: Path,
    name: str = "maliciousness",
    alpha: float = 0.01,
    delta: float = 0.05,
    batch_size: int | None = None,
    n_folds: int = 5,
    truth: Path | None = None,
    seed: int = 0,
    min_families: int = DEFAULT_MIN_FAMILIES,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fit, cross-validate and save the next model version; return what was saved.

    ``min_families`` (the evidence policy) is written into the manifest: scoring with this
    model applies the same policy as the data it was trained and calibrated on.

    ``batch_size`` selects the batch guarantee of the gate (see
    :class:`~attribution.scoring.MaliciousnessClassifier`); ``None`` is the population one.
    """
    from attribution.scoring.persistence import save_model

    policy = EvidencePolicy(min_families)
    data = build_dataset(
        graph, truth=truth, n_folds=n_folds, seed=seed, min_families=min_families,
        progress=progress,
    )  # fmt: skip
    X, y = data.X, data.y
    if y.size == 0 or np.unique(y).size < 2:
        raise ValueError(
            f"training needs benign and malicious examples with enough evidence; "
            f"found {int((y == 0).sum())} benign and {int((y == 1).sum())} malicious"
        )
    metrics = cross_validated_metrics(X, y, alpha=alpha, delta=delta, n_folds=n_folds, seed=seed)
    if progress:
        progress("cross-validation")
    model = _classifier(alpha, delta, seed, batch_size=batch_size).fit(X, y)
    version = ModelStore(models_dir).next_version(name)
    path = save_model(
        model,
        models_dir,
        name,
        version,
        feature_version=FEATURE_SET_VERSION,
        X_train=X,
        y_train=y,
        metrics=metrics,
        feature_names=list(FEATURE_NAMES),
        evidence_policy=policy.as_dict(),
    )
    return {
        "name": name,
        "version": version,
        "path": str(path),
        "target_source": data.target_source,
        "n_samples": int(y.size),
        "n_benign": int((y == 0).sum()),
        "n_malicious": int((y == 1).sum()),
        "skipped_insufficient_evidence": data.skipped_insufficient,
        "threshold": float(model.threshold_),
        "n_calibration_benign": int(model.n_calibration_benign_),
        "alpha": alpha,
        "delta": delta,
        "batch_size": batch_size,
        "evidence_policy": policy.as_dict(),
        "metrics": metrics,
    }


# --------------------------------------------------------------------------- score


_CHANGED = """
MATCH (n:Domain)
WHERE n.scored_at IS NULL OR n.last_seen > datetime({epochMillis: $since})
   OR EXISTS { MATCH (n)-[r]-() WHERE r.last_seen > datetime({epochMillis: $since}) }
RETURN 'Domain' AS label, n.name AS key
UNION ALL
MATCH (n:IPAddress)
WHERE n.scored_at IS NULL OR n.last_seen > datetime({epochMillis: $since})
   OR EXISTS { MATCH (n)-[r]-() WHERE r.last_seen > datetime({epochMillis: $since}) }
RETURN 'IPAddress' AS label, n.address AS key
"""

_WRITE_SCORES = {
    target.label: f"UNWIND $rows AS row MATCH (n:{target.label} {{{target.key}: row.key}})\n"
    for target in TARGETS.values()
}
_SET_SCORES = (
    "SET n.score = row.score, n.score_low = row.low, n.score_high = row.high,\n"
    "    n.decision = row.decision, n.model_version = $version,\n"
    "    n.scored_at = datetime({epochMillis: $at}), n.reasons = row.reasons,\n"
    "    n.explanation = row.explanation, n.evidence_families = row.families"
)
_SCORE_FIELDS = ("key", "score", "low", "high", "decision", "reasons", "explanation", "families")


def _write_scores(
    graph: Graph, rows: list[dict[str, Any]], version: str, at_ms: int, batch: int
) -> int:
    written = 0
    for label, match in _WRITE_SCORES.items():
        mine = [r for r in rows if r["label"] == label]
        statement = match + _SET_SCORES
        for start in range(0, len(mine), batch):
            chunk = [{k: r[k] for k in _SCORE_FIELDS} for r in mine[start : start + batch]]

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
        "label": key[0], "key": key[1], "score": None, "low": None, "high": None,
        "decision": INSUFFICIENT, "reasons": [reason], "explanation": None, "families": seen,
    }  # fmt: skip


def _scored_rows(
    classifier: MaliciousnessClassifier,
    features: FeatureMatrix,
    rows: list[int],
    families: list[frozenset[str]],
) -> list[dict[str, Any]]:
    """Score, interval, decision and explanation for each of ``rows`` (enough evidence)."""
    if not rows:
        return []
    X = features.X[rows]
    shapley = classifier.shapley(X)
    proba = shapley.scores  # the full coalition's score is the probability itself
    interval = classifier.predict_interval(X)
    decided = classifier.decide(X)
    kinds = ["an address" if features.keys[i][0] == "IPAddress" else "a domain" for i in rows]
    explained = explanations(
        shapley, X, classifier.feature_names_, classifier.groups_, GROUP_TITLES, kinds
    )
    out = []
    for j, i in enumerate(rows):
        label, key = features.keys[i]
        reasons = reason_lines(explained[j], REASONS)
        if decided[j] == OUTSIDE_CALIBRATION:
            pattern = classifier.evidence_patterns(X[j : j + 1])[0]
            support = classifier.pattern_counts_.get(pattern, 0)
            reasons.insert(
                0,
                f"outside calibration: evidence pattern {pattern or 'none'} has {support} benign "
                f"calibration samples (fewer than {classifier.min_pattern_count})",
            )
        out.append(
            {
                "label": label, "key": key, "score": float(proba[j]),
                "low": float(interval[j, 0]), "high": float(interval[j, 1]),
                "decision": str(decided[j]), "reasons": reasons,
                "explanation": json.dumps(explained[j], sort_keys=True),
                "families": [f for f in FAMILIES if f in families[j]],
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


def score_graph(
    graph: Graph,
    *,
    models_dir: Path,
    model: str = "latest",
    name: str = "maliciousness",
    changed_since_last_run: bool = False,
    min_families: int | None = None,
    n_folds: int = 5,
    seed: int = 0,
    now: datetime | None = None,
    batch: int = WRITE_BATCH,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Score the graph's domains and addresses and write the results back.

    Features of labelled nodes stay cross-fitted (``n_folds``, ``seed``), so a node's score
    never echoes its own label; unlabelled nodes see every label. The evidence policy is the
    model's own (its manifest), unless ``min_families`` overrides it.
    """
    from attribution.scoring.persistence import load_model

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
    features = build_features(
        graph, resolve_labels(observations), n_folds=n_folds, seed=seed, progress=progress
    )
    chosen = [i for i, key in enumerate(features.keys) if selected is None or key in selected]
    families = evidence_families(features, labelled_nodes(observations), chosen)
    enough, enough_families, out_rows = [], [], []
    for i, observed in zip(chosen, families, strict=True):
        why = policy.shortfall(features.keys[i], observed)
        if why is None:
            enough.append(i)
            enough_families.append(observed)
        else:
            out_rows.append(_insufficient_row(features.keys[i], observed, why))
    out_rows += _scored_rows(classifier, features, enough, enough_families)
    if progress:
        progress("scored")
    decisions = dict.fromkeys(("act", "no-act", OUTSIDE_CALIBRATION, INSUFFICIENT), 0)
    for row in out_rows:
        decisions[row["decision"]] += 1
    written = _write_scores(graph, out_rows, version, at_ms, batch)
    store.write_state(
        model_dir.parent.name, graph.database, {"model_version": version, "last_run_ms": at_ms}
    )
    return {
        "model_version": version,
        "model_path": str(model_dir),
        "scored_at": started.isoformat(),
        "nodes": len(features.keys),
        "selected": len(chosen),
        "written": written,
        "decisions": decisions,
        "evidence_policy": policy.as_dict(),
        "threshold": float(classifier.threshold_),
        "changed_since_last_run": selected is not None,
        "seconds": round(time.perf_counter() - began, 3),
    }


# --------------------------------------------------------------------------- evaluate


def naive_rule(dataset: Dataset, bad_asns: Iterable[int]) -> np.ndarray:
    """Baseline 1: act when a node sits in a listed-bad AS or its name looks generated."""
    bad = frozenset(bad_asns)
    feats = dataset.features
    entropy = feats.column("lex_entropy")[dataset.rows]
    flags = []
    for j, i in enumerate(dataset.rows):
        key = feats.keys[i]
        in_bad = bool(feats.asns.get(key, frozenset()) & bad)
        dga = not math.isnan(entropy[j]) and entropy[j] >= NAIVE_ENTROPY_BITS
        flags.append(in_bad or dga)
    return np.array(flags, dtype=bool)


def _fpr(act: np.ndarray, benign: np.ndarray) -> float | None:
    n = int(benign.sum())
    return float(act[benign].mean()) if n else None


@dataclass
class _Accumulator:
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, value: float | None) -> None:
        if value is not None and not math.isnan(value):
            self.values.setdefault(key, []).append(float(value))

    def mean(self, key: str) -> float | None:
        v = self.values.get(key)
        return float(np.mean(v)) if v else None


def _proportion_ci(successes: int, trials: int) -> list[float] | None:
    """Exact (Clopper–Pearson) 95% interval for a share of splits: 20 splits are few."""
    from scipy.stats import binomtest

    if trials == 0:
        return None
    interval = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="exact")
    return [float(interval.low), float(interval.high)]


def _split_figures(
    data: Dataset,
    train: np.ndarray,
    test: np.ndarray,
    *,
    split_seed: int,
    alpha: float,
    delta: float,
    guarantee: str,
    naive: np.ndarray,
    lookalike: np.ndarray,
) -> tuple[dict[str, float | None], tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    """One split's figures: the classifier's gate and both baselines on its test part."""
    from attribution.scoring.umbrella import umbrella_threshold, violation_probability

    X, y = data.X, data.y
    batch = int(np.count_nonzero(y[test] == 0))
    model = _classifier(
        alpha, delta, split_seed, batch_size=batch if guarantee == "batch" else None
    )
    model.fit(X[train], y[train])
    proba = model.predict_proba(X[test])[:, 1]
    gate_scores = model.gate_score(X[test])
    act = gate_scores > model.threshold_
    ranking = evaluate_scores(y[test], gate_scores, model.threshold_)
    calibration = evaluate_scores(y[test], proba, 0.5)
    population = umbrella_threshold(model.calibration_scores_, alpha, delta)
    pm = gate_rates(y[test], gate_scores, population)
    plain_act, _ = plain_gate(
        X[train], y[train], X[test], alpha=alpha, delta=delta,
        batch_size=batch if guarantee == "batch" else None, seed=split_seed,
    )  # fmt: skip
    base_act = uncalibrated_at_half(X[train], y[train], X[test], seed=split_seed)
    benign, look = y[test] == 0, lookalike[test]
    rank = int(model.umbrella_rank_ or 0)  # fitting raised if calibration was short
    figures: dict[str, float | None] = {
        "batch": float(batch),
        "gate_fpr": _fpr(act, benign),
        "gate_tpr": float(act[~benign].mean()),
        "threshold": float(model.threshold_),
        "guaranteed": 1.0 - float(
            violation_probability(model.n_calibration_benign_, rank, alpha, batch)
        ),
        "population_fpr": pm["fpr"], "population_tpr": pm["tpr"],
        "population_threshold": float(population),
        "ours_fpr_lookalike": _fpr(act, look),
        "plain_fpr": _fpr(plain_act, benign), "plain_tpr": float(plain_act[~benign].mean()),
        "base_fpr": _fpr(base_act, benign), "base_tpr": float(base_act[~benign].mean()),
        "base_fpr_lookalike": _fpr(base_act, look),
        "naive_fpr": _fpr(naive[test], benign), "naive_tpr": float(naive[test][~benign].mean()),
        "naive_fpr_lookalike": _fpr(naive[test], look),
    }  # fmt: skip
    # Ranking figures from the gate score; calibration figures from the probability.
    figures |= {"roc_auc": ranking["roc_auc"], "pr_auc": ranking["pr_auc"]}
    figures |= {"brier": calibration["brier"], "ece": calibration["ece"]}
    return figures, (y[test], proba, gate_scores, float(model.threshold_))


def _naive_flags(graph: Graph, data: Dataset) -> np.ndarray:
    bad_asns: set[int] = set()
    for o in read_label_observations(graph):
        if o.kind == "feed" and o.verdict == "malicious":
            bad_asns |= data.features.asns.get(o.target, frozenset())
    return naive_rule(data, bad_asns)


def _within(values: list[float], alpha: float) -> list[bool]:
    return [v <= alpha for v in values]


def _summary(
    data: Dataset, acc: _Accumulator, *, alpha: float, delta: float, n_splits: int,
    guarantee: str, min_families: int,
) -> dict[str, Any]:  # fmt: skip
    """The evaluation's figures over every split."""
    y = data.y
    fprs = acc.values.get("gate_fpr", [])
    within = _within(fprs, alpha)
    population_fprs = acc.values.get("population_fpr", [])
    plain_tpr, ours_tpr = acc.mean("plain_tpr"), acc.mean("gate_tpr")
    batches = acc.values.get("batch", [])
    return {
        "alpha": alpha, "delta": delta, "n_splits": n_splits, "test_size": 0.3,
        "target_source": data.target_source, "n_samples": int(y.size),
        "n_benign": int((y == 0).sum()), "n_malicious": int((y == 1).sum()),
        "n_benign_lookalike": int(data.lookalike_mask().sum()),
        "skipped_insufficient_evidence": data.skipped_insufficient,
        "truth_missing_from_graph": data.truth_missing_from_graph,
        "min_evidence_families": min_families, "feature_set": FEATURE_SET_VERSION,
        "empirical_fpr_at_gate": acc.mean("gate_fpr"),
        "max_fpr_at_gate": float(max(fprs)) if fprs else None,
        "fraction_splits_fpr_within_alpha": float(np.mean(within)) if within else None,
        "splits_fpr_within_alpha": int(np.sum(within)),
        "fraction_splits_fpr_within_alpha_ci95": _proportion_ci(int(np.sum(within)), len(within)),
        "expected_fraction_splits_fpr_within_alpha": acc.mean("guaranteed"),
        "gate_guarantee": guarantee,
        "batch_size": int(batches[-1]) if batches else None,
        "population_gate": {
            "description": "umbrella rule for the population FPR (batch_size=None), same "
            "models and calibration scores",
            "empirical_fpr": acc.mean("population_fpr"),
            "max_fpr": float(max(population_fprs)) if population_fprs else None,
            "tpr": acc.mean("population_tpr"),
            "threshold_mean": acc.mean("population_threshold"),
            "fraction_splits_fpr_within_alpha": (
                float(np.mean(_within(population_fprs, alpha))) if population_fprs else None
            ),
        },
        "tpr_at_gate": ours_tpr, "threshold_mean": acc.mean("threshold"),
        "ece": acc.mean("ece"), "roc_auc": acc.mean("roc_auc"), "pr_auc": acc.mean("pr_auc"),
        "brier": acc.mean("brier"),
        "fpr_on_benign_lookalikes": acc.mean("ours_fpr_lookalike"),
        "baselines": _baselines_summary(acc, alpha, ours_tpr, plain_tpr),
    }  # fmt: skip


def _baselines_summary(
    acc: _Accumulator, alpha: float, ours_tpr: float | None, plain_tpr: float | None
) -> dict[str, Any]:
    plain_fprs = acc.values.get("plain_fpr", [])
    return {
        "plain_hgb_umbrella": {
            "description": "HistGradientBoostingClassifier with scikit-learn's defaults, same "
            "training samples, same umbrella rule on the same held-out benign samples",
            "fpr": acc.mean("plain_fpr"),
            "tpr": plain_tpr,
            "fraction_splits_fpr_within_alpha": (
                float(np.mean(_within(plain_fprs, alpha))) if plain_fprs else None
            ),
            "tpr_ratio_ours_to_plain": (
                ours_tpr / plain_tpr if ours_tpr is not None and plain_tpr else None
            ),
        },
        "naive_rule": {
            "description": "listed-bad ASN (AS of any feed-labelled malicious node) or "
            f"name entropy >= {NAIVE_ENTROPY_BITS} bits/char",
            "fpr": acc.mean("naive_fpr"),
            "tpr": acc.mean("naive_tpr"),
            "fpr_on_benign_lookalikes": acc.mean("naive_fpr_lookalike"),
        },
        "uncalibrated_base_at_0_5": {
            "description": "default gradient-boosted trees, uncalibrated, act at p >= 0.5",
            "fpr": acc.mean("base_fpr"),
            "tpr": acc.mean("base_tpr"),
            "fpr_on_benign_lookalikes": acc.mean("base_fpr_lookalike"),
        },
    }


def evaluate_dataset(
    data: Dataset,
    naive: np.ndarray,
    *,
    n_splits: int = 20,
    alpha: float = 0.01,
    delta: float = 0.05,
    seed: int = 0,
    min_families: int = DEFAULT_MIN_FAMILIES,
    guarantee: Literal["batch", "population"] = "batch",
    progress: Progress | None = None,
) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray, np.ndarray, float] | None]:
    """Held-out figures of a data set over ``n_splits`` stratified random splits (see
    :func:`evaluate_model`), and the first split's (labels, probabilities, gate scores,
    threshold)."""
    from sklearn.model_selection import StratifiedShuffleSplit

    if guarantee not in ("batch", "population"):
        raise ValueError(f"guarantee must be 'batch' or 'population', got {guarantee!r}")
    y = data.y
    if y.size == 0 or np.unique(y).size < 2:
        raise ValueError("evaluation needs benign and malicious examples with enough evidence")
    lookalike = data.lookalike_mask()
    acc = _Accumulator()
    first = None
    splitter = StratifiedShuffleSplit(n_splits=n_splits, test_size=0.3, random_state=seed)
    seeds = np.random.RandomState(seed).randint(np.iinfo(np.int32).max, size=n_splits)
    for k, (s, (train, test)) in enumerate(zip(seeds, splitter.split(data.X, y), strict=True)):
        figures, curve = _split_figures(
            data, train, test, split_seed=int(s), alpha=alpha, delta=delta, guarantee=guarantee,
            naive=naive, lookalike=lookalike,
        )  # fmt: skip
        for key, value in figures.items():
            acc.add(key, value)
        first = first or curve
        if progress:
            progress(f"split {k + 1}/{n_splits}")
    summary = _summary(
        data, acc, alpha=alpha, delta=delta, n_splits=n_splits, guarantee=guarantee,
        min_families=min_families,
    )  # fmt: skip
    return summary, first


def evaluate_model(
    graph: Graph,
    *,
    truth: Path | None = None,
    n_splits: int = 20,
    alpha: float = 0.01,
    delta: float = 0.05,
    n_folds: int = 5,
    seed: int = 0,
    min_families: int = DEFAULT_MIN_FAMILIES,
    out_dir: Path | None = None,
    guarantee: Literal["batch", "population"] = "batch",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Held-out figures over ``n_splits`` random stratified splits, with three baselines.

    What each split measures is the share of the test split's benign nodes that the gate acts
    upon: a batch of ``m`` benign servers, ``m`` fixed by the class counts and ``test_size``
    (never by scores). The gate is therefore fitted with ``batch_size=m``, the guarantee about
    exactly that share (:mod:`attribution.scoring.umbrella`), and ``expected_fraction_...``
    states what the guarantee predicts for it. The population rule is reported beside it
    under ``population_gate``; ``guarantee="population"`` evaluates it as the gate. The plain
    baseline (:func:`attribution.scoring.baselines.plain_gate`) gets the same guarantee on the
    same splits, and ``tpr_ratio_ours_to_plain`` compares the two.
    """
    data = build_dataset(
        graph, truth=truth, n_folds=n_folds, seed=seed, min_families=min_families,
        progress=progress,
    )  # fmt: skip
    result, first = evaluate_dataset(
        data, _naive_flags(graph, data), n_splits=n_splits, alpha=alpha, delta=delta, seed=seed,
        min_families=min_families, guarantee=guarantee, progress=progress,
    )  # fmt: skip
    if out_dir is not None and first is not None:
        y_first, p_first, s_first, threshold = first
        out_dir.mkdir(parents=True, exist_ok=True)
        result["reliability_png"] = str(
            write_reliability_diagram(out_dir / "reliability.png", y_first, p_first)
        )
        result["roc_png"] = str(write_roc_curve(out_dir / "roc.png", y_first, s_first, threshold))
        (out_dir / "evaluation.json").write_text(
            json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    return result


# --------------------------------------------------------------------------- world facts


def load_world_facts(graph: Graph, world_dir: Path) -> dict[str, int]:
    """Load a generated sandbox world's files into the graph, without the enrichment worker.

    For evaluation runs that should not wait for network enrichment: DNS zones (address,
    CNAME, NS, MX and PTR records), the Team Cymru origin zones (prefix and origin AS of every
    address), domain RDAP and WHOIS registration data, incident reports (through the normal
    ingest path), and the feed and allowlist as labels. Every fact is stamped with the world's
    reference time. ``labels/truth.csv`` is not loaded: it is for evaluation only.
    """
    import ipaddress

    import dns.rdatatype
    import dns.reversename
    import dns.zone

    from attribution.identities import InvalidIdentity, canonical_domain, canonical_ip
    from attribution.identities import registrable_domain as registrable_of
    from attribution.ingest import ingest_paths
    from attribution.writer import GraphWriter, NodeRow, RelRow
    from enrichment.domain_registration import parse_whois_domain, transform_rdap_domain

    world = Path(world_dir)
    meta = json.loads((world / "world.json").read_text(encoding="utf-8"))
    at = datetime.fromisoformat(meta["reference_time"].replace("Z", "+00:00"))
    nodes: list[NodeRow] = []
    rels: list[RelRow] = []
    src = "world"

    def node(label: str, key: Any, props: dict[str, Any] | None = None) -> None:
        nodes.append(NodeRow(label, key, props or {}, src, at, at, at))

    def rel(kind: str, start: Any, end: Any, props: dict[str, Any] | None = None) -> None:
        rels.append(RelRow(kind, start, end, props or {}, src, at, at, at))

    def domain(name: str) -> str | None:
        try:
            canonical = canonical_domain(name)
        except InvalidIdentity:
            return None
        try:
            registrable = registrable_of(canonical)
        except InvalidIdentity:
            registrable = None
        node("Domain", canonical, {"registrable": registrable})
        if registrable and registrable != canonical:
            rel("SUBDOMAIN_OF", canonical, registrable)
        return canonical

    prefixes: dict[tuple[int, int], dict[int, tuple[str, int]]] = {}
    addresses: set[str] = set()
    for path in sorted((world / "dns" / "zones").glob("*.zone")):
        zone = dns.zone.from_file(str(path), relativize=False, check_origin=False)
        if path.name.startswith(("origin.asn.cymru", "origin6.asn.cymru")):
            for _, _, txt in zone.iterate_rdatas(dns.rdatatype.TXT):
                strings: Any = txt
                asn_text, prefix, *_ = (b"".join(strings.strings).decode()).split("|")
                network = ipaddress.ip_network(prefix.strip(), strict=False)
                bucket = prefixes.setdefault((network.version, network.prefixlen), {})
                bucket[int(network.network_address)] = (str(network), int(asn_text.split()[0]))
            continue
        if path.name.endswith(".cymru.com.zone"):
            continue
        reverse = path.name.endswith(".arpa.zone")
        for owner, ttl, record in zone.iterate_rdatas():
            rdata: Any = record
            name = owner.to_text(omit_final_dot=True)
            rtype = rdata.rdtype
            if reverse:
                if rtype == dns.rdatatype.PTR:
                    address = dns.reversename.to_address(owner)
                    target = domain(rdata.target.to_text(omit_final_dot=True))
                    if target:
                        addresses.add(canonical_ip(address))
                        rel(
                            "REVERSE_NAME",
                            canonical_ip(address),
                            target,
                            {"ttl": ttl, "min_ttl": ttl},
                        )
                continue
            if rtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                owner_name = domain(name)
                address = canonical_ip(rdata.address)
                addresses.add(address)
                if owner_name:
                    rel(
                        "RESOLVES_TO",
                        owner_name,
                        address,
                        {"rtype": dns.rdatatype.to_text(rtype), "ttl": ttl, "min_ttl": ttl},
                    )
            elif rtype == dns.rdatatype.CNAME:
                a, b = domain(name), domain(rdata.target.to_text(omit_final_dot=True))
                if a and b:
                    rel("ALIAS_OF", a, b, {"ttl": ttl, "min_ttl": ttl})
            elif rtype == dns.rdatatype.NS:
                a, b = domain(name), domain(rdata.target.to_text(omit_final_dot=True))
                if a and b:
                    rel("NAME_SERVER", a, b, {"ttl": ttl, "min_ttl": ttl})
            elif rtype == dns.rdatatype.MX:
                a = domain(name)
                b = (
                    domain(rdata.exchange.to_text(omit_final_dot=True))
                    if len(rdata.exchange) > 1
                    else None
                )
                if a and b:
                    rel(
                        "MAIL_SERVER",
                        a,
                        b,
                        {"preference": rdata.preference, "ttl": ttl, "min_ttl": ttl},
                    )

    lengths = sorted(prefixes, key=lambda k: -k[1])
    for address in sorted(addresses):
        ip = ipaddress.ip_address(address)
        node("IPAddress", address, {"version": ip.version})
        for version, length in lengths:
            if version != ip.version:
                continue
            width = ip.max_prefixlen
            masked = int(ip) >> (width - length) << (width - length)
            hit = prefixes[(version, length)].get(masked)
            if hit is not None:
                node("Prefix", hit[0], {"version": version})
                node("AutonomousSystem", hit[1])
                rel("IN_PREFIX", address, hit[0])
                rel("ANNOUNCED_BY", hit[0], hit[1])
                break

    registrations = []
    for path in sorted((world / "rdap" / "domain").glob("*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        registrations.append(transform_rdap_domain(path.stem, payload, f"file:{path.name}", at))
    whois_dir = world / "whois" / "domain"
    for path in sorted(whois_dir.glob("*.txt")) if whois_dir.is_dir() else []:
        parsed = parse_whois_domain(path.stem, path.read_text(encoding="utf-8"), "file", at)
        if parsed is not None:
            registrations.append(parsed)
    for reg in registrations:
        reg_name = domain(reg.domain)
        if reg_name is None:
            continue
        node(
            "Domain",
            reg_name,
            {
                "created": reg.created,
                "updated": reg.updated,
                "expires": reg.expires,
                "statuses": list(reg.statuses) or None,
                "privacy_proxy": reg.privacy_protected,
            },
        )
        if reg.registrar:
            key = " ".join(reg.registrar.lower().split())
            node("Registrar", key, {"name": reg.registrar})
            rel("REGISTERED_WITH", reg_name, key)
        holder = reg.registrant_organization or reg.registrant_name
        if holder:
            key = " ".join(holder.lower().split())
            node("Registrant", key, {"name": holder, "privacy_proxy": reg.privacy_protected})
            rel("REGISTERED_BY", reg_name, key)

    stats = GraphWriter(graph).load(nodes=nodes, rels=rels)
    incidents = sorted((world / "incidents").glob("*.json"))
    if incidents:
        ingest_paths(graph, incidents)
    feed = import_label_file(graph, world / "labels" / "feed-malicious.csv", "feed", at=at)
    allow = import_label_file(graph, world / "labels" / "allowlist.txt", "allowlist", at=at)
    return {
        "node_rows": stats.node_rows,
        "rel_rows": stats.rel_rows,
        "registrations": len(registrations),
        "incident_reports": len(incidents),
        "feed_labels": feed.written,
        "allowlist_labels": allow.written,
    }
