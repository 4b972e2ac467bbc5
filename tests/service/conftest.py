"""A live service for the tests: uvicorn on a free loopback port, in a thread of the test
process, over the session's Neo4j test server and a fresh state folder per test.

The service's clock is fixed two hours after the fixture world's reports are dated, so the
world of ``tests/integration/test_reports.py`` grounds reports that are fresh for it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from test_reports import GENERATED, make_world

from attribution.db import Graph
from attribution.service.app import build_context
from attribution.service.config import load_service_config
from attribution.service.context import ServiceContext
from attribution.service.embedded import EmbeddedService
from attribution.settings import Settings

SERVICE_NOW = GENERATED + timedelta(hours=2)


@dataclass
class LiveService:
    """A running service and the principals made for a test."""

    url: str
    ctx: ServiceContext
    tokens: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, role: str, expires: timedelta = timedelta(days=90)) -> str:
        """Make a principal (as the operator's command does) and return its token."""
        _, token = self.ctx.principals.add(name, role, expires, self.ctx.clock())
        self.tokens[name] = token
        return token

    def client(self, name: str | None = None) -> requests.Session:
        """A session that sends ``name``'s token (none when ``name`` is None)."""
        session = requests.Session()
        if name is not None:
            session.headers["Authorization"] = f"Bearer {self.tokens[name]}"
        return session

    def api(self, path: str) -> str:
        return f"{self.url}/api/v1{path}"


def start_service(ctx: ServiceContext) -> tuple[str, EmbeddedService]:
    """Serve ``ctx`` on a free port; the URL and what :func:`stop_service` needs."""
    running = EmbeddedService(ctx)
    return running.start(), running


def stop_service(running: EmbeddedService) -> None:
    assert running.stop(), "the service did not stop"


@pytest.fixture
def service_settings(graph: Graph, test_settings: Settings, tmp_path: Path) -> Settings:
    """The fixture world of the report tests in the graph, with a per-test audit log."""
    _, settings, _ = make_world(graph, test_settings, tmp_path)
    return replace(settings, audit_log=tmp_path / "audit.jsonl")


@pytest.fixture
def make_service(
    graph: Graph, service_settings: Settings, tmp_path: Path
) -> Iterator[Callable[..., LiveService]]:
    """Start a service (once per call, with ``service.toml`` text and a clock if given)."""
    running: list[EmbeddedService] = []

    def start(
        toml: str | None = None,
        clock: Callable[[], datetime] = lambda: SERVICE_NOW,
        **overrides: Any,
    ) -> LiveService:
        state = tmp_path / f"service-{len(running)}"
        state.mkdir()
        if toml is not None:
            (state / "service.toml").write_text(toml, encoding="utf-8")
        config = load_service_config(state, **overrides)
        ctx = build_context(service_settings, config, graph=graph, clock=clock)
        url, handle = start_service(ctx)
        running.append(handle)
        return LiveService(url, ctx)

    yield start
    for handle in running:
        stop_service(handle)


TEAM = (
    ("ana", "analyst"),
    ("pia", "pipeline"),
    ("rita", "reviewer"),
    ("ravi", "reviewer"),
    ("aud", "auditor"),
    ("adam", "admin"),
)


def add_team(service: LiveService) -> LiveService:
    """One principal of each role: ana (analyst), pia (pipeline), rita and ravi (reviewers),
    aud (auditor), adam (admin)."""
    for name, role in TEAM:
        service.add(name, role)
    return service


@pytest.fixture
def live_service(make_service: Callable[..., LiveService]) -> LiveService:
    """A service with the :data:`TEAM` of principals."""
    return add_team(make_service())
