"""Per-server token buckets, pauses and breakers, and the global concurrency bound.

Registries throttle or block clients that exceed their published rates, and a blocked client
produces failures that look like missing data. Every request therefore passes through
:meth:`RequestGate.slot`: it waits while its server is paused (``Retry-After``), passes the
server's circuit breaker (RDAP over HTTP), waits for a token from its server's bucket, then for a
place under the global concurrency bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from enrichment.breaker import CircuitBreaker
from enrichment.config import EnrichmentConfig, RateLimit
from enrichment.failures import ServerUnavailable, SourceError, TransientError


class TokenBucket:
    """An asyncio token bucket: ``rate`` tokens per second, holding at most ``burst``.

    ``clock`` is injectable so tests can check the arithmetic without sleeping.
    """

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = limit.rate
        self._capacity = float(limit.burst)
        self._tokens = float(limit.burst)
        self._clock = clock
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    def wait_time(self) -> float:
        """Seconds until a token is available (0 when one is available now)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self._rate

    async def acquire(self) -> None:
        """Take one token, sleeping until one is available; callers are served in order."""
        async with self._lock:
            while (delay := self.wait_time()) > 0:
                await asyncio.sleep(delay)
            self._tokens -= 1


class RequestGate:
    """Rate limits, pauses and circuit breakers per server, plus one global bound on requests
    in flight.

    Buckets are keyed by ``host:port`` (the sandbox runs several servers on one address) and
    configured by host name through :meth:`EnrichmentConfig.rate_limit_for`. A transient
    failure that carries a ``Retry-After`` pauses its server for every request of the process
    (not only the one retried); a pause longer than the retry policy's ``max_retry_after``
    makes requests fail at once instead of waiting. Slots opened with ``guarded`` also pass the
    server's :class:`~enrichment.breaker.CircuitBreaker`.
    """

    def __init__(
        self, config: EnrichmentConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._paused_until: dict[str, float] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self._semaphore = asyncio.Semaphore(config.max_concurrency)
        self.requests_by_server: dict[str, int] = {}

    def _bucket(self, key: str, host: str, limit: RateLimit | None) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(limit or self._config.rate_limit_for(host))
            self._buckets[key] = bucket
        return bucket

    def breaker(self, key: str) -> CircuitBreaker:
        """The circuit breaker of the server ``host:port``."""
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = CircuitBreaker(key, self._config.breaker, self._clock)
            self._breakers[key] = breaker
        return breaker

    def breaker_openings(self) -> dict[str, int]:
        """How often each server's breaker opened, for servers whose breaker ever opened."""
        return {k: b.openings for k, b in sorted(self._breakers.items()) if b.openings}

    def pause(self, key: str, seconds: float) -> None:
        """Send nothing to the server ``host:port`` for ``seconds`` (a pause only grows)."""
        until = self._clock() + seconds
        if until > self._paused_until.get(key, 0.0):
            self._paused_until[key] = until

    async def _wait_unpaused(self, key: str) -> None:
        ceiling = self._config.retry.max_retry_after
        while (remaining := self._paused_until.get(key, 0.0) - self._clock()) > 0:
            if remaining > ceiling:
                raise ServerUnavailable(
                    f"{key} asked for {remaining:.0f} s without requests, more than {ceiling:g} s",
                    key,
                )
            await asyncio.sleep(remaining)

    @asynccontextmanager
    async def slot(
        self, host: str, port: int, limit: RateLimit | None = None, *, guarded: bool = False
    ) -> AsyncIterator[None]:
        """Hold one request slot for ``host:port`` for the duration of the block.

        The block's outcome is what the server did: a :class:`TransientError` raised in it
        counts against the breaker (and pauses the server when it carries ``retry_after``),
        any other answer, "no data" and unusable ones included, counts as the server being up.
        """
        key = f"{host}:{port}"
        await self._wait_unpaused(key)
        breaker = self.breaker(key) if guarded else None
        if breaker is not None:
            breaker.admit()
        try:
            await self._bucket(key, host, limit).acquire()
            async with self._semaphore:
                self.requests_by_server[key] = self.requests_by_server.get(key, 0) + 1
                yield
        except TransientError as error:
            if error.retry_after is not None:
                self.pause(key, error.retry_after)
            if breaker is not None:
                breaker.failed(error.reason)
            raise
        except SourceError:
            if breaker is not None:
                breaker.succeeded()
            raise
        except BaseException:
            if breaker is not None:
                breaker.abandoned()
            raise
        if breaker is not None:
            breaker.succeeded()
