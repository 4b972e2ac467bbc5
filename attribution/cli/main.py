"""The ``attribution`` command: a thin layer over the library's functions.

Exit codes: 0 success; 1 the command ran but some input was rejected; 2 usage error;
3 environment problem (missing tool, server or file); 4 refused by policy or verification.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from attribution.cli.common import EXIT_USAGE, CommandError
from attribution.settings import SettingsError

# Each module exposes register(subparsers); the order is the order of `--help`. Only the
# module of the command being run is imported, so a quick command does not pay for the
# scientific stack that training or reporting needs.
COMMAND_MODULES = {
    "neo4j": "attribution.cli.neo4j_cmd",
    "schema": "attribution.cli.schema_cmd",
    "ingest": "attribution.cli.ingest_cmd",
    "query": "attribution.cli.query_cmd",
    "export": "attribution.cli.export_cmd",
    "sandbox": "attribution.cli.sandbox_cmd",
    "enrich": "attribution.cli.enrich_cmd",
    "label": "attribution.cli.label_cmd",
    "train": "attribution.cli.train_cmd",
    "score": "attribution.cli.train_cmd",
    "evaluate": "attribution.cli.train_cmd",
    "report": "attribution.cli.report_cmd",
    "approval": "attribution.cli.approval_cmd",
    "audit": "attribution.cli.audit_cmd",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attribution",
        description="Attribute malicious infrastructure from communication metadata, with a bounded "
        "false-positive rate.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    if command in COMMAND_MODULES:
        importlib.import_module(COMMAND_MODULES[command]).register(sub)
    else:
        for name in dict.fromkeys(COMMAND_MODULES.values()):
            importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # The driver retries transient failures (deadlocks between concurrent writers) by itself;
    # its per-retry warnings are not the user's business.
    logging.getLogger("neo4j").setLevel(logging.ERROR)
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except CommandError as exc:
        print(f"attribution {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except SettingsError as exc:
        print(f"attribution {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
