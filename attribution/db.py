"""The one place that opens Neo4j drivers and runs transactions, with the one retry policy.

Writes go through :func:`write` (a managed write transaction: the driver retries transient
failures such as deadlocks, leader switches and a server gone away with exponential backoff
until the retry window has passed: ``ATTRIBUTION_NEO4J_RETRY_SECONDS``, default
``RETRY_WINDOW_S``). Reads that analysts trigger go through :func:`read`, in a
managed *read* transaction, so that a write smuggled into a read path fails on the server.

**Clusters and Aura.** With ``NEO4J_URI=neo4j://...`` (or ``neo4j+s://``) the driver routes:
managed read transactions go to followers or read replicas, write transactions to the leader.
Every session of one :class:`Graph` shares a bookmark manager, so a read this process makes
after its own write sees that write even on a lagging follower (causal consistency). When a
read must see a write *another process* made, that process hands over its bookmarks
(:meth:`Graph.bookmark_values`) and the reader adds them (:meth:`Graph.include_bookmarks`)
before it reads.

It is also the one place that converts the driver's values: :meth:`Graph.read` returns them as
the driver gave them, as plain Python (:func:`python_value`: neo4j times become ``datetime``,
``date`` and ``time``) or as JSON data (:func:`json_value`: times become ISO 8601 text in UTC
with a ``Z``), whichever its caller asks for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from typing import Any, Literal, TypeVar

from neo4j import READ_ACCESS, Driver, GraphDatabase, ManagedTransaction, Record, unit_of_work
from neo4j.api import BookmarkManager
from neo4j.time import Date, DateTime, Duration, Time

from attribution.neo4j_server import LocalNeo4j
from attribution.settings import DEFAULT_NEO4J_RETRY_SECONDS, Settings, load_settings

RETRY_WINDOW_S = DEFAULT_NEO4J_RETRY_SECONDS
"""The default retry window (:attr:`attribution.settings.Neo4jSettings.retry_seconds`)."""
T = TypeVar("T")
ValueMode = Literal["driver", "python", "json"]


def iso_utc(moment: datetime) -> str:
    """A time as ISO 8601 text in UTC with a ``Z``; a time without a zone is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def python_value(value: Any) -> Any:
    """A driver value as plain Python: neo4j dates and times as ``date``, ``time`` and
    ``datetime`` (nanoseconds cut to microseconds), lists and maps member by member; anything
    else (numbers, text, a duration or a point, which are tuples) unchanged."""
    if isinstance(value, list):
        return [python_value(v) for v in value]
    if isinstance(value, dict):
        return {k: python_value(v) for k, v in value.items()}
    if hasattr(value, "to_native") and not isinstance(value, datetime | date):
        return value.to_native()
    return value


