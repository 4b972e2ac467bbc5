"""The ``attribution`` command: a thin layer over the library's functions.

Exit codes: 0 success; 1 the command ran but some input was rejected; 2 usage error;
3 environment problem (missing tool, server or file); 4 refused by policy or verification.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from attribution.cli.common import EXIT_USAGE, CommandError

# Each module exposes register(subparsers); the order is the order of `--help`.
COMMAND_MODULES = (
    "attribution.cli.neo4j_cmd",
    "attribution.cli.schema_cmd",
    "attribution.cli.ingest_cmd",
    "attribution.cli.query_cmd",
    "attribution.cli.export_cmd",
    "attribution.cli.sandbox_cmd",
    "attribution.cli.enrich_cmd",
    "attribution.cli.label_cmd",
    "attribution.cli.train_cmd",
    "attribution.cli.report_cmd",
    "attribution.cli.approval_cmd",
    "attribution.cli.audit_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attribution",
        description="Attribute malicious infrastructure from communication metadata, with a bounded "
        "false-positive rate.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except CommandError as exc:
        print(f"attribution {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
