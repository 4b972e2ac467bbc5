"""Train, score and evaluate the maliciousness classifier on the graph.

``train``
    Features from the graph (:mod:`attribution.features`), targets from the graph's resolved
    labels (:mod:`attribution.labels`) or, for evaluation worlds, from a ground-truth CSV given
    explicitly; cross-validated metrics; the final :class:`MaliciousnessClassifier` saved with
    :func:`attribution.scoring.persistence.save_model` as the next version
    ``models/<name>/v<N>/`` (never overwriting).
``score``
    Every Domain and IPAddress (or those changed since the last run) gets ``score``,
    ``decision`` (``act`` / ``no-act``), ``model_version``, ``scored_at`` and ``reasons``
    (the largest ``explain()`` contributions, as ``"feature=+0.12"``), written with
    parameterised ``UNWIND ... SET`` in batches. A node with fewer than ``min_evidence``
    observed facts (:data:`attribution.features.EVIDENCE_FEATURES`) gets
    ``insufficient-evidence``, no score, and a reason saying how much evidence it had.
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
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from attribution.db import Graph
from attribution.features import (
    FEATURE_NAMES,
    FEATURE_SET_VERSION,
    FeatureMatrix,
    build_features,
)
from attribution.labels import (
    NodeKey,
    TruthRow,
    import_label_file,
    read_label_observations,
    read_truth,
    resolve_labels,
)
from attribution.scoring.estimator import MaliciousnessClassifier, default_base_estimator
from attribution.scoring.metrics import (
    evaluate_scores,
    gate_rates,
    write_reliability_diagram,
    write_roc_curve,
)

__all__ = [
    "DEFAULT_MIN_EVIDENCE",
    "INSUFFICIENT",
    "Dataset",
    "build_dataset",
    "evaluate_model",
    "load_world_facts",
    "resolve_model_dir",
    "score_graph",
    "train_model",
]

DEFAULT_MIN_EVIDENCE = 3
INSUFFICIENT = "insufficient-evidence"
NAIVE_ENTROPY_BITS = 3.5
"""The naive baseline calls a name DGA-looking at this character entropy (bits/char) or more."""
LOOKALIKE_PREFIXES = ("lookalike",)
LOOKALIKE_CATEGORIES = frozenset({"dynamic-dns", "cdn-hostname"})
_VERSION = re.compile(r"^v(\d+)$")
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
    min_evidence: int = DEFAULT_MIN_EVIDENCE,
    progress: Progress | None = None,
) -> Dataset:
    """Features from the graph, targets from the graph's labels or from ``truth``."""
    observations = read_label_observations(graph)
    labels = resolve_labels(observations)
    features = build_features(graph, labels, n_folds=n_folds, seed=seed, progress=progress)
    evidence = features.evidence_counts()
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
    rows, y, categories = [], [], []
    skipped = 0
    for key in sorted(targets):
        i = index.get(key)
        if i is None:
            continue
        if evidence[i] < min_evidence:
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
        random_state=seed,
        **kwargs,
    )


def trainable(X: np.ndarray) -> np.ndarray:
    """``X`` with columns that are missing in every row set to 0.

    The gradient-boosted trees cannot bin a column without a single value (scikit-learn
    raises). A column that is constant in training is never split on, so the value put there
    changes nothing the model learns, and at scoring time the column's real values are ignored
    the same way. Any other NaN is left alone.
    """
    blank = np.isnan(X).all(axis=0)
    if not blank.any():
        return X
    out = X.copy()
    out[:, blank] = 0.0
    return out


# --------------------------------------------------------------------------- train


