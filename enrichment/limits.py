"""Where registry limits are kept: in the process, or in Redis shared by every worker.

The request gate (:mod:`enrichment.ratelimit`) asks a *limit store* four things per request:
is the registry paused (a ``Retry-After`` it sent), is its daily quota spent, may a request go
out now (its token bucket), and to count what happened. Two stores answer them:

- :class:`LocalLimits` keeps everything in the process: one worker, today's behaviour.
- :class:`RedisLimits` keeps everything in Redis, so that N worker processes on any number of
  machines together stay within each registry's limits:

  * the token bucket is a hash ``{tokens, ts}`` updated by one Lua script (atomic in Redis):
    it either takes a token, and counts the request it lets out, or returns how long to wait,
    and the caller sleeps and asks again; the script reads Redis's own clock (``TIME``), so
    machines' clocks need not agree, and is sent once and then called by its digest
    (``EVALSHA``);
  * the daily quota is a counter per registry per UTC day (``INCR`` + ``EXPIREAT``); past the
    quota :class:`~enrichment.failures.QuotaExhausted` says when it resets (next UTC midnight);
  * a pause is a key with a time to live (``SET PX``) that only ever grows;
  * counters are one hash per registry (``HINCRBY``): ``requests``, ``over_limit``,
    ``deferred``, ``paused``; :func:`registry_counters` reads them all.

A Redis that cannot be reached raises :class:`~enrichment.failures.LimitStoreUnavailable`:
without the shared limits no request may be sent.

Each :class:`RedisLimits` holds a bounded pool of connections (sized like the process's
``max_concurrency``): when every connection is busy a caller waits for one (up to
:data:`POOL_TIMEOUT` seconds) rather than failing with "Too many connections", so any number of
lookups in flight share a few connections and Redis's client limit is never approached.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio
import redis.exceptions
from redis.commands.core import AsyncScript

from enrichment.failures import LimitStoreUnavailable, QuotaExhausted
from enrichment.registries import RegistryLimit

PREFIX = "attribution:limits:"
COUNTER_FIELDS = ("requests", "over_limit", "deferred", "paused")
DAY = 86400.0
# Connections one store opens at most when not told (the default ``max_concurrency``), and how
# long a caller waits for a free one before the store counts as unreachable.
DEFAULT_MAX_CONNECTIONS = 16
POOL_TIMEOUT = 30.0
T = TypeVar("T")

# KEYS[1]: the bucket hash, KEYS[2]: the registry's counters hash. ARGV: rate (tokens/s),
# burst, now ("" = Redis's clock), ttl in ms. A token taken is a request let out, counted in the
# same call: one round trip per request instead of two.
# A bucket Redis does not hold (first use, expired, or lost when Redis restarted) starts empty,
# not full: the registry may have been asked a moment ago by a worker whose bucket was lost, so
# the first request waits one token's time rather than risk a refusal.
# Returns the wait in seconds as a string ("0" when a token was taken): Lua numbers returned
# to Redis are truncated to integers.
BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[3])
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = 0
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  redis.call('HINCRBY', KEYS[2], 'requests', 1)
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.9f', tokens), 'ts', string.format('%.6f', ts))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return string.format('%.6f', wait)
"""

# KEYS[1]: the pause key. ARGV[1]: the pause in ms. A pause only grows: a shorter one asked
# while a longer one runs changes nothing.
PAUSE_LUA = """
local left = redis.call('PTTL', KEYS[1])
local asked = tonumber(ARGV[1])
if left < asked then
  redis.call('SET', KEYS[1], '1', 'PX', asked)
  return 1
end
return 0
"""


def next_utc_midnight(now: float) -> float:
    """The UNIX time of the UTC midnight after ``now``."""
    day = dt.datetime.fromtimestamp(now, dt.UTC).date() + dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def utc_day(now: float) -> str:
    """The UTC date of ``now`` as ``YYYY-MM-DD``: the quota counters' period."""
    return dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()


def redacted(url: str) -> str:
    """A Redis URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class LimitStore(Protocol):
    """What the request gate needs from a store of registry limits."""

    async def paused_for(self, registry: str) -> float:
        """Seconds the registry stays paused (0 when it is not)."""

    async def pause(self, registry: str, seconds: float) -> None:
        """Pause the registry for ``seconds``, unless a longer pause already runs."""

    async def take_quota(self, registry: RegistryLimit) -> None:
        """Charge one request to the registry's daily quota; raise QuotaExhausted when spent."""

    async def take_token(self, registry: RegistryLimit) -> float:
        """Take a token and count the request it lets out (return 0), or return the seconds to
        wait before asking again."""

    async def count(self, registry: str, counter: str) -> None:
        """Add one to a registry's counter (one of :data:`COUNTER_FIELDS`)."""

    async def aclose(self) -> None:
        """Release connections."""


