"""Enrichment throughput against the sandbox, next to the raw DNS ceiling of the same server.

    python -m benchmarks.enrich [--size 5000] [--concurrency 64] [--batch 200] [--workers 1]
                                [--engine lease|dramatiq] [--limit rdap=10/1 | --no-limit]

Generates a world, serves it with the sandbox, writes every name and address of its ground
truth as a pending indicator into the benchmark Neo4j instance, and measures in one run:

(a) the raw DNS ceiling: dnspython asyncio A queries per second against the same nsd, with the
    same number of queries in flight as the pipeline is allowed, from as many processes as the
    pipeline has workers;
(b) the full pipeline (every source, graph writes included, discovery off): DNS queries per
    second (counted by the request gate) and indicators per second;
(c) IP RDAP requests made (the range cache's misses) against the number of distinct networks
    the addresses fell into.

One worker process is bound by one core (the GIL): with ``--workers N`` the pipeline runs as N
worker processes sharing the queue, as ``attribution enrich`` started N times would; the
figures are summed over them and timed from the first start to the last finish. Each process
has its own RDAP range cache, so up to N requests per network are expected then.

Registry limits are shared by every process through a Redis the benchmark starts (the same
store the Dramatiq workers use), so N processes together spend one budget. With ``--engine
dramatiq`` the same queue is then enriched again by N ``attribution worker`` processes fed by
the Dramatiq dispatcher, and the JSON line carries the lease run's figures under ``lease`` for
comparison. For each engine: ``over_limit_answers`` (429s and over-limit WHOIS answers; must
be 0), ``limit_utilisation`` (requests sent to the busiest registry ÷ (its published rate × the
run's time); the client keeps to 90% of a sandbox server's published rate), ``indicators_per_s`` and ``cpu_s_per_indicator`` (this process and its worker
processes, from ``getrusage``).

The sandbox enforces ``--limit`` (default ``rdap=10/1``: ten RDAP requests a second, counted
across connections, well below what the workers can send unlimited), so the RDAP registry's
limit is what binds and ``limit_utilisation`` says how close the engine keeps to it; the
sandbox's own count of over-limit answers is reported as ``sandbox_over_limit``. With
``--no-limit`` the sandbox enforces nothing, and the figures are the pipeline's own
throughput (every domain costs one RDAP request, so at ``rdap=10/1`` no engine passes about
ten domains a second).

The last line is one JSON object with ``engine``, ``workers``, ``raw_dns_qps``,
``pipeline_dns_qps``, ``ratio_vs_raw_dns``, ``indicators_per_s``, ``over_limit_answers``,
``limit_utilisation``, ``cpu_s_per_indicator``, ``rdap_requests`` and ``distinct_networks``,
and the lease run's ``stage_seconds`` (claim, enrich, rows, write; summed over lanes),
``stage_shares`` (each stage's seconds ÷ the run's) and ``write_share`` (write seconds ÷ the
run's seconds).

The benchmark instance is ``benchmarks._common.BENCH_INSTANCE`` on its ports (see there).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import csv
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.resolver
import redis

from attribution.db import Graph
from attribution.engines.dramatiq_engine import (
    Counters,
    DramatiqEngine,
    DramatiqOptions,
    counter_difference,
)
from attribution.identities import InvalidIdentity, parse_indicator
from attribution.redis_server import LocalRedis
from attribution.rows import Rows, Seen
from attribution.settings import RedisSettings
from attribution.worker import Worker, WorkerOptions
from attribution.writer import GraphWriter, apply_schema
from benchmarks._common import (
    BENCH_INSTANCE,
    bench_graph,
    bench_server_env,
    emit,
    peak_rss_mb,
    wipe,
)
from enrichment.clients import close_resolver, enrichment_runner, make_resolver
from enrichment.config import (
    SANDBOX_CLIENT_MARGIN,
    SANDBOX_RDAP,
    SANDBOX_WHOIS,
    EnrichmentConfig,
)
from enrichment.limits import registry_counters
from enrichment.sandbox.generate import generate_world
from enrichment.sandbox.limiting import LimitSpec, parse_service_limit
from enrichment.sandbox.manager import Sandbox, free_port


def truth_values(data_dir: Path) -> list[str]:
    """Every domain and address of the world's ground truth."""
    with (data_dir / "labels" / "truth.csv").open(encoding="utf-8") as handle:
        return [row["value"] for row in csv.DictReader(handle)]


