"""The service's own areas: principals, keys, audit, limits, and its command-line side."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from clirun import run_attribution
from conftest import LiveService

from attribution import audit
from attribution.reports.canonical import verify_document


def test_admin_makes_and_revokes_a_principal(live_service: LiveService) -> None:
    admin = live_service.client("adam")
    made = admin.post(
        live_service.api("/principals"), json={"name": "nora", "role": "auditor"}, timeout=30
    )
    assert made.status_code == 201
    body = made.json()
    assert (body["name"], body["role"], body["expires"]) == (
        "nora",
        "auditor",
        "2026-06-10T11:30:00Z",
    )
    nora = requests.Session()
    nora.headers["Authorization"] = f"Bearer {body['token']}"
    assert nora.get(live_service.api("/audit/head"), timeout=30).status_code == 200
    listed = admin.get(live_service.api("/principals"), timeout=30).json()["principals"]
    assert [p["name"] for p in listed] == ["adam", "ana", "aud", "nora", "pia", "ravi", "rita"]
    assert all("token" not in p for p in listed)
    assert admin.delete(live_service.api("/principals/nora"), timeout=30).status_code == 200
    refused = nora.get(live_service.api("/audit/head"), timeout=30)
    assert refused.status_code == 401
    assert refused.json()["message"] == "the token is unknown, revoked or expired"
    actions = [(e["actor"], e["action"], e["subject"]) for e in _entries(live_service)]
    assert actions == [("adam", "principal.add", "nora"), ("adam", "principal.revoke", "nora")]


def _entries(service: LiveService) -> list[dict[str, Any]]:
    return audit.read_entries(service.ctx.settings.audit_log)


def test_each_role_sees_only_its_endpoints(live_service: LiveService) -> None:
    probes = {
        "GET /approvals": lambda s: s.get(live_service.api("/approvals"), timeout=30),
        "POST /approvals": lambda s: s.post(live_service.api("/approvals"), json={}, timeout=30),
        "POST /reports": lambda s: s.post(live_service.api("/reports"), json={}, timeout=30),
        "GET /audit/head": lambda s: s.get(live_service.api("/audit/head"), timeout=30),
        "GET /principals": lambda s: s.get(live_service.api("/principals"), timeout=30),
    }
    allowed = {
        name: sorted(p for p, probe in probes.items() if probe(live_service.client(name)).status_code != 403)
        for name in ("ana", "pia", "rita", "aud", "adam")
    }  # fmt: skip
    assert allowed == {
        "ana": ["GET /approvals", "POST /approvals", "POST /reports"],
        "pia": [],
        "rita": ["GET /approvals"],
        "aud": ["GET /approvals", "GET /audit/head"],
        "adam": ["GET /principals"],
    }


def test_reports_are_signed_by_the_published_key(live_service: LiveService) -> None:
    document = (
        live_service.client("ana")
        .post(live_service.api("/reports"), json={"target": "c2.bad.test"}, timeout=60)
        .json()
    )
    keys = live_service.client("rita").get(live_service.api("/keys"), timeout=30).json()
    fingerprint = keys["keys"][0]["fingerprint"]
    assert document["signature"]["public_key_fingerprint"] == fingerprint
    assert verify_document(document, require_signature=True).ok
    fetched = live_service.client("aud").get(
        live_service.api(f"/reports/{document['digest']}"), timeout=30
    )
    assert fetched.json() == document
    html = live_service.client("rita").get(
        live_service.api(f"/reports/{document['digest']}"), params={"format": "html"}, timeout=30
    )
    assert html.headers["content-type"].startswith("text/html")
    state = live_service.ctx.config.state_dir
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "report-signing.pem").stat().st_mode) == 0o600
    generated = _entries(live_service)[-1]
    assert (generated["actor"], generated["action"], generated["details"]["digest"]) == (
        "ana",
        "report.generate",
        document["digest"],
    )
    assert generated["details"]["role"] == "analyst"


def test_audit_endpoints(live_service: LiveService) -> None:
    live_service.client("ana").post(
        live_service.api("/reports"), json={"target": "c2.bad.test"}, timeout=60
    )
    auditor = live_service.client("aud")
    verified = auditor.get(live_service.api("/audit/verify"), timeout=30).json()
    assert (verified["ok"], verified["entries"], verified["reason"]) == (True, 1, None)
    head = auditor.get(live_service.api("/audit/head"), timeout=30).json()
    assert head["head"] == f"1:{verified['head_hash']}"
    page = auditor.get(live_service.api("/audit/entries"), params={"limit": 1}, timeout=30).json()
    assert ([e["action"] for e in page["entries"]], page["next_after"]) == (
        ["report.generate"],
        None,
    )


def test_rate_limit_answers_429_with_retry_after(make_service: Any) -> None:
    service = make_service(rate_per_minute=6, rate_burst=2)
    service.add("aud", "auditor")
    client = service.client("aud")
    codes = [client.get(service.api("/audit/head"), timeout=30).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = client.get(service.api("/audit/head"), timeout=30)
    assert limited.headers["Retry-After"] == "10"
    assert limited.json()["error"] == "rate-limited"


def test_request_size_limit(make_service: Any) -> None:
    service = make_service(max_body_bytes=1000)
    service.add("ana", "analyst")
    big = service.client("ana").post(
        service.api("/reports"), data=b'{"target": "' + b"a" * 2000 + b'"}', timeout=30,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert (big.status_code, big.json()["error"]) == (413, "too-large")

    def chunks() -> Any:
        yield b'{"target": "'
        for _ in range(20):
            yield b"a" * 100
        yield b'"}'

    streamed = service.client("ana").post(
        service.api("/reports"), data=chunks(), timeout=30,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert streamed.status_code == 413


def test_principals_command(tmp_path: Path) -> None:
    env = dict(os.environ, ATTRIBUTION_HOME=str(tmp_path / "home"))
    made = run_attribution(
        env, "principals", "add", "ana", "--role", "analyst", "--expires", "30d", "--json"
    )
    assert made.returncode == 0, made.stderr
    body = json.loads(made.stdout)
    assert (sorted(body), body["name"], body["role"]) == (
        ["expires", "name", "role", "token"], "ana", "analyst"
    )  # fmt: skip
    assert body["token"].startswith("atk_")
    store = tmp_path / "home" / "service" / "principals.sqlite3"
    assert body["token"] not in store.read_bytes().decode("latin-1")
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    again = run_attribution(env, "principals", "add", "ana", "--role", "analyst")
    assert (again.returncode, again.stderr.strip()) == (
        2, "attribution principals: a principal named ana exists already"
    )  # fmt: skip
    assert run_attribution(env, "principals", "revoke", "ana").returncode == 0
    listed = json.loads(run_attribution(env, "principals", "list", "--json").stdout)
    assert [(p["name"], p["revoked_at"] is not None) for p in listed] == [("ana", True)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_starts_answers_and_stops_gracefully(
    neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    port = _free_port()
    env = dict(neo4j_env, ATTRIBUTION_HOME=str(tmp_path / "home"))
    process = subprocess.Popen(
        [sys.executable, "-m", "attribution.cli.main", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert health.json() == {"status": "ok", "graph": "ok"}
        assert (
            requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()["info"]["title"]
            == "attribution service"
        )
        assert (
            requests.get(f"http://127.0.0.1:{port}/api/v1/approvals", timeout=5).status_code == 401
        )
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/health", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/api/v1/approvals", 401),
    ]
