"""TAXII 2.1 at /taxii2/, read with the taxii2-client library: discovery, the API root, both
collections fetched page by page, added_after, manifest, versions, the media types and the
principals' rights."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import stix2
from conftest import SERVICE_NOW, LiveService
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages
from test_reports import SCORED

from attribution.db import Graph
from attribution.service.taxii_objects import COLLECTIONS
from attribution.stix_export import PRODUCER_CREATED, build_bundle, stable_id

TAXII = "application/taxii+json;version=2.1"
PAGE = 4
MAX_PAGE = 6
LATER_SCORE = datetime(2026, 3, 11, 18, 0, tzinfo=UTC)

# Approving decisions written straight into the graph, beside the one made through the API
# (at SERVICE_NOW, 11:30): (decision, request, target, decided at, outcome).
DECISIONS = [
    ("dec-b", "req-b", "203.0.113.5", datetime(2026, 3, 12, 12, 0, tzinfo=UTC), "approve"),
    ("dec-c", "req-c", "c2.bad.test", datetime(2026, 3, 12, 13, 0, tzinfo=UTC), "approve"),
    ("dec-d", "req-d", "198.51.100.7", datetime(2026, 3, 12, 14, 0, tzinfo=UTC), "approve"),
    ("dec-x", "req-x", "198.51.100.7", datetime(2026, 3, 12, 15, 0, tzinfo=UTC), "deny"),
]
STATUS = {"approve": "approved", "deny": "denied"}


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def _write_decision(graph: Graph, row: tuple[str, str, str, datetime, str]) -> None:
    decision_id, request_id, target, at, outcome = row
    graph.run_write(
        "CREATE (r:ApprovalRequest {request_id: $request, target: $target, report_digest: $digest,"
        " requested_by: 'ana', requested_at: datetime($at), status: $status})\n"
        "CREATE (:Decision {decision_id: $decision, outcome: $outcome, decided_by: 'ravi',"
        " reason: $reason, decided_at: datetime($at), report_digest: $digest,"
        " audit_head: '7:' + $decision})-[:DECIDES]->(r)",
        {
            "request": request_id,
            "target": target,
            "digest": "ab" * 32,
            "at": at.isoformat(),
            "status": STATUS[outcome],
            "decision": decision_id,
            "outcome": outcome,
            "reason": f"reason of {decision_id}",
        },
    )


def _approve_through_api(service: LiveService) -> str:
    """ana reports on c2.bad.test and asks; rita approves. The decision's id."""
    ana, rita = service.client("ana"), service.client("rita")
    report = ana.post(service.api("/reports"), json={"target": "c2.bad.test"}, timeout=60)
    assert report.status_code == 201, report.text
    digest = report.json()["digest"]
    asked = ana.post(
        service.api("/approvals"),
        json={"target": "c2.bad.test", "report_digest": digest},
        timeout=30,
    )
    assert asked.status_code == 201, asked.text
    decided = rita.post(
        service.api(f"/approvals/{asked.json()['request_id']}/decision"),
        json={"outcome": "approve", "reason": "dedicated C2 host", "report_digest": digest},
        timeout=30,
    )
    assert decided.status_code == 200, decided.text
    decision_id: str = decided.json()["decisions"][0]["decision_id"]
    return decision_id


@pytest.fixture
def taxii(make_service: Callable[..., LiveService], graph: Graph) -> Iterator[LiveService]:
    """A service with small pages, one decision approved through the API, three more
    written to the graph (one of them a denial), and 198.51.100.7 scored later than the
    other targets."""
    service = make_service(page_size=PAGE, max_page_size=MAX_PAGE)
    for name, role in (
        ("ana", "analyst"),
        ("pia", "pipeline"),
        ("rita", "reviewer"),
        ("aud", "auditor"),
        ("adam", "admin"),
    ):
        service.add(name, role)
    service.tokens["api-decision"] = _approve_through_api(service)
    for row in DECISIONS:
        _write_decision(graph, row)
    graph.run_write(
        "MATCH (n:IPAddress {address: '198.51.100.7'}) SET n.scored_at = datetime($at)",
        {"at": LATER_SCORE.isoformat()},
    )
    yield service


def _root(service: LiveService, name: str = "ana") -> ApiRoot:
    return ApiRoot(f"{service.url}/taxii2/api/", auth=Bearer(service.tokens[name]))


