"""``/api/v1/audit``: the auditor verifies the chain, reads its head and its entries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from attribution import audit
from attribution.approvals import decision_anchors
from attribution.service.auth import context, require
from attribution.service.errors import ApiError
from attribution.service.principals import Principal

router = APIRouter(prefix="/audit", tags=["audit"])
_auditor = require("audit.read")


@router.get("/verify", summary="Check the chain, its anchor file and the decisions' anchors")
def verify(request: Request, _: Principal = Depends(_auditor)) -> dict[str, Any]:  # noqa: B008
    ctx = context(request)
    log = ctx.settings.audit_log
    anchors = audit.recorded_anchors(log) + decision_anchors(ctx.graph)
    return audit.verify(log, anchors=anchors).as_dict()


@router.get("/head", summary="The last entry's seq and hash")
def head(request: Request, _: Principal = Depends(_auditor)) -> dict[str, Any]:  # noqa: B008
    try:
        found = audit.head(context(request).settings.audit_log)
    except audit.AuditTampered as exc:
        raise ApiError(409, str(exc), code="audit-tampered") from exc
    if found is None:
        return {"seq": None, "hash": None, "head": None}
    return {"seq": found[0], "hash": found[1], "head": f"{found[0]}:{found[1]}"}


@router.get("/entries", summary="Entries after a seq, oldest first, a page at a time")
def entries(
    request: Request,
    after: int = Query(0, ge=0, description="only entries with a larger seq"),
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(_auditor),  # noqa: B008
) -> dict[str, Any]:
    try:
        chain = audit.read_entries(context(request).settings.audit_log)
    except audit.AuditTampered as exc:
        raise ApiError(409, str(exc), code="audit-tampered") from exc
    page = [e for e in chain if int(e.get("seq", 0)) > after][:limit]
    more = bool(page) and int(page[-1]["seq"]) < int(chain[-1]["seq"])
    return {"entries": page, "next_after": int(page[-1]["seq"]) if more else None}
