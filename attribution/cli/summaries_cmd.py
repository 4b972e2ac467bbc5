"""``attribution summaries rebuild | verify [--json]``: the write-time summaries.

``rebuild`` recomputes every summary from the facts (see :mod:`attribution.summaries`), in
batches, with progress on stderr; run it after writing facts beside the writer. ``verify``
recomputes them without writing and lists every summary that differs from its facts.

Exit codes: 0 done (``verify``: no drift); 1 ``verify`` found drift; 3 the server is
unavailable.
"""

from __future__ import annotations

import argparse
import sys

from attribution import summaries
from attribution.cli.common import EXIT_OK, EXIT_REJECTED, connect, print_json

SHOWN = 20
"""Drifts listed in the plain output; ``--json`` lists them all."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "summaries",
        help="recompute the write-time summaries from the facts, or check them (exit 1: drift)",
    )
    parser.add_argument("action", choices=("rebuild", "verify"))
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def _progress(label: str, done: int) -> None:
    print(f"  {label}: {done} nodes", end="\r", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    with connect() as graph:
        if args.action == "rebuild":
            done = summaries.rebuild(graph, progress=_progress)
            print(file=sys.stderr)
            if args.json:
                print_json({"rebuilt": done})
            else:
                for label, count in done.items():
                    print(f"{label}: {count} nodes recomputed")
            return EXIT_OK
        checked, drift = summaries.verify(graph, progress=_progress)
    print(file=sys.stderr)
    if args.json:
        print_json(
            {
                "checked": checked,
                "drift": [
                    {
                        "label": d.label,
                        "key": d.key,
                        "property": d.prop,
                        "stored": d.stored,
                        "fresh": d.fresh,
                    }
                    for d in drift
                ],
            }
        )
    else:
        for d in drift[:SHOWN]:
            print(f"{d.label} {d.key!r}: {d.prop} is {d.stored!r}, its facts give {d.fresh!r}")
        if len(drift) > SHOWN:
            print(f"... and {len(drift) - SHOWN} more (--json lists them all)")
        nodes = sum(checked.values())
        print(f"{nodes} nodes checked, {len(drift)} summaries drifted")
        if drift:
            print("run `attribution summaries rebuild` to recompute them")
    return EXIT_REJECTED if drift else EXIT_OK
