"""The analyst query library: loading, header validation and read-only execution.

Each query is one ``.cypher`` file under ``queries/<category>/`` that runs unchanged in Neo4j
Browser. It opens with a comment header, one ``// key: value`` line per key, where a value
may go on over lines that start with ``//`` and two or more spaces::

    // id: pivot-shared-address
    // title: Domains sharing an IP address with a domain
    // description: ...
    // params: domain: string — canonical domain name to pivot from
    // params: since: datetime = 1970-01-01T00:00:00Z — only resolutions seen since
    // returns: address, domain, score
    // false_positives: Shared hosting and CDN addresses carry unrelated names.
    // revision: 1

``params`` is repeated once per parameter (``name: type [= default] — meaning``) or is the
single word ``none``. An optional ``// page_limit: limit`` names the ``int`` parameter that only
caps the result's length, so that the first ``k`` rows with it set to ``k`` are the first ``k``
rows with any larger value; a page of such a query asks the server for just the rows up to the
page's end (:func:`page_params`), which lets a plan that walks an index in result order stop.

The header is parsed strictly: unknown keys, missing keys, duplicate ids, parameters used but
not declared (or declared but not used) and labels or relationship types that the schema does
not declare are all errors, so a broken query fails its test instead of misleading an analyst.

Queries run in a read transaction with a timeout and ``{"query_id": id}`` as transaction
metadata; the server refuses any write attempted on this path.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from attribution.db import Graph
from attribution.schema import NODE_BY_LABEL, REL_BY_TYPE

QUERY_DIR = Path(__file__).resolve().parent.parent / "queries"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_PAGE_SIZE = 100
"""Rows in a page of a query's result, unless the caller asks for another size."""

REQUIRED_KEYS = (
    "id",
    "title",
    "description",
    "params",
    "returns",
    "false_positives",
    "revision",
)
OPTIONAL_KEYS = ("page_limit",)
PARAM_TYPES = ("string", "int", "float", "bool", "datetime", "list<string>")

_ID = re.compile(r"^[a-z0-9-]+$")
_KEY_LINE = re.compile(r"^// ([a-z_]+):(?: (.*))?$")
_CONTINUATION = re.compile(r"^//\s{2,}(\S.*)$")
_PARAM = re.compile(
    r"^(?P<name>[a-z_][a-z0-9_]*): (?P<type>[a-z<>]+)(?: = (?P<default>.+?))? — (?P<meaning>\S.*)$"
)
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Strings and comments first, so that "$x" inside a literal or a comment is not a parameter.
_TOKENS = re.compile(
    r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|//[^\n]*|\$([A-Za-z_][A-Za-z0-9_]*)"
    r"|(?<=[:|])\s*([A-Z][A-Za-z0-9_]*)"
)


class QueryError(Exception):
    """Base class for every query-library failure that a user can act on."""


