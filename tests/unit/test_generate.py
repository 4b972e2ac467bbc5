"""Tests of the sandbox world generator: determinism, exact counts, and parseable outputs."""

from __future__ import annotations

import csv
import hashlib
import ipaddress
import json
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
from ipwhois.rdap import _RDAPNetwork
from whoisit import parser as whoisit_parser

from enrichment.sandbox.generate import generate_world, main
from enrichment.sandbox.world_model import SECTORS

SEED = 1
SIZE = 400


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate_world(out, seed=SEED, size=SIZE)
    return out


@pytest.fixture(scope="module")
def truth(world: Path) -> list[dict[str, str]]:
    with (world / "labels" / "truth.csv").open(encoding="ascii") as handle:
        return list(csv.DictReader(handle))


def test_same_seed_and_size_give_identical_trees(world: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_world(again, seed=SEED, size=SIZE)
    assert tree_digest(again) == tree_digest(world)


def test_other_seed_gives_another_world(world: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate_world(other, seed=SEED + 1, size=SIZE)
    assert tree_digest(other) != tree_digest(world)


def test_exact_counts_for_fixed_seed_and_size(tmp_path: Path) -> None:
    summary = generate_world(tmp_path / "w", seed=SEED, size=SIZE)
    assert summary.domains_by_category == {
        "benign/cdn": 34,
        "benign/cdn-hostname": 10,
        "benign/cloud": 26,
        "benign/corporate": 15,
        "benign/infrastructure": 37,
        "benign/lookalike-cheap-tld": 10,
        "benign/lookalike-dyndns": 10,
        "benign/lookalike-young": 10,
        "benign/parked": 13,
        "benign/shared-hosting": 115,
        "benign/sinkhole": 5,
        "benign/small-hoster": 26,
        "malicious/bulletproof": 16,
        "malicious/c2": 8,
        "malicious/dga": 25,
        "malicious/fast-flux": 12,
        "malicious/phishing": 25,
        "malicious/rogue-ns": 3,
    }
    assert summary.labels == {
        "domain/benign": 311,
        "domain/malicious": 89,
        "ipv4/benign": 338,
        "ipv4/malicious": 92,
        "ipv6/benign": 45,
    }
    assert summary.registered_domains == 363
    assert summary.unregistered_domains == 17
    assert summary.zones == 533
    assert summary.rdap_files == {"ip": 58, "autnum": 40, "domain": 325, "entity": 240, "whois": 38}
    assert summary.incidents == 15
    assert summary.feed_entries == 73
    assert summary.feed_mistakes == 1
    assert summary.allowlist_entries == 93
    assert summary.indicators == 128
    assert sum(summary.domains_by_category.values()) == SIZE


def test_world_json_records_seed_size_and_counts(world: Path) -> None:
    meta = json.loads((world / "world.json").read_text())
    assert meta["seed"] == SEED
    assert meta["size"] == SIZE
    assert meta["reference_time"] == "2026-10-01T00:00:00Z"
    assert sum(meta["domains_by_category"].values()) == SIZE


def zone_files(world: Path) -> list[Path]:
    return sorted((world / "dns" / "zones").glob("*.zone"))


def test_every_zone_parses_with_dnspython(world: Path) -> None:
    files = zone_files(world)
    assert len(files) == 533
    for path in files:
        origin = path.name.removesuffix(".zone")
        zone = dns.zone.from_file(str(path), origin=origin, relativize=False)
        assert zone.get_soa() is not None, path


def test_every_zone_passes_nsd_checkzone(world: Path) -> None:
    checker = shutil.which("nsd-checkzone")
    if checker is None:
        pytest.skip("nsd-checkzone is not installed (Debian package nsd)")
    for path in zone_files(world):
        origin = path.name.removesuffix(".zone")
        result = subprocess.run(
            [checker, origin, str(path)], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, (path, result.stdout, result.stderr)


def test_cymru_zones_cover_every_address(world: Path, truth: list[dict[str, str]]) -> None:
    zones = world / "dns" / "zones"
    origin4 = dns.zone.from_file(str(zones / "origin.asn.cymru.com.zone"), "origin.asn.cymru.com")
    origin6 = dns.zone.from_file(str(zones / "origin6.asn.cymru.com.zone"), "origin6.asn.cymru.com")
    names = dns.zone.from_file(str(zones / "asn.cymru.com.zone"), "asn.cymru.com")
    pattern = re.compile(r"^(\d+) \| (\S+) \| [A-Z]{2} \| (arin|ripencc|apnic|lacnic|afrinic) \| ")
    for row in truth:
        if row["kind"] not in ("ipv4", "ipv6"):
            continue
        ip = ipaddress.ip_address(row["value"])
        if ip.version == 4:
            owner = ".".join(reversed(row["value"].split(".")))
            node = origin4.find_node(owner)
            assert origin4.get_node("*." + owner.split(".", 1)[1]) is not None, owner
        else:
            nibbles = ip.exploded.replace(":", "")[:12]
            node = origin6.find_node("*." + ".".join(reversed(nibbles)))
        txt = node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.TXT)
        text = b"".join(next(iter(txt)).strings).decode()
        match = pattern.match(text)
        assert match, text
        assert ip in ipaddress.ip_network(match.group(2))
        assert names.find_node(f"AS{match.group(1)}") is not None


class _Bootstrap:
    """The two bootstrap calls whoisit's parser makes."""

    def get_rir_name_by_endpoint_url(self, url: str) -> str:
        return ""

    def is_using_overrides(self) -> bool:
        return False


def load_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="ascii"))
    assert isinstance(data, dict)
    return data


