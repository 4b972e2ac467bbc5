"""Every failure answers with one JSON body: ``{"error": CODE, "message": TEXT}``, plus
``details`` (a list of ``{"line", "field", "reason"}`` or ``{"field", "reason"}``) where the
input had problems. No traceback ever reaches a caller: an unexpected exception is logged
and answered with a 500 that says only that."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ApiError", "install_error_handlers"]

log = logging.getLogger("attribution.service")

_CODES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid-request",
    429: "rate-limited",
    503: "unavailable",
}


class ApiError(Exception):
    """An answer other than success, with its status, a stable code and a one-line message."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.details = list(details or [])
        self.headers = dict(headers or {})


def error_body(code: str, message: str, details: Sequence[Any] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if details:
        body["details"] = list(details)
    return body


def _field(loc: Sequence[Any]) -> str:
    """``('body', 'params', 'since')`` as ``params.since``: the location's first part names
    where the field was (body, query, path, header, cookie), the rest the field itself."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": _field(err.get("loc", ())), "reason": str(err.get("msg", "invalid"))}
            for err in exc.errors()
        ]
        first = details[0] if details else {"field": "body", "reason": "invalid"}
        message = f"{first['field']}: {first['reason']}"
        return JSONResponse(error_body("invalid-request", message, details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            error_body("internal", "the service failed to answer; the error is in its log"), 500
        )
