"""Feature rows for every Domain and IPAddress, from a read-only export of the graph.

:func:`~attribution.features.export.export_graph` reads the facts the features need, and
:func:`build_features` turns them into one row per node with the columns of
:data:`FEATURE_NAMES`, in that order. :data:`FEATURE_SET_VERSION` changes whenever a column is
added, removed, reordered or computed differently; a saved model records it and refuses to
score with another.

Missing evidence stays NaN, never 0: a name that was never resolved has NaN DNS counts, one
that resolved to nothing has 0. Counts of relationships include every relationship ever seen
(history is kept in the graph), which is what makes fast flux visible: a name that moved
through forty addresses in ten networks has ``dns_addr_count`` 40.

Columns, by group (``is_ip`` tells the two node kinds apart; a column that does not apply to
a kind is NaN for it):

lexical (domains)
    see :mod:`attribution.features.lexical`.
DNS
    ``dns_addr_count`` / ``dns_v6_count`` distinct addresses (all, IPv6) the name resolved
    to, directly or through one CNAME; ``dns_ns_count``, ``dns_mx_count``; ``dns_alias`` (1
    when the name is a CNAME); ``dns_min_ttl`` and ``dns_median_ttl`` over address records
    (for an address: over the records pointing at it); ``dns_distinct_24`` (/24 for IPv4,
    /48 for IPv6) and ``dns_distinct_asn`` over the addresses; ``dns_ns_shared_max``: how
    many other domains share the most widely shared of its name servers; ``ip_ptr_dynamic``
    (addresses: 1 when the reverse name looks like a dynamic pool, 0 for another reverse
    name, NaN without one).
registration (registrable domain's data, for the name and its subdomains)
    ``reg_age_days`` (first sighting minus creation), ``reg_length_days`` (expiry minus
    creation), ``reg_update_gap_days`` (last change minus creation), ``reg_privacy``.
hosting
    ``host_cohost_max`` / ``host_cohost_mean``: names resolving to the node's addresses (for
    an address: to itself); ``wl_cloud``, ``wl_cdn``, ``wl_top``, ``wl_parking``,
    ``wl_dyndns``: MISP warninglist hits of the name, its registrable domain or (cloud, CDN)
    any of its addresses; NaN when no warninglists are installed.
graph
    ``g_degree`` and ``g_component_size`` in the exported graph (scored nodes plus name
    servers, mail servers, registrars, registrants, prefixes and ASes).
labels (cross-fitted, see :mod:`attribution.features.graphfeat`)
    ``lab_registrar_rate``, ``lab_as_rate``, ``lab_neighbour_share``, ``lab_ppr``.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from attribution.db import Graph
from attribution.features import graphfeat
from attribution.features.export import GraphExport, export_graph, net_of
from attribution.features.lexical import LEXICAL_FEATURES, lexical_features
from attribution.labels import NodeKey, ResolvedLabel

__all__ = [
    "EVIDENCE_FEATURES",
    "FEATURE_GROUPS",
    "FEATURE_NAMES",
    "FEATURE_SET_VERSION",
    "GROUP_TITLES",
    "FeatureMatrix",
    "GraphExport",
    "build_features",
    "export_graph",
    "features_from_export",
]

FEATURE_SET_VERSION = "graph-features-1"

DNS_FEATURES: tuple[str, ...] = (
    "dns_addr_count",
    "dns_v6_count",
    "dns_ns_count",
    "dns_mx_count",
    "dns_alias",
    "dns_min_ttl",
    "dns_median_ttl",
    "dns_distinct_24",
    "dns_distinct_asn",
    "dns_ns_shared_max",
    "ip_ptr_dynamic",
)
REGISTRATION_FEATURES: tuple[str, ...] = (
    "reg_age_days",
    "reg_length_days",
    "reg_update_gap_days",
    "reg_privacy",
)
HOSTING_FEATURES: tuple[str, ...] = ("host_cohost_max", "host_cohost_mean")
WARNINGLIST_FEATURES: tuple[str, ...] = ("wl_cloud", "wl_cdn", "wl_top", "wl_parking", "wl_dyndns")
STRUCTURE_FEATURES: tuple[str, ...] = ("g_degree", "g_component_size")
LABEL_FEATURES: tuple[str, ...] = (
    "lab_registrar_rate",
    "lab_as_rate",
    "lab_neighbour_share",
    "lab_ppr",
)

FEATURE_NAMES: tuple[str, ...] = (
    "is_ip",
    *LEXICAL_FEATURES,
    *DNS_FEATURES,
    *REGISTRATION_FEATURES,
    *HOSTING_FEATURES,
    *WARNINGLIST_FEATURES,
    *STRUCTURE_FEATURES,
    *LABEL_FEATURES,
)

EVIDENCE_FEATURES: tuple[str, ...] = DNS_FEATURES + REGISTRATION_FEATURES + HOSTING_FEATURES
"""Columns that are facts observed about the node (not its name, lists or labels)."""

_SPREAD_FEATURES = ("dns_distinct_24", "dns_distinct_asn")
"""DNS columns that say where the addresses are hosted, explained with the hosting group."""

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "name": LEXICAL_FEATURES,
    "resolution": tuple(f for f in DNS_FEATURES if f not in _SPREAD_FEATURES),
    "hosting": (*_SPREAD_FEATURES, *HOSTING_FEATURES),
    "registration": REGISTRATION_FEATURES,
    "warninglists": WARNINGLIST_FEATURES,
    "structure": STRUCTURE_FEATURES,
    "associations": LABEL_FEATURES,
}
"""The players of a score's explanation (:mod:`attribution.scoring.shapley`) and the evidence
pattern the gate checks: every column but ``is_ip`` (the node kind, never masked) is in
exactly one group. Each group doubles the model evaluations of an exact explanation, so the
label-derived columns form one group (their values are still shown one by one)."""

GROUP_TITLES: dict[str, str] = {
    "name": "name (lexical)",
    "resolution": "DNS resolution",
    "hosting": "hosting",
    "registration": "registration",
    "warninglists": "warninglists",
    "structure": "graph structure",
    "associations": "labelled associations (registrar, network, neighbours)",
}

_WL_CATEGORY = {
    "cloud": "wl_cloud",
    "cdn": "wl_cdn",
    "top-sites": "wl_top",
    "parking": "wl_parking",
    "dynamic-dns": "wl_dyndns",
}
_ADDRESS_CATEGORIES = frozenset({"cloud", "cdn"})
_DYNAMIC_PTR = re.compile(
    r"(^|[.\-])(dyn|dynamic|dhcp|pool|ppp|dsl|cable)([.\-\d]|$)|\d{1,3}[.\-]\d{1,3}[.\-]\d{1,3}"
)
_DAY_MS = 86_400_000.0


@dataclass
class FeatureMatrix:
    """Feature rows: ``X[i]`` belongs to ``keys[i]``; columns are :data:`FEATURE_NAMES`."""

    keys: list[NodeKey]
    X: np.ndarray
    names: tuple[str, ...] = FEATURE_NAMES
    version: str = FEATURE_SET_VERSION
    folds: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    """Cross-fitting fold of each labelled row (-1 for unlabelled rows)."""
    asns: dict[NodeKey, frozenset[int]] = field(default_factory=dict)
    """Origin ASes of each node's addresses (for rules and reports)."""
    incidents: set[NodeKey] = field(default_factory=set)
    """Nodes named in an incident report (an evidence family the columns do not hold)."""

    def column(self, name: str) -> np.ndarray:
        return self.X[:, self.names.index(name)]

    def evidence_counts(self) -> np.ndarray:
        """Non-missing :data:`EVIDENCE_FEATURES` per row."""
        idx = [self.names.index(n) for n in EVIDENCE_FEATURES]
        return np.asarray((~np.isnan(self.X[:, idx])).sum(axis=1), dtype=int)

    def index(self) -> dict[NodeKey, int]:
        return {key: i for i, key in enumerate(self.keys)}


