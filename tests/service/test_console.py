"""The reviewer console over plain HTTP: sign-in and sign-out, roles, CSRF, form checks,
escaping and the security headers. The browser tests are in test_console_browser.py."""

from __future__ import annotations

import html
import re

import pytest
import requests
from conftest import LiveService

from attribution.approvals import get_request
from attribution.service.console import PAGE_CSP, REPORT_CSP

pytestmark = [pytest.mark.integration, pytest.mark.service]

TIMEOUT = 60
HOSTILE = '<script>document.title="owned"</script><img src=x onerror=alert(1)>'


def open_request(live: LiveService, target: str = "c2.bad.test") -> tuple[str, str]:
    """Ana generates a report on ``target`` and asks for approval: (request id, digest)."""
    ana = live.client("ana")
    made = ana.post(live.api("/reports"), json={"target": target}, timeout=TIMEOUT)
    assert made.status_code == 201, made.text
    digest = made.json()["digest"]
    asked = ana.post(
        live.api("/approvals"),
        json={"target": target, "report_digest": digest},
        timeout=TIMEOUT,
    )
    assert asked.status_code == 201, asked.text
    return asked.json()["request_id"], digest


def hidden(html: str, name: str) -> str:
    """The value of the hidden input ``name`` on a page."""
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    assert match is not None, f"no hidden {name} on the page"
    return match.group(1)


def message(page: str) -> str:
    match = re.search(r'id="message" role="alert">([^<]*)</p>', page)
    assert match is not None, "no message on the page"
    return html.unescape(match.group(1))


