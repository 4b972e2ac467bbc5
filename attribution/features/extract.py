"""Feature rows for every Domain and IPAddress, from a read-only export of the graph.

:func:`~attribution.features.facts.read_facts` streams the facts the features need into compact
arrays, and :func:`build_features` turns them into one row per node with the columns of
:data:`FEATURE_NAMES`, in that order (:func:`features_from_export` does the same from a
dictionary export). Columns are computed with array operations over every node at once; only
the lexical and warninglist columns take a Python call per node. :data:`FEATURE_SET_VERSION` changes whenever a column is
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

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from attribution.db import Graph
from attribution.features import arrays, graphfeat
from attribution.features.export import GraphExport, export_graph
from attribution.features.facts import Facts, read_facts
from attribution.features.lexical import LEXICAL_FEATURES, lexical_features
from attribution.labels import NodeKey, ResolvedLabel
from attribution.warninglists import LIST_TYPES

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


def feature_warninglists(names: Iterable[str] | None = None) -> Any:
    """Only the lists whose category a column reads (cloud, CDN, top sites, parking,
    dynamic DNS), from the settings' directory, not cached: a scoring run matches its nodes
    and lets the index go. The columns are the same as with every list loaded, since a hit
    of any other category never sets a column. None when no lists are installed.

    ``names``: the canonical names the run will match (each domain to score and its
    registrable name); name entries that no lookup of them reads are not indexed
    (:attr:`~attribution.warninglists.WarninglistIndex.only_names`)."""
    from attribution.settings import load_settings
    from attribution.warninglists import (
        WarninglistIndex,
        category_for,
        name_keys,
        package_lists_dir,
    )

    directory = load_settings().warninglists_dir
    root = package_lists_dir() if directory is None else Path(directory)
    lists_dir = root / "lists" if (root / "lists").is_dir() else root
    paths = sorted(lists_dir.glob("*/list.json"))
    if not paths:
        return None
    only = None if names is None else name_keys(names)
    index = WarninglistIndex(source=str(root), only_names=only)
    for path in paths:
        if category_for(path.parent.name) not in _WL_CATEGORY:
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and document.get("type") in LIST_TYPES:
            index.add(path.parent.name, document)
    return index


_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


@dataclass
class _Hosting:
    """Each domain's addresses (directly or through one CNAME) as distinct (name, address)
    id pairs, with what the columns read about them."""

    names: np.ndarray
    addresses: np.ndarray
    asn_names: np.ndarray
    """(name, ASN id) distinct pairs over the addresses' announced prefixes."""
    asn_ids: np.ndarray

    @classmethod
    def of(cls, facts: Facts) -> _Hosting:
        direct = facts.resolves
        alias, target = arrays.unique_pairs(facts.aliases[:, 0], facts.aliases[:, 1])
        via_names, via_addresses = arrays.expand(alias, target, direct[:, 0], direct[:, 1])
        names, addresses = arrays.unique_pairs(
            np.concatenate((direct[:, 0], via_names)),
            np.concatenate((direct[:, 1], via_addresses)),
        )
        announced = facts.in_prefix[facts.in_prefix[:, 2] >= 0]
        asn_names, asn_ids = arrays.unique_pairs(
            *arrays.expand(names, addresses, announced[:, 0], announced[:, 2])
        )
        return cls(names, addresses, asn_names, asn_ids)


