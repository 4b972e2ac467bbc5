"""``attribution schema apply | show | migrate``.

``migrate`` brings a graph written by an earlier version up to date (see
:mod:`attribution.migrations`); it is idempotent.
"""

from __future__ import annotations

import argparse

from attribution.cli.common import EXIT_OK, connect, print_json
from attribution.schema import render_markdown
from attribution.writer import apply_schema


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "schema", help="apply constraints and indexes, print the schema, or migrate a graph"
    )
    parser.add_argument("action", choices=("apply", "show", "migrate"))
    parser.add_argument(
        "--json", action="store_true", help="machine-readable output (apply, migrate)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "show":
        print(render_markdown(), end="")
        return EXIT_OK
    if args.action == "migrate":
        return _migrate(args)
    with connect() as graph:
        statements = apply_schema(graph)
    if args.json:
        print_json({"applied": len(statements), "statements": statements})
    else:
        print(f"applied {len(statements)} constraint and index statements (idempotent)")
    return EXIT_OK


def _migrate(args: argparse.Namespace) -> int:
    from attribution.migrations import (
        backfill_summaries,
        mark_failing_enrichment,
        merge_split_registrars,
        requeue_finished_without_time,
    )

    with connect() as graph:
        merged = merge_split_registrars(graph)
        refreshed = backfill_summaries(graph)
        requeued = requeue_finished_without_time(graph)
        marked = mark_failing_enrichment(graph)
    if args.json:
        print_json(
            {
                "registrars_merged": merged,
                "summaries_refreshed": refreshed,
                "requeued_without_finish_time": requeued,
                "failing_flags_changed": marked,
            }
        )
    else:
        for row in merged:
            print(f"registrar {row['old']!r} merged into {row['new']!r}")
        print(f"{len(merged)} split registrars merged (idempotent)")
        counts = ", ".join(f"{n} {label}" for label, n in refreshed.items()) or "no nodes"
        print(f"write-time summaries computed from the facts: {counts}")
        print(f"{requeued} finished nodes without a finish time queued to enrich again")
        print(f"{marked} enrich_failing flags set or removed to agree with the nodes' failures")
    return EXIT_OK
