"""The Dramatiq broker both sides of the engine use: Redis, one queue, one actor name.

The dispatcher only sends messages (:func:`batch_message`); worker processes declare the actor
with the function that does the work (:mod:`attribution.engines.dramatiq_worker`).
"""

from __future__ import annotations

from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from attribution.engines import EngineError
from attribution.redis_server import RedisStatus

QUEUE = "enrichment"
ACTOR = "enrich_batch"
# A worker that stops heartbeating for this long is dead: the broker hands its unacknowledged
# messages to the others (checked on a share of the broker's commands, MAINTENANCE_CHANCE per
# million). Dramatiq's defaults (60 s, 1 in 1000) are slow to notice a killed worker.
HEARTBEAT_TIMEOUT_MS = 15_000
MAINTENANCE_CHANCE = 50_000
# The broker retries a batch that raised this many times, backing off between 1 s and 30 s.
ACTOR_OPTIONS: dict[str, Any] = {
    "max_retries": 5,
    "min_backoff": 1_000,
    "max_backoff": 30_000,
    "time_limit": 3_600_000,
}
CONNECT_TIMEOUT_S = 3.0


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    return RedisStatus(True, None, url, "").as_dict()["url"]  # type: ignore[return-value]


def unreachable(url: str, reason: object) -> EngineError:
    return EngineError(
        f"the broker at {shown_url(url)} is unreachable ({reason}); start it with "
        "`attribution redis start` or set REDIS_URL"
    )


def check_broker(url: str) -> None:
    """Raise :class:`EngineError` (one line) unless the Redis at ``url`` answers a PING."""
    client = redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise unreachable(url, reason) from None
    finally:
        client.close()


def make_broker(url: str) -> RedisBroker:
    """A Dramatiq Redis broker on ``url`` with this project's liveness settings."""
    return RedisBroker(
        url=url,
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=MAINTENANCE_CHANCE,
    )


def batch_message(payload: dict[str, Any]) -> dramatiq.Message[Any]:
    """One batch's message: its token, node ids and the run's options, nothing else."""
    return dramatiq.Message(queue_name=QUEUE, actor_name=ACTOR, args=(), kwargs=payload, options={})
