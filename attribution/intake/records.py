"""What intake produces: frozen records, and rejections that name the line, field and reason.

Every parser returns an :class:`IntakeResult`: the records of the good input and one
:class:`Rejection` per bad line, object or field, so a bad line never costs the good lines
beside it. Records hold canonical :class:`~attribution.identities.Identity` values only;
mapping them into the graph is the writer's job, not intake's.

Line numbers are 1-based lines of the input for line-oriented formats (lists, CSV, JSON
Lines). For a single JSON document (a STIX bundle, an incident report, an RDAP answer)
``line`` is 0 and ``field`` is the JSON path of the offending part (``$.indicators[2].value``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from attribution.identities import Identity
from enrichment.observations import DomainRegistration

__all__ = [
    "FUTURE_TOLERANCE",
    "INT64_MAX",
    "MAX_FILE_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_LINE_BYTES",
    "MAX_SHOWN_VALUE",
    "FlowRecord",
    "IncidentIndicator",
    "IncidentReportRecord",
    "IndicatorRecord",
    "IntakeResult",
    "LabelRecord",
    "PassiveDnsRecord",
    "RdapEntityRef",
    "RdapRecord",
    "Rejection",
]

# A line longer than this is refused before it is parsed: no legitimate metadata line
# needs it, and it bounds the work a hostile file can cause.
MAX_LINE_BYTES = 4096
# Rejections quote at most this many characters of the offending value.
MAX_SHOWN_VALUE = 200
# A file larger than this is refused whole, unread: it bounds the memory one input can take.
MAX_FILE_BYTES = 64 * 1024 * 1024
# JSON nested deeper than this is refused before it is decoded (the decoder recurses).
MAX_JSON_DEPTH = 64
# Neo4j integers are signed 64-bit: a larger count is refused at parse time, not mid-write.
INT64_MAX = 2**63 - 1
# An observation time later than this beyond the clock is refused: it would freeze last_seen.
FUTURE_TOLERANCE = timedelta(days=1)

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Rejection:
    """One piece of input that produced nothing, and why.

    ``value`` is the offending text shortened to :data:`MAX_SHOWN_VALUE` characters with
    control characters escaped, so a rejection is always safe to print or log.
    """

    source_name: str
    line: int
    field: str | None
    value: str
    reason: str

    @classmethod
    def of(
        cls, source_name: str, line: int, field: str | None, value: object, reason: str
    ) -> Rejection:
        return cls(source_name, line, field, shown_value(value), reason)

    def __str__(self) -> str:
        where = f"{self.source_name}:{self.line}" + (f" {self.field}" if self.field else "")
        return f"{where}: {self.reason} ({self.value})"


def shown_value(value: object) -> str:
    """The printable, bounded rendering of a value used in rejections."""
    text = value if isinstance(value, str) else repr(value)
    clipped = text[:MAX_SHOWN_VALUE]
    escaped = "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in clipped
    )
    return escaped + ("..." if len(text) > MAX_SHOWN_VALUE else "")


@dataclass(slots=True)
class IntakeResult(Generic[R]):
    """The records of the good input and the rejections of the bad."""

    records: list[R] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class IndicatorRecord:
    """An indicator from a list, CSV file or intel feed (STIX).

    ``url`` is the full URL when the indicator was given as one (STIX url patterns, a URL
    line in a list); ``identity`` is then its host.
    """

    identity: Identity
    tags: tuple[str, ...]
    source: str
    first_seen: datetime | None
    line: int
    url: str | None = None


Role = Literal["c2", "phishing", "malware-download", "scanner", "exfiltration", "spam", "other"]


@dataclass(frozen=True, slots=True)
class IncidentIndicator:
    """One observation in an incident report: what was seen, in which role, when."""

    identity: Identity
    indicator_type: str
    role: Role
    first_seen: datetime
    last_seen: datetime
    dst_port: int | None
    protocol: str | None
    index: int


@dataclass(frozen=True, slots=True)
class IncidentReportRecord:
    """An incident report from a critical-infrastructure operator."""

    report_id: str
    operator_name: str
    sector: str
    observed_at: datetime
    reported_at: datetime
    confirmed: bool
    indicators: tuple[IncidentIndicator, ...]
    source: str
    line: int


@dataclass(frozen=True, slots=True)
class FlowRecord:
    """Aggregated contact from ``src`` to ``dst``: one record per (src, dst, dst_port, protocol).

    ``packets`` and ``bytes`` are sums over the flows that reported them, None when none
    did; ``count`` is the number of flows aggregated; ``lines`` are their input lines.
    """

    src: Identity
    dst: Identity
    dst_port: int | None
    protocol: str
    first_seen: datetime
    last_seen: datetime
    packets: int | None
    bytes: int | None
    count: int
    source: str
    lines: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PassiveDnsRecord:
    """One passive DNS aggregate in the Common Output Format, names and addresses canonical."""

    rrname: str
    rrtype: str
    rdata: tuple[str, ...]
    time_first: datetime
    time_last: datetime
    count: int | None
    source: str
    line: int


@dataclass(frozen=True, slots=True)
class RdapEntityRef:
    """An entity named inside an RDAP object: its handle, roles and display name.

    Contact details (e-mail, telephone, postal address) are deliberately not kept.
    """

    handle: str | None
    roles: tuple[str, ...]
    name: str | None


@dataclass(frozen=True, slots=True)
class RdapRecord:
    """One raw RDAP answer (ip network, domain, autnum or entity).

    ``identity`` is the key identity: the network's CIDR (the first of ``cidrs`` when the
    range is not one block), the domain, or the first AS number; None for an entity.
    """

    object_class: str
    handle: str | None
    identity: Identity | None
    name: str | None
    cidrs: tuple[str, ...]
    asn_range: tuple[int, int] | None
    country: str | None
    status: tuple[str, ...]
    events: tuple[tuple[str, datetime], ...]
    nameservers: tuple[str, ...]
    entities: tuple[RdapEntityRef, ...]
    source: str
    line: int
    registration: DomainRegistration | None = None
    """A domain answer's registration, read by enrichment's own RDAP transform, so that raw
    intake and enrichment map one answer to the same facts (one registrar, one key)."""


Label = Literal["malicious", "benign"]


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """A label for an identity from a label feed: malicious (trails) or benign (allowlists)."""

    identity: Identity
    label: Label
    family: str | None
    category: str | None
    source: str
    time: datetime | None
    line: int
    url: str | None = None


# Input helpers shared by the parsers.


class FieldError(ValueError):
    """A bad value in one field of a record; parsers turn it into a :class:`Rejection`."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.value = value
        self.reason = reason


