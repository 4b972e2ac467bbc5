"""The Dramatiq engine end to end: three worker processes, the sandbox, the test Neo4j and the
session Redis, as ``attribution enrich --engine dramatiq`` and ``attribution worker`` run them.

One generated world (seed 3, size 300: 120 indicators) is served by a sandbox that enforces
binding limits (RDAP 20 a second, WHOIS 10 a second, counted across connections) and whose IP
RDAP answers are delayed a little, so batches are still in hand when a test kills a worker or
restarts Redis. Every test ends with every indicator done, no over-limit answer counted by the
sandbox itself nor by the workers, and no worker process left.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pending import ingest_pending

from attribution.db import Graph
from attribution.identities import parse_indicator
from attribution.redis_server import LocalRedis
from enrichment.sandbox.generate import generate_world
from enrichment.sandbox.limiting import LimitSpec
from enrichment.sandbox.manager import Sandbox, free_port

REPO = Path(__file__).resolve().parents[2]
ENRICH = [sys.executable, "-m", "attribution.cli.main", "enrich", "--engine", "dramatiq"]
WORKER = [sys.executable, "-m", "attribution.cli.worker_cmd", "--engine", "dramatiq"]
RUN_FLAGS = ["--sandbox", "--json", "--max-depth", "0", "--batch", "8", "--lease-seconds", "4"]
WAIT = 90.0
# The sandbox stamps a request when its handler thread runs, not when it reaches the socket:
# on two loaded cores a handler can wait 100 ms for the processor, and requests sent 55 ms
# apart are then counted together. A burst of 4 absorbs that scheduling delay (as a registry
# counting over a window would) while a client over the rate is still refused at once
# (test_sandbox_limits.py shows it).
LIMITS = {"rdap": LimitSpec(20, 1.0, burst=4), "whois": LimitSpec(10, 1.0, burst=4)}
# No test may see a refusal: the clients keep under the sandbox's published limits, through a
# Redis restart too (a bucket lost with Redis starts empty again).
FAULTS = {"rdap": [{"path": "/ip/", "prefix": True, "kind": "delay", "seconds": 0.3}]}


@dataclass(frozen=True)
class World:
    home: Path
    indicators: list[str]
    sandbox: Sandbox

    @property
    def keys(self) -> list[str]:
        return sorted({parse_indicator(v).key for v in self.indicators})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if shutil.which("nsd") is None and not Path("/usr/sbin/nsd").exists():
        pytest.skip("nsd is not installed")
    root = tmp_path_factory.mktemp("dramatiq")
    data_dir = root / "world"
    generate_world(data_dir, seed=3, size=300)
    (data_dir / "faults.json").write_text(json.dumps(FAULTS), encoding="utf-8")
    home = root / "home"
    sandbox = Sandbox(home / "sandbox")
    sandbox.up(data_dir, limits=LIMITS)
    try:
        indicators = (data_dir / "indicators.txt").read_text(encoding="utf-8").split()
        yield World(home, indicators, sandbox)
    finally:
        sandbox.down()


@pytest.fixture
def env(world: World, neo4j_env: dict[str, str], redis_url: str) -> Iterator[dict[str, str]]:
    """The commands' environment; afterwards, no process of this world may be left, and the
    sandbox answered over its limits not once during the test (its own count)."""
    before = world.sandbox.stats()
    yield {**neo4j_env, "ATTRIBUTION_HOME": str(world.home), "REDIS_URL": redis_url}
    assert _processes_of(world.home) == []
    after = world.sandbox.stats()
    refused = {s: after[s]["over_limit"] - before[s]["over_limit"] for s in LIMITS}
    served = {s: after[s]["requests"] - before[s]["requests"] for s in LIMITS}
    assert refused == dict.fromkeys(LIMITS, 0), (refused, served)


def _processes_of(home: Path) -> list[int]:
    """Processes (other than the sandbox's) whose environment names ``home``."""
    marker = f"ATTRIBUTION_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0") and b"attribution.cli" in cmdline:
            found.append(int(entry.name))
    return found


