"""Warninglist lookups: the project's matcher against pymispwarninglists' own, same lists, same run.

    python benchmarks/warninglists.py [--values N] [--sample S] [--seed SEED] [--dir DIR]

Loads the lists (default: the ones bundled with pymispwarninglists; ``--dir`` a clone of the
upstream repository) into both matchers and generates N mixed values (default 100,000):
IPv4 and IPv6 addresses (half inside a listed block), listed names, unlisted names and
subdomains of listed names. Measures:

* ours: ``WarninglistIndex.match`` on all N values (lookups per second, per-lookup p50 and
  p99 in milliseconds: the figure to compare with misp-feedback's "sub-millisecond");
* theirs, default mode (``WarningLists()``: exact set membership only) on all N values;
* theirs, ``slow_search=True`` (the mode with CIDR, hostname and substring semantics) on the
  first S values only (default 300): it scans hostname lists entry by entry, so all N would
  take hours.

Exactness: on the S values, the lists each matcher says the value is on are compared; every
disagreement is counted by list and reason, with examples. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymispwarninglists import WarningLists

from attribution.warninglists import (
    WarninglistIndex,
    load_warninglists,
    package_lists_dir,
)
from benchmarks._common import emit, percentile


def _networks(index: WarninglistIndex, version: int) -> list[Any]:
    return [
        ipaddress.ip_network(entry, strict=False)
        for (v, _), bucket in index._networks.items()
        if v == version
        for pairs in bucket.values()
        for _, entry in pairs
    ]


def _inside(rng: random.Random, network: Any) -> str:
    offset = rng.randrange(min(network.num_addresses, 1 << 32))
    return str(network.network_address + offset)


def _names(root: Path) -> list[str]:
    import json

    document = json.loads((root / "lists" / "tranco10k" / "list.json").read_text())
    return [str(name) for name in document["list"]]


def make_values(index: WarninglistIndex, root: Path, count: int, seed: int) -> list[str]:
    """``count`` mixed values, the same for a given seed."""
    rng = random.Random(seed)
    v4, v6, names = _networks(index, 4), _networks(index, 6), _names(root)
    makers = [
        lambda: _inside(rng, rng.choice(v4)),
        lambda: str(ipaddress.IPv4Address(rng.getrandbits(32))),
        lambda: _inside(rng, rng.choice(v6)),
        lambda: str(ipaddress.IPv6Address((0x2 << 124) | rng.getrandbits(124))),
        lambda: rng.choice(names),
        lambda: f"x{rng.getrandbits(40):x}.example-{rng.randrange(10**6)}.com",
        lambda: f"{rng.choice(['www', 'mail', 'cdn', 'a1'])}.{rng.choice(names)}",
    ]
    return [rng.choice(makers)() for _ in range(count)]


def _ours(index: WarninglistIndex, values: list[str]) -> tuple[float, list[float], list[set[str]]]:
    samples, found = [], []
    began = time.perf_counter()
    for value in values:
        start = time.perf_counter()
        hits = index.match(value)
        samples.append((time.perf_counter() - start) * 1000)
        found.append({hit.list_name for hit in hits})
    return time.perf_counter() - began, samples, found


def _theirs(lists: WarningLists, values: list[str]) -> tuple[float, list[set[str]]]:
    by_name = {wl.name: key for key, wl in _directory_names(lists).items()}
    found = []
    began = time.perf_counter()
    for value in values:
        found.append({by_name[wl.name] for wl in lists.search(value)})
    return time.perf_counter() - began, found


def _directory_names(lists: WarningLists) -> dict[str, Any]:
    """pymispwarninglists keys lists by their ``name``; ours by directory: map to directory."""
    import json

    root = Path(lists.root_dir_warninglists)
    names = {}
    for path in sorted(root.glob("*/list.json")):
        names[json.loads(path.read_text())["name"]] = path.parent.name
    return {names[key]: wl for key, wl in lists.warninglists.items()}


def _disagreements(
    values: list[str], ours: list[set[str]], theirs: list[set[str]]
) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for value, mine, other in zip(values, ours, theirs, strict=True):
        for name in mine ^ other:
            key = f"{name}: {'only ours' if name in mine else 'only pymispwarninglists'}"
            counts[key] += 1
            examples.setdefault(key, [])
            if len(examples[key]) < 3:
                examples[key].append(value)
    return {key: {"count": counts[key], "examples": examples[key]} for key in sorted(counts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    logging.getLogger("pymispwarninglists").setLevel(logging.ERROR)
    root = args.dir or package_lists_dir()

    began = time.perf_counter()
    index = load_warninglists(root)
    load_ours = time.perf_counter() - began
    values = make_values(index, root, args.values, args.seed)
    began = time.perf_counter()
    exact = WarningLists(path_to_repo=root)
    load_exact = time.perf_counter() - began
    began = time.perf_counter()
    slow = WarningLists(slow_search=True, path_to_repo=root)
    load_slow = time.perf_counter() - began

    ours_seconds, samples, ours_found = _ours(index, values)
    exact_seconds, _ = _theirs(exact, values)
    sample = values[: args.sample]
    slow_seconds, slow_found = _theirs(slow, sample)
    disagreements = _disagreements(sample, ours_found[: args.sample], slow_found)
    for key, item in disagreements.items():
        print(f"{key}: {item['count']} (e.g. {', '.join(item['examples'])})")
    emit(
        {
            "values": len(values),
            "lists": len(index.lists),
            "load_seconds": {
                "ours": round(load_ours, 2),
                "pymisp_exact": round(load_exact, 2),
                "pymisp_slow_search": round(load_slow, 2),
            },
            "lookups_per_second": {
                "ours": round(len(values) / ours_seconds),
                "pymisp_exact": round(len(values) / exact_seconds),
                "pymisp_slow_search": round(len(sample) / slow_seconds, 1),
            },
            "ours_ms": {
                "p50": round(percentile(samples, 0.5), 4),
                "p99": round(percentile(samples, 0.99), 4),
                "max": round(max(samples), 3),
            },
            "exactness_sample": len(sample),
            "values_with_hits": {
                "ours": sum(1 for found in ours_found[: args.sample] if found),
                "pymisp_slow_search": sum(1 for found in slow_found if found),
            },
            "disagreements": {key: item["count"] for key, item in disagreements.items()},
        }
    )


if __name__ == "__main__":
    main()
