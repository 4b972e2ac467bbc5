"""Reports on nodes scored by the real train and score commands: the report shows what scoring
wrote (interval, explanation, reason lines, evidence families, the manifest's minimum)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from test_scoring_commands import N_BENIGN, _cli, labelled_world

from attribution.classifier.score import DEFERRED_REASON
from attribution.db import Graph
from attribution.reports.builder import generate_report
from attribution.reports.explanation import EVIDENCE_FAMILIES
from attribution.scoring.explain import DEFERRED_NOTE
from attribution.settings import Settings


def test_reports_show_what_scoring_wrote(
    graph: Graph, neo4j_env: dict[str, str], test_settings: Settings, tmp_path: Path
) -> None:
    env = labelled_world(graph, neo4j_env, tmp_path)
    models = tmp_path / "models"
    trained = _cli(env, "train", "--alpha", "0.1", "--delta", "0.1", "--folds", "3", "--json")
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["n_benign"] == N_BENIGN
    scored = _cli(env, "score", "--model", str(models / "maliciousness" / "v1"), "--json")
    assert scored.returncode == 0, scored.stderr
    models_settings = replace(
        test_settings.models, signing_key=Path(env["ATTRIBUTION_MODEL_SIGNING_KEY"])
    )
    settings = replace(
        test_settings, models_dir=models, warninglists_dir=tmp_path / "none", models=models_settings
    )

    [node] = graph.read(
        "MATCH (d:Domain {decision: 'act'}) WHERE d.name ENDS WITH '.xyz' "
        "RETURN d.name AS name, d.reasons AS reasons, d.evidence_families AS families "
        "ORDER BY name LIMIT 1"
    )
    content = generate_report(graph, node["name"], settings)["content"]
    score = content["score"]
    assert score["interval"]["low"] <= score["probability"] <= score["interval"]["high"]
    explanation = score["explanation"]
    assert explanation["present"] is True and explanation["additive"] is True
    assert explanation["method"] == "shapley-over-feature-groups"
    # The report's lines for the largest contributions are the reason lines scoring wrote
    # (the report writes a contribution below 0.005 in full where they round it to 0.00).
    top = explanation["contributions"][:3]
    assert len(node["reasons"]) == len(top) == 3
    for item, line in zip(top, node["reasons"], strict=True):
        if abs(item["contribution"]) >= 0.005:
            assert item["text"] == line
    # Each reason's values can be checked against the same report: its servers and facts.
    values = {item["group"]: item["values"] for item in explanation["contributions"]}
    [server] = content["servers"]
    assert values["resolution"]["dns_addr_count"] == len(content["servers"]) == 1
    assert values["hosting"]["host_cohost_max"] == server["cohosted_names"] + 1 == 2
    resolutions = [
        fact
        for fact in content["evidence"]["facts"]
        if fact.get("type") == "RESOLVES_TO" and fact["start"]["key"] == node["name"]
    ]
    assert [f["end"]["key"] for f in resolutions] == [server["address"]]
    assert values["resolution"]["dns_min_ttl"] == resolutions[0]["properties"]["min_ttl"] == 60
    assert values["registration"]["reg_privacy"] == 1
    families = content["evidence_families"]
    assert (families["observed"], families["minimum"]) == (node["families"], 2)
    assert families["not_observed"] == [f for f in EVIDENCE_FAMILIES if f not in node["families"]]
    # Its addresses were last seen in 2024, long before it was scored: none is current.
    assert content["action"]["servers"] == []
    assert content["recommendation"]["outcome"] == "not-actionable-no-server"
    assert content["recommendation"]["other_findings"] == ["control not checked: warninglists"]

    lonely = generate_report(graph, "nothing-known.org", settings)["content"]
    assert lonely["score"]["probability"] is None
    assert lonely["score"]["explanation"]["note"] == (
        "the target has no score, so there is no explanation"
    )
    assert lonely["score"]["top_reasons"][0].startswith("insufficient evidence: 0 of the 2")
    assert lonely["evidence_families"]["statement"] == (
        "not observed: resolution, hosting, registration, incident, labels, association"
    )
    assert lonely["recommendation"] == {
        "outcome": "not-actionable-no-server",
        "reasons": ["no current server: the name resolves to no address"],
        "other_findings": [
            "control not checked: warninglists",
            "the classifier found insufficient evidence",
            "only 0 of the model's minimum of 2 evidence families observed (none)",
        ],
    }

    # A benign name far below the gate: scoring deferred its explanation, the report computes
    # it from the recorded feature values, exactly as `score --explain all` writes it.
    benign = "forestmaple5.com"  # benign number 5 of build_world
    [deferred] = graph.read(
        "MATCH (d:Domain {name: $name}) RETURN d.explanation AS explanation, "
        "d.reasons AS reasons, d.score AS score",
        {"name": benign},
    )
    assert deferred["explanation"] is None and deferred["score"] < 0.5
    assert deferred["reasons"] == [DEFERRED_REASON]
    late = generate_report(graph, benign, settings)["content"]["score"]
    assert late["explanation"]["note"] == DEFERRED_NOTE
    assert late["explanation"]["present"] is True and late["explanation"]["additive"] is True
    assert late["explanation"]["explained_value"] == deferred["score"]
    scored = _cli(
        env, "score", "--model", str(models / "maliciousness" / "v1"), "--explain", "all", "--json"
    )
    result = json.loads(scored.stdout)
    assert result["explained"] == result["written"] - result["decisions"]["insufficient-evidence"]
    [eager] = graph.read(
        "MATCH (d:Domain {name: $name}) RETURN d.explanation AS explanation, d.reasons AS reasons",
        {"name": benign},
    )
    now = generate_report(graph, benign, settings)["content"]["score"]
    assert now["explanation"]["note"] is None
    assert {**late["explanation"], "note": None} == now["explanation"]
    assert late["top_reasons"] == now["top_reasons"] == eager["reasons"]
