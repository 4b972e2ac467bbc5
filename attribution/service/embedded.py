"""The service in a thread of the calling process, on a free loopback port: for the tests
and benchmarks that need a real HTTP server over a context they built themselves.

``attribution serve`` is the way to run the service; this runs the same application with
uvicorn on a socket it binds itself, and stops it on request.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from attribution.service.app import create_app
from attribution.service.context import ServiceContext

__all__ = ["EmbeddedService"]

START_TIMEOUT_S = 30.0


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn sets TCP_NODELAY only on the sockets it opens itself; accepted connections inherit
    # it from this one. Without it each keep-alive answer waits ~40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class EmbeddedService:
    """The application over ``ctx``, served by uvicorn in a daemon thread."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._sock = _loopback_socket()
        config = uvicorn.Config(create_app(ctx), log_config=None, access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        host, port = self._sock.getsockname()
        self.url = f"http://{host}:{port}"

    def start(self) -> str:
        """Start serving and wait until the server accepts; returns the base URL."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.02)
        return self.url

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop gracefully; True when the server's thread has ended."""
        self._server.should_exit = True
        self._thread.join(timeout=timeout)
        self._sock.close()
        return not self._thread.is_alive()

    def __enter__(self) -> EmbeddedService:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
