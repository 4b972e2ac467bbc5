"""Graph-structure features and cross-fitted label features.

The facts become an undirected graph whose nodes are the scored domains and addresses plus
the things they share: name and mail servers (domains too), registrars, registrants, prefixes
and ASes. It is held as one sparse adjacency matrix over integer ids (:class:`FactGraph`):
degrees, components and the walk are array operations, with no Python object per node or
edge. (Analysts' own graph algorithms can still load it into :mod:`networkx`.)

Label features use other nodes' labels, so they are **cross-fitted**: every labelled node is
put in one of ``K`` folds by a hash of its identity (never of its label, so flipping a label
cannot move a node between folds), and the features of a node in fold ``k`` are computed from
the labels of the other folds only. Unlabelled nodes, the ones scoring is for, use every
label. No node's own label can reach its own features; a test flips one label and checks.

``lab_registrar_rate``
    Malicious share among labelled domains with the same registrar (shrunk towards the overall
    share by one pseudo-observation); NaN without a registrar or without labelled peers.
``lab_as_rate``
    The same over labelled nodes hosted in the node's origin ASes; the largest over its ASes.
``lab_neighbour_share``
    Share of labelled-malicious neighbours, counted per shared pivot: for a domain its name
    servers, mail servers, registrant and addresses (co-hosted names); for an address the names
    on it, the other addresses of those names, and its /24 (/48). A neighbour reached through
    two pivots counts twice. NaN when no neighbour is labelled.
``lab_ppr``
    Personalised PageRank (restart probability 0.15) from the labelled-malicious nodes,
    multiplied by the number of seeds so views with different seed counts are comparable;
    NaN when there is no seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from attribution.features import arrays
from attribution.features.facts import Facts
from attribution.labels import NodeKey, ResolvedLabel

__all__ = [
    "FactGraph",
    "assign_folds",
    "cross_fitted_label_features",
    "personalised_pagerank",
    "transition_matrix",
]

RESTART = 0.15
SMOOTHING = 1.0


def _node_keys(facts: Facts) -> tuple[list[NodeKey], list[int]]:
    """Every possible node as its (label, key) tuple, in id order, and each kind's offset."""
    kinds: list[tuple[str, list[str]]] = [
        ("Domain", facts.domains),
        ("IPAddress", facts.addresses),
        ("Prefix", facts.prefixes),
        ("AutonomousSystem", [str(asn) for asn in facts.asns]),
        ("Registrar", facts.registrars),
        ("Registrant", facts.registrants),
    ]
    keys: list[NodeKey] = []
    offsets = []
    for label, values in kinds:
        offsets.append(len(keys))
        keys += [(label, value) for value in values]
    return keys, offsets


def _shift(pairs: np.ndarray, first: int, second: int) -> np.ndarray:
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2) + np.array([first, second])


def _edges(facts: Facts, offsets: list[int]) -> np.ndarray:
    """(n, 2) node-id pairs of every fact edge (as the writer stored them, repeats kept)."""
    ip, prefix, asn, registrar, registrant = offsets[1:]
    announced = facts.in_prefix[facts.in_prefix[:, 2] >= 0]
    reverse = np.array(sorted(facts.reverse_ids.items()), dtype=np.int64).reshape(-1, 2)
    registrars = np.array(sorted(facts.registrar_of.items()), dtype=np.int64).reshape(-1, 2)
    registrants = np.array(
        sorted((d, r) for d, (r, _) in facts.registrant_of.items()), dtype=np.int64
    ).reshape(-1, 2)
    parts = [
        _shift(facts.resolves, 0, ip),
        facts.aliases,
        facts.name_servers,
        facts.mail_servers,
        _shift(reverse, ip, 0),
        _shift(facts.in_prefix[:, :2], ip, prefix),
        _shift(announced[:, 1:], prefix, asn),
        _shift(registrars, 0, registrar),
        _shift(registrants, 0, registrant),
    ]
    return np.concatenate([np.asarray(p, dtype=np.int64).reshape(-1, 2) for p in parts])


