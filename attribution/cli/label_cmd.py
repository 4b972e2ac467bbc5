"""``attribution label``: labels in the graph.

``attribution label import FILE... --kind feed|allowlist [--source NAME] [--json]``
    Feeds label malicious, allowlists benign (see :func:`attribution.intake.feeds.parse_label_list`
    for the layouts). Exit code 1 when any line was refused; the good lines are written.
``attribution label TARGET malicious|benign --by USER --reason TEXT [--json]``
    An analyst's verdict, the strongest kind of label; appended to the audit log.
``attribution label show TARGET [--json]``
    Every label observation on the target and the verdict that counts.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from attribution.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    CommandError,
    connect,
    print_json,
)
from attribution.identities import InvalidIdentity


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "label",
        help="import feeds and allowlists as labels, or record an analyst's verdict",
        description="`label import FILE... --kind feed|allowlist`, "
        "`label TARGET malicious|benign --by USER --reason TEXT`, or `label show TARGET`. "
        "Precedence when labels conflict: analyst > confirmed incident > allowlist > feed; "
        "the latest wins within a kind.",
    )
    parser.add_argument("target", metavar="TARGET|import|show", help="domain or IP address")
    parser.add_argument("rest", nargs="*", metavar="VERDICT|FILE")
    parser.add_argument("--kind", choices=("feed", "allowlist"), help="for import")
    parser.add_argument("--source", help="label source name for import (default kind:file)")
    parser.add_argument("--by", help="analyst name, for a verdict")
    parser.add_argument("--reason", help="why, for a verdict")
    parser.add_argument("--json", action="store_true", help="print a machine-readable result")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.target == "import":
        return _import(args)
    if args.target == "show":
        return _show(args)
    return _verdict(args)


def _import(args: argparse.Namespace) -> int:
    from attribution.labels import import_label_file

    if not args.kind:
        raise CommandError("label import needs --kind feed or --kind allowlist", EXIT_USAGE)
    if not args.rest:
        raise CommandError("label import needs at least one FILE", EXIT_USAGE)
    paths = [Path(p) for p in args.rest]
    for path in paths:
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
    results = []
    with connect() as graph:
        for path in paths:
            results.append(import_label_file(graph, path, args.kind, source=args.source))
    if args.json:
        print_json({"imports": [r.as_dict() for r in results]})
    else:
        for r in results:
            for rejection in r.rejected:
                print(f"{r.path}: rejected {rejection}")
            print(f"{r.path}: {r.written} {args.kind} labels written, {len(r.rejected)} rejected")
    return EXIT_REJECTED if any(r.rejected for r in results) else EXIT_OK


def _verdict(args: argparse.Namespace) -> int:
    from attribution.labels import set_analyst_label

    if len(args.rest) != 1 or args.rest[0] not in ("malicious", "benign"):
        raise CommandError(
            "usage: attribution label TARGET malicious|benign --by USER --reason TEXT", EXIT_USAGE
        )
    if not args.by or not args.reason:
        raise CommandError("an analyst verdict needs --by and --reason", EXIT_USAGE)
    with connect() as graph:
        try:
            record = set_analyst_label(
                graph, args.target, args.rest[0], by=args.by, reason=args.reason
            )
        except (InvalidIdentity, ValueError) as exc:
            raise CommandError(str(exc), EXIT_USAGE) from exc
    if args.json:
        print_json(record)
    else:
        print(
            f"{record['target']}: {record['verdict']} by {args.by} "
            f"(was {record['previous'] or 'unlabelled'}; now counts as {record['resolved']})"
        )
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    from attribution.labels import read_label_observations, resolve_labels

    if len(args.rest) != 1:
        raise CommandError("usage: attribution label show TARGET", EXIT_USAGE)
    from attribution.labels import parse_target

    try:
        node = parse_target(args.rest[0])
    except InvalidIdentity as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    with connect() as graph:
        observations = [o for o in read_label_observations(graph) if o.target == node]
    resolved = resolve_labels(observations).get(node)
    payload: dict[str, Any] = {
        "target": node[1],
        "label": node[0],
        "resolved": None
        if resolved is None
        else {"verdict": resolved.verdict, "kind": resolved.kind, "source": resolved.source},
        "observations": [
            {
                "verdict": o.verdict,
                "kind": o.kind,
                "source": o.source,
                "family": o.family,
                "by": o.by,
                "reason": o.reason,
                "at_ms": o.at,
            }
            for o in sorted(observations, key=lambda o: (o.kind, o.source))
        ],
    }
    if args.json:
        print_json(payload)
    else:
        verdict = payload["resolved"]["verdict"] if resolved else "unlabelled"
        print(f"{node[1]}: {verdict}")
        for o in payload["observations"]:
            print(f"  {o['kind']:9s} {o['source']}: {o['verdict']}")
    return EXIT_OK