class LocalLimits:
    """Limits kept in this process: buckets, quotas per UTC day and pauses in dictionaries.

    ``clock`` (monotonic) drives pauses, ``bucket_clock`` (monotonic) the buckets and ``wall``
    (UNIX time) the quota's UTC day; all are injectable so tests need not sleep (the gate
    passes its own clock for pauses only, as breakers and pauses share it). Counters are the
    gate's own.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        bucket_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._bucket_clock = bucket_clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._paused_until: dict[str, float] = {}
        self._quota: dict[tuple[str, str], int] = {}

    async def paused_for(self, registry: str) -> float:
        return max(0.0, self._paused_until.get(registry, 0.0) - self._clock())

    async def pause(self, registry: str, seconds: float) -> None:
        until = self._clock() + seconds
        if until > self._paused_until.get(registry, 0.0):
            self._paused_until[registry] = until

    async def take_quota(self, registry: RegistryLimit) -> None:
        if registry.daily_quota is None:
            return
        now = self._wall()
        key = (registry.name, utc_day(now))
        used = self._quota.get(key, 0) + 1
        self._quota[key] = used
        if used > registry.daily_quota:
            raise QuotaExhausted(registry.name, next_utc_midnight(now))

    async def take_token(self, registry: RegistryLimit) -> float:
        now = self._bucket_clock()
        tokens, updated = self._buckets.get(registry.name, (float(registry.burst), now))
        tokens = min(float(registry.burst), tokens + max(0.0, now - updated) * registry.rate)
        if tokens >= 1:
            self._buckets[registry.name] = (tokens - 1, now)
            return 0.0
        self._buckets[registry.name] = (tokens, now)
        return (1 - tokens) / registry.rate

    async def count(self, registry: str, counter: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


class RedisLimits:
    """Limits kept in Redis at ``url``, shared by every process that uses the same URL.

    ``clock`` (UNIX time) replaces Redis's clock in the bucket and the wall clock for the
    quota's UTC day: tests inject it; production leaves it None. Connections are opened on
    first use, inside the event loop that uses them, at most ``max_connections`` of them (pass
    the config's ``max_concurrency``); a caller finding them all busy waits for one.
    """

    def __init__(
        self,
        url: str,
        clock: Callable[[], float] | None = None,
        prefix: str = PREFIX,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.url = url
        self.max_connections = max_connections
        self._clock = clock
        self._prefix = prefix
        self._client: redis.asyncio.Redis | None = None
        self._bucket_script: AsyncScript | None = None

    def _redis(self) -> redis.asyncio.Redis:
        if self._client is None:
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self.url,
                max_connections=self.max_connections,
                timeout=POOL_TIMEOUT,
                socket_connect_timeout=3.0,
                socket_timeout=5.0,
                decode_responses=True,
            )
            self._client = redis.asyncio.Redis.from_pool(pool)
        return self._client

    async def _call(self, operation: Callable[[redis.asyncio.Redis], Awaitable[T]]) -> T:
        try:
            return await operation(self._redis())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as e:
            raise LimitStoreUnavailable(
                f"registry limits store {redacted(self.url)} unreachable: {e}"
            ) from e

    def _key(self, kind: str, registry: str) -> str:
        return f"{self._prefix}{kind}:{registry}"

    async def paused_for(self, registry: str) -> float:
        left = await self._call(lambda r: r.pttl(self._key("pause", registry)))
        return max(0, int(left)) / 1000.0

    async def pause(self, registry: str, seconds: float) -> None:
        ms = max(1, int(seconds * 1000))
        key = self._key("pause", registry)
        await self._call(lambda r: r.eval(PAUSE_LUA, 1, key, ms))

    async def take_quota(self, registry: RegistryLimit) -> None:
        if registry.daily_quota is None:
            return
        now = self._clock() if self._clock is not None else time.time()
        resume = next_utc_midnight(now)
        key = self._key("quota", f"{registry.name}:{utc_day(now)}")

        async def charge(r: redis.asyncio.Redis) -> int:
            async with r.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                # A day after its own day ends the counter is only clutter.
                pipe.expireat(key, int(resume + DAY))
                used, _ = await pipe.execute()
            return int(used)

        if await self._call(charge) > registry.daily_quota:
            raise QuotaExhausted(registry.name, resume)

    async def take_token(self, registry: RegistryLimit) -> float:
        now = "" if self._clock is None else f"{self._clock():.6f}"
        # The bucket outlives a full refill by a minute, then goes.
        ttl = int((registry.burst / registry.rate + 60.0) * 1000)
        keys = (self._key("bucket", registry.name), self._key("counters", registry.name))
        args = (registry.rate, registry.burst, now, ttl)

        async def take(r: redis.asyncio.Redis) -> object:
            if self._bucket_script is None:
                self._bucket_script = r.register_script(BUCKET_LUA)
            return await self._bucket_script(keys=keys, args=args, client=r)

        return float(await self._call(take))  # type: ignore[arg-type]

    async def count(self, registry: str, counter: str) -> None:
        key = self._key("counters", registry)
        await self._call(lambda r: r.hincrby(key, counter, 1))

    async def counters(self) -> dict[str, dict[str, int]]:
        """Every registry's cumulative counters: ``{registry: {counter: n}}``."""
        start = len(self._key("counters", ""))

        async def read(r: redis.asyncio.Redis) -> dict[str, dict[str, int]]:
            out: dict[str, dict[str, int]] = {}
            async for key in r.scan_iter(match=self._key("counters", "*")):
                values = await r.hgetall(key)
                counts = {f: int(values.get(f, 0)) for f in COUNTER_FIELDS}
                out[str(key)[start:]] = counts
            return dict(sorted(out.items()))

        return await self._call(read)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._bucket_script = None


def registry_counters(url: str) -> dict[str, dict[str, int]]:
    """The cumulative per-registry counters kept in the Redis at ``url``.

    ``{registry: {"requests": n, "over_limit": n, "deferred": n, "paused": n}}``. Synchronous:
    call it outside an event loop (it runs its own). Raises LimitStoreUnavailable.
    """
    import asyncio

    async def read() -> dict[str, dict[str, int]]:
        store = RedisLimits(url)
        try:
            return await store.counters()
        finally:
            await store.aclose()

    return asyncio.run(read())
