"""Typed observations returned by the enrichment sources, and the per-source result wrapper.

Every observation carries its :class:`Provenance`: which source produced it, which server
answered, and when (UTC). The graph writer turns these into node and relationship properties,
and the confidence report cites them, so a fact without provenance cannot exist here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from enrichment.failures import FailureKind, Outcome, QuotaExhausted


@dataclass(frozen=True)
class Provenance:
    """Where and when a fact was retrieved.

    ``server`` is the endpoint that answered: ``host:port`` for DNS and WHOIS, the request URL
    for RDAP. ``retrieved_at`` is timezone-aware UTC.
    """

    source: str
    server: str
    retrieved_at: dt.datetime


@dataclass(frozen=True)
class DnsRecord:
    """One resource record from a DNS answer, in presentation format, with its TTL."""

    name: str
    rrtype: str
    value: str
    ttl: int
    provenance: Provenance


@dataclass(frozen=True)
class AsnOrigin:
    """The origin AS of the BGP prefix covering an address, as Team Cymru reports it.

    ``country``, ``registry`` and ``allocated`` describe the address allocation that covers the
    prefix; ``as_name``, ``as_country``, ``as_registry`` and ``as_allocated`` describe the AS
    number's own registration, and are ``None`` when that lookup gave nothing;
    ``as_retrieved_at`` is when that registration was retrieved (earlier than the origin's
    provenance when it came from a cache), ``None`` when the origin's provenance says it.
    """

    address: str
    asn: int
    prefix: str
    country: str | None
    registry: str
    allocated: dt.date | None
    as_name: str | None
    provenance: Provenance
    as_country: str | None = None
    as_registry: str | None = None
    as_allocated: dt.date | None = None
    as_retrieved_at: dt.datetime | None = None


@dataclass(frozen=True)
class RdapContact:
    """An RDAP entity reduced to what attribution needs: who it is and how to reach it."""

    handle: str
    roles: tuple[str, ...]
    name: str | None
    kind: str | None
    emails: tuple[str, ...]


@dataclass(frozen=True)
class IpNetwork:
    """An RIR's registration of the network that contains an address (RDAP "ip network").

    ``cidrs`` covers ``start_address``..``end_address`` exactly. ``registrant`` is the entity with
    the registrant role (the organisation holding the range), ``abuse`` the first entity with the
    abuse role at any nesting depth.
    """

    handle: str
    name: str | None
    cidrs: tuple[str, ...]
    start_address: str
    end_address: str
    ip_version: str | None
    country: str | None
    registry: str | None
    parent_handle: str | None
    registered: dt.datetime | None
    last_changed: dt.datetime | None
    registrant: RdapContact | None
    abuse: RdapContact | None
    contacts: tuple[RdapContact, ...]
    provenance: Provenance


@dataclass(frozen=True)
class DomainRegistration:
    """Registration data for a registered domain, from RDAP or port-43 WHOIS.

    ``privacy_signs`` lists why the registrant looks hidden (RFC 9537 redactions, "REDACTED FOR
    PRIVACY" names, a known privacy or proxy service); empty when nothing suggests it.
    """

    domain: str
    registrar: str | None
    created: dt.datetime | None
    updated: dt.datetime | None
    expires: dt.datetime | None
    statuses: tuple[str, ...]
    nameservers: tuple[str, ...]
    registrant_name: str | None
    registrant_organization: str | None
    privacy_signs: tuple[str, ...]
    protocol: str
    provenance: Provenance
    registrar_iana_id: str | None = None
    """The registrar's IANA id, where the answer states it (RDAP ``publicIds``, WHOIS
    ``Registrar IANA ID``)."""
    notes: tuple[str, ...] = ()
    """What the parser could not read and left missing, one line each (``"registration:
    unreadable date '28.06.2004'"``); never a guessed value in its place."""

    @property
    def privacy_protected(self) -> bool:
        """Whether any sign suggests the registrant is hidden behind privacy or a proxy."""
        return bool(self.privacy_signs)


Observation = DnsRecord | AsnOrigin | IpNetwork | DomainRegistration


@dataclass(frozen=True)
class SourceResult:
    """The outcome of one source for one subject.

    ``observations`` may be non-empty even when ``outcome`` is ``failed``: a DNS lookup whose MX
    query timed out still returns the A records it got, but the absence of MX is then unknown.
    ``reason`` and ``failure_kind`` are set exactly when ``outcome`` is not ``ok``
    (``failure_kind`` only for ``failed``). ``attempts`` counts requests including retries.
    A lookup whose registry's daily quota was spent is ``failed`` with kind ``deferred`` and
    ``deferred_until`` (UTC) the time the quota resets: it is no failure of the subject.
    """

    source: str
    subject: str
    outcome: Outcome
    observations: tuple[Observation, ...] = ()
    reason: str | None = None
    failure_kind: FailureKind | None = None
    attempts: int = 0
    deferred_until: dt.datetime | None = None


@dataclass(frozen=True)
class EnrichmentResults:
    """All source results for one subject (a domain name or an address)."""

    subject: str
    results: tuple[SourceResult, ...]

    def by_source(self, source: str) -> SourceResult:
        """Return the result of the named source; KeyError when that source did not run."""
        for result in self.results:
            if result.source == source:
                return result
        raise KeyError(source)

    @property
    def observations(self) -> tuple[Observation, ...]:
        """Every observation from every source, in source order."""
        return tuple(obs for result in self.results for obs in result.observations)


def result_from_error(
    source: str,
    subject: str,
    error: Exception,
    observations: tuple[Observation, ...] = (),
) -> SourceResult:
    """The :class:`SourceResult` for a classified failure (``no_data`` or ``failed``)."""
    # Imported here: failures must stay importable without observations.
    from enrichment.failures import NoDataError, QuotaExhausted, SourceError, failure_kind

    if not isinstance(error, SourceError):
        raise TypeError(f"unclassified error {error!r}") from error
    if isinstance(error, NoDataError):
        return SourceResult(
            source, subject, Outcome.NO_DATA, observations, error.reason, None, error.attempts
        )
    return SourceResult(
        source,
        subject,
        Outcome.FAILED,
        observations,
        error.reason,
        failure_kind(error),
        error.attempts,
        resume_time(error) if isinstance(error, QuotaExhausted) else None,
    )


def resume_time(error: QuotaExhausted) -> dt.datetime:
    """When a spent quota resets, as a UTC datetime."""
    return dt.datetime.fromtimestamp(error.resume_at, dt.UTC)
