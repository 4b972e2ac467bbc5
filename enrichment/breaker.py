"""The circuit breaker per server: stop asking a server that answers only with failures.

A server that times out, refuses connections or answers 429/5xx to ``failures`` requests in a
row is *open* for ``cooldown`` seconds: requests to it fail at once as transient (the node is
retried later, see the worker's ``enrich_retry_at``) instead of hammering a server that is
down or throttling us. When the cool-down has passed, one request is let through as a probe
(*half-open*); its answer closes the breaker, its failure opens it again for another cool-down.
Any answer the server gave, "no data" or a body we cannot use included, counts as the server
being up.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from enrichment.config import Breaker
from enrichment.failures import ServerUnavailable


class BreakerState(enum.StrEnum):
    """Where one server's breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """One server's breaker. ``clock`` is injectable so tests need not sleep."""

    def __init__(
        self, server: str, policy: Breaker, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.server = server
        self._policy = policy
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.openings = 0
        self._opened_at = 0.0
        self._last_reason = ""

    def admit(self) -> None:
        """Let a request through, or raise :class:`ServerUnavailable` while the breaker is open
        (or half-open with its probe still out). After the cool-down the caller is the probe."""
        if self.state is BreakerState.CLOSED:
            return
        waited = self._clock() - self._opened_at
        if self.state is BreakerState.OPEN and waited >= self._policy.cooldown:
            self.state = BreakerState.HALF_OPEN
            return
        raise ServerUnavailable(
            f"{self.server} not asked: {self.failures} failures in a row "
            f"(last: {self._last_reason})",
            self.server,
        )

    def succeeded(self) -> None:
        """The server answered: close the breaker."""
        self.state = BreakerState.CLOSED
        self.failures = 0

    def failed(self, reason: str) -> None:
        """A request failed transiently; open the breaker at the threshold or a failed probe."""
        self.failures += 1
        self._last_reason = reason
        probe_failed = self.state is BreakerState.HALF_OPEN
        threshold = self.state is BreakerState.CLOSED and self.failures >= self._policy.failures
        if probe_failed or threshold:
            self.state = BreakerState.OPEN
            self._opened_at = self._clock()
            self.openings += 1

    def abandoned(self) -> None:
        """A probe ended without an answer (cancelled): the next request may probe again."""
        if self.state is BreakerState.HALF_OPEN:
            self.state = BreakerState.OPEN
