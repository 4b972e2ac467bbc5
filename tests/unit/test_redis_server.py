"""The managed Redis: owner-only folder, loopback, password, persistence, start and stop."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from attribution.redis_server import LocalRedis

pytestmark = pytest.mark.skipif(
    not any(
        os.access(os.path.join(d, "redis-server"), os.X_OK)
        for d in os.environ.get("PATH", "").split(":")
    ),
    reason="redis-server is not installed",
)


def test_data_survives_a_restart_and_the_folder_is_private(redis_server: LocalRedis) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("kept", "yes")
    assert client.config_get("appendfsync") == {"appendfsync": "always"}
    assert client.config_get("bind") == {"bind": "127.0.0.1"}
    redis_server.stop()
    redis_server.start()
    assert redis.Redis.from_url(redis_server.url).get("kept") == b"yes"
    assert stat.S_IMODE(redis_server.instance_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(redis_server.password_file.stat().st_mode) == 0o600
    unauthenticated = redis.Redis(host="127.0.0.1", port=redis_server.settings.port)
    with pytest.raises(redis.AuthenticationError):
        unauthenticated.get("kept")


def test_the_redis_command(tmp_path: Path) -> None:
    env = dict(os.environ, ATTRIBUTION_HOME=str(tmp_path), ATTRIBUTION_REDIS_PORT="6397")
    env.pop("REDIS_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "attribution.cli.main", "redis", *args],
            env=env, capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip

    try:
        started = json.loads(run("start", "--json").stdout)
        assert (started["running"], started["url"]) == (True, "redis://***@127.0.0.1:6397/0")
    finally:
        run("stop")
    assert json.loads(run("status", "--json").stdout)["running"] is False
    external = dict(env, REDIS_URL="redis://127.0.0.1:1/0")
    told = subprocess.run(
        [sys.executable, "-m", "attribution.cli.main", "redis", "start"],
        env=external, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert told.stdout.strip() == "REDIS_URL is set: that server is used; nothing to start."
