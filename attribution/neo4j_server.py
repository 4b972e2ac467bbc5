"""A local Neo4j Community server that the project resolves, configures, starts and stops.

The server's jars come from Maven Central through Maven (``org.neo4j:neo4j``, whose
dependencies include the HTTP server and Bolt; ``org.neo4j.client:neo4j-browser`` beside it;
APOC core into ``plugins/`` where it resolves) into a cache outside the repository. The JVM is
started directly on ``org.neo4j.server.CommunityEntryPoint`` with the options Neo4j's own
launcher passes on Java 17, listening on 127.0.0.1 only.

Layout under ``ATTRIBUTION_HOME`` (default ``~/.cache/attribution``)::

    dist/neo4j-<version>/lib/        jars resolved by Maven (shared by every instance)
    dist/neo4j-<version>/plugins/    APOC core, when it resolved
    <instance>/conf/neo4j.conf       written by us on every start
    <instance>/data/ logs/ run/      the server's own directories; ``stop`` keeps data/
    <instance>/password              generated on first start, owner-only

An instance directory and every directory in it (data, logs, configuration, the password) is
owner-only (0700): the graph holds evidence and the password opens it. A directory found with
wider permissions is tightened on the next start.

When ``NEO4J_URI`` is set none of this is used: that server is the graph.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from attribution.processes import alive
from attribution.settings import (
    APOC_VERSION,
    NEO4J_BROWSER_VERSION,
    NEO4J_VERSION,
    Neo4jSettings,
)

# The JVM options Neo4j's launcher passes on Java 17 (see its bundled neo4j.conf
# `server.jvm.additional` defaults); without the --add-opens set Netty and the page cache
# fall back to slow paths or fail.
JVM_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-XX:FlightRecorderOptions=stackdepth=256",
    "-XX:+UnlockDiagnosticVMOptions",
    "-XX:+DebugNonSafepoints",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
)
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
START_TIMEOUT_S = 180.0


def generated_secret(path: Path, nbytes: int) -> str:
    """The secret kept in ``path``, made on first use (``nbytes`` random bytes, URL-safe text)
    in an owner-only file inside an owner-only folder."""
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    private_dir(path.parent)
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


class Neo4jServerError(RuntimeError):
    """The local server could not be resolved, configured or started; the message says why."""


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make it owner-only (0700), tightening a
    directory that already exists with wider permissions."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


@dataclass(frozen=True)
class ServerStatus:
    """What is true about a local instance right now."""

    running: bool
    pid: int | None
    bolt_uri: str
    browser_url: str
    home: str
    version: str
    external: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise Neo4jServerError(
            f"{name} not found on PATH: install {package} (e.g. apt-get install {package})"
        )
    return path


def _pom(dependencies: list[tuple[str, str, str]]) -> str:
    deps = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"
        for g, a, v in dependencies
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>local.attribution</groupId><artifactId>neo4j-runtime</artifactId><version>1</version>"
        f"<dependencies>{deps}</dependencies></project>"
    )


def _maven_copy(pom_dir: Path, dependencies: list[tuple[str, str, str]], out_dir: Path) -> None:
    mvn = _require_tool("mvn", "maven")
    pom_dir.mkdir(parents=True, exist_ok=True)
    (pom_dir / "pom.xml").write_text(_pom(dependencies), encoding="utf-8")
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={out_dir}",
            "-DincludeScope=runtime",
        ],
        cwd=pom_dir,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise Neo4jServerError(
            "Maven could not resolve "
            + ", ".join(a for _, a, _ in dependencies)
            + ": "
            + " | ".join(tail)
        )


def resolve_distribution(home: Path, version: str = NEO4J_VERSION) -> Path:
    """Resolve the server jars into the cache once; return the distribution directory."""
    dist = home / "dist" / f"neo4j-{version}"
    lib = dist / "lib"
    marker = dist / "resolved.json"
    if marker.is_file():
        return dist
    _require_tool("java", "openjdk-17-jre-headless")
    tmp_lib = dist / "lib.partial"
    shutil.rmtree(tmp_lib, ignore_errors=True)
    _maven_copy(
        dist / "pom-server",
        [
            ("org.neo4j", "neo4j", version),
            ("org.neo4j.client", "neo4j-browser", NEO4J_BROWSER_VERSION),
        ],
        tmp_lib,
    )
    shutil.rmtree(lib, ignore_errors=True)
    tmp_lib.rename(lib)
    plugins = dist / "plugins"
    plugins.mkdir(exist_ok=True)
    apoc = "not resolved"
    try:
        _maven_copy(
            dist / "pom-apoc",
            [
                ("org.neo4j.procedure", "apoc-common", APOC_VERSION),
                ("org.neo4j.procedure", "apoc-core", APOC_VERSION),
            ],
            dist / "apoc.partial",
        )
        have = {_artifact_name(jar) for jar in lib.glob("*.jar")}
        for jar in (dist / "apoc.partial").glob("*.jar"):
            if _artifact_name(jar) not in have:
                shutil.copy2(jar, plugins / jar.name)
        apoc = APOC_VERSION
    except Neo4jServerError:
        pass  # APOC is a convenience for analysts; the service never depends on it.
    marker.write_text(
        json.dumps({"neo4j": version, "browser": NEO4J_BROWSER_VERSION, "apoc": apoc}),
        encoding="utf-8",
    )
    return dist


def _artifact_name(jar: Path) -> str:
    """``commons-text-1.10.0.jar`` -> ``commons-text``: the name without its version."""
    parts = jar.stem.split("-")
    while parts and parts[-1][:1].isdigit():
        parts.pop()
    return "-".join(parts)


TX_LOG_RETENTION = "1G size"
"""How much transaction log a managed instance keeps (the graph itself is not bounded)."""


def _config_text(instance: Path, settings: Neo4jSettings, plugins: Path) -> str:
    lines = {
        "server.default_listen_address": "127.0.0.1",
        "server.default_advertised_address": "127.0.0.1",
        "server.bolt.listen_address": f"127.0.0.1:{settings.bolt_port}",
        "server.bolt.advertised_address": f"127.0.0.1:{settings.bolt_port}",
        "server.http.listen_address": f"127.0.0.1:{settings.http_port}",
        "server.http.advertised_address": f"127.0.0.1:{settings.http_port}",
        "server.https.enabled": "false",
        "server.directories.data": str(instance / "data"),
        "server.directories.logs": str(instance / "logs"),
        "server.directories.run": str(instance / "run"),
        "server.directories.plugins": str(plugins),
        "server.directories.import": str(instance / "import"),
        "server.memory.heap.initial_size": settings.heap,
        "server.memory.heap.max_size": settings.heap,
        "server.memory.pagecache.size": settings.pagecache,
        "dbms.security.auth_enabled": "true",
        "dbms.security.procedures.unrestricted": "apoc.*",
        "dbms.usage_report.enabled": "false",
        "db.transaction.timeout": "10m",
        # Transaction logs past this size are pruned after a checkpoint. Neo4j's default keeps
        # two days of them: a day of bulk loads and score write-backs then holds tens of GB.
        "db.tx_log.rotation.retention_policy": TX_LOG_RETENTION,
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items())


class LocalNeo4j:
    """One managed server instance: its directory, ports and process."""

    def __init__(self, home: Path, settings: Neo4jSettings, instance: str = "neo4j") -> None:
        self.home = home
        self.settings = settings
        self.instance_dir = home / instance

    @property
    def bolt_uri(self) -> str:
        return f"neo4j://127.0.0.1:{self.settings.bolt_port}"

    @property
    def browser_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}/browser/"

    @property
    def pid_file(self) -> Path:
        return self.instance_dir / "run" / "attribution-neo4j.pid"

    @property
    def password_file(self) -> Path:
        return self.instance_dir / "password"

    def password(self) -> str:
        """The instance's password: NEO4J_PASSWORD if set, else the generated one."""
        if self.settings.password:
            return self.settings.password
        return generated_secret(self.password_file, 18)

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text(encoding="utf-8").strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and ENTRY_POINT.encode() not in cmdline.read_bytes():
            return None  # the pid was reused by an unrelated process
        return pid

    def status(self) -> ServerStatus:
        pid = self._pid()
        running = pid is not None and _port_open(self.settings.bolt_port)
        return ServerStatus(
            running=running,
            pid=pid,
            bolt_uri=self.bolt_uri,
            browser_url=self.browser_url,
            home=str(self.instance_dir),
            version=NEO4J_VERSION,
        )

    def start(self, *, progress: bool = False) -> ServerStatus:
        """Start the server if it is not running; wait until Bolt answers. Idempotent."""
        current = self.status()
        if current.running:
            return current
        if current.pid is not None:
            self.stop()
        if _port_open(self.settings.bolt_port):
            raise Neo4jServerError(
                f"port {self.settings.bolt_port} is already in use by another process; "
                "set ATTRIBUTION_BOLT_PORT or NEO4J_URI"
            )
        java = _require_tool("java", "openjdk-17-jre-headless")
        if progress:
            print(
                "resolving Neo4j",
                NEO4J_VERSION,
                "from Maven Central (cached after the first time)",
                flush=True,
            )
        dist = resolve_distribution(self.home)
        private_dir(self.instance_dir)
        for sub in ("conf", "data", "logs", "run", "import"):
            private_dir(self.instance_dir / sub)
        (self.instance_dir / "conf" / "neo4j.conf").write_text(
            _config_text(self.instance_dir, self.settings, dist / "plugins"), encoding="utf-8"
        )
        first_start = not (self.instance_dir / "data" / "dbms").exists()
        password = self.password()
        process = self._launch(java, dist)
        self.pid_file.write_text(str(process.pid), encoding="utf-8")
        if progress:
            print(
                f"starting Neo4j (pid {process.pid}), waiting for Bolt on {self.bolt_uri}",
                flush=True,
            )
        self._wait_for_bolt(process, password, first_start)
        return self.status()

    def _launch(self, java: str, dist: Path) -> subprocess.Popen[bytes]:
        """Start the JVM on the instance's configuration, in its own session, logging to
        ``logs/console.log``."""
        heap = self.settings.heap
        command = [
            java,
            f"-Xms{heap}",
            f"-Xmx{heap}",
            *JVM_OPTIONS,
            "-cp",
            f"{dist / 'plugins'}/*:{dist / 'lib'}/*",
            ENTRY_POINT,
            f"--home-dir={self.instance_dir}",
            f"--config-dir={self.instance_dir / 'conf'}",
        ]
        with (self.instance_dir / "logs" / "console.log").open("ab") as log:
            return subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.instance_dir,
            )

    def _wait_for_bolt(
        self, process: subprocess.Popen[bytes], password: str, first_start: bool
    ) -> None:
        from neo4j import GraphDatabase
        from neo4j.exceptions import AuthError, ClientError, ServiceUnavailable

        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise Neo4jServerError(
                    f"Neo4j exited with code {process.returncode}; see {self.instance_dir / 'logs'}"
                )
            if _port_open(self.settings.bolt_port):
                try:
                    self._ensure_password(GraphDatabase, password, first_start)
                    return
                except (ServiceUnavailable, OSError):
                    pass
                except (AuthError, ClientError) as exc:
                    raise Neo4jServerError(f"Neo4j rejected the credentials: {exc}") from exc
            time.sleep(0.5)
        raise Neo4jServerError(f"Neo4j did not answer on Bolt within {START_TIMEOUT_S:.0f} s")

    def _ensure_password(self, graph_database: object, password: str, first_start: bool) -> None:
        from neo4j import GraphDatabase
        from neo4j.exceptions import AuthError

        user = self.settings.username
        try:
            with GraphDatabase.driver(self.bolt_uri, auth=(user, password)) as driver:
                driver.verify_connectivity()
                return
        except AuthError:
            if not first_start and user != "neo4j":
                raise
        # A fresh server only knows neo4j/neo4j and demands a change before anything else.
        with (
            GraphDatabase.driver(self.bolt_uri, auth=("neo4j", "neo4j")) as driver,
            driver.session(database="system") as session,
        ):
            session.run(
                "ALTER CURRENT USER SET PASSWORD FROM $old TO $new", old="neo4j", new=password
            ).consume()

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the server, keeping its data. Returns True if a process was stopped."""
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive(pid):
                break
            time.sleep(0.2)
        else:
            os.killpg(pid, signal.SIGKILL)
            while alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
