"""The RDAP parsers on answers as registries send them.

IP networks: the recorded answers of all five RIRs (ipwhois's ``rdap.json``, see the fixtures'
PROVENANCE.md): AFRINIC sends no ``events`` and entities without roles, RIPE nests a
maintainer without a vCard, APNIC names no registrant, vCards put ``kind`` before or after
``fn``. Domains: Verisign's recorded answer for 20c.com, and variants of it that change one
thing each (no ``events``, two registrar entities, a vCard with ``org`` only or none).
Expected values were read by hand from the JSON. A field the answer does not hold is missing
(None), never filled from another field.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
import whoisit
from whoisit.bootstrap import BaseBootstrap

from enrichment.domain_registration import transform_rdap_domain
from enrichment.ip_rdap import transform_ip_network

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(
    os.environ.get("ATTRIBUTION_FIXTURES_DIR", REPO.parent / "shared/fixtures/rdap-whois-asn")
)
AT = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

needs_fixtures = pytest.mark.skipif(
    not (FIXTURES / "ipwhois" / "rdap.json").exists(),
    reason=f"recorded RDAP answers not found at {FIXTURES} (ATTRIBUTION_FIXTURES_DIR)",
)


def _utc(y: int, mo: int, d: int, h: int, mi: int, s: int) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=dt.UTC)


def _ip(address: str) -> Any:
    answers = json.loads((FIXTURES / "ipwhois/rdap.json").read_text(encoding="utf-8"))
    return transform_ip_network(answers[address]["response"], "u", AT)


# address, registry, parent, registered, last changed, registrant (handle, name), abuse handle
IP_CASES = [
    (
        "74.125.225.229",
        "arin",
        "NET-74-0-0-0-0",
        _utc(2007, 3, 13, 16, 9, 54),
        _utc(2012, 2, 24, 14, 44, 34),
        ("GOGL", "Google Inc."),
        "ZG39-ARIN",
    ),
    (
        "2001:4860:4860::8888",
        "arin",
        "NET6-2001-4800-0",
        _utc(2005, 3, 14, 16, 31, 8),
        _utc(2012, 2, 24, 14, 44, 34),
        ("GOGL", "Google Inc."),
        "ZG39-ARIN",
    ),
    (
        "62.239.237.1",
        "ripencc",
        None,
        None,
        _utc(2008, 8, 14, 16, 54, 30),
        ("BTENT-MNT", None),
        "BTCR3-RIPE",
    ),
    (
        "2a00:2381:ffff::1",
        "ripencc",
        None,
        None,
        _utc(2012, 5, 29, 9, 49, 44),
        ("BTENT-MNT", None),
        "BTCR3-RIPE",
    ),
    (
        "210.107.73.73",
        "apnic",
        "210.0.0.0 - 210.255.255.255",
        None,
        _utc(2015, 8, 26, 1, 25, 35),
        None,
        "IRT-KRNIC-KR",
    ),
    (
        "2001:240:10c:1::ca20:9d1d",
        "apnic",
        "2001:0200::/23",
        None,
        _utc(2008, 9, 4, 6, 49, 16),
        None,
        None,
    ),
    (
        "200.57.141.161",
        "lacnic",
        None,
        None,
        _utc(2014, 7, 16, 15, 43, 45),
        ("MX-TSCV6-LACNIC", "Triara.com, S.A. de C.V."),
        "RYT2",
    ),
    (
        "2801:10:c000::",
        "lacnic",
        None,
        None,
        _utc(2013, 10, 29, 19, 26, 0),
        ("CO-UCOR-LACNIC", "Universidad Catolica de Oriente"),
        "JDM7",
    ),
    # AFRINIC: no events, entities without roles: no registrant or abuse contact is inferred.
    ("196.11.240.215", "afrinic", "196.0.0.0 - 196.255.255.255", None, None, None, None),
    ("2001:43f8:7b0::", "afrinic", "2001:4200::/23", None, None, None, None),
]


@needs_fixtures
@pytest.mark.parametrize(
    ("address", "registry", "parent", "registered", "changed", "registrant", "abuse"),
    IP_CASES,
    ids=[case[0] for case in IP_CASES],
)
def test_ip_network_of_each_rir(
    address: str,
    registry: str,
    parent: str | None,
    registered: dt.datetime | None,
    changed: dt.datetime | None,
    registrant: tuple[str, str | None] | None,
    abuse: str | None,
) -> None:
    net = _ip(address)
    assert (net.registry, net.parent_handle) == (registry, parent)
    assert (net.registered, net.last_changed) == (registered, changed)
    found = net.registrant and (net.registrant.handle, net.registrant.name)
    assert found == registrant
    assert (net.abuse and net.abuse.handle) == abuse


@needs_fixtures
def test_vcard_variations_and_entities_without_roles() -> None:
    # AFRINIC lists "kind" before "fn" and gives no roles; the org's fn is its handle.
    afrinic = _ip("2001:43f8:7b0::")
    assert [(c.handle, c.name, c.kind, c.roles) for c in afrinic.contacts] == [
        ("TT8-AFRINIC", "TESPOK TESPOK", "individual", ()),
        ("ORG-TA38-AFRINIC", "ORG-TA38-AFRINIC", "org", ()),
        ("Bm35-AfriNIC", "Barry macharia", "individual", ()),
    ]
    # RIPE: the nested maintainer has a role but no vCard; its name stays missing.
    ripe = _ip("62.239.237.1")
    maintainer = next(c for c in ripe.contacts if c.handle == "BTENT-MNT")
    assert (maintainer.name, maintainer.kind, maintainer.emails) == (None, None, ())
    assert ripe.abuse is not None
    assert ripe.abuse.emails == (
        "zzdnsr@bt.com",
        "steve.a.marshall@bt.com",
        "lee.bailey-hague@bt.com",
    )
    # APNIC: an IRT whose fn is its handle.
    apnic = _ip("210.107.73.73")
    assert apnic.abuse is not None
    assert (apnic.abuse.name, apnic.abuse.emails) == ("IRT-KRNIC-KR", ("hostmaster@nic.or.kr",))


def _verisign() -> dict[str, Any]:
    path = FIXTURES / "20c-rdap/rdap/domain/20c.com.input"
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return payload


def _registrar_entity(payload: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in payload["entities"] if "registrar" in e["roles"])


@needs_fixtures
def test_verisign_answer_without_events_has_no_dates() -> None:
    payload = _verisign()
    del payload["events"]
    reg = transform_rdap_domain("20c.com", payload, "u", AT)
    assert (reg.created, reg.updated, reg.expires) == (None, None, None)
    assert reg.registrar == "CSL Computer Service Langenbach GmbH d/b/a joker.com"


@needs_fixtures
def test_verisign_answer_registrar_vcard_variations() -> None:
    payload = _verisign()
    _registrar_entity(payload)["vcardArray"] = [
        "vcard",
        [["version", {}, "text", "4.0"], ["org", {}, "text", "Joker.com GmbH"]],
    ]
    assert transform_rdap_domain("20c.com", payload, "u", AT).registrar == "Joker.com GmbH"
    _registrar_entity(payload).pop("vcardArray")
    reg = transform_rdap_domain("20c.com", payload, "u", AT)
    assert (reg.registrar, reg.registrar_iana_id) == (None, None)


@needs_fixtures
def test_verisign_answer_redacted_registrant() -> None:
    payload = _verisign()
    payload["entities"].append(
        {
            "objectClassName": "entity",
            "roles": ["registrant"],
            "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", ""]]],
        }
    )
    payload["redacted"] = [
        {"name": {"type": "Registrant Name"}, "method": "removal"},
        {"name": {"type": "Registrant Email"}, "method": "removal"},
    ]
    reg = transform_rdap_domain("20c.com", payload, "u", AT)
    assert reg.registrant_name is None
    assert reg.privacy_signs == (
        "redacted field: Registrant Name",
        "redacted field: Registrant Email",
    )


def _second_registrar(payload: dict[str, Any]) -> None:
    first = copy.deepcopy(_registrar_entity(payload))
    first.pop("publicIds", None)
    other = {
        "objectClassName": "entity",
        "handle": "9999",
        "roles": ["registrar"],
        "publicIds": [{"type": "IANA Registrar ID", "identifier": "9999"}],
        "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Other"]]],
    }
    payload["entities"] = [first, other]


@needs_fixtures
def test_several_registrar_entities_name_and_id_from_the_same_one() -> None:
    payload = _verisign()
    _second_registrar(payload)
    reg = transform_rdap_domain("20c.com", payload, "u", AT)
    assert (reg.registrar, reg.registrar_iana_id) == (
        "CSL Computer Service Langenbach GmbH d/b/a joker.com",
        None,
    )


@needs_fixtures
def test_unreadable_event_date_is_missing_not_fatal() -> None:
    payload = _verisign()
    payload["events"][0]["eventDate"] = "28.06.2004"
    reg = transform_rdap_domain("20c.com", payload, "u", AT)
    assert reg.created is None
    assert reg.expires == dt.datetime(2025, 6, 28, 18, 28, 14, tzinfo=dt.UTC)
    assert reg.notes == ("registration: unreadable date '28.06.2004'",)
    assert reg.registrar == "CSL Computer Service Langenbach GmbH d/b/a joker.com"


def _whoisit_dates(payload: dict[str, Any]) -> tuple[Any, ...]:
    """The three dates as whoisit reads them from the whole answer, in UTC."""
    parsed = whoisit.parse(BaseBootstrap(), "domain", "20c.com", copy.deepcopy(payload))
    keys = ("registration_date", "last_changed_date", "expiration_date")
    dates = [parsed[key] for key in keys]
    return tuple(None if d is None else d.astimezone(dt.UTC) for d in dates)


EVENT_VARIANTS = [
    [],
    [("registration", "2004-06-28T18:28:14+09:00"), ("expiration", "2031-01-02")],
    [(" Last Changed ", "2024-05-06t07:08:09.123456z"), ("REGISTRATION", "1999-12-31 23:59:59Z")],
    [("registration", "2001-01-01T00:00:00Z"), ("registration", "2002-02-02T02:02:02Z")],
    [("last update of RDAP database", "2025-01-01T00:00:00Z"), ("transfer", "2020-01-01")],
]


@needs_fixtures
@pytest.mark.parametrize("events", EVENT_VARIANTS)
def test_event_dates_are_the_ones_whoisit_reads_from_the_whole_answer(
    events: list[tuple[str, str]],
) -> None:
    payload = _verisign()
    if events:
        payload["events"] = [{"eventAction": a, "eventDate": d} for a, d in events]
    reg = transform_rdap_domain("20c.com", payload, "u", AT)
    assert (reg.created, reg.updated, reg.expires) == _whoisit_dates(payload)
    assert reg.notes == ()
