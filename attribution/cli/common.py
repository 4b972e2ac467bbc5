"""What every command shares: exit codes, JSON output, the graph connection."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from typing import Any

from attribution.db import Graph, python_value
from attribution.settings import Settings, load_settings

EXIT_OK = 0
EXIT_REJECTED = 1  # the command ran, but some input was refused (details in the output)
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3  # a needed tool, server or file is missing
EXIT_REFUSED = 4  # a policy refused the action (workflow rules, failed verification)


class CommandError(Exception):
    """A failure to report on one line, with its exit code; ``summary``, when given, is
    printed as the ``--json`` output of the command that failed."""

    def __init__(
        self, message: str, code: int = EXIT_ENVIRONMENT, summary: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.summary = summary


def _default(value: Any) -> Any:
    value = python_value(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, default=_default, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")


def to_json(payload: Any) -> str:
    return json.dumps(payload, default=_default, sort_keys=True, ensure_ascii=False)


def _server(settings: Settings) -> str:
    return settings.neo4j.uri or f"bolt://127.0.0.1:{settings.neo4j.bolt_port}"


def _unavailable(settings: Settings, graph: Graph, exc: Exception) -> CommandError:
    """The one-line error, and the summary of what had committed, when the server is gone."""
    where = _server(settings)
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    done = graph.committed_transactions
    summary: dict[str, Any] = {
        "error": "neo4j-unavailable",
        "server": where,
        "reason": reason,
        "retry_seconds": settings.neo4j.retry_seconds,
        "committed_transactions": done,
        "committed": graph.committed,
    }
    return CommandError(
        f"the Neo4j server at {where} is unavailable ({reason}); {done} write transactions "
        "had committed. Start it (`attribution neo4j start`, or check NEO4J_URI) and run the "
        "command again",
        EXIT_ENVIRONMENT,
        summary,
    )


@contextmanager
def connect() -> Iterator[Graph]:
    """The graph from the settings; a clear error when nothing answers, at the start or at
    any point before the command is done (the driver retries for
    ``ATTRIBUTION_NEO4J_RETRY_SECONDS`` first)."""
    from neo4j.exceptions import AuthError, ServiceUnavailable, SessionExpired

    settings = load_settings()
    graph = Graph.connect(settings)
    try:
        graph.driver.verify_connectivity()
        yield graph
    except (ServiceUnavailable, SessionExpired) as exc:
        raise _unavailable(settings, graph, exc) from exc
    except AuthError as exc:
        raise CommandError(f"Neo4j refused the credentials: {exc.message}") from exc
    finally:
        graph.close()
