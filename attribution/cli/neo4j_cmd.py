"""``attribution neo4j start | stop | status``: the locally managed server."""

from __future__ import annotations

import argparse

from attribution.cli.common import EXIT_OK, CommandError, print_json
from attribution.neo4j_server import LocalNeo4j, Neo4jServerError, ServerStatus
from attribution.settings import NEO4J_VERSION, load_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("neo4j", help="start, stop or inspect the local Neo4j server")
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.neo4j.external:
        status = ServerStatus(
            running=True,
            pid=None,
            bolt_uri=settings.neo4j.uri or "",
            browser_url="",
            home="",
            version="unknown",
            external=True,
        )
        if args.action != "status":
            print(
                f"NEO4J_URI is set ({settings.neo4j.uri}): that server is used; nothing to {args.action}."
            )
            return EXIT_OK
        if args.json:
            print_json(status.as_dict())
        else:
            print(f"external server: {settings.neo4j.uri} (NEO4J_URI)")
        return EXIT_OK
    server = LocalNeo4j(settings.home, settings.neo4j)
    try:
        if args.action == "start":
            status = server.start(progress=not args.json)
        elif args.action == "stop":
            stopped = server.stop()
            status = server.status()
            if not args.json:
                print("stopped; data kept in " + status.home if stopped else "not running")
        else:
            status = server.status()
    except Neo4jServerError as exc:
        raise CommandError(str(exc)) from exc
    if args.json:
        print_json(status.as_dict())
    elif args.action != "stop":
        state = "running" if status.running else "not running"
        print(f"Neo4j {NEO4J_VERSION} {state}" + (f" (pid {status.pid})" if status.pid else ""))
        print(f"  Bolt:    {status.bolt_uri}")
        print(
            f"  Browser: {status.browser_url}  (user {settings.neo4j.username}, password in {server.password_file})"
        )
    # status exits 3 when the server is down, so scripts can test it.
    return EXIT_OK if status.running or args.action == "stop" else 3
