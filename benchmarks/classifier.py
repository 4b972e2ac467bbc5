"""TPR at the gate of the classifier against a plain model with the same guarantee.

Usage: ``python -m benchmarks.classifier [--worlds 2000:7,5000:7,5000:11] [--splits 20]``.

For each generated world (``size:seed``), the benchmark generates it, loads its facts into the
benchmark instance (:func:`benchmarks.world_facts.load_world_facts`: DNS zones, Team Cymru
origins, registrations, incident reports, the partial feed and the allowlist), builds the data
set with the world's ground truth as targets, and evaluates ``--splits`` stratified random
splits (30 % held out) with :func:`attribution.classifier.evaluate.evaluate_dataset`. In every split the
classifier and the baseline, a plain ``HistGradientBoostingClassifier`` with scikit-learn's
defaults thresholded by the same umbrella rule on the same held-out benign samples
(:func:`attribution.classifier.baselines.plain_gate`), are fitted on the same rows, so the ratio
of their TPRs is a like-for-like comparison measured in the same run.

Per world it prints the TPR at the gate of both, the share of splits whose empirical FPR
stays within alpha, and the ratio; the last line is one JSON object with ``worlds`` (the
per-world figures) and the pooled ``tpr_ratio_vs_plain`` (mean over worlds).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from attribution.classifier.baselines import naive_rule
from attribution.classifier.dataset import build_dataset
from attribution.classifier.evaluate import evaluate_dataset
from benchmarks._common import bench_graph, emit, wipe
from benchmarks.world_facts import load_world_facts
from enrichment.sandbox.generate import generate_world


def _world_spec(text: str) -> tuple[int, int]:
    size, _, seed = text.partition(":")
    return int(size), int(seed or 7)


def _one_world(graph: Any, size: int, seed: int, splits: int, alpha: float) -> dict[str, Any]:
    began = time.perf_counter()
    wipe(graph)
    with tempfile.TemporaryDirectory(prefix="bench-classifier-") as tmp:
        world = Path(tmp) / "world"
        generate_world(world, seed=seed, size=size)
        load_world_facts(graph, world)
        data = build_dataset(graph, truth=world / "labels" / "truth.csv")
    # The naive rule is not what this benchmark compares; it needs no bad-AS list here.
    result, _ = evaluate_dataset(
        data,
        naive_rule(data, ()),
        n_splits=splits,
        alpha=alpha,
        progress=lambda step: print(f"  world {size}:{seed} {step}", file=sys.stderr),
    )
    plain = result["baselines"]["plain_hgb_umbrella"]
    return {
        "world": f"{size}:{seed}",
        "n_samples": result["n_samples"],
        "n_malicious": result["n_malicious"],
        "tpr_at_gate": result["tpr_at_gate"],
        "plain_tpr_at_gate": plain["tpr"],
        "tpr_ratio_vs_plain": plain["tpr_ratio_ours_to_plain"],
        "fraction_splits_fpr_within_alpha": result["fraction_splits_fpr_within_alpha"],
        "plain_fraction_splits_fpr_within_alpha": plain["fraction_splits_fpr_within_alpha"],
        "empirical_fpr_at_gate": result["empirical_fpr_at_gate"],
        "plain_empirical_fpr": plain["fpr"],
        "seconds": round(time.perf_counter() - began, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", default="2000:7,5000:7,5000:11", help="size:seed,...")
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--alpha", type=float, default=0.01)
    args = parser.parse_args(argv)
    graph = bench_graph()
    rows = []
    try:
        for spec in args.worlds.split(","):
            size, seed = _world_spec(spec)
            row = _one_world(graph, size, seed, args.splits, args.alpha)
            rows.append(row)
            print(
                f"world {row['world']}: TPR at gate {row['tpr_at_gate']:.4f} vs plain "
                f"{row['plain_tpr_at_gate']:.4f} (ratio {row['tpr_ratio_vs_plain']:.4f}); "
                f"FPR <= alpha in {row['fraction_splits_fpr_within_alpha']:.0%} of splits "
                f"(plain {row['plain_fraction_splits_fpr_within_alpha']:.0%})",
                flush=True,
            )
    finally:
        graph.close()
    ratios = [r["tpr_ratio_vs_plain"] for r in rows if r["tpr_ratio_vs_plain"] is not None]
    emit(
        {
            "benchmark": "classifier",
            "splits": args.splits,
            "alpha": args.alpha,
            "worlds": rows,
            "tpr_ratio_vs_plain": sum(ratios) / len(ratios) if ratios else None,
            "min_tpr_ratio_vs_plain": min(ratios) if ratios else None,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
