"""``attribution approval request | decide | list | show``: the approval workflow.

Every refusal by the workflow's rules exits 4 with a one-line reason; an unknown request id
or an unreadable report file exits 1.

When a service is configured (``ATTRIBUTION_SERVICE_URL`` and ``ATTRIBUTION_TOKEN``), every
action goes through it: the requester or decider is the principal the token proves (``--by``
is refused), the policy is the service's, and a request rests on a report the service
generated (``approval request TARGET`` without ``--report`` asks the service for a fresh one).
Without a service the commands act on the graph directly, with ``--by`` and the local policy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from attribution.approvals import (
    UnknownRequest,
    WorkflowRefusal,
    decide,
    get_request,
    list_requests,
    policy_from_settings,
    request_approval,
)
from attribution.cli.common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_REJECTED,
    EXIT_USAGE,
    CommandError,
    connect,
    print_json,
)
from attribution.service.client import ServiceClient, ServiceError
from attribution.settings import load_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("approval", help="request approval, decide, list and show requests")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    req = actions.add_parser("request", help="ask the reviewer to approve action on a target")
    req.add_argument("target", metavar="TARGET")
    req.add_argument(
        "--report",
        type=Path,
        help="the confidence report (JSON); through a service, omit it to have one generated",
    )
    req.add_argument("--by", help="requesting user (not with a service: the token says who)")
    req.add_argument("--json", action="store_true")
    req.set_defaults(func=_request)

    dec = actions.add_parser("decide", help="a reviewer's decision on an open request")
    dec.add_argument("request_id", metavar="ID")
    dec.add_argument("--by", help="reviewer (not with a service: the token says who)")
    group = dec.add_mutually_exclusive_group(required=True)
    group.add_argument("--approve", dest="outcome", action="store_const", const="approve")
    group.add_argument("--deny", dest="outcome", action="store_const", const="deny")
    group.add_argument("--return", dest="outcome", action="store_const", const="return")
    dec.add_argument("--reason", required=True, help="the reviewer's stated reason")
    dec.add_argument(
        "--report", type=Path, required=True, help="the report the decision is based on (JSON)"
    )
    dec.add_argument("--json", action="store_true")
    dec.set_defaults(func=_decide)

    lst = actions.add_parser("list", help="list requests, newest first")
    lst.add_argument("--status", action="append", default=[], help="only this status (repeatable)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_list)

    show = actions.add_parser("show", help="one request with its decisions")
    show.add_argument("request_id", metavar="ID")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)


def _load_report(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CommandError(f"{path}: no such file", EXIT_REJECTED) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"{path}: not a JSON report ({exc})", EXIT_REJECTED) from exc


def _print_request(request: dict[str, Any]) -> None:
    print(
        f"{request['request_id']}  {request['status']:<8}  {request['target']}  "
        f"by {request['requested_by']} at {request['requested_at']}  "
        f"report {request['report_digest'][:12]}"
    )
    for decision in request["decisions"]:
        print(
            f"    {decision['outcome']} by {decision['decided_by']} at {decision['decided_at']}: "
            f"{decision['reason']} (report {decision['report_digest'][:12]})"
        )


def _standalone(args: argparse.Namespace) -> None:
    """Without a service, the user and the report must be named."""
    if not args.by:
        raise CommandError("--by is required (or configure ATTRIBUTION_SERVICE_URL)", EXIT_USAGE)
    if args.report is None:
        raise CommandError(
            "--report is required (or configure ATTRIBUTION_SERVICE_URL)", EXIT_USAGE
        )


def _service() -> ServiceClient | None:
    settings = load_settings()
    if not settings.client.configured:
        return None
    if not settings.client.token:
        raise CommandError(
            "a service is configured but no token: set ATTRIBUTION_TOKEN or ATTRIBUTION_TOKEN_FILE",
            EXIT_USAGE,
        )
    return ServiceClient(settings.client)


def _through(
    client: ServiceClient, args: argparse.Namespace, method: str, path: str, **kwargs: Any
) -> Any:
    if getattr(args, "by", None):
        raise CommandError(
            "--by is refused when a service is configured: the service acts as the principal "
            "your token proves",
            EXIT_USAGE,
        )
    try:
        return client.call(method, path, **kwargs)
    except ServiceError as exc:
        raise CommandError(str(exc), exc.code) from exc


def _request_via(client: ServiceClient, args: argparse.Namespace) -> dict[str, Any]:
    if args.report is None:
        document = _through(client, args, "POST", "/reports", json={"target": args.target})
    else:
        document = _load_report(args.report)
    digest = document.get("digest") if isinstance(document, dict) else None
    if not isinstance(digest, str):
        raise CommandError(f"{args.report}: the report has no digest", EXIT_REJECTED)
    body = {"target": args.target, "report_digest": digest, "report": document}
    result: dict[str, Any] = _through(client, args, "POST", "/approvals", json=body)
    return result


def _request(args: argparse.Namespace) -> int:
    client = _service()
    if client is not None:
        request = _request_via(client, args)
        print_json(request) if args.json else print(request["request_id"])
        return EXIT_OK
    _standalone(args)
    report = _load_report(args.report)
    policy = policy_from_settings(load_settings())
    with connect() as graph:
        try:
            request = request_approval(graph, args.target, report, args.by, policy)
        except WorkflowRefusal as exc:
            raise CommandError(f"refused: {exc}", EXIT_REFUSED) from exc
    if args.json:
        print_json(request)
    else:
        print(request["request_id"])
    return EXIT_OK


def _decide(args: argparse.Namespace) -> int:
    client = _service()
    if client is not None:
        if args.report is None:
            raise CommandError("--report is required: the report the decision rests on", EXIT_USAGE)
        digest = _load_report(args.report).get("digest")
        body = {"outcome": args.outcome, "reason": args.reason, "report_digest": digest}
        request = _through(
            client, args, "POST", f"/approvals/{args.request_id}/decision", json=body
        )
        print_json(request) if args.json else _print_request(request)
        return EXIT_OK
    _standalone(args)
    report = _load_report(args.report)
    policy = policy_from_settings(load_settings())
    with connect() as graph:
        try:
            request = decide(
                graph, args.request_id, args.outcome, args.by, args.reason, report, policy
            )
        except UnknownRequest as exc:
            raise CommandError(str(exc), EXIT_REJECTED) from exc
        except WorkflowRefusal as exc:
            raise CommandError(f"refused: {exc}", EXIT_REFUSED) from exc
    if args.json:
        print_json(request)
    else:
        _print_request(request)
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    client = _service()
    if client is not None:
        requests = _through(client, args, "GET", "/approvals", params={"status": args.status})[
            "requests"
        ]
    else:
        with connect() as graph:
            requests = list_requests(graph, args.status)
    if args.json:
        print_json(requests)
    else:
        for request in requests:
            _print_request(request)
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    client = _service()
    if client is not None:
        request = _through(client, args, "GET", f"/approvals/{args.request_id}")
        print_json(request) if args.json else _print_request(request)
        return EXIT_OK
    with connect() as graph:
        try:
            request = get_request(graph, args.request_id)
        except UnknownRequest as exc:
            raise CommandError(str(exc), EXIT_REJECTED) from exc
    if args.json:
        print_json(request)
    else:
        _print_request(request)
    return EXIT_OK
