"""What the HTTP service adds to the work it does: latency of its endpoints against the same
work done in-process by the library, on a generated world.

    .venv/bin/python -m benchmarks.service [--domains N] [--runs R] [--report-runs P]
                                           [--taxii-runs T] [--warmup W] [--seed S]

Writes a world of N domains resolving to addresses (every one scored, about a tenth of them
with the gate decision ``act``) and a few approval requests through the project's writer,
then serves it with uvicorn on a free loopback port, in a thread of this process, with a
fresh state folder (principals, signing key, reports, audit log) that is removed at the end.
Requests go through one keep-alive ``requests.Session``. Measured, R times each after W
warm-up runs (P for reports, T for the TAXII page):

``graph_return_1``   ``graph.read("RETURN 1")`` in-process: the Bolt round trip
``health``           ``GET /health``, no token (the service checks the graph's connectivity)
``keys``             ``GET /api/v1/keys``: the token check and the rate limit, no graph
``approvals_open``   ``GET /api/v1/approvals?status=open`` against ``list_requests``
``target_domain``    ``GET /api/v1/targets/domain/<d>`` against the route's two reads
``cypher``           ``POST /api/v1/cypher`` (planned with EXPLAIN, then run) against
                     ``graph.read`` of the same statement
``report``           ``POST /api/v1/reports`` (built, signed, audited, stored) against
                     ``generate_report`` with the same key and warninglists
``taxii_page``       ``GET /taxii2/api/collections/<indicators>/objects/?limit=100``

The last line is one JSON object: each measurement's p50 and p95 in milliseconds and its
ratios (p50 over p50, p95 over p95) to its baseline, the number of requests of each kind,
and the server (``uvicorn``). The bench Neo4j instance is stopped at the end when this run
started it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from attribution.approvals import list_requests
from attribution.db import Graph
from attribution.reports.builder import generate_report
from attribution.schema import TARGETS
from attribution.service.app import build_context
from attribution.service.config import load_service_config
from attribution.service.context import ServiceContext
from attribution.service.embedded import EmbeddedService
from attribution.service.routes.targets import _neighbours, _node
from attribution.service.taxii_objects import COLLECTIONS
from attribution.settings import ReportSettings, Settings, load_settings
from attribution.writer import GraphWriter, NodeRow, RelRow, apply_schema
from benchmarks._common import (
    bench_graph,
    bench_instance,
    emit,
    median,
    percentile,
    timed,
    wipe,
)

MODEL = "maliciousness/1"
TAXII_ACCEPT = "application/taxii+json;version=2.1"
CYPHER = (
    "MATCH (d:Domain {name: $name})-[r:RESOLVES_TO]->(a:IPAddress) "
    "RETURN a.address AS address, a.score AS score, r.ttl AS ttl ORDER BY address"
)
DECISIONS = ("no-act", "insufficient-evidence")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def domain(i: int) -> str:
    return f"d{i}.zone{i % 101}.test"


def address(i: int) -> str:
    return f"100.{64 + (i >> 16) % 64}.{(i >> 8) & 255}.{i & 255}"


# --- the world -------------------------------------------------------------------------


def _scored(rng: random.Random, now: datetime) -> dict[str, Any]:
    score = round(rng.random(), 3)
    decision = "act" if score > 0.9 else rng.choice(DECISIONS)
    return {
        "score": score,
        "decision": decision,
        "model_version": MODEL,
        "scored_at": now,
        "reasons": ["fast_flux_asns=+0.21", "young_registration=+0.12"],
    }


def world_rows(domains: int, seed: int, now: datetime) -> tuple[list[NodeRow], list[RelRow]]:
    """Domains resolving to shared addresses, all scored, and approval requests on some.
    Domain 0 is the report target: scored ``act``."""
    rng = random.Random(seed)
    seen = now - timedelta(days=3)

    def node(label: str, key: Any, props: dict[str, Any]) -> NodeRow:
        return NodeRow(label, key, props, "bench", seen, now, now)

    def rel(kind: str, start: Any, end: Any, props: dict[str, Any] | None = None) -> RelRow:
        return RelRow(kind, start, end, props or {}, "bench", seen, now, now)

    n_addresses = max(10, domains // 4)
    nodes = [
        node("IPAddress", address(i), {"version": 4, **_scored(rng, now)})
        for i in range(n_addresses)
    ]
    rels: list[RelRow] = []
    for i in range(domains):
        props = {"registrable": domain(i), "tld": "test", **_scored(rng, now)}
        if i == 0:
            props.update(score=0.97, decision="act")
        nodes.append(node("Domain", domain(i), props))
        for _ in range(rng.choice((1, 1, 2, 3))):
            ttl = rng.choice((60, 300, 3600))
            target = address(rng.randrange(n_addresses))
            rels.append(rel("RESOLVES_TO", domain(i), target, {"rtype": "A", "ttl": ttl}))
    for q in range(max(10, domains // 100)):
        target = domain(q * 7 % domains)
        props = {
            "target": target,
            "status": "open" if q % 2 else "approved",
            "requested_by": "ana",
            "requested_at": now - timedelta(minutes=q),
        }
        nodes.append(node("ApprovalRequest", f"REQ-{q}", props))
        rels.append(rel("CONCERNS_DOMAIN", f"REQ-{q}", target))
    return nodes, rels


def write_manifest(models: Path) -> None:
    """The scoring model's manifest (its gate block), as the reports read it."""
    folder = models / "maliciousness" / "1"
    folder.mkdir(parents=True)
    gate = {
        "alpha": 0.01,
        "delta": 0.05,
        "threshold": 0.9,
        "n_calibration_benign": 299,
        "batch_size": 1000,
        "rule": "act iff the mean score of the fold scorers > threshold",
    }
    manifest = {"name": "maliciousness", "version": "1", "gate": gate}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