@cache
def _warninglists(directory: str | None) -> Any:
    from attribution.warninglists import load_warninglists

    try:
        return load_warninglists(None if directory is None else Path(directory))
    except FileNotFoundError:
        return None


def default_warninglists() -> Any:
    """The warninglist index from the settings, loaded once per process; None when absent."""
    from attribution.settings import load_settings

    directory = load_settings().warninglists_dir
    return _warninglists(None if directory is None else str(directory))


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


def features_from_export(
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
    nxgraph = graphfeat.build_graph(export)
    degree, component = graphfeat.structural_features(nxgraph, keys)
    X[:, _COL["g_degree"]] = degree
    X[:, _COL["g_component_size"]] = component
    say("graph structure")
    folds = graphfeat.assign_folds(keys, labels, n_folds, seed)
    label_cols = graphfeat.cross_fitted_label_features(
        export, nxgraph, keys, labels, folds, n_folds, node_asns
    )
    for name, values in label_cols.items():
        X[:, _COL[name]] = values
    say("label features")
    return FeatureMatrix(
        keys=keys, X=X, folds=folds, asns=node_asns, incidents=set(export.incidents)
    )


def build_features(
    graph: Graph,
    labels: Mapping[NodeKey, ResolvedLabel],
    *,
    n_folds: int = 5,
    seed: int = 0,
    warninglists: Any = "settings",
    progress: Callable[[str], None] | None = None,
) -> FeatureMatrix:
    """Export the graph and build every node's features (see :func:`features_from_export`).

    ``warninglists`` is a loaded index, ``None`` (warninglist columns NaN) or ``"settings"``
    (load from ``settings.warninglists_dir``).
    """
    export = export_graph(graph)
    if progress:
        progress("export")
    index = default_warninglists() if warninglists == "settings" else warninglists
    return features_from_export(
        export, labels, n_folds=n_folds, seed=seed, warninglists=index, progress=progress
    )
