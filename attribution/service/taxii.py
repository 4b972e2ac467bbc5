"""TAXII 2.1, read-only, at ``/taxii2/``: discovery, one API root (``/taxii2/api/``) and the
collections of :mod:`attribution.service.taxii_objects`.

Every request must accept ``application/taxii+json;version=2.1`` (or ``application/taxii+json``,
which means the same here): any other Accept, or none, is answered 406. Every answer, errors
included, is ``application/taxii+json;version=2.1``; an error is TAXII's error message
(``title``, ``description``, ``http_status``), never the service's JSON error body.

Callers are the service's principals, and reading needs the ``taxii.read`` right (analyst,
reviewer, auditor). The token goes in ``Authorization: Bearer <token>``, or in HTTP Basic as
the password with the principal's name as the user name (a name that is not the token's
principal is refused), for TAXII clients that only speak Basic. 401 without valid
credentials, 403 for a role without the right, 429 past the token's rate.

Objects come a page at a time, in the order (date added, id): ``limit`` (default the
service's ``page_size``, at most ``max_page_size``), and ``next``, an opaque cursor naming the
last object of the previous page. ``added_after``, ``match[id]``, ``match[type]``,
``match[version]`` and ``match[spec_version]`` filter as the specification says.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBasic, HTTPBearer
from neo4j.exceptions import ServiceUnavailable, SessionExpired
from starlette.requests import HTTPConnection
from starlette.routing import Match

from attribution.service.auth import authenticate_token, check_right, context
from attribution.service.errors import ApiError
from attribution.service.principals import Principal
from attribution.service.taxii_objects import (
    COLLECTIONS,
    STIX_MEDIA_TYPE,
    Collection,
    Entry,
    find_collection,
    parse_time,
    stix_time,
)

__all__ = ["TAXII_MEDIA_TYPE", "router"]

log = logging.getLogger("attribution.service")

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
API_ROOT = "/taxii2/api/"
RIGHT = "taxii.read"


def taxii_json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status, headers=headers, media_type=TAXII_MEDIA_TYPE)


def taxii_error(status: int, description: str, headers: dict[str, str] | None = None) -> Response:
    """TAXII's error message for ``status``."""
    body = {
        "title": HTTPStatus(status).phrase,
        "description": description,
        "http_status": str(status),
    }
    return taxii_json(body, status, headers)


class TaxiiRoute(APIRoute):
    """A route whose every failure, in its dependencies too, answers in TAXII's format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return taxii_error(exc.status, exc.message, exc.headers)
            except RequestValidationError as exc:
                reasons = [str(err.get("msg", "invalid")) for err in exc.errors()]
                return taxii_error(400, f"the request is not valid: {'; '.join(reasons)}")
            except (ServiceUnavailable, SessionExpired):
                log.warning("TAXII %s: the graph is unavailable", request.url.path)
                return taxii_error(503, "the graph is unavailable; try again later")

        return guarded


# Both schemes are documented in the OpenAPI document; the header is read by _credentials.
_bearer_doc = HTTPBearer(auto_error=False, description="a token the service made")


class _BasicDoc(HTTPBasic):
    async def __call__(self, request: HTTPConnection) -> None:
        return None


_basic_doc = _BasicDoc(
    scheme_name="HTTPBasic",
    auto_error=False,
    description="the principal's name as user name, its token as password",
)
_CHALLENGE = 'Bearer realm="taxii", Basic realm="taxii"'


def _accepts_taxii(accept: str) -> bool:
    """Whether the Accept header names TAXII 2.1 (``application/taxii+json``, with no version
    or version 2.1, and not with q=0)."""
    for item in accept.split(","):
        media, *params = [part.strip().lower() for part in item.split(";")]
        values = {key.strip(): value for key, _, value in (p.partition("=") for p in params)}
        if media != "application/taxii+json" or values.get("q", "1").strip() in ("0", "0.0"):
            continue
        if values.get("version", "2.1").strip().strip('"') == "2.1":
            return True
    return False


def _credentials(header: str | None) -> tuple[str | None, str | None, str]:
    """(token, user name or None, scheme) from the Authorization header."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None, None, "Bearer"
    if scheme.lower() != "basic":
        return None, None, "Bearer"
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(
            401, "the Basic credentials are not base64 of user:password", headers=_basic()
        ) from None
    if not sep:
        raise ApiError(401, "the Basic credentials have no password", headers=_basic())
    return password or None, user, "Basic"


def _basic() -> dict[str, str]:
    return {"WWW-Authenticate": 'Basic realm="taxii"'}