# --- the server ------------------------------------------------------------------------


@contextmanager
def serving(ctx: ServiceContext) -> Iterator[str]:
    """The service over ``ctx`` on a free loopback port, in a thread; yields its URL and
    stops it on the way out."""
    running = EmbeddedService(ctx)
    try:
        yield running.start()
    finally:
        if not running.stop():
            log("warning: the service thread did not stop within 30 s")


def service_context(graph: Graph, state: Path) -> ServiceContext:
    """A context over ``graph`` whose files (audit log, models, state) all live in ``state``;
    the rate limit is set high enough never to apply."""
    base = load_settings()
    write_manifest(state / "models")
    settings: Settings = replace(
        base,
        home=state / "home",
        audit_log=state / "audit.jsonl",
        models_dir=state / "models",
        reports=ReportSettings(),
    )
    config = load_service_config(
        state / "service", rate_per_minute=60_000_000.0, rate_burst=10_000_000
    )
    return build_context(settings, config, graph=graph)


# --- measuring -------------------------------------------------------------------------


def call(
    session: requests.Session, method: str, url: str, expect: int = 200, **kwargs: Any
) -> Callable[[], Any]:
    """A request that fails loudly (status and the body's start) when it is not answered."""

    def once() -> Any:
        response = session.request(method, url, **kwargs)
        if response.status_code != expect:
            raise RuntimeError(
                f"{method} {url}: {response.status_code}, expected {expect}: {response.text[:300]}"
            )
        return response.json()

    return once


def figure(samples: list[float], base: list[float] | None = None, name: str = "") -> dict[str, Any]:
    """p50 and p95, and their ratios to ``base``'s as ``ratio_vs_<name>`` (p50 over p50) and
    ``p95_ratio_vs_<name>``."""
    p50, p95 = median(samples), percentile(samples, 0.95)
    out: dict[str, Any] = {"p50_ms": round(p50, 3), "p95_ms": round(p95, 3)}
    if base is not None:
        out[f"ratio_vs_{name}"] = round(p50 / median(base), 2)
        out[f"p95_ratio_vs_{name}"] = round(p95 / percentile(base, 0.95), 2)
    return out


def show(name: str, samples: list[float], base: list[float] | None = None) -> None:
    line = f"  {name:<24} p50 {median(samples):8.2f} ms  p95 {percentile(samples, 0.95):8.2f} ms"
    if base is not None:
        line += f"  (baseline p50 {median(base):8.2f} ms)"
    log(line)


