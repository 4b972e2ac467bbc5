"""Principals: who may use the service, with one role each, proven by a bearer token.

A token is 32 random bytes (``atk_`` + URL-safe base64), shown once when it is made. The store
keeps only its SHA-256: the token has full entropy, so a slow password hash would add nothing.
The store is a SQLite file in the service's state folder (mode 0600), shared by the running
service and the ``attribution principals`` command.

Each role holds a fixed set of rights (:data:`RIGHTS`), and every endpoint names the right it
needs. No role holds every right: the administrator manages principals but neither requests
nor decides, and the reviewer decides but never requests.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from attribution.service.sqlite import create_private, transaction

__all__ = [
    "RIGHTS",
    "ROLES",
    "Principal",
    "PrincipalError",
    "PrincipalStore",
    "hash_token",
    "parse_duration",
]

ROLES = ("analyst", "pipeline", "reviewer", "auditor", "admin")

RIGHTS: dict[str, frozenset[str]] = {
    "indicators.submit": frozenset({"pipeline"}),
    "jobs.read": frozenset({"pipeline"}),
    "queries.run": frozenset({"analyst"}),
    "cypher.run": frozenset({"analyst"}),
    "targets.read": frozenset({"analyst", "reviewer"}),
    "reports.generate": frozenset({"analyst"}),
    "reports.read": frozenset({"analyst", "reviewer", "auditor"}),
    "approvals.request": frozenset({"analyst"}),
    "approvals.read": frozenset({"analyst", "reviewer", "auditor"}),
    "approvals.decide": frozenset({"reviewer"}),
    "audit.read": frozenset({"auditor"}),
    "principals.manage": frozenset({"admin"}),
    "taxii.read": frozenset({"analyst", "reviewer", "auditor"}),
}
"""Right → the roles that hold it."""

TOKEN_PREFIX = "atk_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_DURATION = re.compile(r"^(\d{1,5})([dhm])$")


class PrincipalError(ValueError):
    """A principal cannot be made, found or changed; the message says why."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    name: str
    role: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None = None

    def can(self, right: str) -> bool:
        return self.role in RIGHTS.get(right, frozenset())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12h`` or ``30m`` as a time span; PrincipalError otherwise."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise PrincipalError(f"--expires must read like 90d, 12h or 30m, not {text!r}")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS principals (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
)
"""


class PrincipalStore:
    """Principals and their token hashes in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        create_private(path, _SCHEMA)

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path)

    def check_new(self, name: str, role: str) -> None:
        """PrincipalError unless :meth:`add` could make this principal."""
        if not _NAME.match(name):
            raise PrincipalError(
                f"principal name {name!r} must be 1-64 letters, digits or ._@- "
                "and start with a letter or digit"
            )
        if role not in ROLES:
            raise PrincipalError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if any(p.name == name for p in self.list()):
            raise PrincipalError(f"a principal named {name} exists already")

    def add(
        self, name: str, role: str, expires_in: timedelta | None, now: datetime | None = None
    ) -> tuple[Principal, str]:
        """Make a principal and return it with its token (the only time the token exists)."""
        self.check_new(name, role)
        now = now or datetime.now(UTC)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = _iso(now + expires_in) if expires_in else None
        principal = Principal(name, role, _iso(now), expires)
        try:
            with self._db() as db:
                db.execute(
                    "INSERT INTO principals (name, role, token_sha256, created_at, expires_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (name, role, hash_token(token), principal.created_at, expires),
                )
        except sqlite3.IntegrityError:
            raise PrincipalError(f"a principal named {name} exists already") from None
        return principal, token

    def list(self) -> list[Principal]:
        with self._db() as db:
            rows = db.execute(
                "SELECT name, role, created_at, expires_at, revoked_at FROM principals "
                "ORDER BY name"
            ).fetchall()
        return [Principal(**dict(row)) for row in rows]

    def get(self, name: str) -> Principal:
        for principal in self.list():
            if principal.name == name:
                return principal
        raise PrincipalError(f"no principal named {name}")

    def revoke(self, name: str, now: datetime | None = None) -> Principal:
        """Revoke a principal's token for good; PrincipalError when there is none."""
        with self._db() as db:
            changed = db.execute(
                "UPDATE principals SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (_iso(now or datetime.now(UTC)), name),
            ).rowcount
        principal = self.get(name)
        if not changed and principal.revoked_at is None:
            raise PrincipalError(f"no principal named {name}")
        return principal

    def authenticate(self, token: str, now: datetime | None = None) -> Principal | None:
        """The live principal the token belongs to; None when it is unknown, revoked or
        expired."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        with self._db() as db:
            row = db.execute(
                "SELECT name, role, created_at, expires_at, revoked_at FROM principals "
                "WHERE token_sha256 = ?",
                (hash_token(token),),
            ).fetchone()
        if row is None:
            return None
        principal = Principal(**dict(row))
        if principal.revoked_at is not None:
            return None
        moment = now or datetime.now(UTC)
        if principal.expires_at and datetime.fromisoformat(principal.expires_at) <= moment:
            return None
        return principal

    def names_with_role(self, role: str, now: datetime | None = None) -> frozenset[str]:
        """Live principals of ``role``."""
        moment = now or datetime.now(UTC)
        return frozenset(
            p.name
            for p in self.list()
            if p.role == role
            and p.revoked_at is None
            and (p.expires_at is None or datetime.fromisoformat(p.expires_at) > moment)
        )
