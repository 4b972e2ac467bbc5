"""``GET /health`` (no token) and ``GET /api/v1/keys``: the key reports are signed with."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from attribution.service.auth import context, require
from attribution.service.principals import Principal

health_router = APIRouter(tags=["meta"])
router = APIRouter(tags=["meta"])


@health_router.get("/health", summary="Whether the service and its graph answer")
def health(request: Request) -> JSONResponse:
    ctx = context(request)
    try:
        ctx.graph.driver.verify_connectivity()
        graph = "ok"
    except Exception:  # any failure to reach the graph is the answer, not an error
        graph = "unavailable"
    status = 200 if graph == "ok" else 503
    return JSONResponse({"status": "ok" if status == 200 else "degraded", "graph": graph}, status)


@router.get("/keys", summary="The public key the service signs reports with")
def keys(
    request: Request,
    _: Principal = Depends(require("reports.read")),  # noqa: B008
) -> dict[str, Any]:
    ctx = context(request)
    public = ctx.signing_key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return {
        "keys": [
            {
                "algorithm": "ed25519",
                "fingerprint": ctx.key_fingerprint,
                "public_key": base64.b64encode(raw).decode("ascii"),
                "pem": pem,
                "current": True,
            }
        ],
        "trusted_fingerprints": sorted(ctx.trusted_fingerprints),
    }
