"""Failure taxonomy shared by every enrichment source.

Each lookup ends in exactly one of three outcomes, and the distinction matters downstream:
an analyst or the classifier may treat *no data* as evidence (a domain with no registration,
an address nobody announces), but must never do so for a lookup that simply failed.

- :class:`NoDataError` -- the server answered authoritatively that it holds nothing
  (NXDOMAIN, NoAnswer, RDAP 404, an empty Team Cymru answer, a WHOIS "no match").
  Not retried; recorded as ``no_data``.
- :class:`TransientError` -- the answer may well succeed later (timeouts, SERVFAIL, HTTP 429
  and 5xx, refused or reset connections, a truncated WHOIS answer). Retried with bounded
  exponential backoff and jitter, then recorded as ``failed`` with kind ``transient``.
- :class:`PermanentError` -- the server answered with something we cannot use (malformed
  JSON, an unexpected HTTP status, an RDAP object of the wrong class, a TLD with neither RDAP
  nor WHOIS service). Not retried; recorded as ``failed`` with kind ``error``.

Malformed JSON is deliberately a :class:`PermanentError`: a server that returns a body we cannot
parse has told us nothing, so recording it as "no data" would manufacture negative evidence,
and retrying the same request immediately rarely helps. It stays visible as a failure with the
parser's message as reason.

Exceptions that are none of these (programming errors) are not caught by the sources at all.
"""

from __future__ import annotations

import datetime as dt
import enum


class Outcome(enum.StrEnum):
    """How one source's lookup for one subject ended."""

    OK = "ok"
    NO_DATA = "no_data"
    FAILED = "failed"


class FailureKind(enum.StrEnum):
    """Why a failed lookup failed: worth retrying later, or a server answer we cannot use."""

    TRANSIENT = "transient"
    ERROR = "error"
    DEFERRED = "deferred"


class SourceError(Exception):
    """Base of the classified failures; carries the server that was asked and a short reason."""

    def __init__(self, reason: str, server: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.server = server
        self.attempts = 1
        # The server said we asked too much (HTTP 429/403, a WHOIS "rate limit exceeded").
        self.over_limit = False


class NoDataError(SourceError):
    """The server holds no data for the subject: a normal, empty result."""


class TransientError(SourceError):
    """A failure that may succeed on a later attempt.

    ``retry_after`` is the delay in seconds the server asked for (HTTP ``Retry-After``), if any.
    """

    def __init__(self, reason: str, server: str = "", retry_after: float | None = None) -> None:
        super().__init__(reason, server)
        self.retry_after = retry_after


class ServerUnavailable(TransientError):
    """The request was not sent: the server's circuit breaker is open, or it asked us to wait
    longer than the configured ceiling. Transient, but not retried within the same lookup."""


class QuotaExhausted(TransientError):
    """A registry's daily quota is spent; nothing was sent.

    ``registry`` names it, ``resume_at`` is the UNIX time the quota resets (the next UTC
    midnight). Not retried within a run: the node is deferred until ``resume_at``.
    """

    def __init__(self, registry: str, resume_at: float) -> None:
        when = dt.datetime.fromtimestamp(resume_at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        super().__init__(f"quota of {registry} spent until {when}", registry)
        self.registry = registry
        self.resume_at = resume_at


class LimitStoreUnavailable(Exception):
    """The shared store of registry limits (Redis) cannot be reached.

    Not a :class:`SourceError`: no source can send anything without it, so it stops the run
    instead of being recorded against one subject. The message names the store without its
    password.
    """


class PermanentError(SourceError):
    """The server answered with something unusable; retrying the same request will not help."""


def failure_kind(error: SourceError) -> FailureKind:
    """Map a classified failure that is not *no data* to the kind recorded with it."""
    if isinstance(error, QuotaExhausted):
        return FailureKind.DEFERRED
    if isinstance(error, TransientError):
        return FailureKind.TRANSIENT
    return FailureKind.ERROR
