"""The cache of Team Cymru AS registration answers: single flight, freshness, what it keeps."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

from enrichment.asn_source import AsRegistrationCache, CachedAnswer, with_registrations
from enrichment.observations import AsnOrigin, Provenance

AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
TEXT = "15169 | US | arin | 2000-03-30 | GOOGLE - Google LLC, US"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _lookup(cache: AsRegistrationCache, asn: int, asked: list[int]) -> CachedAnswer:
    async with cache.single_flight(asn) as cached:
        if cached is not None:
            return cached
        asked.append(asn)
        await asyncio.sleep(0.01)
        return cache.put(asn, [f"answer {asn}"], AT)


def test_concurrent_lookups_of_one_as_ask_once_and_share_the_answer() -> None:
    cache = AsRegistrationCache(60.0, clock=Clock())
    asked: list[int] = []

    async def main() -> list[CachedAnswer]:
        return list(await asyncio.gather(*(_lookup(cache, n, asked) for n in (7, 7, 8, 7))))

    answers = asyncio.run(main())
    assert sorted(asked) == [7, 8]
    assert [a.texts[0] for a in answers] == ["answer 7", "answer 7", "answer 8", "answer 7"]
    assert (cache.hits, cache.misses) == (2, 2)


def test_an_answer_is_used_until_its_ttl_then_asked_again() -> None:
    clock = Clock()
    cache = AsRegistrationCache(60.0, clock=clock)
    asked: list[int] = []
    asyncio.run(_lookup(cache, 7, asked))
    clock.now += 59.9
    assert asyncio.run(_lookup(cache, 7, asked)).retrieved_at == AT
    clock.now += 0.1
    asyncio.run(_lookup(cache, 7, asked))
    assert asked == [7, 7]
    assert (cache.hits, cache.misses) == (1, 2)


def test_a_failed_lookup_is_not_kept() -> None:
    cache = AsRegistrationCache(60.0, clock=Clock())

    async def failing() -> None:
        async with cache.single_flight(7) as cached:
            assert cached is None
            raise TimeoutError

    async def main() -> None:
        with contextlib.suppress(TimeoutError):
            await failing()
        asked: list[int] = []
        await _lookup(cache, 7, asked)
        assert asked == [7]

    asyncio.run(main())
    assert (cache.hits, cache.misses) == (0, 2)


def test_a_registration_keeps_the_time_its_answer_was_retrieved() -> None:
    provenance = Provenance("asn_cymru_dns", "127.0.0.1:53", AT + dt.timedelta(hours=1))
    origin = AsnOrigin("192.0.2.1", 15169, "192.0.2.0/24", "US", "arin", None, None, provenance)
    other = AsnOrigin("192.0.2.1", 64500, "192.0.2.0/24", "US", "arin", None, None, provenance)
    registered, unnamed = with_registrations([origin, other], [TEXT], "s", {TEXT: AT})
    assert (registered.as_name, registered.as_retrieved_at) == ("GOOGLE - Google LLC, US", AT)
    assert (unnamed.as_name, unnamed.as_retrieved_at) == (None, None)