def test_rdap_domains_have_required_fields_and_parse(world: Path) -> None:
    files = sorted((world / "rdap" / "domain").glob("*.json"))
    assert len(files) == 325
    for path in files:
        data = load_json(path)
        assert data["objectClassName"] == "domain"
        assert data["ldhName"].lower() == path.name.removesuffix(".json")
        actions = {e["eventAction"] for e in data["events"]}
        assert {"registration", "expiration", "last changed"} <= actions
        roles = {r for e in data["entities"] for r in e["roles"]}
        assert {"registrar", "registrant"} <= roles
        registrar = next(e for e in data["entities"] if "registrar" in e["roles"])
        assert registrar["publicIds"][0]["type"] == "IANA Registrar ID"
        assert data["nameservers"] and data["status"]
        parsed = whoisit_parser.parse(_Bootstrap(), "domain", path.stem, data)  # type: ignore[arg-type]
        assert parsed["name"] == path.stem.upper()
        assert parsed["registration_date"] is not None


def test_rdap_networks_parse_with_ipwhois_and_whoisit(world: Path) -> None:
    files = sorted((world / "rdap" / "ip").glob("*.json"))
    assert len(files) == 58
    for path in files:
        data = load_json(path)
        assert data["objectClassName"] == "ip network"
        network = ipaddress.ip_network(path.stem.replace("_", "/"))
        assert data["startAddress"] == str(network.network_address)
        assert data["endAddress"] == str(network.broadcast_address)
        for key in ("handle", "ipVersion", "name", "type", "country", "cidr0_cidrs", "events"):
            assert data[key], key
        roles = {r for e in data["entities"] for r in e["roles"]}
        assert {"registrant", "abuse"} <= roles
        result = _RDAPNetwork(data)
        result.parse()
        assert result.vars["cidr"] == str(network)
        parsed = whoisit_parser.parse(_Bootstrap(), "ip", path.stem, data)  # type: ignore[arg-type]
        assert parsed["network"] == network


def test_rdap_autnums_and_entities(world: Path) -> None:
    for path in sorted((world / "rdap" / "autnum").glob("*.json")):
        data = load_json(path)
        assert data["objectClassName"] == "autnum"
        assert data["startAutnum"] == data["endAutnum"] == int(path.stem)
        assert data["handle"] == f"AS{path.stem}"
    for path in sorted((world / "rdap" / "entity").glob("*.json")):
        data = load_json(path)
        assert data["objectClassName"] == "entity"
        assert data["handle"] == path.stem
        assert data["vcardArray"][0] == "vcard"


def test_jp_domains_have_jprs_whois_and_no_rdap(world: Path) -> None:
    assert (world / "whois" / "rdap-less-tlds.txt").read_text() == "jp\n"
    files = sorted((world / "whois" / "domain").glob("*.txt"))
    assert len(files) == 38
    for path in files:
        assert path.stem.endswith(".jp")
        assert not (world / "rdap" / "domain" / f"{path.stem}.json").exists()
        text = path.read_text(encoding="ascii")
        for key in ("[Domain Name]", "[Registrant]", "[Name Server]", "[Created on]",
                    "[Expires on]", "[Last Updated]", "[Status]"):  # fmt: skip
            assert key in text, (path, key)
        assert f"[Domain Name]                   {path.stem.upper()}\n" in text


def test_truth_covers_every_domain_in_zones(world: Path, truth: list[dict[str, str]]) -> None:
    domains = {r["value"] for r in truth if r["kind"] == "domain"}
    assert len(domains) == SIZE
    assert all(r["label"] in ("malicious", "benign") for r in truth)
    for path in zone_files(world):
        origin = path.name.removesuffix(".zone")
        if "." not in origin or origin.endswith(("arpa", "cymru.com")) or origin == "co.jp":
            continue
        assert origin in domains, origin


def test_unregistered_dga_names_have_no_dns_or_registration(
    world: Path, truth: list[dict[str, str]]
) -> None:
    zones = world / "dns" / "zones"
    dga = [r["value"] for r in truth if r["category"] == "dga" and r["kind"] == "domain"]
    unregistered = [d for d in dga if not (zones / f"{d}.zone").exists()]
    assert len(unregistered) == 17
    for name in unregistered:
        tld = "co.jp" if name.endswith(".co.jp") else name.rsplit(".", 1)[1]
        tld_zone = dns.zone.from_file(str(zones / f"{tld}.zone"), tld, relativize=False)
        assert tld_zone.get_node(name + ".") is None
        assert not (world / "rdap" / "domain" / f"{name}.json").exists()


