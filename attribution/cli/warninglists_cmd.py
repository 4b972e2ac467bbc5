"""``attribution warninglists list | check VALUE [--json]``: the MISP warninglists in use.

``list`` shows every loaded list (name, type, entries, category, meaning, what it is
consulted for). ``check VALUE`` shows what an address, a network in CIDR notation, a name or
a URL's host matches, and why: list, category, meaning, the entry as written and how it
matched. Exit codes of ``check``, like grep: 0 the value is on at least one list, 1 on none,
2 the value is none of those kinds, 3 no lists could be loaded.

The lists come from the ``warninglists_dir`` setting (``ATTRIBUTION_WARNINGLISTS_DIR``), by
default the ones bundled with the ``pymispwarninglists`` package.
"""

from __future__ import annotations

import argparse
from typing import Any

from attribution.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    CommandError,
    print_json,
)
from attribution.reports.values import hit_dict
from attribution.settings import load_settings
from attribution.warninglists import WarninglistHit, WarninglistIndex, load_warninglists

ACTIONS = ("list", "check")
EXIT_NO_MATCH = EXIT_REJECTED


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("warninglists", help="show the warninglists and what a value matches")
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("value", nargs="?", help="check: an address, CIDR network, name or URL")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def _load() -> WarninglistIndex:
    directory = load_settings().warninglists_dir
    try:
        return load_warninglists(directory)
    except FileNotFoundError as exc:
        raise CommandError(
            f"{exc}; set ATTRIBUTION_WARNINGLISTS_DIR to a clone of "
            "github.com/MISP/misp-warninglists, or unset it"
        ) from exc


def run(args: argparse.Namespace) -> int:
    if args.action == "check" and not args.value:
        raise CommandError(
            "check needs a VALUE (an address, CIDR network, name or URL)", EXIT_USAGE
        )
    if args.action == "list" and args.value:
        raise CommandError(f"list takes no VALUE (got {args.value!r})", EXIT_USAGE)
    index = _load()
    if args.action == "list":
        return _list(index, args.json)
    return _check(index, args.value, args.json)


def _list(index: WarninglistIndex, as_json: bool) -> int:
    rows: list[dict[str, Any]] = [
        {
            "list": item.list_name,
            "name": item.name,
            "type": item.type,
            "entries": item.entries,
            "category": item.category,
            "meaning": item.meaning,
            "applies_to": list(item.applies_to),
            "version": item.version,
        }
        for item in index.lists
    ]
    if as_json:
        print_json({"source": index.source, "lists": rows, "rejections": index.rejections})
        return EXIT_OK
    print(f"{len(rows)} warninglists from {index.source}")
    for row in rows:
        used = "+".join(row["applies_to"]) or "not consulted"
        print(
            f"  {row['list']:<44} {row['type']:<9} {row['entries']:>8}  "
            f"{row['category']:<16} {row['meaning']:<14} {used}"
        )
    for rejection in index.rejections:
        print(f"  rejected: {rejection}")
    return EXIT_OK


def _hit(hit: WarninglistHit) -> dict[str, Any]:
    """A hit as the report shows it, with its meaning and how it matched."""
    return {**hit_dict(hit), "meaning": hit.meaning, "kind": hit.kind}


def _check(index: WarninglistIndex, value: str, as_json: bool) -> int:
    try:
        hits = index.match(value)
    except ValueError as exc:
        raise CommandError(
            f"{value!r} is not an address, CIDR network, name or URL ({exc})", EXIT_USAGE
        ) from exc
    rows = [_hit(hit) for hit in hits]
    meanings = sorted({row["meaning"] for row in rows})
    if as_json:
        print_json({"value": value, "matched": bool(rows), "meanings": meanings, "hits": rows})
    elif not rows:
        print(f"{value}: on no warninglist")
    else:
        print(f"{value}: on {len(rows)} warninglist entries ({', '.join(meanings)})")
        for row in rows:
            print(
                f"  {row['list']} ({row['category']}, {row['meaning']}): "
                f"{row['kind']} match on {row['matched']!r}"
            )
    return EXIT_OK if rows else EXIT_NO_MATCH