def _next_version(models_dir: Path, name: str) -> str:
    numbers = [
        int(m.group(1))
        for p in (models_dir / name).glob("v*")
        if p.is_dir() and (m := _VERSION.match(p.name))
    ]
    return f"v{max(numbers, default=0) + 1}"


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
        model = _classifier(alpha, delta, seed + k, on_insufficient="warn").fit(
            trainable(X[train]), y[train]
        )
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
    min_evidence: int = DEFAULT_MIN_EVIDENCE,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fit, cross-validate and save the next model version; return what was saved.

    ``batch_size`` selects the batch guarantee of the gate (see
    :class:`~attribution.scoring.MaliciousnessClassifier`); ``None`` is the population one.
    """
    from attribution.scoring.persistence import save_model

    data = build_dataset(
        graph, truth=truth, n_folds=n_folds, seed=seed, min_evidence=min_evidence,
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
    X = trainable(X)
    model = _classifier(alpha, delta, seed, batch_size=batch_size).fit(X, y)
    version = _next_version(models_dir, name)
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
        "metrics": metrics,
    }


# --------------------------------------------------------------------------- score


def resolve_model_dir(models_dir: Path, model: str, name: str = "maliciousness") -> Path:
    """A model version directory: an explicit path, or ``latest`` version of ``name``."""
    if model != "latest":
        return Path(model)
    numbers = sorted(
        (int(m.group(1)), p)
        for p in (models_dir / name).glob("v*")
        if p.is_dir() and (m := _VERSION.match(p.name))
    )
    if not numbers:
        raise FileNotFoundError(
            f"no trained model {name!r} under {models_dir}; run `attribution train`"
        )
    return numbers[-1][1]


def _state_path(models_dir: Path, name: str) -> Path:
    return models_dir / name / "score-state.json"


def _read_state(path: Path, database: str) -> dict[str, Any] | None:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    entry = state.get(database) if isinstance(state, dict) else None
    return entry if isinstance(entry, dict) else None


def _write_state(path: Path, database: str, entry: dict[str, Any]) -> None:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        state = {}
    state[database] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


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
    "Domain": "UNWIND $rows AS row MATCH (n:Domain {name: row.key})\n",
    "IPAddress": "UNWIND $rows AS row MATCH (n:IPAddress {address: row.key})\n",
}
_SET_SCORES = (
    "SET n.score = row.score, n.decision = row.decision, n.model_version = $version,\n"
    "    n.scored_at = datetime({epochMillis: $at}), n.reasons = row.reasons"
)


def _format_reason(feature: str, contribution: float) -> str:
    return f"{feature}={contribution:+.2f}"


def _write_scores(
    graph: Graph, rows: list[dict[str, Any]], version: str, at_ms: int, batch: int
) -> int:
    written = 0
    for label in ("Domain", "IPAddress"):
        mine = [r for r in rows if r["label"] == label]
        statement = _WRITE_SCORES[label] + _SET_SCORES
        for start in range(0, len(mine), batch):
            chunk = [
                {"key": r["key"], "score": r["score"], "decision": r["decision"],
                 "reasons": r["reasons"]}
                for r in mine[start : start + batch]
            ]  # fmt: skip

            def work(tx: Any, c: list[dict[str, Any]] = chunk, s: str = statement) -> None:
                tx.run(s, rows=c, version=version, at=at_ms).consume()

            graph.write(work)
            written += len(chunk)
    return written


def score_graph(
    graph: Graph,
    *,
    models_dir: Path,
    model: str = "latest",
    name: str = "maliciousness",
    changed_since_last_run: bool = False,
    min_evidence: int = DEFAULT_MIN_EVIDENCE,
    n_folds: int = 5,
    seed: int = 0,
    now: datetime | None = None,
    batch: int = WRITE_BATCH,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Score the graph's domains and addresses and write the results back.

    Features of labelled nodes stay cross-fitted (``n_folds``, ``seed``), so a node's score
    never echoes its own label; unlabelled nodes see every label.
    """
    from attribution.scoring.persistence import load_model

    began = time.perf_counter()
    model_dir = resolve_model_dir(models_dir, model, name)
    classifier = load_model(model_dir, expected_feature_version=FEATURE_SET_VERSION)
    version = f"{model_dir.parent.name}/{model_dir.name}"
    started = now or datetime.now(UTC)
    at_ms = int(started.timestamp() * 1000)
    state_file = _state_path(models_dir, model_dir.parent.name)
    database = graph.database

    selected: set[NodeKey] | None = None
    if changed_since_last_run:
        state = _read_state(state_file, database)
        if state is not None and state.get("model_version") == version:
            rows = graph.read(
                _CHANGED, {"since": int(state["last_run_ms"])}, metadata={"query": "score.changed"}
            )
            selected = {(r["label"], r["key"]) for r in rows}

    labels = resolve_labels(read_label_observations(graph))
    features = build_features(graph, labels, n_folds=n_folds, seed=seed, progress=progress)
    evidence = features.evidence_counts()
    chosen = [i for i, key in enumerate(features.keys) if selected is None or key in selected]
    enough = [i for i in chosen if evidence[i] >= min_evidence]
    out_rows: list[dict[str, Any]] = []
    decisions: dict[str, int] = {"act": 0, "no-act": 0, INSUFFICIENT: 0}
    if enough:
        X = features.X[enough]
        proba = classifier.predict_proba(X)[:, 1]
        decided = classifier.decide(X)
        explanations = classifier.explain(X, top=REASONS)
        if progress:
            progress("scored")
        for j, i in enumerate(enough):
            label, key = features.keys[i]
            decision = str(decided[j])
            decisions[decision] += 1
            out_rows.append(
                {
                    "label": label,
                    "key": key,
                    "score": float(proba[j]),
                    "decision": decision,
                    "reasons": [_format_reason(f, c) for f, c in explanations[j]],
                }
            )
    short = sorted(set(chosen) - set(enough))
    for i in short:
        label, key = features.keys[i]
        decisions[INSUFFICIENT] += 1
        out_rows.append(
            {
                "label": label,
                "key": key,
                "score": None,
                "decision": INSUFFICIENT,
                "reasons": [f"evidence={int(evidence[i])}<{min_evidence}"],
            }
        )
    written = _write_scores(graph, out_rows, version, at_ms, batch)
    _write_state(state_file, database, {"model_version": version, "last_run_ms": at_ms})
    return {
        "model_version": version,
        "model_path": str(model_dir),
        "scored_at": started.isoformat(),
        "nodes": len(features.keys),
        "selected": len(chosen),
        "written": written,
        "decisions": decisions,
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


def evaluate_model(
    graph: Graph,
    *,
    truth: Path | None = None,
    n_splits: int = 20,
    alpha: float = 0.01,
    delta: float = 0.05,
    n_folds: int = 5,
    seed: int = 0,
    min_evidence: int = DEFAULT_MIN_EVIDENCE,
    out_dir: Path | None = None,
    guarantee: Literal["batch", "population"] = "batch",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Held-out figures over ``n_splits`` random stratified splits, with two baselines.

    What each split measures is the share of the test split's benign nodes that the gate acts
    upon: a batch of ``m`` benign servers, ``m`` fixed by the class counts and ``test_size``
    (never by scores). The gate is therefore fitted with ``batch_size=m``, the guarantee about
    exactly that share (:mod:`attribution.scoring.umbrella`), and ``expected_fraction_...``
    states what the guarantee predicts for it. The population rule (``batch_size=None``),
    whose threshold comes from the same calibration scores of the same fitted model, is
    reported beside it under ``population_gate``. ``guarantee="population"`` evaluates the
    population rule as the gate (the batch rule needs more calibration samples, which a small
    world may not have); the expected share of splits within alpha is then that rank's
    beta-binomial figure for the split's batch, which may be below ``1 - delta``.
    """
    if guarantee not in ("batch", "population"):
        raise ValueError(f"guarantee must be 'batch' or 'population', got {guarantee!r}")
    from sklearn.model_selection import StratifiedShuffleSplit

    from attribution.scoring.umbrella import umbrella_threshold, violation_probability

    data = build_dataset(
        graph, truth=truth, n_folds=n_folds, seed=seed, min_evidence=min_evidence,
        progress=progress,
    )  # fmt: skip
    X, y = data.X, data.y
    if y.size == 0 or np.unique(y).size < 2:
        raise ValueError("evaluation needs benign and malicious examples with enough evidence")
    bad_asns: set[int] = set()
    feed_bad = {
        o.target
        for o in read_label_observations(graph)
        if o.kind == "feed" and o.verdict == "malicious"
    }
    for target in feed_bad:
        bad_asns |= data.features.asns.get(target, frozenset())
    naive = naive_rule(data, bad_asns)
    lookalike = data.lookalike_mask()

    acc = _Accumulator()
    within = []
    population_within = []
    guaranteed = []
    # The benign count of a test split: the same in every split (stratified), set in the loop.
    batch: int | None = None
    splitter = StratifiedShuffleSplit(n_splits=n_splits, test_size=0.3, random_state=seed)
    seeds = np.random.RandomState(seed).randint(np.iinfo(np.int32).max, size=n_splits)
    first: tuple[np.ndarray, np.ndarray, float] | None = None
    for s, (train, test) in zip(seeds, splitter.split(X, y), strict=True):
        batch = int(np.count_nonzero(y[test] == 0))
        model = _classifier(
            alpha, delta, int(s), batch_size=batch if guarantee == "batch" else None
        )
        model.fit(trainable(X[train]), y[train])
        proba = model.predict_proba(X[test])[:, 1]
        m = evaluate_scores(y[test], proba, float(model.threshold_))
        within.append(m["gate_fpr"] <= alpha)
        # Fitting raised if calibration was short, so the gate is open and has a rank.
        n_cal, rank = model.n_calibration_benign_, int(model.umbrella_rank_ or 0)
        guaranteed.append(1.0 - float(violation_probability(n_cal, rank, alpha, batch)))
        population = umbrella_threshold(model.calibration_scores_, alpha, delta)
        pm = gate_rates(y[test], proba, population)
        population_within.append(pm["fpr"] <= alpha)
        acc.add("population_fpr", pm["fpr"])
        acc.add("population_tpr", pm["tpr"])
        acc.add("population_threshold", population)
        for key in ("roc_auc", "pr_auc", "brier", "ece", "gate_tpr", "gate_fpr", "threshold"):
            acc.add(key, m[key])
        benign_test = y[test] == 0
        look_test = lookalike[test]
        ours_act = proba > model.threshold_
        acc.add("ours_fpr_lookalike", _fpr(ours_act, look_test))
        base = default_base_estimator(random_state=int(s)).fit(trainable(X[train]), y[train])
        base_act = base.predict_proba(X[test])[:, 1] >= 0.5
        acc.add("base_fpr", _fpr(base_act, benign_test))
        acc.add("base_tpr", float(base_act[~benign_test].mean()))
        acc.add("base_fpr_lookalike", _fpr(base_act, look_test))
        rule_act = naive[test]
        acc.add("naive_fpr", _fpr(rule_act, benign_test))
        acc.add("naive_tpr", float(rule_act[~benign_test].mean()))
        acc.add("naive_fpr_lookalike", _fpr(rule_act, look_test))
        if first is None:
            first = (y[test], proba, float(model.threshold_))
        if progress:
            progress(f"split {len(within)}/{n_splits}")
    fprs = acc.values.get("gate_fpr", [])
    population_fprs = acc.values.get("population_fpr", [])
    result: dict[str, Any] = {
        "alpha": alpha,
        "delta": delta,
        "n_splits": n_splits,
        "test_size": 0.3,
        "target_source": data.target_source,
        "n_samples": int(y.size),
        "n_benign": int((y == 0).sum()),
        "n_malicious": int((y == 1).sum()),
        "n_benign_lookalike": int(lookalike.sum()),
        "skipped_insufficient_evidence": data.skipped_insufficient,
        "truth_missing_from_graph": data.truth_missing_from_graph,
        "min_evidence": min_evidence,
        "feature_set": FEATURE_SET_VERSION,
        "empirical_fpr_at_gate": acc.mean("gate_fpr"),
        "max_fpr_at_gate": float(max(fprs)) if fprs else None,
        "fraction_splits_fpr_within_alpha": float(np.mean(within)) if within else None,
        "splits_fpr_within_alpha": int(np.sum(within)),
        "fraction_splits_fpr_within_alpha_ci95": _proportion_ci(int(np.sum(within)), len(within)),
        "expected_fraction_splits_fpr_within_alpha": (
            float(np.mean(guaranteed)) if guaranteed else None
        ),
        "gate_guarantee": guarantee,
        "batch_size": batch,
        "population_gate": {
            "description": "umbrella rule for the population FPR (batch_size=None), same "
            "models and calibration scores",
            "empirical_fpr": acc.mean("population_fpr"),
            "max_fpr": float(max(population_fprs)) if population_fprs else None,
            "tpr": acc.mean("population_tpr"),
            "threshold_mean": acc.mean("population_threshold"),
            "fraction_splits_fpr_within_alpha": (
                float(np.mean(population_within)) if population_within else None
            ),
        },
        "tpr_at_gate": acc.mean("gate_tpr"),
        "threshold_mean": acc.mean("threshold"),
        "ece": acc.mean("ece"),
        "roc_auc": acc.mean("roc_auc"),
        "pr_auc": acc.mean("pr_auc"),
        "brier": acc.mean("brier"),
        "fpr_on_benign_lookalikes": acc.mean("ours_fpr_lookalike"),
        "baselines": {
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
        },
    }
    if out_dir is not None and first is not None:
        y_first, p_first, threshold = first
        out_dir.mkdir(parents=True, exist_ok=True)
        result["reliability_png"] = str(
            write_reliability_diagram(out_dir / "reliability.png", y_first, p_first)
        )
        result["roc_png"] = str(write_roc_curve(out_dir / "roc.png", y_first, p_first, threshold))
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
