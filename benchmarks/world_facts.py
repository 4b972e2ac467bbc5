"""Load a generated sandbox world's files straight into the graph, without the enrichment worker.

For the classifier benchmark, which should not wait for network enrichment: DNS zones
(address, CNAME, NS, MX and PTR records), the Team Cymru origin zones (prefix and origin AS
of every address), domain RDAP and WHOIS registration data, incident reports (through the
normal ingest path), and the feed and allowlist as labels. Every fact is stamped with the
world's reference time. ``labels/truth.csv`` is not loaded: it is for evaluation only.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import dns.rdatatype
import dns.reversename
import dns.zone

from attribution.db import Graph
from attribution.identities import InvalidIdentity, canonical_domain, canonical_ip
from attribution.identities import registrable_domain as registrable_of
from attribution.ingest import ingest_paths
from attribution.labels import import_label_file
from attribution.writer import GraphWriter, NodeRow, RelRow
from enrichment.domain_registration import parse_whois_domain, transform_rdap_domain

__all__ = ["load_world_facts"]

SOURCE = "world"

Prefixes = dict[tuple[int, int], dict[int, tuple[str, int]]]
"""(IP version, prefix length) -> network address as an integer -> (prefix, origin AS)."""


@dataclass
class _WorldRows:
    """The rows of one world, every one stamped with the world's reference time."""

    at: datetime
    nodes: list[NodeRow] = field(default_factory=list)
    rels: list[RelRow] = field(default_factory=list)
    addresses: set[str] = field(default_factory=set)

    def node(self, label: str, key: Any, props: dict[str, Any] | None = None) -> None:
        self.nodes.append(NodeRow(label, key, props or {}, SOURCE, self.at, self.at, self.at))

    def rel(self, kind: str, start: Any, end: Any, props: dict[str, Any] | None = None) -> None:
        at = self.at
        self.rels.append(RelRow(kind, start, end, props or {}, SOURCE, at, at, at))

    def domain(self, name: str) -> str | None:
        """The canonical name, with its node (and SUBDOMAIN_OF); None when it is no name."""
        try:
            canonical = canonical_domain(name)
        except InvalidIdentity:
            return None
        try:
            registrable = registrable_of(canonical)
        except InvalidIdentity:
            registrable = None
        self.node("Domain", canonical, {"registrable": registrable})
        if registrable and registrable != canonical:
            self.rel("SUBDOMAIN_OF", canonical, registrable)
        return canonical


def _cymru_prefixes(zone: Any, prefixes: Prefixes) -> None:
    for _, _, txt in zone.iterate_rdatas(dns.rdatatype.TXT):
        strings: Any = txt
        asn_text, prefix, *_ = (b"".join(strings.strings).decode()).split("|")
        network = ipaddress.ip_network(prefix.strip(), strict=False)
        bucket = prefixes.setdefault((network.version, network.prefixlen), {})
        bucket[int(network.network_address)] = (str(network), int(asn_text.split()[0]))


def _reverse_record(rows: _WorldRows, owner: Any, ttl: int, rdata: Any) -> None:
    if rdata.rdtype != dns.rdatatype.PTR:
        return
    address = dns.reversename.to_address(owner)
    target = rows.domain(rdata.target.to_text(omit_final_dot=True))
    if target:
        rows.addresses.add(canonical_ip(address))
        rows.rel("REVERSE_NAME", canonical_ip(address), target, {"ttl": ttl, "min_ttl": ttl})


def _forward_record(rows: _WorldRows, name: str, ttl: int, rdata: Any) -> None:
    rtype = rdata.rdtype
    timing = {"ttl": ttl, "min_ttl": ttl}
    if rtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        owner_name = rows.domain(name)
        address = canonical_ip(rdata.address)
        rows.addresses.add(address)
        if owner_name:
            props = {"rtype": dns.rdatatype.to_text(rtype), **timing}
            rows.rel("RESOLVES_TO", owner_name, address, props)
    elif rtype in (dns.rdatatype.CNAME, dns.rdatatype.NS):
        a, b = rows.domain(name), rows.domain(rdata.target.to_text(omit_final_dot=True))
        if a and b:
            rows.rel("ALIAS_OF" if rtype == dns.rdatatype.CNAME else "NAME_SERVER", a, b, timing)
    elif rtype == dns.rdatatype.MX:
        a = rows.domain(name)
        exchange = rdata.exchange
        b = rows.domain(exchange.to_text(omit_final_dot=True)) if len(exchange) > 1 else None
        if a and b:
            rows.rel("MAIL_SERVER", a, b, {"preference": rdata.preference, **timing})


