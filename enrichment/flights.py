"""Lookups in flight, by key: a cache's misses for one key wait for the first to land.

Without it, concurrent lookups that all miss a cache all send the same request. A cache holds
a key with :meth:`Flights.hold` while it asks, and a lookup that finds the key held waits with
:meth:`Flights.landed`, then looks in the cache again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable

__all__ = ["Flights"]


class Flights:
    """Keys being asked about right now, each with the event set when its lookup ends."""

    def __init__(self) -> None:
        self._events: dict[Hashable, asyncio.Event] = {}

    async def landed(self, key: Hashable) -> bool:
        """Wait for the lookup of ``key`` in flight, if any, to end; whether there was one."""
        event = self._events.get(key)
        if event is None:
            return False
        await event.wait()
        return True

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """Hold ``key`` while the block asks; lookups waiting on it resume when it ends,
        whether it got an answer or failed."""
        event = asyncio.Event()
        self._events[key] = event
        try:
            yield
        finally:
            del self._events[key]
            event.set()
