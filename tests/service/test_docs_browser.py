"""The interactive API docs render in headless Chromium from the service alone: every file
the page needs comes from the service, none from the internet."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import LiveService

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed"),
]


def artifacts() -> Path:
    folder = Path(os.environ.get("ATTRIBUTION_TEST_ARTIFACTS", REPO / "test-artifacts")) / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_docs_page_renders_offline(live_service: LiveService) -> None:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()

            def only_loopback(route: object, request: object) -> None:
                url = request.url  # type: ignore[attr-defined]
                if url.startswith(live_service.url):
                    route.continue_()  # type: ignore[attr-defined]
                else:
                    outside.append(url)
                    route.abort()  # type: ignore[attr-defined]

            page.route("**/*", only_loopback)
            page.goto(f"{live_service.url}/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            page.screenshot(path=str(artifacts() / "docs.png"), full_page=False)
        finally:
            browser.close()
    assert outside == []
    assert "/api/v1/approvals/{request_id}/decision" in [p.replace("\u200b", "") for p in paths]
