"""Settings, read once from environment variables and one optional TOML file.

Precedence, highest first: environment variables, the TOML file, built-in defaults.
The TOML file is ``$ATTRIBUTION_CONFIG`` or ``./attribution.toml`` when it exists.
Secrets (the Neo4j password, the report signing key) come only from the environment
or from files the local server manager writes with owner-only permissions.

Neo4j's own variable names are used: ``NEO4J_URI``, ``NEO4J_USERNAME``,
``NEO4J_PASSWORD``, ``NEO4J_DATABASE``. When ``NEO4J_URI`` is set the project uses that
server and never starts or downloads one.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
NEO4J_VERSION = "5.26.30"
NEO4J_BROWSER_VERSION = "5.24.0"
APOC_VERSION = "5.26.19"


def _default_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "attribution"


def _shared_dir() -> Path:
    return REPO_ROOT.parent / "shared"


@dataclass(frozen=True)
class Neo4jSettings:
    """Where the graph lives and how to reach it."""

    uri: str | None
    username: str
    password: str | None
    database: str
    bolt_port: int
    http_port: int
    heap: str
    pagecache: str

    @property
    def external(self) -> bool:
        """True when the user pointed us at a server we must not manage."""
        return self.uri is not None


@dataclass(frozen=True)
class Settings:
    """Every knob of the service in one place."""

    home: Path
    neo4j: Neo4jSettings
    warninglists_dir: Path
    fixtures_dir: Path
    models_dir: Path
    write_batch_size: int = 5000
    freshness_hours: float = 72.0
    """A resolution last seen this long before a report's reference time is no longer current:
    its address is shown in the report but cannot be acted upon."""
    min_evidence_families: int = 2
    """Independent evidence families (:mod:`attribution.features.families`) a node needs before
    the classifier may decide about it; written into each model's manifest at training."""
    extra: dict[str, Any] = field(default_factory=dict)


def _read_toml() -> dict[str, Any]:
    path = Path(os.environ.get("ATTRIBUTION_CONFIG", "attribution.toml"))
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


def load_settings() -> Settings:
    """Build the settings from the environment and the TOML file."""
    toml = _read_toml()
    neo = toml.get("neo4j", {})
    env = os.environ
    home = Path(env.get("ATTRIBUTION_HOME") or toml.get("home") or _default_home()).expanduser()
    neo4j = Neo4jSettings(
        uri=env.get("NEO4J_URI") or neo.get("uri"),
        username=env.get("NEO4J_USERNAME") or neo.get("username", "neo4j"),
        password=env.get("NEO4J_PASSWORD"),
        database=env.get("NEO4J_DATABASE") or neo.get("database", "neo4j"),
        bolt_port=int(env.get("ATTRIBUTION_BOLT_PORT") or neo.get("bolt_port", 7687)),
        http_port=int(env.get("ATTRIBUTION_HTTP_PORT") or neo.get("http_port", 7474)),
        heap=env.get("ATTRIBUTION_NEO4J_HEAP") or neo.get("heap", "2g"),
        pagecache=env.get("ATTRIBUTION_NEO4J_PAGECACHE") or neo.get("pagecache", "2g"),
    )
    shared = _shared_dir()
    return Settings(
        home=home,
        neo4j=neo4j,
        warninglists_dir=Path(
            env.get("ATTRIBUTION_WARNINGLISTS_DIR")
            or toml.get("warninglists_dir")
            or shared / "data" / "misp-warninglists"
        ),
        fixtures_dir=Path(
            env.get("ATTRIBUTION_FIXTURES_DIR")
            or toml.get("fixtures_dir")
            or shared / "fixtures" / "rdap-whois-asn"
        ),
        models_dir=Path(
            env.get("ATTRIBUTION_MODELS_DIR") or toml.get("models_dir") or REPO_ROOT / "models"
        ),
        write_batch_size=int(
            env.get("ATTRIBUTION_WRITE_BATCH") or toml.get("write_batch_size", 5000)
        ),
        freshness_hours=float(
            env.get("ATTRIBUTION_FRESHNESS_HOURS")
            or toml.get("reports", {}).get("freshness_hours", 72.0)
        ),
        min_evidence_families=int(
            env.get("ATTRIBUTION_MIN_EVIDENCE_FAMILIES")
            or toml.get("scoring", {}).get("min_evidence_families", 2)
        ),
        extra={k: v for k, v in toml.items() if k not in {"neo4j", "home"}},
    )
