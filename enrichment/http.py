"""JSON over HTTP for RDAP, with the failure taxonomy applied to every answer.

requests is blocking, so each request runs in a thread of the client's own pool, with its own
``requests.Session`` per thread, for connection reuse without sharing a session between
threads. The pool has one thread per request the configuration lets be in flight
(``max_concurrency``): the event loop's default executor has only a handful (``cpu + 4``) and
is shared with the worker's graph writes, which would hold HTTP to far fewer requests than the
request gate allows.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import email.utils
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from enrichment.config import EnrichmentConfig
from enrichment.failures import NoDataError, PermanentError, TransientError
from enrichment.ratelimit import RequestGate

RDAP_ACCEPT = "application/rdap+json, application/json;q=0.9"


@dataclass(frozen=True)
class HttpAnswer:
    """A decoded JSON object, the URL that produced it and when it arrived (UTC)."""

    url: str
    payload: dict[str, Any]
    retrieved_at: dt.datetime


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), if valid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def decode_json_answer(
    url: str, status: int, headers: Mapping[str, str], body: bytes
) -> dict[str, Any]:
    """Classify an HTTP answer and decode its JSON object.

    Raises:
        NoDataError: 404 (RDAP's "object not found").
        TransientError: 429, 5xx, or 403 with a Retry-After (registries answer a client over
            its limit so), with the server's Retry-After if any.
        PermanentError: any other non-200 status, a body that is not JSON, or JSON that is not
            an object.

    429 and 403 are marked ``over_limit``, with or without Retry-After.
    """
    if status == 404:
        raise NoDataError(f"HTTP 404 from {url}", url)
    retry_after = parse_retry_after(headers.get("Retry-After"))
    error: TransientError | PermanentError
    if status == 429 or 500 <= status <= 599 or (status == 403 and retry_after is not None):
        error = TransientError(f"HTTP {status} from {url}", url, retry_after)
    elif status != 200:
        error = PermanentError(f"HTTP {status} from {url}", url)
    if status != 200:
        error.over_limit = status in (403, 429)
        raise error
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PermanentError(f"malformed JSON from {url}: {error}", url) from error
    if not isinstance(payload, dict):
        raise PermanentError(f"JSON from {url} is a {type(payload).__name__}, not an object", url)
    return payload


class HttpClient:
    """Rate-limited, time-limited JSON GETs, classified into the failure taxonomy."""

    def __init__(self, config: EnrichmentConfig, gate: RequestGate) -> None:
        self._config = config
        self._gate = gate
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.max_concurrency, thread_name_prefix="http"
        )

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Accept"] = RDAP_ACCEPT
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _get(self, url: str) -> tuple[int, dict[str, str], bytes]:
        try:
            response = self._session().get(url, timeout=self._config.http_timeout)
            return response.status_code, dict(response.headers), response.content
        except requests.Timeout as error:
            raise TransientError(f"timeout fetching {url}", url) from error
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            raise TransientError(f"connection failed for {url}: {error}", url) from error
        except (requests.TooManyRedirects, requests.exceptions.InvalidURL) as error:
            raise PermanentError(f"cannot fetch {url}: {error}", url) from error

    async def get_json(self, url: str) -> HttpAnswer:
        """One GET (no retries: see :mod:`enrichment.retry`), decoded and classified.

        It waits while the server is paused by a ``Retry-After`` and fails at once with
        :class:`ServerUnavailable` while its circuit breaker is open.
        """
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        # Decoded inside the slot, so that the gate sees a 429/5xx (pause, breaker) as such.
        async with self._gate.slot(parts.hostname or "", port, guarded=True):
            loop = asyncio.get_running_loop()
            status, headers, body = await loop.run_in_executor(self._pool, self._get, url)
            retrieved_at = dt.datetime.now(dt.UTC)
            return HttpAnswer(url, decode_json_answer(url, status, headers, body), retrieved_at)

    def close(self) -> None:
        """Stop the request threads and close every pooled connection."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