class QueryHeaderError(QueryError):
    """A query file whose header or body breaks the library's rules."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


class QueryParamError(QueryError):
    """A parameter value that is missing, unknown or not of the declared type."""


class UnknownQueryError(QueryError):
    """No query in the library has the requested id."""


@dataclass(frozen=True)
class Param:
    """One declared parameter."""

    name: str
    type: str
    default: str | None
    meaning: str

    @property
    def required(self) -> bool:
        return self.default is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "required": self.required,
            "meaning": self.meaning,
        }


@dataclass(frozen=True)
class Query:
    """One library query: its header and its Cypher body."""

    id: str
    title: str
    description: str
    params: tuple[Param, ...]
    returns: tuple[str, ...]
    false_positives: str
    revision: int
    cypher: str
    path: Path
    category: str
    page_limit: str | None = None

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "title": self.title,
            "description": self.description,
            "params": [p.as_dict() for p in self.params],
            "returns": list(self.returns),
            "false_positives": self.false_positives,
            "revision": self.revision,
            "page_limit": self.page_limit,
            "path": str(self.path),
        }


@dataclass(frozen=True)
class QueryResult:
    """The rows a query returned, in the column order its header declares."""

    query: Query
    params: dict[str, Any]
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]


def _header_lines(text: str, path: Path) -> tuple[dict[str, list[tuple[int, str]]], str, int]:
    """Split a file into header values per key (with line numbers) and the body."""
    lines = text.splitlines()
    values: dict[str, list[tuple[int, str]]] = {}
    current: list[tuple[int, str]] | None = None
    body_start = len(lines)
    for index, line in enumerate(lines):
        number = index + 1
        if not line.startswith("//"):
            body_start = index
            break
        key_match = _KEY_LINE.match(line)
        if key_match:
            key, value = key_match.group(1), (key_match.group(2) or "").strip()
            if key not in REQUIRED_KEYS and key not in OPTIONAL_KEYS:
                raise QueryHeaderError(path, f"unknown header key {key!r}", number)
            if key in values and key != "params":
                raise QueryHeaderError(path, f"header key {key!r} given twice", number)
            current = values.setdefault(key, [])
            current.append((number, value))
            continue
        cont = _CONTINUATION.match(line)
        if cont and current is not None:
            first_line, value = current[-1]
            current[-1] = (first_line, f"{value} {cont.group(1).strip()}".strip())
            continue
        raise QueryHeaderError(
            path,
            "header lines are '// key: value' or continuations starting with '//' and two spaces",
            number,
        )
    body = "\n".join(lines[body_start:]).strip()
    return values, body, body_start + 1


def _parse_params(path: Path, entries: list[tuple[int, str]]) -> tuple[Param, ...]:
    if len(entries) == 1 and entries[0][1] == "none":
        return ()
    params: list[Param] = []
    for number, value in entries:
        if value == "none":
            raise QueryHeaderError(path, "'params: none' cannot stand beside parameters", number)
        match = _PARAM.match(value)
        if not match:
            raise QueryHeaderError(
                path,
                f"parameter must read 'name: type [= default] — meaning', got {value!r}",
                number,
            )
        param = Param(
            match.group("name"), match.group("type"), match.group("default"), match.group("meaning")
        )
        if param.type not in PARAM_TYPES:
            raise QueryHeaderError(
                path,
                f"parameter {param.name}: unknown type {param.type!r} "
                f"(use one of {', '.join(PARAM_TYPES)})",
                number,
            )
        if any(p.name == param.name for p in params):
            raise QueryHeaderError(path, f"parameter {param.name} declared twice", number)
        if param.default is not None:
            try:
                convert_value(param, param.default)
            except QueryParamError as exc:
                raise QueryHeaderError(path, f"default: {exc}", number) from exc
        params.append(param)
    return tuple(params)


def body_references(cypher: str) -> tuple[set[str], set[str]]:
    """The ``$parameters`` and the capitalised label/type names a Cypher body uses."""
    params: set[str] = set()
    names: set[str] = set()
    for match in _TOKENS.finditer(cypher):
        if match.group(1):
            params.add(match.group(1))
        elif match.group(2):
            names.add(match.group(2))
    return params, names


def parse_query(text: str, path: Path | str, category: str = "") -> Query:
    """Parse and validate one query file's text; raise :class:`QueryHeaderError` if broken."""
    path = Path(path)
    values, body, body_line = _header_lines(text, path)
    missing = [key for key in REQUIRED_KEYS if key not in values]
    if missing:
        raise QueryHeaderError(path, f"header lacks {', '.join(missing)}")
    single = {key: entries[0][1] for key, entries in values.items() if key != "params"}
    for key, value in single.items():
        if not value:
            raise QueryHeaderError(path, f"header key {key!r} is empty", values[key][0][0])
    query_id = single["id"]
    if not _ID.match(query_id):
        raise QueryHeaderError(path, f"id {query_id!r} must match ^[a-z0-9-]+$", values["id"][0][0])
    revision_text = single["revision"]
    if not revision_text.isdigit() or int(revision_text) < 1:
        raise QueryHeaderError(
            path,
            f"revision must be a positive integer, got {revision_text!r}",
            values["revision"][0][0],
        )
    returns = tuple(c.strip() for c in single["returns"].split(","))
    if not all(_COLUMN.match(c) for c in returns) or len(set(returns)) != len(returns):
        raise QueryHeaderError(
            path,
            f"returns must be distinct column names separated by commas, got {single['returns']!r}",
            values["returns"][0][0],
        )
    params = _parse_params(path, values["params"])
    if not body:
        raise QueryHeaderError(path, "no Cypher after the header", body_line)
    used, names = body_references(body)
    declared = {p.name for p in params}
    if used - declared:
        raise QueryHeaderError(
            path, f"parameters used but not declared: {', '.join(sorted(used - declared))}"
        )
    if declared - used:
        raise QueryHeaderError(
            path, f"parameters declared but not used: {', '.join(sorted(declared - used))}"
        )
    page_limit = single.get("page_limit")
    if page_limit is not None:
        limit_param = next((p for p in params if p.name == page_limit), None)
        if limit_param is None or limit_param.type != "int":
            raise QueryHeaderError(
                path,
                f"page_limit must name a declared int parameter, got {page_limit!r}",
                values["page_limit"][0][0],
            )
    unknown = names - set(NODE_BY_LABEL) - set(REL_BY_TYPE)
    if unknown:
        raise QueryHeaderError(
            path,
            f"labels or relationship types not in the schema: {', '.join(sorted(unknown))}",
        )
    return Query(
        id=query_id,
        title=single["title"],
        description=single["description"],
        params=params,
        returns=returns,
        false_positives=single["false_positives"],
        revision=int(revision_text),
        cypher=body,
        path=path,
        category=category,
        page_limit=page_limit,
    )


