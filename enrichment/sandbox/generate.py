"""Generate a synthetic sandbox world into the sandbox data directory layout.

The world holds benign sites on CDNs, clouds and shared hosting, look-alikes that naive rules
would flag, and malicious campaigns (phishing, DGA, fast-flux, C2, bulletproof hosting), rendered
as DNS zones, RDAP and WHOIS answers, Team Cymru zones, ground-truth labels, a partial feed, an
allowlist, incident reports and an indicator list. One seed and size always produce byte-identical
files: randomness comes from ``random.Random(seed)`` and nothing reads the clock.

Usage: ``python -m enrichment.sandbox.generate --out DIR --seed S --size N [--json]``
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from enrichment.sandbox.world_dns import write_dns
from enrichment.sandbox.world_labels import all_truth, write_labels
from enrichment.sandbox.world_rdap import write_registration
from enrichment.sandbox.world_sites import MIN_SIZE, build_world

DEFAULT_REFERENCE_TIME = datetime(2026, 10, 1, tzinfo=UTC)
DEFAULT_SIZE = 5000
GENERATOR_VERSION = "1"


@dataclass(frozen=True)
class WorldSummary:
    """What :func:`generate_world` wrote; ``counts`` are truth rows by ``kind/label/category``."""

    out_dir: str
    seed: int
    size: int
    reference_time: str
    generator_version: str
    domains_by_category: dict[str, int]
    addresses_by_category: dict[str, int]
    labels: dict[str, int]
    registered_domains: int
    unregistered_domains: int
    zones: int
    rdap_files: dict[str, int]
    families: dict[str, str]
    feed_entries: int
    feed_mistakes: int
    allowlist_entries: int
    incidents: int
    indicators: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _counts(rows: list[tuple[str, str]]) -> dict[str, int]:
    counter = Counter(f"{label}/{category}" for label, category in rows)
    return dict(sorted(counter.items()))


def generate_world(
    out_dir: Path,
    *,
    seed: int,
    size: int,
    reference_time: datetime = DEFAULT_REFERENCE_TIME,
) -> WorldSummary:
    """Write a complete world of ``size`` domains into ``out_dir`` and describe it.

    ``out_dir`` may exist; files the generator writes are overwritten, others are left alone,
    so generate into an empty directory to get exactly one world.
    """
    if reference_time.tzinfo is None:
        raise ValueError("reference_time must be timezone-aware (UTC)")
    reference_time = reference_time.astimezone(UTC).replace(microsecond=0)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    world = build_world(seed, size, reference_time)
    zones = write_dns(world, out_dir)
    rdap = write_registration(world, out_dir)
    # Labels draw from their own stream so that changes there never reshuffle the world.
    labels = write_labels(world, out_dir, random.Random(f"labels:{seed}:{size}"))
    truth = all_truth(world)
    domains = [t for t in truth if t.kind == "domain"]
    summary = WorldSummary(
        out_dir=str(out_dir),
        seed=seed,
        size=size,
        reference_time=reference_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        generator_version=GENERATOR_VERSION,
        domains_by_category=_counts([(t.label, t.category) for t in domains]),
        addresses_by_category=_counts([(t.label, t.category) for t in truth if t.kind != "domain"]),
        labels=dict(sorted(Counter(f"{t.kind}/{t.label}" for t in truth).items())),
        registered_domains=len(world.registrations),
        unregistered_domains=sum(len(f.nx_domains) for f in world.families),
        zones=zones,
        rdap_files=rdap,
        families={f.name: f.kind for f in sorted(world.families, key=lambda f: f.name)},
        feed_entries=labels.feed,
        feed_mistakes=labels.feed_mistakes,
        allowlist_entries=labels.allowlist,
        incidents=labels.incidents,
        indicators=labels.indicators,
    )
    meta = summary.to_dict()
    del meta["out_dir"]  # keeps world.json identical wherever the world is written
    (out_dir / "world.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="ascii")
    return summary


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m enrichment.sandbox.generate",
        description="Generate a synthetic sandbox world (DNS, RDAP, WHOIS, labels, incidents).",
    )
    parser.add_argument("--out", type=Path, required=True, help="output data directory")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--size",
        type=int,
        default=DEFAULT_SIZE,
        help=f"number of domains in the ground truth (default {DEFAULT_SIZE}, min {MIN_SIZE})",
    )
    parser.add_argument(
        "--reference-time",
        default="2026-10-01T00:00:00Z",
        help="the world's 'now' as RFC 3339 UTC (default 2026-10-01T00:00:00Z)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    try:
        reference = datetime.fromisoformat(args.reference_time.replace("Z", "+00:00"))
    except ValueError:
        parser.error(f"--reference-time: not an RFC 3339 time: {args.reference_time!r}")
    if reference.tzinfo is None:
        parser.error("--reference-time must carry a UTC offset, e.g. 2026-10-01T00:00:00Z")
    if args.size < MIN_SIZE:
        parser.error(f"--size must be at least {MIN_SIZE}")
    summary = generate_world(args.out, seed=args.seed, size=args.size, reference_time=reference)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(
            f"wrote a world of {summary.size} domains (seed {summary.seed}) to {summary.out_dir}: "
            f"{summary.zones} zones, {sum(summary.rdap_files.values())} RDAP/WHOIS files, "
            f"{summary.incidents} incident reports, {summary.indicators} indicators"
        )
        for key, value in summary.labels.items():
            print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
