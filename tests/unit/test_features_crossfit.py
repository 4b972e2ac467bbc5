"""Cross-fitted label features: no node's own label reaches its own features."""

from __future__ import annotations

import random

import numpy as np

from attribution.features.extract import LABEL_FEATURES, GraphExport, features_from_export
from attribution.features.facts import Facts
from attribution.features.graphfeat import FactGraph, personalised_pagerank, transition_matrix
from attribution.labels import NodeKey, ResolvedLabel


def _export() -> GraphExport:
    rng = random.Random(5)
    export = GraphExport()
    for i in range(40):
        name = f"site{i}.example"
        export.domains[name] = {"name": name, "registrable": name, "first": 0}
        export.registrars[name] = f"registrar-{i % 4}"
        export.registrants[name] = (f"holder-{i % 6}", i % 2 == 0)
        export.name_servers.append((name, f"ns{i % 3}.dns.example"))
        address = f"192.0.2.{rng.randrange(1, 12)}"
        export.resolves.append((name, address, 300))
        export.addresses.setdefault(address, {"address": address})
    for ns in ("ns0.dns.example", "ns1.dns.example", "ns2.dns.example"):
        export.domains[ns] = {"name": ns, "registrable": "dns.example"}
    for address in export.addresses:
        export.prefixes[address] = [("192.0.2.0/24", 64500 + int(address.rsplit(".", 1)[1]) % 3)]
    return export


def _labels(flip: NodeKey | None = None) -> dict[NodeKey, ResolvedLabel]:
    out = {}
    for i in range(30):
        key = ("Domain", f"site{i}.example")
        bad = i % 3 == 0
        if key == flip:
            bad = not bad
        out[key] = ResolvedLabel("malicious" if bad else "benign", "feed", "feed:x", 0)
    return out


def _label_block(export: GraphExport, labels: dict[NodeKey, ResolvedLabel]) -> np.ndarray:
    fm = features_from_export(export, labels, n_folds=5, seed=1, warninglists=None)
    cols = [fm.names.index(n) for n in LABEL_FEATURES]
    return fm.X[:, cols], fm


def test_flipping_a_label_never_changes_that_nodes_label_features() -> None:
    export = _export()
    base, fm = _label_block(export, _labels())
    changed_elsewhere = False
    for i in range(30):
        key: NodeKey = ("Domain", f"site{i}.example")
        flipped, _ = _label_block(export, _labels(flip=key))
        row = fm.keys.index(key)
        np.testing.assert_array_equal(flipped[row], base[row])
        others = np.delete(np.arange(len(fm.keys)), row)
        if not np.array_equal(flipped[others], base[others], equal_nan=True):
            changed_elsewhere = True
    # The features do use labels: a flip moves some other node's values.
    assert changed_elsewhere


def test_folds_do_not_depend_on_labels_and_unlabelled_rows_use_every_label() -> None:
    export = _export()
    _, fm = _label_block(export, _labels())
    _, fm_flipped = _label_block(export, _labels(flip=("Domain", "site0.example")))
    np.testing.assert_array_equal(fm.folds, fm_flipped.folds)
    unlabelled = [i for i, k in enumerate(fm.keys) if k not in _labels()]
    assert unlabelled and all(fm.folds[i] == -1 for i in unlabelled)
    assert set(fm.folds[fm.folds >= 0]) == {0, 1, 2, 3, 4}


def test_without_labels_every_label_feature_is_missing() -> None:
    block, _ = _label_block(_export(), {})
    assert np.isnan(block).all()


def test_walk_features_do_not_depend_on_the_order_edges_arrived_in() -> None:
    """Neo4j returns rows in no fixed order; the walk must not see it."""
    resolves = [(f"d{i}.example", f"192.0.2.{i % 7}", None) for i in range(40)]
    registrars = [(f"d{i}.example", f"r{i % 3}") for i in range(40)]
    ranks = []
    for seed in (1, 2):
        export = GraphExport()
        for name in random.Random(seed).sample([n for n, _, _ in resolves], 40):
            export.domains[name] = {"name": name}
        export.resolves = random.Random(seed).sample(resolves, len(resolves))
        export.registrars = dict(random.Random(seed).sample(registrars, len(registrars)))
        structure = FactGraph.of(Facts.from_export(export))
        seeds = np.sort(structure.rows[[0, 5]])
        rank = personalised_pagerank(transition_matrix(structure.adjacency), seeds)
        ranks.append(rank.tolist())
    assert ranks[0] == ranks[1]  # bit for bit, not approximately
