"""``attribution enrich``: claim pending indicators and enrich them with DNS, ASN and RDAP data.

Where the questions go, highest precedence first: ``--sandbox`` (the sandbox that
``attribution sandbox up`` started); the sandbox endpoints file named by
``$ATTRIBUTION_SANDBOX_ENDPOINTS`` or ``[enrichment] sandbox_endpoints`` in the TOML file;
otherwise the real services, with ``--resolver`` / ``--rdap-bootstrap-url`` or the TOML
``[enrichment]`` keys ``resolver_address``, ``resolver_port``, ``dns_lifetime``,
``rdap_bootstrap_url``, ``http_timeout``, ``whois_timeout`` and ``max_concurrency``
overriding the defaults.

Two engines (:mod:`attribution.engines`): ``--engine lease`` (the default unless ``REDIS_URL``
is set) claims indicators from the graph in this process; ``--engine dramatiq`` dispatches them
as Dramatiq messages through the Redis broker (``REDIS_URL`` or ``attribution redis start``),
starts ``--workers N`` local worker processes (0: workers run elsewhere, started with
``attribution worker --engine dramatiq``), queues again what a lost message or a killed
worker left, and waits until every dispatched indicator is finished in the graph. Its
``--json`` output counts, per registry, the requests, over-limit answers (429s) and deferrals
of the run. An unreachable broker is a one-line error and exit 3.

Exit code 0 when every indicator the run finished ended ``done`` or ``deferred`` (a registry's
daily quota was spent; it is tried again when the quota resets), also after SIGTERM or SIGINT
(claims still being worked on are handed back first); 1 when any ended ``partial`` (some source
failed) or ``failed`` (every source failed). A node whose sources failed transiently carries a
retry time (``enrich_retry_at``, capped exponential backoff) and a later run claims it once that
time has come; ``--retry-failed`` claims every partial or failed node now.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from attribution.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    CommandError,
    connect,
    print_json,
)
from attribution.cli.sandbox_cmd import state_dir
from attribution.db import Graph
from attribution.engines import ENGINES, EngineError, EnrichmentEngine
from attribution.engines.broker import check_broker
from attribution.engines.dramatiq_engine import (
    DEFAULT_WORKERS,
    DramatiqEngine,
    DramatiqOptions,
    default_run_id,
)
from attribution.engines.lease import LeaseEngine
from attribution.redis_server import redis_url
from attribution.settings import Settings, load_settings
from attribution.worker import (
    DEFAULT_BATCH,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_DISCOVERED,
    DEFAULT_REQUEUE_AFTER,
    RunSummary,
    WorkerOptions,
    count_claimable,
    default_worker_id,
)
from enrichment.config import Breaker, EnrichmentConfig, NodeRetry
from enrichment.failures import LimitStoreUnavailable


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "enrich",
        help="claim pending indicators and enrich them (DNS, ASN, IP RDAP, registration)",
        description="Claim pending or stale Domain and IPAddress nodes, run every enrichment "
        "source, write the observations and follow what they point at. Exit 0 when every "
        "indicator ended done or deferred (also after SIGTERM/SIGINT), 1 when any ended "
        "partial or failed, 3 when the graph or the broker is unreachable.",
    )
    add_where_arguments(parser)
    engine = parser.add_argument_group("engine")
    engine.add_argument(
        "--engine",
        choices=ENGINES,
        help="lease: claim from the graph in this process (default without REDIS_URL); "
        "dramatiq: dispatch to Dramatiq workers through the Redis broker",
    )
    engine.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=f"dramatiq: local worker processes to start (default {DEFAULT_WORKERS}; 0: "
        "workers run elsewhere)",
    )
    engine.add_argument(
        "--requeue-after",
        type=float,
        default=DEFAULT_REQUEUE_AFTER.total_seconds(),
        help="dramatiq: queue again indicators queued longer than SECONDS (default "
        f"{DEFAULT_REQUEUE_AFTER.total_seconds():.0f})",
    )
    run = parser.add_argument_group("what to do")
    run.add_argument("--limit", type=int, help="claim at most N indicators in this run")
    run.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="indicators per claim")
    run.add_argument("--max-depth", type=int, default=DEFAULT_MAX_DEPTH, help="discovery hops")
    run.add_argument(
        "--max-discovered",
        type=int,
        default=DEFAULT_MAX_DISCOVERED,
        help="queue at most N discovered names and addresses per run",
    )
    run.add_argument(
        "--stale-after", type=float, default=168.0, help="re-enrich after HOURS (default 168)"
    )
    run.add_argument(
        "--lease-seconds", type=float, default=300.0, help="lease length (default 300)"
    )
    run.add_argument(
        "--retry-failed",
        action="store_true",
        help="claim partial and failed indicators now, without waiting for their retry time",
    )
    run.add_argument("--watch", action="store_true", help="keep polling for new indicators")
    run.add_argument("--poll-seconds", type=float, default=5.0, help="poll interval with --watch")
    run.add_argument("--worker-id", help="lease owner name (default host:pid:random)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary")
    parser.set_defaults(func=run_enrich)


def add_where_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that say where questions go (shared with ``attribution worker``)."""
    where = parser.add_argument_group("where to send questions")
    where.add_argument(
        "--sandbox", action="store_true", help="use the sandbox `attribution sandbox up` started"
    )
    where.add_argument("--resolver", help="recursive resolver as HOST or HOST:PORT")
    where.add_argument("--rdap-bootstrap-url", help="base URL of the RDAP bootstrap files")
    where.add_argument("--concurrency", type=int, help="requests in flight at once")


