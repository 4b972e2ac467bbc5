"""In-batch merging of rows follows the same rules the Cypher applies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from attribution.schema import NODE_BY_LABEL, REL_BY_TYPE
from attribution.writer import NodeRow, RelRow, UndeclaredProperty, prepare_rows

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MS = int(T0.timestamp() * 1000)


def test_rows_with_one_key_fold_into_one() -> None:
    later = T0 + timedelta(hours=2)
    rows = prepare_rows(
        REL_BY_TYPE["RESOLVES_TO"],
        [
            RelRow(
                "RESOLVES_TO",
                "a.example",
                "192.0.2.1",
                {"rtype": "A", "ttl": 300, "min_ttl": 300},
                "dns",
                T0,
                T0,
                T0,
            ),
            RelRow(
                "RESOLVES_TO",
                "a.example",
                "192.0.2.1",
                {"rtype": "A", "ttl": 60, "min_ttl": 60},
                "pdns",
                later,
                later,
                later,
            ),
            RelRow(
                "RESOLVES_TO",
                "a.example",
                "192.0.2.2",
                {"rtype": "A", "ttl": 30, "min_ttl": 30, "x": None},
                "dns",
                T0,
                T0,
                T0,
            ),
        ],
    )
    assert rows == [
        {
            "start": "a.example",
            "end": "192.0.2.1",
            "rkey": {},
            "props": {"rtype": "A", "ttl": 60},
            "agg": {"min_ttl": 60},
            "source": ["dns", "pdns"],
            "first": MS,
            "last": MS + 7_200_000,
            "retrieved": MS + 7_200_000,
            "n": 2,
        },
        {
            "start": "a.example",
            "end": "192.0.2.2",
            "rkey": {},
            "props": {"rtype": "A", "ttl": 30},
            "agg": {"min_ttl": 30},
            "source": ["dns"],
            "first": MS,
            "last": MS,
            "retrieved": MS,
            "n": 1,
        },
    ]


def test_an_older_observation_does_not_overwrite_newer_values() -> None:
    older = T0 - timedelta(days=1)
    rows = prepare_rows(
        NODE_BY_LABEL["Domain"],
        [
            NodeRow("Domain", "a.example", {"soa_serial": 2, "tags": ["x"]}, "dns", T0, T0, T0),
            NodeRow(
                "Domain",
                "a.example",
                {"soa_serial": 1, "tags": ["y", "x"]},
                "dns",
                older,
                older,
                T0,
            ),
        ],
    )
    assert rows[0]["props"] == {"soa_serial": 2}
    assert rows[0]["agg"] == {"tags": ["x", "y"]}
    assert rows[0]["first"] == MS - 86_400_000


def test_flow_keys_keep_parallel_relationships_apart_and_sum_counters() -> None:
    rows = prepare_rows(
        REL_BY_TYPE["CONTACTED"],
        [
            RelRow(
                "CONTACTED",
                "10.0.0.1",
                "192.0.2.9",
                {"dst_port": 443, "protocol": "tcp", "packets": 3, "bytes": 100, "flows": 1},
                "f",
                T0,
                T0,
                T0,
            ),
            RelRow(
                "CONTACTED",
                "10.0.0.1",
                "192.0.2.9",
                {"dst_port": 443, "protocol": "tcp", "packets": 4, "bytes": 50, "flows": 1},
                "f",
                T0,
                T0,
                T0,
            ),
            RelRow(
                "CONTACTED",
                "10.0.0.1",
                "192.0.2.9",
                {"dst_port": 53, "protocol": "udp", "packets": 1, "bytes": 70, "flows": 1},
                "f",
                T0,
                T0,
                T0,
            ),
        ],
    )
    assert [(r["rkey"], r["agg"], r["n"]) for r in rows] == [
        ({"dst_port": 443, "protocol": "tcp"}, {"packets": 7, "bytes": 150, "flows": 2}, 2),
        ({"dst_port": 53, "protocol": "udp"}, {"packets": 1, "bytes": 70, "flows": 1}, 1),
    ]


def test_naive_times_are_refused() -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="naive datetime 2026-01-01T00:00:00"):
        prepare_rows(
            NODE_BY_LABEL["Domain"],
            [NodeRow("Domain", "a.example", {}, "dns", naive, naive, naive)],
        )


def test_a_property_the_schema_does_not_declare_is_refused() -> None:
    with pytest.raises(UndeclaredProperty) as raised:
        prepare_rows(
            NODE_BY_LABEL["Domain"],
            [
                NodeRow("Domain", "a.example", {"tld": "example"}, "dns", T0, T0, T0),
                NodeRow("Domain", "b.example", {"colour": "red", "zz": None}, "dns", T0, T0, T0),
            ],
        )
    assert str(raised.value) == (
        "Domain row (key 'b.example') carries properties the schema does not declare for "
        "Domain: colour (declare them in attribution/schema.py, or leave them out)"
    )
    with pytest.raises(UndeclaredProperty, match=r"^RESOLVES_TO row \('a.example' -> "):
        prepare_rows(
            REL_BY_TYPE["RESOLVES_TO"],
            [RelRow("RESOLVES_TO", "a.example", "192.0.2.1", {"port": 1}, "dns", T0, T0, T0)],
        )
    # Provenance is the writer's to set, never a row's.
    with pytest.raises(UndeclaredProperty, match="first_seen"):
        prepare_rows(
            NODE_BY_LABEL["Registrar"],
            [NodeRow("Registrar", "r", {"first_seen": T0}, "rdap", T0, T0, T0)],
        )
