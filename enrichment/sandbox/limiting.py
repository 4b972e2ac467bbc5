"""Rate limits the sandbox servers enforce, and the counts they keep, like a real registry.

A limit is ``RATE/SECONDS`` (``10/1``: ten requests a second), optionally ``:BURST``. The
server checks every request against one token bucket per server process, whatever connection
it arrives on, so several clients together are held to the limit as a registry holds one
address. The bucket allows a burst of :data:`DEFAULT_BURST` unless told otherwise: a client
that keeps to the rate one request at a time then never meets a refusal because the network
delivered two of its requests closer together than it sent them.

A request over the limit is refused (RDAP: 429 with ``Retry-After``; WHOIS: a "rate limit
exceeded" line) and counted as ``over_limit``; every request but the manager's readiness
probes counts in ``requests``. ``GET <rdap base>/_sandbox/stats`` reads the counts.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_BURST = 2
SERVICES = ("rdap", "whois")


@dataclass(frozen=True)
class LimitSpec:
    """A published limit: ``requests`` per ``seconds``, bursts of ``burst``."""

    requests: int
    seconds: float
    burst: int = DEFAULT_BURST

    def __post_init__(self) -> None:
        if self.requests < 1 or self.seconds <= 0 or self.burst < 1:
            raise ValueError("a limit needs RATE >= 1, SECONDS > 0 and BURST >= 1")

    def to_dict(self) -> dict[str, Any]:
        """The form the endpoints file records."""
        return {"requests": self.requests, "seconds": self.seconds, "burst": self.burst}

    def text(self) -> str:
        """The command-line form, ``RATE/SECONDS:BURST``."""
        return f"{self.requests}/{self.seconds:g}:{self.burst}"


def parse_limit(text: str) -> LimitSpec:
    """``RATE/SECONDS`` or ``RATE/SECONDS:BURST`` as a :class:`LimitSpec`."""
    rate_part, _, burst_part = text.strip().partition(":")
    rate, slash, seconds = rate_part.partition("/")
    try:
        return LimitSpec(
            int(rate),
            float(seconds) if slash else 1.0,
            int(burst_part) if burst_part else DEFAULT_BURST,
        )
    except ValueError as error:
        raise ValueError(f"bad limit {text!r}: expected RATE/SECONDS[:BURST] ({error})") from None


def parse_service_limit(text: str) -> tuple[str, LimitSpec]:
    """``rdap=10/1`` or ``whois=2/1:1`` as ``(service, limit)``."""
    service, equals, spec = text.partition("=")
    service = service.strip().lower()
    if not equals or service not in SERVICES:
        raise ValueError(f"bad limit {text!r}: expected rdap=RATE/SECONDS or whois=RATE/SECONDS")
    return service, parse_limit(spec)


class ServerLimiter:
    """One server's token bucket and counters, shared by all its connection threads."""

    def __init__(
        self, limit: LimitSpec | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(limit.burst) if limit else 0.0
        self._updated = clock()
        self.requests = 0
        self.over_limit = 0

    def admit(self) -> int | None:
        """Count a request; None when it may be answered, else the whole seconds to wait."""
        with self._lock:
            self.requests += 1
            if self.limit is None:
                return None
            rate = self.limit.requests / self.limit.seconds
            now = self._clock()
            self._tokens = min(float(self.limit.burst), self._tokens + (now - self._updated) * rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
            self.over_limit += 1
            return max(1, math.ceil((1 - self._tokens) / rate))

    def counts(self) -> dict[str, int]:
        """``{"requests": n, "over_limit": n}``."""
        with self._lock:
            return {"requests": self.requests, "over_limit": self.over_limit}


class SandboxStats:
    """The limiters of the sandbox's RDAP and WHOIS servers, read together."""

    def __init__(self, rdap: LimitSpec | None = None, whois: LimitSpec | None = None) -> None:
        self.rdap = ServerLimiter(rdap)
        self.whois = ServerLimiter(whois)

    def to_dict(self) -> dict[str, dict[str, int]]:
        """``{"rdap": {"requests", "over_limit"}, "whois": {...}}``."""
        return {"rdap": self.rdap.counts(), "whois": self.whois.counts()}
