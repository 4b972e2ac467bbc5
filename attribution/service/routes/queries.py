"""``/api/v1/queries`` and ``/api/v1/cypher``: analysts run the query library and read-only
ad-hoc Cypher.

Every statement runs in a read transaction (so the server refuses any write) with the
service's timeout, and its rows are streamed: a page or the row cap is read and the rest
never leaves the server.

Library runs page with an opaque cursor: base64url JSON of the next row's offset and a hash
of the query id, revision and bound parameters, so a cursor given with other parameters is
refused instead of paging through a different answer. The output is JSON, or CSV
(``format=csv`` or ``Accept: text/csv``) with the next cursor in ``X-Next-Cursor``.

Ad-hoc Cypher is first planned with ``EXPLAIN`` and refused when the plan reaches outside
the graph or touches other sessions: ``LOAD CSV``, transaction and settings commands, and
procedures or functions that load, import, export, run other Cypher or manage the server
(:data:`REFUSED_OPERATORS`, :data:`REFUSED_PREFIXES`). Values reach it only as parameters.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from neo4j import READ_ACCESS
from neo4j.exceptions import ClientError, Neo4jError, ServiceUnavailable, SessionExpired
from pydantic import BaseModel, ConfigDict, Field

from attribution.db import Graph, json_value
from attribution.queries import (
    Query as LibraryQuery,
)
from attribution.queries import (
    QueryParamError,
    UnknownQueryError,
    bind_params,
    convert_value,
    get_query,
    list_queries,
    page_params,
)
from attribution.service.auth import context, require
from attribution.service.errors import ApiError
from attribution.service.principals import Principal

router = APIRouter(tags=["queries"])

MAX_CYPHER_CHARS = 20_000
REFUSED_OPERATORS = ("LoadCSV", "ShowTransactions", "ShowSettings", "Terminate")
"""Plan operators (by prefix) ad-hoc Cypher may not use: files and URLs, other sessions'
transactions, the server's settings."""
REFUSED_PREFIXES = (
    "apoc.load.",
    "apoc.import.",
    "apoc.export.",
    "apoc.cypher.",
    "apoc.periodic.",
    "apoc.trigger.",
    "apoc.systemdb.",
    "apoc.log.",
    "dbms.",
    "tx.",
)
"""Procedures and functions ad-hoc Cypher may not call (matched in the plan's details)."""


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    params: dict[str, Any] = Field(default_factory=dict, description="the query's parameters")
    limit: int | None = Field(default=None, ge=1, description="rows per page")
    cursor: str | None = Field(default=None, max_length=1000, description="from next_cursor")


class CypherRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Checked in the handler, so that a refusal names the field "query" (the error handler
    # reads a field of that name as the query string's location).
    query: str = Field(json_schema_extra={"minLength": 1, "maxLength": MAX_CYPHER_CHARS})
    params: dict[str, Any] = Field(default_factory=dict, description="values for $names")


def _bad(status: int, field: str, reason: str) -> ApiError:
    return ApiError(status, f"{field}: {reason}", details=[{"field": field, "reason": reason}])


def check_integers(value: Any, field: str) -> None:
    """422 naming the field when a value holds an integer the graph cannot (beyond 64 bits)."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_integers(item, f"{field}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_integers(item, f"{field}[{index}]")
    elif isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise _bad(422, field, "integers must fit in a signed 64-bit integer")


def stream_rows(
    graph: Graph,
    cypher: str,
    params: Mapping[str, Any],
    *,
    skip: int,
    take: int,
    timeout: float,
    metadata: Mapping[str, Any],
) -> tuple[list[str], list[dict[str, Any]], bool]:
    """(columns, rows ``skip`` to ``skip + take`` as JSON data, whether more follow), read
    in a read transaction that pulls only the rows it needs."""
    return graph.read_page(
        cypher, params, skip=skip, take=take, timeout=timeout, metadata=metadata, values="json"
    )


def server_refusal(exc: Exception) -> ApiError:
    """A graph failure as the caller's answer, with the server's first line."""
    if isinstance(exc, ServiceUnavailable | SessionExpired):
        return ApiError(503, "the graph is unavailable; try again later", code="unavailable")
    if not isinstance(exc, Neo4jError):
        return ApiError(503, "the graph failed to answer", code="unavailable")
    code = exc.code or ""
    line = next(iter((exc.message or code).strip().splitlines()), code)
    if code == "Neo.ClientError.Statement.AccessMode":
        return ApiError(403, "the query writes to the graph; only reading is allowed here")
    if "TransactionTimedOut" in code or code.endswith("Transaction.Terminated"):
        return ApiError(504, "the query ran past the service's time limit", code="timeout")
    if isinstance(exc, ClientError):
        return ApiError(400, f"the graph refused the query: {line}")
    return ApiError(503, f"the graph failed to answer: {line}", code="unavailable")


# --- the library ---------------------------------------------------------------------------


def _library_query(query_id: str) -> LibraryQuery:
    try:
        return get_query(query_id)
    except UnknownQueryError as exc:
        raise ApiError(404, str(exc)) from exc


def _bind(query: LibraryQuery, given: Mapping[str, Any]) -> dict[str, Any]:
    """The bound parameters; 422 naming the parameter that is unknown, missing or wrong."""
    try:
        return bind_params(query, given)
    except QueryParamError as exc:
        declared = {p.name: p for p in query.params}
        field = next((name for name in given if name not in declared), None)
        for param in query.params:
            if field is not None:
                break
            if param.name not in given and param.required:
                field = param.name
            elif param.name in given:
                try:
                    convert_value(param, given[param.name])
                except QueryParamError:
                    field = param.name
        raise _bad(422, f"params.{field}" if field else "params", str(exc)) from exc


def _fingerprint(query: LibraryQuery, bound: Mapping[str, Any]) -> str:
    text = json.dumps([query.id, query.revision, json_value(dict(bound))], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def encode_cursor(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "h": fingerprint}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> int:
    """The offset a cursor points at; 400 when it is not one, or was made for other
    parameters or another query."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        offset, made_for = data["o"], data["h"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise _bad(400, "cursor", "not a cursor this service gave") from None
    if made_for != fingerprint or not isinstance(offset, int) or offset < 0:
        raise _bad(400, "cursor", "the cursor belongs to another query or other parameters")
    return offset


def _cell(value: Any) -> str:
    """A JSON value as CSV text: null empty, booleans lower case, lists and maps as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


@router.get("/queries", summary="The named query library, with each query's parameters")
def library(_: Principal = Depends(require("queries.run"))) -> dict[str, Any]:  # noqa: B008
    return {"queries": [q.as_dict() for q in list_queries()]}


@router.post(
    "/queries/{query_id}/run",
    summary="Run a library query, read-only, a page at a time (JSON or CSV)",
    response_model=None,
)
def run_library_query(
    query_id: str,
    request: Request,
    body: RunRequest | None = None,
    format: Literal["json", "csv"] | None = Query(None, description="default: from Accept"),
    principal: Principal = Depends(require("queries.run")),  # noqa: B008
) -> Response:
    ctx = context(request)
    body = body or RunRequest()
    query = _library_query(query_id)
    bound = _bind(query, body.params)
    check_integers(bound, "params")
    fingerprint = _fingerprint(query, bound)
    offset = decode_cursor(body.cursor, fingerprint) if body.cursor else 0
    size = min(body.limit or ctx.config.page_size, ctx.config.max_page_size)
    metadata = {"query_id": query.id, "principal": principal.name}
    try:
        _, rows, more = stream_rows(
            ctx.graph,
            query.cypher,
            page_params(query, bound, offset, size),
            skip=offset,
            take=size,
            timeout=ctx.config.cypher_timeout_s,
            metadata=metadata,
        )
    except (Neo4jError, ServiceUnavailable, SessionExpired) as exc:
        raise server_refusal(exc) from exc
    columns = list(query.returns)
    following = encode_cursor(offset + len(rows), fingerprint) if more else None
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    if wants_csv:
        headers = {"X-Next-Cursor": following} if following else {}
        return Response(_csv(columns, rows), media_type="text/csv", headers=headers)
    return JSONResponse(
        {
            "query": query.id,
            "revision": query.revision,
            "params": json_value(bound),
            "columns": columns,
            "rows": rows,
            "next_cursor": following,
        }
    )


# --- ad-hoc Cypher -------------------------------------------------------------------------


def _plan_steps(plan: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(operator, details) of every step of a plan, the operator without its ``@db``."""
    args = plan.get("args") or plan.get("arguments") or {}
    steps = [(str(plan.get("operatorType", "")).split("@")[0], str(args.get("Details", "")))]
    for child in plan.get("children", []):
        steps.extend(_plan_steps(child))
    return steps


def refuse_outside_graph(graph: Graph, cypher: str, params: Mapping[str, Any]) -> None:
    """Plan the statement (``EXPLAIN``, nothing runs) and refuse it (403) when it reaches
    outside the graph; a statement the server cannot parse is a 400 with its message."""
    with graph.session(default_access_mode=READ_ACCESS) as session:
        summary = session.run(f"EXPLAIN {cypher}", dict(params)).consume()
    for operator, details in _plan_steps(summary.plan or {}):
        if operator.startswith(REFUSED_OPERATORS):
            raise ApiError(403, f"ad-hoc Cypher may not use {operator} here")
        lowered = details.lower()
        refused = next((p for p in REFUSED_PREFIXES if p in lowered), None)
        if refused:
            raise ApiError(403, f"ad-hoc Cypher may not call {refused}* procedures or functions")


@router.post("/cypher", summary="Run read-only ad-hoc Cypher with a timeout and a row cap")
def run_cypher(
    body: CypherRequest,
    request: Request,
    principal: Principal = Depends(require("cypher.run")),  # noqa: B008
) -> dict[str, Any]:
    if not body.query.strip() or len(body.query) > MAX_CYPHER_CHARS:
        raise _bad(422, "query", f"must be 1 to {MAX_CYPHER_CHARS} characters of Cypher")
    check_integers(body.params, "params")
    ctx = context(request)
    cap = ctx.config.cypher_row_cap
    try:
        refuse_outside_graph(ctx.graph, body.query, body.params)
        columns, rows, more = stream_rows(
            ctx.graph,
            body.query,
            body.params,
            skip=0,
            take=cap,
            timeout=ctx.config.cypher_timeout_s,
            metadata={"adhoc": True, "principal": principal.name},
        )
    except (Neo4jError, ServiceUnavailable, SessionExpired) as exc:
        raise server_refusal(exc) from exc
    return {"columns": columns, "rows": rows, "truncated": more, "row_cap": cap}
