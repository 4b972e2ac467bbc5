"""The compact feature path (interned ids, numpy arrays, a sparse adjacency) gives exactly the
feature matrix of the straightforward per-node computation
(:mod:`test_scoring_stream_reference`), on fixture graphs built to hit every rule."""

from __future__ import annotations

import random

import numpy as np
import pytest
from test_scoring_stream_reference import reference_features

from attribution.features.export import GraphExport
from attribution.features.extract import features_from_export, features_from_facts
from attribution.features.facts import Facts
from attribution.labels import NodeKey, ResolvedLabel
from attribution.scoring.shapley import group_shapley
from attribution.warninglists import WarninglistIndex

DAY = 86_400_000


def _domains(export: GraphExport, rng: random.Random) -> None:
    registrables = [f"brand{i}.com" for i in range(6)] + ["cheap1.xyz", "dns.example"]
    names = [f"site{i}.{rng.choice(['com', 'xyz', 'tk'])}" for i in range(60)]
    names += [f"{rng.choice(['www', 'login', 'x-1'])}.{r}" for r in registrables]
    names += [*registrables, "ns0.dns.example", "ns1.dns.example", "mx.dns.example"]
    for name in dict.fromkeys(names):
        parent = name.split(".", 1)[1] if name.count(".") > 1 else name
        props: dict[str, object] = {"name": name, "registrable": rng.choice([parent, None])}
        for prop in ("first", "created", "updated", "expires"):
            if rng.random() < 0.7:
                props[prop] = (
                    1_600_000_000_000 + rng.randrange(-900, 900) * DAY + rng.randrange(DAY)
                )
        props["privacy"] = rng.choice([True, False, None])
        if rng.random() < 0.1:
            props["nxdomain"] = rng.choice([True, False])
        export.domains[name] = props
    for name in registrables + rng.sample(list(export.domains), 10):
        export.registrars[name] = f"registrar-{rng.randrange(4)}"
        if rng.random() < 0.6:
            export.registrants[name] = (
                f"holder-{rng.randrange(5)}",
                rng.choice([True, False, None]),
            )


def _dns(export: GraphExport, rng: random.Random) -> None:
    addresses = [f"192.0.{rng.randrange(3)}.{rng.randrange(1, 30)}" for _ in range(40)]
    addresses += [f"2001:db8::{i:x}" for i in range(6)]
    for address in addresses:
        export.addresses.setdefault(address, {"address": address})
    names = list(export.domains)
    for _ in range(150):
        ttl = rng.choice([None, 60, 300, 300, 3600, 86400])
        export.resolves.append((rng.choice(names), rng.choice(addresses), ttl))
    export.aliases += [(rng.choice(names), rng.choice(names)) for _ in range(12)]
    export.aliases.append((names[0], names[0]))
    for name in rng.sample(names, 50):
        for _ in range(rng.randint(1, 2)):
            export.name_servers.append((name, rng.choice(["ns0.dns.example", "ns1.dns.example"])))
        if rng.random() < 0.3:
            export.mail_servers.append((name, "mx.dns.example"))
    for address in rng.sample(addresses, 15):
        ptr = rng.choice(
            [f"dyn-{address.replace('.', '-').replace(':', '-')}.pool.isp.net", "host.example.org"]
        )
        export.reverse[address] = ptr
        export.domains.setdefault(ptr, {"name": ptr})
    for address in rng.sample(list(export.addresses), 30):
        net = address.rsplit(".", 1)[0] + ".0/24" if "." in address else "2001:db8::/48"
        export.prefixes[address] = [(net, rng.choice([64500, 64501, 64502, None]))]
        if rng.random() < 0.2:
            export.prefixes[address].append(("192.0.0.0/16", 64999))
    export.incidents = {("Domain", names[3]), ("IPAddress", addresses[0])}


def _world(seed: int) -> GraphExport:
    """A random graph with aliases (a self-alias too), repeated relationships, IPv6,
    subdomains, missing properties, reverse names, registrars and registrants."""
    rng = random.Random(seed)
    export = GraphExport()
    _domains(export, rng)
    _dns(export, rng)
    return export


