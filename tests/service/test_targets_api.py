"""``GET /api/v1/targets/{kind}/{value}``: a target's properties, enrichment, score and
immediate neighbours with their provenance; 404 when the graph lacks it, 422 for a value
that is not a target."""

from __future__ import annotations

from typing import Any

from conftest import LiveService

T0 = "2026-03-01T00:00:00Z"
T1 = "2026-03-10T00:00:00Z"


def get(service: LiveService, path: str, who: str = "ana") -> Any:
    return service.client(who).get(service.api(path), timeout=10)


def provenance(source: str, **props: Any) -> dict[str, Any]:
    return {
        **props,
        "source": [source],
        "first_seen": T0,
        "last_seen": T1,
        "retrieved_at": T1,
        "sightings": 1,
    }


def test_a_domain_with_its_score_and_neighbours(live_service: LiveService) -> None:
    answer = get(live_service, "/targets/domain/C2.Bad.Test.")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["kind"], body["value"], body["label"]) == ("domain", "c2.bad.test", "Domain")
    expected_props = {
        "name": "c2.bad.test",
        "registrable": "bad.test",
        "created": T0,
        "source": ["dns"],
        "first_seen": T0,
        "last_seen": T1,
        "score": 0.97,
        "decision": "act",
        "model_version": "maliciousness/1",
        "scored_at": "2026-03-11T00:00:00Z",
    }
    assert {k: body["properties"][k] for k in expected_props} == expected_props
    assert body["score"] == {
        "score": 0.97,
        "decision": "act",
        "model_version": "maliciousness/1",
        "scored_at": "2026-03-11T00:00:00Z",
        "reasons": ["fast_flux_asns=+0.21", "young_registration=+0.12"],
    }
    assert body["enrichment"] == {
        "indicator": None,
        "enrich_state": None,
        "enrich_depth": None,
        "enriched_at": None,
        "enrich_attempts": None,
        "enrich_retry_at": None,
        "enrich_failures": None,
    }
    assert body["neighbours"] == [
        {
            "type": "ALIAS_OF",
            "direction": "in",
            "label": "Domain",
            "key": "alias.bad.test",
            "properties": provenance("dns", ttl=300),
        },
        {
            "type": "LABELS_DOMAIN",
            "direction": "in",
            "label": "LabelSource",
            "key": "feed:c2.txt",
            "properties": provenance("feed", verdict="malicious", family="examplebot"),
        },
        {
            "type": "REPORTED_IN",
            "direction": "out",
            "label": "IncidentReport",
            "key": "IR-1",
            "properties": provenance("incident", role="c2"),
        },
        {
            "type": "RESOLVES_TO",
            "direction": "out",
            "label": "IPAddress",
            "key": "203.0.113.5",
            "properties": provenance("dns", rtype="A", ttl=60),
        },
        {
            "type": "SUBDOMAIN_OF",
            "direction": "out",
            "label": "Domain",
            "key": "bad.test",
            "properties": provenance("dns"),
        },
    ]
    assert (body["neighbour_count"], body["neighbours_truncated"]) == (5, False)


def test_an_address_and_who_may_read_it(live_service: LiveService) -> None:
    body = get(live_service, "/targets/ip/203.0.113.5", who="rita").json()
    assert (body["value"], body["score"]["score"], body["neighbour_count"]) == (
        "203.0.113.5",
        0.91,
        4,
    )
    assert [(n["type"], n["direction"], n["key"]) for n in body["neighbours"]] == [
        ("IN_NETWORK", "out", "NET-203-0-113-0-1"),
        ("IN_PREFIX", "out", "203.0.113.0/24"),
        ("RESOLVES_TO", "in", "c2.bad.test"),
        ("RESOLVES_TO", "in", "other.bad.test"),
    ]
    assert get(live_service, "/targets/ip/203.0.113.5", who="pia").status_code == 403


def test_unknown_targets_are_404(live_service: LiveService) -> None:
    answer = get(live_service, "/targets/domain/nothing.bad.test")
    assert (answer.status_code, answer.json()) == (
        404,
        {"error": "not-found", "message": "domain nothing.bad.test is not in the graph"},
    )


def test_bad_values_are_422_naming_the_field(live_service: LiveService) -> None:
    word = get(live_service, "/targets/domain/localhost")
    assert word.status_code == 422
    assert word.json()["details"] == [
        {"field": "value", "reason": "a single word is not a domain, IP address or AS number"}
    ]
    crossed = get(live_service, "/targets/ip/c2.bad.test")
    assert (crossed.status_code, crossed.json()["details"]) == (
        422,
        [{"field": "value", "reason": "c2.bad.test is a domain, not an IP address"}],
    )
    asn = get(live_service, "/targets/domain/AS64500")
    assert (asn.status_code, asn.json()["details"][0]["field"]) == (422, "value")
    kind = get(live_service, "/targets/cidr/203.0.113.0")
    assert (kind.status_code, kind.json()["details"][0]["field"]) == (422, "kind")
