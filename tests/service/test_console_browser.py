"""The reviewer console in headless Chromium (the system's, driven by Playwright): a reviewer
decides a request, an analyst never sees a decide form, and a tampered report digest is
refused. Screenshots of each step are kept in ``<artifacts>/console/`` (the folder
``ATTRIBUTION_TEST_ARTIFACTS``, else ``test-artifacts/`` in the repository)."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LiveService
from test_console import open_request

from attribution.approvals import get_request

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = (
    Path(os.environ.get("ATTRIBUTION_TEST_ARTIFACTS") or REPO / "test-artifacts") / "console"
)
MARKER = "ATTRIBUTION_CONSOLE_TEST_BROWSER"
"""An environment variable set for the browser alone, so its processes can be found."""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.service,
    pytest.mark.skipif(
        CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)"
    ),
]

if CHROMIUM is not None:
    from playwright.sync_api import Browser, Page, expect, sync_playwright


def _marked_processes(marker: str) -> list[int]:
    """Live (not zombie) processes whose environment holds ``MARKER=marker``."""
    wanted = f"{MARKER}={marker}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if wanted not in environ.read_bytes().split(b"\0"):
                continue
            state = (environ.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(environ.parent.name))
    return found


def _gone(marker: str, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while _marked_processes(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Chromium for one test; none of its processes outlives it."""
    marker = uuid.uuid4().hex
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox"],
            env={**os.environ, MARKER: marker},
        )
        try:
            assert _marked_processes(marker), "the browser's processes cannot be found"
            yield chromium
        finally:
            chromium.close()
    assert _gone(marker), f"Chromium processes outlived the test: {_marked_processes(marker)}"


def shot(page: Page, test: str, step: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("load")
    page.screenshot(path=ARTIFACTS / f"{test}-{step}.png", full_page=True)


def log_in(page: Page, live: LiveService, name: str) -> None:
    page.goto(f"{live.url}/console/")
    expect(page).to_have_url(f"{live.url}/console/login")
    page.fill("#token", live.tokens[name])
    page.click("#login")
    expect(page).to_have_url(f"{live.url}/console/requests")
    expect(page.locator("#me")).to_have_text(name)


def open_from_queue(page: Page, live: LiveService, request_id: str, digest: str) -> None:
    row = page.locator("#open tr.request")
    expect(row).to_have_count(1)
    cells = row.locator("td")
    expect(cells).to_have_text(
        [request_id, "c2.bad.test", "ana", "2026-03-12T11:30:00Z", digest[:16]]
    )
    row.get_by_role("link", name=request_id).click()
    expect(page).to_have_url(f"{live.url}/console/requests/{request_id}")
    expect(page.locator("#status")).to_have_text("open")


def test_reviewer_decides_a_request(live_service: LiveService, browser: Browser) -> None:
    request_id, digest = open_request(live_service)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    name = "reviewer_decides"
    log_in(page, live_service, "rita")
    shot(page, name, "1-queue")
    open_from_queue(page, live_service, request_id, digest)
    expect(page.locator("#recommendation .outcome")).to_have_text("eligible-for-approval")
    expect(page.locator("#action code.server")).to_have_text(["203.0.113.5"])
    report = page.frame_locator("#report")
    expect(report.locator("#recommendation .outcome")).to_have_text("eligible-for-approval")
    expect(report.locator("#digest")).to_contain_text(digest)
    expect(page.locator("input[name=report_digest]")).to_have_value(digest)
    shot(page, name, "2-request")

    page.check("#outcome-approve")
    page.fill(
        "#reason", "Current server 203.0.113.5 is clear of collateral; the evidence is fresh."
    )
    shot(page, name, "3-form")
    with page.expect_response(lambda r: r.url.endswith("/decision")) as posted:
        page.click("#submit-decision")
    assert posted.value.status == 303
    expect(page).to_have_url(f"{live_service.url}/console/requests/{request_id}")
    expect(page.locator("#status")).to_have_text("approved")
    expect(page.locator("#decisions tr.decision td").nth(0)).to_have_text("approved")
    expect(page.locator("#decisions tr.decision td").nth(1)).to_have_text("rita")
    expect(page.locator("form#decide")).to_have_count(0)
    shot(page, name, "4-decided")

    stored = get_request(live_service.ctx.graph, request_id)
    assert (stored["status"], len(stored["decisions"])) == ("approved", 1)
    decision = stored["decisions"][0]
    assert (decision["outcome"], decision["decided_by"], decision["report_digest"]) == (
        "approve",
        "rita",
        digest,
    )
    assert decision["reason"] == (
        "Current server 203.0.113.5 is clear of collateral; the evidence is fresh."
    )

    page.click("#logout")
    expect(page).to_have_url(f"{live_service.url}/console/login")
    page.goto(f"{live_service.url}/console/requests")
    expect(page).to_have_url(f"{live_service.url}/console/login")
    shot(page, name, "5-logged-out")


def test_analyst_never_sees_a_decide_form(live_service: LiveService, browser: Browser) -> None:
    request_id, digest = open_request(live_service)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    name = "analyst_no_form"
    log_in(page, live_service, "ana")
    shot(page, name, "1-queue")
    open_from_queue(page, live_service, request_id, digest)
    expect(page.locator("#recommendation .outcome")).to_have_text("eligible-for-approval")
    assert page.locator("form#decide").count() == 0
    assert page.locator("textarea").count() == 0
    assert page.locator("form").count() == 1  # the logout button's
    shot(page, name, "2-request")

    csrf = page.locator("input[name=csrf]").input_value()
    answer = context.request.post(
        f"{live_service.url}/console/requests/{request_id}/decision",
        form={"outcome": "approve", "reason": "mine", "report_digest": digest, "csrf": csrf},
        max_redirects=0,
    )
    assert answer.status == 403
    assert "ana (analyst) may not do this; it needs: reviewer" in answer.text()
    assert get_request(live_service.ctx.graph, request_id)["status"] == "open"
    context.close()


def test_tampered_report_digest_is_refused(live_service: LiveService, browser: Browser) -> None:
    request_id, digest = open_request(live_service)
    other = live_service.client("ana").post(
        live_service.api("/reports"), json={"target": "other.bad.test"}, timeout=60
    )
    assert other.status_code == 201, other.text
    other_digest = other.json()["digest"]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    name = "tampered_digest"
    log_in(page, live_service, "rita")
    open_from_queue(page, live_service, request_id, digest)

    for step, forged, refusal in (
        (
            "1",
            other_digest,
            "Refused: the report concerns domain other.bad.test, not domain c2.bad.test",
        ),
        (
            "2",
            "0" * 64,
            "Refused: report 0000000000000000 was not generated by this service: generate it "
            "with POST /api/v1/reports",
        ),
    ):
        digest_field = page.locator("input[name=report_digest]")
        digest_field.evaluate("(field, value) => { field.value = value; }", forged)
        page.check("#outcome-approve")
        page.fill("#reason", "approved on another report")
        with page.expect_response(lambda r: r.url.endswith("/decision")) as posted:
            page.click("#submit-decision")
        assert posted.value.status == 409
        expect(page.locator("#message")).to_have_text(refusal)
        expect(page.locator("#status")).to_have_text("open")
        expect(page.locator("input[name=report_digest]")).to_have_value(digest)
        expect(page.locator("#reason")).to_have_value("approved on another report")
        expect(page.frame_locator("#report").locator("#digest")).to_contain_text(digest)
        shot(page, name, f"{step}-refused")

    stored = get_request(live_service.ctx.graph, request_id)
    assert (stored["status"], stored["decisions"]) == ("open", [])