def _domain_ttls(facts: Facts, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and median TTL of each domain's address records, its CNAME targets' included."""
    direct = facts.resolves[:, 0]
    alias, target = arrays.unique_pairs(facts.aliases[:, 0], facts.aliases[:, 1])
    via, ttls = arrays.expand(alias, target, direct, facts.resolve_ttl)
    groups = np.concatenate((direct, via))
    return arrays.group_min_median(groups, np.concatenate((facts.resolve_ttl, ttls)), n)


def _domain_dns(X: np.ndarray, facts: Facts, hosting: _Hosting) -> None:
    """DNS and hosting columns of every domain row (see the module docstring)."""
    n_all, n = len(facts.domains), facts.n_domains
    names, addresses = hosting.names, hosting.addresses
    addr_count = arrays.count(names, n_all)[:n]
    ns_names, ns_hosts = arrays.unique_pairs(facts.name_servers[:, 0], facts.name_servers[:, 1])
    mx_names, _ = arrays.unique_pairs(facts.mail_servers[:, 0], facts.mail_servers[:, 1])
    ns_count = arrays.count(ns_names, n_all)[:n]
    mx_count = arrays.count(mx_names, n_all)[:n]
    alias_count = arrays.count(facts.aliases[:, 0], n_all)[:n]
    has_dns = (addr_count + ns_count + mx_count + alias_count > 0) | facts.nxdomain
    rows = np.flatnonzero(has_dns)
    is_v6 = np.array([":" in a for a in facts.addresses], dtype=float)
    v6 = arrays.group_sum(names, is_v6[addresses], n_all)[:n]
    for column, values in (("dns_addr_count", addr_count), ("dns_v6_count", v6),
                           ("dns_ns_count", ns_count), ("dns_mx_count", mx_count),
                           ("dns_alias", (alias_count > 0))):  # fmt: skip
        X[rows, _COL[column]] = values[rows]
    low, median = _domain_ttls(facts, n_all)
    X[:n, _COL["dns_min_ttl"]], X[:n, _COL["dns_median_ttl"]] = low[:n], median[:n]
    resolved = np.flatnonzero(addr_count > 0)
    nets, _ = facts.networks()
    net_names, _ = arrays.unique_pairs(names, nets[addresses])
    X[resolved, _COL["dns_distinct_24"]] = arrays.count(net_names, n_all)[resolved]
    routed = np.zeros(len(facts.addresses), dtype=bool)
    routed[facts.in_prefix[:, 0]] = True
    any_routed = np.flatnonzero(arrays.count(names[routed[addresses]], n_all)[:n] > 0)
    asn_count = arrays.count(hosting.asn_names, n_all)
    X[any_routed, _COL["dns_distinct_asn"]] = asn_count[any_routed]
    cohosts = arrays.count(arrays.unique_pairs(facts.resolves[:, 1], facts.resolves[:, 0])[0],
                           len(facts.addresses)).astype(float)  # fmt: skip
    X[resolved, _COL["host_cohost_max"]] = arrays.group_max(names, cohosts[addresses], n_all)[
        resolved
    ]
    total = arrays.group_sum(names, cohosts[addresses], n_all)
    X[resolved, _COL["host_cohost_mean"]] = total[resolved] / addr_count[resolved]
    sharing = arrays.count(ns_hosts, n_all).astype(float) - 1
    shared_max = arrays.group_max(ns_names, sharing[ns_hosts], n_all)[:n]
    named = ns_count > 0
    X[:n][named, _COL["dns_ns_shared_max"]] = shared_max[named]


def _domain_registration(X: np.ndarray, facts: Facts) -> None:
    """Registration columns, from the registrable domain's data (the name's own as fallback)."""
    n = facts.n_domains
    own = np.arange(n)
    reg = np.where(facts.registrable < n, facts.registrable, own)
    first = facts.times[:, 0]
    created, updated, expires = (facts.times[reg, c] for c in (1, 2, 3))
    X[:n, _COL["reg_age_days"]] = (first - created) / _DAY_MS
    X[:n, _COL["reg_length_days"]] = (expires - created) / _DAY_MS
    X[:n, _COL["reg_update_gap_days"]] = (updated - created) / _DAY_MS
    privacy = facts.privacy[reg].copy()
    for i in np.flatnonzero(np.isnan(privacy)):
        registrant = facts.registrant_of.get(int(facts.registrable[i]))
        if registrant is not None:
            privacy[i] = registrant[1]
    X[:n, _COL["reg_privacy"]] = privacy


def _address_columns(X: np.ndarray, facts: Facts) -> None:
    """Columns of every address row (reverse name, records pointing at it, routing)."""
    n_all, d, n = len(facts.addresses), facts.n_domains, facts.n_addresses
    rows = slice(d, d + n)
    X[rows, _COL["is_ip"]] = 1.0
    low, median = arrays.group_min_median(facts.resolves[:, 1], facts.resolve_ttl, n_all)
    X[rows, _COL["dns_min_ttl"]], X[rows, _COL["dns_median_ttl"]] = low[:n], median[:n]
    for address, ptr in facts.reverse.items():
        if address < n:
            X[d + address, _COL["ip_ptr_dynamic"]] = 1.0 if _DYNAMIC_PTR.search(ptr) else 0.0
    resolving = arrays.count(facts.resolves[:, 1], n_all)[:n] > 0
    cohosts = arrays.count(
        arrays.unique_pairs(facts.resolves[:, 1], facts.resolves[:, 0])[0], n_all
    )[:n]
    X[d + np.flatnonzero(resolving), _COL["host_cohost_max"]] = cohosts[resolving]
    X[d + np.flatnonzero(resolving), _COL["host_cohost_mean"]] = cohosts[resolving]
    announced = facts.in_prefix[facts.in_prefix[:, 2] >= 0]
    asn_addresses, _ = arrays.unique_pairs(announced[:, 0], announced[:, 2])
    asn_count = arrays.count(asn_addresses, n_all)[:n]
    X[d + np.flatnonzero(asn_count > 0), _COL["dns_distinct_asn"]] = asn_count[asn_count > 0]


def node_asns(facts: Facts, hosting: _Hosting) -> list[frozenset[int]]:
    """Origin ASes of each row: a domain's addresses' ASes, an address's own (equal sets
    share one frozenset)."""
    d, n = facts.n_domains, facts.n_addresses
    announced = facts.in_prefix[facts.in_prefix[:, 2] >= 0]
    a_rows, a_asns = arrays.unique_pairs(announced[:, 0], announced[:, 2])
    keep = a_rows < n
    rows = np.concatenate((hosting.asn_names[hosting.asn_names < d], d + a_rows[keep]))
    asn_ids = np.concatenate((hosting.asn_ids[hosting.asn_names < d], a_asns[keep]))
    shared: dict[tuple[int, ...], frozenset[int]] = {}
    out = [frozenset[int]()] * (d + n)
    bounds = np.searchsorted(rows, np.arange(d + n + 1))
    for row in np.flatnonzero(bounds[1:] > bounds[:-1]):
        members = tuple(facts.asns[i] for i in asn_ids[bounds[row] : bounds[row + 1]])
        out[row] = shared.setdefault(members, frozenset(members))
    return out


def _lexical_and_lists(
    X: np.ndarray, facts: Facts, hosting: _Hosting, rows: np.ndarray, wl: Any
) -> None:
    """Lexical and warninglist columns of ``rows`` (one Python call per node)."""
    d = facts.n_domains
    lexical = [_COL[f] for f in LEXICAL_FEATURES]
    bounds = np.searchsorted(hosting.names, np.arange(d + 1))
    address_hits: dict[int, set[str]] = {}

    def hits_of(address: int) -> set[str]:
        if address not in address_hits:
            found = {h.category for h in wl.match_ip(facts.addresses[address])}
            address_hits[address] = found
        return address_hits[address]

    for row in rows:
        if row >= d:
            if wl is not None:
                _warninglist_columns(X[row], hits_of(int(row) - d))
            continue
        name = facts.domains[row]
        X[row, _COL["is_ip"]] = 0.0
        values = lexical_features(name)
        X[row, lexical] = [values[f] for f in LEXICAL_FEATURES]
        if wl is None:
            continue
        hits = {h.category for h in wl.match_domain(name)}
        registrable = facts.domains[facts.registrable[row]]
        if registrable != name:
            hits |= {h.category for h in wl.match_domain(registrable)}
        for address in hosting.addresses[bounds[row] : bounds[row + 1]]:
            hits |= hits_of(int(address)) & _ADDRESS_CATEGORIES
        _warninglist_columns(X[row], hits)


def names_to_match(facts: Facts, rows: Sequence[int] | None) -> list[str]:
    """The names :func:`_lexical_and_lists` matches against the warninglists for ``rows``
    (None: every scored node): each domain's own name and its registrable name."""
    chosen = range(facts.n_domains) if rows is None else [r for r in rows if r < facts.n_domains]
    return [facts.domains[r] for r in chosen] + [
        facts.domains[facts.registrable[r]] for r in chosen
    ]