def test_feed_covers_only_part_of_the_malicious_truth(
    world: Path, truth: list[dict[str, str]]
) -> None:
    with (world / "labels" / "feed-malicious.csv").open(encoding="ascii") as handle:
        feed = list(csv.DictReader(handle))
    labels = {r["value"]: r["label"] for r in truth}
    malicious = {v for v, label in labels.items() if label == "malicious"}
    listed = {r["value"] for r in feed}
    assert listed <= set(labels)
    covered = len(listed & malicious) / len(malicious)
    assert 0.35 <= covered <= 0.45
    mistakes = [v for v in listed if labels[v] == "benign"]
    assert 1 <= len(mistakes) <= 0.03 * len(listed)


def test_allowlist_is_benign(world: Path, truth: list[dict[str, str]]) -> None:
    labels = {r["value"]: r["label"] for r in truth}
    allow = (world / "labels" / "allowlist.txt").read_text().split()
    assert allow and all(labels[v] == "benign" for v in allow)


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def check_report(report: dict[str, Any]) -> None:
    assert set(report) == {
        "report_id", "operator", "observed_at", "reported_at", "confirmed", "indicators",
    }  # fmt: skip
    assert re.match(r"^IR-\d{4}-\d{6}$", report["report_id"])
    assert set(report["operator"]) == {"name", "sector"}
    assert report["operator"]["sector"] in SECTORS
    assert RFC3339.match(report["observed_at"]) and RFC3339.match(report["reported_at"])
    assert report["observed_at"] <= report["reported_at"] <= "2026-10-01T00:00:00Z"
    assert isinstance(report["confirmed"], bool)
    assert report["indicators"]
    for item in report["indicators"]:
        assert {"type", "value", "role", "first_seen", "last_seen"} <= set(item)
        assert set(item) <= {"type", "value", "role", "first_seen", "last_seen", "dst_port",
                             "protocol"}  # fmt: skip
        assert item["type"] in ("domain", "ipv4", "ipv6", "cidr", "asn", "url")
        assert item["role"] in (
            "c2", "phishing", "malware-download", "scanner", "exfiltration", "spam", "other",
        )  # fmt: skip
        assert RFC3339.match(item["first_seen"]) and RFC3339.match(item["last_seen"])
        if item["type"] == "url":
            assert re.match(r"^https?://[a-z0-9.-]+/$", item["value"]), "no URL paths"


def test_incident_reports_match_the_format(world: Path) -> None:
    files = sorted((world / "incidents").glob("IR-*.json"))
    assert len(files) == 15
    for path in files:
        report = load_json(path)
        check_report(report)
        assert path.stem == report["report_id"]


def test_every_sector_reports_in_a_world_of_2000(tmp_path: Path) -> None:
    generate_world(tmp_path, seed=3, size=2000)
    sectors = set()
    for path in sorted((tmp_path / "incidents").glob("IR-*.json")):
        report = load_json(path)
        check_report(report)
        sectors.add(report["operator"]["sector"])
    assert sectors == set(SECTORS)


def test_indicators_are_known_values(world: Path, truth: list[dict[str, str]]) -> None:
    values = {r["value"] for r in truth}
    lines = (world / "indicators.txt").read_text().splitlines()
    assert len(lines) == len(set(lines)) == 128
    for line in lines:
        bare = line.removeprefix("https://").rstrip("/")
        assert bare in values or re.match(r"^AS\d+$", line), line


def test_cli_writes_a_world_and_prints_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--out", str(tmp_path), "--seed", "1", "--size", "400", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["labels"]["domain/malicious"] == 89
    assert (tmp_path / "world.json").is_file()


def test_rejects_too_small_or_naive_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        generate_world(tmp_path, seed=1, size=10)
    with pytest.raises(ValueError, match="timezone"):
        generate_world(tmp_path, seed=1, size=400, reference_time=datetime(2026, 1, 1))


def test_reseller_block_is_reassigned_inside_a_hoster_allocation(world: Path) -> None:
    networks = {
        path.stem: load_json(path) for path in sorted((world / "rdap" / "ip").glob("*.json"))
    }
    reassigned = [d for d in networks.values() if d.get("parentHandle")]
    assert len(reassigned) == 1
    child = ipaddress.ip_network(f"{reassigned[0]['startAddress']}/24")
    parents = [
        d
        for d in networks.values()
        if d["handle"] == reassigned[0]["parentHandle"]
        and child.subnet_of(ipaddress.ip_network(str(d["cidr0_cidrs"][0]["v4prefix"]) + "/"
                                                 + str(d["cidr0_cidrs"][0]["length"])))
    ]  # fmt: skip
    assert len(parents) == 1
    assert parents[0]["entities"][0]["handle"] != reassigned[0]["entities"][0]["handle"]
