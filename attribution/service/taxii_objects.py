"""The STIX 2.1 objects of the TAXII collections, each with the time it was added.

Two collections, with fixed ids (UUIDv5 of their alias), readable and never writable:

``act-decisions``  every reviewer decision that approved action against a target: the target's
                   SCO, an ``indicator`` whose pattern matches it, and a ``note`` on both that
                   carries the decision (reviewer, reason, time, request, requester, the digest
                   of the report it rests on and the audit entry recorded before it).
                   Added when the decision was made.
``indicators``     what ``attribution stix export`` writes: every scored target whose gate
                   decision is ``act`` (SCO, indicator, infrastructure, relationships).
                   A target's objects are added when it was scored (``scored_at``); a
                   ``resolves-to`` between two targets when the later of them was scored.

Both hold the producer identity, added at its creation time. An object that appears in a
collection more than once (a target's SCO under two decisions) is added at its earliest time.
A collection holds the current version of each object only: rescoring a target adds its new
version (and drops the old one) at the new scoring time, so ``added_after`` finds it.

Times are exact (microseconds) and every object's place in a collection is its
(date added, id), which makes pages and ``added_after`` stable between requests.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stix2

from attribution.approvals import list_requests
from attribution.db import Graph
from attribution.identities import Identity, InvalidIdentity, parse_target
from attribution.stix_export import (
    NAMESPACE,
    PRODUCER_CREATED,
    build_bundle,
    build_objects,
    indicator_pattern,
    producer_identity,
    read_targets,
    stable_id,
)

__all__ = [
    "COLLECTIONS",
    "STIX_MEDIA_TYPE",
    "Collection",
    "Entry",
    "decision_entries",
    "find_collection",
    "indicator_entries",
    "stix_time",
]

STIX_MEDIA_TYPE = "application/stix+json;version=2.1"


def stix_time(moment: datetime) -> str:
    """A moment as TAXII text, in UTC to the microsecond: ``2026-03-12T11:30:00.000000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """A STIX or TAXII timestamp as an aware datetime; ValueError when it is not one."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # a zone that moves it past year 1 or 9999
        raise ValueError(f"{text!r} is out of range") from None


@dataclass(frozen=True)
class Entry:
    """One object in a collection, with the time the collection added it."""

    obj: dict[str, Any]
    date_added: datetime

    @property
    def id(self) -> str:
        return str(self.obj["id"])

    @property
    def type(self) -> str:
        return str(self.obj["type"])

    @property
    def spec_version(self) -> str:
        return str(self.obj.get("spec_version", "2.1"))

    @property
    def version_text(self) -> str:
        """``modified``, else ``created``, else (an SCO) the time it was added: TAXII's rule."""
        text = self.obj.get("modified") or self.obj.get("created")
        return str(text) if text else stix_time(self.date_added)

    @property
    def version(self) -> datetime:
        return parse_time(self.version_text)

    @property
    def place(self) -> tuple[datetime, str]:
        """Where the object sits in the collection's order."""
        return self.date_added, self.id


def _plain(obj: Any) -> dict[str, Any]:
    plain: dict[str, Any] = json.loads(obj.serialize())
    return plain


def _collect(pairs: Iterable[tuple[Any, datetime]]) -> list[Entry]:
    """Entries in collection order, each id once, at the earliest time it was added."""
    earliest: dict[str, Entry] = {}
    for obj, when in pairs:
        entry = Entry(obj if isinstance(obj, dict) else _plain(obj), when.astimezone(UTC))
        known = earliest.get(entry.id)
        if known is None or entry.date_added < known.date_added:
            earliest[entry.id] = entry
    return sorted(earliest.values(), key=lambda e: e.place)


def _sco(identity: Identity) -> Any:
    value = str(identity.value)
    if identity.kind == "domain":
        return stix2.DomainName(value=value)
    if ":" in value:
        return stix2.IPv6Address(value=value)
    return stix2.IPv4Address(value=value)


def _decision_properties(request: Mapping[str, Any], decision: Mapping[str, Any]) -> dict[str, str]:
    """The decision's record, as custom properties of its note."""
    properties = {
        "x_attribution_decision_id": decision["decision_id"],
        "x_attribution_request_id": request["request_id"],
        "x_attribution_requested_by": request["requested_by"],
        "x_attribution_decided_by": decision["decided_by"],
        "x_attribution_report_digest": decision["report_digest"],
        "x_attribution_audit_head": decision.get("audit_head"),
    }
    return {key: str(value) for key, value in properties.items() if value is not None}