def load_queries(directory: Path | str | None = None) -> dict[str, Query]:
    """Every query under ``directory`` (default: the shipped library), keyed by id."""
    root = Path(directory) if directory is not None else QUERY_DIR
    if not root.is_dir():
        raise QueryError(f"query library {root} is not a directory")
    queries: dict[str, Query] = {}
    for path in sorted(root.rglob("*.cypher")):
        category = path.parent.relative_to(root).as_posix()
        query = parse_query(path.read_text(encoding="utf-8"), path, category)
        if query.id in queries:
            raise QueryHeaderError(
                path, f"id {query.id!r} is already used by {queries[query.id].path}"
            )
        queries[query.id] = query
    return queries


@cache
def _shipped() -> dict[str, Query]:
    return load_queries(QUERY_DIR)


def list_queries(directory: Path | str | None = None) -> list[Query]:
    """The library's queries, sorted by category and id."""
    queries = _shipped() if directory is None else load_queries(directory)
    return sorted(queries.values(), key=lambda q: (q.category, q.id))


def get_query(query_id: str, directory: Path | str | None = None) -> Query:
    queries = _shipped() if directory is None else load_queries(directory)
    try:
        return queries[query_id]
    except KeyError:
        raise UnknownQueryError(
            f"no query {query_id!r} in the library (see `attribution query list`)"
        ) from None


