"""``attribution ingest FILE... [--format F] [--json]``: indicators and reports into the graph."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attribution.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    CommandError,
    connect,
    print_json,
)
from attribution.ingest import ingest_paths
from attribution.intake.detect import UnknownFormat


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "ingest",
        help="read indicator lists, CSV, STIX, incident reports, flows, passive DNS, RDAP, label feeds",
        description="Exit code 0 when every line was accepted, 1 when any was rejected "
        "(the accepted lines are written either way).",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--format", dest="fmt", default=None, help="force a format instead of detecting it"
    )
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for path in args.files:
        if not path.exists():
            raise CommandError(f"{path}: no such file")
    with connect() as graph:

        def progress(name: str, count: int) -> None:
            if not args.json:
                print(f"{name}: {count} records written", file=sys.stderr, flush=True)

        try:
            summary = ingest_paths(graph, args.files, fmt=args.fmt, progress=progress)
        except UnknownFormat as exc:
            raise CommandError(str(exc), EXIT_USAGE) from exc
    if args.json:
        print_json(summary.as_dict())
    else:
        for rejection in summary.rejected:
            print(f"rejected {rejection}", file=sys.stderr)
        print(f"accepted {summary.accepted}, rejected {len(summary.rejected)}")
    return EXIT_REJECTED if summary.rejected else EXIT_OK