def _collection(service: LiveService, alias: str, name: str = "ana") -> Collection:
    root = _root(service, name)
    return next(c for c in root.collections if c.alias == alias)


def _every_page(fetch: Callable[..., dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    pages = list(as_pages(fetch, per_request=0, **kwargs))
    return [obj for page in pages for obj in page.get("objects", [])]


def _decision_ids(api_decision: str) -> dict[str, datetime]:
    """Every object of the act-decisions collection, with the time it was added."""
    c2 = stix2.DomainName(value="c2.bad.test").id
    first = stix2.IPv4Address(value="203.0.113.5").id
    second = stix2.IPv4Address(value="198.51.100.7").id
    added = {stable_id("identity", "attribution-service"): PRODUCER_CREATED, c2: SERVICE_NOW}
    added[first] = DECISIONS[0][3]
    added[second] = DECISIONS[2][3]
    for decision, at in (
        (api_decision, SERVICE_NOW),
        *((row[0], row[3]) for row in DECISIONS[:3]),
    ):
        added[stable_id("indicator", "approved-action", decision)] = at
        added[stable_id("note", "approval-decision", decision)] = at
    return added


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_discovery_api_root_and_collections(taxii: LiveService) -> None:
    server = Server(f"{taxii.url}/taxii2/", user="rita", password=taxii.tokens["rita"])
    assert server.title == "attribution service"
    assert [r.url for r in server.api_roots] == [f"{taxii.url}/taxii2/api/"]
    assert server.default is not None and server.default.url == f"{taxii.url}/taxii2/api/"
    root = server.default
    assert root.versions == [TAXII]
    assert root.max_content_length == taxii.ctx.config.max_body_bytes
    infos = {c.alias: (c.id, c.can_read, c.can_write, c.media_types) for c in root.collections}
    stix = ["application/stix+json;version=2.1"]
    assert infos == {c.alias: (c.id, True, False, stix) for c in COLLECTIONS}
    one = Collection(
        f"{taxii.url}/taxii2/api/collections/{COLLECTIONS[0].id}/", auth=Bearer(taxii.tokens["aud"])
    )
    assert (one.title, one.alias) == ("Approved actions", "act-decisions")


def test_act_decisions_every_page_once(taxii: LiveService) -> None:
    collection = _collection(taxii, "act-decisions")
    pages = list(as_pages(collection.get_objects, per_request=0))
    assert [len(p.get("objects", [])) for p in pages] == [4, 4, 4]
    assert [p["more"] for p in pages] == [True, True, False]
    ids = [obj["id"] for page in pages for obj in page["objects"]]
    expected = _decision_ids(taxii.tokens["api-decision"])
    assert len(ids) == len(set(ids)) == 12
    assert set(ids) == set(expected)
    order = sorted(expected, key=lambda i: (expected[i], i))
    assert ids == order
    note = next(o for o in pages[0]["objects"] if o["type"] == "note")
    assert note["authors"] == ["rita"] and note["content"] == "dedicated C2 host"
    assert note["x_attribution_decision_id"] == taxii.tokens["api-decision"]
    indicator = next(o for o in pages[0]["objects"] if o["type"] == "indicator")
    assert indicator["pattern"] == "[domain-name:value = 'c2.bad.test']"
    assert indicator["external_references"][0]["external_id"] == note["x_attribution_report_digest"]


def test_indicators_match_the_export_across_pages(taxii: LiveService, graph: Graph) -> None:
    collection = _collection(taxii, "indicators", name="aud")
    # A limit above the maximum is cut to it; as_pages follows the server's page size.
    pages = list(as_pages(collection.get_objects, per_request=10))
    assert [len(p["objects"]) for p in pages] == [6, 6, 5]
    ids = [obj["id"] for page in pages for obj in page["objects"]]
    bundle, targets = build_bundle(graph, "act")
    assert targets == 3
    assert len(ids) == len(set(ids)) == 17
    assert set(ids) == {o["id"] for o in bundle["objects"]}
    assert stable_id("indicator", "domain-name", "c2.bad.test") in ids
    assert ids[0] == stable_id("identity", "attribution-service")


def test_added_after_is_exact(taxii: LiveService) -> None:
    decisions = _collection(taxii, "act-decisions")
    expected = _decision_ids(taxii.tokens["api-decision"])
    cut = DECISIONS[0][3]
    later = _every_page(decisions.get_objects, added_after=cut)
    assert {o["id"] for o in later} == {i for i, at in expected.items() if at > cut}
    assert len(later) == 5
    answer = decisions.get_objects(added_after=_stamp(DECISIONS[2][3]))
    assert answer == {"more": False}
    indicators = _collection(taxii, "indicators")
    rescored = _every_page(indicators.get_objects, added_after=SCORED)
    address = stix2.IPv4Address(value="198.51.100.7").id
    indicator = stable_id("indicator", "ipv4-addr", "198.51.100.7")
    infrastructure = stable_id("infrastructure", "ipv4-addr", "198.51.100.7")
    assert {o["id"] for o in rescored} == {
        address,
        indicator,
        infrastructure,
        stable_id("relationship", "indicates", indicator, infrastructure),
        stable_id("relationship", "consists-of", infrastructure, address),
    }
    assert len(rescored) == 5


def test_headers_and_filters(taxii: LiveService) -> None:
    url = f"{taxii.url}/taxii2/api/collections/{COLLECTIONS[0].id}/objects/"
    session = taxii.client("ana")
    session.headers["Accept"] = TAXII
    answer = session.get(url, params={"limit": "2", "added_after": _stamp(SERVICE_NOW)})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == TAXII
    assert answer.headers["X-TAXII-Date-Added-First"] == _stamp(DECISIONS[0][3])
    assert answer.headers["X-TAXII-Date-Added-Last"] == _stamp(DECISIONS[0][3])
    body = answer.json()
    assert body["more"] is True and len(body["objects"]) == 2
    following = session.get(url, params={"limit": "2", "next": body["next"]}).json()
    assert following["objects"][0]["id"] > body["objects"][1]["id"]
    notes = session.get(url, params={"match[type]": "note,grouping"}).json()
    assert {o["type"] for o in notes["objects"]} == {"note"} and len(notes["objects"]) == 4
    indicator = stable_id("indicator", "approved-action", "dec-c")
    picked = session.get(url, params={"match[id]": indicator}).json()
    assert [o["id"] for o in picked["objects"]] == [indicator]
    version = session.get(
        url, params={"match[id]": indicator, "match[version]": "2026-03-12T13:00:00Z"}
    )
    assert [o["id"] for o in version.json()["objects"]] == [indicator]
    other = session.get(
        url, params={"match[id]": indicator, "match[version]": "2026-03-12T13:00:01Z"}
    )
    assert other.json() == {"more": False}


def test_manifest_object_and_versions(taxii: LiveService) -> None:
    collection = _collection(taxii, "act-decisions", name="rita")
    expected = _decision_ids(taxii.tokens["api-decision"])
    manifest = _every_page(collection.get_manifest)
    assert {m["id"]: m["date_added"] for m in manifest} == {
        i: _stamp(at) for i, at in expected.items()
    }
    assert {m["media_type"] for m in manifest} == {"application/stix+json;version=2.1"}
    note_id = stable_id("note", "approval-decision", "dec-b")
    entry = next(m for m in manifest if m["id"] == note_id)
    assert entry["version"] == "2026-03-12T12:00:00.000Z"
    sco = stix2.IPv4Address(value="203.0.113.5").id
    assert next(m for m in manifest if m["id"] == sco)["version"] == _stamp(DECISIONS[0][3])
    envelope = collection.get_object(note_id)
    assert [o["id"] for o in envelope["objects"]] == [note_id]
    assert envelope["objects"][0]["x_attribution_audit_head"] == "7:dec-b"
    assert collection.object_versions(note_id) == {
        "more": False,
        "versions": ["2026-03-12T12:00:00.000Z"],
    }


def _raw(service: LiveService, path: str, **headers: str) -> requests.Response:
    return requests.get(f"{service.url}/taxii2/{path}", headers=headers, timeout=10)


def _bearer(service: LiveService, name: str) -> str:
    return f"Bearer {service.tokens[name]}"


def test_wrong_accept_is_406(taxii: LiveService) -> None:
    for accept in ("application/json", "text/html", "application/taxii+json;version=2.0", ""):
        answer = _raw(taxii, "", Accept=accept, Authorization=_bearer(taxii, "ana"))
        assert answer.status_code == 406, accept
        assert answer.headers["content-type"] == TAXII
        assert answer.json() == {
            "title": "Not Acceptable",
            "description": f"send Accept: {TAXII}; this server speaks TAXII 2.1 only",
            "http_status": "406",
        }
    for accept in ("application/taxii+json", "text/html, application/taxii+json; version=2.1"):
        assert _raw(taxii, "", Accept=accept, Authorization=_bearer(taxii, "ana")).ok


def test_credentials(taxii: LiveService) -> None:
    answer = _raw(taxii, "api/", Accept=TAXII)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="taxii", Basic realm="taxii"'
    assert answer.headers["content-type"] == TAXII
    assert answer.json()["title"] == "Unauthorized"
    wrong_user = base64.b64encode(f"rita:{taxii.tokens['ana']}".encode()).decode()
    answer = _raw(taxii, "api/", Accept=TAXII, Authorization=f"Basic {wrong_user}")
    assert answer.status_code == 401
    assert answer.json()["description"] == "the user name 'rita' is not the token's principal"
    bad = _raw(taxii, "api/", Accept=TAXII, Authorization="Bearer atk_nope")
    assert (bad.status_code, bad.json()["http_status"]) == (401, "401")


@pytest.mark.parametrize(("name", "role"), [("pia", "pipeline"), ("adam", "admin")])
def test_roles_without_the_right_are_403(taxii: LiveService, name: str, role: str) -> None:
    answer = _raw(taxii, "api/collections/", Accept=TAXII, Authorization=_bearer(taxii, name))
    assert answer.status_code == 403
    assert answer.headers["content-type"] == TAXII
    assert answer.json() == {
        "title": "Forbidden",
        "description": f"{name} ({role}) may not read TAXII; it needs: analyst, auditor, reviewer",
        "http_status": "403",
    }


def test_bad_requests_and_writes(taxii: LiveService) -> None:
    objects = f"api/collections/{COLLECTIONS[1].id}/objects/"
    auth = {"Accept": TAXII, "Authorization": _bearer(taxii, "ana")}
    cases = {
        objects + "?next=not-a-cursor": (
            400,
            "next='not-a-cursor' is not a cursor this server gave",
        ),
        objects + "?limit=0": (400, "limit='0' must be a whole number of at least 1"),
        objects + "?limit=%C2%B2": (400, "limit='\u00b2' must be a whole number of at least 1"),
        objects + "?added_after=0001-01-01T00:00:00%2B01:00": (
            400,
            "added_after='0001-01-01T00:00:00+01:00' is not a timestamp such as "
            "2026-03-12T11:30:00Z",
        ),
        objects + "?added_after=yesterday": (
            400,
            "added_after='yesterday' is not a timestamp such as 2026-03-12T11:30:00Z",
        ),
        "api/collections/nope/": (404, "no collection 'nope' in this API root"),
        objects + "indicator--0/": (404, "no object 'indicator--0' in collection indicators"),
        "api/elsewhere/": (
            404,
            "no TAXII resource at /taxii2/api/elsewhere/ (TAXII paths end with /)",
        ),
    }
    for path, (status, description) in cases.items():
        answer = _raw(taxii, path, **auth)
        assert (answer.status_code, answer.json()["description"]) == (status, description), path
        assert answer.headers["content-type"] == TAXII
    posted = requests.post(f"{taxii.url}/taxii2/{objects}", headers=auth, json={}, timeout=10)
    assert posted.status_code == 403
    assert (
        posted.json()["description"]
        == "the collection indicators is read-only (can_write is false)"
    )
    put = requests.put(f"{taxii.url}/taxii2/api/", headers=auth, timeout=10)
    assert (put.status_code, put.headers["Allow"]) == (405, "GET")


def test_openapi_documents_taxii(taxii: LiveService) -> None:
    paths = requests.get(f"{taxii.url}/openapi.json", timeout=10).json()["paths"]
    taxii_paths = sorted(p for p in paths if p.startswith("/taxii2/"))
    assert taxii_paths == [
        "/taxii2/",
        "/taxii2/api/",
        "/taxii2/api/collections/",
        "/taxii2/api/collections/{collection_id}/",
        "/taxii2/api/collections/{collection_id}/manifest/",
        "/taxii2/api/collections/{collection_id}/objects/",
        "/taxii2/api/collections/{collection_id}/objects/{object_id}/",
        "/taxii2/api/collections/{collection_id}/objects/{object_id}/versions/",
    ]
    parameters = paths["/taxii2/api/collections/{collection_id}/objects/"]["get"]["parameters"]
    assert {p["name"] for p in parameters} >= {"added_after", "limit", "next", "match[id]"}