def _zone_facts(rows: _WorldRows, zones: Path) -> Prefixes:
    """Records of every zone file as rows; the Cymru origin zones as the prefix table."""
    prefixes: Prefixes = {}
    for path in sorted(zones.glob("*.zone")):
        zone = dns.zone.from_file(str(path), relativize=False, check_origin=False)
        if path.name.startswith(("origin.asn.cymru", "origin6.asn.cymru")):
            _cymru_prefixes(zone, prefixes)
            continue
        if path.name.endswith(".cymru.com.zone"):
            continue
        reverse = path.name.endswith(".arpa.zone")
        for owner, ttl, record in zone.iterate_rdatas():
            if reverse:
                _reverse_record(rows, owner, ttl, record)
            else:
                _forward_record(rows, owner.to_text(omit_final_dot=True), ttl, record)
    return prefixes


def _address_facts(rows: _WorldRows, prefixes: Prefixes) -> None:
    """Every address seen, in its longest announced prefix and that prefix's origin AS."""
    lengths = sorted(prefixes, key=lambda k: -k[1])
    for address in sorted(rows.addresses):
        ip = ipaddress.ip_address(address)
        rows.node("IPAddress", address, {"version": ip.version})
        for version, length in lengths:
            if version != ip.version:
                continue
            width = ip.max_prefixlen
            masked = int(ip) >> (width - length) << (width - length)
            hit = prefixes[(version, length)].get(masked)
            if hit is not None:
                rows.node("Prefix", hit[0], {"version": version})
                rows.node("AutonomousSystem", hit[1])
                rows.rel("IN_PREFIX", address, hit[0])
                rows.rel("ANNOUNCED_BY", hit[0], hit[1])
                break


def _registrations(world: Path, at: datetime) -> list[Any]:
    """The world's domain registrations, from its RDAP answers and then its WHOIS texts."""
    found = []
    for path in sorted((world / "rdap" / "domain").glob("*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        found.append(transform_rdap_domain(path.stem, payload, f"file:{path.name}", at))
    whois_dir = world / "whois" / "domain"
    for path in sorted(whois_dir.glob("*.txt")) if whois_dir.is_dir() else []:
        parsed = parse_whois_domain(path.stem, path.read_text(encoding="utf-8"), "file", at)
        if parsed is not None:
            found.append(parsed)
    return found


def _registration_facts(rows: _WorldRows, reg: Any) -> None:
    name = rows.domain(reg.domain)
    if name is None:
        return
    rows.node(
        "Domain",
        name,
        {
            "created": reg.created,
            "updated": reg.updated,
            "expires": reg.expires,
            "statuses": list(reg.statuses) or None,
            "privacy_proxy": reg.privacy_protected,
        },
    )
    if reg.registrar:
        key = " ".join(reg.registrar.lower().split())
        rows.node("Registrar", key, {"name": reg.registrar})
        rows.rel("REGISTERED_WITH", name, key)
    holder = reg.registrant_organization or reg.registrant_name
    if holder:
        key = " ".join(holder.lower().split())
        rows.node("Registrant", key, {"name": holder, "privacy_proxy": reg.privacy_protected})
        rows.rel("REGISTERED_BY", name, key)


def load_world_facts(graph: Graph, world_dir: Path) -> dict[str, int]:
    """Load the world in ``world_dir`` into ``graph``; return what was loaded."""
    world = Path(world_dir)
    meta = json.loads((world / "world.json").read_text(encoding="utf-8"))
    at = datetime.fromisoformat(meta["reference_time"].replace("Z", "+00:00"))
    rows = _WorldRows(at)
    prefixes = _zone_facts(rows, world / "dns" / "zones")
    _address_facts(rows, prefixes)
    registrations = _registrations(world, at)
    for reg in registrations:
        _registration_facts(rows, reg)
    stats = GraphWriter(graph).load(nodes=rows.nodes, rels=rows.rels)
    incidents = sorted((world / "incidents").glob("*.json"))
    if incidents:
        ingest_paths(graph, incidents)
    feed = import_label_file(graph, world / "labels" / "feed-malicious.csv", "feed", at=at)
    allow = import_label_file(graph, world / "labels" / "allowlist.txt", "allowlist", at=at)
    return {
        "node_rows": stats.node_rows,
        "rel_rows": stats.rel_rows,
        "registrations": len(registrations),
        "incident_reports": len(incidents),
        "feed_labels": feed.written,
        "allowlist_labels": allow.written,
    }
