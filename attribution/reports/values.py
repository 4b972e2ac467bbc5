"""Graph values as report data: times as ISO 8601 text in UTC with a ``Z`` (and back), hits.

Every part of a report reads graph values through :func:`json_value`, so the same graph always
gives the same text (and the same digest), and compares times through :func:`parse_time`.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

__all__ = ["earliest", "hit_dict", "json_value", "latest", "parse_time"]


def json_value(value: Any) -> Any:
    """Driver values as JSON data: times as ISO text in UTC, non-finite floats as None."""
    if hasattr(value, "to_native"):
        value = value.to_native()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        text = value.astimezone(UTC).isoformat()
        return text.replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return value


def parse_time(text: str | None) -> datetime | None:
    """The time an ISO text written by :func:`json_value` stands for (None stays None)."""
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
