"""A small, hand-checkable attribution graph for the query library and STIX export tests.

The story: ``evil.test`` is a fast-fluxing C2 name (three addresses in three ASes, TTL 60)
registered through a privacy service at ``reg-bad``. Its sibling ``evil2.test`` shares its name
server, registrant, registrar and one address, ``192.0.2.10``, a shared-hosting address that
also carries the benign ``shop.test`` and the disputed ``blog.test``. Two incident reports name
the shared address, one also names ``evil.test``; an internal host contacted the address.
``new.test`` appeared after 2026-09-15 in the same prefix as one of evil.test's addresses and
failed enrichment. One approval request concerns ``evil2.test``.

Everything is written through :class:`attribution.writer.GraphWriter`, as real observations are.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from attribution.db import Graph
from attribution.writer import GraphWriter, NodeRow, RelRow

T0 = datetime(2026, 9, 1, tzinfo=UTC)
T1 = datetime(2026, 10, 1, tzinfo=UTC)
SINCE = datetime(2026, 9, 15, tzinfo=UTC)
RETRIEVED = datetime(2026, 10, 5, tzinfo=UTC)
CREATED = datetime(2026, 8, 30, tzinfo=UTC)
INC1_OBSERVED = datetime(2026, 9, 1, 12, tzinfo=UTC)
INC1_REPORTED = datetime(2026, 9, 2, tzinfo=UTC)
INC2_OBSERVED = datetime(2026, 10, 1, 12, tzinfo=UTC)
INC2_REPORTED = datetime(2026, 10, 2, tzinfo=UTC)
REQUESTED = datetime(2026, 10, 3, tzinfo=UTC)
MODEL = "m-2026-09"
DIGEST = "ab" * 32


def _scored(score: float, decision: str, *reasons: str) -> dict[str, Any]:
    scored = {"score": score, "decision": decision, "model_version": MODEL, "scored_at": T1}
    return {**scored, "reasons": list(reasons)} if reasons else scored


def fixture_rows() -> tuple[list[NodeRow], list[RelRow]]:
    """The fixture's node and relationship observations."""
    nodes: list[NodeRow] = []
    rels: list[RelRow] = []

    def node(
        label: str,
        key: Any,
        props: dict[str, Any] | None = None,
        first: datetime = T0,
        last: datetime = T0,
        source: str = "fixture",
    ) -> None:
        nodes.append(NodeRow(label, key, props or {}, source, first, last, RETRIEVED))

    def rel(
        rel_type: str,
        start: Any,
        end: Any,
        props: dict[str, Any] | None = None,
        first: datetime = T0,
        last: datetime = T0,
        source: str = "fixture",
    ) -> None:
        rels.append(RelRow(rel_type, start, end, props or {}, source, first, last, RETRIEVED))

    def domain(name: str, extra: dict[str, Any] | None = None, **kw: Any) -> None:
        node("Domain", name, {"registrable": name, "tld": "test", **(extra or {})}, **kw)

    domain(
        "evil.test",
        {
            "indicator": True,
            "privacy_proxy": True,
            "created": CREATED,
            "min_ttl": 60,
            **_scored(0.97, "act", "lab_ppr=+0.41", "reg_age_days=+0.12"),
        },
        last=T1,
    )
    domain("evil2.test", {"indicator": True, **_scored(0.91, "act")})
    domain("shop.test", _scored(0.05, "no-act"))
    domain("blog.test")
    domain(
        "new.test",
        {
            "indicator": True,
            "enrich_state": "failed",
            "enrich_failures": ["rdap-domain: timeout"],
            "enrich_failing": True,
            "enriched_at": T1,
            **_scored(0.5, "insufficient-evidence"),
        },
        first=T1,
        last=T1,
    )
    domain("ns1.badns.test")
    domain("ns.cdnish.test")

    node("IPAddress", "192.0.2.10", {"version": 4, **_scored(0.88, "act", "lab_as_rate=+0.30")})
    node("IPAddress", "198.51.100.20", {"version": 4})
    node("IPAddress", "203.0.113.30", {"version": 4})
    node(
        "IPAddress",
        "203.0.113.31",
        {
            "version": 4,
            "enrich_state": "done",
            "enrich_failures": ["rdap-ip: rate-limited"],
            "enrich_failing": True,
            "enriched_at": T1,
        },
        first=T1,
        last=T1,
    )
    node("IPAddress", "10.0.0.5", {"version": 4}, source="flows")
    node("IPAddress", "10.0.0.6", {"version": 4}, source="flows")

    for cidr, asn, as_name in (
        ("192.0.2.0/24", 64500, "SHARED-HOSTING"),
        ("198.51.100.0/24", 64501, "CLOUD-EDGE"),
        ("203.0.113.0/24", 64502, "BULLETPROOF-NET"),
    ):
        node("Prefix", cidr, {"version": 4})
        node("AutonomousSystem", asn, {"name": as_name})
        rel("ANNOUNCED_BY", cidr, asn)

    node("Registrar", "reg-bad", {"name": "BadReg", "iana_id": "9999"})
    node("Registrar", "reg-good", {"name": "GoodReg", "iana_id": "1000"})
    node("Registrant", "privacy-guard", {"name": "Privacy Guard", "privacy_proxy": True})
    node("Registrant", "acme-shop", {"name": "ACME Shop", "privacy_proxy": False})

    node(
        "IncidentReport",
        "INC-1",
        {
            "sector": "energy",
            "observed_at": INC1_OBSERVED,
            "reported_at": INC1_REPORTED,
            "confirmed": True,
        },
        first=INC1_OBSERVED,
        last=INC1_REPORTED,
        source="incident:ops",
    )
    node(
        "IncidentReport",
        "INC-2",
        {
            "sector": "finance",
            "observed_at": INC2_OBSERVED,
            "reported_at": INC2_REPORTED,
            "confirmed": False,
        },
        first=INC2_OBSERVED,
        last=INC2_REPORTED,
        source="incident:ops",
    )
    node("Operator", "Grid Power Co", {"sector": "energy"})
    node("Operator", "Bank Co", {"sector": "finance"})
    node("LabelSource", "feed:emotet", {"kind": "feed"})
    node("LabelSource", "allowlist:top", {"kind": "allowlist"})
    node("LabelSource", "analyst:alice", {"kind": "analyst"})
    node(
        "ApprovalRequest",
        "REQ-1",
        {
            "target": "evil2.test",
            "report_digest": DIGEST,
            "requested_by": "officer-sato",
            "requested_at": REQUESTED,
            "status": "open",
        },
        first=REQUESTED,
        last=REQUESTED,
        source="workflow",
    )

    def a_record(name: str, address: str, ttl: int, **kw: Any) -> None:
        rel("RESOLVES_TO", name, address, {"rtype": "A", "ttl": ttl, "min_ttl": ttl}, **kw)

    a_record("evil.test", "192.0.2.10", 60)
    a_record("evil.test", "198.51.100.20", 60)
    a_record("evil.test", "203.0.113.30", 60, last=T1)
    a_record("evil2.test", "192.0.2.10", 300)
    a_record("shop.test", "192.0.2.10", 3600)
    a_record("blog.test", "192.0.2.10", 3600)
    a_record("new.test", "203.0.113.31", 300, first=T1, last=T1)

    for zone, server in (
        ("evil.test", "ns1.badns.test"),
        ("evil2.test", "ns1.badns.test"),
        ("shop.test", "ns.cdnish.test"),
        ("blog.test", "ns.cdnish.test"),
    ):
        rel("NAME_SERVER", zone, server, {"ttl": 86400, "min_ttl": 86400})

    rel("IN_PREFIX", "192.0.2.10", "192.0.2.0/24")
    rel("IN_PREFIX", "198.51.100.20", "198.51.100.0/24")
    rel("IN_PREFIX", "203.0.113.30", "203.0.113.0/24")
    rel("IN_PREFIX", "203.0.113.31", "203.0.113.0/24", first=T1, last=T1)

    for name in ("evil.test", "evil2.test", "new.test"):
        rel("REGISTERED_WITH", name, "reg-bad")
    for name in ("shop.test", "blog.test"):
        rel("REGISTERED_WITH", name, "reg-good")
    rel("REGISTERED_BY", "evil.test", "privacy-guard")
    rel("REGISTERED_BY", "evil2.test", "privacy-guard")
    rel("REGISTERED_BY", "shop.test", "acme-shop")

    rel("REPORTED_IN", "evil.test", "INC-1", {"role": "c2"}, INC1_OBSERVED, INC1_REPORTED)
    flow = {"role": "c2", "dst_port": 443, "protocol": "tcp"}
    rel("IP_REPORTED_IN", "192.0.2.10", "INC-1", flow, INC1_OBSERVED, INC1_REPORTED)
    rel("IP_REPORTED_IN", "192.0.2.10", "INC-2", flow, INC2_OBSERVED, INC2_REPORTED)
    rel("SUBMITTED_BY", "INC-1", "Grid Power Co", {}, INC1_OBSERVED, INC1_REPORTED)
    rel("SUBMITTED_BY", "INC-2", "Bank Co", {}, INC2_OBSERVED, INC2_REPORTED)

    rel(
        "CONTACTED",
        "10.0.0.5",
        "192.0.2.10",
        {"dst_port": 443, "protocol": "tcp", "packets": 30, "bytes": 4000, "flows": 3},
        last=T1,
        source="flows",
    )
    rel(
        "CONTACTED",
        "10.0.0.6",
        "198.51.100.20",
        {"dst_port": 443, "protocol": "tcp", "packets": 10, "bytes": 1000, "flows": 1},
        source="flows",
    )

    emotet = {"verdict": "malicious", "family": "emotet"}
    for name in ("evil.test", "evil2.test", "blog.test"):
        rel("LABELS_DOMAIN", "feed:emotet", name, emotet)
    for name in ("shop.test", "blog.test"):
        rel("LABELS_DOMAIN", "allowlist:top", name, {"verdict": "benign"})
    rel(
        "LABELS_IP",
        "analyst:alice",
        "192.0.2.10",
        {"verdict": "malicious", "by": "alice", "reason": "c2 traffic in INC-1"},
    )
    rel("CONCERNS_DOMAIN", "REQ-1", "evil2.test", {}, REQUESTED, REQUESTED, source="workflow")
    return nodes, rels


def load_fixture(graph: Graph) -> None:
    """Write the fixture graph into ``graph`` (expected to be empty)."""
    nodes, rels = fixture_rows()
    GraphWriter(graph).load(nodes, rels)
