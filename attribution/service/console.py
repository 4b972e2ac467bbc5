"""The reviewer console: server-rendered pages at ``/console/`` for the people who read and
decide approval requests.

- ``/console/login`` takes a principal's token once and opens a server-side session; the
  browser holds only a random session id (cookie ``attribution_console``: HttpOnly,
  SameSite=Strict, Path=/console), never the token. A session lasts
  :data:`SESSION_LIFETIME`, ends on logout or when the service stops, and every request
  checks again that its principal is still live (not revoked, not expired).
- Who may sign in: the roles holding ``approvals.read`` (analyst, reviewer, auditor). The
  decide form is shown, and its POST accepted, only for ``approvals.decide`` (reviewers).
- Every form carries a CSRF token: the session's own for signed-in forms, and for the login
  form a nonce that must match a SameSite=Strict cookie set with it.
- A decision goes through :func:`attribution.service.workflow.service_decide`, the same
  function as the API, with the report digest the page showed; the workflow's refusals are
  shown on the page with 409 (refused), 404 (no such request) or 503 (audit unavailable).
- Pages use no external assets and no scripts; each answer carries a strict
  Content-Security-Policy. The report itself is today's HTML rendering
  (:func:`attribution.reports.html.render_html`) at ``/console/requests/{id}/report``,
  embedded in the request page.

Failures reach the browser as HTML pages through :class:`ConsoleRoute`, never as JSON or a
traceback: authentication and rights are dependencies that raise :class:`ConsolePage`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from attribution.approvals import (
    OUTCOMES,
    UnknownRequest,
    WorkflowRefusal,
    get_request,
    list_requests,
)
from attribution.audit import AuditError
from attribution.service.auth import authenticate_token, context
from attribution.service.context import ServiceContext
from attribution.service.errors import ApiError
from attribution.service.principals import RIGHTS, Principal, PrincipalError
from attribution.service.reports import NotGrounded, report_store
from attribution.service.workflow import service_decide
from attribution.templating import strict_environment

__all__ = ["SESSION_LIFETIME", "ConsoleSession", "SessionStore", "router", "start", "stop"]

PREFIX = "/console"
SESSION_COOKIE = "attribution_console"
LOGIN_COOKIE = "attribution_console_login"
SESSION_LIFETIME = timedelta(hours=8)
RECENT_DECIDED = 20
"""How many decided requests the queue page lists below the open ones."""
MAX_REASON = 4000

PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
    "frame-ancestors 'self'; base-uri 'none'"
)
"""The report page may be framed by the console's own request page, and by nothing else."""

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_SESSIONS_LOCK = threading.Lock()


# --- sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in browser: the principal's name and role, and the session's CSRF token."""

    sid: str
    name: str
    role: str
    csrf: str
    expires_at: datetime

    def can(self, right: str) -> bool:
        return self.role in RIGHTS.get(right, frozenset())


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