@dataclass
class FactGraph:
    """The undirected fact graph as a canonical CSR adjacency (entries 1.0, one per distinct
    neighbour, a self-loop once), nodes in sorted order of ``repr((label, key))``, which
    is the order the walk's floating-point sums depend on: the same graph gives the same
    numbers however Neo4j returned its rows."""

    adjacency: sp.csr_array
    rows: np.ndarray
    """Matrix index of each scored row."""

    @classmethod
    def of(cls, facts: Facts) -> FactGraph:
        keys, offsets = _node_keys(facts)
        edges = _edges(facts, offsets)
        present = np.zeros(len(keys), dtype=bool)
        present[: facts.n_domains] = True
        present[offsets[1] : offsets[1] + facts.n_addresses] = True
        present[edges.ravel()] = True
        ids = np.flatnonzero(present)
        order = sorted(range(len(ids)), key=lambda i: repr(keys[ids[i]]))
        position = np.full(len(keys), -1, dtype=np.int64)
        position[ids[order]] = np.arange(len(ids))
        a, b = position[edges[:, 0]], position[edges[:, 1]]
        a, b = arrays.unique_pairs(np.concatenate((a, b)), np.concatenate((b, a)))
        adjacency = sp.coo_array(
            (np.ones(a.size), (a, b)), shape=(len(ids), len(ids)), dtype=float
        ).tocsr()
        scored = np.concatenate(
            (np.arange(facts.n_domains), offsets[1] + np.arange(facts.n_addresses))
        )
        return cls(adjacency, position[scored])

    def degree_and_component(self) -> tuple[np.ndarray, np.ndarray]:
        """Degree (a self-loop counts twice) and connected-component size of each row."""
        adj = self.adjacency
        degree = np.diff(adj.indptr).astype(float) + (adj.diagonal() != 0)
        _, labels = connected_components(adj, directed=False)
        sizes = np.bincount(labels).astype(float)
        return degree[self.rows], sizes[labels[self.rows]]


def assign_folds(
    keys: Sequence[NodeKey], labels: Mapping[NodeKey, ResolvedLabel], n_folds: int, seed: int
) -> np.ndarray:
    """Fold of each labelled key (a hash of seed and identity), -1 for unlabelled keys."""
    if n_folds < 2:
        raise ValueError(f"cross-fitting needs at least 2 folds, got {n_folds}")
    out = np.full(len(keys), -1, dtype=int)
    for i, key in enumerate(keys):
        if key in labels:
            digest = hashlib.sha256(f"{seed}|{key[0]}|{key[1]}".encode()).digest()
            out[i] = int.from_bytes(digest[:8], "big") % n_folds
    return out


