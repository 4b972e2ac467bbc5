"""Enrichment under faults, on the real sandbox: nothing ends ``done`` that a server never
answered, every node gets a retry time, the request counts follow the rules, and a re-run
with ``--retry-failed`` completes every indicator once the fault has cleared.

Each test serves the generated world (seed 3, size 300) from its own sandbox with its own
faults.json, and enriches six of its indicators (four domains with RDAP, two addresses).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from pending import ingest_pending

from attribution.db import Graph
from attribution.identities import parse_indicator
from attribution.worker import Worker, WorkerOptions
from enrichment.config import Breaker, EnrichmentConfig
from enrichment.sandbox.generate import generate_world
from enrichment.sandbox.manager import Sandbox

DOMAINS = ["signal-port.online", "corvusabnk.xyz", "quartzbooks11.online", "api-southpanda.xyz"]
ADDRESSES = ["27.41.10.148", "185.34.214.138"]
INDICATORS = DOMAINS + ADDRESSES
KEYS = sorted(parse_indicator(v).key for v in INDICATORS)
EVERY_RDAP_PATH = {"path": "/", "prefix": True, "kind": "status"}


@dataclass(frozen=True)
class Served:
    sandbox: Sandbox
    endpoints: dict[str, Any]

    @property
    def rdap_server(self) -> str:
        return str(self.endpoints["rdap_base_url"]).removeprefix("http://").rstrip("/")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("nsd") is None and not Path("/usr/sbin/nsd").exists():
        pytest.skip("nsd is not installed")
    out = tmp_path_factory.mktemp("world") / "world"
    generate_world(out, seed=3, size=300)
    return out


@pytest.fixture
def serve(tmp_path: Path, world: Path) -> Iterator[Any]:
    """Start a sandbox over the world with the given RDAP faults; stopped after the test."""
    started: list[Sandbox] = []

    def start(rdap_faults: list[dict[str, Any]]) -> Served:
        data_dir = tmp_path / "data"
        shutil.copytree(world, data_dir)
        (data_dir / "faults.json").write_text(json.dumps({"rdap": rdap_faults}), "utf-8")
        sandbox = Sandbox(tmp_path / "state")
        started.append(sandbox)
        return Served(sandbox, sandbox.up(data_dir))

    yield start
    for sandbox in started:
        sandbox.down()


def run(
    graph: Graph,
    config: EnrichmentConfig,
    progress: Callable[[int], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    opts = WorkerOptions(worker_id="w-faults", max_depth=0, lanes=1, **options)
    return Worker(graph, config, opts, progress=progress).run().as_dict()


def node_states(graph: Graph) -> dict[str, tuple[str, int | None, bool, tuple[str, ...]]]:
    """Per indicator: state, attempts, whether it has a retry time, and the failed sources."""
    rows = graph.read(
        "MATCH (n) WHERE n.indicator RETURN coalesce(n.name, n.address) AS key, "
        "n.enrich_state AS state, n.enrich_attempts AS attempts, "
        "n.enrich_retry_at IS NOT NULL AS retry, n.enrich_failures AS failures"
    )
    return {
        r["key"]: (
            r["state"],
            r["attempts"],
            r["retry"],
            tuple(sorted(f.split(":")[0] for f in r["failures"])),
        )
        for r in rows
    }


def assert_all_complete(graph: Graph, summary: dict[str, Any], retried: list[str]) -> None:
    """The retry run claimed exactly the nodes left partial, and every indicator is done."""
    assert (summary["claimed_keys"], summary["not_done"]) == (retried, 0)
    assert set(node_states(graph).values()) == {("done", None, False, ())}
    assert failing(graph) == []


def failing(graph: Graph) -> list[str]:
    """The nodes the failures review lists (the worker's ``enrich_failing`` flag), sorted."""
    rows = graph.read(
        "MATCH (n) WHERE n.enrich_failing IS NOT NULL "
        "RETURN coalesce(n.name, n.address) AS key, n.enrich_failing AS flag ORDER BY key"
    )
    assert {r["flag"] for r in rows} <= {True}
    return [r["key"] for r in rows]


def test_dns_down_mid_run_leaves_nodes_partial_until_a_retry_completes_them(
    graph: Graph, serve: Any
) -> None:
    served = serve([])
    config = replace(EnrichmentConfig.from_sandbox(served.endpoints), dns_lifetime=0.3)
    ingest_pending(graph, INDICATORS)
    finished = 0

    def progress(count: int) -> None:
        nonlocal finished
        finished += count
        if finished == 2:  # the first batch is enriched: DNS goes down for the rest
            assert served.sandbox.stop_dns()

    first = run(graph, config, batch=2, progress=progress)
    assert (first["claimed"], first["done"], first["partial"], first["failed"]) == (6, 2, 4, 0)
    found = node_states(graph)
    for key in first["partial_keys"]:
        value = key.split(":", 1)[1]
        assert found[value][:3] == ("partial", 1, True)
        assert "dns" in found[value][3]
    assert failing(graph) == sorted(key.split(":", 1)[1] for key in first["partial_keys"])
    assert run(graph, config)["claimed"] == 0  # not due yet: retried in minutes, not now
    served.sandbox.start_dns()
    assert_all_complete(graph, run(graph, config, retry_failed=True), first["partial_keys"])


def test_rdap_429_everywhere_obeys_retry_after_and_opens_the_breaker(
    graph: Graph, serve: Any
) -> None:
    # Three 429s with Retry-After: 1, then healthy. The bootstrap fetch every RDAP lookup
    # needs comes first and one at a time: its three attempts wait out the server's second
    # each, the third failure in a row opens the breaker, and nothing more is sent.
    served = serve([{**EVERY_RDAP_PATH, "status": 429, "retry_after": 1, "times": 3}])
    config = replace(
        EnrichmentConfig.from_sandbox(served.endpoints), breaker=Breaker(failures=3, cooldown=60)
    )
    ingest_pending(graph, INDICATORS)
    first = run(graph, config)
    assert first["requests_by_server"][served.rdap_server] == 3
    assert first["breaker_openings"] == {served.rdap_server: 1}
    assert (first["done"], first["partial_keys"]) == (0, KEYS)
    found = node_states(graph)
    for domain in DOMAINS:
        assert found[domain] == ("partial", 1, True, ("domain_registration",))
    for address in ADDRESSES:
        assert found[address] == ("partial", 1, True, ("ip_rdap",))
    second = run(graph, config, retry_failed=True)
    assert second["breaker_openings"] == {}
    assert_all_complete(graph, second, KEYS)


def test_rdap_500_for_a_while_opens_the_breaker_then_all_complete(graph: Graph, serve: Any) -> None:
    # Three 500s: two in a row open the breaker in the first run; the third is absorbed by a
    # retry in the second run, where the server is healthy again.
    served = serve([{**EVERY_RDAP_PATH, "status": 500, "times": 3}])
    config = replace(
        EnrichmentConfig.from_sandbox(served.endpoints), breaker=Breaker(failures=2, cooldown=60)
    )
    ingest_pending(graph, INDICATORS)
    first = run(graph, config)
    assert first["requests_by_server"][served.rdap_server] == 2
    assert first["breaker_openings"] == {served.rdap_server: 1}
    assert (first["done"], first["partial_keys"]) == (0, KEYS)
    second = run(graph, config, retry_failed=True)
    assert second["breaker_openings"] == {}
    assert_all_complete(graph, second, KEYS)
