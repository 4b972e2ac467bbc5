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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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


def step(
    title: str, *args: str, ok: tuple[int, ...] = (0,), show: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run one ``attribution`` command, echoing it (and, with ``show``, its output), and fail
    loudly on an unexpected exit."""
    command = [sys.executable, "-m", "attribution.cli.main", *args]
    if title:
        print(f"\n== {title}", flush=True)
    shown = shlex.join(args)
    print(f"$ attribution {shown if len(shown) < 400 else shown[:400] + ' ...'}", flush=True)
    began = time.monotonic()
    result = subprocess.run(command, text=True, stdout=subprocess.PIPE, check=False, env=DEMO_ENV)
    if show:
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
        for stop in (("sandbox", "down"), ("redis", "stop")):
            subprocess.run(
                [sys.executable, "-m", "attribution.cli.main", *stop],
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
    """Every capability in turn; the output doubles as a walkthrough."""
    _start_graph(REPO_ROOT / "docs" / "examples")
    _serve_world(world, size, seed)
    _enrich_and_label(world)
    _scale_out()
    _classify(world / "labels" / "truth.csv")
    _analyst_queries()
    _warninglists()
    eligible = _server_reports(reports)
    if eligible is not None:
        target, report = eligible
        _approval(target, report)
    _service(eligible[0] if eligible else None)
    _verify_and_share()


def _start_graph(examples: Path) -> None:
    """Neo4j, the schema, and the sample files' intake (one bad line named, the rest kept)."""
    step(
        "Start the local Neo4j server (resolved from Maven Central on first use)", "neo4j", "start"
    )
    step("Apply the constraints and indexes declared in attribution/schema.py", "schema", "apply")
    step(
        "Bring a graph left by an earlier version up to date (merged registrars, write-time "
        "summaries); idempotent",
        "schema",
        "migrate",
    )
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


def _serve_world(world: Path, size: int, seed: int) -> None:
    """A generated world served over real protocols on loopback, and its indicators ingested."""
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


def _enrich_and_label(world: Path) -> None:
    """Enrichment through the sandbox, then the feed and allowlist labels."""
    step(
        "Enrich every pending indicator through the sandbox (DNS, ASN, IP RDAP, registration); the sample "
        "list's names exist in no zone of the world, so they end failed or partial with the reason "
        "recorded (exit 1); --retry-failed asks again at once for nodes an earlier run left unfinished",
        "enrich",
        "--sandbox",
        "--max-depth",
        "1",
        "--retry-failed",
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


def _scale_out() -> None:
    """The same queue on Dramatiq workers, with the registry limits shared through Redis."""
    step(
        "Scale out: start the Redis broker (Debian's redis-server on 127.0.0.1, append-only)",
        "redis",
        "start",
    )
    step(
        "Enrich on two Dramatiq worker processes: the graph stays the record of each indicator, "
        "the registries' limits are shared in Redis by every worker; unfinished names are asked "
        "again (exit 1 while some stay partial)",
        "enrich",
        "--engine",
        "dramatiq",
        "--workers",
        "2",
        "--sandbox",
        "--max-depth",
        "1",
        "--retry-failed",
        ok=(0, 1),
    )


def _classify(truth: Path) -> None:
    """Train, score and evaluate the classifier against the world's ground truth."""
    step(
        "Train the calibrated classifier on the world's ground truth; its gate bounds the false-positive rate",
        "train",
        "--truth",
        str(truth),
    )
    step("Score every domain and address; thin evidence gets insufficient-evidence", "score")
    step(
        "Evaluate on held-out splits of the ground truth, beside a plain model under the same gate "
        "and two naive baselines",
        "evaluate",
        "--truth",
        str(truth),
        "--splits",
        "5",
        "--out",
        str(OUT / "evaluation"),
    )


def _analyst_queries() -> None:
    """Named queries from the library, as an analyst runs them."""
    step(
        "The write-time summaries the queries read (address spread, co-hosting, label and "
        "registrar counters) equal a recomputation from the facts",
        "summaries",
        "verify",
    )
    step(
        "Analyst queries: reports by sector, fast-flux candidates, high scores not yet reviewed",
        "query",
        "run",
        "reports-by-sector",
    )
    step("", "query", "run", "dns-fast-flux-candidates", "-p", "limit=10")
    step(
        "Gated candidates: the gate says act; each reason is an observed value and its Shapley "
        "contribution to the score",
        "query",
        "run",
        "review-high-score-unreviewed",
        "-p",
        "limit=10",
    )


def _verify_and_share() -> None:
    """The audit chain's verification and the STIX export of the act decisions."""
    step(
        "Verify the hash-chained audit log against its anchor file and the heads stored with "
        "each decision in the graph",
        "audit",
        "verify",
        "--graph",
    )
    step(
        "Share the act decisions with partners as STIX 2.1",
        "export",
        "stix",
        "--out",
        str(OUT / "act.stix.json"),
    )


def _warninglists() -> None:
    """What the misidentification controls know: a public resolver is benign and shared."""
    step(
        "The warninglists (all upstream MISP lists, from the pymispwarninglists package) say what "
        "a value is: a public resolver and a top site must never be acted upon",
        "warninglists",
        "check",
        "8.8.8.8",
    )
    step("", "warninglists", "check", "www.google.com")


def _server_reports(reports: Path) -> tuple[str, str] | None:
    """Reports on gated targets with servers, on a name without one and on a shared address.

    Returns the first (target, report file) eligible for approval, or None after saying why
    no gated target is.
    """
    step(
        "An action is against servers: each gated target with the servers an action would hit "
        "(resolutions seen within 72 hours of scoring) and the other names on each",
        "query",
        "run",
        "review-act-servers",
        "-p",
        "limit=20",
    )
    rows = _rows(step("", "query", "run", "review-act-servers", "--json", show=False).stdout)
    served = [r for r in rows if r["server"] is not None]
    # The two highest-scored domains and addresses that have a server.
    picked = [t for kind in ("domain", "ip") for t in _unique(
        r["target"] for r in served if r["kind"] == kind)[:2]]  # fmt: skip
    outcomes: dict[str, str] = {}
    eligible: tuple[str, str] | None = None
    for target in picked:
        outcome, report = _report(f"Confidence report for {target}", target, reports)
        outcomes[target] = outcome
        if eligible is None and outcome == "eligible-for-approval":
            eligible = (target, report)
    if eligible is None:
        print(
            "\n   No gated target is eligible for approval: "
            + (
                "; ".join(f"{t}: {o}" for t, o in outcomes.items())
                or "no gated target has a server"
            )
        )
    no_server = _unique(r["target"] for r in rows if r["server"] is None)
    _report(
        "A name with no current server: nothing to act on, whatever its score",
        (no_server or ["secure-login-portal.example.net"])[0],
        reports,
    )
    shared = _shared_address_domain()
    if shared is not None:
        _report(
            "A domain on a shared address: acting on its server would hit the other names there",
            shared,
            reports,
        )
    quiet = _domain_with("no-act", 0)
    if quiet is not None:
        _report(
            "A domain the gate does not act on: scoring deferred its explanation, and the "
            "report computes it from the feature values recorded with the score",
            quiet,
            reports,
        )
    return eligible


def _shared_address_domain() -> str | None:
    for decision in ("act", "no-act"):
        domain = _domain_with(decision, 4)
        if domain is not None:
            return domain
    return None


def _domain_with(decision: str, min_cohosted: int) -> str | None:
    """The first domain with ``decision`` sharing its addresses with ``min_cohosted`` names."""
    found = step(
        "",
        "query",
        "run",
        "review-collateral-risk",
        "-p",
        f"decision={decision}",
        "-p",
        f"min_cohosted={min_cohosted}",
        "--json",
        show=False,
    )
    domains = [r["target"] for r in _rows(found.stdout) if r["kind"] == "domain"]
    return str(domains[0]) if domains else None


def _report(title: str, target: str, reports: Path) -> tuple[str, str]:
    """Write the report on ``target``, print what a reviewer reads first; (outcome, file)."""
    made = step(title, "report", target, "--format", "both", "--out", str(reports), "--json")
    summary = json.loads(made.stdout)
    json_file = next(f for f in summary["files"] if f.endswith(".json"))
    content = json.loads(Path(json_file).read_text(encoding="utf-8"))["content"]
    _print_report(content)
    return summary["recommendation"], json_file


def _print_report(content: dict[str, Any]) -> None:
    recommendation = content["recommendation"]
    print(f"   recommendation: {recommendation['outcome']}")
    for reason in recommendation["reasons"][:4]:
        print(f"     because: {reason}")
    if len(recommendation["reasons"]) > 4:
        print(f"     ... and {len(recommendation['reasons']) - 4} more reasons in the report")
    score = content["score"]
    interval = score.get("interval") or {}
    if score.get("probability") is None:
        print(f"   score: none (decision {score.get('decision')})")
    else:
        print(
            f"   score: {score['probability']:.3f} (interval {interval.get('low', 0):.3f}"
            f" to {interval.get('high', 0):.3f}), decision {score.get('decision')}"
        )
    families = content["evidence_families"]
    print(
        f"   evidence families: {', '.join(families.get('observed') or []) or 'none'}; "
        f"not observed: {', '.join(families.get('not_observed') or []) or 'none'}"
    )
    print(f"   acting means: {content['action']['meaning']}")
    for server in content["servers"]:
        state = "current" if server["current"] else "stale"
        findings = "; ".join(server["findings"]) or "no collateral finding"
        print(
            f"     server {server['address']} ({state}, last seen {server['last_seen']}): {findings}"
        )
        print(f"       lives on it too: {_tenants_line(server)}")
    explanation = score.get("explanation") or {}
    if explanation.get("note"):
        print(f"     explanation: {explanation['note']}")
    for item in (explanation.get("contributions") or [])[:4]:
        where = ", ".join(item.get("check_in") or [])
        print(f"     reason: {item['text']}  [check: {where}]")
    if explanation.get("not_observed"):
        print(f"     not observed: {', '.join(explanation['not_observed'])}")


def _tenants_line(server: dict[str, Any]) -> str:
    """What else is on a server, as the report's ``servers`` entry counts it."""
    others = server["cohosted_names"]
    if not others:
        return "no other name"
    examples = server["cohosted_examples"]
    unnamed = others - len(examples)
    shown = ", ".join(examples) + (f" and {unnamed} more" if unnamed else "")
    # The counts overlap (a benign name is also not known to be malicious, unless a feed
    # disputes it), so the line says they are counts of the same names, not a partition.
    return (
        f"{others} other name(s): {shown}; of these, {server['cohosted_not_known_malicious']} "
        f"not known to be malicious, {server['benign_tenants_count']} labelled benign, "
        f"{server['reported_tenants_count']} named in incident reports (a name may be in"
        " more than one count)"
    )


def _unique(values: Iterable[Any]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


def _approval(target: str, report: str) -> None:
    """Request approval on an eligible report; a refused self-decision; the reviewer's."""
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


def _service(target: str | None) -> None:
    """Service mode: roles proven by tokens, the API, the console, TAXII
    (:mod:`attribution.demo_service`)."""
    from attribution.demo_service import ServiceDemoFailed, run_service_demo

    sample = REPO_ROOT / "docs" / "examples" / "indicators.csv"
    try:
        run_service_demo(dict(DEMO_ENV), OUT, sample, target)
    except ServiceDemoFailed as exc:
        raise DemoFailed(str(exc)) from exc


def _corpus(world: Path) -> Path:
    """The values of the world's ground truth as a plain indicator list."""
    import csv

    out = OUT / "corpus.txt"
    with (world / "labels" / "truth.csv").open(encoding="utf-8", newline="") as handle:
        values = [row["value"] for row in csv.DictReader(handle)]
    out.write_text("\n".join(values) + "\n", encoding="utf-8")
    return out


def _rows(stdout: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(stdout)["rows"]
    return rows


if __name__ == "__main__":
    sys.exit(main())
