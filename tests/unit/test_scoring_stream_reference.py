"""The straightforward computation the compact feature path must match exactly: the
per-node Python sets and the :mod:`networkx` graph that features were computed with before
they became arrays (kept here, as the reference, with the same arithmetic)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp

from attribution.features.export import GraphExport, net_of
from attribution.features.extract import (
    _ADDRESS_CATEGORIES,
    _DAY_MS,
    _DYNAMIC_PTR,
    _WL_CATEGORY,
    FEATURE_NAMES,
    FeatureMatrix,
)
from attribution.features.graphfeat import (
    _max_rate,
    _rates,
    assign_folds,
    personalised_pagerank,
)
from attribution.features.lexical import lexical_features
from attribution.labels import NodeKey, ResolvedLabel


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


@dataclass
class _Relations:
    """The export's relationships indexed both ways, built once per feature run."""

    names_of: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    """address -> names resolving to it directly."""
    addrs_of: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    """name -> addresses it resolves to directly."""
    ttls_of_name: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ttls_of_addr: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    alias_targets: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    ns_of: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    domains_of_ns: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    mx_of: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    asn_of_addr: dict[str, set[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, export: GraphExport) -> _Relations:
        rel = cls()
        for name, address, ttl in export.resolves:
            rel.names_of[address].add(name)
            rel.addrs_of[name].add(address)
            if ttl is not None:
                rel.ttls_of_name[name].append(float(ttl))
                rel.ttls_of_addr[address].append(float(ttl))
        for alias, target in export.aliases:
            rel.alias_targets[alias].add(target)
        for name, ns in export.name_servers:
            rel.ns_of[name].add(ns)
            rel.domains_of_ns[ns].add(name)
        for name, mx in export.mail_servers:
            rel.mx_of[name].add(mx)
        rel.asn_of_addr = {
            a: {asn for _, asn in rows if asn is not None} for a, rows in export.prefixes.items()
        }
        return rel

    def addresses(self, name: str) -> set[str]:
        """Addresses of a name, directly or through one CNAME."""
        found = set(self.addrs_of.get(name, ()))
        for target in self.alias_targets.get(name, ()):
            found |= self.addrs_of.get(target, set())
        return found

    def name_ttls(self, name: str) -> list[float]:
        """TTLs of a name's address records, its CNAME targets' included."""
        ttls = list(self.ttls_of_name.get(name, ()))
        for target in self.alias_targets.get(name, ()):
            ttls += self.ttls_of_name.get(target, [])
        return ttls


_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


def _domain_dns(
    row: np.ndarray,
    name: str,
    props: Mapping[str, Any],
    rel: _Relations,
    addrs: set[str],
    asns: set[int],
) -> None:
    """DNS and hosting columns of a domain, from its addresses (``addrs``, directly or through
    one CNAME) and their origin ASes (``asns``)."""
    has_dns = (
        bool(addrs or rel.ns_of.get(name) or rel.mx_of.get(name) or rel.alias_targets.get(name))
        or props.get("nxdomain") is not None
    )
    if has_dns:
        row[_COL["dns_addr_count"]] = len(addrs)
        row[_COL["dns_v6_count"]] = sum(":" in a for a in addrs)
        row[_COL["dns_ns_count"]] = len(rel.ns_of.get(name, ()))
        row[_COL["dns_mx_count"]] = len(rel.mx_of.get(name, ()))
        row[_COL["dns_alias"]] = 1.0 if rel.alias_targets.get(name) else 0.0
    ttls = rel.name_ttls(name)
    if ttls:
        row[_COL["dns_min_ttl"]] = min(ttls)
        row[_COL["dns_median_ttl"]] = _median(ttls)
    if addrs:
        row[_COL["dns_distinct_24"]] = len({net_of(a) for a in addrs})
        if any(a in rel.asn_of_addr for a in addrs):
            row[_COL["dns_distinct_asn"]] = len(asns)
        counts = [len(rel.names_of.get(a, ())) for a in addrs]
        row[_COL["host_cohost_max"]] = max(counts)
        row[_COL["host_cohost_mean"]] = float(np.mean(counts))
    if rel.ns_of.get(name):
        row[_COL["dns_ns_shared_max"]] = max(
            len(rel.domains_of_ns[ns]) - 1 for ns in rel.ns_of[name]
        )


def _asns_of(addresses: set[str], rel: _Relations) -> set[int]:
    asns: set[int] = set()
    for address in addresses:
        asns |= rel.asn_of_addr.get(address, set())
    return asns


def _domain_registration(
    row: np.ndarray, name: str, props: Mapping[str, Any], export: GraphExport
) -> None:
    """Registration columns, from the registrable domain's data (the name's own as fallback)."""
    registrable = props.get("registrable") or name
    reg = export.domains.get(registrable, props)
    created, first = reg.get("created"), props.get("first")
    if created is not None:
        if first is not None:
            row[_COL["reg_age_days"]] = (first - created) / _DAY_MS
        if reg.get("expires") is not None:
            row[_COL["reg_length_days"]] = (reg["expires"] - created) / _DAY_MS
        if reg.get("updated") is not None:
            row[_COL["reg_update_gap_days"]] = (reg["updated"] - created) / _DAY_MS
    privacy = reg.get("privacy")
    if privacy is None and registrable in export.registrants:
        privacy = export.registrants[registrable][1]
    if privacy is not None:
        row[_COL["reg_privacy"]] = 1.0 if privacy else 0.0


def _warninglist_columns(row: np.ndarray, hits: set[str]) -> None:
    for category, feature in _WL_CATEGORY.items():
        row[_COL[feature]] = 1.0 if category in hits else 0.0


def _domain_hits(wl: Any, name: str, registrable: str, addrs: set[str]) -> set[str]:
    """Warninglist categories of the name, its registrable domain and (cloud, CDN) addresses."""
    hits = {h.category for h in wl.match_domain(name)}
    if registrable != name:
        hits |= {h.category for h in wl.match_domain(registrable)}
    for address in addrs:
        hits |= {h.category for h in wl.match_ip(address)} & _ADDRESS_CATEGORIES
    return hits


def _domain_row(
    row: np.ndarray,
    name: str,
    props: Mapping[str, Any],
    export: GraphExport,
    rel: _Relations,
    wl: Any,
) -> frozenset[int]:
    """Fill a domain's columns; returns the origin ASes of its addresses."""
    row[_COL["is_ip"]] = 0.0
    for feature, value in lexical_features(name).items():
        row[_COL[feature]] = value
    addrs = rel.addresses(name)
    asns = _asns_of(addrs, rel)
    _domain_dns(row, name, props, rel, addrs, asns)
    _domain_registration(row, name, props, export)
    if wl is not None:
        registrable = props.get("registrable") or name
        _warninglist_columns(row, _domain_hits(wl, name, registrable, addrs))
    return frozenset(asns)


def _address_row(
    row: np.ndarray, address: str, export: GraphExport, rel: _Relations, wl: Any
) -> None:
    """Fill an address's columns (reverse name, records pointing at it, routing, lists)."""
    row[_COL["is_ip"]] = 1.0
    ttls = rel.ttls_of_addr.get(address, [])
    if ttls:
        row[_COL["dns_min_ttl"]] = min(ttls)
        row[_COL["dns_median_ttl"]] = _median(ttls)
    ptr = export.reverse.get(address)
    if ptr is not None:
        row[_COL["ip_ptr_dynamic"]] = 1.0 if _DYNAMIC_PTR.search(ptr) else 0.0
    if address in rel.names_of:
        row[_COL["host_cohost_max"]] = len(rel.names_of[address])
        row[_COL["host_cohost_mean"]] = len(rel.names_of[address])
    if rel.asn_of_addr.get(address):
        row[_COL["dns_distinct_asn"]] = len(rel.asn_of_addr[address])
    if wl is not None:
        _warninglist_columns(row, {h.category for h in wl.match_ip(address)})


def reference_features(
    export: GraphExport,
    labels: Mapping[NodeKey, ResolvedLabel],
    *,
    n_folds: int = 5,
    seed: int = 0,
    warninglists: Any = None,
    progress: Callable[[str], None] | None = None,
) -> FeatureMatrix:
    """Feature rows for every node of ``export``; label features cross-fitted over ``labels``."""
    say = progress or (lambda _: None)
    keys = export.keys()
    position = {key: i for i, key in enumerate(keys)}
    X = np.full((len(keys), len(FEATURE_NAMES)), float("nan"))
    rel = _Relations.of(export)
    node_asns: dict[NodeKey, frozenset[int]] = {}
    for name, props in export.domains.items():
        row = X[position[("Domain", name)]]
        node_asns[("Domain", name)] = _domain_row(row, name, props, export, rel, warninglists)
    for address in export.addresses:
        _address_row(X[position[("IPAddress", address)]], address, export, rel, warninglists)
        node_asns[("IPAddress", address)] = frozenset(rel.asn_of_addr.get(address, set()))
    say("base features")
    nxgraph = build_graph(export)
    degree, component = structural_features(nxgraph, keys)
    X[:, _COL["g_degree"]] = degree
    X[:, _COL["g_component_size"]] = component
    say("graph structure")
    folds = assign_folds(keys, labels, n_folds, seed)
    label_cols = cross_fitted_label_features(
        export, nxgraph, keys, labels, folds, n_folds, node_asns
    )
    for name, values in label_cols.items():
        X[:, _COL[name]] = values
    say("label features")
    return FeatureMatrix(
        keys=keys, X=X, folds=folds, asns=node_asns, incidents=set(export.incidents)
    )


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