def _decision_objects(
    request: Mapping[str, Any], decision: Mapping[str, Any], producer_id: str
) -> list[Any]:
    """The SCO, indicator and note that publish one approving decision."""
    identity = parse_target(str(request["target"]), "approved against")
    sco = _sco(identity)
    at = parse_time(str(decision["decided_at"]))
    decision_id = str(decision["decision_id"])
    digest = str(decision["report_digest"])
    references = [
        {
            "source_name": "attribution-report",
            "external_id": digest,
            "description": "SHA-256 digest of the confidence report the decision rests on",
        }
    ]
    common = {
        "created_by_ref": producer_id,
        "created": at,
        "modified": at,
        "external_references": references,
    }
    indicator = stix2.Indicator(
        id=stable_id("indicator", "approved-action", decision_id),
        name=str(identity.value),
        description=(
            f"Action against {identity.kind} {identity.value} approved by "
            f"{decision['decided_by']} (decision {decision_id}, request {request['request_id']})"
        ),
        indicator_types=["malicious-activity"],
        pattern=indicator_pattern(sco),
        pattern_type="stix",
        valid_from=at,
        **common,
    )
    note = stix2.Note(
        id=stable_id("note", "approval-decision", decision_id),
        abstract=f"Approved: action against {identity.kind} {identity.value}",
        content=str(decision["reason"]),
        authors=[str(decision["decided_by"])],
        object_refs=[indicator.id, sco.id],
        allow_custom=True,
        **_decision_properties(request, decision),
        **common,
    )
    return [sco, indicator, note]


def decision_entries(graph: Graph) -> list[Entry]:
    """The ``act-decisions`` collection: every approving decision in the graph."""
    producer = producer_identity()
    pairs: list[tuple[Any, datetime]] = [(producer, PRODUCER_CREATED)]
    for request in list_requests(graph, ["approved"]):
        for decision in request["decisions"]:
            if decision["outcome"] != "approve":
                continue
            try:
                objects = _decision_objects(request, decision, producer.id)
            except InvalidIdentity:  # a request always names a canonical target
                continue
            at = parse_time(str(decision["decided_at"]))
            pairs += [(obj, at) for obj in objects]
    return _collect(pairs)


def _scoring_times(graph: Graph) -> dict[str, datetime]:
    """Object id -> when its target was scored, for every object of every act target."""
    added: dict[str, datetime] = {str(producer_identity().id): PRODUCER_CREATED}
    for target in read_targets(graph, "act"):
        scored = target.scored_at or PRODUCER_CREATED
        for obj in build_objects([target], []):
            added.setdefault(str(obj.id), scored)
    return added


def indicator_entries(graph: Graph) -> list[Entry]:
    """The ``indicators`` collection: the STIX export of the targets the gate acts on."""
    added = _scoring_times(graph)
    bundle, _ = build_bundle(graph, "act")
    pairs: list[tuple[Any, datetime]] = []
    for obj in bundle["objects"]:
        when = added.get(obj["id"])
        if when is None and obj["type"] == "relationship":
            source, dest = added.get(obj["source_ref"]), added.get(obj["target_ref"])
            when = max(source, dest) if source and dest else None
        if when is not None:  # None: a target scored between the two reads, next time
            pairs.append((obj, when))
    return _collect(pairs)


@dataclass(frozen=True)
class Collection:
    """A TAXII collection: fixed id and description, and the function that lists it."""

    alias: str
    title: str
    description: str
    entries: Callable[[Graph], list[Entry]]

    @property
    def id(self) -> str:
        return str(uuid.uuid5(NAMESPACE, f"taxii-collection|{self.alias}"))

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "alias": self.alias,
            "can_read": True,
            "can_write": False,
            "media_types": [STIX_MEDIA_TYPE],
        }


COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        "act-decisions",
        "Approved actions",
        "Reviewer decisions that approved action against a target: an indicator for the "
        "target and a note with the decision, its reason and the report digest it rests on.",
        decision_entries,
    ),
    Collection(
        "indicators",
        "Reported indicators",
        "Scored targets whose gate decision is act, as attribution stix export writes them.",
        indicator_entries,
    ),
)


def find_collection(collection_id: str) -> Collection | None:
    return next((c for c in COLLECTIONS if c.id == collection_id), None)
