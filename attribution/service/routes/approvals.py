"""``/api/v1/approvals``: analysts request, reviewers decide, readers list and show.

The requester and the decider are the authenticated principal; a body naming anyone is
refused (422, unknown field). Workflow refusals answer 409 with the one-line reason.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from attribution.approvals import UnknownRequest, WorkflowRefusal, get_request, list_requests
from attribution.audit import AuditError
from attribution.service.auth import context, require
from attribution.service.errors import ApiError
from attribution.service.principals import Principal
from attribution.service.reports import NotGrounded
from attribution.service.workflow import service_decide, service_request

router = APIRouter(prefix="/approvals", tags=["approvals"])

_DIGEST = Field(pattern="^[0-9a-f]{64}$", description="SHA-256 digest of a report")


class NewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: str = Field(min_length=1, max_length=300)
    report_digest: str = _DIGEST
    report: dict[str, Any] | None = Field(
        default=None, description="the report itself; it must be the one the service holds"
    )


class NewDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["approve", "deny", "return"]
    reason: str = Field(min_length=1, max_length=4000)
    report_digest: str = _DIGEST


def _refused(exc: Exception) -> ApiError:
    if isinstance(exc, UnknownRequest):
        return ApiError(404, str(exc))
    if isinstance(exc, AuditError):
        return ApiError(503, f"not recorded: {exc}", code="audit-unavailable")
    return ApiError(409, f"refused: {exc}", code="refused")


@router.post("", status_code=201, summary="Ask the reviewers to approve action on a target")
def create_request(
    body: NewRequest,
    request: Request,
    principal: Principal = Depends(require("approvals.request")),  # noqa: B008
) -> dict[str, Any]:
    try:
        return service_request(
            context(request), principal, body.target, body.report_digest, body.report
        )
    except (NotGrounded, WorkflowRefusal, AuditError) as exc:
        raise _refused(exc) from exc


@router.get("", summary="Requests, newest first (status=open for the reviewers' queue)")
def list_approvals(
    request: Request,
    status: list[Literal["open", "approved", "denied", "returned"]] = Query(default=[]),  # noqa: B008
    _: Principal = Depends(require("approvals.read")),  # noqa: B008
) -> dict[str, Any]:
    return {"requests": list_requests(context(request).graph, status)}


@router.get("/{request_id}", summary="One request with its decisions")
def show_request(
    request_id: str,
    request: Request,
    _: Principal = Depends(require("approvals.read")),  # noqa: B008
) -> dict[str, Any]:
    try:
        return get_request(context(request).graph, request_id)
    except UnknownRequest as exc:
        raise _refused(exc) from exc


@router.post("/{request_id}/decision", summary="Approve, deny or return an open request")
def decide_request(
    request_id: str,
    body: NewDecision,
    request: Request,
    principal: Principal = Depends(require("approvals.decide")),  # noqa: B008
) -> dict[str, Any]:
    try:
        return service_decide(
            context(request),
            principal,
            request_id,
            body.outcome,
            body.reason,
            body.report_digest,
        )
    except (NotGrounded, WorkflowRefusal, UnknownRequest, AuditError) as exc:
        raise _refused(exc) from exc
