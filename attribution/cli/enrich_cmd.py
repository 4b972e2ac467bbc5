"""``attribution enrich``: claim pending indicators and enrich them with DNS, ASN and RDAP data.

Where the questions go, highest precedence first: ``--sandbox`` (the sandbox that
``attribution sandbox up`` started); the sandbox endpoints file named by
``$ATTRIBUTION_SANDBOX_ENDPOINTS`` or ``[enrichment] sandbox_endpoints`` in the TOML file;
otherwise the real services, with ``--resolver`` / ``--rdap-bootstrap-url`` or the TOML
``[enrichment]`` keys ``resolver_address``, ``resolver_port``, ``dns_lifetime``,
``rdap_bootstrap_url``, ``http_timeout``, ``whois_timeout`` and ``max_concurrency``
overriding the defaults.

Exit code 0 when every indicator the run finished ended ``done`` (also after SIGTERM or SIGINT:
claims still being worked on are handed back first); 1 when any ended ``partial`` (some source
failed) or ``failed`` (every source failed). A node whose sources failed transiently carries a
retry time (``enrich_retry_at``, capped exponential backoff) and a later run claims it once that
time has come; ``--retry-failed`` claims every partial or failed node now.
"""

from __future__ import annotations

import argparse
import json
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
from attribution.settings import Settings, load_settings
from attribution.worker import (
    DEFAULT_BATCH,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_DISCOVERED,
    Worker,
    WorkerOptions,
    count_claimable,
    default_worker_id,
)
from enrichment.config import Breaker, EnrichmentConfig, NodeRetry


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "enrich",
        help="claim pending indicators and enrich them (DNS, ASN, IP RDAP, registration)",
        description="Claim pending or stale Domain and IPAddress nodes, run every enrichment "
        "source, write the observations and follow what they point at. Exit 0 when every "
        "indicator ended done (also after SIGTERM/SIGINT), 1 when any ended partial or failed.",
    )
    where = parser.add_argument_group("where to send questions")
    where.add_argument(
        "--sandbox", action="store_true", help="use the sandbox `attribution sandbox up` started"
    )
    where.add_argument("--resolver", help="recursive resolver as HOST or HOST:PORT")
    where.add_argument("--rdap-bootstrap-url", help="base URL of the RDAP bootstrap files")
    where.add_argument("--concurrency", type=int, help="requests in flight at once")
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
    config = enrichment_config(args, load_settings())
    try:
        options = WorkerOptions(
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
    with connect() as graph:
        bar = None
        if not args.json:
            from tqdm import tqdm

            total = count_claimable(graph, options.stale_after, retry_failed=options.retry_failed)
            if options.limit is not None:
                total = min(total, options.limit)
            bar = tqdm(total=None if options.watch else total, unit="ind", file=sys.stderr)
        worker = Worker(graph, config, options, progress=bar.update if bar else None)
        try:
            summary = worker.run(handle_signals=True)
        finally:
            if bar is not None:
                bar.close()
    if args.json:
        print_json(summary.as_dict())
    else:
        figures = summary.as_dict()
        print(
            f"{figures['claimed']} claimed, {figures['done']} done, {figures['partial']} partial, "
            f"{figures['failed']} failed, "
            f"{figures['released']} released, {figures['discovered']} discovered, "
            f"{figures['dns_queries']} DNS queries in {figures['seconds']:.1f}s"
        )
        for source, counts in figures["sources"].items():
            print(f"  {source}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return EXIT_REJECTED if summary.partial or summary.failed else EXIT_OK


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
