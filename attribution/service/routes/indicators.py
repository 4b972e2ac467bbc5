"""``/api/v1/indicators`` and ``/api/v1/jobs``: pipelines submit indicator files and follow
their loads.

``POST /indicators`` takes a file in any intake format, as the request body (any content
type) or as the multipart field ``file``; ``format`` forces a format as ``attribution ingest
--format`` does, ``name`` is the file name rejections will show (default: the multipart file
name, else ``upload``). The file is saved and its job recorded before the 202 answer; the
load runs in the background (:mod:`attribution.service.jobs`). ``GET /jobs/{id}`` shows a
job to the pipeline that submitted it, with, once done, the summary ``attribution ingest
--json`` prints for that file.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from attribution.audit import AuditError
from attribution.intake.detect import FORMATS
from attribution.service import jobs
from attribution.service.auth import context, require
from attribution.service.context import ServiceContext
from attribution.service.errors import ApiError
from attribution.service.principals import Principal

router = APIRouter(tags=["indicators"])

FILE_FORMATS = tuple(f for f in FORMATS if f != "misp-warninglists")
"""Formats a single file can have (a warninglists clone is a folder)."""
DEFAULT_NAME = "upload"
_CHUNK = 1024 * 1024

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The file, as the body or as the multipart field `file`.",
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


def start(ctx: ServiceContext) -> None:
    """Start the job runner; jobs a stopped service left unfinished run again."""
    jobs.start(ctx)


def stop(ctx: ServiceContext) -> None:
    """Stop the job runner once the job in progress is done."""
    jobs.stop(ctx)


def _check(fmt: str | None, name: str | None) -> None:
    if fmt is not None and fmt not in FILE_FORMATS:
        reason = f"unknown format {fmt!r}; one of: {', '.join(FILE_FORMATS)}"
        raise ApiError(422, f"format: {reason}", details=[{"field": "format", "reason": reason}])
    if name is not None and (not name.strip() or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        reason = "must be a file name without control characters"
        raise ApiError(422, f"name: {reason}", details=[{"field": "name", "reason": reason}])


async def _multipart_file(request: Request) -> UploadFile:
    form = await request.form(max_files=1, max_fields=10)
    found = form.get("file")
    if not isinstance(found, UploadFile):
        reason = "a multipart submission carries the file in the field `file`"
        raise ApiError(422, f"file: {reason}", details=[{"field": "file", "reason": reason}])
    return found


async def _chunks(request: Request, upload: UploadFile | None) -> AsyncIterator[bytes]:
    if upload is None:
        async for chunk in request.stream():
            yield chunk
        return
    while chunk := await upload.read(_CHUNK):
        yield chunk


async def _save(request: Request, job_id: str, name: str | None) -> tuple[jobs.Upload, str]:
    """The request's file, saved and fsync'd under the job's folder, and its shown name."""
    ctx = context(request)
    multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
    form_file = await _multipart_file(request) if multipart else None
    shown = name or (form_file.filename if form_file else None) or DEFAULT_NAME
    _check(None, shown)
    upload = await run_in_threadpool(jobs.Upload, ctx.config.uploads_dir, job_id, shown)
    try:
        async for chunk in _chunks(request, form_file):
            await run_in_threadpool(upload.write, chunk)
        if upload.bytes == 0:
            reason = "the request carries no file: send it as the body or as the field `file`"
            raise ApiError(422, reason, details=[{"field": "body", "reason": reason}])
        await run_in_threadpool(upload.complete)
    except BaseException:
        upload.discard()
        raise
    return upload, shown


@router.post(
    "/indicators",
    status_code=202,
    summary="Submit an indicator file in any intake format; it is loaded in the background",
    openapi_extra=_BODY_DOC,
    response_model=None,
)
async def submit_indicators(
    request: Request,
    format: str | None = Query(None, description="force a format: " + ", ".join(FILE_FORMATS)),
    name: str | None = Query(None, max_length=255, description="the file name rejections show"),
    principal: Principal = Depends(require("indicators.submit")),  # noqa: B008
) -> JSONResponse:
    _check(format, name)
    job_id = uuid.uuid4().hex
    upload, shown = await _save(request, job_id, name)
    ctx = context(request)
    try:
        job = await run_in_threadpool(jobs.submit, ctx, principal, upload, job_id, shown, format)
    except AuditError as exc:
        upload.discard()
        raise ApiError(503, f"not recorded: {exc}", code="audit-unavailable") from exc
    location = f"/api/v1/jobs/{job.id}"
    return JSONResponse(
        {"job_id": job.id, "status": job.status, "links": {"self": location}},
        status_code=202,
        headers={"Location": location},
    )


@router.get(
    "/jobs/{job_id}",
    summary="A submitted file's job: its status and, when done, the accepted and rejected lines",
)
def show_job(
    job_id: str,
    request: Request,
    principal: Principal = Depends(require("jobs.read")),  # noqa: B008
) -> dict[str, Any]:
    job = jobs.runner(context(request)).store.get(job_id)
    # Another pipeline's job is answered as if it did not exist.
    if job is None or job.principal != principal.name:
        raise ApiError(404, f"no job {job_id[:64]} submitted by {principal.name}")
    return job.as_dict()
