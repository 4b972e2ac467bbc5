"""``attribution query list | show | run | style``: the analyst query library from the command
line, and the Neo4j Browser style sheet that goes with it."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import date, datetime
from typing import Any

from attribution.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    connect,
    print_json,
    to_json,
)
from attribution.queries import (
    DEFAULT_TIMEOUT_S,
    QueryError,
    QueryHeaderError,
    QueryParamError,
    QueryResult,
    UnknownQueryError,
    bind_params,
    get_query,
    list_queries,
    parse_assignments,
    run_query,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("query", help="list and run the analyst query library (read-only)")
    actions = parser.add_subparsers(dest="query_action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="the library's queries with their parameters")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=run_list)

    show = actions.add_parser("show", help="a query's header and Cypher, as it runs in Browser")
    show.add_argument("name", metavar="NAME", help="query id")
    show.set_defaults(func=run_show)

    runner = actions.add_parser(
        "run",
        help="run a query in a read transaction",
        description="Values are converted to the declared parameter types; datetimes are ISO "
        "8601 (a bare date or a time without offset is read as UTC); lists are "
        "comma-separated or a JSON array.",
    )
    runner.add_argument("name", metavar="NAME", help="query id")
    runner.add_argument(
        "-p",
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter value (repeat for several)",
    )
    fmt = runner.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object with columns and rows")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    runner.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"server-side transaction timeout in seconds (default {DEFAULT_TIMEOUT_S:g})",
    )
    runner.set_defaults(func=run_run)

    style = actions.add_parser(
        "style",
        help="the Neo4j Browser style sheet for the schema's labels (queries/style.grass)",
    )
    style.set_defaults(func=run_style)


def _library() -> list[Any]:
    try:
        return list_queries()
    except QueryHeaderError as exc:
        raise CommandError(f"the query library is broken: {exc}") from exc


def run_list(args: argparse.Namespace) -> int:
    queries = _library()
    if args.json:
        print_json([q.as_dict() for q in queries])
        return EXIT_OK
    for query in queries:
        params = " ".join(
            f"{p.name}:{p.type}" + ("" if p.required else f"={p.default}") for p in query.params
        )
        print(f"{query.id:<38} {query.title}")
        if params:
            print(f"{'':<38}   params: {params}")
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    _library()
    try:
        query = get_query(args.name)
    except UnknownQueryError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    print(query.path.read_text(encoding="utf-8"), end="")
    return EXIT_OK


def run_style(args: argparse.Namespace) -> int:
    from attribution.browser_style import render_grass

    print(render_grass(), end="")
    return EXIT_OK


def _cell(value: Any) -> str:
    """One value as CSV/table text: lists and maps as JSON, times in ISO 8601, null empty."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return to_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _print_table(result: QueryResult) -> None:
    columns = list(result.columns)
    cells = [[_cell(row.get(c)) for c in columns] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    print(f"({len(result.rows)} rows)", file=sys.stderr)


def run_run(args: argparse.Namespace) -> int:
    from neo4j.exceptions import ClientError

    _library()
    try:
        query = get_query(args.name)
        given = parse_assignments(args.params)
        bind_params(query, given)  # usage errors before any connection is opened
    except (UnknownQueryError, QueryParamError) as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    with connect() as graph:
        try:
            result = run_query(graph, query.id, given, timeout=args.timeout)
        except ClientError as exc:
            raise CommandError(f"query {query.id} failed on the server: {exc.message}") from exc
        except QueryError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from exc
    if args.json:
        print_json(
            {
                "query_id": query.id,
                "revision": query.revision,
                "params": result.params,
                "columns": list(result.columns),
                "rows": result.rows,
            }
        )
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        for row in result.rows:
            writer.writerow([_cell(row.get(c)) for c in result.columns])
    else:
        _print_table(result)
    return EXIT_OK
