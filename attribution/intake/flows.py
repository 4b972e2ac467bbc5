"""Flow metadata: CSV or JSON Lines flow exports, aggregated into contact records.

Each input row is one flow with the fields of the ``flow`` allowlist in
:mod:`attribution.intake.guard` (or their export aliases, ``sport``/``dport``/``proto``/
``start``/``end``/``pkts``/``octets`` and others). Any other field refuses the row whole
(metadata-only guard); an invalid value rejects the row. Good rows are aggregated into one
:class:`~attribution.intake.records.FlowRecord` per (src_ip, dst_ip, dst_port, protocol):
packets and bytes summed, the earliest first_seen, the latest last_seen, the number of
flows. The source port is validated and then dropped: it is usually ephemeral and would
split one contact into thousands.

Values: addresses are IP addresses only (no names); ports 0..65535; protocol a name
(``tcp``) or an IP protocol number (``6``), written as its IANA keyword where this module
knows it and as the decimal number otherwise; times RFC 3339 with an offset or integer
epoch seconds; ``last_seen`` defaults to ``first_seen``; packets and bytes are optional
non-negative integers (None in the record when no flow reported them).

The format is JSON Lines when the first non-blank line starts with ``{``, CSV otherwise.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime

from attribution.identities import Identity, InvalidIdentity, canonical_ip
from attribution.intake.guard import FLOW_ALIASES, WITHHELD, check_fields
from attribution.intake.records import (
    INT64_MAX,
    FieldError,
    FlowRecord,
    IntakeResult,
    Rejection,
    json_objects,
    parse_count,
    parse_epoch,
    parse_time,
    split_lines,
)

__all__ = ["canonical_protocol", "parse_flows", "parse_port"]

_PROTOCOLS = {
    "icmp": "icmp",
    "1": "icmp",
    "tcp": "tcp",
    "6": "tcp",
    "udp": "udp",
    "17": "udp",
    "gre": "gre",
    "47": "gre",
    "esp": "esp",
    "50": "esp",
    "ah": "ah",
    "51": "ah",
    "ipv6-icmp": "ipv6-icmp",
    "icmpv6": "ipv6-icmp",
    "icmp6": "ipv6-icmp",
    "58": "ipv6-icmp",
    "sctp": "sctp",
    "132": "sctp",
}


def canonical_protocol(value: object) -> str:
    """The IANA keyword (``tcp``) or decimal number of an IP protocol."""
    if isinstance(value, bool):
        raise ValueError("protocol must be a name or a number, not a boolean")
    text = str(value).strip().lower()
    if text in _PROTOCOLS:
        return _PROTOCOLS[text]
    if text.isdigit() and len(text) <= 3 and int(text) <= 255:
        return str(int(text))
    raise ValueError("not an IP protocol name or number 0..255")


def parse_port(value: object) -> int:
    """A transport port 0..65535 from an integer or its decimal text."""
    if isinstance(value, bool):
        raise ValueError("port must be an integer, not a boolean")
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 5:
        value = int(value.strip())
    if not isinstance(value, int) or not 0 <= value <= 65535:
        raise ValueError("port must be an integer 0..65535")
    return value


def _parse_moment(value: object) -> datetime:
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return parse_epoch(value)
    return parse_time(value)


@dataclass(slots=True)
class _Flow:
    src: Identity
    dst: Identity
    dst_port: int | None
    protocol: str
    first_seen: datetime
    last_seen: datetime
    packets: int | None
    bytes: int | None


def _flow_from_fields(fields: dict[str, object]) -> _Flow:
    """One flow from fields already named canonically; raises FieldError naming the field."""

    def get(name: str) -> object:
        value = fields.get(name)
        return None if value == "" else value

    def need(name: str) -> object:
        value = get(name)
        if value is None:
            raise FieldError(name, "", f"{name} is required")
        return value

    addresses: dict[str, Identity] = {}
    for name in ("src_ip", "dst_ip"):
        value = need(name)
        if not isinstance(value, str):
            raise FieldError(name, value, "an IP address must be text")
        try:
            addresses[name] = Identity("ip", canonical_ip(value))
        except InvalidIdentity as exc:
            raise FieldError(name, value, exc.reason) from None
    name = ""
    try:
        name = "src_port"
        if get(name) is not None:
            parse_port(get(name))
        name = "dst_port"
        dst_port = parse_port(get(name)) if get(name) is not None else None
        name = "protocol"
        protocol = canonical_protocol(need(name))
        name = "first_seen"
        first_seen = _parse_moment(need(name))
        name = "last_seen"
        last_seen = _parse_moment(get(name)) if get(name) is not None else first_seen
        name = "packets"
        packets = parse_count(get(name)) if get(name) is not None else None
        name = "bytes"
        size = parse_count(get(name)) if get(name) is not None else None
    except FieldError:
        raise
    except ValueError as exc:
        raise FieldError(name, get(name), str(exc)) from None
    if last_seen < first_seen:
        raise FieldError("last_seen", fields.get("last_seen"), "last_seen is before first_seen")
    return _Flow(
        addresses["src_ip"],
        addresses["dst_ip"],
        dst_port,
        protocol,
        first_seen,
        last_seen,
        packets,
        size,
    )


def _canonical_names(
    raw: dict[str, object], source_name: str, line: int
) -> dict[str, object] | Rejection:
    """The row's fields under canonical names, or the rejection that refuses it whole."""
    violation = check_fields("flow", raw, FLOW_ALIASES)
    if violation is not None:
        return Rejection.of(source_name, line, violation.field, WITHHELD, violation.reason)
    named: dict[str, object] = {}
    for key, value in raw.items():
        name = key.strip().lower()
        name = FLOW_ALIASES.get(name, name)
        if name in named:
            return Rejection.of(source_name, line, key, value, f"{name} given twice in one flow")
        named[name] = value
    return named


