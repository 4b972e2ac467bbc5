"""Retry-After obeyed as sent, a server paused for every request, and the circuit breaker."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace

import pytest

from enrichment.breaker import BreakerState, CircuitBreaker
from enrichment.config import Breaker, EnrichmentConfig, RetryPolicy
from enrichment.failures import NoDataError, ServerUnavailable, TransientError
from enrichment.ratelimit import RequestGate
from enrichment.retry import RetriesExhausted, with_retry


def _run_retry(
    answers: list[Exception | int], policy: RetryPolicy
) -> tuple[list[float], int | Exception]:
    slept: list[float] = []

    async def operation() -> int:
        item = answers.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    try:
        done = asyncio.run(with_retry(operation, policy, random.Random(1), sleep))
    except Exception as error:
        return slept, error
    return slept, done.value


def test_retry_after_is_obeyed_as_sent_beyond_the_policys_max_delay() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.5, jitter=0.0)
    slept, value = _run_retry([TransientError("429", "s", retry_after=5.0), 7], policy)
    assert (slept, value) == ([5.0], 7)


def test_a_retry_after_beyond_the_ceiling_gives_up_at_once() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.5, max_retry_after=60.0)
    slept, error = _run_retry([TransientError("HTTP 429", "s", retry_after=61.0), 7], policy)
    assert slept == []
    assert isinstance(error, RetriesExhausted)
    assert (error.attempts, error.reason, error.retry_after) == (
        1,
        "HTTP 429 (after 1 attempts)",
        61.0,
    )


def test_a_request_that_was_not_sent_is_not_retried() -> None:
    slept, error = _run_retry([ServerUnavailable("open", "s"), 7], RetryPolicy())
    assert slept == [] and isinstance(error, ServerUnavailable) and error.attempts == 1


def test_breaker_opens_after_consecutive_failures_and_probes_after_the_cooldown() -> None:
    now = [0.0]
    breaker = CircuitBreaker("rdap:443", Breaker(failures=3, cooldown=10.0), lambda: now[0])
    for _ in range(2):
        breaker.admit()
        breaker.failed("HTTP 500")
    breaker.admit()
    breaker.succeeded()  # an answer resets the count
    for _ in range(3):
        breaker.admit()
        breaker.failed("HTTP 500")
    assert (breaker.state, breaker.openings) == (BreakerState.OPEN, 1)
    now[0] = 9.9
    with pytest.raises(ServerUnavailable) as caught:
        breaker.admit()
    assert caught.value.reason == "rdap:443 not asked: 3 failures in a row (last: HTTP 500)"
    now[0] = 10.0
    breaker.admit()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(ServerUnavailable):
        breaker.admit()  # only one probe at a time
    breaker.failed("timeout")
    assert (breaker.state, breaker.openings) == (BreakerState.OPEN, 2)
    now[0] = 20.0
    breaker.admit()
    breaker.abandoned()  # a cancelled probe leaves the next request free to probe
    breaker.admit()
    breaker.succeeded()
    assert (breaker.state, breaker.failures, breaker.openings) == (BreakerState.CLOSED, 0, 2)


def _gate(**retry: float) -> tuple[RequestGate, list[float]]:
    now = [100.0]
    config = replace(
        EnrichmentConfig(),
        retry=RetryPolicy(**retry),  # type: ignore[arg-type]
        breaker=Breaker(failures=2, cooldown=30.0),
    )
    return RequestGate(config, clock=lambda: now[0]), now


async def _request(gate: RequestGate, error: Exception | None, guarded: bool = True) -> None:
    async with gate.slot("rdap.example", 443, guarded=guarded):
        if error is not None:
            raise error


def test_a_retry_after_pauses_the_server_for_every_request() -> None:
    gate, now = _gate(max_retry_after=60.0)

    async def scenario() -> list[str]:
        seen: list[str] = []
        with pytest.raises(TransientError):
            await _request(gate, TransientError("HTTP 429", "s", retry_after=120.0), False)
        for _ in range(2):  # another request, unguarded too, is held back without being sent
            try:
                await _request(gate, None, False)
            except ServerUnavailable as error:
                seen.append(error.reason)
        now[0] += 120.0
        await _request(gate, None, False)
        return seen

    seen = asyncio.run(scenario())
    assert seen == ["rdap.example:443 asked for 120 s without requests, more than 60 s"] * 2
    assert gate.requests_by_server == {"rdap.example:443": 2}


def test_a_pause_within_the_ceiling_is_waited_for() -> None:
    gate = RequestGate(EnrichmentConfig())

    async def scenario() -> None:
        with pytest.raises(TransientError):
            await _request(gate, TransientError("HTTP 503", "s", retry_after=0.05))
        await _request(gate, None)

    asyncio.run(scenario())
    assert gate.requests_by_server == {"rdap.example:443": 2}


def test_the_gate_opens_a_servers_breaker_and_counts_only_requests_sent() -> None:
    gate, now = _gate()

    async def scenario() -> None:
        with pytest.raises(NoDataError):  # "no data" is an answer: the server is up
            await _request(gate, NoDataError("HTTP 404", "s"))
        for _ in range(2):
            with pytest.raises(TransientError):
                await _request(gate, TransientError("HTTP 500", "s"))
        for _ in range(3):
            with pytest.raises(ServerUnavailable):
                await _request(gate, None)
        now[0] += 30.0
        await _request(gate, None)

    asyncio.run(scenario())
    assert gate.requests_by_server == {"rdap.example:443": 4}
    assert gate.breaker_openings() == {"rdap.example:443": 1}
    assert gate.breaker("rdap.example:443").state is BreakerState.CLOSED
