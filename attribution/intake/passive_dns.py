"""Passive DNS in the Common Output Format (JSON Lines, draft-dulaunoy-dnsop-passive-dns-cof).

Each line is one aggregate: ``rrname``, ``rrtype``, ``rdata`` (a string or a list of
strings), ``time_first`` and ``time_last`` (integer epoch seconds; ``zone_time_first`` and
``zone_time_last`` are used when the sensor times are absent) and optional ``count``.
``bailiwick``, ``sensor_id``, ``origin``, ``rrclass``, ``raw_rdata`` and the ``*_ms``
fields are accepted and ignored. Passive DNS is derived from communications (DNS answers
seen on the wire), so the metadata-only guard applies: any other field refuses the line.

Only record types whose data is a name or an address are taken: A, AAAA, CNAME, DNAME, NS,
MX and PTR. Their data is made canonical (addresses compressed, names in punycode; an MX
keeps its preference as ``"10 mail.example"``). Other types -- TXT above all, whose free
text can carry tunnelled content -- are rejected. One bad value rejects its line.
"""

from __future__ import annotations

from typing import Any

from attribution.identities import InvalidIdentity, canonical_domain, canonical_ip
from attribution.intake.guard import WITHHELD, check_fields
from attribution.intake.records import (
    FieldError,
    IntakeResult,
    PassiveDnsRecord,
    Rejection,
    json_objects,
    parse_epoch,
    split_lines,
)

__all__ = ["RRTYPES", "canonical_rdata", "parse_passive_dns"]

RRTYPES = ("A", "AAAA", "CNAME", "DNAME", "NS", "MX", "PTR")


def canonical_rdata(rrtype: str, value: str) -> str:
    """The canonical text of one rdata value of a taken record type."""
    if rrtype in ("A", "AAAA"):
        address = canonical_ip(value)
        if (":" in address) != (rrtype == "AAAA"):
            raise InvalidIdentity(value, f"not an address of an {rrtype} record")
        return address
    if rrtype == "MX":
        parts = value.split()
        if len(parts) == 2 and parts[0].isdigit() and int(parts[0]) <= 65535:
            return f"{int(parts[0])} {canonical_domain(parts[1])}"
        if len(parts) == 1:
            return canonical_domain(parts[0])
        raise InvalidIdentity(value, "MX data is 'preference name' or 'name'")
    return canonical_domain(value)


def _record(entry: dict[str, Any], source_name: str, line: int) -> PassiveDnsRecord:
    def need(name: str) -> Any:
        if entry.get(name) is None:
            raise FieldError(name, "", f"{name} is required")
        return entry[name]

    rrname_text = need("rrname")
    if not isinstance(rrname_text, str):
        raise FieldError("rrname", rrname_text, "rrname must be text")
    try:
        rrname = canonical_domain(rrname_text)
    except InvalidIdentity as exc:
        raise FieldError("rrname", rrname_text, exc.reason) from None
    rrtype = str(need("rrtype")).strip().upper()
    if rrtype not in RRTYPES:
        raise FieldError(
            "rrtype", need("rrtype"), f"record type not taken (taken: {', '.join(RRTYPES)})"
        )
    raw = need("rdata")
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise FieldError("rdata", raw, "rdata must be a string or a non-empty list of strings")
    rdata: list[str] = []
    for value in values:
        try:
            canonical = canonical_rdata(rrtype, value)
        except InvalidIdentity as exc:
            raise FieldError("rdata", value, exc.reason) from None
        if canonical not in rdata:
            rdata.append(canonical)
    prefix = "" if entry.get("time_first") is not None else "zone_"
    times = []
    for name in (f"{prefix}time_first", f"{prefix}time_last"):
        try:
            times.append(parse_epoch(need(name)))
        except ValueError as exc:
            raise FieldError(name, entry.get(name), str(exc)) from None
    if times[1] < times[0]:
        raise FieldError(
            f"{prefix}time_last", entry[f"{prefix}time_last"], "time_last is before time_first"
        )
    count = entry.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise FieldError("count", count, "count must be a non-negative integer")
    return PassiveDnsRecord(
        rrname, rrtype, tuple(rdata), times[0], times[1], count, source_name, line
    )


def parse_passive_dns(data: bytes | str, source_name: str) -> IntakeResult[PassiveDnsRecord]:
    """Parse passive DNS in the Common Output Format (see the module docstring)."""
    lines = split_lines(data, source_name)
    result: IntakeResult[PassiveDnsRecord] = IntakeResult(rejections=lines.rejections)
    objects = json_objects(lines.records, source_name, "a passive DNS line")
    result.rejections.extend(objects.rejections)
    for number, entry in objects.records:
        violation = check_fields("passive-dns", entry)
        if violation is not None:
            result.rejections.append(
                Rejection.of(source_name, number, violation.field, WITHHELD, violation.reason)
            )
            continue
        try:
            result.records.append(_record(entry, source_name, number))
        except FieldError as exc:
            result.rejections.append(
                Rejection.of(source_name, number, exc.field, exc.value, exc.reason)
            )
    result.rejections.sort(key=lambda rejection: rejection.line)
    return result
