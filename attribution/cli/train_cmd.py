"""``attribution train``, ``attribution score`` and ``attribution evaluate``.

``train [--name maliciousness] [--alpha 0.01] [--delta 0.05] [--batch-size M] [--folds 5] [--truth FILE] [--json]``
    Features and labels from the graph (targets from ``--truth`` for evaluation worlds),
    cross-validated metrics, then the final classifier saved as the next version under
    ``models/<name>/``. Exit code 4 when there are too few benign samples for the gate.
``score [--model PATH|vN|latest] [--changed-since-last-run] [--min-families N] [--explain gate|all] [--json]``
    Writes score with its Venn-ABERS interval, decision, model_version, scored_at, evidence
    families, feature values, explanation and reasons on every Domain and IPAddress (or those
    changed since the last run with the same model). With ``--explain gate`` (the default)
    a node the gate does not act on gets its explanation when a report asks for it. The
    evidence policy is the model's own unless ``--min-families`` overrides it.
``evaluate [--truth FILE] [--splits 20] [--guarantee batch|population] [--json] [--out DIR]``
    Held-out metrics over repeated random splits, with baselines; ``evaluation.json``, a
    reliability diagram and a ROC curve (PNG) into ``--out``, by default a new directory under
    ``<models>/<name>/evaluations/``.
    Exit code 4 when there are too few benign samples for the gate.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attribution.cli.common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    CommandError,
    connect,
    print_json,
)
from attribution.settings import load_settings


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default="maliciousness", help="model name (default %(default)s)")
    parser.add_argument("--folds", type=int, default=5, help="cross-fitting folds (default 5)")
    parser.add_argument(
        "--min-families",
        type=int,
        default=None,
        help="independent evidence families a node needs before the classifier decides "
        "(default: [scoring] min_evidence_families, 2; score: the model's own)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable result")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    train = sub.add_parser("train", help="train and save the next version of the classifier")
    _common(train)
    train.add_argument("--alpha", type=float, default=0.01, help="tolerated FPR (default 0.01)")
    train.add_argument("--delta", type=float, default=0.05, help="P(FPR > alpha) bound (0.05)")
    train.add_argument(
        "--batch-size",
        type=int,
        help="bound the FPR among this many benign nodes scored together, sampling noise "
        "included (default: the population FPR)",
    )
    train.add_argument("--truth", type=Path, help="ground-truth CSV for the targets (evaluation)")
    train.set_defaults(func=run_train)

    score = sub.add_parser("score", help="score every domain and address in the graph")
    _common(score)
    score.add_argument(
        "--model",
        default="latest",
        help="model version directory, a version of --name (v3), or latest (default)",
    )
    score.add_argument(
        "--changed-since-last-run",
        action="store_true",
        help="only nodes with facts or labels newer than the last run of this model",
    )
    score.add_argument(
        "--explain",
        choices=("gate", "all"),
        default="gate",
        help="explain every scored node now (all), or only those the gate acts on (gate, the "
        "default); a report computes a deferred explanation from the recorded feature values",
    )
    score.set_defaults(func=run_score)

    evaluate = sub.add_parser("evaluate", help="held-out metrics over repeated random splits")
    _common(evaluate)
    evaluate.add_argument("--alpha", type=float, default=0.01)
    evaluate.add_argument("--delta", type=float, default=0.05)
    evaluate.add_argument("--truth", type=Path, help="ground-truth CSV for the targets")
    evaluate.add_argument("--splits", type=int, default=20, help="random splits (default 20)")
    evaluate.add_argument(
        "--out",
        type=Path,
        help="directory for evaluation.json and the PNG plots (default: a new "
        "<models>/<name>/evaluations/<UTC time>/)",
    )
    evaluate.add_argument(
        "--guarantee",
        choices=("batch", "population"),
        default="batch",
        help="gate bounds the FPR of each split's benign test batch (default), or the "
        "population FPR (needs fewer benign calibration samples)",
    )
    evaluate.set_defaults(func=run_evaluate)


def _progress(args: argparse.Namespace) -> Any:
    if args.json:
        return None
    return lambda step: print(f"{args.command}: {step}", file=sys.stderr, flush=True)


def _min_families(args: argparse.Namespace) -> int | None:
    """``--min-families`` checked, or None when it was not given."""
    from attribution.features.families import FAMILIES

    if args.min_families is None:
        return None
    if not 1 <= args.min_families <= len(FAMILIES):
        raise CommandError(f"--min-families must lie between 1 and {len(FAMILIES)}", EXIT_USAGE)
    return int(args.min_families)


def _policy_min_families(args: argparse.Namespace) -> int:
    """``--min-families``, else the setting (for training and evaluation)."""
    given = _min_families(args)
    return load_settings().min_evidence_families if given is None else given


def _check_truth(path: Path | None) -> None:
    if path is not None and not path.is_file():
        raise CommandError(f"{path}: no such file")


def run_train(args: argparse.Namespace) -> int:
    from attribution.classifier.train import train_model

    _check_truth(args.truth)
    with connect() as graph:
        try:
            result = train_model(
                graph,
                models_dir=load_settings().models_dir,
                name=args.name,
                alpha=args.alpha,
                delta=args.delta,
                batch_size=args.batch_size,
                n_folds=args.folds,
                truth=args.truth,
                seed=args.seed,
                min_families=_policy_min_families(args),
                progress=_progress(args),
            )
        except ValueError as exc:  # InsufficientCalibrationData included
            raise CommandError(str(exc), EXIT_REFUSED) from exc
    if args.json:
        print_json(result)
    else:
        m = result["metrics"]
        print(
            f"{result['name']} {result['version']} saved to {result['path']}: "
            f"{result['n_samples']} samples ({result['n_malicious']} malicious), "
            f"threshold {result['threshold']:.4f}; cross-validated ROC AUC {m['cv_roc_auc']:.3f}, "
            f"TPR at gate {m['cv_gate_tpr']:.3f}, FPR at gate {m['cv_gate_fpr']:.4f}"
        )
    return EXIT_OK


def run_score(args: argparse.Namespace) -> int:
    from attribution.scoring.paged import score_graph
    from attribution.scoring.persistence import ModelLoadError

    with connect() as graph:
        try:
            result = score_graph(
                graph,
                models_dir=load_settings().models_dir,
                model=args.model,
                name=args.name,
                changed_since_last_run=args.changed_since_last_run,
                min_families=_min_families(args),
                n_folds=args.folds,
                seed=args.seed,
                explain=args.explain,
                progress=_progress(args),
            )
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        except ModelLoadError as exc:
            raise CommandError(str(exc), EXIT_REFUSED) from exc
    if args.json:
        print_json(result)
    else:
        d = result["decisions"]
        print(
            f"{result['written']} nodes scored with {result['model_version']}: "
            f"{d['act']} act, {d['no-act']} no-act, {d['outside-calibration']} outside "
            f"calibration, {d['insufficient-evidence']} insufficient evidence (fewer than "
            f"{result['evidence_policy']['min_families']} evidence families); "
            f"{result['explained']} explained now"
        )
    return EXIT_OK


def run_evaluate(args: argparse.Namespace) -> int:
    from attribution.classifier.evaluate import evaluate_model
    from attribution.classifier.store import ModelStore
    from attribution.scoring.umbrella import InsufficientCalibrationData, min_calibration_size

    _check_truth(args.truth)
    out = args.out
    if out is None:
        out = ModelStore(load_settings().models_dir).evaluation_dir(args.name, datetime.now(UTC))
    with connect() as graph:
        try:
            result = evaluate_model(
                graph,
                truth=args.truth,
                n_splits=args.splits,
                alpha=args.alpha,
                delta=args.delta,
                n_folds=args.folds,
                seed=args.seed,
                min_families=_policy_min_families(args),
                out_dir=out,
                guarantee=args.guarantee,
                progress=_progress(args),
            )
        except InsufficientCalibrationData as exc:
            hint = (
                f"; --guarantee population needs {min_calibration_size(args.alpha, args.delta)}"
                if exc.batch_size is not None
                else ""
            )
            raise CommandError(f"{exc}{hint}", EXIT_REFUSED) from exc
        except ValueError as exc:
            raise CommandError(str(exc), EXIT_REFUSED) from exc
    if args.json:
        print_json(result)
    else:
        population = result["population_gate"]
        print(
            f"ROC AUC {result['roc_auc']:.3f}, PR AUC {result['pr_auc']:.3f}, "
            f"ECE {result['ece']:.4f}, Brier {result['brier']:.4f}\n"
            f"gate ({result['gate_guarantee']} guarantee, batches of {result['batch_size']} "
            f"benign): TPR {result['tpr_at_gate']:.3f}, FPR {result['empirical_fpr_at_gate']:.4f} "
            f"(alpha {result['alpha']}), FPR <= alpha in {result['splits_fpr_within_alpha']} of "
            f"{result['n_splits']} splits (the guarantee predicts "
            f"{result['expected_fraction_splits_fpr_within_alpha']:.1%})\n"
            f"population rule: TPR {population['tpr']:.3f}, FPR {population['empirical_fpr']:.4f}, "
            f"FPR <= alpha in {population['fraction_splits_fpr_within_alpha']:.0%} of splits\n"
            f"written: {out / 'evaluation.json'}, {result['reliability_png']}, {result['roc_png']}"
        )
    return EXIT_OK
