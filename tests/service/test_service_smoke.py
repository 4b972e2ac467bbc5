"""The service answers: health without a token, 401 and 403 as JSON, the OpenAPI document."""

from __future__ import annotations

from conftest import LiveService


def test_health_needs_no_token(live_service: LiveService) -> None:
    answer = live_service.client().get(f"{live_service.url}/health", timeout=10)
    assert (answer.status_code, answer.json()) == (200, {"status": "ok", "graph": "ok"})


def test_no_token_is_401_json(live_service: LiveService) -> None:
    answer = live_service.client().get(live_service.api("/approvals"), timeout=10)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"] == "unauthenticated"


def test_wrong_role_is_403(live_service: LiveService) -> None:
    answer = live_service.client("pia").get(live_service.api("/approvals"), timeout=10)
    assert answer.status_code == 403
    assert answer.json() == {
        "error": "forbidden",
        "message": "pia (pipeline) may not do this; it needs: analyst, auditor, reviewer",
    }
