"""Raw RDAP answers: key identities, kept and dropped fields, rejections; real recorded answers."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from attribution.identities import Identity
from attribution.intake.rdap_raw import parse_rdap
from attribution.intake.records import RdapEntityRef, RdapRecord, Rejection

DATA = Path(__file__).resolve().parent.parent / "data" / "intake"
REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(
    os.environ.get("ATTRIBUTION_FIXTURES_DIR")
    or REPO_ROOT.parent / "shared" / "fixtures" / "rdap-whois-asn"
)
SRC = "rdap-answers.json"


def _record(**fields: object) -> RdapRecord:
    base: dict[str, object] = {
        "handle": None,
        "identity": None,
        "name": None,
        "cidrs": (),
        "asn_range": None,
        "country": None,
        "status": (),
        "events": (),
        "nameservers": (),
        "entities": (),
        "source": SRC,
        "line": 0,
    }
    base.update(fields)
    return RdapRecord(**base)  # type: ignore[arg-type]


def test_answers_give_records_with_key_identities() -> None:
    result = parse_rdap((DATA / "rdap-answers.json").read_bytes(), SRC)
    # The domain answer is also read by enrichment's RDAP transform, as enrichment reads it.
    registration = result.records[1].registration
    assert registration is not None
    assert (registration.domain, registration.protocol) == ("xn--bcher-kva.example", "rdap")
    assert registration.nameservers == ("ns1.hosting.example", "bad..ns")
    assert [replace(record, registration=None) for record in result.records] == [
        _record(
            object_class="ip network",
            handle="NET-198-51-100-0-1",
            identity=Identity("cidr", "198.51.100.0/24"),
            name="EXAMPLE-NET",
            cidrs=("198.51.100.0/24", "198.51.101.0/25"),
            country="JP",
            status=("active",),
            events=(("registration", datetime(2020, 1, 1, 18, 4, 5, tzinfo=UTC)),),
            # The individual's name and every e-mail address are dropped.
            entities=(
                RdapEntityRef("EXORG-1", ("registrant",), "Example Hosting KK"),
                RdapEntityRef("JD1-EX", ("technical",), None),
            ),
        ),
        _record(
            object_class="domain",
            handle="D1-EX",
            identity=Identity("domain", "xn--bcher-kva.example"),
            nameservers=("ns1.hosting.example",),
        ),
        _record(
            object_class="autnum",
            handle="AS64496",
            identity=Identity("asn", 64496),
            name="EXAMPLE-AS",
            asn_range=(64496, 64511),
        ),
        _record(object_class="entity", handle="EXORG-1"),
    ]
    assert result.rejections == [
        Rejection(
            SRC,
            0,
            "$[0].events[1]",
            "{'eventAction': 'last changed', 'eventDate': 'yesterday'}",
            "event not read (not an RFC 3339 timestamp (YYYY-MM-DDThh:mm:ssZ))",
        ),
        Rejection(SRC, 0, "$[1].nameservers[1].ldhName", "bad..ns", "empty label"),
        Rejection(
            SRC,
            0,
            "$[4].objectClassName",
            "nameserver",
            "object class not taken (taken: ip network, domain, autnum, entity)",
        ),
        Rejection(SRC, 0, "$[5].errorCode", "404", "RDAP error answer: Not Found"),
    ]
    assert "noc@hosting.example" not in repr(result)
    assert "Jane Doe" not in repr(result)


@pytest.fixture
def recorded() -> Path:
    path = FIXTURES / "20c-rdap" / "rdap"
    if not path.is_dir():
        pytest.skip(f"recorded RDAP answers not found at {path}; set ATTRIBUTION_FIXTURES_DIR")
    return path


def test_recorded_arin_network(recorded: Path) -> None:
    result = parse_rdap((recorded / "ip" / "206.41.110.0.input").read_bytes(), "arin")
    assert result.rejections == []
    [record] = result.records
    assert (record.object_class, record.handle, record.identity, record.cidrs) == (
        "ip network",
        "NET-206-41-110-0-1",
        Identity("cidr", "206.41.110.0/24"),
        ("206.41.110.0/24",),
    )
    assert record.events == (
        ("last changed", datetime(2021, 12, 15, 1, 28, 45, tzinfo=UTC)),
        ("registration", datetime(2014, 10, 17, 22, 32, 20, tzinfo=UTC)),
    )
    assert record.entities[:2] == (
        RdapEntityRef("UIEL", ("registrant",), "United-IX"),
        RdapEntityRef("UIE-ARIN", ("abuse", "noc", "technical"), "United IX Engineers"),
    )
    assert RdapEntityRef("HAZEN16-ARIN", ("technical",), None) in record.entities


def test_recorded_verisign_domain_and_arin_autnum(recorded: Path) -> None:
    [domain] = parse_rdap((recorded / "domain" / "20c.com.input").read_bytes(), "vrsn").records
    assert domain.identity == Identity("domain", "20c.com")
    assert domain.nameservers == (
        "ns-1468.awsdns-55.org",
        "ns-1771.awsdns-29.co.uk",
        "ns-327.awsdns-40.com",
        "ns-545.awsdns-04.net",
    )
    assert domain.entities[0] == RdapEntityRef(
        "113", ("registrar",), "CSL Computer Service Langenbach GmbH d/b/a joker.com"
    )
    [autnum] = parse_rdap((recorded / "autnum" / "2914.input").read_bytes(), "arin").records
    assert (autnum.identity, autnum.name, autnum.asn_range) == (
        Identity("asn", 2914),
        "NTT-LTD-2914",
        (2914, 2914),
    )
