"""The HTML report opened in headless Chromium: it renders, with every section, and no errors."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_reports import GENERATED, make_world

from attribution.db import Graph
from attribution.reports.builder import generate_report
from attribution.reports.html import SECTION_IDS, render_html
from attribution.settings import Settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)"
    ),
]

HOSTILE = '<script>document.title="owned"</script><img src=x onerror=alert(1)>'


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Chromium in its own process group and make sure none of it outlives the call."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
        *args,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not _group_alive(process.pid), "a Chromium process outlived the test"
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _live_members(pgid: int) -> list[int]:
    """Processes of the group that are not zombies (SIGKILL takes effect asynchronously)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _group_alive(pgid: int) -> bool:
    for _ in range(100):
        if not _live_members(pgid):
            return False
        time.sleep(0.1)
    return True


def test_report_renders_in_chromium(graph: Graph, test_settings: Settings, tmp_path: Path) -> None:
    _, settings, lists = make_world(graph, test_settings, tmp_path)
    graph.run_write(
        "MATCH (:LabelSource {name: 'feed:c2.txt'})-[l:LABELS_DOMAIN]->(:Domain {name: $name}) "
        "SET l.reason = $reason",
        {"name": "c2.bad.test", "reason": HOSTILE},
    )
    document = generate_report(
        graph, "c2.bad.test", settings, generated_at=GENERATED, warninglists=lists
    )
    html = render_html(document)
    assert HOSTILE not in html
    assert "&lt;script&gt;" in html
    assert "http://" not in html and "https://" not in html  # nothing to fetch
    assert html.count("data:image/png;base64,") == 2
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")

    shot = tmp_path / "report.png"
    rendered = _chromium(
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        "--window-size=1200,2000",
        page.as_uri(),
    )
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000

    dom = _chromium(tmp_path / "profile-dom", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    for section in SECTION_IDS:
        assert f'<section id="{section}">' in dom.stdout
    assert "<script" not in dom.stdout
    assert "owned" not in dom.stdout.split("</title>")[0]
    assert document["digest"] in dom.stdout
    for stderr in (rendered.stderr, dom.stderr):
        lowered = stderr.lower()
        assert "uncaught" not in lowered
        assert "console(" not in lowered
        assert "content security policy" not in lowered
        assert "err_file_not_found" not in lowered