async def raw_dns_qps(config: EnrichmentConfig, names: list[str], concurrency: int) -> float:
    """A queries per second with ``concurrency`` in flight, answers or not (NXDOMAIN counts)."""
    resolver: dns.asyncresolver.Resolver = make_resolver(config)
    bound = asyncio.Semaphore(concurrency)

    async def one(name: str) -> None:
        async with bound:
            try:
                await resolver.resolve(name + ".", "A", search=False)
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.exception.Timeout):
                pass
            except dns.resolver.NoNameservers:
                pass

    began = time.perf_counter()
    await asyncio.gather(*(one(n) for n in names))
    seconds = time.perf_counter() - began
    await close_resolver(resolver)
    return len(names) / seconds


def raw_dns_process(
    endpoints: dict[str, Any], names: list[str], concurrency: int
) -> tuple[float, float, int]:
    """:func:`raw_dns_qps` in a process of its own: (started, ended, queries)."""
    config = EnrichmentConfig.from_sandbox(endpoints)
    started = time.time()
    with enrichment_runner() as runner:  # the worker's event loop
        runner.run(raw_dns_qps(config, names, concurrency))
    return started, time.time(), len(names)


def run_worker_process(
    endpoints: dict[str, Any],
    concurrency: int,
    batch: int,
    lanes: int,
    worker_id: str,
    limits_url: str | None = None,
) -> dict[str, Any]:
    """One worker process's run: its summary, and when it started and ended (epoch seconds)."""
    config = replace(
        EnrichmentConfig.from_sandbox(endpoints),
        max_concurrency=concurrency,
        shared_limits_url=limits_url,
    )
    graph = bench_graph()
    try:
        options = WorkerOptions(worker_id=worker_id, batch=batch, max_depth=0, lanes=lanes)
        started = time.time()
        summary = Worker(graph, config, options).run()
        return {
            "started": started,
            "ended": time.time(),
            "claimed": len(summary.claimed),
            "done": len(summary.done),
            "partial": len(summary.partial),
            "failed": len(summary.failed),
            "dns_queries": summary.dns_queries,
            "rdap_hits": summary.rdap_cache_hits,
            "rdap_misses": summary.rdap_cache_misses,
            "as_hits": summary.as_cache_hits,
            "as_misses": summary.as_cache_misses,
            "stage_seconds": dict(summary.stage_seconds),
            "sources": summary.as_dict()["sources"],
        }
    finally:
        graph.close()


def _combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the processes' figures; the pipeline time spans first start to last end."""
    total: dict[str, Any] = {
        key: sum(run[key] for run in runs)
        for key in (
            "claimed",
            "done",
            "partial",
            "failed",
            "dns_queries",
            "rdap_hits",
            "rdap_misses",
            "as_hits",
            "as_misses",
        )
    }
    total["seconds"] = max(r["ended"] for r in runs) - min(r["started"] for r in runs)
    stages: dict[str, float] = {}
    sources: dict[str, dict[str, int]] = {}
    for run in runs:
        for stage, seconds in run["stage_seconds"].items():
            stages[stage] = stages.get(stage, 0.0) + seconds
        for source, counts in run["sources"].items():
            merged = sources.setdefault(source, {})
            for outcome, n in counts.items():
                merged[outcome] = merged.get(outcome, 0) + n
    total["stage_seconds"] = {k: round(v, 3) for k, v in sorted(stages.items())}
    total["sources"] = sources
    return total


def queue_indicators(graph: Graph, data_dir: Path) -> list[str]:
    """Write every name and address of the world's truth as a pending indicator."""
    rows = Rows()
    seen = Seen.at(datetime.now(UTC))
    values: list[str] = []
    for value in truth_values(data_dir):
        try:
            identity = parse_indicator(value)
        except InvalidIdentity:
            continue
        values.append(str(identity.value))
        rows.node(
            identity,
            {"indicator": True, "enrich_state": "pending", "enrich_depth": 0},
            "ingest:benchmark",
            seen,
        )
    GraphWriter(graph).load(rows.nodes, rows.rels)
    return values


