"""Who is asking: the bearer token proves the principal, the principal's role grants rights.

Handlers declare the right they need with ``Depends(require("approvals.decide"))`` and get
the :class:`~attribution.service.principals.Principal` back; the answer is 401 (JSON) with no
token or a bad one, 403 when the role lacks the right, and 429 with ``Retry-After`` when the
token has spent its rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from attribution.service.context import ServiceContext
from attribution.service.errors import ApiError
from attribution.service.principals import RIGHTS, Principal, hash_token

__all__ = ["authenticate_token", "bearer", "check_right", "context", "require"]

bearer = HTTPBearer(
    auto_error=False,
    description="A token made by `attribution principals add` (or POST /api/v1/principals).",
)


def context(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def authenticate_token(ctx: ServiceContext, token: str | None) -> Principal:
    """The principal the token proves, after the rate limit; ApiError 401 or 429 otherwise."""
    if not token:
        raise ApiError(
            401,
            "this endpoint needs a token: send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = ctx.principals.authenticate(token, ctx.clock())
    if principal is None:
        raise ApiError(
            401,
            "the token is unknown, revoked or expired",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    wait = ctx.limiter.take(hash_token(token))
    if wait > 0:
        raise ApiError(
            429,
            f"{principal.name} has made too many requests; try again in {math.ceil(wait)} s",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    return principal


def check_right(principal: Principal, right: str, doing: str = "do this") -> None:
    """ApiError 403 unless the principal's role holds ``right``."""
    if not principal.can(right):
        roles = ", ".join(sorted(RIGHTS[right]))
        raise ApiError(
            403, f"{principal.name} ({principal.role}) may not {doing}; it needs: {roles}"
        )


def require(right: str) -> Callable[..., Principal]:
    """A dependency that yields the authenticated principal holding ``right``."""
    if right not in RIGHTS:
        raise ValueError(f"unknown right {right}")

    def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> Principal:
        ctx = context(request)
        principal = authenticate_token(ctx, credentials.credentials if credentials else None)
        check_right(principal, right)
        request.state.principal = principal
        return principal

    return dependency
