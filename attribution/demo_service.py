"""The demo's service walk-through: ``attribution serve`` with a principal of each role.

A pipeline submits a file and reads its job; an analyst requests approval through the service
with the command line (the service generates the report); the analyst's attempt to decide is
refused; the reviewer decides in the console in headless Chromium (a screenshot goes to
``demo-out/console-decision.png``); the auditor verifies the chain; a partner's TAXII client
reads the act decisions. The service is stopped at the end, whatever happened.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

TEAM = (
    ("pipeline-feed", "pipeline"),
    ("analyst-sato", "analyst"),
    ("reviewer-tanaka", "reviewer"),
    ("auditor-kato", "auditor"),
)


class ServiceDemoFailed(RuntimeError):
    """A step of the service walk-through did not go as it should."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceDemoFailed(f"`attribution serve` exited {process.returncode}")
        try:
            if requests.get(f"{url}/health", timeout=5).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise ServiceDemoFailed("the service did not answer /health within 90 s")


def _api(url: str, token: str, method: str, path: str, **kwargs: Any) -> Any:
    answer = requests.request(
        method, f"{url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=120, **kwargs
    )
    if not answer.ok:
        raise ServiceDemoFailed(f"{method} {path} answered {answer.status_code}: {answer.text}")
    return answer.json()


def _pipeline(url: str, token: str, sample: Path) -> None:
    print("\n== A pipeline submits a file over the API: 202 and a job, loaded in the background")
    print(
        f"$ curl -H 'Authorization: Bearer ...' --data-binary @{sample.name} {url}/api/v1/indicators"
    )
    job = _api(url, token, "POST", "/api/v1/indicators", params={"name": sample.name},
               data=sample.read_bytes())  # fmt: skip
    deadline = time.monotonic() + 120
    while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.3)
        job = _api(url, token, "GET", f"/api/v1/jobs/{job['job_id']}")
    result = job.get("result") or {}
    print(f"   job {job['job_id']}: {job['status']}, accepted {result.get('accepted')}")
    for rejection in result.get("rejected", []):
        print(f"   rejected {rejection['file']} line {rejection['line']} "
              f"{rejection['field']}: {rejection['reason']}")  # fmt: skip


def _cli(env: dict[str, str], *args: str, ok: tuple[int, ...] = (0,)) -> str:
    print(f"$ attribution {' '.join(args)}", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "attribution.cli.main", *args],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode not in ok:
        raise ServiceDemoFailed(f"`attribution {' '.join(args)}` exited {done.returncode}: "
                                f"{done.stderr.strip()}")  # fmt: skip
    print(f"   (exit {done.returncode}) {done.stderr.strip()}".rstrip(), flush=True)
    return done.stdout


def _request(env: dict[str, str], url: str, token: str, target: str) -> str:
    print(
        "\n== The analyst asks for approval through the service (ATTRIBUTION_SERVICE_URL, "
        "ATTRIBUTION_TOKEN): the service generates, signs and records the report itself"
    )
    as_analyst = {**env, "ATTRIBUTION_SERVICE_URL": url, "ATTRIBUTION_TOKEN": token}
    request = json.loads(_cli(as_analyst, "approval", "request", target, "--json"))
    print(f"   request {request['request_id']} by {request['requested_by']}, report "
          f"{request['report_digest'][:12]}")  # fmt: skip
    print("\n== The analyst tries to decide it: the token proves an analyst, not a reviewer")
    report = Path(env.get("ATTRIBUTION_DEMO_OUT", ".")) / "service-report.json"
    report.write_text(json.dumps({"digest": request["report_digest"]}), encoding="utf-8")
    _cli(as_analyst, "approval", "decide", request["request_id"], "--approve", "--reason",
         "self-approval", "--report", str(report), ok=(4,))  # fmt: skip
    return str(request["request_id"])


def _console(url: str, token: str, request_id: str, screenshot: Path) -> None:
    print("\n== The reviewer decides in the console, in headless Chromium")
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise ServiceDemoFailed("Chromium is not installed (bash scripts/setup.sh installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{url}/console/")
            page.fill("#token", token)
            page.click("#login")
            page.goto(f"{url}/console/requests/{request_id}")
            outcome = page.locator("#recommendation .outcome").inner_text()
            servers = page.locator("#action code.server").all_inner_texts()
            print(
                f"   request {request_id}: recommendation {outcome}, servers {', '.join(servers)}"
            )
            page.check("#outcome-approve")
            page.fill("#reason", "Evidence chain and collateral reviewed in the console.")
            page.click("#submit-decision")
            page.wait_for_selector("#decisions tr.decision")
            status = page.locator("#status").inner_text()
            page.frame_locator("#report").locator("#recommendation").wait_for()
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    print(f"   status {status}; screenshot {screenshot}")


def _audit_and_share(url: str, token: str) -> None:
    print("\n== The auditor verifies the chain over the API; a partner reads TAXII 2.1")
    verified = _api(url, token, "GET", "/api/v1/audit/verify")
    print(f"   audit chain ok={verified['ok']}, {verified['entries']} entries, head "
          f"{verified['head_seq']}:{str(verified['head_hash'])[:12]}")  # fmt: skip
    from taxii2client.v21 import ApiRoot

    root = ApiRoot(f"{url}/taxii2/api/", user="auditor-kato", password=token)
    for collection in root.collections:
        objects = collection.get_objects().get("objects", [])
        print(f"   TAXII collection {collection.title}: {len(objects)} objects on the first page")


def run_service_demo(env: dict[str, str], out: Path, sample: Path, target: str | None) -> None:
    """Every service capability once, against a service started and stopped here."""
    state = out / "service"
    shutil.rmtree(state, ignore_errors=True)
    tokens: dict[str, str] = {}
    print("\n== Principals for the service, one per role (the token is printed once)")
    for name, role in TEAM:
        made = _cli(env, "principals", "--state-dir", str(state), "add", name, "--role", role,
                    "--json")  # fmt: skip
        tokens[name] = json.loads(made)["token"]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    print(f"\n== Start the service: attribution serve --port {port} (log in demo-out/service.log)")
    with (out / "service.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "attribution.cli.main", "serve", "--port", str(port),
             "--state-dir", str(state)],
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
        try:
            _wait_healthy(url, process)
            _pipeline(url, tokens["pipeline-feed"], sample)
            if target is None:
                print("\n   (no eligible target: the approval through the service is skipped)")
            else:
                env = {**env, "ATTRIBUTION_DEMO_OUT": str(out)}
                request_id = _request(env, url, tokens["analyst-sato"], target)
                _console(url, tokens["reviewer-tanaka"], request_id, out / "console-decision.png")
            _audit_and_share(url, tokens["auditor-kato"])
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
            print(f"\n== The service stopped gracefully (exit {code})")
    if code != 0:
        raise ServiceDemoFailed(f"`attribution serve` exited {code} on SIGTERM")