class SessionStore:
    """Open sessions by the SHA-256 of their id, in memory, behind one lock."""

    def __init__(self, lifetime: timedelta = SESSION_LIFETIME) -> None:
        self.lifetime = lifetime
        self._sessions: dict[str, ConsoleSession] = {}
        self._lock = threading.Lock()

    def open(self, principal: Principal, now: datetime) -> ConsoleSession:
        """A new session for ``principal`` (expired ones are dropped on the way)."""
        session = ConsoleSession(
            sid=secrets.token_urlsafe(32),
            name=principal.name,
            role=principal.role,
            csrf=secrets.token_urlsafe(32),
            expires_at=now + self.lifetime,
        )
        with self._lock:
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires_at > now}
            self._sessions[_key(session.sid)] = session
        return session

    def find(self, sid: str, now: datetime) -> ConsoleSession | None:
        with self._lock:
            session = self._sessions.get(_key(sid))
            if session is not None and session.expires_at <= now:
                del self._sessions[_key(sid)]
                return None
            return session

    def close(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(_key(sid), None)

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()


def sessions(ctx: ServiceContext) -> SessionStore:
    """The service's console sessions (made at start, or on first use)."""
    with _SESSIONS_LOCK:
        store = ctx.extensions.get("console_sessions")
        if store is None:
            store = ctx.extensions["console_sessions"] = SessionStore()
    assert isinstance(store, SessionStore)
    return store


def start(ctx: ServiceContext) -> None:
    sessions(ctx)


def stop(ctx: ServiceContext) -> None:
    """Every session ends with the service."""
    sessions(ctx).clear()


# --- pages ---------------------------------------------------------------------------------


def _plain(value: Any) -> str:
    """A report value as one line of text (lists joined, objects as compact JSON)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value) or "none"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _environment() -> Environment:
    env = strict_environment("attribution.service")
    env.filters["plain"] = _plain
    env.globals["past"] = OUTCOMES
    env.globals["base"] = PREFIX
    return env


_ENV = _environment()


def render(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A console page from ``templates/console/<template>``."""
    values.setdefault("me", None)
    page = _ENV.get_template(f"console/{template}").render(**values)
    return HTMLResponse(page, status)


def message_page(status: int, title: str, message: str, me: Visit | None = None) -> HTMLResponse:
    return render("message.html.j2", status, title=title, message=message, me=me)


class ConsolePage(Exception):
    """Answer with a message page (status, title, message) or, with ``location``, a 303."""

    def __init__(
        self,
        status: int,
        title: str,
        message: str = "",
        *,
        location: str | None = None,
        headers: Mapping[str, str] | None = None,
        me: Visit | None = None,
    ) -> None:
        super().__init__(message or title)
        self.status, self.title, self.message = status, title, message
        self.location = location
        self.headers = dict(headers or {})
        self.me = me

    def response(self) -> Response:
        answer: Response
        if self.location is not None:
            answer = RedirectResponse(self.location, 303)
        else:
            answer = message_page(self.status, self.title, self.message, self.me)
        answer.headers.update(self.headers)
        return answer


def _protect(response: Response) -> None:
    for name, value in (
        ("Content-Security-Policy", PAGE_CSP),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
    ):
        response.headers.setdefault(name, value)


def _first_problem(exc: RequestValidationError) -> str:
    for error in exc.errors():
        field = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "path"))
        return f"{field or 'form'}: {error.get('msg', 'invalid')}"
    return "the form is invalid"


class ConsoleRoute(APIRoute):
    """Console routes answer with HTML pages whatever happens, with the security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            response: Response
            try:
                response = await handler(request)
            except ConsolePage as page:
                response = page.response()
            except RequestValidationError as exc:
                response = message_page(400, "The form is incomplete", _first_problem(exc))
            except (ServiceUnavailable, SessionExpired):
                response = message_page(
                    503, "The graph is unavailable", "The service cannot reach Neo4j; try again."
                )
            _protect(response)
            return response

        return console_handler


router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


# --- who is asking -------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """A request from a signed-in browser: its session and the (live) principal."""

    session: ConsoleSession
    principal: Principal

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def csrf(self) -> str:
        return self.session.csrf

    def can(self, right: str) -> bool:
        return self.principal.can(right)


def _live_principal(ctx: ServiceContext, name: str, role: str) -> Principal | None:
    """The principal as the store holds it now; None when revoked, expired or changed."""
    try:
        principal = ctx.principals.get(name)
    except PrincipalError:
        return None
    if principal.role != role or principal.revoked_at is not None:
        return None
    if principal.expires_at and datetime.fromisoformat(principal.expires_at) <= ctx.clock():
        return None
    return principal


def current_visit(request: Request) -> Visit | None:
    """The signed-in visit, or None (an ended session is closed on the way)."""
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid:
        return None
    ctx = context(request)
    store = sessions(ctx)
    session = store.find(sid, ctx.clock())
    if session is None:
        return None
    principal = _live_principal(ctx, session.name, session.role)
    if principal is None:
        store.close(sid)
        return None
    return Visit(session, principal)


def signed_in(right: str) -> Callable[[Request], Visit]:
    """A dependency: the signed-in visit holding ``right``; otherwise the login page (GET),
    401 (other methods), 403 without the right, 429 past the rate."""
    if right not in RIGHTS:
        raise ValueError(f"unknown right {right}")

    def dependency(request: Request) -> Visit:
        visit = current_visit(request)
        if visit is None:
            if request.method == "GET":
                raise ConsolePage(303, "Log in", location=f"{PREFIX}/login")
            raise ConsolePage(401, "Signed out", "Your console session has ended; log in again.")
        if not visit.can(right):
            roles = ", ".join(sorted(RIGHTS[right]))
            raise ConsolePage(
                403,
                "Not allowed",
                f"{visit.name} ({visit.role}) may not do this; it needs: {roles}",
                me=visit,
            )
        wait = context(request).limiter.take(f"console:{visit.name}")
        if wait > 0:
            raise ConsolePage(
                429,
                "Too many requests",
                f"{visit.name} has made too many requests; try again in {math.ceil(wait)} s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
                me=visit,
            )
        request.state.principal = visit.principal
        return visit

    return dependency


def _same(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def with_csrf(right: str) -> Callable[..., Visit]:
    """A dependency for forms: :func:`signed_in`, and the form's ``csrf`` field must be the
    session's CSRF token (403 otherwise)."""
    visitor = signed_in(right)

    def dependency(
        visit: Visit = Depends(visitor),  # noqa: B008
        csrf: str = Form(""),
    ) -> Visit:
        if not _same(csrf, visit.csrf):
            raise ConsolePage(
                403,
                "Form refused",
                "The form's CSRF token does not belong to this session; reload the page and "
                "send it again.",
                me=visit,
            )
        return visit

    return dependency


