"""The offline demo, end to end: every step is a real ``attribution`` command.

Run it with ``bash scripts/demo.sh`` (which sets the machine up first) or
``python -m attribution.demo``. It prints each command before running it, so the output
doubles as a walkthrough; nothing leaves 127.0.0.1. The demo uses the locally managed
Neo4j (or ``NEO4J_URI``) and writes its files under ``demo-out/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from attribution.settings import REPO_ROOT

OUT = REPO_ROOT / "demo-out"
# The demo's reviewer; a deployment names its reviewers in attribution.toml ([roles] reviewers).
DEMO_ENV = {
    **os.environ,
    "ATTRIBUTION_REVIEWERS": os.environ.get("ATTRIBUTION_REVIEWERS", "reviewer-tanaka"),
    # Its models go to demo-out/models, so the repository's models/ keeps only deliberate releases.
    "ATTRIBUTION_MODELS_DIR": os.environ.get("ATTRIBUTION_MODELS_DIR", str(OUT / "models")),
}


class DemoFailed(RuntimeError):
    """A demo step exited with an unexpected code."""


def step(title: str, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    """Run one ``attribution`` command, echoing it, and fail loudly on an unexpected exit."""
    command = [sys.executable, "-m", "attribution.cli.main", *args]
    if title:
        print(f"\n== {title}", flush=True)
    shown = shlex.join(args)
    print(f"$ attribution {shown if len(shown) < 400 else shown[:400] + ' ...'}", flush=True)
    began = time.monotonic()
    result = subprocess.run(command, text=True, stdout=subprocess.PIPE, check=False, env=DEMO_ENV)
    print(result.stdout, end="", flush=True)
    if result.returncode not in ok:
        raise DemoFailed(f"`attribution {shlex.join(args)}` exited {result.returncode}")
    print(f"   ({time.monotonic() - began:.1f} s, exit {result.returncode})", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=2000, help="domains in the generated world")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    world = OUT / "world"
    reports = OUT / "reports"
    try:
        run_demo(world, reports, args.size, args.seed)
    except DemoFailed as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        subprocess.run(
            [sys.executable, "-m", "attribution.cli.main", "sandbox", "down"],
            stdout=subprocess.DEVNULL,
            check=False,
        )
    print(
        "\nBrowse the graph: open http://127.0.0.1:7474/browser/ (user neo4j, password in "
        "~/.cache/attribution/neo4j/password) and run for example\n"
        "  MATCH (d:Domain {decision: 'act'})-[r]-(x) RETURN d, r, x LIMIT 200\n"
        "or any query of the library: attribution query show <id> prints it with its :param lines."
    )
    return 0


def run_demo(world: Path, reports: Path, size: int, seed: int) -> None:
    examples = REPO_ROOT / "docs" / "examples"
    truth = world / "labels" / "truth.csv"
    step(
        "Start the local Neo4j server (resolved from Maven Central on first use)", "neo4j", "start"
    )
    step("Apply the constraints and indexes declared in attribution/schema.py", "schema", "apply")
    step(
        "Ingest a sample indicator list; its bad line is named and the rest lands",
        "ingest",
        str(examples / "indicators.csv"),
        ok=(1,),
    )
    step(
        "Ingest a partner's STIX 2.1 bundle (a URL enters as its host) and flow metadata (aggregated contacts)",
        "ingest",
        str(examples / "partner-bundle.json"),
        str(examples / "flows.csv"),
    )
    step(
        "Generate a synthetic world: benign CDN/cloud/shared hosting, campaigns, fast flux, DGA, look-alikes",
        "sandbox",
        "generate",
        "--out",
        str(world),
        "--seed",
        str(seed),
        "--size",
        str(size),
    )
    step(
        "Serve it over real protocols on 127.0.0.1: nsd (DNS, Team Cymru zones), RDAP over HTTP, port-43 WHOIS",
        "sandbox",
        "up",
        str(world),
    )
    incidents = sorted(str(p) for p in (world / "incidents").glob("*.json"))
    step(
        "Ingest the pipeline's indicators and the operators' incident reports",
        "ingest",
        str(world / "indicators.txt"),
        *incidents,
    )
    step(
        "Ingest every name and address of the world as the training corpus (a deployment uses its labelled history)",
        "ingest",
        "--format",
        "list",
        str(_corpus(world)),
    )
    step(
        "Enrich every pending indicator through the sandbox (DNS, ASN, IP RDAP, registration); the sample "
        "list's names exist in no zone of the world, so they end failed with the reason recorded (exit 1)",
        "enrich",
        "--sandbox",
        "--max-depth",
        "1",
        ok=(0, 1),
    )
    step(
        "Import the partial malicious feed and the benign allowlist as labels",
        "label",
        "import",
        str(world / "labels" / "feed-malicious.csv"),
        "--kind",
        "feed",
    )
    step("", "label", "import", str(world / "labels" / "allowlist.txt"), "--kind", "allowlist")
    step(
        "Train the calibrated classifier on the world's ground truth; its gate bounds the false-positive rate",
        "train",
        "--truth",
        str(truth),
    )
    step("Score every domain and address; thin evidence gets insufficient-evidence", "score")
    step(
        "Evaluate on held-out splits of the ground truth, with two naive baselines beside it",
        "evaluate",
        "--truth",
        str(truth),
        "--splits",
        "5",
        "--out",
        str(OUT / "evaluation"),
    )
    step(
        "Analyst queries: reports by sector, fast-flux candidates, high scores not yet reviewed",
        "query",
        "run",
        "reports-by-sector",
    )
    step("", "query", "run", "dns-fast-flux-candidates", "-p", "limit=10")
    step(
        "Gated candidates: the gate says act; the reasons are the features that pushed each score",
        "query",
        "run",
        "review-high-score-unreviewed",
        "-p",
        "limit=15",
    )
    top = step("", "query", "run", "review-high-score-unreviewed", "-p", "limit=5", "--json")
    eligible: tuple[str, str] | None = None
    for target in _targets(top.stdout)[:5]:
        made = step(
            f"Confidence report for {target}",
            "report",
            target,
            "--format",
            "both",
            "--out",
            str(reports),
            "--json",
        )
        summary = json.loads(made.stdout)
        print(f"   recommendation: {summary['recommendation']}")
        json_file = next(f for f in summary["files"] if f.endswith(".json"))
        if eligible is None and summary["recommendation"] == "eligible-for-approval":
            eligible = (target, json_file)
    if eligible is not None:
        target, report = eligible
        step("Verify the report's digest", "report", "verify", report)
        request = step(
            "Ask the independent reviewer for approval",
            "approval",
            "request",
            target,
            "--report",
            report,
            "--by",
            "analyst-sato",
            "--json",
        )
        request_id = json.loads(request.stdout)["request_id"]
        step(
            "The requester may not decide (separation of duties)",
            "approval",
            "decide",
            request_id,
            "--by",
            "analyst-sato",
            "--approve",
            "--reason",
            "self-approval",
            "--report",
            report,
            ok=(4,),
        )
        step(
            "The reviewer decides, naming the digest of the report",
            "approval",
            "decide",
            request_id,
            "--by",
            "reviewer-tanaka",
            "--approve",
            "--reason",
            "evidence chain and collateral reviewed",
            "--report",
            report,
        )
        step("", "approval", "show", request_id)
    step("Verify the hash-chained audit log", "audit", "verify")
    step(
        "Share the act decisions with partners as STIX 2.1",
        "export",
        "stix",
        "--out",
        str(OUT / "act.stix.json"),
    )


def _corpus(world: Path) -> Path:
    """The values of the world's ground truth as a plain indicator list."""
    import csv

    out = OUT / "corpus.txt"
    with (world / "labels" / "truth.csv").open(encoding="utf-8", newline="") as handle:
        values = [row["value"] for row in csv.DictReader(handle)]
    out.write_text("\n".join(values) + "\n", encoding="utf-8")
    return out


def _targets(stdout: str) -> list[str]:
    return [str(row["target"]) for row in json.loads(stdout)["rows"]]


if __name__ == "__main__":
    sys.exit(main())