def _labels(export: GraphExport, seed: int) -> dict[NodeKey, ResolvedLabel]:
    rng = random.Random(seed)
    keys = export.keys()
    out = {}
    for key in rng.sample(keys, len(keys) // 3):
        verdict = "malicious" if rng.random() < 0.4 else "benign"
        out[key] = ResolvedLabel(verdict, "feed", "feed:x", 0)
    return out


def _lists() -> WarninglistIndex:
    index = WarninglistIndex()
    for name, kind, entries in (
        ("amazon-aws", "cidr", ["192.0.1.0/24"]),
        ("akamai", "cidr", ["2001:db8::/64"]),
        ("tranco", "hostname", ["brand1.com", "brand2.com"]),
        ("parking-domain", "hostname", ["cheap1.xyz"]),
        ("dynamic-dns", "string", ["site7.tk"]),
    ):
        index.add(name, {"name": name, "description": name, "type": kind, "list": entries,
                         "version": 1})  # fmt: skip
    return index


@pytest.mark.parametrize("seed", range(8))
def test_compact_features_equal_the_reference_exactly(seed: int) -> None:
    export = _world(seed)
    labels = _labels(export, seed)
    wl = _lists() if seed % 2 else None
    ours = features_from_export(export, labels, n_folds=3, seed=seed, warninglists=wl)
    ref = reference_features(export, labels, n_folds=3, seed=seed, warninglists=wl)
    assert ours.keys == ref.keys
    np.testing.assert_array_equal(ours.X, ref.X)  # NaN where NaN, every other value equal
    np.testing.assert_array_equal(ours.folds, ref.folds)
    assert ours.asns == ref.asns and ours.incidents == ref.incidents
    assert not np.isnan(ours.column("lab_ppr")).all()  # the walk did run
    if wl is not None:
        assert ours.column("wl_top").sum() > 0 and ours.column("wl_cloud").sum() > 0


def test_rows_asked_for_get_the_same_features_as_in_the_full_matrix() -> None:
    export = _world(3)
    labels = _labels(export, 3)
    full = features_from_export(export, labels, n_folds=3, warninglists=_lists())
    rows = [0, 5, 17, len(full.keys) - 1]
    part = features_from_facts(
        Facts.from_export(export), labels, n_folds=3, warninglists=_lists(), rows=rows
    )
    assert part.keys == [full.keys[i] for i in rows]
    np.testing.assert_array_equal(part.X, full.X[rows])
    np.testing.assert_array_equal(part.folds, full.folds[rows])
    assert part.asns == {full.keys[i]: full.asns[full.keys[i]] for i in rows}


def test_facts_are_compact_arrays_with_scored_nodes_first_and_sorted() -> None:
    facts = Facts.from_export(_world(1))
    assert facts.resolves.dtype == np.int32 and facts.resolves.shape[1] == 2
    assert facts.times.dtype == np.float64 and facts.times.shape == (facts.n_domains, 4)
    assert facts.domains[: facts.n_domains] == sorted(facts.domains[: facts.n_domains])
    assert facts.keys() == _world(1).keys()


def test_a_rows_shapley_values_do_not_depend_on_the_page_it_is_scored_in() -> None:
    """Pages of any size (one node included) give every node the values of one big batch."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 9))
    X[rng.random(X.shape) < 0.35] = np.nan
    groups = {"a": [1, 2], "b": [3], "c": [4, 5], "d": [6], "e": [7, 8]}

    def predict(rows: np.ndarray) -> np.ndarray:
        filled = np.nan_to_num(rows, nan=-0.5)
        return np.asarray(
            np.sin(3 * filled[:, 1] * filled[:, 3]) + np.cos(filled[:, 4] - filled[:, 7])
            + 0.1 * filled[:, 6] * filled[:, 2] + 0.01 * filled[:, 0]
        )  # fmt: skip

    whole = group_shapley(predict, X, groups)
    for size in (1, 2, 7):
        pages = [group_shapley(predict, X[s : s + size], groups) for s in range(0, len(X), size)]
        np.testing.assert_array_equal(np.concatenate([p.values for p in pages]), whole.values)
        np.testing.assert_array_equal(np.concatenate([p.base for p in pages]), whole.base)
