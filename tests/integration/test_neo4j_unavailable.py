"""A Neo4j server that is not there, or goes away mid-command: one line, exit 3, and the
summary of what had committed; the driver gives up after ATTRIBUTION_NEO4J_RETRY_SECONDS."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from pathlib import Path

import pytest
from clirun import run_attribution

from attribution.cli.common import CommandError, connect
from attribution.db import Graph
from attribution.labels import import_label_file, read_labels
from attribution.settings import Settings


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def nowhere(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["NEO4J_URI"] = f"bolt://127.0.0.1:{_closed_port()}"
    env["NEO4J_PASSWORD"] = "unused"
    env["ATTRIBUTION_NEO4J_RETRY_SECONDS"] = "1"
    env["ATTRIBUTION_AUDIT_LOG"] = str(tmp_path / "audit.jsonl")
    env["ATTRIBUTION_AUDIT_ANCHOR_DIR"] = str(tmp_path / "anchors")
    env["ATTRIBUTION_MODELS_DIR"] = str(tmp_path / "models")
    return env


@pytest.mark.parametrize(
    "command",
    [
        ("ingest", "{feed}", "--json"),
        ("label", "import", "{feed}", "--kind", "feed", "--json"),
        ("score", "--json"),
    ],
)
def test_no_server_is_one_line_exit_3_and_a_summary(
    nowhere: dict[str, str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    feed = tmp_path / "feed.txt"
    feed.write_text("bad.example\n")
    done = run_attribution(nowhere, *(part.format(feed=feed) for part in command))
    assert done.returncode == 3
    summary = json.loads(done.stdout)
    uri = nowhere["NEO4J_URI"]
    assert {k: v for k, v in summary.items() if k != "reason"} == {
        "error": "neo4j-unavailable",
        "server": uri,
        "retry_seconds": 1.0,
        "committed_transactions": 0,
        "committed": {},
    }
    assert done.stderr == (
        f"attribution {command[0]}: the Neo4j server at {uri} is unavailable "
        f"({summary['reason']}); 0 write transactions had committed. Start it "
        "(`attribution neo4j start`, or check NEO4J_URI) and run the command again\n"
    )
    assert not (tmp_path / "audit.jsonl").exists()


class _Proxy:
    """A TCP relay to the test server that can be cut, as a server that dies would be."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        for sock in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_a_server_gone_mid_command_reports_what_had_committed(
    graph: Graph,
    test_settings: Settings,
    neo4j_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if test_settings.neo4j.external:
        pytest.skip("the relay needs the local test server's port")
    proxy = _Proxy(test_settings.neo4j.bolt_port)
    for name in ("NEO4J_USERNAME", "NEO4J_PASSWORD", "NEO4J_DATABASE"):
        monkeypatch.setenv(name, neo4j_env[name])
    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("ATTRIBUTION_NEO4J_RETRY_SECONDS", "1")
    monkeypatch.setenv("ATTRIBUTION_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("ATTRIBUTION_AUDIT_ANCHOR_DIR", str(tmp_path / "anchors"))
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("one.example\n")
    second.write_text("two.example\n")
    with pytest.raises(CommandError) as failed, connect() as through_proxy:
        result = import_label_file(through_proxy, first, "feed")
        through_proxy.note_committed("imports", result.as_dict())
        proxy.cut()
        import_label_file(through_proxy, second, "feed")
    assert failed.value.code == 3
    summary = failed.value.summary
    assert summary is not None
    # the first file's label source, its label and the write-time summaries of the labelled
    # domain and of the label source: one small load, one transaction
    assert (summary["server"], summary["committed_transactions"]) == (
        f"bolt://127.0.0.1:{proxy.port}",
        1,
    )
    assert summary["committed"] == {"imports": [result.as_dict()]}
    assert str(failed.value).startswith(
        f"the Neo4j server at bolt://127.0.0.1:{proxy.port} is unavailable ("
    )
    assert "\n" not in str(failed.value)
    assert sorted(read_labels(graph)) == [("Domain", "one.example")]
