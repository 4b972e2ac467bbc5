"""The FastAPI application: areas, middleware, error handlers, start and stop.

Each area is a module with a ``router`` and, when it runs something in the background, a
``start(ctx)`` and a ``stop(ctx)`` (the indicator job runner). :func:`create_app` mounts them
under their prefixes; :func:`build_context` makes the one
:class:`~attribution.service.context.ServiceContext` they share.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from types import ModuleType

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from attribution.db import Graph
from attribution.service.config import ServiceConfig, service_signing_key
from attribution.service.context import ServiceContext, utc_now
from attribution.service.errors import install_error_handlers
from attribution.service.middleware import AccessLog, BodyLimit
from attribution.service.principals import PrincipalStore
from attribution.service.ratelimit import TokenBuckets
from attribution.settings import Settings

__all__ = ["AREAS", "build_context", "create_app"]

API = "/api/v1"
AREAS: tuple[tuple[str, str], ...] = (
    ("attribution.service.routes.meta", API),
    ("attribution.service.routes.principals", API),
    ("attribution.service.routes.indicators", API),
    ("attribution.service.routes.queries", API),
    ("attribution.service.routes.targets", API),
    ("attribution.service.routes.reports", API),
    ("attribution.service.routes.approvals", API),
    ("attribution.service.routes.audit", API),
    ("attribution.service.console", ""),
    ("attribution.service.taxii", ""),
)
"""(module, prefix) of every area, in the order of the OpenAPI document."""


def build_context(
    settings: Settings,
    config: ServiceConfig,
    *,
    graph: Graph | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> ServiceContext:
    """The shared context; the signing key is made on first start."""
    return ServiceContext(
        settings=settings,
        config=config,
        graph=graph or Graph.connect(settings),
        principals=PrincipalStore(config.principals_db),
        signing_key=service_signing_key(config),
        limiter=TokenBuckets(config.rate_per_minute, config.rate_burst),
        clock=clock,
    )


def _areas() -> list[tuple[ModuleType, str]]:
    return [(importlib.import_module(name), prefix) for name, prefix in AREAS]


def create_app(ctx: ServiceContext, *, close_graph: bool = False) -> FastAPI:
    """The application over ``ctx``; ``close_graph`` closes the driver at shutdown."""
    areas = _areas()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = []
        try:
            for module, _ in areas:
                if hasattr(module, "start"):
                    module.start(ctx)
                    started.append(module)
            yield
        finally:
            for module in reversed(started):
                module.stop(ctx)
            if close_graph:
                ctx.graph.close()

    # FastAPIOffline: the docs page's Swagger UI files come from the wheel, not from a CDN.
    app = FastAPIOffline(
        title="attribution service",
        summary="Evidence behind actions against malicious servers: reports, approvals, "
        "audit, and indicator intake, with authenticated roles.",
        version="1",
        docs_url="/docs",
        redoc_url=None,
        static_url="/docs-assets",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    # health is mounted first and at the root: it needs no token.
    from attribution.service.routes.meta import health_router

    app.include_router(health_router)
    for module, prefix in areas:
        app.include_router(module.router, prefix=prefix)
    app.add_middleware(BodyLimit, max_bytes=ctx.config.max_body_bytes)
    app.add_middleware(AccessLog)
    return app