class Bench:
    """The figures of one run, gathered against one running service."""

    def __init__(self, graph: Graph, ctx: ServiceContext, url: str, token: str, args: Any):
        self.graph, self.ctx, self.url, self.args = graph, ctx, url, args
        self.anonymous = requests.Session()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.figures: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    def measure(self, name: str, fn: Callable[[], Any], runs: int, **kind: Any) -> list[float]:
        samples = timed(fn, self.args.warmup, runs)
        self.counts[name] = runs + self.args.warmup
        base = kind.get("base")
        self.figures[name] = figure(samples, base, kind.get("vs", ""))
        show(name, samples, base)
        return samples

    def against_library(
        self, name: str, service: Callable[[], Any], library: Callable[[], Any], runs: int
    ) -> None:
        """The endpoint, then the library doing the same work, both ``runs`` times."""
        base = timed(library, self.args.warmup, runs)
        self.measure(name, service, runs, base=base, vs="library")
        self.figures[name]["library_p50_ms"] = round(median(base), 3)
        self.figures[name]["library_p95_ms"] = round(percentile(base, 0.95), 3)
        self.counts[f"{name}_library"] = runs + self.args.warmup

    def baseline(self) -> list[float]:
        """The Bolt round trip, /health, and /keys (token check and rate limit) against it."""
        runs = self.args.runs
        roundtrip = self.measure("graph_return_1", lambda: self.graph.read("RETURN 1 AS one"), runs)
        health = self.measure(
            "health",
            call(self.anonymous, "GET", f"{self.url}/health"),
            runs,
            base=roundtrip,
            vs="graph_return_1",
        )
        keys = call(self.session, "GET", f"{self.url}/api/v1/keys")
        self.measure("keys", keys, runs, base=health, vs="health")
        return health

    def reads(self, name: str) -> None:
        """Approvals, a target and ad-hoc Cypher, each against the library's own reads."""
        api, runs, graph = f"{self.url}/api/v1", self.args.runs, self.graph
        self.against_library(
            "approvals_open",
            call(self.session, "GET", f"{api}/approvals", params={"status": "open"}),
            lambda: list_requests(graph, ["open"]),
            runs,
        )
        spec = TARGETS["domain"]
        self.against_library(
            "target_domain",
            call(self.session, "GET", f"{api}/targets/domain/{name}"),
            lambda: (_node(graph, spec, name), _neighbours(graph, spec, name)),
            runs,
        )
        body = {"query": CYPHER, "params": {"name": name}}
        self.against_library(
            "cypher",
            call(self.session, "POST", f"{api}/cypher", json=body),
            lambda: graph.read(CYPHER, {"name": name}, values="json"),
            runs,
        )

    def report(self, target: str) -> None:
        """POST /reports against generate_report with the same key and warninglists."""
        lists = self.ctx.warninglists()
        settings, key = self.ctx.settings, self.ctx.signing_key

        def library() -> Any:
            return generate_report(
                self.graph,
                target,
                settings,
                generated_at=datetime.now(UTC),
                signing_key=key,
                warninglists=lists,
            )

        service = call(
            self.session, "POST", f"{self.url}/api/v1/reports", 201, json={"target": target}
        )
        self.against_library("report", service, library, self.args.report_runs)

    def taxii(self) -> None:
        """A page of the indicators collection (the service builds the collection per page)."""
        collection = find_collection_id("indicators")
        url = f"{self.url}/taxii2/api/collections/{collection}/objects/"
        page = call(
            self.session, "GET", url, params={"limit": 100}, headers={"Accept": TAXII_ACCEPT}
        )
        objects = len(page().get("objects", []))
        self.measure("taxii_page", page, self.args.taxii_runs)
        self.figures["taxii_page"]["objects"] = objects


def find_collection_id(alias: str) -> str:
    return next(c.id for c in COLLECTIONS if c.alias == alias)


# --- the run ---------------------------------------------------------------------------


def load_world(graph: Graph, domains: int, seed: int) -> None:
    began = time.perf_counter()
    wipe(graph)
    apply_schema(graph)
    nodes, rels = world_rows(domains, seed, datetime.now(UTC))
    GraphWriter(graph).load(nodes, rels)
    log(
        f"world: {len(nodes)} nodes, {len(rels)} relationships "
        f"written in {time.perf_counter() - began:.1f} s"
    )


def run(graph: Graph, args: Any, state: Path) -> dict[str, Any]:
    """Serve the loaded world and take every figure."""
    ctx = service_context(graph, state)
    _, token = ctx.principals.add("ana", "analyst", timedelta(days=1), ctx.clock())
    ctx.warninglists()  # loaded once, before either side is timed
    with serving(ctx) as url:
        log(f"service at {url}")
        bench = Bench(graph, ctx, url, token, args)
        try:
            bench.baseline()
            bench.reads(domain(1))
            bench.report(domain(0))
            bench.taxii()
        finally:
            bench.session.close()
            bench.anonymous.close()
    return {**bench.figures, "requests": bench.counts, "server": "uvicorn"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--domains", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--report-runs", type=int, default=20)
    parser.add_argument("--taxii-runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.domains < 2 or min(args.runs, args.report_runs, args.taxii_runs) < 1:
        parser.error("--domains must be at least 2 and every run count at least 1")

    instance = bench_instance()
    started_here = instance is not None and not instance.status().running
    graph = bench_graph()
    try:
        log(f"server {graph.server_version()}; {args.domains} domains")
        load_world(graph, args.domains, args.seed)
        with tempfile.TemporaryDirectory(prefix="bench-service-") as folder:
            figures = run(graph, args, Path(folder))
        wipe(graph)
    finally:
        graph.close()
        if started_here and instance is not None:
            instance.stop()
            log("stopped the bench instance this run started")
    figures["domains"] = args.domains
    emit(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