def json_value(value: Any) -> Any:
    """A driver or Python value as JSON data: moments as :func:`iso_utc` text, dates and times
    of day as ISO text, non-finite floats as None, tuples as lists, map keys as text."""
    value = python_value(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return value


_CONVERTERS: dict[str, Callable[[Any], Any]] = {"python": python_value, "json": json_value}

_PLAIN = frozenset({str, int, float, bool, type(None), DateTime, Date, Time, Duration})
"""Value types that ``Record.data`` hands back as they are."""


def _plain(value: Any) -> bool:
    kind = type(value)
    return kind in _PLAIN or (kind is list and all(map(_plain, value)))


def record_dict(record: Record) -> dict[str, Any]:
    """The record as ``Record.data`` gives it, at a fraction of the cost for plain rows.

    ``Record.data`` walks every value through the driver's exporter, about 10 µs for a row of
    seven columns: a page of 100 rows spent a millisecond there. A row of numbers, text, times
    and lists of them comes out of the exporter unchanged, so it is zipped with its keys;
    a row holding a node, relationship, path or map still goes through ``Record.data``.
    """
    values = record.values()
    if all(map(_plain, values)):
        return dict(zip(record.keys(), values, strict=True))
    return record.data()


MAX_FETCH_SIZE = 1000
"""The most rows :meth:`Graph.read_page` asks the server for at once (the driver's default)."""


def connection_details(settings: Settings) -> tuple[str, tuple[str, str]]:
    """The Bolt URI and credentials: NEO4J_URI's server, or the locally managed one."""
    neo = settings.neo4j
    if neo.external:
        assert neo.uri is not None
        return neo.uri, (neo.username, neo.password or "")
    local = LocalNeo4j(settings.home, neo)
    # bolt:// talks to the single local server directly, skipping routing-table round trips.
    return f"bolt://127.0.0.1:{neo.bolt_port}", (neo.username, local.password())


def open_driver(settings: Settings | None = None) -> Driver:
    """A driver configured with the project's retry window and timeouts."""
    settings = settings or load_settings()
    uri, auth = connection_details(settings)
    return GraphDatabase.driver(
        uri,
        auth=auth,
        max_transaction_retry_time=settings.neo4j.retry_seconds,
        connection_timeout=min(15.0, max(settings.neo4j.retry_seconds, 1.0)),
        user_agent="attribution/0.1",
        # The service's statements name properties that appear only once data arrives; the
        # server's "property key does not exist" hints would drown real output.
        notifications_min_severity="OFF",
    )


class Graph:
    """A driver plus the database name: what every module needs to talk to the graph."""

    def __init__(self, driver: Driver, database: str) -> None:
        self.driver = driver
        self.database = database
        self.bookmarks: BookmarkManager = GraphDatabase.bookmark_manager()
        """Shared by every session of this object: each read follows this object's writes."""
        self.committed_transactions = 0
        """Write transactions committed through :meth:`write` by this object."""
        self.committed: dict[str, list[Any]] = {}
        """What a command has finished, by kind (:meth:`note_committed`): reported with the
        transaction count when the server goes away before the command is done."""

    def note_committed(self, kind: str, item: Any) -> None:
        """Record a finished, committed unit of a command's work (a file, a batch)."""
        self.committed.setdefault(kind, []).append(item)

    @classmethod
    def connect(cls, settings: Settings | None = None) -> Graph:
        settings = settings or load_settings()
        return cls(open_driver(settings), settings.neo4j.database)

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def bookmark_values(self) -> list[str]:
        """The bookmarks of every transaction this object committed so far, as text to hand
        to another process."""
        return sorted(self.bookmarks.get_bookmarks())

    def include_bookmarks(self, values: Iterable[str]) -> None:
        """Make this object's next transactions wait until the server has applied the writes
        these bookmarks (another process's :meth:`bookmark_values`) name."""
        values = list(values)
        if values:
            self.bookmarks.update_bookmarks((), values)

    def write(self, work: Callable[[ManagedTransaction], T]) -> T:
        """Run ``work`` in a managed write transaction (retried on transient errors)."""
        with self.session() as session:
            result = session.execute_write(work)
        self.committed_transactions += 1
        return result

    def run_write(
        self, cypher: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """One parameterised write statement; returns the records as dicts."""
        query = cypher
        return self.write(lambda tx: [record_dict(r) for r in tx.run(query, dict(params or {}))])

    def run_autocommit(self, cypher: str, params: Mapping[str, Any] | None = None) -> None:
        """One statement in an auto-commit transaction: for ``CALL { } IN TRANSACTIONS``."""
        with self.session() as session:
            session.run(cypher, dict(params or {})).consume()

    def wipe(self) -> None:
        """Delete every node and relationship, in bounded transactions.

        Relationships go first: a DETACH DELETE of a hub node (an AS with many thousands of
        relationships) would otherwise hold them all in one transaction's memory.
        """
        self.run_autocommit("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS")
        self.run_autocommit("MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 10000 ROWS")

    def read(
        self,
        cypher: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        metadata: Mapping[str, Any] | None = None,
        values: ValueMode = "driver",
    ) -> list[dict[str, Any]]:
        """One parameterised statement in a read transaction, with an optional timeout.

        ``metadata`` is attached to the transaction (visible in ``SHOW TRANSACTIONS`` and the
        query log), which is how the query library tags each run with the query id.
        ``values`` chooses how the rows' values come back: as the driver gives them, as
        :func:`python_value` or as :func:`json_value`.
        """

        @unit_of_work(timeout=timeout, metadata=dict(metadata) if metadata else None)
        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return [record_dict(r) for r in tx.run(cypher, dict(params or {}))]

        with self.session(default_access_mode=READ_ACCESS) as session:
            rows = session.execute_read(work)
        convert = _CONVERTERS.get(values)
        if convert is None:
            return rows
        return [{key: convert(value) for key, value in row.items()} for row in rows]

    def read_page(
        self,
        cypher: str,
        params: Mapping[str, Any] | None = None,
        *,
        skip: int = 0,
        take: int,
        timeout: float | None = None,
        metadata: Mapping[str, Any] | None = None,
        values: ValueMode = "driver",
    ) -> tuple[list[str], list[dict[str, Any]], bool]:
        """The columns of a read statement, its rows ``skip`` to ``skip + take``, and whether
        more rows follow.

        The driver is asked for only ``skip + take + 1`` rows, so a page of a large result
        costs the rows it shows rather than the whole result's transfer and decoding (the
        driver's per-row decoding, not the server, is what a large result spends its time on).
        """
        if skip < 0 or take < 1:
            raise ValueError("a page needs skip >= 0 and take >= 1")

        @unit_of_work(timeout=timeout, metadata=dict(metadata) if metadata else None)
        def work(tx: ManagedTransaction) -> tuple[list[str], list[dict[str, Any]], bool]:
            result = tx.run(cypher, dict(params or {}))
            rows: list[dict[str, Any]] = []
            for index, record in enumerate(result):
                if index < skip:
                    continue
                if len(rows) == take:
                    return list(result.keys()), rows, True
                rows.append(record_dict(record))
            return list(result.keys()), rows, False

        fetch = min(skip + take + 1, MAX_FETCH_SIZE)
        with self.session(default_access_mode=READ_ACCESS, fetch_size=fetch) as session:
            columns, rows, more = session.execute_read(work)
        convert = _CONVERTERS.get(values)
        if convert is not None:
            rows = [{key: convert(value) for key, value in row.items()} for row in rows]
        return columns, rows, more

    @contextmanager
    def session(self, **kwargs: Any) -> Iterator[Any]:
        """A session on this object's database that follows its bookmarks."""
        with self.driver.session(
            database=self.database, bookmark_manager=self.bookmarks, **kwargs
        ) as session:
            yield session

    def server_version(self) -> str:
        rows = self.read("CALL dbms.components() YIELD versions RETURN versions[0] AS v")
        return str(rows[0]["v"])
