"""Test session set-up: one real Neo4j server for the whole session.

The integration tests run against a dedicated local instance (``test``, on its own ports, so
the user's graph is never touched), started once when the session begins and stopped when it
ends; or against ``NEO4J_URI`` when set, whose database is wiped between tests, so point it
only at a scratch server. Each test that takes the ``graph`` fixture starts from an empty
database with the schema applied.

The session's audit log, audit anchors and model signing key live in a temporary directory
(set before anything runs, removed at the end), so no test ever appends to the user's audit
chain or signs with the user's key.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from attribution.db import Graph, open_driver
from attribution.neo4j_server import LocalNeo4j
from attribution.redis_server import LocalRedis
from attribution.settings import RedisSettings, Settings, load_settings
from attribution.writer import apply_schema

REPO = Path(__file__).resolve().parent.parent
TEST_BOLT_PORT = int(os.environ.get("ATTRIBUTION_TEST_BOLT_PORT", "7689"))
TEST_HTTP_PORT = int(os.environ.get("ATTRIBUTION_TEST_HTTP_PORT", "7476"))
# Separate instances let several test sessions run side by side on one machine.
TEST_INSTANCE = os.environ.get("ATTRIBUTION_TEST_INSTANCE", "test")

_state: dict[str, object] = {}
SHARED_WARNINGLISTS = REPO.parent / "shared" / "data" / "misp-warninglists"


_PRIVATE_STATE = {
    "ATTRIBUTION_AUDIT_LOG": "audit.jsonl",
    "ATTRIBUTION_AUDIT_ANCHOR_DIR": "audit-anchors",
    "ATTRIBUTION_MODEL_SIGNING_KEY": "keys/model-signing.pem",
}


def pytest_configure(config: pytest.Config) -> None:
    """Point the audit log, its anchors and the model signing key at a session directory."""
    state = Path(tempfile.mkdtemp(prefix="attribution-test-state-"))
    _state["private_state"] = state
    for variable, name in _PRIVATE_STATE.items():
        os.environ[variable] = str(state / name)
    os.environ.pop("ATTRIBUTION_AUDIT_ANCHOR_COMMAND", None)
    # Commands the tests run read the small fixed subset of lists, as the tests' expected
    # values assume (and in a fraction of the time the full package's lists take to load).
    os.environ.setdefault("ATTRIBUTION_WARNINGLISTS_DIR", str(SHARED_WARNINGLISTS))


def _test_settings() -> Settings:
    # The tests' expected values rest on the small fixed subset of lists in ../shared.
    settings = replace(load_settings(), warninglists_dir=SHARED_WARNINGLISTS)
    if settings.neo4j.external:
        return settings
    neo = replace(
        settings.neo4j,
        bolt_port=TEST_BOLT_PORT,
        http_port=TEST_HTTP_PORT,
        heap="1g",
        pagecache="512m",
    )
    local = LocalNeo4j(settings.home, neo, instance=TEST_INSTANCE)
    return replace(settings, neo4j=replace(neo, password=local.password()))


def _needs_server(config: pytest.Config) -> bool:
    markexpr = config.getoption("markexpr", "") or ""
    return "not integration" not in markexpr


def _claim_instance(instance_dir: Path) -> None:
    """Hold the test instance for this session alone: a second session on the same instance
    would wipe this one's database and stop its server at the end."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    handle = (instance_dir / "session.lock").open("a")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        pytest.exit(
            f"another test session is using the Neo4j test instance in {instance_dir}; set "
            "ATTRIBUTION_TEST_INSTANCE, ATTRIBUTION_TEST_BOLT_PORT and ATTRIBUTION_TEST_HTTP_PORT "
            "to run beside it",
            returncode=3,
        )
    _state["instance_lock"] = handle  # released when the session's process ends


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start (or reach) the server before anything runs, so the header can name it."""
    if not _needs_server(session.config):
        return
    settings = _test_settings()
    if not settings.neo4j.external:
        _claim_instance(settings.home / TEST_INSTANCE)
        server = LocalNeo4j(settings.home, settings.neo4j, instance=TEST_INSTANCE)
        _state["server"] = server
        server.start()
    graph = Graph(open_driver(settings), settings.neo4j.database)
    _state["settings"] = settings
    _state["graph"] = graph
    _state["header"] = (
        f"neo4j server: {graph.server_version()} at {settings.neo4j.uri or f'bolt://127.0.0.1:{settings.neo4j.bolt_port}'}"
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [str(_state.get("header", "neo4j server: not started (integration tests deselected)"))]


def pytest_unconfigure(config: pytest.Config) -> None:
    state = _state.pop("private_state", None)
    if isinstance(state, Path):
        shutil.rmtree(state, ignore_errors=True)
    graph = _state.pop("graph", None)
    if isinstance(graph, Graph):
        graph.close()
    server = _state.pop("server", None)
    if isinstance(server, LocalNeo4j):
        server.stop()


@pytest.fixture(scope="session")
def test_settings() -> Settings:
    settings = _state.get("settings")
    if not isinstance(settings, Settings):
        pytest.fail("the Neo4j test server was not started (integration tests deselected?)")
    return settings


@pytest.fixture(scope="session")
def session_graph(test_settings: Settings) -> Graph:
    graph = _state["graph"]
    assert isinstance(graph, Graph)
    apply_schema(graph)
    return graph


@pytest.fixture
def graph(session_graph: Graph) -> Iterator[Graph]:
    """An empty database with the schema applied."""
    session_graph.wipe()
    yield session_graph


TEST_REDIS_PORT = int(os.environ.get("ATTRIBUTION_TEST_REDIS_PORT", "6391"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    """A real Redis for the session (``redis-server`` from Debian), on its own port
    (``ATTRIBUTION_TEST_REDIS_PORT``, default 6391) in a temporary folder, stopped at the end."""
    home = tmp_path_factory.mktemp("redis-home")
    server = LocalRedis(home, RedisSettings(port=TEST_REDIS_PORT), instance="redis-test")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: LocalRedis) -> str:
    """The session's Redis, emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def neo4j_env(test_settings: Settings) -> dict[str, str]:
    """Environment for running the CLI as a subprocess against the test server."""
    env = dict(os.environ)
    neo = test_settings.neo4j
    env["NEO4J_URI"] = neo.uri or f"bolt://127.0.0.1:{neo.bolt_port}"
    env["NEO4J_USERNAME"] = neo.username
    env["NEO4J_PASSWORD"] = neo.password or ""
    env["NEO4J_DATABASE"] = neo.database
    return env


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    server_fixtures = {"graph", "neo4j_env", "session_graph", "test_settings"}
    for item in items:
        if server_fixtures & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