_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def _parse_datetime(name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise QueryParamError(
            f"parameter {name}: expected an ISO 8601 date or time such as "
            f"2026-09-15T00:00:00Z, got {raw!r}"
        ) from None
    # A bare date or a time without offset is read as UTC, as the graph stores times in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def convert_value(param: Param, raw: Any) -> Any:
    """``raw`` (a command-line string, or an already typed value) as the declared type."""
    name, kind = param.name, param.type
    if isinstance(raw, str):
        text = raw.strip()
        if kind == "string":
            return raw
        if kind == "int":
            try:
                return int(text)
            except ValueError:
                raise QueryParamError(
                    f"parameter {name}: expected an integer, got {raw!r}"
                ) from None
        if kind == "float":
            try:
                number = float(text)
            except ValueError:
                raise QueryParamError(f"parameter {name}: expected a number, got {raw!r}") from None
            if not math.isfinite(number):
                raise QueryParamError(f"parameter {name}: expected a finite number, got {raw!r}")
            return number
        if kind == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise QueryParamError(f"parameter {name}: expected true or false, got {raw!r}")
        if kind == "datetime":
            return _parse_datetime(name, text)
        if kind == "list<string>":
            if text.startswith("["):
                try:
                    items = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise QueryParamError(
                        f"parameter {name}: not a JSON list of strings ({exc.msg}): {raw!r}"
                    ) from None
                if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                    raise QueryParamError(
                        f"parameter {name}: expected a list of strings, got {raw!r}"
                    )
                return items
            return [item.strip() for item in text.split(",") if item.strip()]
        raise QueryParamError(f"parameter {name}: unknown type {kind!r}")
    # Typed values from Python callers are checked, not coerced.
    ok = {
        "string": lambda v: False,
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "datetime": lambda v: isinstance(v, datetime) and v.tzinfo is not None,
        "list<string>": lambda v: (
            isinstance(v, list | tuple) and all(isinstance(i, str) for i in v)
        ),
    }[kind]
    if not ok(raw):
        raise QueryParamError(
            f"parameter {name}: expected {kind}, got {type(raw).__name__} {raw!r}"
        )
    if kind == "float":
        return float(raw)
    if kind == "list<string>":
        return list(raw)
    return raw


def bind_params(query: Query, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Declared parameters with defaults filled in and values converted to their types."""
    given = dict(given or {})
    unknown = sorted(set(given) - {p.name for p in query.params})
    if unknown:
        declared = ", ".join(p.name for p in query.params) or "none"
        raise QueryParamError(
            f"query {query.id} has no parameter {', '.join(unknown)} (it takes: {declared})"
        )
    bound: dict[str, Any] = {}
    for param in query.params:
        if param.name in given:
            bound[param.name] = convert_value(param, given[param.name])
        elif param.default is not None:
            bound[param.name] = convert_value(param, param.default)
        else:
            raise QueryParamError(
                f"query {query.id} needs parameter {param.name} ({param.type}: {param.meaning})"
            )
    return bound


def run_read_only(
    graph: Graph,
    cypher: str,
    params: Mapping[str, Any],
    *,
    query_id: str,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> list[dict[str, Any]]:
    """Run Cypher in a read transaction tagged with the query id; writes fail on the server."""
    return graph.read(
        cypher, params, timeout=timeout, metadata={"query_id": query_id}, values="python"
    )


def run_query(
    graph: Graph,
    query_id: str,
    params: Mapping[str, Any] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    directory: Path | str | None = None,
) -> QueryResult:
    """Run a library query by id, read-only, with its parameters bound and a timeout."""
    query = get_query(query_id, directory)
    bound = bind_params(query, params)
    rows = run_read_only(graph, query.cypher, bound, query_id=query.id, timeout=timeout)
    return QueryResult(query=query, params=bound, columns=query.returns, rows=rows)


@dataclass(frozen=True)
class QueryPage(QueryResult):
    """One page of a query's rows, and whether more rows follow it."""

    more: bool


def page_params(query: Query, bound: Mapping[str, Any], offset: int, size: int) -> dict[str, Any]:
    """The parameters to read rows ``offset`` to ``offset + size`` (and whether one follows)
    with: ``bound`` with the query's ``page_limit`` parameter lowered to ``offset + size + 1``
    when it asks for more. The rows of the page are the same; the server sorts and reads
    only what the page needs."""
    params = dict(bound)
    name = query.page_limit
    if name is not None and isinstance(params.get(name), int):
        params[name] = min(params[name], offset + size + 1)
    return params


def run_query_page(
    graph: Graph,
    query_id: str,
    params: Mapping[str, Any] | None = None,
    *,
    offset: int = 0,
    size: int = DEFAULT_PAGE_SIZE,
    timeout: float = DEFAULT_TIMEOUT_S,
    directory: Path | str | None = None,
) -> QueryPage:
    """Rows ``offset`` to ``offset + size`` of a library query, as an analyst pages through
    it (the service's query pages); reading a page costs its rows, not the whole result."""
    query = get_query(query_id, directory)
    bound = bind_params(query, params)
    _, rows, more = graph.read_page(
        query.cypher,
        page_params(query, bound, offset, size),
        skip=offset,
        take=size,
        timeout=timeout,
        metadata={"query_id": query.id},
        values="python",
    )
    return QueryPage(query=query, params=bound, columns=query.returns, rows=rows, more=more)


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """``key=value`` strings from the command line as a dict; a key may be given once."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise QueryParamError(f"parameter {pair!r} must read key=value")
        if key in out:
            raise QueryParamError(f"parameter {key} given twice")
        out[key] = value
    return out
