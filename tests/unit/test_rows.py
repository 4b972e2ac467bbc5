"""The row builder: explicit times, what an identity implies, and the one DNS mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from attribution.identities import Identity
from attribution.ingest import rows_for
from attribution.intake.records import PassiveDnsRecord
from attribution.observations_to_rows import rows_for_results
from attribution.rows import Rows, Seen
from attribution.schema import DNS_RELATIONSHIP
from attribution.writer import NodeRow, RelRow
from enrichment.failures import Outcome
from enrichment.observations import DnsRecord, EnrichmentResults, Provenance, SourceResult

T0 = datetime(2026, 3, 1, tzinfo=UTC)
T1 = datetime(2026, 3, 2, tzinfo=UTC)
T2 = datetime(2026, 3, 3, tzinfo=UTC)


def test_seen_keeps_the_times_it_is_given() -> None:
    assert Seen.at(T1) == Seen(T1, T1, T1)
    assert Seen.since(None, T1) == Seen(T1, T1, T1)
    assert Seen.since(T0, T1) == Seen(T0, T1, T1)
    # A feed's clock ahead of ours: its time is also the last sighting.
    assert Seen.since(T2, T1) == Seen(T2, T2, T1)
    with pytest.raises(ValueError, match="is before first seen"):
        Seen(T1, T0, T2)


def test_an_identity_node_carries_what_its_value_implies() -> None:
    rows = Rows()
    seen = Seen(T0, T1, T2)
    rows.node(Identity("domain", "www.example.co.jp"), {"tags": ["x"]}, "s", seen)
    rows.node(Identity("ip", "2001:db8::1"), {}, "s", seen)
    rows.node(Identity("cidr", "192.0.2.0/24"), {}, "s", seen)
    rows.entity("Registrar", "ex reg", {"name": "Ex Reg"}, "s", seen)
    assert rows.nodes == [
        NodeRow("Domain", "example.co.jp", {"registrable": "example.co.jp"}, "s", T0, T1, T2),
        NodeRow(
            "Domain",
            "www.example.co.jp",
            {"tags": ["x"], "registrable": "example.co.jp", "tld": "jp"},
            "s",
            T0,
            T1,
            T2,
        ),
        NodeRow("IPAddress", "2001:db8::1", {"version": 6}, "s", T0, T1, T2),
        NodeRow("Prefix", "192.0.2.0/24", {"version": 4}, "s", T0, T1, T2),
        NodeRow("Registrar", "ex reg", {"name": "Ex Reg"}, "s", T0, T1, T2),
    ]
    assert rows.rels == [
        RelRow("SUBDOMAIN_OF", "www.example.co.jp", "example.co.jp", {}, "s", T0, T1, T2)
    ]


def test_dns_records_map_through_the_one_map() -> None:
    assert DNS_RELATIONSHIP == {
        "A": "RESOLVES_TO",
        "AAAA": "RESOLVES_TO",
        "CNAME": "ALIAS_OF",
        "NS": "NAME_SERVER",
        "MX": "MAIL_SERVER",
        "PTR": "REVERSE_NAME",
    }
    rows = Rows()
    seen = Seen.at(T0)
    assert rows.dns_record("MX", "a.test", "10 Mail.A.Test.", {}, "s", seen) == Identity(
        "domain", "mail.a.test"
    )
    assert rows.dns_record("MX", "a.test", "0 .", {}, "s", seen) is None
    assert rows.dns_record("AAAA", "a.test", "2001:DB8::1", {"ttl": 5}, "s", seen) == Identity(
        "ip", "2001:db8::1"
    )
    assert rows.dns_record("PTR", "192.0.2.1", "host.a.test.", {}, "s", seen) == Identity(
        "domain", "host.a.test"
    )
    assert [(r.type, r.start, r.end, r.props) for r in rows.rels] == [
        ("MAIL_SERVER", "a.test", "mail.a.test", {"preference": 10}),
        ("RESOLVES_TO", "a.test", "2001:db8::1", {"ttl": 5, "rtype": "AAAA"}),
        ("REVERSE_NAME", "192.0.2.1", "host.a.test", {}),
    ]
    assert [(n.label, n.key) for n in rows.nodes] == [
        ("Domain", "a.test"),
        ("Domain", "mail.a.test"),
        ("Domain", "a.test"),
        ("IPAddress", "2001:db8::1"),
        ("IPAddress", "192.0.2.1"),
        ("Domain", "host.a.test"),
    ]


@pytest.mark.parametrize(
    ("rrtype", "answer", "sighted"),
    [
        ("A", "192.0.2.7", "192.0.2.7"),
        ("CNAME", "Edge.CDN.Test.", "edge.cdn.test"),
        ("NS", "ns1.dns.test.", "ns1.dns.test"),
        ("MX", "10 mx.a.test.", "10 mx.a.test"),
    ],
)
def test_a_record_answered_and_a_record_sighted_are_one_fact(
    rrtype: str, answer: str, sighted: str
) -> None:
    """The worker's answer and passive DNS's sighting of one record give the same rows."""
    answered = DnsRecord("www.a.test", rrtype, answer, 300, Provenance("dns", "ns", T1))
    results = EnrichmentResults(
        "www.a.test", (SourceResult("dns", "www.a.test", Outcome.OK, (answered,)),)
    )
    from_worker = rows_for_results(Identity("domain", "www.a.test"), results, T1)
    record = PassiveDnsRecord("www.a.test", rrtype, (sighted,), T1, T1, 1, "p.jsonl", 1)
    from_intake = rows_for([record], T1)

    def facts(rels: list[RelRow]) -> set[tuple[str, object, object, object]]:
        return {
            (r.type, r.start, r.end, r.props.get("rtype") or r.props.get("preference"))
            for r in rels
        }

    assert facts(from_worker.rels) == facts(from_intake.rels)
    assert {(n.label, n.key) for n in from_worker.nodes} == {
        (n.label, n.key) for n in from_intake.nodes
    }