def states(graph: Graph) -> dict[str, int]:
    rows = graph.read(
        "MATCH (n) WHERE (n:Domain OR n:IPAddress) AND n.indicator "
        "RETURN n.enrich_state AS state, count(*) AS n"
    )
    return {r["state"]: r["n"] for r in rows}


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, dict[str, Any]]:
    out, err = proc.communicate(timeout=WAIT)
    assert out.strip(), err
    return proc.returncode, json.loads(out.strip().splitlines()[-1])


def over_limit(summary: dict[str, Any]) -> int:
    return sum(c.get("over_limit", 0) for c in summary["registries"].values())


def assert_all_done(
    graph: Graph, world: World, summary: dict[str, Any], over_limit_at_most: int = 0
) -> None:
    assert states(graph) == {"done": len(world.keys)}
    assert summary["claimed_keys"] == world.keys
    assert (summary["done"], summary["not_done"], summary["lost_leases"]) == (
        len(world.keys),
        0,
        [],
    )
    assert over_limit(summary) <= over_limit_at_most


def stop_workers(workers: list[subprocess.Popen[str]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.communicate(timeout=WAIT)


def test_three_workers_enrich_every_indicator_within_the_limits(
    graph: Graph, world: World, env: dict[str, str]
) -> None:
    ingest_pending(graph, world.indicators)
    rc, summary = finish(start([*ENRICH, *RUN_FLAGS, "--workers", "3"], env))
    assert rc == 0
    assert summary["engine"] == "dramatiq"
    assert_all_done(graph, world, summary)


def test_a_worker_killed_mid_batch_loses_nothing(
    graph: Graph, world: World, env: dict[str, str]
) -> None:
    ingest_pending(graph, world.indicators)
    workers = [start([*WORKER, "--sandbox"], env) for _ in range(3)]
    dispatcher = start([*ENRICH, *RUN_FLAGS, "--workers", "0"], env)
    try:
        victim = workers[0]
        owner = f":{victim.pid}:"
        wait_for(
            lambda: (
                graph.read(
                    "MATCH (n) WHERE n.enrich_state = 'leased' AND n.lease_owner CONTAINS $owner "
                    "RETURN count(n) AS n",
                    {"owner": owner},
                )[0]["n"]
                > 0
            ),
            "the victim to hold a batch",
        )
        victim.send_signal(signal.SIGKILL)
        rc, summary = finish(dispatcher)
    finally:
        stop_workers(workers)
    assert rc == 0
    assert victim.returncode == -signal.SIGKILL
    assert [w.returncode for w in workers[1:]] == [0, 0]
    assert_all_done(graph, world, summary)


def test_redis_restarted_mid_run_loses_nothing(
    graph: Graph, world: World, env: dict[str, str], redis_server: LocalRedis
) -> None:
    ingest_pending(graph, world.indicators)
    flags = [*RUN_FLAGS, "--workers", "3", "--requeue-after", "10"]
    dispatcher = start([*ENRICH, *flags], env)
    wait_for(lambda: states(graph).get("done", 0) > 0, "the first finished indicators")
    redis_server.stop()
    redis_server.start()
    rc, summary = finish(dispatcher)
    assert rc == 0
    assert_all_done(graph, world, summary)


def test_an_unreachable_broker_is_one_line_and_exit_3(world: World, env: dict[str, str]) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    for command in ([*ENRICH, "--sandbox"], [*WORKER, "--sandbox"]):
        done = subprocess.run(
            command,
            env={**env, "REDIS_URL": url},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        name = "enrich" if "enrich" in command else "worker"
        assert (done.returncode, done.stdout) == (3, "")
        lines = done.stderr.splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(f"attribution {name}: the broker at {url} is unreachable (")
        assert lines[0].endswith("); start it with `attribution redis start` or set REDIS_URL")
