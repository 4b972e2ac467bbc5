"""A local Redis (Debian's ``redis-server``) that the project configures, starts and stops,
as it does Neo4j: the broker of the Dramatiq enrichment engine and the store of the registry
limits every worker shares.

Layout under ``ATTRIBUTION_HOME`` (default ``~/.cache/attribution``)::

    <instance>/redis.conf    written by us on every start
    <instance>/data/         the append-only file and snapshots (persistence on)
    <instance>/password      generated on first start, owner-only
    <instance>/redis.pid, redis.log

The instance folder is owner-only (0700). The server listens on 127.0.0.1 only, requires the
password, and writes every change to its append-only file before answering
(``appendfsync always``): a queued message or a spent quota survives a restart or a crash.

When ``REDIS_URL`` is set none of this is used: that server is the broker, and nothing is
started.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from attribution.neo4j_server import generated_secret, private_dir
from attribution.processes import alive
from attribution.settings import RedisSettings

__all__ = ["LocalRedis", "RedisServerError", "RedisStatus", "redis_url"]

START_TIMEOUT_S = 30.0


class RedisServerError(RuntimeError):
    """The local Redis could not be started or reached; the message says why."""


@dataclass(frozen=True)
class RedisStatus:
    running: bool
    pid: int | None
    url: str
    home: str
    external: bool = False

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["url"] = _without_password(self.url)
        return out


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    return f"{scheme}{sep}***@{rest.split('@', 1)[1]}"


def _config_text(instance: Path, port: int, password: str) -> str:
    return "\n".join(
        [
            "bind 127.0.0.1",
            "protected-mode yes",
            f"port {port}",
            f"requirepass {password}",
            "daemonize no",
            f"pidfile {instance / 'redis.pid'}",
            f"logfile {instance / 'redis.log'}",
            f"dir {instance / 'data'}",
            "appendonly yes",
            "appendfsync always",
            "save 60 1000",
            "",
        ]
    )


class LocalRedis:
    """One managed Redis instance (``<home>/<instance>``) on ``settings.port``."""

    def __init__(self, home: Path, settings: RedisSettings, instance: str = "redis") -> None:
        self.home = home
        self.settings = settings
        self.instance_dir = home / instance

    @property
    def password_file(self) -> Path:
        return self.instance_dir / "password"

    def password(self) -> str:
        return generated_secret(self.password_file, 24)

    @property
    def url(self) -> str:
        return f"redis://:{self.password()}@127.0.0.1:{self.settings.port}/0"

    def _pid(self) -> int | None:
        try:
            pid = int((self.instance_dir / "redis.pid").read_text(encoding="utf-8").strip())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and b"redis-server" not in cmdline.read_bytes():
            return None
        return pid

    def _ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def status(self) -> RedisStatus:
        pid = self._pid()
        running = pid is not None and self._ping()
        return RedisStatus(running, pid, self.url, str(self.instance_dir))

    def start(self) -> RedisStatus:
        """Start the server if it is not running and wait until it answers. Idempotent."""
        if self.status().running:
            return self.status()
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerError(
                "redis-server is not installed: run `bash scripts/setup.sh` "
                "(apt-get install redis-server), or set REDIS_URL"
            )
        private_dir(self.instance_dir)
        private_dir(self.instance_dir / "data")
        conf = self.instance_dir / "redis.conf"
        conf.write_text(_config_text(self.instance_dir, self.settings.port, self.password()))
        os.chmod(conf, 0o600)
        process = subprocess.Popen(
            [binary, str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._ping():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RedisServerError(
                    f"redis-server did not start on 127.0.0.1:{self.settings.port}; see "
                    f"{self.instance_dir / 'redis.log'}"
                )
            time.sleep(0.05)
        return self.status()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the server (it writes its data first). True when a process was stopped."""
        pid = self._pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        return True


def redis_url(home: Path, settings: RedisSettings) -> str | None:
    """``REDIS_URL`` when set, else the managed instance's URL when it is running, else None."""
    if settings.url:
        return settings.url
    local = LocalRedis(home, settings)
    return local.url if local.status().running else None
