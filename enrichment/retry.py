"""Bounded exponential backoff with jitter for transient failures.

Only :class:`~enrichment.failures.TransientError` is retried. *No data* and permanent errors
return or raise at once: retrying an NXDOMAIN wastes a registry's goodwill, and retrying a
malformed answer rarely fixes it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from enrichment.config import RetryPolicy
from enrichment.failures import QuotaExhausted, ServerUnavailable, SourceError, TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class Attempted(Generic[T]):
    """A value together with the number of attempts it took."""

    value: T
    attempts: int


class RetriesExhausted(TransientError):
    """Every attempt failed transiently; ``reason`` is the last failure's reason."""

    def __init__(self, last: TransientError, attempts: int) -> None:
        super().__init__(
            f"{last.reason} (after {attempts} attempts)", last.server, last.retry_after
        )
        self.attempts = attempts


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """The pause after failed attempt number ``attempt`` (from 1), jittered downwards."""
    ceiling = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
    return ceiling * (1 - policy.jitter * rng.random())


async def with_retry(
    operation: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Attempted[T]:
    """Run ``operation`` until it succeeds, raises a non-transient error, or attempts run out.

    A ``Retry-After`` longer than the policy's ``max_retry_after`` is not waited for: the
    lookup gives up at once (the node is retried later).

    Raises:
        RetriesExhausted: every attempt raised :class:`TransientError`, or the server asked
            for a wait beyond ``max_retry_after``.
        ServerUnavailable: the request was not sent (breaker open or server paused too long).
        QuotaExhausted: the registry's daily quota is spent (nothing sent; not retried).
        NoDataError, PermanentError: raised by ``operation``, passed through untouched, with
            with the number of attempts made stored on the exception's ``attempts``.
    """
    rng = rng or random.Random()
    attempt = 0
    while True:
        attempt += 1
        try:
            return Attempted(await operation(), attempt)
        except (ServerUnavailable, QuotaExhausted) as error:
            # Nothing was sent; asking again within this lookup would not be sent either.
            error.attempts = attempt
            raise
        except TransientError as error:
            too_long = error.retry_after is not None and error.retry_after > policy.max_retry_after
            if attempt >= policy.attempts or too_long:
                raise RetriesExhausted(error, attempt) from error
            delay = backoff_delay(policy, attempt, rng)
            if error.retry_after is not None:
                # The server's wait is obeyed as sent, beyond the policy's own max_delay.
                delay = max(delay, error.retry_after)
            await sleep(delay)
        except SourceError as error:
            # Re-raised unchanged, only annotated so the caller can report the requests spent.
            error.attempts = attempt
            raise