def split_lines(
    data: bytes | str, source_name: str, max_line_bytes: int = MAX_LINE_BYTES
) -> IntakeResult[tuple[int, str]]:
    """Number the lines of an input; over-long and non-UTF-8 lines become rejections.

    A UTF-8 byte-order mark on the first line is dropped. Line endings are removed.
    """
    result: IntakeResult[tuple[int, str]] = IntakeResult()
    # Split on LF only (stripping a CR before it): str.splitlines would also break on
    # U+2028, U+0085 and other separators, which a hostile value could use to forge lines.
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    pieces = [piece.removesuffix(b"\r") for piece in raw.split(b"\n")]
    if pieces and not pieces[-1]:
        pieces.pop()
    for number, piece in enumerate(pieces, start=1):
        if len(piece) > max_line_bytes:
            shown = piece[: MAX_SHOWN_VALUE * 4].decode("utf-8", "replace")
            result.rejections.append(
                Rejection.of(
                    source_name, number, None, shown, f"line longer than {max_line_bytes} bytes"
                )
            )
            continue
        try:
            text = piece.decode("utf-8")
        except UnicodeDecodeError as exc:
            shown = piece.decode("utf-8", "backslashreplace")
            result.rejections.append(
                Rejection.of(source_name, number, None, shown, f"not UTF-8 ({exc.reason})")
            )
            continue
        if number == 1:
            text = text.removeprefix("\ufeff")
        result.records.append((number, text))
    return result


def not_in_future(moment: datetime) -> datetime:
    """``moment``, or ValueError when it lies beyond :data:`FUTURE_TOLERANCE` from now."""
    if moment > datetime.now(UTC) + FUTURE_TOLERANCE:
        raise ValueError(f"time is more than {FUTURE_TOLERANCE.days} day in the future")
    return moment


