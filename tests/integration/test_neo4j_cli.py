"""`attribution neo4j`: status tells the truth, NEO4J_URI is respected, missing tools are named."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from clirun import run_attribution

from attribution.neo4j_server import LocalNeo4j
from attribution.settings import Settings


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
    env.update(
        {
            "ATTRIBUTION_HOME": str(tmp_path / "home"),
            "ATTRIBUTION_BOLT_PORT": "7999",
            "ATTRIBUTION_HTTP_PORT": "7998",
            **extra,
        }
    )
    return env


def test_status_of_a_server_that_never_started_is_down_and_downloads_nothing(
    tmp_path: Path,
) -> None:
    result = run_attribution(clean_env(tmp_path), "neo4j", "status", "--json")
    assert result.returncode == 3
    status = json.loads(result.stdout)
    assert (status["running"], status["pid"], status["external"]) == (False, None, False)
    assert status["bolt_uri"] == "neo4j://127.0.0.1:7999"
    assert not (tmp_path / "home" / "dist").exists()


def test_stop_when_nothing_runs_says_so(tmp_path: Path) -> None:
    result = run_attribution(clean_env(tmp_path), "neo4j", "stop")
    assert (result.returncode, result.stdout.strip()) == (0, "not running")


def test_an_external_server_is_used_and_nothing_is_started(tmp_path: Path) -> None:
    env = clean_env(tmp_path, NEO4J_URI="bolt://127.0.0.1:7999")
    start = run_attribution(env, "neo4j", "start")
    assert start.returncode == 0
    assert (
        "NEO4J_URI is set (bolt://127.0.0.1:7999): that server is used; nothing to start."
        in start.stdout
    )
    status = json.loads(run_attribution(env, "neo4j", "status", "--json").stdout)
    assert (status["external"], status["bolt_uri"]) == (True, "bolt://127.0.0.1:7999")
    assert not (tmp_path / "home").exists()


def test_missing_java_is_one_line_naming_the_package(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = clean_env(tmp_path, PATH=str(bin_dir))
    result = run_attribution(env, "neo4j", "start")
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        "attribution neo4j: java not found on PATH: install openjdk-17-jre-headless "
        "(e.g. apt-get install openjdk-17-jre-headless)"
    ]


def test_start_is_idempotent_and_status_matches_the_process(test_settings: Settings) -> None:
    if test_settings.neo4j.external:
        return  # nothing is managed when NEO4J_URI points elsewhere
    instance = os.environ.get("ATTRIBUTION_TEST_INSTANCE", "test")
    server = LocalNeo4j(test_settings.home, replace(test_settings.neo4j), instance=instance)
    before = server.status()
    again = server.start()
    assert before.running and again.running
    assert again.pid == before.pid
    assert Path(f"/proc/{before.pid}/cmdline").read_bytes().count(b"CommunityEntryPoint") == 1
