"""Raw RDAP answers (RFC 9083) already fetched elsewhere: ip network, domain, autnum, entity.

An input is one RDAP JSON answer or a JSON array of answers. Each becomes one
:class:`~attribution.intake.records.RdapRecord` with its ``objectClassName``, handle and key
identity:

- ``ip network``: the CIDR blocks from the ``cidr0_cidrs`` extension when present, else
  the smallest set of blocks covering ``startAddress``..``endAddress``; the key identity is
  the first block.
- ``domain``: ``ldhName`` (or ``unicodeName``) made canonical.
- ``autnum``: ``startAutnum`` (the range is kept in ``asn_range``).
- ``entity``: no identity; the handle is the key.

Entities inside an object (and one level of entities inside those, where the RIRs put
abuse contacts) are kept as handle, roles and the vCard ``fn`` display name of an
organisation or group only: contact details (e-mail, telephone, postal address) and the
names of individuals (vCard ``kind: individual``) are personal data this service does not
need to attribute infrastructure.
An RDAP error answer (``errorCode``) or another object class is a rejection; an event whose
date cannot be read is a rejection of that event only. ``line`` is 0 and rejections name
the JSON path.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from attribution.identities import (
    Identity,
    InvalidIdentity,
    canonical_asn,
    canonical_cidr,
    canonical_domain,
)
from attribution.intake.records import (
    FieldError,
    IntakeResult,
    RdapEntityRef,
    RdapRecord,
    Rejection,
    parse_time,
    read_json,
)
from enrichment.domain_registration import transform_rdap_domain
from enrichment.failures import PermanentError
from enrichment.observations import DomainRegistration

__all__ = ["OBJECT_CLASSES", "parse_rdap"]

_UNSET_TIME = datetime(1970, 1, 1, tzinfo=UTC)
"""Placeholder retrieval time of a parsed registration; ingest stamps the load's time."""

OBJECT_CLASSES = ("ip network", "domain", "autnum", "entity")


def _vcard_name(entity: dict[str, Any]) -> str | None:
    """The vCard ``fn`` of an organisation or group; None for an individual (personal data)."""
    card = entity.get("vcardArray")
    if not isinstance(card, list) or len(card) < 2 or not isinstance(card[1], list):
        return None
    values = {
        prop[0]: prop[3]
        for prop in card[1]
        if isinstance(prop, list) and len(prop) >= 4 and isinstance(prop[3], str)
    }
    if values.get("kind", "").lower() == "individual":
        return None
    name = values.get("fn", "").strip()
    return name or None


def _entities(obj: dict[str, Any], depth: int = 0) -> list[RdapEntityRef]:
    refs: list[RdapEntityRef] = []
    for entity in obj.get("entities") or ():
        if not isinstance(entity, dict):
            continue
        roles = tuple(str(role) for role in entity.get("roles") or ())
        handle = entity.get("handle")
        refs.append(RdapEntityRef(str(handle) if handle else None, roles, _vcard_name(entity)))
        if depth == 0:
            refs.extend(_entities(entity, depth + 1))
    return refs


def _network_cidrs(obj: dict[str, Any]) -> list[str]:
    cidrs: list[str] = []
    for item in obj.get("cidr0_cidrs") or ():
        prefix = item.get("v4prefix") or item.get("v6prefix")
        try:
            cidrs.append(canonical_cidr(f"{prefix}/{item.get('length')}"))
        except InvalidIdentity as exc:
            raise FieldError("cidr0_cidrs", f"{prefix}/{item.get('length')}", exc.reason) from None
    if cidrs:
        return cidrs
    try:
        start = ipaddress.ip_address(obj["startAddress"])
        end = ipaddress.ip_address(obj["endAddress"])
        return [str(net) for net in ipaddress.summarize_address_range(start, end)]
    except KeyError as exc:
        raise FieldError(
            str(exc.args[0]), "", "ip network without cidr0_cidrs or address range"
        ) from None
    except (ValueError, TypeError) as exc:
        raise FieldError(
            "startAddress", obj.get("startAddress"), f"bad address range ({exc})"
        ) from None


def _check_class(obj: dict[str, Any]) -> str:
    """The answer's object class; an error answer or a class not taken is a FieldError."""
    if "errorCode" in obj:
        raise FieldError(
            "errorCode", obj["errorCode"], f"RDAP error answer: {obj.get('title', '')}"
        )
    object_class = obj.get("objectClassName")
    if object_class not in OBJECT_CLASSES:
        raise FieldError(
            "objectClassName",
            object_class,
            f"object class not taken (taken: {', '.join(OBJECT_CLASSES)})",
        )
    return str(object_class)


