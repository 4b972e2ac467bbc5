"""``attribution schema apply | show``."""

from __future__ import annotations

import argparse

from attribution.cli.common import EXIT_OK, connect, print_json
from attribution.schema import render_markdown
from attribution.writer import apply_schema


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("schema", help="apply constraints and indexes, or print the schema")
    parser.add_argument("action", choices=("apply", "show"))
    parser.add_argument("--json", action="store_true", help="machine-readable output (apply)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "show":
        print(render_markdown(), end="")
        return EXIT_OK
    with connect() as graph:
        statements = apply_schema(graph)
    if args.json:
        print_json({"applied": len(statements), "statements": statements})
    else:
        print(f"applied {len(statements)} constraint and index statements (idempotent)")
    return EXIT_OK