def measure_raw_dns(
    endpoints: dict[str, Any], names: list[str], workers: int, concurrency: int
) -> tuple[float, list[str]]:
    """(a): raw A queries per second from ``workers`` processes, and the queries sent."""
    # Enough queries for a stable rate: every name, repeated up to 5,000.
    queries = (names * (5000 // max(len(names), 1) + 1))[: max(5000, len(names))]
    # As many client processes as the pipeline will have worker processes.
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=spawn) as pool:
        parts = [queries[i::workers] for i in range(workers)]
        timed = [
            f.result()
            for f in [pool.submit(raw_dns_process, endpoints, part, concurrency) for part in parts]
        ]
    raw = sum(t[2] for t in timed) / (max(t[1] for t in timed) - min(t[0] for t in timed))
    return raw, queries


def measure_pipeline(
    endpoints: dict[str, Any], args: argparse.Namespace, limits_url: str | None = None
) -> dict[str, Any]:
    """(b) and (c): the pipeline, in worker processes of their own; their combined figures."""
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(args.workers, mp_context=spawn) as pool:
        futures = [
            pool.submit(
                run_worker_process,
                endpoints,
                args.concurrency,
                args.batch,
                args.lanes,
                f"bench-{i}",
                limits_url,
            )
            for i in range(args.workers)
        ]
        return _combine([f.result() for f in futures])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.enrich")
    parser.add_argument("--size", type=int, default=5000, help="domains in the world")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    parser.add_argument("--batch", type=int, default=200, help="indicators per claim")
    parser.add_argument(
        "--lanes", type=int, default=2, help="claim-enrich-write loops in the worker"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--engine",
        choices=("lease", "dramatiq"),
        default="lease",
        help="dramatiq: also run the Dramatiq engine on the same queue and compare",
    )
    parser.add_argument(
        "--limit",
        action="append",
        metavar="SERVICE=RATE/SECONDS",
        help="a limit the sandbox enforces (repeatable; default rdap=10/1)",
    )
    parser.add_argument(
        "--no-limit",
        action="store_true",
        help="the sandbox enforces no limit: the pipeline's own throughput",
    )
    return parser


def sandbox_limits(args: argparse.Namespace) -> dict[str, LimitSpec]:
    """The limits the sandbox enforces: ``--limit``, none with ``--no-limit``, else rdap=10/1."""
    if args.no_limit:
        if args.limit:
            raise SystemExit("--no-limit and --limit exclude each other")
        return {}
    return dict(parse_service_limit(text) for text in args.limit or ["rdap=10/1"])


def cpu_seconds() -> float:
    """CPU time of this process and of its finished child processes."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


SANDBOX_NAMES = frozenset({SANDBOX_RDAP, SANDBOX_WHOIS})


def engine_figures(
    config: EnrichmentConfig, registries: Counters, seconds: float, finished: int, cpu: float
) -> dict[str, Any]:
    """The figures every engine is compared on."""
    # Utilisation is measured against the limit the registry publishes; for the sandbox's
    # servers the client keeps to SANDBOX_CLIENT_MARGIN of it by design.
    rates = {
        r.name: r.rate / (SANDBOX_CLIENT_MARGIN if r.name in SANDBOX_NAMES else 1.0)
        for r in config.registries
    }
    utilisation = [
        counts.get("requests", 0) / (rates[name] * seconds)
        for name, counts in registries.items()
        if name in rates
    ]
    return {
        "indicators_per_s": round(finished / seconds, 1),
        "seconds": round(seconds, 2),
        "over_limit_answers": sum(c.get("over_limit", 0) for c in registries.values()),
        "limit_utilisation": round(max(utilisation), 3) if utilisation else None,
        "cpu_s_per_indicator": round(cpu / max(finished, 1), 4),
        "registries": registries,
    }


def requeue(graph: Graph, data_dir: Path) -> list[str]:
    """An empty graph with every indicator of the world pending."""
    wipe(graph)
    apply_schema(graph)
    return queue_indicators(graph, data_dir)


def measure_lease(
    endpoints: dict[str, Any], args: argparse.Namespace, url: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The lease engine's run: the pipeline figures and the compared figures."""
    before, cpu = registry_counters(url), cpu_seconds()
    figures = measure_pipeline(endpoints, args, url)
    spent = cpu_seconds() - cpu
    registries = counter_difference(before, registry_counters(url))
    config = EnrichmentConfig.from_sandbox(endpoints)
    compared = engine_figures(config, registries, figures["seconds"], figures["claimed"], spent)
    return figures, {"engine": "lease", "workers": args.workers, **compared}


def _bench_env(graph: Graph, state_file: Path, url: str) -> dict[str, str]:
    """The environment of a worker process: the bench graph, the sandbox and the broker."""
    return {
        **os.environ,
        **bench_server_env(),
        "NEO4J_DATABASE": graph.database,
        "ATTRIBUTION_SANDBOX_ENDPOINTS": str(state_file),
        "REDIS_URL": url,
    }


def _wait_for_heartbeats(url: str, workers: int, timeout: float = 120.0) -> None:
    """Wait until ``workers`` Dramatiq workers have announced themselves to the broker."""
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout
    try:
        while client.zcard("dramatiq:__heartbeats__") < workers:
            if time.monotonic() > deadline:
                raise SystemExit("the Dramatiq workers did not start")
            time.sleep(0.2)
    finally:
        client.close()


def measure_dramatiq(
    graph: Graph, endpoints: dict[str, Any], state_file: Path, args: argparse.Namespace, url: str
) -> dict[str, Any]:
    """The Dramatiq engine on the same queue: ``--workers`` started (and ready) beforehand."""
    command = [sys.executable, "-m", "attribution.cli.worker_cmd", "--engine", "dramatiq"]
    command += ["--concurrency", str(args.concurrency), "--threads", str(args.lanes)]
    env = _bench_env(graph, state_file, url)
    workers = [subprocess.Popen(command, env=env) for _ in range(args.workers)]
    try:
        _wait_for_heartbeats(url, args.workers)
        before, cpu = registry_counters(url), cpu_seconds()
        options = DramatiqOptions(batch=args.batch, max_depth=0, workers=0, pass_seconds=0.5)
        summary = DramatiqEngine(graph, url, options).run()
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(300)
    spent = cpu_seconds() - cpu
    registries = counter_difference(before, registry_counters(url))
    config = EnrichmentConfig.from_sandbox(endpoints)
    finished = len(summary.claimed)
    compared = engine_figures(config, registries, summary.seconds, finished, spent)
    return {"engine": "dramatiq", "workers": args.workers, "done": len(summary.done), **compared}


def _result(
    args: argparse.Namespace,
    values: list[str],
    raw: float,
    queries: list[str],
    figures: dict[str, Any],
    distinct: int,
) -> dict[str, Any]:
    pipeline_qps = figures["dns_queries"] / figures["seconds"]
    stages = figures["stage_seconds"]
    return {
        "benchmark": "enrich",
        "size": args.size,
        "indicators": len(values),
        "concurrency": args.concurrency,
        "batch": args.batch,
        "raw_dns_qps": round(raw, 1),
        "raw_dns_queries": len(queries),
        "pipeline_dns_qps": round(pipeline_qps, 1),
        "pipeline_dns_queries": figures["dns_queries"],
        "ratio_vs_raw_dns": round(pipeline_qps / raw, 3),
        "pipeline_seconds": round(figures["seconds"], 2),
        "stage_seconds": stages,
        # Seconds of each stage per second of the run (lanes overlap, so shares can add up
        # to more than 1): ``write_share`` is how much of the run the graph writes took.
        "stage_shares": {k: round(v / figures["seconds"], 3) for k, v in stages.items()},
        "write_share": round(stages.get("write", 0.0) / figures["seconds"], 3),
        "done": figures["done"],
        "partial": figures["partial"],
        "failed": figures["failed"],
        "sources": figures["sources"],
        "rdap_requests": figures["rdap_misses"],
        "rdap_cache_hits": figures["rdap_hits"],
        "as_registration_lookups": figures["as_misses"],
        "as_registration_cache_hits": figures["as_hits"],
        "distinct_networks": distinct,
        "rdap_requests_per_network": round(figures["rdap_misses"] / max(distinct, 1), 3),
        "peak_rss_mb": peak_rss_mb(),
    }


def _start_redis(root: Path) -> LocalRedis:
    server = LocalRedis(
        root / "redis-home", RedisSettings(port=free_port()), instance=BENCH_INSTANCE
    )
    server.start()
    return server


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-enrich-") as tmp:
        root = Path(tmp)
        data_dir = root / "world"
        began = time.perf_counter()
        generate_world(data_dir, seed=args.seed, size=args.size)
        print(f"world generated in {time.perf_counter() - began:.1f}s", file=sys.stderr)
        sandbox = Sandbox(root / "state")
        limits = sandbox_limits(args)
        endpoints = sandbox.up(data_dir, limits=limits)
        redis_server = _start_redis(root)
        graph = bench_graph()
        try:
            values = requeue(graph, data_dir)
            names = [v for v in values if not v[0].isdigit() and ":" not in v]
            print(f"{len(values)} indicators ({len(names)} names) pending", file=sys.stderr)
            raw, queries = measure_raw_dns(endpoints, names, args.workers, args.concurrency)
            print(f"raw DNS: {raw:.0f} queries/s", file=sys.stderr)
            figures, lease = measure_lease(endpoints, args, redis_server.url)
            print(f"lease: {lease}", file=sys.stderr)
            distinct = graph.read(
                "MATCH (:IPAddress {indicator: true})-[:IN_NETWORK]->(n:Network) "
                "RETURN count(DISTINCT n) AS n"
            )[0]["n"]
            result = {**_result(args, values, raw, queries, figures, distinct), **lease}
            if args.engine == "dramatiq":
                requeue(graph, data_dir)
                engine = measure_dramatiq(
                    graph, endpoints, sandbox.state_file, args, redis_server.url
                )
                result = {**result, **engine, "lease": lease}
            refused = sandbox.stats()
            result["sandbox_limits"] = {k: v.text() for k, v in sorted(limits.items())}
            result["sandbox_over_limit"] = sum(c["over_limit"] for c in refused.values())
        finally:
            graph.close()
            redis_server.stop()
            sandbox.down()
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
