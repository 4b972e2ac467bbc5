"""``/api/v1/principals``: the administrator makes, lists and revokes principals."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from attribution import audit
from attribution.service.auth import context, require
from attribution.service.errors import ApiError
from attribution.service.principals import Principal, PrincipalError, parse_duration

router = APIRouter(prefix="/principals", tags=["principals"])
_admin = require("principals.manage")


class NewPrincipal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    role: Literal["analyst", "pipeline", "reviewer", "auditor", "admin"]
    expires: str | None = Field(default=None, max_length=8, description="e.g. 90d, 12h, 30m")


@router.get("", summary="Every principal (never their tokens)")
def list_principals(
    request: Request,
    _: Principal = Depends(_admin),  # noqa: B008
) -> dict[str, Any]:
    return {"principals": [p.as_dict() for p in context(request).principals.list()]}


@router.post("", status_code=201, summary="Make a principal; the token is shown only here")
def add_principal(
    body: NewPrincipal,
    request: Request,
    admin: Principal = Depends(_admin),  # noqa: B008
) -> dict[str, Any]:
    ctx = context(request)
    try:
        expires = parse_duration(body.expires or f"{int(ctx.config.token_days)}d")
        ctx.principals.check_new(body.name, body.role)
        details = {"role": body.role, "by_role": admin.role}
        audit.append(admin.name, "principal.add", body.name, details, path=ctx.settings.audit_log)
        principal, token = ctx.principals.add(body.name, body.role, expires, ctx.clock())
    except PrincipalError as exc:
        raise ApiError(409 if "exists" in str(exc) else 422, str(exc)) from exc
    return {
        "name": principal.name,
        "role": principal.role,
        "token": token,
        "expires": principal.expires_at,
    }


@router.delete("/{name}", summary="Revoke a principal's token for good")
def revoke_principal(
    name: str,
    request: Request,
    admin: Principal = Depends(_admin),  # noqa: B008
) -> dict[str, Any]:
    ctx = context(request)
    try:
        ctx.principals.get(name)
        audit.append(
            admin.name,
            "principal.revoke",
            name,
            {"by_role": admin.role},
            path=ctx.settings.audit_log,
        )
        return ctx.principals.revoke(name, ctx.clock()).as_dict()
    except PrincipalError as exc:
        raise ApiError(404, str(exc)) from exc
