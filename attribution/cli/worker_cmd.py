"""``attribution worker --engine dramatiq [--processes N] [--threads T]``: enrichment workers.

Runs Dramatiq workers for the batches ``attribution enrich --engine dramatiq`` dispatches, on
this machine or any other that reaches the same broker (``REDIS_URL``, or the managed
``attribution redis`` instance) and the same graph (``NEO4J_URI``). The flags that say where
questions go are ``attribution enrich``'s. Registry limits are kept in the broker's Redis, so
every worker on every machine spends one budget.

SIGTERM or SIGINT stops the workers cleanly: each finishes the batch in hand, writes it and
acknowledges its message. An unreachable broker is a one-line error and exit 3.
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading

from attribution.cli.common import EXIT_OK, EXIT_USAGE, CommandError, connect
from attribution.cli.enrich_cmd import (
    add_where_arguments,
    checked_broker_url,
    enrichment_config,
    where_flags,
)
from attribution.engines.dramatiq_worker import DEFAULT_THREADS, serve
from attribution.settings import load_settings

STOP_TIMEOUT_S = 150.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "worker",
        help="run enrichment workers for the dramatiq engine (here or on another machine)",
        description="Work on the enrichment batches dispatched through the Redis broker, "
        "writing to the graph. Stops cleanly on SIGTERM/SIGINT. Exit 3 when the broker or "
        "the graph is unreachable.",
    )
    parser.add_argument("--engine", choices=("dramatiq",), default="dramatiq")
    parser.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"batches in hand at once per process (default {DEFAULT_THREADS})",
    )
    add_where_arguments(parser)
    parser.set_defaults(func=run_worker)


def run_worker(args: argparse.Namespace) -> int:
    if args.processes < 1 or args.threads < 1:
        raise CommandError("--processes and --threads must be at least 1", EXIT_USAGE)
    settings = load_settings()
    url = checked_broker_url(settings)
    if args.processes > 1:
        return _run_processes(args)
    config = enrichment_config(args, settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    logging.basicConfig(
        level=logging.WARNING, format="attribution worker: %(levelname)s %(name)s: %(message)s"
    )
    with connect() as graph:
        serve(url, graph, config, stop, threads=args.threads)
    return EXIT_OK


def _run_processes(args: argparse.Namespace) -> int:
    """Start ``--processes`` single-process workers and pass SIGTERM/SIGINT on to them."""
    command = [sys.executable, "-m", "attribution.cli.worker_cmd", "--processes", "1"]
    command += ["--threads", str(args.threads), *where_flags(args)]
    children = [subprocess.Popen(command) for _ in range(args.processes)]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        if all(child.poll() is not None for child in children):
            break
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """``python -m attribution.cli.worker_cmd [flags]``: the command without the CLI's table."""
    parser = argparse.ArgumentParser(prog="attribution")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["worker", *(sys.argv[1:] if argv is None else argv)])
    logging.getLogger("neo4j").setLevel(logging.ERROR)
    try:
        return int(args.func(args))
    except CommandError as exc:
        print(f"attribution worker: {exc}", file=sys.stderr)
        return exc.code


if __name__ == "__main__":
    sys.exit(main())
