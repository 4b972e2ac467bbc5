"""STIX 2.1 bundles from intel feeds: indicators and observed data, via the stix2 library.

Each object is validated on its own with ``stix2.parse`` (custom ``x_`` properties are
allowed, as feeds use them), so one malformed object is a rejection and the others still
come out.

Indicators
    Only ``pattern_type: stix``. The pattern is parsed by the stix2 pattern grammar (never
    by regular expressions) and every comparison on ``ipv4-addr:value``,
    ``ipv6-addr:value``, ``domain-name:value`` or ``url:value`` with ``=`` or ``IN``
    (not negated) yields one record; ``ISSUBSET`` on an address type yields a CIDR. Other
    comparisons (``MATCHES``, ``LIKE``, ``!=``, ``NOT``) describe sets rather than name a
    value and are skipped; an indicator that names no value at all is a rejection. Tags
    are ``indicator_types`` and ``labels`` (lower case); ``first_seen`` is ``valid_from``.
Observed data and cyber-observable objects
    ``ipv4-addr``, ``ipv6-addr``, ``domain-name``, ``url`` and ``autonomous-system``
    objects, whether top-level (referenced by ``object_refs``) or inside the deprecated
    ``objects`` dictionary of an observed-data object, yield records; ``first_seen`` is the
    earliest ``first_observed`` of the observed-data objects that reference them.
    Other object types (malware, relationship, network-traffic, file...) are not indicators
    of this service and are passed over without a rejection.

URLs: an intel feed is not a communication, so a URL with a path is accepted here (unlike
incident reports and flows): its host becomes the identity and the URL is kept on the
record. ``line`` is 0 and rejections name the JSON path (``$.objects[3].pattern``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import stix2
import stix2.exceptions
from stix2 import patterns as stix_patterns
from stix2.pattern_visitor import create_pattern_object
from stix2patterns.exceptions import ParseException

from attribution.identities import Identity, InvalidIdentity, canonical_asn, parse_url
from attribution.identities import parse_indicator as parse_identity
from attribution.intake.records import (
    IndicatorRecord,
    IntakeResult,
    Rejection,
    parse_time,
    read_json,
)

__all__ = ["MAX_PATTERN_BYTES", "MAX_PATTERN_DEPTH", "parse_stix"]

# The pattern grammar's parser and its visitor recurse per nesting level: deeper patterns,
# or longer ones, are refused before they are parsed. Feeds' patterns nest a few levels.
MAX_PATTERN_DEPTH = 16
MAX_PATTERN_BYTES = 16 * 1024

_VALUE_TYPES = ("ipv4-addr", "ipv6-addr", "domain-name", "url")
_OBSERVABLE_TYPES = (*_VALUE_TYPES, "autonomous-system")


def _stix_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return parse_time(str(value))


def _pattern_depth(pattern: str) -> int:
    """How deeply parentheses and brackets nest in a pattern, quoted constants aside."""
    depth = deepest = 0
    quoted = escaped = False
    for char in pattern:
        if quoted:
            escaped, quoted = (False, True) if escaped else (char == "\\", char != "'")
        elif char == "'":
            quoted = True
        elif char in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]":
            depth -= 1
    return deepest


def _pattern_refusal(pattern: object) -> str | None:
    """Why a pattern is refused before parsing, or None when the grammar may read it."""
    if not isinstance(pattern, str):
        return "pattern must be text"
    if len(pattern.encode("utf-8", "surrogatepass")) > MAX_PATTERN_BYTES:
        return f"pattern longer than {MAX_PATTERN_BYTES} bytes"
    if _pattern_depth(pattern) > MAX_PATTERN_DEPTH:
        return f"pattern nested deeper than {MAX_PATTERN_DEPTH} levels"
    return None


def _comparisons(node: object) -> Iterator[stix_patterns._ComparisonExpression]:
    """Every comparison in a parsed pattern, in the order written."""
    if isinstance(node, stix_patterns._ComparisonExpression):
        yield node
    elif isinstance(node, stix_patterns.ObservationExpression):
        yield from _comparisons(node.operand)
    elif isinstance(node, stix_patterns.QualifiedObservationExpression):
        yield from _comparisons(node.observation_expression)
    elif isinstance(node, stix_patterns.ParentheticalExpression):
        yield from _comparisons(node.expression)
    elif isinstance(
        node, stix_patterns._BooleanExpression | stix_patterns._CompoundObservationExpression
    ):
        for operand in node.operands:
            yield from _comparisons(operand)


def _identity_of(object_type: str, value: str) -> tuple[Identity, str | None]:
    """The identity a STIX value names, checked against the object type."""
    if object_type == "url":
        return parse_url(value)
    identity = parse_identity(value)
    expected = {
        "ipv4-addr": ("ip", "cidr"),
        "ipv6-addr": ("ip", "cidr"),
        "domain-name": ("domain",),
    }
    if identity.kind not in expected[object_type]:
        raise InvalidIdentity(value, f"{object_type} value is a {identity.kind}")
    if object_type != "domain-name":
        is_v6 = ":" in str(identity.value)
        if is_v6 != (object_type == "ipv6-addr"):
            raise InvalidIdentity(value, f"not an {object_type.split('-')[0]} value")
    return identity, None


def _pattern_values(pattern: str) -> Iterator[tuple[str, str]]:
    """(object type, value) for each comparison that names a value."""
    tree = create_pattern_object(pattern, version="2.1")
    for comparison in _comparisons(tree):
        lhs = comparison.lhs
        object_type = lhs.object_type_name
        path = [getattr(part, "property_name", None) for part in lhs.property_path]
        if object_type not in _VALUE_TYPES or path != ["value"] or comparison.negated:
            continue
        operator = comparison.operator
        if operator == "=":
            yield object_type, str(comparison.rhs.value)
        elif operator == "IN":
            for constant in comparison.rhs.value:
                yield object_type, str(constant.value)
        elif operator == "ISSUBSET" and object_type in ("ipv4-addr", "ipv6-addr"):
            yield object_type, str(comparison.rhs.value)


def _tags(obj: dict[str, Any]) -> tuple[str, ...]:
    tags: list[str] = []
    for name in ("indicator_types", "labels"):
        for tag in obj.get(name) or ():
            text = str(tag).strip().lower()
            if text and text not in tags:
                tags.append(text)
    return tuple(tags)


def _indicator_records(
    obj: dict[str, Any], where: str, source_name: str, result: IntakeResult[IndicatorRecord]
) -> None:
    if obj.get("pattern_type") != "stix":
        result.rejections.append(
            Rejection.of(
                source_name,
                0,
                f"{where}.pattern_type",
                obj.get("pattern_type"),
                "only STIX patterns are read",
            )
        )
        return
    refusal = _pattern_refusal(obj["pattern"])
    if refusal is not None:
        result.rejections.append(
            Rejection.of(source_name, 0, f"{where}.pattern", obj["pattern"], refusal)
        )
        return
    try:
        first_seen = _stix_time(obj.get("valid_from"))
    except ValueError as exc:
        result.rejections.append(
            Rejection.of(source_name, 0, f"{where}.valid_from", obj.get("valid_from"), str(exc))
        )
        return
    try:
        values = list(_pattern_values(obj["pattern"]))
    except (ParseException, stix2.exceptions.STIXError, ValueError) as exc:
        result.rejections.append(
            Rejection.of(source_name, 0, f"{where}.pattern", obj["pattern"], f"bad pattern: {exc}")
        )
        return
    except RecursionError:
        # Within the size and depth limits, yet too many terms for the grammar's recursion.
        result.rejections.append(
            Rejection.of(
                source_name, 0, f"{where}.pattern", obj["pattern"], "pattern has too many terms"
            )
        )
        return
    if not values:
        result.rejections.append(
            Rejection.of(
                source_name,
                0,
                f"{where}.pattern",
                obj["pattern"],
                "pattern names no IP address, domain or URL value",
            )
        )
        return
    tags = _tags(obj)
    for object_type, value in values:
        try:
            identity, url = _identity_of(object_type, value)
        except InvalidIdentity as exc:
            result.rejections.append(
                Rejection.of(source_name, 0, f"{where}.pattern", value, exc.reason)
            )
            continue
        result.records.append(IndicatorRecord(identity, tags, source_name, first_seen, 0, url))


def _observable(obj: dict[str, Any]) -> tuple[Identity, str | None]:
    if obj["type"] == "autonomous-system":
        return Identity("asn", canonical_asn(obj["number"])), None
    return _identity_of(obj["type"], str(obj["value"]))


def _objects(document: Any) -> list[Any]:
    if isinstance(document, dict) and document.get("type") == "bundle":
        objects = document.get("objects") or []
        return objects if isinstance(objects, list) else []
    if isinstance(document, list):
        return document
    return [document]


def _valid_objects(
    document: Any, source_name: str, result: IntakeResult[IndicatorRecord]
) -> list[tuple[str, dict[str, Any]]]:
    """(JSON path, object) of each object that is valid STIX 2.1; the others are rejected."""
    base = "$.objects" if isinstance(document, dict) and document.get("type") == "bundle" else "$"
    valid: list[tuple[str, dict[str, Any]]] = []
    for index, obj in enumerate(_objects(document)):
        where = f"{base}[{index}]" if base == "$.objects" or isinstance(document, list) else "$"
        if not isinstance(obj, dict):
            # stix2.parse would decode a string as JSON text: an object must be given as one.
            result.rejections.append(
                Rejection.of(source_name, 0, where, obj, "a STIX object must be a JSON object")
            )
            continue
        try:
            stix2.parse(obj, allow_custom=True, version="2.1")
        except (stix2.exceptions.STIXError, ValueError, TypeError, RecursionError) as exc:
            result.rejections.append(
                Rejection.of(
                    source_name, 0, where, obj.get("type") or "", f"invalid STIX object: {exc}"
                )
            )
            continue
        valid.append((where, obj))
    return valid


_Inline = tuple[str, dict[str, Any], datetime | None, tuple[str, ...]]


def _observed_data(
    valid: list[tuple[str, dict[str, Any]]],
    source_name: str,
    result: IntakeResult[IndicatorRecord],
) -> tuple[dict[str, datetime], list[_Inline]]:
    """First observation time per referenced object id, and the objects given inline."""
    observed_first: dict[str, datetime] = {}
    inline: list[_Inline] = []
    for where, obj in valid:
        if obj["type"] != "observed-data":
            continue
        try:
            first = _stix_time(obj.get("first_observed"))
        except ValueError as exc:
            result.rejections.append(
                Rejection.of(
                    source_name, 0, f"{where}.first_observed", obj.get("first_observed"), str(exc)
                )
            )
            continue
        for ref in obj.get("object_refs") or ():
            if first is not None and (ref not in observed_first or first < observed_first[ref]):
                observed_first[ref] = first
        for key, inner in (obj.get("objects") or {}).items():
            inline.append((f"{where}.objects.{key}", inner, first, _tags(obj)))
    return observed_first, inline


def parse_stix(data: bytes | str, source_name: str) -> IntakeResult[IndicatorRecord]:
    """Parse a STIX 2.1 bundle (or one object, or a JSON array of objects)."""
    result: IntakeResult[IndicatorRecord] = IntakeResult()
    document = read_json(data, source_name)
    if isinstance(document, Rejection):
        result.rejections.append(document)
        return result
    valid = _valid_objects(document, source_name, result)
    observed_first, inline = _observed_data(valid, source_name, result)
    for where, obj in valid:
        if obj["type"] == "indicator":
            _indicator_records(obj, where, source_name, result)
        elif obj["type"] in _OBSERVABLE_TYPES:
            inline.append((where, obj, observed_first.get(obj["id"]), ()))
    for where, obj, first, tags in inline:
        if not isinstance(obj, dict) or obj.get("type") not in _OBSERVABLE_TYPES:
            continue
        try:
            identity, url = _observable(obj)
        except (InvalidIdentity, KeyError) as exc:
            reason = exc.reason if isinstance(exc, InvalidIdentity) else f"missing {exc}"
            result.rejections.append(
                Rejection.of(source_name, 0, where, obj.get("value", ""), reason)
            )
            continue
        result.records.append(IndicatorRecord(identity, tags, source_name, first, 0, url))
    return result
