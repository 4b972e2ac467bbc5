"""The service's configuration and state folder.

The service reads its policy from its own state folder only (``<home>/service`` unless
``attribution serve --state-dir`` names another): ``service.toml`` there, with a ``[service]``
table. Nothing a caller sends, and nothing in a caller's environment or working directory,
changes who reviews, how old a report may be, or which keys are trusted. Reviewers are the
principals holding the ``reviewer`` role (:mod:`attribution.service.principals`).

The folder (mode 0700) holds:

``service.toml``         the configuration (optional; every key has a default)
``principals.sqlite3``   principals and the SHA-256 of their tokens (0600)
``report-signing.pem``   the service's Ed25519 report key, made on first start (0600)
``reports/``             every report the service generated, by digest
``jobs.sqlite3``         indicator submissions and their results
``uploads/``             submitted files, kept until their job is done
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from attribution.settings import DEFAULT_REPORT_MAX_AGE_DAYS, Settings, SettingsError

__all__ = ["ServiceConfig", "load_service_config", "service_signing_key", "state_dir_for"]

CONFIG_NAME = "service.toml"
KEY_NAME = "report-signing.pem"


@dataclass(frozen=True)
class ServiceConfig:
    """Every knob of the service; ``service.toml``'s ``[service]`` table sets any of them."""

    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 32 * 1024 * 1024
    """Largest request body accepted (413 above it)."""
    rate_per_minute: float = 600.0
    """Requests a token may make per minute, on average."""
    rate_burst: int = 120
    """Requests a token may make at once before the rate applies."""
    report_max_age_days: float = DEFAULT_REPORT_MAX_AGE_DAYS
    """The oldest report a request or a decision may rest on."""
    trusted_report_keys: frozenset[str] = frozenset()
    """Fingerprints of earlier service keys whose reports still count (after a key change);
    the service's own key is always trusted."""
    cypher_timeout_s: float = 10.0
    cypher_row_cap: int = 1000
    page_size: int = 100
    """Rows or objects per page when the caller names no limit."""
    max_page_size: int = 1000
    token_days: float = 90.0
    """Lifetime of a token when ``principals add`` names none."""

    @property
    def reports_dir(self) -> Path:
        return self.state_dir / "reports"

    @property
    def principals_db(self) -> Path:
        return self.state_dir / "principals.sqlite3"

    @property
    def jobs_db(self) -> Path:
        return self.state_dir / "jobs.sqlite3"

    @property
    def uploads_dir(self) -> Path:
        return self.state_dir / "uploads"

    @property
    def signing_key_path(self) -> Path:
        return self.state_dir / KEY_NAME


def state_dir_for(settings: Settings, given: Path | None = None) -> Path:
    """The state folder: ``given``, else ``<home>/service``."""
    return (given or settings.home / "service").expanduser()


_CONVERT: dict[str, Any] = {
    "host": str,
    "port": int,
    "max_body_bytes": int,
    "rate_per_minute": float,
    "rate_burst": int,
    "report_max_age_days": float,
    "cypher_timeout_s": float,
    "cypher_row_cap": int,
    "page_size": int,
    "max_page_size": int,
    "token_days": float,
}


def _read_table(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            table = tomllib.load(handle).get("service", {})
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not a valid TOML file ({exc})") from None
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: [service] must be a table")
    known = {f.name for f in fields(ServiceConfig)} - {"state_dir"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise SettingsError(f"{path}: unknown [service] keys: {', '.join(unknown)}")
    return table


def load_service_config(state_dir: Path, **overrides: Any) -> ServiceConfig:
    """The configuration in ``state_dir/service.toml``, with ``overrides`` (the ``serve``
    command's flags, None meaning unset) laid over it; the folder is made 0700."""
    private_dir(state_dir)
    path = state_dir / CONFIG_NAME
    values: dict[str, Any] = {}
    for key, raw in _read_table(path).items():
        if key == "trusted_report_keys":
            if not isinstance(raw, list) or not all(isinstance(k, str) for k in raw):
                raise SettingsError(f"{path}: [service] trusted_report_keys must be strings")
            values[key] = frozenset(k.lower() for k in raw)
            continue
        try:
            values[key] = _CONVERT[key](raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{path}: [service] {key} = {raw!r} is not valid") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ServiceConfig(state_dir=state_dir, **values)


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def service_signing_key(config: ServiceConfig) -> Ed25519PrivateKey:
    """The service's report key, made (mode 0600) on first use."""
    path = config.signing_key_path
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SettingsError(f"{path}: not an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key
