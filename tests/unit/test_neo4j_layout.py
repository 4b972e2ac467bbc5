"""The managed Neo4j's directories are owner-only: the graph holds evidence, the password
opens it."""

from __future__ import annotations

import stat
from pathlib import Path

from attribution.neo4j_server import LocalNeo4j, _config_text, private_dir
from attribution.settings import Neo4jSettings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _settings() -> Neo4jSettings:
    return Neo4jSettings(
        uri=None,
        username="neo4j",
        password=None,
        database="neo4j",
        bolt_port=1,
        http_port=2,
        heap="1g",
        pagecache="1g",
    )


def test_private_dir_creates_owner_only(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "a" / "b")
    assert made == tmp_path / "a" / "b"
    assert _mode(made) == 0o700


def test_private_dir_tightens_an_existing_open_directory(tmp_path: Path) -> None:
    wide = tmp_path / "wide"
    wide.mkdir()
    wide.chmod(0o755)
    private_dir(wide)
    assert _mode(wide) == 0o700


def test_generated_password_lives_in_an_owner_only_instance(tmp_path: Path) -> None:
    server = LocalNeo4j(tmp_path, _settings(), instance="one")
    password = server.password()
    assert len(password) == 24
    assert _mode(tmp_path / "one") == 0o700
    assert _mode(tmp_path / "one" / "password") == 0o600
    assert server.password() == password


def test_the_config_bounds_the_transaction_logs(tmp_path: Path) -> None:
    lines = _config_text(tmp_path, _settings(), tmp_path / "plugins").splitlines()
    assert "db.tx_log.rotation.retention_policy=1G size" in lines
    assert "server.bolt.listen_address=127.0.0.1:1" in lines