def where_flags(args: argparse.Namespace) -> list[str]:
    """The where-to-send flags of ``args`` again, for a worker process started by this one."""
    flags = ["--sandbox"] if args.sandbox else []
    for flag, value in (
        ("--resolver", args.resolver),
        ("--rdap-bootstrap-url", args.rdap_bootstrap_url),
        ("--concurrency", args.concurrency),
    ):
        if value is not None:
            flags += [flag, str(value)]
    return flags


def broker_url(settings: Settings) -> str:
    """``REDIS_URL``, or the managed Redis's URL when it runs; a one-line error otherwise."""
    url = redis_url(settings.home, settings.redis)
    if url is None:
        raise CommandError(
            "no broker: REDIS_URL is not set and the managed Redis is not running; start it "
            "with `attribution redis start` or set REDIS_URL"
        )
    return url


def checked_broker_url(settings: Settings) -> str:
    """The broker's URL once it has answered; a one-line error (exit 3) otherwise."""
    url = broker_url(settings)
    try:
        check_broker(url)
    except EngineError as exc:
        raise CommandError(str(exc)) from None
    return url


def _sandbox_config(path: Path) -> EnrichmentConfig:
    try:
        endpoints = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(
            f"no sandbox endpoints at {path}: run `attribution sandbox up DIR` first"
        ) from None
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not a sandbox endpoints file ({exc})") from None
    try:
        return EnrichmentConfig.from_sandbox(endpoints)
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from None


def enrichment_config(args: argparse.Namespace, settings: Settings) -> EnrichmentConfig:
    """The enrichment configuration: the flags laid over the enrichment settings."""
    table = settings.enrichment
    if args.sandbox:
        from enrichment.sandbox.manager import Sandbox

        sandbox = Sandbox(state_dir())
        if not sandbox.status()["up"]:
            raise CommandError(
                "the sandbox is not up: run `attribution sandbox up DIR` (state in "
                f"{sandbox.state_dir})"
            )
        config = _sandbox_config(sandbox.state_file)
    elif table.sandbox_endpoints is not None:
        config = _sandbox_config(table.sandbox_endpoints)
    else:
        overrides = table.overrides()
        if args.resolver:
            host, _, port = args.resolver.partition(":")
            overrides["resolver_address"] = host
            if port:
                if not port.isdigit():
                    raise CommandError(f"--resolver {args.resolver!r}: port is not a number", 2)
                overrides["resolver_port"] = int(port)
        if args.rdap_bootstrap_url:
            overrides["rdap_bootstrap_url"] = args.rdap_bootstrap_url
        try:
            config = replace(EnrichmentConfig(), **overrides)
        except ValueError as exc:
            raise CommandError(f"enrichment settings: {exc}", EXIT_USAGE) from None
    config = _with_failure_policy(config, table.failure_policy())
    if args.concurrency is not None:
        if args.concurrency < 1:
            raise CommandError("--concurrency must be at least 1", EXIT_USAGE)
        config = replace(config, max_concurrency=args.concurrency)
    return config


def run_enrich(args: argparse.Namespace) -> int:
    settings = load_settings()
    config = enrichment_config(args, settings)
    engine_name = args.engine or ("dramatiq" if settings.redis.url else "lease")
    if settings.redis.url:
        # Every process, whatever its engine, spends the registries' limits from one store.
        config = replace(config, shared_limits_url=settings.redis.url)
    options = _worker_options(args)
    url = checked_broker_url(settings) if engine_name == "dramatiq" else None
    with connect() as graph:
        bar = _progress_bar(args, graph, options)
        try:
            engine: EnrichmentEngine
            if url is not None:
                engine = _dramatiq_engine(args, url, graph, options, bar)
            else:
                engine = LeaseEngine(
                    graph,
                    config,
                    options,
                    progress=bar.update if bar else None,
                    handle_signals=True,
                )
            summary = _run(engine, handle_signals=engine_name == "dramatiq")
        finally:
            if bar is not None:
                bar.close()
    _print_summary(args, summary)
    return EXIT_REJECTED if summary.partial or summary.failed else EXIT_OK


