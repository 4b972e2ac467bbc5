"""The RDAP HTTP client keeps as many requests in flight as the request gate allows."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from enrichment.config import EnrichmentConfig, RateLimit
from enrichment.http import HttpClient
from enrichment.ratelimit import RequestGate

CONCURRENCY = 16


@dataclass
class _Counter:
    changed: threading.Condition = field(default_factory=threading.Condition)
    current: int = 0
    peak: int = 0
    released: bool = False


@pytest.fixture
def slow_server() -> Iterator[tuple[str, _Counter]]:
    """Holds every GET until CONCURRENCY requests are in flight together (or 5 s pass), then
    answers; counts the requests it holds at once. Waiting for the others, rather than for a
    fixed time, keeps the count independent of how fast a loaded machine starts threads."""
    counter = _Counter()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with counter.changed:
                counter.current += 1
                counter.peak = max(counter.peak, counter.current)
                counter.changed.notify_all()
                counter.changed.wait_for(
                    lambda: counter.released or counter.current >= CONCURRENCY, timeout=5.0
                )
                counter.released = True
            time.sleep(0.05)
            with counter.changed:
                counter.current -= 1
            body = json.dumps({"objectClassName": "ip network"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rdap+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", counter
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_requests_in_flight_reach_the_configured_concurrency(
    slow_server: tuple[str, _Counter],
) -> None:
    base, counter = slow_server
    config = EnrichmentConfig(
        max_concurrency=CONCURRENCY,
        default_rate_limit=RateLimit(1000.0, 100),
        allow_insecure_rdap=True,
    )
    client = HttpClient(config, RequestGate(config))

    async def fetch_all() -> list[str]:
        answers = await asyncio.gather(*(client.get_json(f"{base}/ip/{i}") for i in range(32)))
        return [a.url for a in answers]

    try:
        urls = asyncio.run(fetch_all())
    finally:
        client.close()
    assert urls == [f"{base}/ip/{i}" for i in range(32)]
    # 16 at once, as the gate allows, not the event loop's few default threads.
    assert counter.peak == CONCURRENCY
