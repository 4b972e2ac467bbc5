"""Report data: times compared as times, and warninglist hits.

Every part of a report reads graph values as JSON data (``Graph.read(..., values="json")``, see
:func:`attribution.db.json_value`), so the same graph always gives the same text (and the same
digest): times are ISO 8601 text in UTC with a ``Z``, compared through :func:`parse_time`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["earliest", "hit_dict", "latest", "parse_time"]


def parse_time(text: str | None) -> datetime | None:
    """The time an ISO text of :func:`attribution.db.json_value` stands for (None stays None)."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def latest(texts: list[str | None]) -> str | None:
    """The latest of ISO times, compared as times (fractions of a second sort wrongly as text)."""
    times = [(parse_time(t), t) for t in texts if t]
    return max(times)[1] if times else None


def earliest(texts: list[str | None]) -> str | None:
    """The earliest of ISO times, compared as times."""
    times = [(parse_time(t), t) for t in texts if t]
    return min(times)[1] if times else None


def hit_dict(hit: Any) -> dict[str, str]:
    """A warninglist hit as report data."""
    return {
        "list": hit.list_name,
        "name": hit.name,
        "category": hit.category,
        "matched": hit.matched,
    }
