"""ASGI middleware: the request size limit, and one structured log line per request.

The size limit refuses a declared ``Content-Length`` above the limit before reading anything,
and reads a body sent without one (chunked) up to the limit before the application sees it,
stopping as soon as it passes the limit: 413 in both cases. The log line is one JSON object on the ``attribution.service.access`` logger:
time, method, path, status, duration, bytes received, and the authenticated principal.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from attribution.service.errors import error_body

__all__ = ["AccessLog", "BodyLimit"]

access_log = logging.getLogger("attribution.service.access")


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"the request body is larger than the limit of {self.max_bytes} bytes"
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_json(send, 413, error_body("too-large", message))
            return
        if declared is not None and declared.isdigit():
            await self.app(scope, receive, send)  # the server stops at the declared length
            return
        # No declared length (chunked): read the body up to the limit first, then replay it.
        chunks: list[bytes] = []
        size = 0
        while True:
            incoming = await receive()
            if incoming["type"] != "http.request":
                return  # the client went away
            chunks.append(incoming.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await _send_json(send, 413, error_body("too-large", message))
                return
            if not incoming.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            incoming = await receive()
            received += len(incoming.get("body", b""))
            return incoming

        async def watching_send(outgoing: Message) -> None:
            nonlocal status
            if outgoing["type"] == "http.response.start":
                status = outgoing["status"]
            await send(outgoing)

        try:
            await self.app(scope, counting_receive, watching_send)
        finally:
            principal = (scope.get("state") or {}).get("principal")
            client = scope.get("client") or ("", 0)
            line = {
                "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status,
                "ms": round((time.perf_counter() - began) * 1000, 1),
                "bytes_in": received,
                "principal": getattr(principal, "name", None),
                "role": getattr(principal, "role", None),
                "client": client[0],
            }
            access_log.info(json.dumps(line, sort_keys=True))
