"""``/api/v1/reports``: the analyst generates a report; readers fetch it by digest."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from attribution.audit import AuditError
from attribution.reports.builder import ReportError
from attribution.service.auth import context, require
from attribution.service.errors import ApiError
from attribution.service.principals import Principal
from attribution.service.reports import generate, report_store

router = APIRouter(prefix="/reports", tags=["reports"])


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: str = Field(min_length=1, max_length=300, description="a domain or an IP address")


@router.post("", status_code=201, summary="Generate, sign and record a confidence report")
def create_report(
    body: ReportRequest,
    request: Request,
    principal: Principal = Depends(require("reports.generate")),  # noqa: B008
) -> dict[str, Any]:
    ctx = context(request)
    try:
        return generate(ctx, body.target, principal)
    except ReportError as exc:
        raise ApiError(404 if "not in the graph" in str(exc) else 422, str(exc)) from exc
    except AuditError as exc:
        raise ApiError(503, f"the report was not issued: {exc}", code="audit-unavailable") from exc


@router.get(
    "/{digest}",
    summary="A report the service generated, as JSON or (format=html) as its HTML page",
    response_model=None,
)
def get_report(
    digest: str,
    request: Request,
    format: str = Query("json", pattern="^(json|html)$"),
    _: Principal = Depends(require("reports.read")),  # noqa: B008
) -> JSONResponse | HTMLResponse:
    document = report_store(context(request)).load(digest)
    if document is None:
        raise ApiError(404, f"the service holds no report {digest[:64]}")
    if format == "html":
        from attribution.reports.html import render_html

        return HTMLResponse(render_html(document))
    return JSONResponse(document)