def _warninglist_columns(row: np.ndarray, hits: set[str]) -> None:
    for category, feature in _WL_CATEGORY.items():
        row[_COL[feature]] = 1.0 if category in hits else 0.0


def features_from_facts(
    facts: Facts,
    labels: Mapping[NodeKey, ResolvedLabel],
    *,
    n_folds: int = 5,
    seed: int = 0,
    warninglists: Any = None,
    rows: Sequence[int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> FeatureMatrix:
    """Feature rows for the scored nodes of ``facts`` (all, or only ``rows``, which are still
    computed in the context of the whole graph); label features cross-fitted over ``labels``.

    Columns computed for every node at once (counts, graph structure, labels) are array
    operations; only the lexical and warninglist columns take a Python call per node, and
    only for the nodes asked for.
    """
    say = progress or (lambda _: None)
    keys = facts.keys()
    X = np.full((len(keys), len(FEATURE_NAMES)), float("nan"))
    X[: facts.n_domains, _COL["is_ip"]] = 0.0
    hosting = _Hosting.of(facts)
    _domain_dns(X, facts, hosting)
    _domain_registration(X, facts)
    _address_columns(X, facts)
    chosen = np.arange(len(keys)) if rows is None else np.asarray(rows, dtype=np.int64)
    _lexical_and_lists(X, facts, hosting, chosen, warninglists)
    say("base features")
    asns = node_asns(facts, hosting)
    structure = graphfeat.FactGraph.of(facts)
    X[:, _COL["g_degree"]], X[:, _COL["g_component_size"]] = structure.degree_and_component()
    say("graph structure")
    folds = graphfeat.assign_folds(keys, labels, n_folds, seed)
    label_cols = graphfeat.cross_fitted_label_features(
        facts, structure, keys, labels, folds, n_folds, asns, (hosting.names, hosting.addresses)
    )
    for name, values in label_cols.items():
        X[:, _COL[name]] = values
    say("label features")
    return FeatureMatrix(
        keys=[keys[i] for i in chosen],
        X=X[chosen] if rows is not None else X,
        folds=folds[chosen],
        asns={keys[i]: asns[i] for i in chosen},
        incidents=set(facts.incidents),
    )


def features_from_export(
    export: GraphExport,
    labels: Mapping[NodeKey, ResolvedLabel],
    *,
    n_folds: int = 5,
    seed: int = 0,
    warninglists: Any = None,
    progress: Callable[[str], None] | None = None,
) -> FeatureMatrix:
    """Feature rows for every node of ``export`` (see :func:`features_from_facts`)."""
    return features_from_facts(
        Facts.from_export(export),
        labels,
        n_folds=n_folds,
        seed=seed,
        warninglists=warninglists,
        progress=progress,
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
    """Read the graph's facts (streamed, :func:`~attribution.features.facts.read_facts`)
    and build every node's features (see :func:`features_from_facts`).

    ``warninglists`` is a loaded index, ``None`` (warninglist columns NaN) or ``"settings"``
    (load from ``settings.warninglists_dir``).
    """
    facts = read_facts(graph)
    if progress:
        progress("export")
    index = default_warninglists() if warninglists == "settings" else warninglists
    return features_from_facts(
        facts, labels, n_folds=n_folds, seed=seed, warninglists=index, progress=progress
    )