# --- signing in and out --------------------------------------------------------------------


def _set_cookie(response: Response, request: Request, name: str, value: str, seconds: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _login_page(request: Request, status: int = 200, message: str | None = None) -> Response:
    """The login form with a fresh nonce, set in a cookie beside it."""
    nonce = secrets.token_urlsafe(24)
    response = render("login.html.j2", status, nonce=nonce, message=message)
    _set_cookie(response, request, LOGIN_COOKIE, nonce, 3600)
    return response


@router.get("/")
def home(request: Request) -> Response:
    signed = current_visit(request) is not None
    return RedirectResponse(f"{PREFIX}/requests" if signed else f"{PREFIX}/login", 303)


@router.get("/login")
def login_form(request: Request) -> Response:
    if current_visit(request) is not None:
        return RedirectResponse(f"{PREFIX}/requests", 303)
    return _login_page(request)


def _authenticated(request: Request, token: str, nonce: str) -> Principal:
    """The principal whose token was typed into the login form; ConsolePage otherwise."""
    if not _same(nonce, request.cookies.get(LOGIN_COOKIE, "")):
        raise ConsolePage(403, "Login form expired", "Reload the login page and log in again.")
    if not token.strip():
        raise ApiError(401, "enter your token")
    principal = authenticate_token(context(request), token.strip())
    if not principal.can("approvals.read"):
        raise ConsolePage(
            403,
            "Not for this role",
            f"{principal.name} ({principal.role}) may not use the console; it is for the "
            "roles that read approval requests: analyst, auditor, reviewer.",
        )
    return principal


@router.post("/login")
def login(request: Request, token: str = Form(""), nonce: str = Form("")) -> Response:
    try:
        principal = _authenticated(request, token, nonce)
    except ApiError as exc:
        response = _login_page(request, exc.status, exc.message)
        if "Retry-After" in exc.headers:
            response.headers["Retry-After"] = exc.headers["Retry-After"]
        return response
    ctx = context(request)
    store = sessions(ctx)
    earlier = request.cookies.get(SESSION_COOKIE)
    if earlier:
        store.close(earlier)
    session = store.open(principal, ctx.clock())
    request.state.principal = principal
    response = RedirectResponse(f"{PREFIX}/requests", 303)
    _set_cookie(response, request, SESSION_COOKIE, session.sid, int(store.lifetime.total_seconds()))
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
def logout(request: Request, visit: Visit = Depends(with_csrf("approvals.read"))) -> Response:  # noqa: B008
    sessions(context(request)).close(visit.session.sid)
    response = RedirectResponse(f"{PREFIX}/login", 303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


# --- the queue, a request, its report ------------------------------------------------------


@router.get("/requests")
def queue(request: Request, visit: Visit = Depends(signed_in("approvals.read"))) -> Response:  # noqa: B008
    graph = context(request).graph
    return render(
        "queue.html.j2",
        me=visit,
        open_requests=list_requests(graph, ["open"]),
        decided=list_requests(graph, ["approved", "denied", "returned"])[:RECENT_DECIDED],
    )


def _approval_request(
    ctx: ServiceContext, request_id: str, visit: Visit | None = None
) -> dict[str, Any]:
    try:
        return get_request(ctx.graph, request_id)
    except UnknownRequest as exc:
        raise ConsolePage(404, "No such request", str(exc), me=visit) from exc


def request_page(
    request: Request,
    visit: Visit,
    request_id: str,
    *,
    status: int = 200,
    message: str | None = None,
    form: Mapping[str, str] | None = None,
) -> Response:
    """A request, its decisions and its report; the decide form for reviewers while open."""
    ctx = context(request)
    item = _approval_request(ctx, request_id, visit)
    document = report_store(ctx).load(item["report_digest"])
    return render(
        "request.html.j2",
        status,
        me=visit,
        item=item,
        doc=document,
        c=document["content"] if document else None,
        can_decide=bool(
            visit.can("approvals.decide") and item["status"] == "open" and document is not None
        ),
        message=message,
        form=dict(form or {"outcome": "", "reason": ""}),
        link=f"{PREFIX}/requests/{quote(request_id, safe='')}",
    )


@router.get("/requests/{request_id}")
def show_request(
    request_id: str,
    request: Request,
    visit: Visit = Depends(signed_in("approvals.read")),  # noqa: B008
) -> Response:
    return request_page(request, visit, request_id)


@router.get("/requests/{request_id}/report")
def show_report(
    request_id: str,
    request: Request,
    _: Visit = Depends(signed_in("reports.read")),  # noqa: B008
) -> Response:
    """The request's report as today's HTML page, framable by the console alone."""
    from attribution.reports.html import render_html

    ctx = context(request)
    digest = _approval_request(ctx, request_id)["report_digest"]
    document = report_store(ctx).load(digest)
    if document is None:
        raise ConsolePage(404, "No such report", f"the service holds no report {digest}")
    response = HTMLResponse(render_html(document))
    response.headers["Content-Security-Policy"] = REPORT_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


# --- deciding ------------------------------------------------------------------------------


def _form_problem(outcome: str, reason: str, digest: str) -> str | None:
    """What is wrong with a decide form, or None."""
    if outcome not in OUTCOMES:
        return "choose an outcome: approve, deny or return"
    if not reason.strip():
        return "a decision needs a reason: write it in the reason field"
    if len(reason) > MAX_REASON:
        return f"the reason is longer than {MAX_REASON} characters"
    if not _DIGEST.match(digest):
        return "report_digest must be the 64-hex SHA-256 digest of the report shown"
    return None


def _refusal_status(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, UnknownRequest):
        return 404, str(exc)
    if isinstance(exc, AuditError):
        return 503, f"Not recorded: {exc}"
    return 409, f"Refused: {exc}"


@router.post("/requests/{request_id}/decision")
def decide_request(
    request_id: str,
    request: Request,
    outcome: str = Form(""),
    reason: str = Form(""),
    report_digest: str = Form(""),
    visit: Visit = Depends(with_csrf("approvals.decide")),  # noqa: B008
) -> Response:
    """Record the reviewer's decision; on success back to the request page (303)."""
    form = {"outcome": outcome, "reason": reason}
    problem = _form_problem(outcome, reason, report_digest)
    if problem is not None:
        return request_page(request, visit, request_id, status=400, message=problem, form=form)
    try:
        service_decide(
            context(request), visit.principal, request_id, outcome, reason, report_digest
        )
    except (NotGrounded, WorkflowRefusal, UnknownRequest, AuditError) as exc:
        status, message = _refusal_status(exc)
        if status == 404:
            raise ConsolePage(404, "No such request", message, me=visit) from exc
        return request_page(request, visit, request_id, status=status, message=message, form=form)
    return RedirectResponse(f"{PREFIX}/requests/{quote(request_id, safe='')}", 303)


# --- anything else -------------------------------------------------------------------------


@router.get("/{rest:path}")
def unknown_page(rest: str, request: Request) -> Response:
    """A console address that names no page: a console 404 page, not the API's JSON."""
    visit = current_visit(request)
    raise ConsolePage(404, "No such page", f"the console has no page /console/{rest}", me=visit)
