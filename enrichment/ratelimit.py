"""Per-registry limits, per-server breakers, and the global concurrency bound.

Registries throttle or block clients that exceed their published rates, and a blocked client
produces failures that look like missing data. Every request therefore passes through
:meth:`RequestGate.slot`: it waits while its registry is paused (``Retry-After``), passes the
server's circuit breaker (RDAP over HTTP), is charged to its registry's daily quota, waits for
a token from its registry's bucket, then for a place under the global concurrency bound.

Registries, their buckets, quotas and pauses live in a limit store (:mod:`enrichment.limits`):
in the process, or in Redis when ``EnrichmentConfig.shared_limits_url`` is set, so that every
worker process shares them. Circuit breakers and the concurrency bound stay per process: they
protect this process from a server that is down, not the registry from us.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from enrichment.breaker import CircuitBreaker
from enrichment.config import EnrichmentConfig, RateLimit
from enrichment.failures import QuotaExhausted, ServerUnavailable, SourceError, TransientError
from enrichment.limits import COUNTER_FIELDS, LimitStore, LocalLimits, RedisLimits
from enrichment.registries import RegistryLimit


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
    """Registry limits, per-server circuit breakers, and one global bound on requests in
    flight.

    A request to ``host:port`` is charged to the registry :meth:`EnrichmentConfig.registry_for`
    names (by ``host:port``, then host, or by name). A transient failure that carries a
    ``Retry-After`` pauses its registry for every request of every process sharing the store
    (not only the one retried); a pause longer than the retry policy's ``max_retry_after``
    makes requests fail at once instead of waiting. An answer that says we asked too much
    (429, 403, a WHOIS "rate limit exceeded") counts as ``over_limit``. Slots opened with
    ``guarded`` also pass the server's :class:`~enrichment.breaker.CircuitBreaker`.

    ``requests_by_server`` and :meth:`registry_counters` count this process's requests.
    """

    def __init__(
        self,
        config: EnrichmentConfig,
        clock: Callable[[], float] = time.monotonic,
        store: LimitStore | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        if store is None:
            url = config.shared_limits_url
            store = (
                RedisLimits(url, max_connections=config.max_concurrency)
                if url
                else LocalLimits(clock)
            )
        self.store: LimitStore = store
        self._buckets: dict[str, TokenBucket] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self._semaphore = asyncio.Semaphore(config.max_concurrency)
        self._counters: dict[str, dict[str, int]] = {}
        self.requests_by_server: dict[str, int] = {}

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

    def registry_counters(self) -> dict[str, dict[str, int]]:
        """This process's counts per registry: requests, over_limit, deferred, paused."""
        return {name: dict(counts) for name, counts in sorted(self._counters.items())}

    async def _count(self, registry: str, counter: str, shared: bool = True) -> None:
        counts = self._counters.setdefault(registry, dict.fromkeys(COUNTER_FIELDS, 0))
        counts[counter] += 1
        if shared:
            await self.store.count(registry, counter)

    async def pause(self, registry: str, seconds: float) -> None:
        """Send nothing to ``registry`` for ``seconds`` (a pause only grows)."""
        await self.store.pause(registry, seconds)
        await self._count(registry, "paused")

    async def _wait_unpaused(self, key: str, registry: str) -> None:
        ceiling = self._config.retry.max_retry_after
        while (remaining := await self.store.paused_for(registry)) > 0:
            if remaining > ceiling:
                raise ServerUnavailable(
                    f"{key} asked for {remaining:.0f} s without requests, more than {ceiling:g} s",
                    key,
                )
            await asyncio.sleep(remaining)

    async def _admit(
        self, key: str, registry: RegistryLimit | None, limit: RateLimit | None
    ) -> None:
        """Charge the quota, then take the tokens: the server's own, then the registry's."""
        if registry is not None:
            try:
                await self.store.take_quota(registry)
            except QuotaExhausted:
                await self._count(registry.name, "deferred")
                raise
        if limit is not None:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(limit)
            await bucket.acquire()
        if registry is not None:
            while (wait := await self.store.take_token(registry)) > 0:
                await asyncio.sleep(wait)

    @asynccontextmanager
    async def slot(
        self,
        host: str,
        port: int,
        limit: RateLimit | None = None,
        *,
        guarded: bool = False,
        registry: str | None = None,
    ) -> AsyncIterator[None]:
        """Hold one request slot for ``host:port`` for the duration of the block.

        ``limit`` gives the server a bucket of its own, kept in the process (the local DNS
        resolver, which is no registry); the request is then charged to a registry only when
        ``registry`` names one. Without ``limit`` it is charged to its host's registry.

        The block's outcome is what the server did: a :class:`TransientError` raised in it
        counts against the breaker (and pauses the registry when it carries ``retry_after``),
        any other answer, "no data" and unusable ones included, counts as the server being up.

        Raises:
            QuotaExhausted: the registry's daily quota is spent (nothing sent).
            ServerUnavailable: breaker open, or a pause longer than ``max_retry_after``.
            LimitStoreUnavailable: the shared limit store cannot be reached.
        """
        key = f"{host}:{port}"
        charged = None
        if limit is None or registry is not None:
            charged = self._config.registry_for(host, port, registry)
        name = charged.name if charged is not None else key
        # A server that is no registry (the local resolver) has no shared pause or counters:
        # asking the shared store about it would cost round trips for every DNS question.
        shared = charged is not None
        if shared:
            await self._wait_unpaused(key, name)
        breaker = self.breaker(key) if guarded else None
        if breaker is not None:
            breaker.admit()
        # The slot is held before the tokens are taken: a request that got its token leaves at
        # once, rather than waiting for a slot and then leaving with others that waited too,
        # closer together than the registry allows.
        async with self._semaphore:
            try:
                await self._admit(key, charged, limit)
            except BaseException:
                if breaker is not None:
                    breaker.abandoned()
                raise
            async with self._sent(key, name, breaker, shared):
                yield

    @asynccontextmanager
    async def _sent(
        self, key: str, name: str, breaker: CircuitBreaker | None, shared: bool
    ) -> AsyncIterator[None]:
        """Count one request sent to ``key`` and judge the server by how the block ends."""
        try:
            self.requests_by_server[key] = self.requests_by_server.get(key, 0) + 1
            # The shared store counted the request when it gave the registry's token.
            await self._count(name, "requests", shared=False)
            yield
        except TransientError as error:
            await self._answered(name, error, shared)
            if breaker is not None:
                breaker.failed(error.reason)
            raise
        except SourceError as error:
            await self._answered(name, error, shared)
            if breaker is not None:
                breaker.succeeded()
            raise
        except BaseException:
            if breaker is not None:
                breaker.abandoned()
            raise
        if breaker is not None:
            breaker.succeeded()

    async def _answered(self, registry: str, error: SourceError, shared: bool = True) -> None:
        """Count an over-limit answer, and pause the registry when the server asked for it."""
        if error.over_limit:
            await self._count(registry, "over_limit", shared)
        if shared and isinstance(error, TransientError) and error.retry_after is not None:
            await self.pause(registry, error.retry_after)

    async def aclose(self) -> None:
        """Release the limit store's connections."""
        await self.store.aclose()
