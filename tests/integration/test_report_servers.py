"""Reports act on servers: current and stale addresses, collateral per address, names without
a server, platforms, evidence families and the score's explanation, on a real graph."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from test_reports import GENERATED, cli, make_world

from attribution.db import Graph
from attribution.reports.builder import build_content, generate_report, validate_document
from attribution.reports.canonical import seal
from attribution.reports.html import SECTION_IDS, render_html
from attribution.settings import Settings
from attribution.warninglists import WarninglistIndex
from attribution.writer import GraphWriter, NodeRow, RelRow

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SCORED = datetime(2026, 3, 11, tzinfo=UTC)
STALE_FIRST = datetime(2026, 1, 1, tzinfo=UTC)
STALE_LAST = datetime(2026, 2, 1, tzinfo=UTC)
RECENT = SCORED - timedelta(hours=2)
ALIAS_FIRST = datetime(2026, 3, 2, tzinfo=UTC)
ALIAS_LAST = SCORED - timedelta(hours=5)
CDN_TENANTS = 68
ADDRESSES = (
    "198.51.100.20",
    "203.0.113.10",
    "203.0.113.11",
    "203.0.113.12",
    "203.0.113.13",
    "203.0.113.20",
    "203.0.113.30",
)

EXPLANATION = {
    "method": "shapley-over-feature-groups",
    "base_value": 0.12,
    "base_description": "the score of a domain with no evidence observed",
    "contributions": [
        {
            "group": "hosting",
            "title": "hosting",
            "contribution": 0.41,
            "values": {"dns_distinct_asn": 2, "host_cohost_max": 1},
        },
        {
            "group": "registration",
            "title": "registration",
            "contribution": 0.25,
            "values": {"reg_age_days": 3, "reg_privacy": 1},
        },
        {
            "group": "warninglists",
            "title": "warninglists",
            "contribution": -0.05,
            "values": {"wl_top": 0},
        },
    ],
    "score": 0.73,
    "not_observed": ["labelled neighbours", "graph structure"],
}

World = tuple[Graph, Settings, WarninglistIndex]


def _node(label: str, key: Any, first: datetime = T0, last: datetime = T0, **props: Any) -> NodeRow:
    return NodeRow(label, key, props, "dns", first, last, last)


def _resolves(
    name: str, address: str, first: datetime, last: datetime, source: str = "dns"
) -> RelRow:
    return RelRow("RESOLVES_TO", name, address, {"rtype": "A"}, source, first, last, last)


def _scored(
    score: float, decision: str, model: str = "maliciousness/1", **extra: Any
) -> dict[str, Any]:
    return {
        "score": score,
        "decision": decision,
        "model_version": model,
        "scored_at": SCORED,
        **extra,
    }


def _label(source: str, name: str) -> RelRow:
    return RelRow("LABELS_DOMAIN", source, name, {"verdict": "malicious"}, "feed", T0, T0, T0)


def build_servers_world(graph: Graph) -> None:
    """nx.test (NXDOMAIN), phish.test (on a CDN address with 68 other names), moved.test (a
    current, a stale and an aliased address), stale.test (stale only), user.github.io (a
    labelled tenant of a top-site platform) and thin.test (too few evidence families)."""
    explained = {
        "explanation": json.dumps(EXPLANATION, sort_keys=True),
        "score_low": 0.88,
        "score_high": 0.96,
        "evidence_families": ["registration", "resolution", "hosting"],
        "reasons": ["hosting: dns_distinct_asn 2, host_cohost_max 1 (+0.41)"],
    }
    nodes = [
        _node("Domain", "nx.test", nxdomain=True, **_scored(1.0, "act")),
        _node("Domain", "phish.test", **_scored(0.98, "act")),
        _node("Domain", "moved.test", **_scored(0.93, "act", "maliciousness/2", **explained)),
        _node("Domain", "edge.cdnhost.test"),
        _node("Domain", "stale.test", **_scored(0.95, "act")),
        _node("Domain", "user.github.io", **_scored(0.97, "act")),
        _node(
            "Domain",
            "thin.test",
            **_scored(0.96, "act", "maliciousness/2", evidence_families=["resolution"]),
        ),
        _node("LabelSource", "feed:phish.txt", kind="feed"),
    ]
    nodes += [_node("IPAddress", address, version=4) for address in ADDRESSES]
    nodes += [_node("Domain", f"site{i:02d}.shop.test") for i in range(CDN_TENANTS)]
    rels = [
        _resolves("phish.test", "198.51.100.20", T0, RECENT),
        _label("feed:phish.txt", "phish.test"),
        _resolves("moved.test", "203.0.113.10", T0, RECENT),
        _resolves("moved.test", "203.0.113.11", STALE_FIRST, STALE_LAST),
        RelRow(
            "ALIAS_OF",
            "moved.test",
            "edge.cdnhost.test",
            {},
            "dns",
            ALIAS_FIRST,
            ALIAS_LAST,
            ALIAS_LAST,
        ),
        _resolves("edge.cdnhost.test", "203.0.113.12", T0, RECENT, "passive-dns"),
        _resolves("stale.test", "203.0.113.13", STALE_FIRST, STALE_LAST),
        _resolves("user.github.io", "203.0.113.20", T0, RECENT),
        _label("feed:phish.txt", "user.github.io"),
        _resolves("thin.test", "203.0.113.30", T0, RECENT),
    ]
    rels += [
        _resolves(f"site{i:02d}.shop.test", "198.51.100.20", T0, RECENT) for i in range(CDN_TENANTS)
    ]
    GraphWriter(graph).load(nodes=nodes, rels=rels)


def write_lists(root: Path) -> Path:
    lists = {
        "cloudflare": ("cidr", ["198.51.100.0/24"]),
        "tranco10k": ("hostname", ["popular.example", "github.io"]),
    }
    for name, (kind, entries) in lists.items():
        folder = root / "lists" / name
        folder.mkdir(parents=True)
        document = {"name": name, "description": name, "type": kind, "list": entries, "version": 1}
        (folder / "list.json").write_text(json.dumps(document))
    return root


def write_manifests(models: Path) -> None:
    """Version 1 states no evidence policy; version 2 requires two families."""
    for version, extra in (("1", {}), ("2", {"evidence_policy": {"min_families": 2}})):
        folder = models / "maliciousness" / version
        folder.mkdir(parents=True)
        gate = {"alpha": 0.01, "delta": 0.05, "threshold": 0.9, "n_calibration_benign": 299}
        manifest = {"name": "maliciousness", "version": version, "gate": gate, **extra}
        (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def world(graph: Graph, test_settings: Settings, tmp_path: Path) -> World:
    graph, settings, lists = make_world(
        graph, test_settings, tmp_path, build_servers_world, write_manifests, write_lists
    )
    # The window the expected values assume, whatever the environment sets.
    return graph, replace(settings, reports=replace(settings.reports, freshness_hours=72.0)), lists


def _content(world: World, target: str, **kwargs: Any) -> dict[str, Any]:
    graph, settings, lists = world
    return build_content(graph, target, settings, warninglists=lists, **kwargs)


def test_a_name_that_does_not_resolve_is_not_actionable(world: World) -> None:
    content = _content(world, "nx.test")
    assert content["score"]["probability"] == 1.0
    assert content["servers"] == []
    assert content["action"] == {
        "meaning": "Acting on domain nx.test means acting on the servers it currently resolves "
        "to; it currently resolves to none, so there is nothing to act upon.",
        "servers": [],
        "not_acted_upon": [],
    }
    assert content["recommendation"] == {
        "outcome": "not-actionable-no-server",
        "reasons": [
            "no current server: the name resolves to no address "
            "(the last DNS lookup said the name does not exist: NXDOMAIN)"
        ],
        "other_findings": [],
    }


def test_a_name_with_only_stale_addresses_is_not_actionable(world: World) -> None:
    content = _content(world, "stale.test")
    [server] = content["servers"]
    assert (server["address"], server["current"], server["clear_to_act"]) == (
        "203.0.113.13",
        False,
        False,
    )
    assert content["action"]["servers"] == []
    assert content["recommendation"]["outcome"] == "not-actionable-no-server"
    assert content["recommendation"]["reasons"] == [
        "no current server: every address it resolved to is stale: 203.0.113.13 last seen "
        "2026-02-01T00:00:00Z (freshness window 72 h before 2026-03-11T00:00:00Z)"
    ]


def test_a_domain_on_a_shared_cdn_address_is_a_collateral_risk(world: World) -> None:
    content = _content(world, "phish.test")
    [server] = content["servers"]
    assert server["address"] == "198.51.100.20"
    assert server["current"] is True
    assert [h["category"] for h in server["warninglist_hits"]] == ["cdn"]
    assert server["cohosted_names"] == CDN_TENANTS
    assert server["cohosted_not_known_malicious"] == CDN_TENANTS
    assert server["cohosted_examples"] == [f"site{i:02d}.shop.test" for i in range(20)]
    assert server["findings"] == [
        "address in a cdn range (warninglist cloudflare)",
        "68 co-hosted names not known to be malicious (threshold 3; 68 co-hosted in all)",
    ]
    assert server["clear_to_act"] is False
    assert content["collateral"]["current_servers_with_findings"] == ["198.51.100.20"]
    assert content["recommendation"] == {
        "outcome": "do-not-act-collateral-risk",
        "reasons": [
            "server 198.51.100.20: address in a cdn range (warninglist cloudflare)",
            "server 198.51.100.20: 68 co-hosted names not known to be malicious "
            "(threshold 3; 68 co-hosted in all)",
            "no current server is clear of findings",
        ],
        "other_findings": [],
    }


MOVED_SERVERS = [
    {
        "address": "203.0.113.10",
        "via": None,
        "sources": ["dns"],
        "first_seen": "2026-03-01T00:00:00Z",
        "last_seen": "2026-03-10T22:00:00Z",
        "current": True,
    },
    {
        "address": "203.0.113.11",
        "via": None,
        "sources": ["dns"],
        "first_seen": "2026-01-01T00:00:00Z",
        "last_seen": "2026-02-01T00:00:00Z",
        "current": False,
    },
    {
        # Through the alias: the later first sighting and the earlier last sighting of the hops.
        "address": "203.0.113.12",
        "via": "edge.cdnhost.test",
        "sources": ["dns", "passive-dns"],
        "first_seen": "2026-03-02T00:00:00Z",
        "last_seen": "2026-03-10T19:00:00Z",
        "current": True,
    },
]


def test_only_current_servers_are_acted_upon(world: World) -> None:
    content = _content(world, "moved.test")
    keys = ("address", "via", "sources", "first_seen", "last_seen", "current")
    assert [{k: s[k] for k in keys} for s in content["servers"]] == MOVED_SERVERS
    assert [s["cohosted_examples"] for s in content["servers"]] == [
        [],
        [],
        ["edge.cdnhost.test"],
    ]
    assert content["parameters"]["as_of"] == "2026-03-11T00:00:00Z"
    assert content["action"] == {
        "meaning": "Acting on domain moved.test means acting on the servers it currently "
        "resolves to: 203.0.113.10, 203.0.113.12. Stale addresses (203.0.113.11) are shown "
        "but not acted upon.",
        "servers": ["203.0.113.10", "203.0.113.12"],
        "not_acted_upon": ["203.0.113.11"],
    }
    assert content["recommendation"] == {
        "outcome": "eligible-for-approval",
        "reasons": [
            "the false-positive gate passed (decision act, score 0.93)",
            "current servers, each clear of findings: 203.0.113.10, 203.0.113.12",
        ],
        "other_findings": [
            "stale addresses, shown but not acted upon: 203.0.113.11 last seen "
            "2026-02-01T00:00:00Z (freshness window 72 h before 2026-03-11T00:00:00Z)"
        ],
    }
    narrow = _content(world, "moved.test", freshness_hours=1)
    assert narrow["parameters"]["freshness_hours"] == 1
    assert narrow["action"]["servers"] == []
    assert narrow["recommendation"]["outcome"] == "not-actionable-no-server"


def test_score_interval_explanation_and_families(world: World) -> None:
    score = _content(world, "moved.test")["score"]
    assert score["probability"] == 0.93
    assert score["interval"] == {"low": 0.88, "high": 0.96}
    explanation = score["explanation"]
    assert {k: v for k, v in explanation.items() if k != "contributions"} == {
        "present": True,
        "note": None,
        "method": "shapley-over-feature-groups",
        "base_value": 0.12,
        "base_description": "the score of a domain with no evidence observed",
        "explained_value": 0.73,
        "sum_of_contributions": pytest.approx(0.61),
        "additive": True,
        "not_observed": ["labelled neighbours", "graph structure"],
    }
    assert explanation["contributions"] == [
        {
            "group": "hosting",
            "title": "hosting",
            "contribution": 0.41,
            "direction": "toward-malicious",
            "values": {"dns_distinct_asn": 2, "host_cohost_max": 1},
            "text": "hosting: dns_distinct_asn 2, host_cohost_max 1 (+0.41)",
            "check_in": ["servers", "collateral"],
            "check_note": None,
        },
        {
            "group": "registration",
            "title": "registration",
            "contribution": 0.25,
            "direction": "toward-malicious",
            "values": {"reg_age_days": 3, "reg_privacy": 1},
            "text": "registration: reg_age_days 3, reg_privacy 1 (+0.25)",
            "check_in": ["counter_evidence.registration"],
            "check_note": None,
        },
        {
            "group": "warninglists",
            "title": "warninglists",
            "contribution": -0.05,
            "direction": "against-malicious",
            "values": {"wl_top": 0},
            "text": "warninglists: wl_top 0 (-0.05)",
            "check_in": ["counter_evidence.warninglist_hits", "servers"],
            "check_note": None,
        },
    ]
    assert _content(world, "moved.test")["evidence_families"] == {
        "recorded": True,
        "observed": ["resolution", "hosting", "registration"],
        "not_observed": ["incident", "labels", "association"],
        "statement": "not observed: incident, labels, association",
        "minimum": 2,
        "minimum_source": "evidence_policy.min_families of the model manifest",
        "meets_minimum": True,
    }


def test_older_scores_say_what_they_lack(world: World) -> None:
    content = _content(world, "phish.test")
    assert content["score"]["interval"] is None
    assert content["score"]["explanation"]["present"] is False
    assert content["score"]["explanation"]["note"] == (
        "the score has no explanation (it was written before explanations were recorded); "
        "top_reasons shows the reasons stored with it"
    )
    assert content["evidence_families"] == {
        "recorded": False,
        "observed": None,
        "not_observed": None,
        "statement": "the score recorded no evidence families",
        "minimum": None,
        "minimum_source": "no minimum: the model manifest states no evidence_policy.min_families",
        "meets_minimum": None,
    }


def test_too_few_evidence_families_is_insufficient(world: World) -> None:
    content = _content(world, "thin.test")
    assert content["evidence_families"]["not_observed"] == [
        "hosting",
        "registration",
        "incident",
        "labels",
        "association",
    ]
    assert content["recommendation"] == {
        "outcome": "insufficient-evidence",
        "reasons": ["only 1 of the model's minimum of 2 evidence families observed (resolution)"],
        "other_findings": [],
    }


def test_a_labelled_tenant_of_a_top_site_platform_is_a_collateral_risk(world: World) -> None:
    content = _content(world, "user.github.io")
    assert content["target"]["registrable_domain"] == "user.github.io"
    assert content["collateral"]["private_suffix"] == "github.io"
    assert content["collateral"]["shared_platform"] is True
    against = "; against: malicious label from feed:phish.txt"
    assert content["recommendation"] == {
        "outcome": "do-not-act-collateral-risk",
        "reasons": [
            "conflicting evidence: parent github.io is on warninglist tranco10k (top-sites), "
            "which vouches only for that name, or for names under it as their registrable "
            f"domain outside a shared platform{against}",
            "conflicting evidence: shared platform: the name lies under github.io, a private "
            f"Public Suffix List entry (anyone can publish names under it){against}",
            "current servers clear of findings: 203.0.113.20",
        ],
        "other_findings": [],
    }


def test_report_is_reproducible_and_renders_servers_and_reasons(world: World) -> None:
    graph, settings, lists = world
    first = generate_report(
        graph, "moved.test", settings, generated_at=GENERATED, warninglists=lists
    )
    second = generate_report(graph, "moved.test", settings, warninglists=lists)
    assert first["digest"] == second["digest"]
    assert first["content"]["content_version"] == 2
    html = render_html(first)
    for section in SECTION_IDS:
        assert f'<section id="{section}">' in html
    assert "[0.88, 0.96]" in html
    assert "<code>hosting: dns_distinct_asn 2, host_cohost_max 1 (+0.41)</code>" in html
    assert "<code>warninglists: wl_top 0 (-0.05)</code>" in html
    assert "Not observed: labelled neighbours, graph structure" in html
    assert "not observed: incident, labels, association" in html
    stale_row = html.split('<tr class="stale">', 1)[1].split("</tr>", 1)[0]
    assert stale_row.startswith("<td><code>203.0.113.11</code></td><td></td><td>stale</td>")
    assert stale_row.endswith("<td>none</td>\n<td>no</td>")
    assert "Acting on domain moved.test means acting on the servers it currently" in html


def test_schema_requires_the_new_sections_and_keeps_version_1_valid(world: World) -> None:
    graph, settings, lists = world
    document = generate_report(
        graph, "moved.test", settings, generated_at=GENERATED, warninglists=lists
    )
    for key in ("servers", "action", "evidence_families", "labelled_neighbours"):
        broken = json.loads(json.dumps(document))
        del broken["content"][key]
        with pytest.raises(jsonschema.ValidationError, match=f"'{key}' is a required property"):
            validate_document(broken)
    old = json.loads(json.dumps(document["content"]))
    for key in ("servers", "action", "evidence_families", "labelled_neighbours"):
        del old[key]
    for key in ("freshness_hours", "as_of"):
        del old["parameters"][key]
    for key in ("interval", "explanation"):
        del old["score"][key]
    for key in ("private_suffix", "current_servers", "current_servers_with_findings"):
        del old["collateral"][key]
    old["collateral"]["shared_ips"] = []
    old["content_version"] = 1
    sealed = seal(old, document["generated_at"])
    validate_document(sealed)
    html = render_html(sealed)
    assert "Not stated in this report (content version 1)." in html


def test_report_cli_takes_the_freshness_window(
    world: World, neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    _, settings, _ = world
    env = {
        **neo4j_env,
        "ATTRIBUTION_MODELS_DIR": str(settings.models_dir),
        "ATTRIBUTION_WARNINGLISTS_DIR": str(settings.warninglists_dir),
        "ATTRIBUTION_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
    }
    args = ("report", "moved.test", "--format", "json", "--out", str(tmp_path), "--json")
    wide = cli(env, *args)
    assert wide.returncode == 0, wide.stderr
    assert json.loads(wide.stdout)["action_servers"] == ["203.0.113.10", "203.0.113.12"]
    narrow = cli(env, *args, "--freshness-hours", "3")
    assert narrow.returncode == 0, narrow.stderr
    summary = json.loads(narrow.stdout)
    assert summary["recommendation"] == "eligible-for-approval"
    assert summary["action_servers"] == ["203.0.113.10"]
    document = json.loads(Path(summary["files"][0]).read_text())
    assert document["content"]["parameters"]["freshness_hours"] == 3
    assert cli(env, *args, "--freshness-hours", "-1").returncode == 2
