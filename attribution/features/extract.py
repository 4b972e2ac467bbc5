"""Feature rows for every Domain and IPAddress, from a read-only export of the graph.

:func:`export_graph` reads the facts the features need with a handful of parameter-free,
read-only Cypher statements (each in a read transaction tagged with its name), and
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

import ipaddress
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
class GraphExport:
    """The facts the features use, as plain Python data (times in epoch milliseconds)."""

    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    addresses: dict[str, dict[str, Any]] = field(default_factory=dict)
    resolves: list[tuple[str, str, int | None]] = field(default_factory=list)
    """(name, address, smallest TTL seen)."""
    aliases: list[tuple[str, str]] = field(default_factory=list)
    name_servers: list[tuple[str, str]] = field(default_factory=list)
    mail_servers: list[tuple[str, str]] = field(default_factory=list)
    reverse: dict[str, str] = field(default_factory=dict)
    prefixes: dict[str, list[tuple[str, int | None]]] = field(default_factory=dict)
    """address -> [(prefix, origin AS or None)]."""
    registrars: dict[str, str] = field(default_factory=dict)
    registrants: dict[str, tuple[str, bool | None]] = field(default_factory=dict)
    incidents: set[NodeKey] = field(default_factory=set)
    """Nodes named in any incident report, confirmed or not."""

    def keys(self) -> list[NodeKey]:
        """Every scored node, domains first, each group sorted."""
        return [("Domain", n) for n in sorted(self.domains)] + [
            ("IPAddress", a) for a in sorted(self.addresses)
        ]


_EXPORT: dict[str, str] = {
    "domains": """
        MATCH (d:Domain)
        RETURN d.name AS name, d.registrable AS registrable, d.first_seen.epochMillis AS first,
               d.last_seen.epochMillis AS last, d.created.epochMillis AS created,
               d.updated.epochMillis AS updated, d.expires.epochMillis AS expires,
               d.privacy_proxy AS privacy, d.nxdomain AS nxdomain""",
    "addresses": """
        MATCH (i:IPAddress)
        RETURN i.address AS address, i.first_seen.epochMillis AS first,
               i.last_seen.epochMillis AS last""",
    "resolves": """
        MATCH (d:Domain)-[r:RESOLVES_TO]->(i:IPAddress)
        RETURN d.name AS a, i.address AS b, coalesce(r.min_ttl, r.ttl) AS ttl""",
    "aliases": "MATCH (d:Domain)-[:ALIAS_OF]->(t:Domain) RETURN d.name AS a, t.name AS b",
    "name_servers": "MATCH (d:Domain)-[:NAME_SERVER]->(n:Domain) RETURN d.name AS a, n.name AS b",
    "mail_servers": "MATCH (d:Domain)-[:MAIL_SERVER]->(m:Domain) RETURN d.name AS a, m.name AS b",
    "reverse": "MATCH (i:IPAddress)-[:REVERSE_NAME]->(d:Domain) RETURN i.address AS a, d.name AS b",
    "prefixes": """
        MATCH (i:IPAddress)-[:IN_PREFIX]->(p:Prefix)
        OPTIONAL MATCH (p)-[:ANNOUNCED_BY]->(a:AutonomousSystem)
        RETURN i.address AS a, p.cidr AS b, a.asn AS asn""",
    "registrars": "MATCH (d:Domain)-[:REGISTERED_WITH]->(r:Registrar) RETURN d.name AS a, r.key AS b",
    "registrants": """
        MATCH (d:Domain)-[:REGISTERED_BY]->(r:Registrant)
        RETURN d.name AS a, r.key AS b, r.privacy_proxy AS privacy""",
    "incidents": """
        MATCH (d:Domain) WHERE EXISTS { (d)-[:REPORTED_IN]->(:IncidentReport) }
        RETURN 'Domain' AS label, d.name AS key
        UNION ALL
        MATCH (i:IPAddress) WHERE EXISTS { (i)-[:IP_REPORTED_IN]->(:IncidentReport) }
        RETURN 'IPAddress' AS label, i.address AS key""",
}


def export_graph(graph: Graph, *, timeout: float | None = None) -> GraphExport:
    """Read the facts behind the features, read-only (each statement tagged ``features.*``)."""

    def read(name: str) -> list[dict[str, Any]]:
        return graph.read(_EXPORT[name], timeout=timeout, metadata={"query": f"features.{name}"})

    out = GraphExport()
    for row in read("domains"):
        out.domains[row["name"]] = row
    for row in read("addresses"):
        out.addresses[row["address"]] = row
    out.resolves = [(r["a"], r["b"], r["ttl"]) for r in read("resolves")]
    out.aliases = [(r["a"], r["b"]) for r in read("aliases")]
    out.name_servers = [(r["a"], r["b"]) for r in read("name_servers")]
    out.mail_servers = [(r["a"], r["b"]) for r in read("mail_servers")]
    for row in read("reverse"):
        # Several reverse names over time: keep the smallest for a stable result.
        current = out.reverse.get(row["a"])
        out.reverse[row["a"]] = row["b"] if current is None else min(current, row["b"])
    for row in read("prefixes"):
        out.prefixes.setdefault(row["a"], []).append((row["b"], row["asn"]))
    for row in read("registrars"):
        current_registrar = out.registrars.get(row["a"])
        out.registrars[row["a"]] = (
            row["b"] if current_registrar is None else min(current_registrar, row["b"])
        )
    for row in read("registrants"):
        current = out.registrants.get(row["a"], (None, None))[0]
        if current is None or row["b"] < current:
            out.registrants[row["a"]] = (row["b"], row["privacy"])
    out.incidents = {(row["label"], row["key"]) for row in read("incidents")}
    return out


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


def _net_of(address: str) -> str:
    ip = ipaddress.ip_address(address)
    length = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{length}", strict=False))


@cache
def _warninglists(directory: str) -> Any:
    from attribution.warninglists import load_warninglists

    try:
        return load_warninglists(Path(directory))
    except FileNotFoundError:
        return None


def default_warninglists() -> Any:
    """The warninglist index from the settings, loaded once per process; None when absent."""
    from attribution.settings import load_settings

    return _warninglists(str(load_settings().warninglists_dir))


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


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
    from attribution.features import graphfeat

    nan = float("nan")
    keys = export.keys()
    position = {key: i for i, key in enumerate(keys)}
    X = np.full((len(keys), len(FEATURE_NAMES)), nan)
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}

    names_of: dict[str, set[str]] = defaultdict(set)  # address -> names resolving to it
    addrs_of: dict[str, set[str]] = defaultdict(set)  # name -> addresses, directly
    ttls_of_name: dict[str, list[float]] = defaultdict(list)
    ttls_of_addr: dict[str, list[float]] = defaultdict(list)
    for name, address, ttl in export.resolves:
        names_of[address].add(name)
        addrs_of[name].add(address)
        if ttl is not None:
            ttls_of_name[name].append(float(ttl))
            ttls_of_addr[address].append(float(ttl))
    alias_targets: dict[str, set[str]] = defaultdict(set)
    for alias, target in export.aliases:
        alias_targets[alias].add(target)
    ns_of: dict[str, set[str]] = defaultdict(set)
    domains_of_ns: dict[str, set[str]] = defaultdict(set)
    for name, ns in export.name_servers:
        ns_of[name].add(ns)
        domains_of_ns[ns].add(name)
    mx_of: dict[str, set[str]] = defaultdict(set)
    for name, mx in export.mail_servers:
        mx_of[name].add(mx)
    asn_of_addr: dict[str, set[int]] = {
        a: {asn for _, asn in rows if asn is not None} for a, rows in export.prefixes.items()
    }

    def addresses(name: str) -> set[str]:
        found = set(addrs_of.get(name, ()))
        for target in alias_targets.get(name, ()):
            found |= addrs_of.get(target, set())
        return found

    node_asns: dict[NodeKey, frozenset[int]] = {}
    wl = warninglists

    for name, props in export.domains.items():
        row = X[position[("Domain", name)]]
        row[col["is_ip"]] = 0.0
        for feature, value in lexical_features(name).items():
            row[col[feature]] = value
        addrs = addresses(name)
        has_dns = (
            bool(addrs or ns_of.get(name) or mx_of.get(name) or alias_targets.get(name))
            or props.get("nxdomain") is not None
        )
        asns: set[int] = set()
        for address in addrs:
            asns |= asn_of_addr.get(address, set())
        node_asns[("Domain", name)] = frozenset(asns)
        if has_dns:
            row[col["dns_addr_count"]] = len(addrs)
            row[col["dns_v6_count"]] = sum(":" in a for a in addrs)
            row[col["dns_ns_count"]] = len(ns_of.get(name, ()))
            row[col["dns_mx_count"]] = len(mx_of.get(name, ()))
            row[col["dns_alias"]] = 1.0 if alias_targets.get(name) else 0.0
        ttls = list(ttls_of_name.get(name, ()))
        for target in alias_targets.get(name, ()):
            ttls += ttls_of_name.get(target, [])
        if ttls:
            row[col["dns_min_ttl"]] = min(ttls)
            row[col["dns_median_ttl"]] = _median(ttls)
        if addrs:
            row[col["dns_distinct_24"]] = len({_net_of(a) for a in addrs})
            routed = [a for a in addrs if a in asn_of_addr]
            if routed:
                row[col["dns_distinct_asn"]] = len(asns)
            counts = [len(names_of.get(a, ())) for a in addrs]
            row[col["host_cohost_max"]] = max(counts)
            row[col["host_cohost_mean"]] = float(np.mean(counts))
        if ns_of.get(name):
            row[col["dns_ns_shared_max"]] = max(len(domains_of_ns[ns]) - 1 for ns in ns_of[name])

        registrable = props.get("registrable") or name
        reg = export.domains.get(registrable, props)
        created, first = reg.get("created"), props.get("first")
        if created is not None:
            if first is not None:
                row[col["reg_age_days"]] = (first - created) / _DAY_MS
            if reg.get("expires") is not None:
                row[col["reg_length_days"]] = (reg["expires"] - created) / _DAY_MS
            if reg.get("updated") is not None:
                row[col["reg_update_gap_days"]] = (reg["updated"] - created) / _DAY_MS
        privacy = reg.get("privacy")
        if privacy is None and registrable in export.registrants:
            privacy = export.registrants[registrable][1]
        if privacy is not None:
            row[col["reg_privacy"]] = 1.0 if privacy else 0.0

        if wl is not None:
            hits = {h.category for h in wl.match_domain(name)}
            if registrable != name:
                hits |= {h.category for h in wl.match_domain(registrable)}
            for address in addrs:
                hits |= {h.category for h in wl.match_ip(address)} & _ADDRESS_CATEGORIES
            for category, feature in _WL_CATEGORY.items():
                row[col[feature]] = 1.0 if category in hits else 0.0

    for address in export.addresses:
        row = X[position[("IPAddress", address)]]
        row[col["is_ip"]] = 1.0
        node_asns[("IPAddress", address)] = frozenset(asn_of_addr.get(address, set()))
        ttls = ttls_of_addr.get(address, [])
        if ttls:
            row[col["dns_min_ttl"]] = min(ttls)
            row[col["dns_median_ttl"]] = _median(ttls)
        ptr = export.reverse.get(address)
        if ptr is not None:
            row[col["ip_ptr_dynamic"]] = 1.0 if _DYNAMIC_PTR.search(ptr) else 0.0
        if address in names_of:
            row[col["host_cohost_max"]] = len(names_of[address])
            row[col["host_cohost_mean"]] = len(names_of[address])
        if asn_of_addr.get(address):
            row[col["dns_distinct_asn"]] = len(asn_of_addr[address])
        if wl is not None:
            hits = {h.category for h in wl.match_ip(address)}
            for category, feature in _WL_CATEGORY.items():
                row[col[feature]] = 1.0 if category in hits else 0.0

    if progress:
        progress("base features")
    nxgraph = graphfeat.build_graph(export)
    degree, component = graphfeat.structural_features(nxgraph, keys)
    X[:, col["g_degree"]] = degree
    X[:, col["g_component_size"]] = component
    if progress:
        progress("graph structure")
    folds = graphfeat.assign_folds(keys, labels, n_folds, seed)
    label_cols = graphfeat.cross_fitted_label_features(
        export, nxgraph, keys, labels, folds, n_folds, node_asns
    )
    for name, values in label_cols.items():
        X[:, col[name]] = values
    if progress:
        progress("label features")
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
