"""The service's small SQLite files (principals, jobs): made owner-only, one transaction per use."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

__all__ = ["create_private", "transaction"]


def create_private(path: Path, schema: str) -> None:
    """Make ``path`` (mode 0600) when it is missing, and its tables when they are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    with transaction(path) as db:
        db.executescript(schema)


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection whose rows are ``sqlite3.Row``, committed when the block succeeds."""
    with closing(sqlite3.connect(path, timeout=10)) as db:
        db.row_factory = sqlite3.Row
        with db:
            yield db
