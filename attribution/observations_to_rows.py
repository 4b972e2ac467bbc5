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

* Records that state a relationship go through the one DNS mapping
  (:meth:`attribution.rows.Rows.dns_record`), which passive DNS intake uses too. A/AAAA
  records become ``RESOLVES_TO`` from the record's owner name, which after a CNAME chain is the
  chain's end; the chain itself is the ``ALIAS_OF`` answer. The owner's ``min_ttl`` is the
  smallest address-record TTL.
* A DNS ``no_data`` that was an NXDOMAIN sets ``nxdomain`` on the name; a DNS answer sets it
  false. A *failed* DNS lookup sets nothing: a timeout is not evidence that a name is gone.
* A null MX (``0 .``) and targets that are not valid host names are skipped, not guessed at.
* Registration data lands on the registered domain (the registration source's subject), with
  ``REGISTERED_WITH`` a registrar (with its IANA id where the answer states it) and
  ``REGISTERED_BY`` a registrant, both keyed by the normalised name or organisation. The registry's delegation becomes ``NAME_SERVER`` as well, so a name
  that no longer resolves still shows where it was delegated.
* The RDAP network's registrant contact becomes the ``Organization`` (keyed by its handle).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import dns.exception
import dns.name
import dns.reversename

from attribution.identities import Identity, InvalidIdentity, canonical_domain, canonical_ip
from attribution.rows import Rows, Seen
from attribution.schema import DNS_RELATIONSHIP
from enrichment.failures import FailureKind, Outcome
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
class ObservationRows(Rows):
    """Rows for one load, the identities the answers point at, and observation counts."""

    discovered: list[Identity] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    # The members of ``discovered``, so that noting one more stays cheap in a large batch.
    _known: set[Identity] = field(default_factory=set, repr=False, compare=False)

    def _note(self, identity: Identity) -> None:
        if identity not in self._known:
            self._known.add(identity)
            self.discovered.append(identity)

    def discover(self, identity: Identity, subject: Identity) -> None:
        """Note an identity an answer about ``subject`` points at, for the worker to follow."""
        if identity != subject:
            self._note(identity)

    def extend(self, other: Rows) -> None:
        super().extend(other)
        if isinstance(other, ObservationRows):
            for identity in other.discovered:
                self._note(identity)
            self.kinds.update(other.kinds)


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


def _dns_record(out: ObservationRows, record: DnsRecord, subject: Identity) -> None:
    """A record that states a relationship (address, alias, server, reverse name)."""
    seen = Seen.at(record.provenance.retrieved_at)
    source = record.provenance.source
    props = {"ttl": record.ttl, "min_ttl": record.ttl}
    if record.rrtype == "PTR":
        owner = str(subject.value) if subject.kind == "ip" else _reverse_owner(record.name)
        if owner is not None:
            out.dns_record("PTR", owner, record.value, props, source, seen)
        return
    name = _domain(record.name)
    if name is None:
        return
    target = out.dns_record(record.rrtype, name, record.value, props, source, seen)
    if target is not None:
        out.discover(target, subject)


def _soa(out: ObservationRows, record: DnsRecord, name: str) -> None:
    parts = record.value.split()
    if len(parts) < 3:
        return
    props = {
        "soa_mname": _domain(parts[0]) or parts[0].rstrip("."),
        "soa_rname": _domain(parts[1]) or parts[1].rstrip("."),
        "soa_serial": int(parts[2]) if parts[2].isdigit() else None,
    }
    seen = Seen.at(record.provenance.retrieved_at)
    out.node(Identity("domain", name), props, record.provenance.source, seen)


def _dns_records(out: ObservationRows, records: list[DnsRecord], subject: Identity) -> None:
    txt: dict[str, list[str]] = {}
    txt_time: dict[str, datetime] = {}
    address_ttl: dict[str, int] = {}
    for record in records:
        if record.rrtype in DNS_RELATIONSHIP:
            _dns_record(out, record, subject)
        name = _domain(record.name)
        if name is None:
            continue
        if record.rrtype in ("A", "AAAA") and _address(record.value) is not None:
            address_ttl[name] = min(address_ttl.get(name, record.ttl), record.ttl)
        elif record.rrtype == "TXT":
            when = record.provenance.retrieved_at
            txt.setdefault(name, []).append(record.value)
            txt_time[name] = max(txt_time.get(name, when), when)
        elif record.rrtype == "SOA":
            _soa(out, record, name)
    for name, values in txt.items():
        out.node(Identity("domain", name), {"txt": values}, "dns", Seen.at(txt_time[name]))
    for name, ttl in address_ttl.items():
        when = max(r.provenance.retrieved_at for r in records)
        out.node(Identity("domain", name), {"min_ttl": ttl}, "dns", Seen.at(when))


def _asn(out: ObservationRows, origin: AsnOrigin) -> None:
    source = origin.provenance.source
    seen = Seen.at(origin.provenance.retrieved_at)
    address = canonical_ip(origin.address)
    out.node(Identity("ip", address), {}, source, seen)
    allocation = {
        "country": origin.country,
        "registry": origin.registry,
        "allocated": origin.allocated,
    }
    out.node(Identity("cidr", origin.prefix), allocation, source, seen)
    registration = {
        "name": origin.as_name,
        "country": origin.as_country,
        "registry": origin.as_registry,
        "allocated": origin.as_allocated,
    }
    # The AS's registration is dated by its own answer (an earlier one, from a cache).
    registered = Seen.at(origin.as_retrieved_at) if origin.as_retrieved_at else seen
    out.node(Identity("asn", origin.asn), registration, source, registered)
    out.rel("IN_PREFIX", address, origin.prefix, {}, source, seen)
    out.rel("ANNOUNCED_BY", origin.prefix, origin.asn, {}, source, seen)


def _network(out: ObservationRows, subject: Identity, network: IpNetwork) -> None:
    source = network.provenance.source
    seen = Seen.at(network.provenance.retrieved_at)
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
    out.entity("Network", network.handle, props, source, seen)
    out.node(subject, {}, source, seen)
    out.rel("IN_NETWORK", subject.value, network.handle, {}, source, seen)
    holder = network.registrant
    if holder is not None:
        out.entity("Organization", holder.handle, {"name": holder.name}, source, seen)
        out.rel("ALLOCATED_TO", network.handle, holder.handle, {}, source, seen)


def _registration(
    out: ObservationRows, subject: Identity, registration: DomainRegistration
) -> None:
    source = registration.provenance.source
    seen = Seen.at(registration.provenance.retrieved_at)
    domain = _domain(registration.domain)
    if domain is None:
        return
    facts = {
        "created": registration.created,
        "updated": registration.updated,
        "expires": registration.expires,
        "statuses": list(registration.statuses),
        "parse_notes": list(registration.notes),
        "privacy_proxy": registration.privacy_protected,
    }
    out.node(Identity("domain", domain), facts, source, seen)
    if registration.registrar:
        key = normalised_name(registration.registrar)
        registrar = {"name": registration.registrar}
        if registration.registrar_iana_id:
            registrar["iana_id"] = registration.registrar_iana_id
        out.entity("Registrar", key, registrar, source, seen)
        out.rel("REGISTERED_WITH", domain, key, {}, source, seen)
    holder = registration.registrant_organization or registration.registrant_name
    if holder:
        key = normalised_name(holder)
        props = {"name": holder, "privacy_proxy": registration.privacy_protected}
        out.entity("Registrant", key, props, source, seen)
        out.rel("REGISTERED_BY", domain, key, {}, source, seen)
    for server in registration.nameservers:
        target = _domain(server)
        if target is None:
            continue
        out.node(Identity("domain", target), {}, source, seen)
        out.rel("NAME_SERVER", domain, target, {}, source, seen)
        out.discover(Identity("domain", target), subject)


def registration_rows(subject: Identity, registration: DomainRegistration) -> ObservationRows:
    """A domain's registration as writer rows: the one mapping from a registration to facts,
    whether it came from enrichment or from a raw RDAP answer given to ``attribution ingest``."""
    out = ObservationRows()
    _registration(out, subject, registration)
    return out


def rows_for_results(
    subject: Identity, results: EnrichmentResults, now: datetime
) -> ObservationRows:
    """Every observation of ``results`` as writer rows, plus what they point at.

    ``subject`` is the indicator that was enriched; ``now`` stamps the facts that come from an
    outcome rather than an observation (a name's NXDOMAIN).
    """
    out = ObservationRows()
    records: list[DnsRecord] = []
    for result in results.results:
        for observation in result.observations:
            out.kinds[observation_kind(observation)] += 1
            if isinstance(observation, DnsRecord):
                records.append(observation)
            elif isinstance(observation, AsnOrigin):
                _asn(out, observation)
            elif isinstance(observation, IpNetwork):
                _network(out, subject, observation)
            elif isinstance(observation, DomainRegistration):
                _registration(out, subject, observation)
        if subject.kind == "domain" and result.source == "dns":
            if result.outcome is Outcome.OK:
                out.node(subject, {"nxdomain": False}, "dns", Seen.at(now))
            elif result.outcome is Outcome.NO_DATA and (result.reason or "").startswith("NXDOMAIN"):
                out.node(subject, {"nxdomain": True}, "dns", Seen.at(now))
    if records:
        _dns_records(out, records, subject)
    return out


def enrichment_state(results: EnrichmentResults) -> tuple[str, list[str]]:
    """The indicator's state after a run, and its failures as ``source: reason``.

    ``deferred`` when any source waits for a registry's spent daily quota (whatever else
    happened: the node is run again when the quota resets, see :func:`deferred_until`),
    else ``done`` when every source answered (a "no data" answer is an answer), ``failed``
    when every source failed, ``partial`` when some answered and some failed.
    """
    failures = [
        f"{r.source}: {r.reason or r.failure_kind or 'failed'}"
        for r in results.results
        if r.outcome is Outcome.FAILED
    ]
    if any(r.failure_kind is FailureKind.DEFERRED for r in results.results):
        return "deferred", failures
    if not failures:
        return "done", failures
    every_failed = len(failures) == len(results.results)
    return ("failed" if every_failed else "partial"), failures


def needs_retry(results: EnrichmentResults) -> bool:
    """Whether a source failed transiently, so the node is tried again after a backoff.

    A source that failed with an error (an answer we cannot use) waits for the next stale
    re-run instead: asking again soon rarely changes such an answer.
    """
    return any(
        r.outcome is Outcome.FAILED and r.failure_kind is FailureKind.TRANSIENT
        for r in results.results
    )


def deferred_until(results: EnrichmentResults) -> datetime | None:
    """When the last spent quota among the deferred sources resets (UTC); None when no source
    was deferred."""
    times = [
        r.deferred_until
        for r in results.results
        if r.failure_kind is FailureKind.DEFERRED and r.deferred_until is not None
    ]
    return max(times, default=None)
