"""``attribution redis start | stop | status [--json]``: the locally managed Redis broker.

With ``REDIS_URL`` set that server is used and nothing is started or stopped.
"""

from __future__ import annotations

import argparse

from attribution.cli.common import EXIT_OK, CommandError, print_json
from attribution.redis_server import LocalRedis, RedisServerError, RedisStatus
from attribution.settings import load_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "redis", help="start, stop or inspect the local Redis (the enrichment broker)"
    )
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.redis.external:
        status = RedisStatus(True, None, settings.redis.url or "", "", external=True)
        if args.action != "status" and not args.json:
            print(f"REDIS_URL is set: that server is used; nothing to {args.action}.")
            return EXIT_OK
    else:
        server = LocalRedis(settings.home, settings.redis)
        try:
            if args.action == "start":
                status = server.start()
            elif args.action == "stop":
                stopped = server.stop()
                status = server.status()
                if not args.json:
                    print("stopped; data kept in " + status.home if stopped else "not running")
            else:
                status = server.status()
        except RedisServerError as exc:
            raise CommandError(str(exc)) from exc
    if args.json:
        print_json(status.as_dict())
    elif args.action != "stop":
        state = "running" if status.running else "not running"
        print(f"Redis {state}" + (f" (pid {status.pid})" if status.pid else ""))
        print(f"  URL: {status.as_dict()['url']}")
    return EXIT_OK
