"""Failure taxonomy, retries, rate limiting, the IP RDAP range cache and the configuration."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from pathlib import Path

import pytest

from enrichment.config import EnrichmentConfig, RateLimit, RetryPolicy
from enrichment.failures import (
    FailureKind,
    NoDataError,
    Outcome,
    PermanentError,
    TransientError,
)
from enrichment.flights import Flights
from enrichment.http import decode_json_answer, parse_retry_after
from enrichment.ip_rdap import IpRdapCache, is_unrouted
from enrichment.observations import IpNetwork, Provenance, result_from_error
from enrichment.ratelimit import TokenBucket
from enrichment.retry import RetriesExhausted, backoff_delay, with_retry
from enrichment.whois_client import check_complete

AT = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def test_http_answers_map_to_the_taxonomy() -> None:
    assert decode_json_answer("u", 200, {}, b'{"handle": "X"}') == {"handle": "X"}
    with pytest.raises(NoDataError, match="HTTP 404"):
        decode_json_answer("u", 404, {}, b'{"errorCode": 404}')
    with pytest.raises(TransientError) as limited:
        decode_json_answer("u", 429, {"Retry-After": "7"}, b"")
    assert limited.value.retry_after == 7.0
    with pytest.raises(TransientError, match="HTTP 503"):
        decode_json_answer("u", 503, {}, b"")
    with pytest.raises(PermanentError, match="HTTP 403"):
        decode_json_answer("u", 403, {}, b"")
    with pytest.raises(PermanentError, match="malformed JSON"):
        decode_json_answer("u", 200, {}, b'{"handle": ')
    with pytest.raises(PermanentError, match="not an object"):
        decode_json_answer("u", 200, {}, b"[1, 2]")


def test_retry_after_forms() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_result_from_error_never_turns_failure_into_no_data() -> None:
    transient = TransientError("timeout", "s")
    transient.attempts = 3
    failed = result_from_error("ip_rdap", "192.0.2.1", transient)
    assert (failed.outcome, failed.failure_kind, failed.reason, failed.attempts) == (
        Outcome.FAILED,
        FailureKind.TRANSIENT,
        "timeout",
        3,
    )
    bad = result_from_error("ip_rdap", "192.0.2.1", PermanentError("malformed JSON from u"))
    assert (bad.outcome, bad.failure_kind) == (Outcome.FAILED, FailureKind.ERROR)
    empty = result_from_error("ip_rdap", "192.0.2.1", NoDataError("HTTP 404 from u"))
    assert (empty.outcome, empty.failure_kind, empty.reason) == (
        Outcome.NO_DATA,
        None,
        "HTTP 404 from u",
    )


def test_retry_backs_off_exponentially_then_gives_up() -> None:
    policy = RetryPolicy(attempts=4, base_delay=1.0, max_delay=3.0, jitter=0.0)
    slept: list[float] = []
    calls = 0

    async def failing() -> int:
        nonlocal calls
        calls += 1
        raise TransientError("SERVFAIL", "s")

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    with pytest.raises(RetriesExhausted) as caught:
        asyncio.run(with_retry(failing, policy, random.Random(1), sleep))
    assert calls == 4
    assert slept == [1.0, 2.0, 3.0]
    assert caught.value.attempts == 4
    assert caught.value.reason == "SERVFAIL (after 4 attempts)"


def test_retry_honours_retry_after_and_does_not_retry_no_data() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.1, max_delay=5.0, jitter=0.0)
    slept: list[float] = []
    answers: list[Exception | int] = [TransientError("429", "s", retry_after=2.0), 42]

    async def flaky() -> int:
        item = answers.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    done = asyncio.run(with_retry(flaky, policy, random.Random(1), sleep))
    assert (done.value, done.attempts, slept) == (42, 2, [2.0])

    async def missing() -> int:
        raise NoDataError("NXDOMAIN", "s")

    with pytest.raises(NoDataError) as caught:
        asyncio.run(with_retry(missing, policy, random.Random(1), sleep))
    assert caught.value.attempts == 1


def test_backoff_jitter_stays_within_bounds() -> None:
    policy = RetryPolicy(attempts=5, base_delay=1.0, max_delay=8.0, jitter=0.5)
    rng = random.Random(7)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0)):
        delay = backoff_delay(policy, attempt, rng)
        assert ceiling * 0.5 <= delay <= ceiling


def test_token_bucket_arithmetic() -> None:
    now = [100.0]
    bucket = TokenBucket(RateLimit(rate=2.0, burst=2), clock=lambda: now[0])
    assert bucket.wait_time() == 0.0
    asyncio.run(bucket.acquire())
    asyncio.run(bucket.acquire())
    assert bucket.wait_time() == 0.5
    now[0] += 0.25
    assert bucket.wait_time() == 0.25
    now[0] += 10
    assert bucket.wait_time() == 0.0


def _network(first: str, last: str, handle: str) -> IpNetwork:
    return IpNetwork(
        handle, None, (), first, last, "v4", None, None, None, None, None, None, None, (),
        Provenance("ip_rdap", "u", AT),
    )  # fmt: skip


def test_ip_rdap_cache_serves_every_address_of_a_fresh_range() -> None:
    now = [0.0]
    cache = IpRdapCache(ttl=60.0, clock=lambda: now[0])
    wide = _network("192.0.2.0", "192.0.2.255", "WIDE")
    narrow = _network("192.0.2.128", "192.0.2.191", "NARROW")
    assert cache.get("192.0.2.1") is None
    cache.put(wide)
    cache.put(narrow)
    assert cache.get("192.0.2.1") == wide
    assert cache.get("192.0.2.130") == narrow
    assert cache.get("198.51.100.1") is None
    assert cache.get("2001:db8::1") is None
    assert (cache.hits, cache.misses, len(cache)) == (2, 3, 2)
    now[0] = 61.0
    assert cache.get("192.0.2.1") is None
    assert (cache.hits, cache.misses, len(cache)) == (2, 4, 0)


def test_concurrent_rdap_lookups_in_one_neighbourhood_ask_once() -> None:
    cache = IpRdapCache(ttl=60.0, clock=lambda: 0.0)
    wide = _network("192.0.2.0", "192.0.2.255", "WIDE")
    asked: list[str] = []

    async def lookup(address: str) -> IpNetwork:
        async with cache.single_flight(address) as covered:
            if covered is not None:
                return covered
            cache.get(address)  # the worker's miss, counted before it asks
            asked.append(address)
            await asyncio.sleep(0.01)
            cache.put(wide)
            return wide

    async def main() -> list[IpNetwork]:
        return list(await asyncio.gather(*(lookup(f"192.0.2.{i}") for i in (1, 2, 3))))

    assert asyncio.run(main()) == [wide, wide, wide]
    assert asked == ["192.0.2.1"]


def test_a_failed_flight_lets_the_next_waiter_ask() -> None:
    flights = Flights()
    order: list[str] = []

    async def failing() -> None:
        async with flights.hold("k"):
            await asyncio.sleep(0.01)
            order.append("failed")
            raise TimeoutError

    async def waiting() -> None:
        assert await flights.landed("k")
        order.append("resumed")
        assert not await flights.landed("k")

    async def main() -> None:
        task = asyncio.create_task(failing())
        await asyncio.sleep(0)
        await waiting()
        with pytest.raises(TimeoutError):
            await task

    asyncio.run(main())
    assert order == ["failed", "resumed"]


def test_whois_truncation_is_transient() -> None:
    check_complete("s", b"Domain: x\n")
    with pytest.raises(TransientError, match="truncated"):
        check_complete("s", b"[Domain Name]   EXAM")
    with pytest.raises(TransientError, match="empty"):
        check_complete("s", b"")


def test_unrouted_addresses() -> None:
    config = EnrichmentConfig()
    assert is_unrouted("10.1.2.3", config.unrouted_networks)
    assert is_unrouted("192.0.2.1", config.unrouted_networks)
    assert is_unrouted("fe80::1", config.unrouted_networks)
    assert not is_unrouted("74.125.225.229", config.unrouted_networks)


def test_config_from_sandbox(tmp_path: Path) -> None:
    (tmp_path / "whois").mkdir()
    (tmp_path / "whois" / "rdap-less-tlds.txt").write_text("# no RDAP\n.jp\nkr\n\njp\n")
    config = EnrichmentConfig.from_sandbox(
        {
            "dns_host": "127.0.0.1",
            "dns_port": 15353,
            "rdap_base_url": "http://127.0.0.1:18080/",
            "rdap_bootstrap_url": "http://127.0.0.1:18080/bootstrap/",
            "whois_host": "127.0.0.1",
            "whois_port": 14343,
            "data_dir": str(tmp_path),
            "pids": {},
        }
    )
    assert (config.resolver_address, config.resolver_port) == ("127.0.0.1", 15353)
    assert config.rdap_bootstrap_url == "http://127.0.0.1:18080/bootstrap/"
    assert config.allow_insecure_rdap is True
    assert dict(config.whois_servers) == {
        "jp": ("127.0.0.1", 14343),
        "kr": ("127.0.0.1", 14343),
    }
    assert config.cymru_whois == ("127.0.0.1", 14343)
    assert not is_unrouted("192.0.2.1", config.unrouted_networks)
    assert is_unrouted("10.0.0.1", config.unrouted_networks)
    with pytest.raises(ValueError, match="lack the key 'dns_port'"):
        EnrichmentConfig.from_sandbox({"dns_host": "127.0.0.1"})


def test_config_defaults() -> None:
    config = EnrichmentConfig()
    assert config.rdap_bootstrap_url == "https://data.iana.org/rdap/"
    assert config.whois_server_for(".JP") == ("whois.jprs.jp", 43)
    assert config.whois_server_for("com") is None
    assert config.cymru_whois == ("whois.cymru.com", 43)
    assert config.rate_limit_for("rdap.arin.net") == RateLimit(2.0, 2)
    assert config.rate_limit_for("rdap.example") == RateLimit(1.0, 2)
    with pytest.raises(ValueError, match="end with '/'"):
        EnrichmentConfig(rdap_bootstrap_url="https://data.iana.org/rdap")
