"""The read-only export of the graph that the features are computed from.

:func:`export_graph` runs a handful of parameter-free, read-only Cypher statements (each in a
read transaction tagged ``features.<name>``) and returns a :class:`GraphExport`: the facts as
plain Python data, times in epoch milliseconds. :mod:`attribution.features.extract` (the feature
columns) and :mod:`attribution.features.graphfeat` (graph structure and label features) both
read it; neither reads the graph itself.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

from attribution.db import Graph
from attribution.labels import NodeKey

__all__ = [
    "ADDRESS_COLUMNS",
    "ADDRESS_LISTS",
    "DOMAIN_COLUMNS",
    "DOMAIN_LISTS",
    "EXPORT_STATEMENTS",
    "GraphExport",
    "export_graph",
    "net_of",
    "prefix_rows",
]


def net_of(address: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) network of an address, the unit of "distinct networks".

    A dotted-quad IPv4 address takes the C library's strict parser (no leading zeros, octets
    up to 255, as :mod:`ipaddress`), about fifty times cheaper than building an
    ``ip_network``: scoring asks for every address's network. Anything else goes through
    :mod:`ipaddress`, which raises ``ValueError`` for what is not an address.
    """
    try:
        packed = socket.inet_pton(socket.AF_INET, address)
    except OSError:
        pass  # IPv6, or not an address: ipaddress decides below
    else:
        return socket.inet_ntop(socket.AF_INET, packed[:3] + b"\0") + "/24"
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


DOMAIN_LISTS = ("resolves", "aliases", "name_servers", "mail_servers", "registrars", "registrants")
"""The relationship lists of a ``domains`` row: ``resolves`` ``[address, ttl]`` pairs,
``registrants`` ``[key, privacy_proxy]`` pairs, names or keys in the others."""

ADDRESS_LISTS = ("reverse", "prefixes")
"""The relationship lists of an ``addresses`` row: ``reverse`` names, ``prefixes``
``[cidr, [origin AS, ...]]`` pairs."""

DOMAIN_COLUMNS = (
    "name", "registrable", "first", "last", "created", "updated", "expires", "privacy",
    "nxdomain", *DOMAIN_LISTS,
)  # fmt: skip
"""The ``domains`` statement's columns, in order: the streamed reader takes a record's values
by position (a lookup by name costs the driver more than the rest of the row)."""

ADDRESS_COLUMNS = ("address", "first", "last", *ADDRESS_LISTS)
"""The ``addresses`` statement's columns, in order."""

# One row per node, its relationships as lists: the driver's cost is per record (about 18 us),
# so a domain with its addresses, name servers and registrar in one record reads several
# times faster than one record per relationship.
EXPORT_STATEMENTS: dict[str, str] = {
    "domains": """
        MATCH (d:Domain)
        RETURN d.name AS name, d.registrable AS registrable, d.first_seen.epochMillis AS first,
               d.last_seen.epochMillis AS last, d.created.epochMillis AS created,
               d.updated.epochMillis AS updated, d.expires.epochMillis AS expires,
               d.privacy_proxy AS privacy, d.nxdomain AS nxdomain,
               [(d)-[r:RESOLVES_TO]->(i:IPAddress) | [i.address, coalesce(r.min_ttl, r.ttl)]]
                   AS resolves,
               [(d)-[:ALIAS_OF]->(t:Domain) | t.name] AS aliases,
               [(d)-[:NAME_SERVER]->(n:Domain) | n.name] AS name_servers,
               [(d)-[:MAIL_SERVER]->(m:Domain) | m.name] AS mail_servers,
               [(d)-[:REGISTERED_WITH]->(r:Registrar) | r.key] AS registrars,
               [(d)-[:REGISTERED_BY]->(r:Registrant) | [r.key, r.privacy_proxy]] AS registrants""",
    "addresses": """
        MATCH (i:IPAddress)
        RETURN i.address AS address, i.first_seen.epochMillis AS first,
               i.last_seen.epochMillis AS last,
               [(i)-[:REVERSE_NAME]->(d:Domain) | d.name] AS reverse,
               [(i)-[:IN_PREFIX]->(p:Prefix) |
                   [p.cidr, [(p)-[:ANNOUNCED_BY]->(a:AutonomousSystem) | a.asn]]] AS prefixes""",
    "incidents": """
        MATCH (d:Domain) WHERE EXISTS { (d)-[:REPORTED_IN]->(:IncidentReport) }
        RETURN 'Domain' AS label, d.name AS key
        UNION ALL
        MATCH (i:IPAddress) WHERE EXISTS { (i)-[:IP_REPORTED_IN]->(:IncidentReport) }
        RETURN 'IPAddress' AS label, i.address AS key""",
}


def prefix_rows(prefixes: list[list[Any]]) -> list[tuple[str, int | None]]:
    """An address's ``(prefix, origin AS)`` pairs from its ``prefixes`` list: one per origin
    AS, and ``(prefix, None)`` for a prefix announced by none."""
    return [(cidr, asn) for cidr, asns in prefixes for asn in (asns or [None])]


def export_graph(graph: Graph, *, timeout: float | None = None) -> GraphExport:
    """Read the facts behind the features, read-only (each statement tagged ``features.*``)."""

    def read(name: str) -> list[dict[str, Any]]:
        return graph.read(
            EXPORT_STATEMENTS[name], timeout=timeout, metadata={"query": f"features.{name}"}
        )

    out = GraphExport()
    for row in read("domains"):
        _add_domain(out, row)
    for row in read("addresses"):
        _add_address(out, row)
    out.incidents = {(row["label"], row["key"]) for row in read("incidents")}
    return out


def _add_domain(out: GraphExport, row: dict[str, Any]) -> None:
    """A ``domains`` row: the domain's own properties and its relationships."""
    name = row["name"]
    lists = {key: row.pop(key) for key in DOMAIN_LISTS}
    out.domains[name] = row
    out.resolves += [(name, address, ttl) for address, ttl in lists["resolves"]]
    out.aliases += [(name, target) for target in lists["aliases"]]
    out.name_servers += [(name, server) for server in lists["name_servers"]]
    out.mail_servers += [(name, server) for server in lists["mail_servers"]]
    if lists["registrars"]:
        out.registrars[name] = min(lists["registrars"])  # several: the smallest, for stability
    if lists["registrants"]:
        key, privacy = min(lists["registrants"], key=lambda pair: pair[0])
        out.registrants[name] = (key, privacy)


def _add_address(out: GraphExport, row: dict[str, Any]) -> None:
    """An ``addresses`` row: the address's own properties and its relationships."""
    address = row["address"]
    lists = {key: row.pop(key) for key in ADDRESS_LISTS}
    out.addresses[address] = row
    if lists["reverse"]:
        out.reverse[address] = min(lists["reverse"])  # several over time: the smallest
    if lists["prefixes"]:
        out.prefixes[address] = prefix_rows(lists["prefixes"])
