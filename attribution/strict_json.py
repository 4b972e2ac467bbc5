"""JSON read strictly: an object that names a key twice is refused, not silently resolved.

A repeated key lets one copy pass review while the parser keeps the other, so intake (incident
reports) and the audit log (whose entries are hashed as read) both refuse it, through
:func:`no_duplicate_keys` as ``object_pairs_hook``. Each caller words the refusal its own way
from :attr:`DuplicateKey.key`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DuplicateKey", "no_duplicate_keys"]


class DuplicateKey(ValueError):
    """A JSON object names ``key`` more than once."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} given twice")
        self.key = key


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` that raises :class:`DuplicateKey` on a repeated key."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out