def _domain_identity(obj: dict[str, Any]) -> Identity:
    name = obj.get("ldhName") or obj.get("unicodeName")
    try:
        return Identity("domain", canonical_domain(str(name)))
    except InvalidIdentity as exc:
        raise FieldError("ldhName", name, exc.reason) from None


def _nameservers(
    obj: dict[str, Any], where: str, source_name: str, rejections: list[Rejection]
) -> list[str]:
    """A domain's name servers, canonical; a bad one is a rejection of that name only."""
    nameservers: list[str] = []
    for index, server in enumerate(obj.get("nameservers") or ()):
        server_name = server.get("ldhName") if isinstance(server, dict) else None
        try:
            nameservers.append(canonical_domain(str(server_name)))
        except InvalidIdentity as exc:
            rejections.append(
                Rejection.of(
                    source_name, 0, f"{where}.nameservers[{index}].ldhName", server_name, exc.reason
                )
            )
    return nameservers


def _asn_range(obj: dict[str, Any]) -> tuple[int, int]:
    try:
        start = canonical_asn(obj["startAutnum"])
        end = canonical_asn(obj.get("endAutnum", obj["startAutnum"]))
    except (KeyError, InvalidIdentity) as exc:
        reason = exc.reason if isinstance(exc, InvalidIdentity) else "startAutnum is required"
        raise FieldError("startAutnum", obj.get("startAutnum"), reason) from None
    return start, end


def _events(
    obj: dict[str, Any], where: str, source_name: str, rejections: list[Rejection]
) -> list[tuple[str, datetime]]:
    """The answer's events; one whose date cannot be read is a rejection of that event only."""
    events: list[tuple[str, datetime]] = []
    for index, event in enumerate(obj.get("events") or ()):
        try:
            events.append((str(event["eventAction"]), parse_time(event["eventDate"], future=True)))
        except (KeyError, TypeError, ValueError) as exc:
            rejections.append(
                Rejection.of(
                    source_name, 0, f"{where}.events[{index}]", event, f"event not read ({exc})"
                )
            )
    return events


def _record(
    obj: dict[str, Any], where: str, source_name: str, rejections: list[Rejection]
) -> RdapRecord:
    object_class = _check_class(obj)
    identity: Identity | None = None
    cidrs: list[str] = []
    asn_range: tuple[int, int] | None = None
    nameservers: list[str] = []
    registration: DomainRegistration | None = None
    if object_class == "ip network":
        cidrs = _network_cidrs(obj)
        identity = Identity("cidr", cidrs[0])
    elif object_class == "domain":
        identity = _domain_identity(obj)
        nameservers = _nameservers(obj, where, source_name, rejections)
    elif object_class == "autnum":
        asn_range = _asn_range(obj)
        identity = Identity("asn", asn_range[0])
    events = _events(obj, where, source_name, rejections)
    if object_class == "domain" and identity is not None:
        registration = _registration(identity.value, obj, source_name)
    handle, name, country = obj.get("handle"), obj.get("name"), obj.get("country")
    return RdapRecord(
        object_class=object_class,
        handle=str(handle) if handle else None,
        identity=identity,
        name=str(name) if name else None,
        cidrs=tuple(cidrs),
        asn_range=asn_range,
        country=str(country).upper() if country else None,
        status=tuple(str(status) for status in obj.get("status") or ()),
        events=tuple(events),
        nameservers=tuple(nameservers),
        entities=tuple(_entities(obj)),
        source=source_name,
        line=0,
        registration=registration,
    )


def _registration(domain: Any, obj: dict[str, Any], source_name: str) -> DomainRegistration:
    """The answer through enrichment's RDAP domain transform; its time is set when loaded."""
    try:
        return transform_rdap_domain(str(domain), obj, f"file:{source_name}", _UNSET_TIME)
    except PermanentError as exc:
        raise FieldError("objectClassName", "domain", str(exc)) from None


def parse_rdap(data: bytes | str, source_name: str) -> IntakeResult[RdapRecord]:
    """Parse one raw RDAP answer, or a JSON array of answers (see the module docstring)."""
    result: IntakeResult[RdapRecord] = IntakeResult()
    document = read_json(data, source_name)
    if isinstance(document, Rejection):
        result.rejections.append(document)
        return result
    answers = document if isinstance(document, list) else [document]
    for index, obj in enumerate(answers):
        where = f"$[{index}]" if isinstance(document, list) else "$"
        if not isinstance(obj, dict):
            result.rejections.append(
                Rejection.of(source_name, 0, where, obj, "an RDAP answer is a JSON object")
            )
            continue
        try:
            result.records.append(_record(obj, where, source_name, result.rejections))
        except FieldError as exc:
            result.rejections.append(
                Rejection.of(source_name, 0, f"{where}.{exc.field}", exc.value, exc.reason)
            )
    return result