def _worker_options(args: argparse.Namespace) -> WorkerOptions:
    try:
        return WorkerOptions(
            worker_id=args.worker_id or default_worker_id(),
            batch=args.batch,
            limit=args.limit,
            max_depth=args.max_depth,
            max_discovered=args.max_discovered,
            stale_after=timedelta(hours=args.stale_after),
            lease=timedelta(seconds=args.lease_seconds),
            watch=args.watch,
            poll_seconds=args.poll_seconds,
            retry_failed=args.retry_failed,
        )
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None


def _progress_bar(args: argparse.Namespace, graph: Graph, options: WorkerOptions) -> Any:
    if args.json:
        return None
    from tqdm import tqdm

    total = count_claimable(graph, options.stale_after, retry_failed=options.retry_failed)
    if options.limit is not None:
        total = min(total, options.limit)
    return tqdm(total=None if options.watch else total, unit="ind", file=sys.stderr)


def _dramatiq_engine(
    args: argparse.Namespace,
    url: str,
    graph: Graph,
    options: WorkerOptions,
    bar: Any,
) -> DramatiqEngine:
    if args.watch:
        raise CommandError("--watch is for the lease engine: dramatiq workers wait anyway", 2)
    try:
        dramatiq_options = DramatiqOptions(
            run_id=args.worker_id or default_run_id(),
            batch=options.batch,
            limit=options.limit,
            max_depth=options.max_depth,
            max_discovered=options.max_discovered,
            stale_after=options.stale_after,
            lease=options.lease,
            retry_failed=options.retry_failed,
            requeue_after=timedelta(seconds=args.requeue_after),
            workers=args.workers,
        )
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    command = [sys.executable, "-m", "attribution.cli.worker_cmd", "--engine", "dramatiq"]
    return DramatiqEngine(
        graph,
        url,
        dramatiq_options,
        worker_command=[*command, "--processes", "1", *where_flags(args)],
        counters=lambda: _registry_counters(url),
        progress=bar.update if bar else None,
    )


def _registry_counters(url: str) -> dict[str, dict[str, int]] | None:
    """The broker's cumulative per-registry counters; None while it cannot be read."""
    from enrichment.limits import registry_counters

    try:
        return registry_counters(url)
    except LimitStoreUnavailable:
        return None


def _run(engine: EnrichmentEngine, *, handle_signals: bool) -> RunSummary:
    """Run the engine; SIGTERM and SIGINT ask it to stop (the lease engine wires its own)."""
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: engine.request_stop())
    try:
        return engine.run()
    except (EngineError, LimitStoreUnavailable) as exc:
        raise CommandError(str(exc)) from None


def _print_summary(args: argparse.Namespace, summary: RunSummary) -> None:
    figures = summary.as_dict()
    if args.json:
        print_json(figures)
        return
    print(
        f"{figures['claimed']} claimed, {figures['done']} done, {figures['partial']} partial, "
        f"{figures['failed']} failed, {figures['deferred']} deferred, "
        f"{figures['released']} released, {figures['discovered']} discovered, "
        f"{figures['dns_queries']} DNS queries in {figures['seconds']:.1f}s"
    )
    for source, counts in figures["sources"].items():
        print(f"  {source}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for registry, counts in figures["registries"].items():
        print(f"  {registry}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _with_failure_policy(config: EnrichmentConfig, policy: dict[str, Any]) -> EnrichmentConfig:
    """``config`` with the ``[enrichment]`` retry and breaker keys that are set laid over it."""
    if not policy:
        return config
    try:
        return replace(
            config,
            node_retry=NodeRetry(
                base=policy.get("node_retry_base", config.node_retry.base),
                cap=policy.get("node_retry_cap", config.node_retry.cap),
            ),
            breaker=Breaker(
                failures=policy.get("breaker_failures", config.breaker.failures),
                cooldown=policy.get("breaker_cooldown", config.breaker.cooldown),
            ),
            retry=replace(
                config.retry,
                max_retry_after=policy.get("max_retry_after", config.retry.max_retry_after),
            ),
        )
    except ValueError as exc:
        raise CommandError(f"enrichment settings: {exc}", EXIT_USAGE) from None