def parse_time(value: object, *, future: bool = False) -> datetime:
    """An RFC 3339 timestamp with an offset (``Z`` or ``+09:00``), returned in UTC.

    A timestamp without an offset is refused: an operator in Japan may have written local
    time, and guessing would shift the event by nine hours. A time beyond
    :data:`FUTURE_TOLERANCE` from now is refused unless ``future`` (an RDAP expiration date
    lies ahead by nature); one that falls outside years 1..9999 in UTC is refused always.
    """
    if not isinstance(value, str):
        raise ValueError(f"timestamp must be RFC 3339 text, not {type(value).__name__}")
    text = value.strip()
    if len(text) < 19 or text[10] not in "Tt ":
        raise ValueError("not an RFC 3339 timestamp (YYYY-MM-DDThh:mm:ssZ)")
    try:
        moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("not an RFC 3339 timestamp (YYYY-MM-DDThh:mm:ssZ)") from None
    if moment.tzinfo is None:
        raise ValueError("timestamp has no UTC offset (add Z or +09:00)")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp falls outside years 1..9999 in UTC") from None
    return moment if future else not_in_future(moment)


def parse_epoch(value: object) -> datetime:
    """Seconds since the Unix epoch (an integer or a decimal string of one), in UTC."""
    if isinstance(value, bool):
        raise ValueError("epoch seconds must be an integer, not a boolean")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValueError("epoch seconds must be a non-negative integer")
    if not 0 <= value <= 253402300799:  # up to 9999-12-31T23:59:59Z
        raise ValueError("epoch seconds out of range")
    return not_in_future(datetime.fromtimestamp(value, UTC))


def parse_count(value: object) -> int:
    """A non-negative integer that fits Neo4j's signed 64-bit integers."""
    if isinstance(value, bool):
        raise ValueError("must be a non-negative integer, not a boolean")
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 20:
        value = int(value.strip())
    if not isinstance(value, int) or value < 0:
        raise ValueError("must be a non-negative integer")
    if value > INT64_MAX:
        raise ValueError(f"must be at most {INT64_MAX} (a signed 64-bit integer)")
    return value


# Strings are removed before brackets are counted, so a bracket inside a string does not count.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in a JSON text (0 for a scalar), without decoding it."""
    depth = deepest = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> str | None:
    """The rejection reason for JSON nested deeper than ``limit``, or None when it is not."""
    if json_depth(text) > limit:
        return f"JSON nested deeper than {limit} levels"
    return None


def read_json(data: bytes | str, source_name: str) -> Any:
    """One JSON document, or the :class:`Rejection` (at ``$``) saying why it cannot be read.

    The text must be UTF-8 (a byte-order mark is dropped) and nest at most
    :data:`MAX_JSON_DEPTH` levels; the depth is checked before the decoder runs.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        return Rejection.of(
            source_name, 0, "$", "", f"not UTF-8 ({exc.reason} at byte {exc.start})"
        )
    deep = too_deep(text)
    if deep is not None:
        return Rejection.of(source_name, 0, "$", "", deep)
    try:
        return json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        return Rejection.of(source_name, 0, "$", "", f"not JSON ({exc})")


def json_objects(
    lines: Iterable[tuple[int, str]], source_name: str, what: str
) -> IntakeResult[tuple[int, dict[str, Any]]]:
    """The JSON object on each numbered non-blank line; other lines become rejections."""
    result: IntakeResult[tuple[int, dict[str, Any]]] = IntakeResult()
    for number, text in lines:
        if not text.strip():
            continue
        deep = too_deep(text)
        if deep is not None:
            result.rejections.append(Rejection.of(source_name, number, None, text, deep))
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            result.rejections.append(
                Rejection.of(source_name, number, None, text, f"not JSON ({exc.msg})")
            )
            continue
        if not isinstance(value, dict):
            result.rejections.append(
                Rejection.of(source_name, number, None, text, f"{what} must be a JSON object")
            )
            continue
        result.records.append((number, value))
    return result
