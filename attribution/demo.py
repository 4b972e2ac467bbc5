"""The offline demo, end to end: every step is a real ``attribution`` command.

Run it with ``bash scripts/demo.sh`` (which sets the machine up first) or
``python -m attribution.demo``. It prints each command before running it, so the output
doubles as a walkthrough; nothing leaves 127.0.0.1. The demo uses the locally managed
Neo4j (or ``NEO4J_URI``) and writes its files under ``demo-out/``.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

from attribution.settings import REPO_ROOT

OUT = REPO_ROOT / "demo-out"


class DemoFailed(RuntimeError):
    """A demo step exited with an unexpected code."""


def step(title: str, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    """Run one ``attribution`` command, echoing it, and fail loudly on an unexpected exit."""
    command = [sys.executable, "-m", "attribution.cli.main", *args]
    print(f"\n== {title}\n$ attribution {shlex.join(args)}", flush=True)
    began = time.monotonic()
    result = subprocess.run(command, text=True, stdout=subprocess.PIPE, check=False)
    print(result.stdout, end="", flush=True)
    if result.returncode not in ok:
        raise DemoFailed(f"`attribution {shlex.join(args)}` exited {result.returncode}")
    print(f"   ({time.monotonic() - began:.1f} s, exit {result.returncode})", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=600, help="domains in the generated world")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    world = OUT / "world"
    try:
        step(
            "Start the local Neo4j server (resolved from Maven Central on first use)",
            "neo4j",
            "start",
        )
        step(
            "Apply the constraints and indexes declared in attribution/schema.py", "schema", "apply"
        )
        sample = REPO_ROOT / "docs" / "examples" / "indicators.csv"
        step(
            "Ingest a sample indicator list; its bad lines are named and the rest lands",
            "ingest",
            str(sample),
            ok=(0, 1),
        )
    except DemoFailed as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    del world
    print(
        "\nBrowse the graph: open http://127.0.0.1:7474/browser/ (user neo4j, password in "
        "~/.cache/attribution/neo4j/password) and run for example\n"
        "  MATCH (d:Domain)-[r]->(x) RETURN d, r, x LIMIT 100"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