def _rows(data: bytes | str, source_name: str) -> IntakeResult[tuple[int, dict[str, object]]]:
    lines = split_lines(data, source_name)
    rows: IntakeResult[tuple[int, dict[str, object]]] = IntakeResult(rejections=lines.rejections)
    content = [(n, text) for n, text in lines.records if text.strip()]
    if content and content[0][1].lstrip().startswith("{"):
        objects = json_objects(content, source_name, "a flow")
        rows.records.extend(objects.records)
        rows.rejections.extend(objects.rejections)
        return rows
    header: list[str] | None = None
    for number, text in content:
        if text.lstrip().startswith("#"):
            continue
        try:
            cells = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            rows.rejections.append(Rejection.of(source_name, number, None, text, f"bad CSV: {exc}"))
            continue
        if header is None:
            header = [cell.strip() for cell in cells]
            continue
        if len(cells) != len(header):
            rows.rejections.append(
                Rejection.of(
                    source_name,
                    number,
                    None,
                    text,
                    f"{len(cells)} fields where the header has {len(header)}",
                )
            )
            continue
        rows.records.append((number, dict(zip(header, cells, strict=True))))
    return rows


_FlowKey = tuple[Identity, Identity, int | None, str]


def _aggregate(
    key: _FlowKey, members: list[tuple[int, _Flow]], source_name: str
) -> FlowRecord | Rejection:
    """One contact record from its flows, or the rejection of them all when a sum overflows."""
    src, dst, dst_port, protocol = key
    flows = [flow for _number, flow in members]
    lines = tuple(number for number, _flow in members)
    packets = [f.packets for f in flows if f.packets is not None]
    sizes = [f.bytes for f in flows if f.bytes is not None]
    for name, values in (("packets", packets), ("bytes", sizes)):
        if sum(values) > INT64_MAX:
            return Rejection.of(
                source_name,
                lines[0],
                name,
                sum(values),
                f"{name} summed over lines {', '.join(map(str, lines))} exceed {INT64_MAX} "
                "(a signed 64-bit integer); none of these flows was kept",
            )
    return FlowRecord(
        src=src,
        dst=dst,
        dst_port=dst_port,
        protocol=protocol,
        first_seen=min(f.first_seen for f in flows),
        last_seen=max(f.last_seen for f in flows),
        packets=sum(packets) if packets else None,
        bytes=sum(sizes) if sizes else None,
        count=len(flows),
        source=source_name,
        lines=lines,
    )


def parse_flows(data: bytes | str, source_name: str) -> IntakeResult[FlowRecord]:
    """Parse flow metadata (CSV or JSON Lines) and aggregate it into contact records."""
    rows = _rows(data, source_name)
    result: IntakeResult[FlowRecord] = IntakeResult(rejections=rows.rejections)
    groups: dict[_FlowKey, list[tuple[int, _Flow]]] = {}
    for number, raw in rows.records:
        named = _canonical_names(raw, source_name, number)
        if isinstance(named, Rejection):
            result.rejections.append(named)
            continue
        try:
            flow = _flow_from_fields(named)
        except FieldError as exc:
            result.rejections.append(
                Rejection.of(source_name, number, exc.field, exc.value, exc.reason)
            )
            continue
        key = (flow.src, flow.dst, flow.dst_port, flow.protocol)
        groups.setdefault(key, []).append((number, flow))
    for key, members in groups.items():
        record = _aggregate(key, members, source_name)
        if isinstance(record, Rejection):
            result.rejections.append(record)
        else:
            result.records.append(record)
    result.rejections.sort(key=lambda rejection: rejection.line)
    return result
