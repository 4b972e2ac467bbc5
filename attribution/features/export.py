"""The read-only export of the graph that the features are computed from.

:func:`export_graph` runs a handful of parameter-free, read-only Cypher statements (each in a
read transaction tagged ``features.<name>``) and returns a :class:`GraphExport`: the facts as
plain Python data, times in epoch milliseconds. :mod:`attribution.features.extract` (the feature
columns) and :mod:`attribution.features.graphfeat` (graph structure and label features) both
read it; neither reads the graph itself.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from attribution.db import Graph
from attribution.labels import NodeKey

__all__ = ["EXPORT_STATEMENTS", "GraphExport", "export_graph", "net_of"]


def net_of(address: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) network of an address, the unit of "distinct networks"."""
    ip = ipaddress.ip_address(address)
    length = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{length}", strict=False))


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


EXPORT_STATEMENTS: dict[str, str] = {
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
        return graph.read(
            EXPORT_STATEMENTS[name], timeout=timeout, metadata={"query": f"features.{name}"}
        )

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
