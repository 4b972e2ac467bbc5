"""The limit stores against a real Redis: two stores stand for two worker processes."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import replace

import pytest

from enrichment.config import EnrichmentConfig, RateLimit
from enrichment.failures import LimitStoreUnavailable, QuotaExhausted, TransientError
from enrichment.limits import LocalLimits, RedisLimits, registry_counters
from enrichment.ratelimit import RequestGate
from enrichment.registries import NO_FIGURE, RegistryLimit

NOON = dt.datetime(2026, 11, 29, 13, 0, tzinfo=dt.UTC).timestamp()
MIDNIGHT = dt.datetime(2026, 11, 30, tzinfo=dt.UTC).timestamp()
EIGHT = RegistryLimit("eight", ("rdap.eight.test",), 8, 1.0, 1, None, NO_FIGURE)
QUOTA = RegistryLimit("quota", ("rdap.quota.test",), 100, 1.0, 100, 2, NO_FIGURE)


def test_two_stores_share_one_bucket_exactly(redis_url: str) -> None:
    now = [1000.0]  # 1000 + k/64 and k/8 tokens are exact binary fractions
    stores = [RedisLimits(redis_url, clock=lambda: now[0]) for _ in range(2)]

    async def run() -> tuple[int, float]:
        grants = 0
        for k in range(65):  # one second in steps of 1/64 s
            now[0] = 1000.0 + k / 64
            for store in stores:
                grants += await store.take_token(EIGHT) == 0.0
        now[0] = 1001.0
        wait = await stores[0].take_token(EIGHT)
        for store in stores:
            await store.aclose()
        return grants, wait

    grants, wait = asyncio.run(run())
    assert grants == 8  # a new bucket starts empty, then 8 a second between both
    assert wait == 0.125


def test_two_stores_on_redis_time_never_exceed_the_rate(redis_url: str) -> None:
    ten = RegistryLimit("ten", ("rdap.ten.test",), 10, 1.0, 1, None, NO_FIGURE)

    async def client(store: RedisLimits, until: float) -> int:
        grants = 0
        while time.monotonic() < until:
            wait = await store.take_token(ten)
            if wait == 0.0:
                grants += 1
            else:
                await asyncio.sleep(max(0.0, min(wait, until - time.monotonic())))
        await store.aclose()
        return grants

    async def run() -> list[int]:
        until = time.monotonic() + 1.0
        return await asyncio.gather(*(client(RedisLimits(redis_url), until) for _ in range(2)))

    total = sum(asyncio.run(run()))
    assert 9 <= total <= 11


def test_a_spent_quota_says_when_it_resets(redis_url: str) -> None:
    now = [NOON]

    async def run() -> tuple[QuotaExhausted, None]:
        first, second = (RedisLimits(redis_url, clock=lambda: now[0]) for _ in range(2))
        await first.take_quota(QUOTA)
        await second.take_quota(QUOTA)
        with pytest.raises(QuotaExhausted) as spent:
            await first.take_quota(QUOTA)
        now[0] = MIDNIGHT + 1  # a new UTC day, a new quota
        reset = await second.take_quota(QUOTA)
        await first.aclose()
        await second.aclose()
        return spent.value, reset

    spent, reset = asyncio.run(run())
    assert (spent.registry, spent.resume_at, reset) == ("quota", MIDNIGHT, None)
    assert spent.reason == "quota of quota spent until 2026-11-30T00:00:00Z"


def test_the_local_store_counts_the_quota_the_same_way() -> None:
    now = [NOON]
    store = LocalLimits(wall=lambda: now[0])

    async def run() -> float:
        await store.take_quota(QUOTA)
        await store.take_quota(QUOTA)
        with pytest.raises(QuotaExhausted) as spent:
            await store.take_quota(QUOTA)
        return spent.value.resume_at

    assert asyncio.run(run()) == MIDNIGHT


def test_a_pause_is_shared_and_only_grows(redis_url: str) -> None:
    async def run() -> list[float]:
        first, second = RedisLimits(redis_url), RedisLimits(redis_url)
        seen = [await second.paused_for("RIPE")]
        await first.pause("RIPE", 5.0)
        seen.append(await second.paused_for("RIPE"))
        await second.pause("RIPE", 1.0)  # shorter: changes nothing
        seen.append(await first.paused_for("RIPE"))
        await second.pause("RIPE", 10.0)
        seen.append(await first.paused_for("RIPE"))
        seen.append(await first.paused_for("ARIN"))
        await first.aclose()
        await second.aclose()
        return seen

    before, paused, kept, grown, other = asyncio.run(run())
    assert (before, other) == (0.0, 0.0)
    assert 4.9 < paused <= 5.0
    assert 4.9 < kept <= 5.0
    assert 9.9 < grown <= 10.0


def test_the_gate_counts_per_registry_in_redis(redis_url: str) -> None:
    config = replace(EnrichmentConfig(), registries=(QUOTA,), shared_limits_url=redis_url)

    async def request(gate: RequestGate, error: Exception | None) -> None:
        async with gate.slot("rdap.quota.test", 443, guarded=True):
            if error is not None:
                raise error

    async def run() -> tuple[dict[str, dict[str, int]], ...]:
        gates = [RequestGate(config), RequestGate(config)]
        limited = TransientError("HTTP 429", "s", retry_after=0.05)
        limited.over_limit = True
        with pytest.raises(TransientError):
            await request(gates[0], limited)
        await request(gates[1], None)  # waits out the pause the other gate's answer set
        with pytest.raises(QuotaExhausted):
            await request(gates[0], None)
        for gate in gates:
            await gate.aclose()
        return gates[0].registry_counters(), gates[1].registry_counters()

    first, second = asyncio.run(run())
    assert first == {"quota": {"requests": 1, "over_limit": 1, "deferred": 1, "paused": 1}}
    assert second == {"quota": {"requests": 1, "over_limit": 0, "deferred": 0, "paused": 0}}
    assert registry_counters(redis_url) == {
        "quota": {"requests": 2, "over_limit": 1, "deferred": 1, "paused": 1}
    }


def test_an_unreachable_store_is_one_clear_error() -> None:
    store = RedisLimits("redis://:hunter2@127.0.0.1:1/0")

    async def run() -> None:
        try:
            await store.take_token(QUOTA)
        finally:
            await store.aclose()

    with pytest.raises(LimitStoreUnavailable) as error:
        asyncio.run(run())
    message = str(error.value)
    assert message.startswith("registry limits store redis://:***@127.0.0.1:1/0 unreachable: ")
    assert "hunter2" not in message


def test_more_callers_than_connections_wait_for_one(redis_url: str) -> None:
    """200 callers at once on a store of 4 connections all finish (none gets "Too many
    connections"), and the store never opens more than its 4."""
    import redis

    store = RedisLimits(redis_url, max_connections=4)
    watcher = redis.Redis.from_url(redis_url)
    before = len(watcher.client_list())
    peak = [0]

    async def caller(k: int) -> None:
        await store.count("pool", "requests")
        assert await store.take_token(EIGHT) >= 0.0
        if k % 50 == 0:
            peak[0] = max(peak[0], len(watcher.client_list()) - before)

    async def run() -> dict[str, dict[str, int]]:
        await asyncio.gather(*(caller(k) for k in range(200)))
        counts = await store.counters()
        await store.aclose()
        return counts

    counts = asyncio.run(run())
    watcher.close()
    assert counts["pool"]["requests"] == 200
    assert 1 <= peak[0] <= 4
    assert store.max_connections == 4


def test_pool_size_must_be_positive(redis_url: str) -> None:
    with pytest.raises(ValueError, match="max_connections must be at least 1"):
        RedisLimits(redis_url, max_connections=0)


def test_a_server_that_is_no_registry_never_asks_the_shared_store() -> None:
    """The local resolver has its own bucket in the process; its requests never wait on the
    shared store, so they go on even when the store cannot be reached."""
    gate = RequestGate(EnrichmentConfig(), store=RedisLimits("redis://127.0.0.1:1/0"))

    async def run() -> None:
        try:
            for _ in range(3):
                async with gate.slot("127.0.0.1", 5353, RateLimit(1000.0, 10)):
                    pass
        finally:
            await gate.aclose()

    asyncio.run(run())
    assert gate.registry_counters() == {
        "127.0.0.1:5353": {"requests": 3, "over_limit": 0, "deferred": 0, "paused": 0}
    }
    assert gate.requests_by_server == {"127.0.0.1:5353": 3}
