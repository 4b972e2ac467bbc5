"""The row builder: facts become writer rows here, each with the times it was seen.

Intake (:mod:`attribution.ingest`), enrichment's transform
(:mod:`attribution.observations_to_rows`) and labels (:mod:`attribution.labels`) all build the
rows they hand to :class:`~attribution.writer.GraphWriter` with :class:`Rows`. Nothing here
reads the clock: every fact gets the :class:`Seen` its caller gives it (first seen, last seen,
retrieved at), so a row's times are decided where the fact is known, once.

What a value implies comes with its node: a domain carries its registrable domain and public
suffix, and a name below its registrable domain gets that domain's node and ``SUBDOMAIN_OF``;
an address or CIDR carries its IP version. A DNS record becomes the relationship its type
states through :data:`attribution.schema.DNS_RELATIONSHIP`, whether it was answered to the
worker or sighted by passive DNS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from attribution.identities import (
    Identity,
    IdentityKind,
    InvalidIdentity,
    canonical_domain,
    canonical_ip,
    registrable_domain,
)
from attribution.schema import DNS_RELATIONSHIP, KIND_OF_LABEL, LABEL_OF_KIND, REL_BY_TYPE
from attribution.writer import NodeRow, RelRow

__all__ = ["Rows", "Seen"]


@dataclass(frozen=True)
class Seen:
    """When a fact was seen: first and last, and when the observation was retrieved."""

    first_seen: datetime
    last_seen: datetime
    retrieved_at: datetime

    def __post_init__(self) -> None:
        if self.last_seen < self.first_seen:
            raise ValueError(
                f"last seen {self.last_seen.isoformat()} is before first seen "
                f"{self.first_seen.isoformat()}"
            )

    @classmethod
    def at(cls, moment: datetime) -> Seen:
        """A fact seen once, at the moment it was retrieved."""
        return cls(moment, moment, moment)

    @classmethod
    def since(cls, first: datetime | None, now: datetime) -> Seen:
        """A fact seen from ``first`` (``now`` when unknown) until ``now``, retrieved ``now``.

        A ``first`` later than ``now`` (a feed's clock ahead of ours) is also the last sighting.
        """
        first = first or now
        return cls(first, max(now, first), now)


def _target(kind: str, text: str) -> str | None:
    """The canonical form of a record's data as a node key of ``kind``; None if it is none."""
    try:
        return canonical_ip(text) if kind == "ip" else canonical_domain(text)
    except InvalidIdentity:
        return None


@dataclass
class Rows:
    """Node and relationship rows collected for one load."""

    nodes: list[NodeRow] = field(default_factory=list)
    rels: list[RelRow] = field(default_factory=list)

    def entity(
        self, label: str, key: Any, props: Mapping[str, Any], source: str, seen: Seen
    ) -> None:
        """A node that is not an identity (a network, registrar, report, label source)."""
        self.nodes.append(
            NodeRow(
                label, key, dict(props), source, seen.first_seen, seen.last_seen, seen.retrieved_at
            )
        )

    def node(self, identity: Identity, props: Mapping[str, Any], source: str, seen: Seen) -> None:
        """An identity's node, with what its value implies (see the module docstring)."""
        implied = dict(props)
        value = identity.value
        if identity.kind == "domain":
            registrable = registrable_domain(str(value))
            implied.setdefault("registrable", registrable)
            implied.setdefault("tld", str(value).rsplit(".", 1)[-1])
            if registrable and registrable != value:
                self.entity("Domain", registrable, {"registrable": registrable}, source, seen)
                self.rel("SUBDOMAIN_OF", value, registrable, {}, source, seen)
        elif identity.kind in ("ip", "cidr"):
            implied.setdefault("version", 6 if ":" in str(value) else 4)
        self.entity(LABEL_OF_KIND[identity.kind], value, implied, source, seen)

    def rel(
        self,
        rel_type: str,
        start: Any,
        end: Any,
        props: Mapping[str, Any],
        source: str,
        seen: Seen,
    ) -> None:
        """A relationship between the nodes keyed ``start`` and ``end``."""
        self.rels.append(
            RelRow(
                rel_type,
                start,
                end,
                dict(props),
                source,
                seen.first_seen,
                seen.last_seen,
                seen.retrieved_at,
            )
        )

    def dns_record(
        self,
        rrtype: str,
        owner: str,
        data: str,
        props: Mapping[str, Any],
        source: str,
        seen: Seen,
    ) -> Identity | None:
        """One DNS record of a type in :data:`~attribution.schema.DNS_RELATIONSHIP`: the
        owner's node (``owner`` is canonical), the node the data names, and the relationship
        between them; returns the identity the record points at.

        An address record keeps its type (``rtype``); an MX record's data is ``preference
        host`` (or a bare host) and keeps its preference. Data that names no valid host (a
        null MX, ``0 .``) gives no rows and returns None.
        """
        spec = REL_BY_TYPE[DNS_RELATIONSHIP[rrtype]]
        parts = data.split()
        end_kind = cast(IdentityKind, KIND_OF_LABEL[spec.end])
        target = _target(end_kind, parts[-1]) if parts else None
        if target is None:
            return None
        facts = dict(props)
        if rrtype == "MX" and len(parts) == 2:
            facts["preference"] = int(parts[0]) if parts[0].isdigit() else None
        if "rtype" in {p.name for p in spec.props}:
            facts["rtype"] = rrtype
        end = Identity(end_kind, target)
        self.node(Identity(cast(IdentityKind, KIND_OF_LABEL[spec.start]), owner), {}, source, seen)
        self.node(end, {}, source, seen)
        self.rel(spec.type, owner, target, facts, source, seen)
        return end

    def extend(self, other: Rows) -> None:
        """Add another collection's rows to these."""
        self.nodes.extend(other.nodes)
        self.rels.extend(other.rels)