def console_login(live: LiveService, name: str, token: str | None = None) -> requests.Session:
    """A browser-like session signed in to the console as ``name``."""
    session = requests.Session()
    form = session.get(f"{live.url}/console/login", timeout=TIMEOUT)
    answer = session.post(
        f"{live.url}/console/login",
        data={"token": token or live.tokens[name], "nonce": hidden(form.text, "nonce")},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/requests")
    return session


def test_console_root_sends_to_login_then_queue(live_service: LiveService) -> None:
    anonymous = requests.Session()
    for path in ("/console/", "/console/requests", "/console/requests/req-0/report"):
        answer = anonymous.get(f"{live_service.url}{path}", allow_redirects=False, timeout=TIMEOUT)
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/login")
    signed = console_login(live_service, "rita")
    answer = signed.get(f"{live_service.url}/console/", allow_redirects=False, timeout=TIMEOUT)
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/requests")
    openapi = anonymous.get(f"{live_service.url}/openapi.json", timeout=TIMEOUT).json()
    assert [path for path in openapi["paths"] if path.startswith("/console")] == []


def test_session_cookie_holds_no_token(live_service: LiveService) -> None:
    session = requests.Session()
    form = session.get(f"{live_service.url}/console/login", timeout=TIMEOUT)
    answer = session.post(
        f"{live_service.url}/console/login",
        data={"token": live_service.tokens["rita"], "nonce": hidden(form.text, "nonce")},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    cookies = answer.headers["set-cookie"]
    assert live_service.tokens["rita"] not in cookies
    sid = re.search(r"attribution_console=([^;]+); HttpOnly; Max-Age=28800; Path=/console", cookies)
    assert sid is not None, cookies
    assert "SameSite=strict" in cookies
    assert len(sid.group(1)) == 43  # 32 random bytes, URL-safe base64


def test_bad_token_is_refused_with_401_page(live_service: LiveService) -> None:
    session = requests.Session()
    form = session.get(f"{live_service.url}/console/login", timeout=TIMEOUT)
    answer = session.post(
        f"{live_service.url}/console/login",
        data={"token": "atk_not-a-token", "nonce": hidden(form.text, "nonce")},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert message(answer.text) == "the token is unknown, revoked or expired"
    assert "attribution_console=" not in answer.headers.get("set-cookie", "")
    empty = session.post(
        f"{live_service.url}/console/login",
        data={"token": " ", "nonce": hidden(answer.text, "nonce")},
        timeout=TIMEOUT,
    )
    assert (empty.status_code, message(empty.text)) == (401, "enter your token")


def test_login_without_the_form_nonce_is_refused(live_service: LiveService) -> None:
    answer = requests.post(
        f"{live_service.url}/console/login",
        data={"token": live_service.tokens["rita"], "nonce": "forged"},
        timeout=TIMEOUT,
    )
    assert (answer.status_code, message(answer.text)) == (
        403,
        "Reload the login page and log in again.",
    )


def test_roles_without_approvals_read_are_refused(live_service: LiveService) -> None:
    for name, role in (("pia", "pipeline"), ("adam", "admin")):
        session = requests.Session()
        form = session.get(f"{live_service.url}/console/login", timeout=TIMEOUT)
        answer = session.post(
            f"{live_service.url}/console/login",
            data={"token": live_service.tokens[name], "nonce": hidden(form.text, "nonce")},
            timeout=TIMEOUT,
        )
        assert answer.status_code == 403
        assert message(answer.text) == (
            f"{name} ({role}) may not use the console; it is for the roles that read "
            "approval requests: analyst, auditor, reviewer."
        )
        assert "attribution_console=" not in answer.headers.get("set-cookie", "")


def test_pages_carry_a_strict_content_security_policy(live_service: LiveService) -> None:
    assert "default-src 'none'" in PAGE_CSP and "frame-ancestors 'none'" in PAGE_CSP
    assert "frame-ancestors 'self'" in REPORT_CSP and "script-src" not in REPORT_CSP
    request_id, _ = open_request(live_service)
    session = console_login(live_service, "aud")
    for path in ("/console/login", "/console/requests", f"/console/requests/{request_id}"):
        answer = session.get(f"{live_service.url}{path}", timeout=TIMEOUT)
        assert answer.status_code == 200
        assert answer.headers["content-security-policy"] == PAGE_CSP
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
    report = session.get(f"{live_service.url}/console/requests/{request_id}/report", timeout=60)
    assert report.status_code == 200
    assert report.headers["content-security-policy"] == REPORT_CSP
    assert report.headers["x-frame-options"] == "SAMEORIGIN"
    assert '<section id="recommendation">' in report.text


def test_unknown_request_is_404_page(live_service: LiveService) -> None:
    session = console_login(live_service, "rita")
    answer = session.get(f"{live_service.url}/console/requests/req-none", timeout=TIMEOUT)
    assert (answer.status_code, message(answer.text)) == (404, "no approval request req-none")


def test_unknown_console_page_is_a_404_page(live_service: LiveService) -> None:
    for session in (requests.Session(), console_login(live_service, "rita")):
        answer = session.get(f"{live_service.url}/console/nothing/here", timeout=TIMEOUT)
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["content-security-policy"] == PAGE_CSP
        assert message(answer.text) == "the console has no page /console/nothing/here"


def test_hostile_reason_is_shown_as_text(live_service: LiveService) -> None:
    request_id, digest = open_request(live_service)
    decided = live_service.client("ravi").post(
        live_service.api(f"/approvals/{request_id}/decision"),
        json={"outcome": "deny", "reason": HOSTILE, "report_digest": digest},
        timeout=TIMEOUT,
    )
    assert decided.status_code == 200, decided.text
    page = console_login(live_service, "ana").get(
        f"{live_service.url}/console/requests/{request_id}", timeout=TIMEOUT
    )
    assert HOSTILE not in page.text
    assert "<script" not in page.text
    assert (
        '<td class="reason">&lt;script&gt;document.title=&#34;owned&#34;&lt;/script&gt;'
        "&lt;img src=x onerror=alert(1)&gt;</td>"
    ) in page.text


def test_decision_form_checks(live_service: LiveService) -> None:
    request_id, digest = open_request(live_service)
    session = console_login(live_service, "rita")
    url = f"{live_service.url}/console/requests/{request_id}"
    csrf = hidden(session.get(url, timeout=TIMEOUT).text, "csrf")
    form = {"outcome": "approve", "reason": "clear", "report_digest": digest, "csrf": csrf}
    cases = (
        (
            {"csrf": "forged"},
            403,
            "The form's CSRF token does not belong to this session; "
            "reload the page and send it again.",
        ),
        ({"reason": "  \r\n "}, 400, "a decision needs a reason: write it in the reason field"),
        ({"outcome": "maybe"}, 400, "choose an outcome: approve, deny or return"),
        (
            {"report_digest": "abc"},
            400,
            "report_digest must be the 64-hex SHA-256 digest of the report shown",
        ),
    )
    for change, status, text in cases:
        answer = session.post(f"{url}/decision", data={**form, **change}, timeout=TIMEOUT)
        assert (answer.status_code, message(answer.text)) == (status, text)
    assert get_request(live_service.ctx.graph, request_id)["status"] == "open"
    stranger = requests.post(f"{url}/decision", data=form, timeout=TIMEOUT)
    assert (stranger.status_code, message(stranger.text)) == (
        401,
        "Your console session has ended; log in again.",
    )


def test_logout_ends_the_session(live_service: LiveService) -> None:
    session = console_login(live_service, "rita")
    queue = session.get(f"{live_service.url}/console/requests", timeout=TIMEOUT)
    sid = session.cookies["attribution_console"]
    out = session.post(
        f"{live_service.url}/console/logout",
        data={"csrf": hidden(queue.text, "csrf")},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert (out.status_code, out.headers["location"]) == (303, "/console/login")
    replay = requests.get(
        f"{live_service.url}/console/requests",
        cookies={"attribution_console": sid},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert (replay.status_code, replay.headers["location"]) == (303, "/console/login")


def test_revoked_principal_loses_the_session(live_service: LiveService) -> None:
    session = console_login(live_service, "ravi")
    live_service.ctx.principals.revoke("ravi", live_service.ctx.clock())
    answer = session.get(
        f"{live_service.url}/console/requests", allow_redirects=False, timeout=TIMEOUT
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/login")
