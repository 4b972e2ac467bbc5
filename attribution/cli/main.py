"""The ``attribution`` command: a thin layer over the library's functions.

Exit codes: 0 success; 1 the command ran but some input was rejected; 2 usage error;
3 environment problem (missing tool, server or file); 4 refused by policy or verification.

A command with actions (``approval request``, ``label import``) may name one of them as its
default (``DEFAULT_ACTION`` in its module, beside ``ACTIONS``): ``label TARGET VERDICT`` and
``report TARGET`` run ``label set`` and ``report generate``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from attribution.audit import AuditError, AuditTampered
from attribution.cli.common import (
    EXIT_ENVIRONMENT,
    EXIT_REFUSED,
    EXIT_USAGE,
    CommandError,
    print_json,
)
from attribution.settings import SettingsError

# Each module exposes register(subparsers); the order is the order of `--help`. Only the
# module of the command being run is imported, so a quick command does not pay for the
# scientific stack that training or reporting needs.
COMMAND_MODULES = {
    "neo4j": "attribution.cli.neo4j_cmd",
    "redis": "attribution.cli.redis_cmd",
    "schema": "attribution.cli.schema_cmd",
    "summaries": "attribution.cli.summaries_cmd",
    "ingest": "attribution.cli.ingest_cmd",
    "query": "attribution.cli.query_cmd",
    "export": "attribution.cli.export_cmd",
    "sandbox": "attribution.cli.sandbox_cmd",
    "enrich": "attribution.cli.enrich_cmd",
    "worker": "attribution.cli.worker_cmd",
    "label": "attribution.cli.label_cmd",
    "train": "attribution.cli.train_cmd",
    "score": "attribution.cli.train_cmd",
    "evaluate": "attribution.cli.train_cmd",
    "report": "attribution.cli.report_cmd",
    "approval": "attribution.cli.approval_cmd",
    "audit": "attribution.cli.audit_cmd",
    "warninglists": "attribution.cli.warninglists_cmd",
    "serve": "attribution.cli.serve_cmd",
    "principals": "attribution.cli.principals_cmd",
}


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool its reader left


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


def with_default_action(argv: list[str]) -> list[str]:
    """``argv`` with the command's default action put in when the first word after the
    command names none of its actions: ``report TARGET`` is ``report generate TARGET``."""
    if len(argv) < 2 or argv[0] not in COMMAND_MODULES or argv[1] in ("-h", "--help"):
        return argv
    module = importlib.import_module(COMMAND_MODULES[argv[0]])
    default = getattr(module, "DEFAULT_ACTION", None)
    if default is None or argv[1] in module.ACTIONS:
        return argv
    return [argv[0], default, *argv[1:]]


def main(argv: list[str] | None = None) -> int:
    # The driver retries transient failures (deadlocks between concurrent writers) by itself;
    # its per-retry warnings are not the user's business.
    logging.getLogger("neo4j").setLevel(logging.ERROR)
    argv = with_default_action(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except CommandError as exc:
        if exc.summary is not None and getattr(args, "json", False):
            print_json(exc.summary)
        print(f"attribution {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except SettingsError as exc:
        print(f"attribution {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AuditError as exc:
        # The change the entry would have recorded was not made.
        print(f"attribution {args.command}: {exc}", file=sys.stderr)
        return EXIT_REFUSED if isinstance(exc, AuditTampered) else EXIT_ENVIRONMENT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Whoever read the output went away (`... | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
