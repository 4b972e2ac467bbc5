"""What every command shares: exit codes, JSON output, the graph connection."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from typing import Any

from attribution.db import Graph, python_value
from attribution.settings import load_settings

EXIT_OK = 0
EXIT_REJECTED = 1  # the command ran, but some input was refused (details in the output)
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3  # a needed tool, server or file is missing
EXIT_REFUSED = 4  # a policy refused the action (workflow rules, failed verification)


class CommandError(Exception):
    """A failure to report on one line, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_ENVIRONMENT) -> None:
        super().__init__(message)
        self.code = code


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


@contextmanager
def connect() -> Iterator[Graph]:
    """The graph from the settings; a clear error when nothing answers."""
    from neo4j.exceptions import AuthError, ServiceUnavailable

    settings = load_settings()
    graph = Graph.connect(settings)
    try:
        graph.driver.verify_connectivity()
    except ServiceUnavailable as exc:
        graph.close()
        where = settings.neo4j.uri or f"127.0.0.1:{settings.neo4j.bolt_port}"
        raise CommandError(
            f"no Neo4j server answers at {where}: run `attribution neo4j start` or set NEO4J_URI"
        ) from exc
    except AuthError as exc:
        graph.close()
        raise CommandError(f"Neo4j refused the credentials: {exc.message}") from exc
    try:
        yield graph
    finally:
        graph.close()
