"""``attribution principals add|list|revoke``: who may use the service, and with what role.

Run on the service's host by its operator: it writes the service's principal store directly
(``<home>/service/principals.sqlite3``, or ``--state-dir``). A token is printed once, when it
is made, and only its SHA-256 is kept. Each change is appended to the audit log.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from attribution import audit
from attribution.cli.common import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, CommandError, print_json
from attribution.service.principals import (
    ROLES,
    Principal,
    PrincipalError,
    PrincipalStore,
    parse_duration,
)
from attribution.settings import load_settings

ACTIONS = ("add", "list", "revoke")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("principals", help="make, list and revoke the service's principals")
    parser.add_argument("--state-dir", type=Path, default=None, help="the service's folder")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="make a principal and print its token once")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--expires", default="90d", help="lifetime: 90d, 12h, 30m (default 90d)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=_add)

    lst = actions.add_parser("list", help="every principal, never a token")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_list)

    rev = actions.add_parser("revoke", help="revoke a principal's token for good")
    rev.add_argument("name", metavar="NAME")
    rev.add_argument("--json", action="store_true")
    rev.set_defaults(func=_revoke)


def _store(args: argparse.Namespace) -> tuple[PrincipalStore, str, Path]:
    from attribution.service.config import private_dir, state_dir_for

    settings = load_settings()
    folder = private_dir(state_dir_for(settings, args.state_dir))
    return PrincipalStore(folder / "principals.sqlite3"), settings.acting_user(), settings.audit_log


def _line(principal: Principal) -> str:
    state = "revoked" if principal.revoked_at else f"expires {principal.expires_at or 'never'}"
    return f"{principal.name:<20} {principal.role:<9} {state}"


def _add(args: argparse.Namespace) -> int:
    store, actor, log = _store(args)
    try:
        expires = parse_duration(args.expires)
        store.check_new(args.name, args.role)
    except PrincipalError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    audit.append(actor, "principal.add", args.name, {"role": args.role, "via": "cli"}, path=log)
    principal, token = store.add(args.name, args.role, expires)
    if args.json:
        print_json(
            {
                "name": principal.name,
                "role": principal.role,
                "token": token,
                "expires": principal.expires_at,
            }
        )
    else:
        print(f"{principal.name} ({principal.role}), expires {principal.expires_at}")
        print(f"token (shown once): {token}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    store, _, _ = _store(args)
    principals = store.list()
    if args.json:
        print_json([p.as_dict() for p in principals])
    else:
        for principal in principals:
            print(_line(principal))
    return EXIT_OK


def _revoke(args: argparse.Namespace) -> int:
    store, actor, log = _store(args)
    try:
        store.get(args.name)
    except PrincipalError as exc:
        raise CommandError(str(exc), EXIT_REJECTED) from exc
    audit.append(actor, "principal.revoke", args.name, {"via": "cli"}, path=log)
    principal = store.revoke(args.name)
    if args.json:
        print_json(principal.as_dict())
    else:
        print(_line(principal))
    return EXIT_OK
