"""Render evaluation labels, a partial threat feed, an allowlist, incident reports and indicators.

Ground truth is for evaluation only. The feed deliberately covers part of the malicious truth and
carries a small rate of mistakes (benign shared addresses, sinkholed and parked names), and a few
incident reports name a benign shared address, because operators and feeds make those mistakes.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from enrichment.sandbox.world_model import SECTORS, WORDS, Family, Truth, World

FEED_COVERAGE = 0.40
FEED_MISTAKE_RATE = 0.01
ALLOWLIST_SHARE = 0.30
FEED_SOURCES = ("community-blocklist", "vendor-intel", "honeypot-network", "phish-reports")
ROLE_FOR_KIND = {
    "phishing": ("phishing",),
    "dga": ("c2",),
    "fast-flux": ("malware-download", "c2", "phishing"),
    "c2": ("c2", "exfiltration"),
    "bulletproof": ("malware-download", "spam", "scanner"),
    "dyndns-c2": ("c2",),
}
OPERATOR_SUFFIX = {
    "electricity": "Electric Power Co., Inc.",
    "gas": "Gas Co., Ltd.",
    "water": "Waterworks Bureau",
    "oil": "Oil Refining Corp.",
    "rail": "Railway Co.",
    "trucking": "Freight Transport Co., Ltd.",
    "ocean-shipping": "Kaiun Lines KK",
    "aviation": "Airways KK",
    "airports": "Airport Terminal Co., Ltd.",
    "ports": "Port Authority",
    "telecommunications": "Telecom KK",
    "broadcasting": "Broadcasting Corp.",
    "postal": "Post Co., Ltd.",
    "finance": "Bank, Ltd.",
    "credit-cards": "Card Services Co., Ltd.",
}


@dataclass(frozen=True)
class LabelCounts:
    """What the label renderer wrote."""

    feed: int
    feed_mistakes: int
    allowlist: int
    incidents: int
    indicators: int


def _csv(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def all_truth(world: World) -> list[Truth]:
    """Every truth row: domains first (by name), then addresses (by address)."""
    rows = [world.domain_truth[k] for k in sorted(world.domain_truth)]
    return rows + [world.address_truth[k] for k in sorted(world.address_truth)]


def _feed(world: World, rng: random.Random) -> tuple[list[tuple[str, str, str]], int]:
    truth = all_truth(world)
    malicious = [t for t in truth if t.label == "malicious"]
    listed = sorted(rng.sample(malicious, round(len(malicious) * FEED_COVERAGE)), key=_key)
    rows = [(t.value, t.family or "unknown", rng.choice(FEED_SOURCES)) for t in listed]
    # Feed mistakes: addresses of shared platforms that once hosted a malicious tenant,
    # sinkholed names still listed under their old family, and parked names.
    tempting = [
        t
        for t in truth
        if t.label == "benign"
        and (
            t.category in ("sinkhole", "parked")
            or (t.kind != "domain" and _hosts_malicious(world, t.value))
        )
    ]
    mistakes = rng.sample(
        tempting, min(len(tempting), max(1, round(len(rows) * FEED_MISTAKE_RATE)))
    )
    for t in sorted(mistakes, key=_key):
        rows.append((t.value, t.family or "unknown", rng.choice(FEED_SOURCES)))
    rows.sort()
    return rows, len(mistakes)


def _key(t: Truth) -> tuple[str, str]:
    return (t.kind, t.value)


def _hosts_malicious(world: World, address: str) -> bool:
    truth = world.domain_truth
    return any(
        truth[name].label == "malicious"
        for name in world.address_tenants.get(address, ())
        if name in truth
    )


def _allowlist(world: World, rng: random.Random) -> list[str]:
    benign = sum(1 for t in world.domain_truth.values() if t.label == "benign")
    target = round(benign * ALLOWLIST_SHARE)
    fixed = [n for n in world.allowlist_candidates if world.domain_truth[n].category == "corporate"]
    fixed += sorted(n for n, t in world.domain_truth.items() if t.category == "infrastructure")
    rest = [n for n in world.allowlist_candidates if n not in fixed]
    extra = rng.sample(rest, max(0, min(len(rest), target - len(fixed))))
    return sorted(set(fixed + extra))


def _indicator(
    rng: random.Random, kind: str, value: str, role: str, seen: datetime
) -> dict[str, Any]:
    first = seen - timedelta(hours=rng.randrange(1, 240))
    item: dict[str, Any] = {
        "type": kind,
        "value": value,
        "role": role,
        "first_seen": _time(first),
        "last_seen": _time(seen),
    }
    if kind in ("ipv4", "ipv6") or rng.random() < 0.5:
        item["dst_port"] = rng.choice((443, 443, 80, 8080, 8443, 53))
        item["protocol"] = "udp" if item["dst_port"] == 53 else "tcp"
    return item


def _incident(
    world: World, rng: random.Random, number: int, sector: str, family: Family
) -> dict[str, Any]:
    reported = world.reference_time - timedelta(seconds=rng.randrange(3600, 180 * 86400))
    observed = reported - timedelta(seconds=rng.randrange(600, 72 * 3600))
    roles = ROLE_FOR_KIND[family.kind]
    indicators: list[dict[str, Any]] = []
    names = family.domains + family.nx_domains
    for name in rng.sample(names, min(len(names), rng.randrange(1, 4))):
        role = rng.choice(roles)
        if family.kind == "phishing" and rng.random() < 0.4:
            indicators.append(_indicator(rng, "url", f"https://{name}/", role, observed))
        else:
            indicators.append(_indicator(rng, "domain", name, role, observed))
    addresses = sorted(set(family.addresses))
    for address in rng.sample(addresses, min(len(addresses), rng.randrange(0, 3))):
        kind = "ipv6" if ":" in address else "ipv4"
        indicators.append(_indicator(rng, kind, address, rng.choice(roles), observed))
    confirmed = rng.random() < 0.75
    if rng.random() < 0.08:
        # Operators sometimes report the shared address a malicious tenant sat on.
        shared = sorted(
            a
            for name in family.domains
            for a in _addresses_of(world, name)
            if world.address_truth[a].label == "benign"
        )
        if shared:
            address = rng.choice(shared)
            kind = "ipv6" if ":" in address else "ipv4"
            indicators.append(_indicator(rng, kind, address, rng.choice(roles), observed))
    if family.kind == "bulletproof" and rng.random() < 0.3:
        hoster = world.address_hoster[family.addresses[0]] if family.addresses else None
        if hoster is not None:
            indicators.append(_indicator(rng, "asn", f"AS{hoster.asn}", "scanner", observed))
    prefix = rng.choice(WORDS).title()
    return {
        "report_id": f"IR-{reported.year}-{number:06d}",
        "operator": {"name": f"{prefix} {OPERATOR_SUFFIX[sector]}", "sector": sector},
        "observed_at": _time(observed),
        "reported_at": _time(reported),
        "confirmed": confirmed,
        "indicators": indicators,
    }


def _addresses_of(world: World, name: str) -> list[str]:
    zone = world.zones.get(name)
    if zone is None:
        return []
    return [r.rdata for r in zone.records if r.owner == "@" and r.rtype in ("A", "AAAA")]


def write_labels(world: World, out_dir: Path, rng: random.Random) -> LabelCounts:
    """Write labels/, incidents/ and indicators.txt."""
    labels = out_dir / "labels"
    incidents_dir = out_dir / "incidents"
    labels.mkdir(parents=True, exist_ok=True)
    incidents_dir.mkdir(parents=True, exist_ok=True)
    truth = all_truth(world)
    header = ("value", "kind", "label", "category", "family")
    rows = [(t.value, t.kind, t.label, t.category, t.family) for t in truth]
    (labels / "truth.csv").write_text(_csv(rows, header), encoding="ascii")
    feed, mistakes = _feed(world, rng)
    (labels / "feed-malicious.csv").write_text(
        _csv(feed, ("value", "family", "source")), encoding="ascii"
    )
    allow = _allowlist(world, rng)
    (labels / "allowlist.txt").write_text("".join(f"{n}\n" for n in allow), encoding="ascii")

    count = max(len(SECTORS), world.size // 40)
    sectors = list(SECTORS)
    rng.shuffle(sectors)
    sectors += [rng.choice(SECTORS) for _ in range(count - len(SECTORS))]
    reported: list[str] = []
    for number, sector in enumerate(sectors, start=1):
        family = rng.choice(world.families)
        report = _incident(world, rng, number, sector, family)
        path = incidents_dir / f"{report['report_id']}.json"
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="ascii")
        reported += [i["value"] for i in report["indicators"]]

    from_feed = [row[0] for row in feed if rng.random() < 0.6]
    unknown = [t.value for t in truth if rng.random() < 0.08]
    indicators = sorted(set(reported + from_feed + unknown))
    rng.shuffle(indicators)
    (out_dir / "indicators.txt").write_text("".join(f"{v}\n" for v in indicators), encoding="ascii")
    return LabelCounts(len(feed), mistakes, len(allow), count, len(indicators))