def taxii_reader(
    request: Request,
    _bearer: Any = Depends(_bearer_doc),  # noqa: B008
    _basic_auth: Any = Depends(_basic_doc),  # noqa: B008
) -> Principal:
    """The principal holding ``taxii.read``, for a request that accepts TAXII 2.1."""
    if not _accepts_taxii(request.headers.get("accept", "")):
        raise ApiError(406, f"send Accept: {TAXII_MEDIA_TYPE}; this server speaks TAXII 2.1 only")
    token, user, scheme = _credentials(request.headers.get("authorization"))
    if token is None:
        raise ApiError(
            401,
            "send Authorization: Bearer <token>, or Basic with the token as password",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    try:
        principal = authenticate_token(context(request), token)
    except ApiError as exc:
        if exc.status == 401 and scheme == "Basic":
            exc.headers = _basic()
        raise
    if user is not None and user != principal.name:
        raise ApiError(
            401, f"the user name {user!r} is not the token's principal", headers=_basic()
        )
    check_right(principal, RIGHT, "read TAXII")
    request.state.principal = principal
    return principal


router = APIRouter(
    prefix="/taxii2",
    tags=["taxii"],
    route_class=TaxiiRoute,
    dependencies=[Depends(taxii_reader)],
)


@dataclass(frozen=True)
class Selection:
    """What a request asks for: the filters, the page size and where the page starts."""

    limit: int
    after: tuple[datetime, str] | None = None
    added_after: datetime | None = None
    ids: frozenset[str] | None = None
    types: frozenset[str] | None = None
    versions: frozenset[str] = frozenset({"last"})
    spec_versions: frozenset[str] | None = None

    def admits(self, entry: Entry) -> bool:
        """Whether the entry passes every filter (each object holds one version here, so
        ``last``, ``first`` and ``all`` all admit it)."""
        if self.added_after is not None and entry.date_added <= self.added_after:
            return False
        if self.ids is not None and entry.id not in self.ids:
            return False
        if self.types is not None and entry.type not in self.types:
            return False
        if self.spec_versions is not None and entry.spec_version not in self.spec_versions:
            return False
        if self.versions & {"last", "first", "all"}:
            return True
        return any(parse_time(v) == entry.version for v in self.versions)

    def page(self, entries: Sequence[Entry]) -> tuple[list[Entry], bool]:
        """The page of admitted entries after the cursor, and whether more follow."""
        chosen = [e for e in entries if self.admits(e) and (not self.after or e.place > self.after)]
        return chosen[: self.limit], len(chosen) > self.limit


def _cursor(entry: Entry) -> str:
    text = json.dumps([stix_time(entry.date_added), entry.id])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _read_cursor(text: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        when, object_id = json.loads(raw)
        return parse_time(when), str(object_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise ApiError(400, f"next={text[:80]!r} is not a cursor this server gave") from None


def _words(text: str | None) -> frozenset[str] | None:
    if text is None:
        return None
    return frozenset(w.strip() for w in text.split(",") if w.strip())


def _time(name: str, text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError:
        raise ApiError(
            400, f"{name}={text[:80]!r} is not a timestamp such as 2026-03-12T11:30:00Z"
        ) from None


def _limit(request: Request, text: str | None) -> int:
    config = context(request).config
    if text is None:
        return min(config.page_size, config.max_page_size)
    if not re.fullmatch(r"[0-9]{1,9}", text.strip()) or int(text) < 1:
        raise ApiError(400, f"limit={text[:80]!r} must be a whole number of at least 1")
    return min(int(text), config.max_page_size)


def _versions(text: str | None) -> frozenset[str]:
    words = _words(text) or frozenset({"last"})
    for word in words - {"last", "first", "all"}:
        _time("match[version]", word)
    return words


AddedAfter = Annotated[
    str | None, Query(description="only objects added after this time (RFC 3339, UTC)")
]
Limit = Annotated[str | None, Query(description="objects per page (at most max_page_size)")]
Next = Annotated[str | None, Query(alias="next", description="the cursor of the previous page")]
MatchId = Annotated[str | None, Query(alias="match[id]", description="ids, comma-separated")]
MatchType = Annotated[str | None, Query(alias="match[type]", description="STIX types")]
MatchVersion = Annotated[
    str | None, Query(alias="match[version]", description="last, first, all or timestamps")
]
MatchSpec = Annotated[str | None, Query(alias="match[spec_version]", description="e.g. 2.1")]


def selection(
    request: Request,
    added_after: AddedAfter = None,
    limit: Limit = None,
    cursor: Next = None,
    match_id: MatchId = None,
    match_type: MatchType = None,
    match_version: MatchVersion = None,
    match_spec_version: MatchSpec = None,
) -> Selection:
    """The request's filters and page, checked (400 naming the parameter when wrong)."""
    return Selection(
        limit=_limit(request, limit),
        after=_read_cursor(cursor) if cursor is not None else None,
        added_after=_time("added_after", added_after) if added_after is not None else None,
        ids=_words(match_id),
        types=_words(match_type),
        versions=_versions(match_version),
        spec_versions=_words(match_spec_version),
    )


def _page_headers(page: Sequence[Entry]) -> dict[str, str]:
    if not page:
        return {}
    return {
        "X-TAXII-Date-Added-First": stix_time(page[0].date_added),
        "X-TAXII-Date-Added-Last": stix_time(page[-1].date_added),
    }


def _paged(
    entries: Sequence[Entry], chosen: Selection, key: str, item: Callable[[Entry], Any]
) -> JSONResponse:
    """A page of ``entries`` as ``{"more", "next", key: [...]}`` with the date headers."""
    page, more = chosen.page(entries)
    body: dict[str, Any] = {"more": more}
    if more:
        body["next"] = _cursor(page[-1])
    if page:
        body[key] = [item(entry) for entry in page]
    return taxii_json(body, headers=_page_headers(page))


def _collection(collection_id: str) -> Collection:
    found = find_collection(collection_id)
    if found is None:
        raise ApiError(404, f"no collection {collection_id[:80]!r} in this API root")
    return found


def _object_entries(request: Request, collection: Collection, object_id: str) -> list[Entry]:
    entries = [e for e in collection.entries(context(request).graph) if e.id == object_id]
    if not entries:
        raise ApiError(404, f"no object {object_id[:120]!r} in collection {collection.alias}")
    return entries


def _manifest_item(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "date_added": stix_time(entry.date_added),
        "version": entry.version_text,
        "media_type": STIX_MEDIA_TYPE,
    }


Chosen = Annotated[Selection, Depends(selection)]


@router.get("/", summary="TAXII discovery")
def discovery() -> JSONResponse:
    return taxii_json(
        {
            "title": "attribution service",
            "description": "Approved actions and reported indicators, read-only, as STIX 2.1.",
            "default": API_ROOT,
            "api_roots": [API_ROOT],
        }
    )


@router.get("/api/", summary="The API root")
def api_root(request: Request) -> JSONResponse:
    return taxii_json(
        {
            "title": "attribution",
            "description": "The collections this service publishes.",
            "versions": [TAXII_MEDIA_TYPE],
            "max_content_length": context(request).config.max_body_bytes,
        }
    )


@router.get("/api/collections/", summary="The collections")
def collections() -> JSONResponse:
    return taxii_json({"collections": [c.info() for c in COLLECTIONS]})


@router.get("/api/collections/{collection_id}/", summary="One collection")
def collection_info(collection_id: str) -> JSONResponse:
    return taxii_json(_collection(collection_id).info())


@router.get("/api/collections/{collection_id}/objects/", summary="A page of objects")
def get_objects(collection_id: str, request: Request, chosen: Chosen) -> JSONResponse:
    entries = _collection(collection_id).entries(context(request).graph)
    return _paged(entries, chosen, "objects", lambda e: e.obj)


@router.post("/api/collections/{collection_id}/objects/", summary="Refused: read-only")
def add_objects(collection_id: str) -> JSONResponse:
    collection = _collection(collection_id)
    raise ApiError(403, f"the collection {collection.alias} is read-only (can_write is false)")


@router.get("/api/collections/{collection_id}/objects/{object_id}/", summary="One object")
def get_object(
    collection_id: str, object_id: str, request: Request, chosen: Chosen
) -> JSONResponse:
    entries = _object_entries(request, _collection(collection_id), object_id)
    return _paged(entries, chosen, "objects", lambda e: e.obj)


@router.delete("/api/collections/{collection_id}/objects/{object_id}/", summary="Refused")
def delete_object(collection_id: str, object_id: str) -> JSONResponse:
    collection = _collection(collection_id)
    raise ApiError(403, f"the collection {collection.alias} is read-only (can_write is false)")


@router.get(
    "/api/collections/{collection_id}/objects/{object_id}/versions/",
    summary="The versions of one object",
)
def object_versions(
    collection_id: str, object_id: str, request: Request, chosen: Chosen
) -> JSONResponse:
    entries = _object_entries(request, _collection(collection_id), object_id)
    return _paged(entries, chosen, "versions", lambda e: e.version_text)


@router.get("/api/collections/{collection_id}/manifest/", summary="A page of the manifest")
def manifest(collection_id: str, request: Request, chosen: Chosen) -> JSONResponse:
    entries = _collection(collection_id).entries(context(request).graph)
    return _paged(entries, chosen, "objects", _manifest_item)


@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
def elsewhere(rest: str, request: Request) -> JSONResponse:
    """Any other path under /taxii2/: 405 for a known resource, else 404."""
    allowed = sorted(
        method
        for route in router.routes
        if isinstance(route, APIRoute)
        and route.path != "/taxii2/{rest:path}"
        and route.matches(request.scope)[0] is Match.PARTIAL
        for method in route.methods or ()
    )
    if allowed:
        raise ApiError(
            405,
            f"{request.method} is not allowed here; use {', '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )
    raise ApiError(404, f"no TAXII resource at /taxii2/{rest[:120]} (TAXII paths end with /)")
