"""``attribution report [generate] TARGET [--format json|html|both] [--out DIR]`` and
``attribution report verify FILE [--html PATH]``: confidence reports for the approval body.

The report is written as ``report-<kind>-<target>-<digest prefix>.json`` (and ``.html``) in
``--out`` (default: the current directory); each generation is appended to the audit log.
``--freshness-hours`` overrides the ``freshness_hours`` setting: how long before the report's
reference time a resolution may have been last seen and still count as a current server.
With ``ATTRIBUTION_SIGNING_KEY`` (a PEM Ed25519 private key) the report is signed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from attribution.cli.common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_REJECTED,
    EXIT_USAGE,
    CommandError,
    connect,
    print_json,
)
from attribution.reports.builder import ReportError
from attribution.reports.canonical import (
    SigningKeyError,
    load_public_key,
    load_signing_key,
    verify_document,
)
from attribution.reports.publish import FORMATS, publish_report
from attribution.settings import DEFAULT_COLLATERAL_THRESHOLD, load_settings

ACTIONS = ("generate", "verify")
DEFAULT_ACTION = "generate"
"""``attribution report TARGET ...`` is short for ``attribution report generate TARGET ...``."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "report",
        help="write a confidence report on a domain or IP, or verify one (report verify FILE)",
        description="`attribution report TARGET` (short for `report generate TARGET`) writes "
        "the report; `attribution report verify FILE` checks its digest and signature (exit 0 "
        "ok, 4 failed).",
    )
    actions = parser.add_subparsers(dest="report_action", metavar="ACTION", required=True)
    _register_generate(actions)
    _register_verify(actions)


def _register_generate(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gen = actions.add_parser(
        "generate", help="write the report on a domain or IP address (the default action)"
    )
    gen.add_argument("target", metavar="TARGET", help="domain or IP address")
    gen.add_argument("--format", dest="fmt", choices=FORMATS, default="both")
    gen.add_argument("--out", type=Path, default=Path("."), help="output directory")
    gen.add_argument("--by", default=None, help="user generating the report (audit log)")
    gen.add_argument(
        "--collateral-threshold",
        type=int,
        default=None,
        help="co-hosted names not known to be malicious above which an IP is a collateral risk "
        f"(default: [reports] collateral_threshold or {DEFAULT_COLLATERAL_THRESHOLD})",
    )
    gen.add_argument(
        "--freshness-hours",
        type=float,
        default=None,
        help="a resolution last seen longer than this before the report's reference time is "
        "stale and its address is not acted upon (default: freshness_hours setting, 72)",
    )
    gen.add_argument("--max-facts", type=int, default=None, help="evidence facts to include")
    gen.add_argument("--json", action="store_true", help="machine-readable output")
    gen.set_defaults(func=_generate)


def _register_verify(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ver = actions.add_parser("verify", help="check a report's digest and signature")
    ver.add_argument("file", type=Path, metavar="FILE", help="report to verify")
    ver.add_argument(
        "--public-key", type=Path, default=None, help="require a signature by this key"
    )
    ver.add_argument(
        "--html",
        type=Path,
        default=None,
        metavar="PATH",
        help="after a successful check, write the HTML rendering of the report here",
    )
    ver.add_argument("--json", action="store_true", help="machine-readable output")
    ver.set_defaults(func=_verify)


def _generate(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.freshness_hours is not None and args.freshness_hours < 0:
        raise CommandError("--freshness-hours must not be negative", EXIT_USAGE)
    try:
        key = load_signing_key(settings.reports)
    except SigningKeyError as exc:
        raise CommandError(str(exc)) from exc
    with connect() as graph:
        try:
            published = publish_report(
                graph,
                args.target,
                settings,
                actor=args.by or settings.acting_user(),
                out=args.out,
                fmt=args.fmt,
                signing_key=key,
                collateral_threshold=args.collateral_threshold,
                max_facts=args.max_facts or None,
                freshness_hours=args.freshness_hours,
            )
        except ReportError as exc:
            raise CommandError(str(exc), EXIT_REJECTED) from exc
        except (OSError, ValueError) as exc:  # files or the audit log cannot be written
            raise CommandError(str(exc)) from exc
    document = published.document
    written = [str(path) for path in published.files]
    content = document["content"]
    summary = {
        "target": content["target"]["value"],
        "digest": document["digest"],
        "recommendation": content["recommendation"]["outcome"],
        "action_servers": content["action"]["servers"],
        "files": written,
    }
    if args.json:
        print_json(summary)
    else:
        print(f"{summary['target']}: {summary['recommendation']} (digest {document['digest']})")
        print(f"  current servers: {', '.join(summary['action_servers']) or 'none'}")
        for path_text in written:
            print(f"  wrote {path_text}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CommandError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"{path}: not a JSON report ({exc})", EXIT_REFUSED) from exc
    trusted = None
    if args.public_key is not None:
        try:
            trusted = load_public_key(args.public_key)
        except (OSError, ValueError) as exc:
            raise CommandError(f"{args.public_key}: cannot load the public key ({exc})") from exc
    result = verify_document(document, trusted_key=trusted)
    if args.json:
        print_json(
            {
                "ok": result.ok,
                "reason": result.reason,
                "digest": result.digest,
                "signed": result.signed,
                "fingerprint": result.fingerprint,
            }
        )
    elif result.ok:
        print(f"{path}: ok: {result.reason} ({result.digest})")
    if not result.ok:
        if not args.json:
            raise CommandError(f"{path}: verification failed: {result.reason}", EXIT_REFUSED)
        return EXIT_REFUSED
    if args.html is not None:
        from attribution.reports.html import render_html

        args.html.write_text(render_html(document), encoding="utf-8")
    return EXIT_OK
