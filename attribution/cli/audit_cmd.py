"""``attribution audit verify [--json] [--expect-head SEQ:HASH] [--graph]`` and ``attribution audit head``."""

from __future__ import annotations

import argparse

from attribution import audit
from attribution.cli.common import EXIT_OK, EXIT_REFUSED, connect, print_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "audit",
        help="verify the hash-chained audit log, or print its head",
        description="verify exits 0 when the chain is intact and 4 naming the first broken "
        "entry otherwise (an edited, deleted or reordered entry; a line with an invalid byte, a "
        "duplicated key or NaN; or a head anchored by an earlier append that the log no longer "
        "holds). --expect-head checks a head recorded by hand as well.",
    )
    parser.add_argument("action", choices=("verify", "head"))
    parser.add_argument("--expect-head", default=None, metavar="SEQ:HASH")
    parser.add_argument(
        "--graph",
        action="store_true",
        help="also check the chain heads stored with each approval decision in the graph",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = audit.audit_log_path()
    if args.action == "head":
        current = audit.head(path)
        if args.json:
            print_json(
                {
                    "path": str(path),
                    "seq": current[0] if current else None,
                    "hash": current[1] if current else None,
                }
            )
        else:
            print(f"{current[0]}:{current[1]}" if current else "empty")
        return EXIT_OK
    anchors = audit.recorded_anchors(path)
    if args.graph:
        anchors += _decision_anchors()
    result = audit.verify(path, expect_head=args.expect_head, anchors=anchors)
    if args.json:
        print_json({"path": str(path), **result.as_dict()})
    elif result.ok:
        print(
            f"{path}: {result.entries} entries, chain intact (head {result.head_seq}:{result.head_hash})"
        )
    else:
        print(f"{path}: chain broken at line {result.line}: {result.reason}")
    return EXIT_OK if result.ok else EXIT_REFUSED


def _decision_anchors() -> list[tuple[str, str]]:
    """(where, SEQ:HASH) of every decision in the graph that recorded its audit entry."""
    from attribution.approvals import decision_anchors

    with connect() as graph:
        return decision_anchors(graph)
