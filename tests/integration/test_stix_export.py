"""STIX 2.1 export of the fixture graph: exact objects and ids, OASIS validation, stability."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import stix2
import stix2validator
from fixture_graph import load_fixture
from stix2validator import ValidationOptions, validate_file, validate_instance

from attribution.db import Graph
from attribution.stix_export import NAMESPACE, export_stix

REPO = Path(__file__).resolve().parents[2]
# The namespace STIX 2.1 fixes for deterministic SCO ids (section 2.9).
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")


def sco_id(stix_type: str, value: str) -> str:
    return f"{stix_type}--{uuid.uuid5(SCO_NAMESPACE, json.dumps({'value': value}, separators=(',', ':')))}"


def minted(stix_type: str, *parts: str) -> str:
    return f"{stix_type}--{uuid.uuid5(NAMESPACE, '|'.join((stix_type, *parts)))}"


def expected_ids(targets: list[tuple[str, str]], resolutions: list[tuple[str, str]]) -> set[str]:
    ids = {minted("identity", "attribution-service")}
    for stix_type, value in targets:
        sco = sco_id(stix_type, value)
        indicator = minted("indicator", stix_type, value)
        infra = minted("infrastructure", stix_type, value)
        ids |= {
            sco,
            indicator,
            infra,
            minted("relationship", "indicates", indicator, infra),
            minted("relationship", "consists-of", infra, sco),
        }
    for domain, address in resolutions:
        ids.add(
            minted(
                "relationship",
                "resolves-to",
                sco_id("domain-name", domain),
                sco_id("ipv4-addr", address),
            )
        )
    return ids


ACT = [("domain-name", "evil.test"), ("domain-name", "evil2.test"), ("ipv4-addr", "192.0.2.10")]
ACT_RESOLUTIONS = [("evil.test", "192.0.2.10"), ("evil2.test", "192.0.2.10")]


@pytest.fixture
def validation() -> ValidationOptions:
    """The OASIS validator in strict mode (warnings count as failures), JSON schemas included."""
    bundled = Path(stix2validator.__file__).parent / "schemas-2.1" / "schemas"
    assert any(bundled.glob("**/*.json")), "stix2-validator without its bundled schemas (pin 3.2.0)"
    # Ids are UUIDv5 on purpose (stable re-export); the SHOULD rule 103 asks for UUIDv4.
    return ValidationOptions(version="2.1", strict=True, disabled="103")


@pytest.fixture
def fixture_graph(graph: Graph) -> Graph:
    load_fixture(graph)
    return graph


def _validate(bundle: dict[str, Any], options: ValidationOptions) -> None:
    results = validate_instance(bundle, options)
    assert results.is_valid, [str(e) for e in results.errors]
    assert [str(w) for w in results.warnings or []] == []
    parsed = stix2.parse(bundle, allow_custom=False, version="2.1")
    assert len(parsed.objects) == len(bundle["objects"])


def test_act_targets_export_exactly(fixture_graph: Graph, validation: ValidationOptions) -> None:
    text, summary = export_stix(fixture_graph, "act")
    bundle = json.loads(text)
    _validate(bundle, validation)
    ids = [o["id"] for o in bundle["objects"]]
    assert ids == sorted(ids)
    assert set(ids) == expected_ids(ACT, ACT_RESOLUTIONS)
    assert summary.targets == 3
    assert summary.objects == len(ids) == 18
    assert summary.by_type == {
        "domain-name": 2,
        "identity": 1,
        "indicator": 3,
        "infrastructure": 3,
        "ipv4-addr": 1,
        "relationship": 8,
    }
    by_id = {o["id"]: o for o in bundle["objects"]}
    evil = by_id[minted("indicator", "domain-name", "evil.test")]
    assert evil["pattern"] == "[domain-name:value = 'evil.test']"
    assert evil["confidence"] == 97
    assert evil["valid_from"] == "2026-09-01T00:00:00Z"
    assert evil["created"] == "2026-09-01T00:00:00.000Z"
    assert evil["modified"] == "2026-10-01T00:00:00.000Z"
    assert evil["external_references"] == [
        {"source_name": "incident-report", "external_id": "INC-1"}
    ]
    shared = by_id[minted("indicator", "ipv4-addr", "192.0.2.10")]
    assert shared["pattern"] == "[ipv4-addr:value = '192.0.2.10']"
    assert shared["confidence"] == 88
    assert [r["external_id"] for r in shared["external_references"]] == ["INC-1", "INC-2"]
    assert "external_references" not in by_id[minted("indicator", "domain-name", "evil2.test")]
    infra = by_id[minted("infrastructure", "domain-name", "evil.test")]
    assert infra["infrastructure_types"] == ["command-and-control"]
    assert (
        "infrastructure_types" not in by_id[minted("infrastructure", "domain-name", "evil2.test")]
    )
    resolves = [o for o in bundle["objects"] if o.get("relationship_type") == "resolves-to"]
    assert sorted((r["source_ref"], r["target_ref"]) for r in resolves) == sorted(
        (sco_id("domain-name", d), sco_id("ipv4-addr", a)) for d, a in ACT_RESOLUTIONS
    )


def test_lower_decisions_widen_the_export(
    fixture_graph: Graph, validation: ValidationOptions
) -> None:
    text, summary = export_stix(fixture_graph, "insufficient-evidence")
    bundle = json.loads(text)
    _validate(bundle, validation)
    # new.test's address is no target, so no resolves-to and no address object for it.
    targets = [*ACT, ("domain-name", "new.test")]
    assert {o["id"] for o in bundle["objects"]} == expected_ids(targets, ACT_RESOLUTIONS)
    assert summary.objects == 23

    text, summary = export_stix(fixture_graph, "no-act")
    bundle = json.loads(text)
    _validate(bundle, validation)
    targets.append(("domain-name", "shop.test"))
    resolutions = [*ACT_RESOLUTIONS, ("shop.test", "192.0.2.10")]
    assert {o["id"] for o in bundle["objects"]} == expected_ids(targets, resolutions)
    assert summary.objects == 29
    shop = next(
        o for o in bundle["objects"] if o["id"] == minted("indicator", "domain-name", "shop.test")
    )
    assert shop["confidence"] == 5


def test_empty_graph_gives_a_valid_bundle_with_the_producer_only(
    graph: Graph, validation: ValidationOptions
) -> None:
    text, summary = export_stix(graph)
    bundle = json.loads(text)
    _validate(bundle, validation)
    assert [o["id"] for o in bundle["objects"]] == [minted("identity", "attribution-service")]
    assert summary.targets == 0


def test_cli_export_is_stable_and_validates(
    fixture_graph: Graph,
    neo4j_env: dict[str, str],
    tmp_path: Path,
    validation: ValidationOptions,
) -> None:
    outputs = []
    for name in ("first.json", "second.json"):
        out = tmp_path / name
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "attribution.cli.main",
                "export",
                "stix",
                "--out",
                str(out),
                "--json",
            ],
            cwd=REPO,
            env=neo4j_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {
            "out": str(out),
            "targets": 3,
            "objects": 18,
            "by_type": {
                "domain-name": 2,
                "identity": 1,
                "indicator": 3,
                "infrastructure": 3,
                "ipv4-addr": 1,
                "relationship": 8,
            },
        }
        result = validate_file(str(out), validation)
        assert result.is_valid, [str(e) for o in result.object_results for e in o.errors]
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_cli_refuses_an_unknown_decision(neo4j_env: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "attribution.cli.main",
            "export",
            "stix",
            "--min-decision",
            "maybe",
            "--out",
            str(tmp_path / "x.json"),
        ],
        cwd=REPO,
        env=neo4j_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "invalid choice" in done.stderr
    assert not (tmp_path / "x.json").exists()
