"""The sandbox enforces its limits, and clients sharing them in Redis never go over them."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from enrichment.clients import EnrichmentClients
from enrichment.config import EnrichmentConfig, RetryPolicy
from enrichment.failures import SourceError, TransientError
from enrichment.limits import registry_counters
from enrichment.registries import NO_FIGURE, RegistryLimit
from enrichment.sandbox.fixtures import default_fixtures_dir
from enrichment.sandbox.limiting import LimitSpec
from enrichment.sandbox.manager import Sandbox
from enrichment.whois_client import whois_query

RDAP_LIMIT = LimitSpec(10, 1.0)
WHOIS_LIMIT = LimitSpec(5, 1.0)


def _build_data_dir() -> Any:
    path = Path(__file__).with_name("conftest.py")
    spec = importlib.util.spec_from_file_location("sandbox_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_data_dir


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, dict[str, Any]]]:
    """A sandbox whose RDAP server allows 10/s and WHOIS server 5/s (bursts of 2)."""
    fixtures = default_fixtures_dir()
    if not (fixtures / "PROVENANCE.md").exists():
        pytest.skip(f"recorded answers not found at {fixtures}")
    if shutil.which("nsd") is None and not Path("/usr/sbin/nsd").exists():
        pytest.skip("nsd is not installed")
    root = tmp_path_factory.mktemp("limited")
    data_dir = _build_data_dir()(root / "data", fixtures)
    sandbox = Sandbox(root / "state")
    endpoints = sandbox.up(data_dir, limits={"rdap": RDAP_LIMIT, "whois": WHOIS_LIMIT})
    try:
        yield sandbox, endpoints
    finally:
        sandbox.down()


def _delta(after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {s: {k: after[s][k] - before[s][k] for k in after[s]} for s in after}


async def _client_work(config: EnrichmentConfig, base: str, whois: tuple[str, int]) -> None:
    clients = EnrichmentClients.create(config)
    try:
        for i in range(10):
            # 404s are answers too; only the count matters here
            with contextlib.suppress(SourceError):
                await clients.http.get_json(f"{base}ip/198.51.100.{i}")
        for i in range(4):
            await whois_query(clients.gate, *whois, f"example{i}.jp", 2.0)
    finally:
        await clients.aclose()


def test_three_clients_sharing_the_limits_never_go_over(
    limited: tuple[Sandbox, dict[str, Any]], redis_url: str
) -> None:
    sandbox, endpoints = limited
    config = replace(EnrichmentConfig.from_sandbox(endpoints), shared_limits_url=redis_url)
    whois = (endpoints["whois_host"], endpoints["whois_port"])
    before = sandbox.stats()

    async def run() -> None:
        await asyncio.gather(
            *(_client_work(config, endpoints["rdap_base_url"], whois) for _ in range(3))
        )

    asyncio.run(run())
    assert _delta(sandbox.stats(), before) == {
        "rdap": {"requests": 30, "over_limit": 0},
        "whois": {"requests": 12, "over_limit": 0},
    }
    assert registry_counters(redis_url) == {
        "sandbox-rdap": {"requests": 30, "over_limit": 0, "deferred": 0, "paused": 0},
        "sandbox-whois": {"requests": 12, "over_limit": 0, "deferred": 0, "paused": 0},
    }


def test_a_client_over_the_limit_is_refused_and_counts_it(
    limited: tuple[Sandbox, dict[str, Any]],
) -> None:
    sandbox, endpoints = limited
    raised = tuple(
        RegistryLimit(r.name, r.hosts, 1000, 1.0, 100, None, NO_FIGURE)
        for r in EnrichmentConfig.from_sandbox(endpoints).registries
    )
    config = replace(
        EnrichmentConfig.from_sandbox(endpoints),
        registries=raised,
        retry=RetryPolicy(attempts=1),
        max_concurrency=32,
    )
    whois = (endpoints["whois_host"], endpoints["whois_port"])
    before = sandbox.stats()

    async def one_rdap(clients: EnrichmentClients, i: int) -> bool:
        try:
            await clients.http.get_json(f"{endpoints['rdap_base_url']}ip/198.51.100.{i}")
        except TransientError as error:
            return error.over_limit
        except SourceError:
            pass
        return False

    async def one_whois(clients: EnrichmentClients, i: int) -> bool:
        try:
            await whois_query(clients.gate, *whois, f"example{i}.jp", 2.0)
        except TransientError as error:
            return error.over_limit and error.retry_after == 1.0
        return False

    async def run() -> tuple[list[bool], list[bool], dict[str, dict[str, int]]]:
        clients = EnrichmentClients.create(config)
        try:
            rdap = await asyncio.gather(*(one_rdap(clients, i) for i in range(30)))
            found = await asyncio.gather(*(one_whois(clients, i) for i in range(12)))
            return rdap, found, clients.gate.registry_counters()
        finally:
            await clients.aclose()

    rdap, found, counted = asyncio.run(run())
    served = _delta(sandbox.stats(), before)
    assert served["rdap"]["requests"] == 30
    assert served["rdap"]["over_limit"] == sum(rdap) >= 20
    assert served["whois"]["requests"] == 12
    assert served["whois"]["over_limit"] == sum(found) >= 6
    assert counted["sandbox-rdap"]["over_limit"] == sum(rdap)
    assert counted["sandbox-whois"]["over_limit"] == sum(found)
