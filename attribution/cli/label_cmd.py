"""``attribution label``: labels in the graph.

``attribution label import FILE... --kind feed|allowlist [--source NAME] [--json]``
    Feeds label malicious, allowlists benign (see :func:`attribution.intake.feeds.parse_label_list`
    for the layouts). Exit code 1 when any line was refused; the good lines are written.
``attribution label [set] TARGET malicious|benign --by USER --reason TEXT [--json]``
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

ACTIONS = ("import", "set", "show")
DEFAULT_ACTION = "set"
"""``attribution label TARGET VERDICT ...`` is short for ``attribution label set TARGET ...``."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "label",
        help="import feeds and allowlists as labels, or record an analyst's verdict",
        description="`label import FILE... --kind feed|allowlist`, "
        "`label TARGET malicious|benign --by USER --reason TEXT` (short for `label set ...`), "
        "or `label show TARGET`. Precedence when labels conflict: analyst > confirmed incident "
        "> allowlist > feed; the latest wins within a kind.",
    )
    actions = parser.add_subparsers(dest="label_action", metavar="ACTION", required=True)

    imp = actions.add_parser("import", help="label the entries of feeds or allowlists")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    imp.add_argument("--kind", choices=("feed", "allowlist"), required=True)
    imp.add_argument("--source", help="label source name (default kind:file)")
    imp.add_argument("--json", action="store_true", help="print a machine-readable result")
    imp.set_defaults(func=_import)

    verdict = actions.add_parser(
        "set", help="record an analyst's verdict on a domain or IP (the default action)"
    )
    verdict.add_argument("target", metavar="TARGET", help="domain or IP address")
    verdict.add_argument("verdict", choices=("malicious", "benign"), metavar="VERDICT")
    verdict.add_argument("--by", required=True, help="analyst name")
    verdict.add_argument("--reason", required=True, help="why")
    verdict.add_argument("--json", action="store_true", help="print a machine-readable result")
    verdict.set_defaults(func=_verdict)

    show = actions.add_parser("show", help="every label on a target and the verdict that counts")
    show.add_argument("target", metavar="TARGET", help="domain or IP address")
    show.add_argument("--json", action="store_true", help="print a machine-readable result")
    show.set_defaults(func=_show)


def _import(args: argparse.Namespace) -> int:
    from attribution.labels import import_label_file

    paths: list[Path] = args.files
    for path in paths:
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
    results = []
    with connect() as graph:
        for path in paths:
            results.append(import_label_file(graph, path, args.kind, source=args.source))
            graph.note_committed("imports", results[-1].as_dict())
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

    with connect() as graph:
        try:
            record = set_analyst_label(
                graph, args.target, args.verdict, by=args.by, reason=args.reason
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
    from attribution.labels import parse_target, read_label_observations, resolve_labels

    try:
        node = parse_target(args.target)
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
