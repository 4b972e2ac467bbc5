"""Typed enrichment results become writer rows: the *transform* step of the worker.

Pure functions only: an :class:`~enrichment.observations.EnrichmentResults` goes in, node and
relationship rows for :class:`~attribution.writer.GraphWriter` come out, together with the
names and addresses the answers point at (for the worker to follow) and the indicator's new
enrichment state. Nothing here talks to the graph or the network, so recorded answers drive
the unit tests.

Each row carries the provenance of the observation it came from: the source name the
enrichment package gave it (``dns``, ``asn_cymru_dns``, ``ip_rdap``, ``rdap``, ...) and its
retrieval time as first seen, last seen and retrieved at.

Mapping decisions:

* A/AAAA records become ``RESOLVES_TO`` from the record's owner name, which after a CNAME chain
  is the chain's end; the chain itself is the ``ALIAS_OF`` answer. The owner's ``min_ttl`` is
  the smallest address-record TTL.
* A DNS ``no_data`` that was an NXDOMAIN sets ``nxdomain`` on the name; a DNS answer sets it
  false. A *failed* DNS lookup sets nothing: a timeout is not evidence that a name is gone.
* A null MX (``0 .``) and targets that are not valid host names are skipped, not guessed at.
* Registration data lands on the registered domain (the registration source's subject), with
  ``REGISTERED_WITH`` a registrar and ``REGISTERED_BY`` a registrant keyed by the normalised
  organisation or name. The registry's delegation becomes ``NAME_SERVER`` as well, so a name
  that no longer resolves still shows where it was delegated.
* The RDAP network's registrant contact becomes the ``Organization`` (keyed by its handle).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dns.exception
import dns.name
import dns.reversename

from attribution.identities import Identity, InvalidIdentity, canonical_domain, canonical_ip
from attribution.ingest import Rows
from attribution.writer import NodeRow, RelRow
from enrichment.failures import Outcome
from enrichment.observations import (
    AsnOrigin,
    DnsRecord,
    DomainRegistration,
    EnrichmentResults,
    IpNetwork,
    Observation,
)

_SPACES = re.compile(r"\s+")


@dataclass
class ObservationRows:
    """Rows for one load, the identities the answers point at, and observation counts."""

    nodes: list[NodeRow] = field(default_factory=list)
    rels: list[RelRow] = field(default_factory=list)
    discovered: list[Identity] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)

    def extend(self, other: ObservationRows) -> None:
        self.nodes.extend(other.nodes)
        self.rels.extend(other.rels)
        for identity in other.discovered:
            if identity not in self.discovered:
                self.discovered.append(identity)
        self.kinds.update(other.kinds)


class _Collector:
    """Shares one node and one relationship list between :class:`Rows` of different times."""

    def __init__(self) -> None:
        self.out = ObservationRows()

    def at(self, when: datetime) -> Rows:
        rows = Rows(when)
        rows.nodes = self.out.nodes
        rows.rels = self.out.rels
        return rows

    def discover(self, identity: Identity, subject: Identity) -> None:
        if identity != subject and identity not in self.out.discovered:
            self.out.discovered.append(identity)


def normalised_name(text: str) -> str:
    """A key for organisations, registrars and registrants: case-folded, spaces collapsed."""
    return _SPACES.sub(" ", text).strip().casefold()


def _domain(text: str) -> str | None:
    try:
        return canonical_domain(text)
    except InvalidIdentity:
        return None


def _address(text: str) -> str | None:
    try:
        return canonical_ip(text)
    except InvalidIdentity:
        return None


def _reverse_owner(name: str) -> str | None:
    """The address an ``in-addr.arpa`` / ``ip6.arpa`` owner name stands for."""
    try:
        return canonical_ip(dns.reversename.to_address(dns.name.from_text(name)))
    except (dns.exception.DNSException, InvalidIdentity, ValueError):
        return None


def observation_kind(observation: Observation) -> str:
    """A short name for counting observations: ``dns:A``, ``asn``, ``ip_network``, ..."""
    if isinstance(observation, DnsRecord):
        return f"dns:{observation.rrtype}"
    if isinstance(observation, AsnOrigin):
        return "asn"
    if isinstance(observation, IpNetwork):
        return "ip_network"
    return "domain_registration"


def _dns_records(collector: _Collector, records: list[DnsRecord], subject: Identity) -> None:
    txt: dict[str, list[str]] = {}
    txt_time: dict[str, datetime] = {}
    address_ttl: dict[str, int] = {}
    for record in records:
        when = record.provenance.retrieved_at
        source = record.provenance.source
        rows = collector.at(when)
        dns_props: dict[str, Any] = {"ttl": record.ttl, "min_ttl": record.ttl}
        if record.rrtype == "PTR":
            target = _domain(record.value)
            owner = str(subject.value) if subject.kind == "ip" else _reverse_owner(record.name)
            if target is None or owner is None:
                continue
            rows.node(Identity("ip", owner), {}, source)
            rows.node(Identity("domain", target), {}, source)
            rows.rel("REVERSE_NAME", owner, target, dns_props, source)
            continue
        name = _domain(record.name)
        if name is None:
            continue
        if record.rrtype in ("A", "AAAA"):
            address = _address(record.value)
            if address is None:
                continue
            rows.node(Identity("domain", name), {}, source)
            rows.node(Identity("ip", address), {}, source)
            rows.rel("RESOLVES_TO", name, address, {"rtype": record.rrtype, **dns_props}, source)
            address_ttl[name] = min(address_ttl.get(name, record.ttl), record.ttl)
            collector.discover(Identity("ip", address), subject)
        elif record.rrtype in ("CNAME", "NS", "MX"):
            value = record.value
            props = dict(dns_props)
            if record.rrtype == "MX":
                preference, _, value = value.partition(" ")
                props["preference"] = int(preference) if preference.isdigit() else None
            target = _domain(value.strip())
            if target is None:
                continue
            rel_type = {"CNAME": "ALIAS_OF", "NS": "NAME_SERVER", "MX": "MAIL_SERVER"}
            rows.node(Identity("domain", name), {}, source)
            rows.node(Identity("domain", target), {}, source)
            rows.rel(rel_type[record.rrtype], name, target, props, source)
            collector.discover(Identity("domain", target), subject)
        elif record.rrtype == "TXT":
            txt.setdefault(name, []).append(record.value)
            txt_time[name] = max(txt_time.get(name, when), when)
        elif record.rrtype == "SOA":
            parts = record.value.split()
            if len(parts) < 3:
                continue
            props = {
                "soa_mname": _domain(parts[0]) or parts[0].rstrip("."),
                "soa_rname": _domain(parts[1]) or parts[1].rstrip("."),
                "soa_serial": int(parts[2]) if parts[2].isdigit() else None,
            }
            rows.node(Identity("domain", name), props, source)
    for name, values in txt.items():
        collector.at(txt_time[name]).node(Identity("domain", name), {"txt": values}, "dns")
    for name, ttl in address_ttl.items():
        when = max(r.provenance.retrieved_at for r in records)
        collector.at(when).node(Identity("domain", name), {"min_ttl": ttl}, "dns")


def _asn(collector: _Collector, origin: AsnOrigin) -> None:
    source = origin.provenance.source
    rows = collector.at(origin.provenance.retrieved_at)
    address = canonical_ip(origin.address)
    rows.node(Identity("ip", address), {}, source)
    allocation = {
        "country": origin.country,
        "registry": origin.registry,
        "allocated": origin.allocated,
    }
    rows.node(Identity("cidr", origin.prefix), allocation, source)
    registration = {
        "name": origin.as_name,
        "country": origin.as_country,
        "registry": origin.as_registry,
        "allocated": origin.as_allocated,
    }
    rows.node(Identity("asn", origin.asn), registration, source)
    rows.rel("IN_PREFIX", address, origin.prefix, {}, source)
    rows.rel("ANNOUNCED_BY", origin.prefix, origin.asn, {}, source)


def _network(collector: _Collector, subject: Identity, network: IpNetwork) -> None:
    source = network.provenance.source
    when = network.provenance.retrieved_at
    rows = collector.at(when)
    props = {
        "name": network.name,
        "cidrs": list(network.cidrs),
        "start_address": network.start_address,
        "end_address": network.end_address,
        "country": network.country,
        "registry": network.registry,
        "registered": network.registered,
        "updated": network.last_changed,
        "abuse_email": network.abuse.emails[0] if network.abuse and network.abuse.emails else None,
    }
    rows.nodes.append(NodeRow("Network", network.handle, props, source, when, when, when))
    rows.node(subject, {}, source)
    rows.rel("IN_NETWORK", subject.value, network.handle, {}, source)
    holder = network.registrant
    if holder is not None:
        org = {"name": holder.name}
        rows.nodes.append(NodeRow("Organization", holder.handle, org, source, when, when, when))
        rows.rel("ALLOCATED_TO", network.handle, holder.handle, {}, source)


def _registration(
    collector: _Collector, subject: Identity, registration: DomainRegistration
) -> None:
    source = registration.provenance.source
    when = registration.provenance.retrieved_at
    rows = collector.at(when)
    domain = _domain(registration.domain)
    if domain is None:
        return
    rows.node(
        Identity("domain", domain),
        {
            "created": registration.created,
            "updated": registration.updated,
            "expires": registration.expires,
            "statuses": list(registration.statuses),
            "privacy_proxy": registration.privacy_protected,
        },
        source,
    )
    if registration.registrar:
        key = normalised_name(registration.registrar)
        rows.nodes.append(
            NodeRow("Registrar", key, {"name": registration.registrar}, source, when, when, when)
        )
        rows.rel("REGISTERED_WITH", domain, key, {}, source)
    holder = registration.registrant_organization or registration.registrant_name
    if holder:
        key = normalised_name(holder)
        props = {"name": holder, "privacy_proxy": registration.privacy_protected}
        rows.nodes.append(NodeRow("Registrant", key, props, source, when, when, when))
        rows.rel("REGISTERED_BY", domain, key, {}, source)
    for server in registration.nameservers:
        target = _domain(server)
        if target is None:
            continue
        rows.node(Identity("domain", target), {}, source)
        rows.rel("NAME_SERVER", domain, target, {}, source)
        collector.discover(Identity("domain", target), subject)


def registration_rows(subject: Identity, registration: DomainRegistration) -> ObservationRows:
    """A domain's registration as writer rows: the one mapping from a registration to facts,
    whether it came from enrichment or from a raw RDAP answer given to ``attribution ingest``."""
    collector = _Collector()
    _registration(collector, subject, registration)
    return collector.out


def rows_for_results(
    subject: Identity, results: EnrichmentResults, now: datetime
) -> ObservationRows:
    """Every observation of ``results`` as writer rows, plus what they point at.

    ``subject`` is the indicator that was enriched; ``now`` stamps the facts that come from an
    outcome rather than an observation (a name's NXDOMAIN).
    """
    collector = _Collector()
    records: list[DnsRecord] = []
    for result in results.results:
        for observation in result.observations:
            collector.out.kinds[observation_kind(observation)] += 1
            if isinstance(observation, DnsRecord):
                records.append(observation)
            elif isinstance(observation, AsnOrigin):
                _asn(collector, observation)
            elif isinstance(observation, IpNetwork):
                _network(collector, subject, observation)
            elif isinstance(observation, DomainRegistration):
                _registration(collector, subject, observation)
        if subject.kind == "domain" and result.source == "dns":
            if result.outcome is Outcome.OK:
                collector.at(now).node(subject, {"nxdomain": False}, "dns")
            elif result.outcome is Outcome.NO_DATA and (result.reason or "").startswith("NXDOMAIN"):
                collector.at(now).node(subject, {"nxdomain": True}, "dns")
    if records:
        _dns_records(collector, records, subject)
    return collector.out


def enrichment_state(results: EnrichmentResults) -> tuple[str, list[str]]:
    """The indicator's state after a run, and its failures as ``source: reason``.

    ``failed`` only when every source failed; a source that answered "no data" answered.
    """
    failures = [
        f"{r.source}: {r.reason or r.failure_kind or 'failed'}"
        for r in results.results
        if r.outcome is Outcome.FAILED
    ]
    every_failed = bool(results.results) and len(failures) == len(results.results)
    return ("failed" if every_failed else "done"), failures
