"""``attribution sandbox up DIR | down | status | generate``: the offline sandbox.

A thin layer over :mod:`enrichment.sandbox`. The sandbox's state (process ids, the endpoints)
lives in ``<home>/sandbox``, so ``attribution enrich --sandbox`` finds a sandbox that ``up``
started from another shell. ``status`` exits 0 when the sandbox is up and answering, 3 when it
is not.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from attribution.cli.common import EXIT_ENVIRONMENT, EXIT_OK, CommandError, print_json
from attribution.settings import SANDBOX_ENDPOINTS_ENV, load_settings


def state_dir() -> Path:
    """Where the CLI's sandbox keeps its state: ``<home>/sandbox``."""
    return load_settings().home / "sandbox"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "sandbox",
        help="offline sandbox: real DNS, RDAP and WHOIS servers on 127.0.0.1 over one directory",
        description="Start, stop and inspect the offline sandbox, or generate a world for it. "
        "State lives in <home>/sandbox.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    up = actions.add_parser("up", help="serve a data directory (see docs/sandbox-layout.md)")
    up.add_argument("data_dir", type=Path, metavar="DIR")
    up.add_argument("--dns-port", type=int, default=None)
    up.add_argument("--rdap-port", type=int, default=None)
    up.add_argument("--whois-port", type=int, default=None)
    up.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="SERVICE=RATE/SECONDS[:BURST]",
        help="make the RDAP or WHOIS server refuse requests over a rate, counted across "
        "connections (rdap=10/1: ten a second; RDAP answers 429 with Retry-After, WHOIS a "
        "'rate limit exceeded' line); repeatable",
    )
    up.add_argument("--json", action="store_true", help="print the endpoints as JSON")
    up.set_defaults(func=run_up)

    down = actions.add_parser("down", help="stop the sandbox's processes")
    down.add_argument("--json", action="store_true")
    down.set_defaults(func=run_down)

    status = actions.add_parser(
        "status", help="whether the sandbox runs and answers (exit 0 up, 3 down)"
    )
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=run_status)

    generate = actions.add_parser("generate", help="write a synthetic world into a directory")
    generate.add_argument("--out", type=Path, required=True, help="output data directory")
    generate.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    generate.add_argument("--size", type=int, default=5000, help="domains (default 5000)")
    generate.add_argument("--json", action="store_true")
    generate.set_defaults(func=run_generate)


def pointing_instructions(state_file: Path) -> str:
    """The environment variable or TOML a user sets so that workers use this sandbox."""
    return (
        "point workers at it with `attribution enrich --sandbox`, or set\n"
        f"  export {SANDBOX_ENDPOINTS_ENV}={state_file}\n"
        "or in attribution.toml:\n"
        "  [enrichment]\n"
        f'  sandbox_endpoints = "{state_file}"'
    )


def run_up(args: argparse.Namespace) -> int:
    from enrichment.sandbox.limiting import parse_service_limit
    from enrichment.sandbox.manager import Sandbox, SandboxError

    if not args.data_dir.is_dir():
        raise CommandError(f"{args.data_dir}: no such directory")
    try:
        limits = dict(parse_service_limit(text) for text in args.limit)
    except ValueError as exc:
        raise CommandError(f"--limit: {exc}", code=2) from exc
    sandbox = Sandbox(state_dir())
    try:
        endpoints = sandbox.up(
            args.data_dir,
            dns_port=args.dns_port,
            rdap_port=args.rdap_port,
            whois_port=args.whois_port,
            limits=limits,
        )
    except (SandboxError, ValueError, OSError) as exc:
        raise CommandError(f"sandbox did not start: {exc}") from exc
    if args.json:
        print_json({"endpoints": endpoints, "state_file": str(sandbox.state_file)})
        return EXIT_OK
    print(f"sandbox up on {endpoints['data_dir']}")
    print(f"  DNS    {endpoints['dns_host']}:{endpoints['dns_port']} (UDP and TCP)")
    print(f"  RDAP   {endpoints['rdap_base_url']} (bootstrap {endpoints['rdap_bootstrap_url']})")
    print(f"  WHOIS  {endpoints['whois_host']}:{endpoints['whois_port']}")
    for service, limit in sorted((endpoints.get("limits") or {}).items()):
        if limit:
            print(
                f"  limit  {service}: {limit['requests']} per {limit['seconds']:g} s "
                f"(bursts of {limit['burst']})"
            )
    print(pointing_instructions(sandbox.state_file))
    return EXIT_OK


def run_down(args: argparse.Namespace) -> int:
    from enrichment.sandbox.manager import Sandbox

    stopped = Sandbox(state_dir()).down()
    if args.json:
        print_json({"stopped": stopped})
    else:
        print("sandbox stopped" if stopped else "sandbox was not running")
    return EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    from enrichment.sandbox.manager import Sandbox

    status: dict[str, Any] = Sandbox(state_dir()).status()
    if args.json:
        print_json(status)
    elif status["up"]:
        endpoints = status["endpoints"]
        print(
            f"sandbox up on {endpoints['data_dir']}: DNS {endpoints['dns_port']}, "
            f"RDAP {endpoints['rdap_base_url']}, WHOIS {endpoints['whois_port']}"
        )
    elif status["endpoints"] is None:
        print("sandbox down")
    else:
        broken = [k for k, v in status["answering"].items() if not v]
        dead = [k for k, v in status["processes"].items() if not v["alive"]]
        print(f"sandbox not answering: {', '.join(broken + dead)}; run `attribution sandbox down`")
    return EXIT_OK if status["up"] else EXIT_ENVIRONMENT


def run_generate(args: argparse.Namespace) -> int:
    from enrichment.sandbox.generate import generate_world
    from enrichment.sandbox.world_sites import MIN_SIZE

    if args.size < MIN_SIZE:
        raise CommandError(f"--size must be at least {MIN_SIZE}", code=2)
    summary = generate_world(args.out, seed=args.seed, size=args.size)
    if args.json:
        print_json(summary.to_dict())
    else:
        print(
            f"wrote a world of {summary.size} domains (seed {summary.seed}) to {summary.out_dir}: "
            f"{summary.zones} zones, {summary.indicators} indicators "
            f"({args.out / 'indicators.txt'}); serve it with `attribution sandbox up {args.out}`"
        )
    return EXIT_OK
