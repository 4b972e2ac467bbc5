"""Graph-structure features and cross-fitted label features.

The exported facts become an undirected :mod:`networkx` graph whose nodes are the scored
domains and addresses plus the things they share: name and mail servers (domains too),
registrars, registrants, prefixes and ASes.

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

import networkx as nx
import numpy as np
import scipy.sparse as sp

from attribution.features.export import GraphExport, net_of
from attribution.labels import NodeKey, ResolvedLabel

__all__ = [
    "assign_folds",
    "build_graph",
    "cross_fitted_label_features",
    "personalised_pagerank",
    "structural_features",
]

RESTART = 0.15
SMOOTHING = 1.0


def build_graph(export: GraphExport) -> nx.Graph:
    """The undirected fact graph; node ids are ``(label, key)`` tuples."""
    g = nx.Graph()
    g.add_nodes_from(export.keys())
    g.add_edges_from((("Domain", a), ("IPAddress", b)) for a, b, _ in export.resolves)
    g.add_edges_from((("Domain", a), ("Domain", b)) for a, b in export.aliases)
    g.add_edges_from((("Domain", a), ("Domain", b)) for a, b in export.name_servers)
    g.add_edges_from((("Domain", a), ("Domain", b)) for a, b in export.mail_servers)
    g.add_edges_from((("IPAddress", a), ("Domain", b)) for a, b in export.reverse.items())
    for address, rows in export.prefixes.items():
        for prefix, asn in rows:
            g.add_edge(("IPAddress", address), ("Prefix", prefix))
            if asn is not None:
                g.add_edge(("Prefix", prefix), ("AutonomousSystem", str(asn)))
    g.add_edges_from((("Domain", a), ("Registrar", b)) for a, b in export.registrars.items())
    g.add_edges_from((("Domain", a), ("Registrant", b)) for a, (b, _) in export.registrants.items())
    return g


def structural_features(g: nx.Graph, keys: Sequence[NodeKey]) -> tuple[np.ndarray, np.ndarray]:
    """Degree and connected-component size of each key's node."""
    size: dict[object, int] = {}
    for component in nx.connected_components(g):
        n = len(component)
        for node in component:
            size[node] = n
    degree = np.array([float(g.degree(k)) for k in keys])
    component = np.array([float(size[k]) for k in keys])
    return degree, component


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


def _transition(g: nx.Graph) -> tuple[sp.csr_array, dict[object, int]]:
    """Column-stochastic walk matrix over ``g``'s nodes, and each node's index in it.

    Nodes are indexed in sorted order, not in the order the graph was built (which follows
    the order Neo4j returned rows in), so the floating-point sums, and every feature
    computed from them, are the same for the same graph however it was loaded.
    """
    nodes = sorted(g.nodes, key=repr)
    index = {node: i for i, node in enumerate(nodes)}
    adjacency = nx.to_scipy_sparse_array(g, nodelist=nodes, format="csr", dtype=float)
    degree = np.asarray(adjacency.sum(axis=0)).ravel()
    inverse = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
    return sp.csr_array(adjacency @ sp.diags_array(inverse)), index


def _pivots(export: GraphExport, keys: Sequence[NodeKey]) -> tuple[np.ndarray, np.ndarray, int]:
    """(row, pivot) membership pairs for the neighbour share."""
    pivot_id: dict[str, int] = {}
    rows: list[int] = []
    pivots: list[int] = []
    position = {key: i for i, key in enumerate(keys)}

    def add(row: int, pivot: str) -> None:
        rows.append(row)
        pivots.append(pivot_id.setdefault(pivot, len(pivot_id)))

    aliased: dict[str, set[str]] = {}
    for alias, target in export.aliases:
        aliased.setdefault(alias, set()).add(target)
    addrs_of: dict[str, set[str]] = {}
    for name, address, _ in export.resolves:
        addrs_of.setdefault(name, set()).add(address)
    for name, ns in export.name_servers:
        add(position[("Domain", name)], f"ns:{ns}")
    for name, mx in export.mail_servers:
        add(position[("Domain", name)], f"mx:{mx}")
    for name, props in export.domains.items():
        registrable = props.get("registrable") or name
        registrant = export.registrants.get(registrable)
        if registrant is not None:
            add(position[("Domain", name)], f"reg:{registrant[0]}")
        addresses = set(addrs_of.get(name, ()))
        for target in aliased.get(name, ()):
            addresses |= addrs_of.get(target, set())
        for address in addresses:
            add(position[("Domain", name)], f"ip:{address}")
            # Addresses of one name are each other's neighbours (fast-flux siblings).
            add(position[("IPAddress", address)], f"name:{name}")
    for address in export.addresses:
        add(position[("IPAddress", address)], f"ip:{address}")
        add(position[("IPAddress", address)], f"net:{net_of(address)}")
    return np.array(rows, dtype=int), np.array(pivots, dtype=int), len(pivot_id)


def cross_fitted_label_features(
    export: GraphExport,
    g: nx.Graph,
    keys: Sequence[NodeKey],
    labels: Mapping[NodeKey, ResolvedLabel],
    folds: np.ndarray,
    n_folds: int,
    node_asns: Mapping[NodeKey, frozenset[int]],
) -> dict[str, np.ndarray]:
    """The label feature columns, each row computed without its own fold's labels."""
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

    registrar_id: dict[str, int] = {}
    reg_rows, reg_groups = [], []
    for i, key in enumerate(keys):
        if key[0] != "Domain":
            continue
        props = export.domains[key[1]]
        registrar = export.registrars.get(props.get("registrable") or key[1])
        if registrar is not None:
            reg_rows.append(i)
            reg_groups.append(registrar_id.setdefault(registrar, len(registrar_id)))
    reg_rows_a, reg_groups_a = np.array(reg_rows, dtype=int), np.array(reg_groups, dtype=int)

    as_id: dict[int, int] = {}
    as_rows, as_groups = [], []
    for i, key in enumerate(keys):
        for asn in sorted(node_asns.get(key, ())):
            as_rows.append(i)
            as_groups.append(as_id.setdefault(asn, len(as_id)))
    as_rows_a, as_groups_a = np.array(as_rows, dtype=int), np.array(as_groups, dtype=int)

    piv_rows, piv_groups, n_pivots = _pivots(export, keys)
    transition, index = _transition(g)
    graph_index = np.array([index[k] for k in keys], dtype=int)

    for view in [*range(n_folds), -1]:
        rows = np.flatnonzero(folds == view)
        if rows.size == 0:
            continue
        allowed = labelled & (folds != view)
        if not allowed.any():
            continue
        target = np.zeros(n, dtype=bool)
        target[rows] = True

        rate, total = _rates(reg_rows_a, reg_groups_a, len(registrar_id), y_clean, allowed)
        values = _max_rate(reg_rows_a, reg_groups_a, rate, total, n)
        out["lab_registrar_rate"][target] = values[target]

        rate, total = _rates(as_rows_a, as_groups_a, len(as_id), y_clean, allowed)
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
