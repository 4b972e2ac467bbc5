"""Graph features and labels against a real Neo4j, on a small graph written through the writer."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from attribution.db import Graph
from attribution.features import EVIDENCE_FEATURES, build_features, export_graph
from attribution.labels import import_label_file, read_labels, set_analyst_label
from attribution.writer import GraphWriter, NodeRow, RelRow

SEEN = datetime(2021, 1, 1, tzinfo=UTC)


def _node(label: str, key: object, **props: object) -> NodeRow:
    return NodeRow(label, key, dict(props), "test", SEEN, SEEN, SEEN)


def _rel(kind: str, start: object, end: object, **props: object) -> RelRow:
    return RelRow(kind, start, end, dict(props), "test", SEEN, SEEN, SEEN)


def load_fixture(graph: Graph) -> None:
    """alpha.com on two addresses in two ASes; beta and gamma co-hosted with it; lonely.org bare."""
    nodes = [
        _node(
            "Domain",
            "alpha.com",
            registrable="alpha.com",
            created=datetime(2020, 1, 1, tzinfo=UTC),
            updated=datetime(2020, 1, 11, tzinfo=UTC),
            expires=datetime(2022, 1, 1, tzinfo=UTC),
            privacy_proxy=False,
        ),
        _node(
            "Domain",
            "beta.com",
            registrable="beta.com",
            created=datetime(2020, 12, 22, tzinfo=UTC),
            privacy_proxy=True,
        ),
        _node("Domain", "gamma.com", registrable="gamma.com"),
        _node("Domain", "lonely.org", registrable="lonely.org"),
        _node("AutonomousSystem", 64500),
        _node("AutonomousSystem", 64501),
    ]
    rels = [
        _rel("RESOLVES_TO", "alpha.com", "192.0.2.1", rtype="A", ttl=300, min_ttl=300),
        _rel("RESOLVES_TO", "alpha.com", "198.51.100.1", rtype="A", ttl=600, min_ttl=600),
        _rel("RESOLVES_TO", "beta.com", "192.0.2.1", rtype="A", ttl=60, min_ttl=60),
        _rel("RESOLVES_TO", "gamma.com", "192.0.2.1", rtype="A", ttl=3600, min_ttl=3600),
        _rel("NAME_SERVER", "alpha.com", "ns1.dnshost.net"),
        _rel("NAME_SERVER", "beta.com", "ns1.dnshost.net"),
        _rel("MAIL_SERVER", "alpha.com", "mail.alpha.com", preference=10),
        _rel("IN_PREFIX", "192.0.2.1", "192.0.2.0/24"),
        _rel("IN_PREFIX", "198.51.100.1", "198.51.100.0/24"),
        _rel("ANNOUNCED_BY", "192.0.2.0/24", 64500),
        _rel("ANNOUNCED_BY", "198.51.100.0/24", 64501),
        _rel("REGISTERED_WITH", "alpha.com", "reg-a"),
        _rel("REGISTERED_WITH", "beta.com", "reg-a"),
    ]
    GraphWriter(graph).load(nodes=nodes, rels=rels)


def _row(fm: object, label: str, key: str) -> dict[str, float]:
    i = fm.keys.index((label, key))  # type: ignore[attr-defined]
    return dict(zip(fm.names, fm.X[i], strict=True))  # type: ignore[attr-defined]


def test_graph_features_exact(graph: Graph) -> None:
    load_fixture(graph)
    fm = build_features(graph, {}, warninglists=None)
    alpha = _row(fm, "Domain", "alpha.com")
    expected = {
        "is_ip": 0.0,
        "dns_addr_count": 2.0,
        "dns_v6_count": 0.0,
        "dns_ns_count": 1.0,
        "dns_mx_count": 1.0,
        "dns_alias": 0.0,
        "dns_min_ttl": 300.0,
        "dns_median_ttl": 450.0,
        "dns_distinct_24": 2.0,
        "dns_distinct_asn": 2.0,
        "dns_ns_shared_max": 1.0,
        "reg_age_days": 366.0,
        "reg_length_days": 731.0,
        "reg_update_gap_days": 10.0,
        "reg_privacy": 0.0,
        "host_cohost_max": 3.0,
        "host_cohost_mean": 2.0,
        "g_degree": 5.0,
    }
    assert {k: alpha[k] for k in expected} == expected
    beta = _row(fm, "Domain", "beta.com")
    assert beta["reg_age_days"] == 10.0 and beta["reg_privacy"] == 1.0
    assert math.isnan(beta["reg_length_days"]) and math.isnan(beta["reg_update_gap_days"])
    assert beta["host_cohost_max"] == 3.0 and beta["dns_distinct_asn"] == 1.0
    shared = _row(fm, "IPAddress", "192.0.2.1")
    assert shared["is_ip"] == 1.0
    assert (shared["host_cohost_max"], shared["dns_min_ttl"], shared["dns_median_ttl"]) == (
        3.0,
        60.0,
        300.0,
    )
    assert shared["dns_distinct_asn"] == 1.0 and math.isnan(shared["lex_length"])


def test_missing_evidence_stays_nan(graph: Graph) -> None:
    load_fixture(graph)
    fm = build_features(graph, {}, warninglists=None)
    lonely = _row(fm, "Domain", "lonely.org")
    assert all(math.isnan(lonely[name]) for name in EVIDENCE_FEATURES)
    assert all(math.isnan(lonely[name]) for name in fm.names if name.startswith(("lab_", "wl_")))
    assert lonely["g_degree"] == 0.0 and lonely["g_component_size"] == 1.0
    counts = dict(zip(fm.keys, fm.evidence_counts(), strict=True))
    assert counts[("Domain", "lonely.org")] == 0
    assert counts[("Domain", "alpha.com")] == len(EVIDENCE_FEATURES) - 1  # no PTR on a domain


def test_export_is_read_only_and_complete(graph: Graph) -> None:
    load_fixture(graph)
    export = export_graph(graph)
    assert sorted(export.addresses) == ["192.0.2.1", "198.51.100.1"]
    assert sorted(export.resolves) == [
        ("alpha.com", "192.0.2.1", 300),
        ("alpha.com", "198.51.100.1", 600),
        ("beta.com", "192.0.2.1", 60),
        ("gamma.com", "192.0.2.1", 3600),
    ]
    assert export.prefixes == {
        "192.0.2.1": [("192.0.2.0/24", 64500)],
        "198.51.100.1": [("198.51.100.0/24", 64501)],
    }


def test_label_precedence_and_latest_within_kind(
    graph: Graph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTRIBUTION_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    load_fixture(graph)
    feed = tmp_path / "feed.csv"
    feed.write_text("value,family,source\nalpha.com,emotet,vendor\n192.0.2.1,emotet,vendor\n")
    allow = tmp_path / "allow.txt"
    allow.write_text("# benign\nalpha.com\nbeta.com\nnot a domain\n")
    t1, t2, t3 = (datetime(2021, 1, d, tzinfo=UTC) for d in (2, 3, 4))
    result = import_label_file(graph, feed, "feed", at=t1)
    assert (result.written, result.sources) == (2, {"feed:vendor": 2})
    assert read_labels(graph)[("Domain", "alpha.com")].verdict == "malicious"
    allowed = import_label_file(graph, allow, "allowlist", at=t1)
    assert allowed.written == 2 and allowed.rejected[0].startswith("line 4:")
    labels = read_labels(graph)
    # allowlist beats feed whatever the times
    assert (labels[("Domain", "alpha.com")].verdict, labels[("Domain", "alpha.com")].kind) == (
        "benign",
        "allowlist",
    )
    assert labels[("IPAddress", "192.0.2.1")].verdict == "malicious"
    # a confirmed incident beats the allowlist
    graph.run_write(
        "MERGE (r:IncidentReport {report_id: 'IR-1'}) SET r.confirmed = true, "
        "r.reported_at = datetime('2021-01-05T00:00:00Z') "
        "WITH r MATCH (d:Domain {name: 'beta.com'}) MERGE (d)-[:REPORTED_IN {role: 'c2'}]->(r)"
    )
    labels = read_labels(graph)
    assert (labels[("Domain", "beta.com")].kind, labels[("Domain", "beta.com")].verdict) == (
        "incident",
        "malicious",
    )
    # an analyst beats everything; the latest analyst verdict wins
    set_analyst_label(graph, "beta.com", "benign", by="alice", reason="sinkhole", at=t2)
    assert read_labels(graph)[("Domain", "beta.com")].verdict == "benign"
    set_analyst_label(graph, "beta.com", "malicious", by="bob", reason="c2 confirmed", at=t3)
    final = read_labels(graph)[("Domain", "beta.com")]
    assert (final.verdict, final.source) == ("malicious", "analyst:bob")
    audit = (tmp_path / "audit.jsonl").read_text().splitlines()
    # every label change is audited: both files, then both verdicts
    assert [json.loads(line)["action"] for line in audit] == [
        "label.import",
        "label.import",
        "label.set",
        "label.set",
    ]


def test_label_features_use_graph_labels(
    graph: Graph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTRIBUTION_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    load_fixture(graph)
    feed = tmp_path / "feed.txt"
    feed.write_text("beta.com\n")
    import_label_file(graph, feed, "feed", at=SEEN)
    labels = read_labels(graph)
    fm = build_features(graph, labels, warninglists=None)
    alpha = _row(fm, "Domain", "alpha.com")
    # alpha.com is unlabelled, so it sees beta.com's label: same registrar, shared NS and address.
    assert alpha["lab_registrar_rate"] == 1.0
    assert alpha["lab_neighbour_share"] == 1.0
    beta = _row(fm, "Domain", "beta.com")
    # beta.com's own label is the only one: its label features have nothing to use.
    assert np.isnan([beta[n] for n in fm.names if n.startswith("lab_")]).all()
