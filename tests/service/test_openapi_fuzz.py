"""Requests generated from the service's OpenAPI document never make it fail (no 500s).

Schemathesis reads ``/openapi.json`` from the running service and, for every operation, sends
a bounded, derandomised set of generated requests (valid and invalid ones) with the token of
a role that may call it, and the token of one that may not. Any 5xx answer fails the test.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from conftest import LiveService, add_team
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES_PER_OPERATION = 6
# Whose token each area's operations are sent with: one that may call them.
CALLER_BY_TAG = {
    "principals": "adam",
    "audit": "aud",
    "meta": "rita",
    "indicators": "pia",
    "jobs": "pia",
}


def _caller(operation: Any) -> str:
    tags = operation.definition.raw.get("tags") or []
    if "approvals" in tags and operation.method.upper() == "POST" and "decision" in operation.path:
        return "rita"
    return next((CALLER_BY_TAG[t] for t in tags if t in CALLER_BY_TAG), "ana")


def _operations(service: LiveService) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    # The console and TAXII speak HTML and TAXII, not this document's JSON; they have their
    # own tests.
    return [op for op in found if op.path.startswith("/api/") or op.path == "/health"]


def test_generated_requests_never_fail_the_service(make_service: Any) -> None:
    # A rate high enough that every generated request reaches its handler.
    live_service = add_team(make_service(rate_burst=1_000_000))
    failures: list[str] = []
    operations = _operations(live_service)
    assert len(operations) >= 10
    for operation in operations:
        caller = live_service.tokens[_caller(operation)]
        intruder = live_service.tokens["pia" if _caller(operation) != "pia" else "ana"]

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), token=st.sampled_from([caller, intruder]))
        def probe(case: Any, token: str) -> None:
            answer = case.call(
                base_url=live_service.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            )
            if answer.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {answer.status_code}: "
                    f"{answer.text[:200]}"
                )

        probe()
    assert failures == []