def _rates(
    members: np.ndarray, groups: np.ndarray, n_groups: int, y: np.ndarray, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed malicious rate and labelled count per group, over allowed labelled members."""
    use = allowed[members]
    total = np.bincount(groups[use], minlength=n_groups).astype(float)
    bad = np.bincount(groups[use], weights=y[members[use]], minlength=n_groups)
    prior = float(y[allowed].mean()) if allowed.any() else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = (bad + SMOOTHING * prior) / (total + SMOOTHING)
    return rate, total


def _max_rate(
    members: np.ndarray, groups: np.ndarray, rate: np.ndarray, total: np.ndarray, n_rows: int
) -> np.ndarray:
    out = np.full(n_rows, np.nan)
    valid = total[groups] > 0
    np.fmax.at(out, members[valid], rate[groups[valid]])
    return out


def personalised_pagerank(
    transition: sp.csr_array, seeds: np.ndarray, *, max_iter: int = 100, tol: float = 1e-10
) -> np.ndarray:
    """Stationary vector of the walk that restarts on ``seeds`` (uniform) with prob. 0.15.

    ``transition`` is column-stochastic except for isolated nodes, whose mass restarts.
    """
    n = transition.shape[0]
    start = np.zeros(n)
    start[seeds] = 1.0 / seeds.size
    rank = start.copy()
    for _ in range(max_iter):
        walked = transition @ rank
        lost = 1.0 - walked.sum()  # mass on isolated nodes goes back to the seeds
        new = (1.0 - RESTART) * walked + (RESTART + (1.0 - RESTART) * lost) * start
        if np.abs(new - rank).sum() < tol:
            return new
        rank = new
    return rank


def transition_matrix(adjacency: sp.csr_array) -> sp.csr_array:
    """Column-stochastic walk matrix of an adjacency matrix (isolated nodes' columns empty)."""
    degree = np.asarray(adjacency.sum(axis=0)).ravel()
    inverse = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
    return sp.csr_array(adjacency @ sp.diags_array(inverse))


def _pivots(
    facts: Facts, names: np.ndarray, addresses: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """(row, pivot) membership pairs for the neighbour share; ``names``/``addresses`` are
    the distinct (domain, address) pairs, CNAME targets' addresses included."""
    d, n_dom, n_addr = facts.n_domains, len(facts.domains), len(facts.addresses)
    nets, n_nets = facts.networks()
    registrant = np.array(
        [facts.registrant_of.get(int(r), (-1, 0.0))[0] for r in facts.registrable], dtype=np.int64
    )
    with_registrant = np.flatnonzero(registrant >= 0)
    own = np.arange(facts.n_addresses)
    # Pivot id spaces, one after the other: ns, mx, registrant, address, name, network.
    ns0, mx0, reg0 = 0, n_dom, 2 * n_dom
    ip0 = reg0 + len(facts.registrants)
    name0 = ip0 + n_addr
    net0 = name0 + n_dom
    scored = (names < d) & (addresses < facts.n_addresses)
    ns = facts.name_servers[facts.name_servers[:, 0] < d]
    mx = facts.mail_servers[facts.mail_servers[:, 0] < d]
    rows = [ns[:, 0], mx[:, 0], with_registrant,
            names[scored], d + addresses[scored], d + own, d + own]  # fmt: skip
    pivots = [ns0 + ns[:, 1], mx0 + mx[:, 1],
              reg0 + registrant[with_registrant], ip0 + addresses[scored],
              name0 + names[scored], ip0 + own, net0 + nets[own]]  # fmt: skip
    return (
        np.concatenate([np.asarray(r, dtype=np.int64) for r in rows]),
        np.concatenate([np.asarray(p, dtype=np.int64) for p in pivots]),
        net0 + n_nets,
    )


def _registrar_groups(facts: Facts) -> tuple[np.ndarray, np.ndarray, int]:
    """(row, registrar) pairs: the registrar of each domain's registrable name."""
    registrar = np.array(
        [facts.registrar_of.get(int(r), -1) for r in facts.registrable], dtype=np.int64
    )
    rows = np.flatnonzero(registrar >= 0)
    return rows, registrar[rows], len(facts.registrars)


def _as_groups(asns: Sequence[frozenset[int]]) -> tuple[np.ndarray, np.ndarray, int]:
    """(row, AS) pairs over each row's origin ASes."""
    as_id: dict[int, int] = {}
    rows, groups = [], []
    for i, found in enumerate(asns):
        for asn in found:
            rows.append(i)
            groups.append(as_id.setdefault(asn, len(as_id)))
    return np.array(rows, dtype=np.int64), np.array(groups, dtype=np.int64), len(as_id)


def cross_fitted_label_features(
    facts: Facts,
    structure: FactGraph,
    keys: Sequence[NodeKey],
    labels: Mapping[NodeKey, ResolvedLabel],
    folds: np.ndarray,
    n_folds: int,
    node_asns: Sequence[frozenset[int]],
    hosting: tuple[np.ndarray, np.ndarray],
) -> dict[str, np.ndarray]:
    """The label feature columns, each row computed without its own fold's labels.

    ``node_asns`` holds each row's origin ASes, ``hosting`` the distinct (domain id,
    address id) pairs of each domain's addresses (CNAME targets' included)."""
    n = len(keys)
    y = np.array([(1.0 if labels[k].malicious else 0.0) if k in labels else -1.0 for k in keys])
    labelled = y >= 0
    y_clean = np.where(labelled, y, 0.0)
    out = {
        name: np.full(n, np.nan)
        for name in ("lab_registrar_rate", "lab_as_rate", "lab_neighbour_share", "lab_ppr")
    }
    if not labelled.any() or n == 0:
        return out
    reg_rows_a, reg_groups_a, n_registrars = _registrar_groups(facts)
    as_rows_a, as_groups_a, n_as = _as_groups(node_asns)
    piv_rows, piv_groups, n_pivots = _pivots(facts, *hosting)
    transition = transition_matrix(structure.adjacency)
    graph_index = structure.rows

    for view in [*range(n_folds), -1]:
        rows = np.flatnonzero(folds == view)
        if rows.size == 0:
            continue
        allowed = labelled & (folds != view)
        if not allowed.any():
            continue
        target = np.zeros(n, dtype=bool)
        target[rows] = True

        rate, total = _rates(reg_rows_a, reg_groups_a, n_registrars, y_clean, allowed)
        values = _max_rate(reg_rows_a, reg_groups_a, rate, total, n)
        out["lab_registrar_rate"][target] = values[target]

        rate, total = _rates(as_rows_a, as_groups_a, n_as, y_clean, allowed)
        values = _max_rate(as_rows_a, as_groups_a, rate, total, n)
        out["lab_as_rate"][target] = values[target]

        use = allowed[piv_rows]
        pivot_total = np.bincount(piv_groups[use], minlength=n_pivots).astype(float)
        pivot_bad = np.bincount(piv_groups[use], weights=y_clean[piv_rows[use]], minlength=n_pivots)
        row_total = np.bincount(piv_rows, weights=pivot_total[piv_groups], minlength=n)
        row_bad = np.bincount(piv_rows, weights=pivot_bad[piv_groups], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(row_total > 0, row_bad / row_total, np.nan)
        out["lab_neighbour_share"][target] = share[target]

        seeds = graph_index[allowed & (y_clean == 1.0)]
        if seeds.size:
            rank = personalised_pagerank(transition, seeds) * seeds.size
            out["lab_ppr"][target] = rank[graph_index[target]]
    return out
