"""The one conversion of the driver's values: to plain Python, and to JSON data."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytz
from neo4j.spatial import CartesianPoint
from neo4j.time import Date, DateTime, Duration, Time

from attribution.db import iso_utc, json_value, python_value

MOMENT = DateTime(2026, 3, 12, 9, 30, 5, 123456789, tzinfo=pytz.UTC)


def test_python_values_keep_their_zone_and_cut_nanoseconds() -> None:
    row = {
        "at": MOMENT,
        "day": Date(2026, 3, 12),
        "clock": Time(9, 30, 0),
        "list": [MOMENT, 1, "x"],
        "map": {"when": Date(2026, 1, 1)},
        "wait": Duration(days=2),
        "plain": datetime(2026, 1, 1, tzinfo=UTC),
    }
    converted = python_value(row)
    assert converted == {
        "at": datetime(2026, 3, 12, 9, 30, 5, 123456, tzinfo=UTC),
        "day": date(2026, 3, 12),
        "clock": time(9, 30, 0),
        "list": [datetime(2026, 3, 12, 9, 30, 5, 123456, tzinfo=UTC), 1, "x"],
        "map": {"when": date(2026, 1, 1)},
        "wait": Duration(days=2),
        "plain": datetime(2026, 1, 1, tzinfo=UTC),
    }
    assert converted["at"].tzinfo is pytz.UTC


def test_json_values() -> None:
    assert json_value(
        {
            "at": MOMENT,
            "naive": datetime(2026, 1, 1, 12, 0),
            "elsewhere": datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=9))),
            "day": Date(2026, 3, 12),
            "clock": Time(9, 30, 0),
            "scores": [0.5, float("nan"), float("inf")],
            "point": CartesianPoint((1.0, 2.0)),
            "wait": Duration(days=2),
            3: "key as text",
        }
    ) == {
        "at": "2026-03-12T09:30:05.123456Z",
        "naive": "2026-01-01T12:00:00Z",
        "elsewhere": "2026-01-01T03:00:00Z",
        "day": "2026-03-12",
        "clock": "09:30:00",
        "scores": [0.5, None, None],
        "point": [1.0, 2.0],
        "wait": [0, 2, 0, 0],
        "3": "key as text",
    }
    assert iso_utc(datetime(2026, 3, 12, 9, 30, tzinfo=UTC)) == "2026-03-12T09:30:00Z"
