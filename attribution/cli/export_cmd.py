"""``attribution export stix [--min-decision D] --out FILE``: scored targets as STIX 2.1."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attribution.cli.common import EXIT_OK, CommandError, connect, print_json
from attribution.stix_export import DECISION_RANK, export_stix


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("export", help="export scored targets (STIX 2.1)")
    formats = parser.add_subparsers(dest="export_format", metavar="FORMAT", required=True)
    stix = formats.add_parser(
        "stix",
        help="indicators, infrastructure and observables as a STIX 2.1 bundle",
        description="Exports Domain and IPAddress nodes whose gate decision ranks at or above "
        "--min-decision (act > insufficient-evidence > no-act). Ids are stable across exports.",
    )
    stix.add_argument(
        "--min-decision",
        choices=sorted(DECISION_RANK, key=DECISION_RANK.__getitem__, reverse=True),
        default="act",
        help="lowest gate decision to export (default: act)",
    )
    stix.add_argument("--out", type=Path, required=True, metavar="FILE", help="bundle to write")
    stix.add_argument("--json", action="store_true", help="print a machine-readable summary")
    stix.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.out.parent.is_dir():
        raise CommandError(f"{args.out.parent}: no such directory")
    with connect() as graph:
        text, summary = export_stix(graph, args.min_decision)
    tmp = args.out.with_name(args.out.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.out)
    if args.json:
        print_json(
            {
                "out": str(args.out),
                "targets": summary.targets,
                "objects": summary.objects,
                "by_type": summary.by_type,
            }
        )
    else:
        print(
            f"wrote {summary.objects} STIX objects for {summary.targets} targets to {args.out}",
            file=sys.stderr,
        )
    return EXIT_OK
