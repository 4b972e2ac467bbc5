"""Per-server token buckets and the global concurrency bound.

Registries throttle or block clients that exceed their published rates, and a blocked client
produces failures that look like missing data. Every request therefore passes through
:meth:`RequestGate.slot`: it waits for a token from its server's bucket, then for a place under
the global concurrency bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from enrichment.config import EnrichmentConfig, RateLimit


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
    """Rate limits per server plus one global bound on requests in flight.

    Buckets are keyed by ``host:port`` (the sandbox runs several servers on one address) and
    configured by host name through :meth:`EnrichmentConfig.rate_limit_for`.
    """

    def __init__(self, config: EnrichmentConfig) -> None:
        self._config = config
        self._buckets: dict[str, TokenBucket] = {}
        self._semaphore = asyncio.Semaphore(config.max_concurrency)
        self.requests_by_server: dict[str, int] = {}

    def _bucket(self, host: str, port: int, limit: RateLimit | None) -> TokenBucket:
        key = f"{host}:{port}"
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(limit or self._config.rate_limit_for(host))
            self._buckets[key] = bucket
        return bucket

    @asynccontextmanager
    async def slot(
        self, host: str, port: int, limit: RateLimit | None = None
    ) -> AsyncIterator[None]:
        """Hold one request slot for ``host:port`` for the duration of the block."""
        await self._bucket(host, port, limit).acquire()
        async with self._semaphore:
            key = f"{host}:{port}"
            self.requests_by_server[key] = self.requests_by_server.get(key, 0) + 1
            yield
