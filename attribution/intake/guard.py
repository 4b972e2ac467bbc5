"""The metadata-only guard: communication-derived records may carry metadata, never content.

The Active Cyber Defense law lets the service handle communication *metadata* (addresses,
names, ports, times, counts) and never the content of a communication. Records derived from
communications -- flow metadata, the observations in an incident report, passive DNS --
are therefore checked field by field against an explicit allowlist per record kind. A
record with any field outside its allowlist is refused *whole*: the parser produces nothing
of it and reports one rejection naming the record (line or JSON path) and the field. The
check is on field *names*, regardless of value: an export configured to include a payload
column is refused even on rows where the column is empty, so the operator fixes the export
rather than relying on luck.

Decisions:

- URLs in communication-derived records may name a scheme, host and port only. A path,
  query, fragment or user information is content (what was requested, with what
  credential) and refuses the record. Intel feeds (STIX indicators, lists) are not
  communications: there a URL is accepted, its host becomes the identity and the URL is
  kept on the indicator record (see :mod:`attribution.intake.stix`).
- E-mail addresses are not accepted anywhere as identities: they name a person's mailbox,
  not infrastructure. In communication-derived records the fields that would hold them
  (``from``, ``to``, ``sender``...) are outside every allowlist, so they refuse the record.
- Aliases common in flow exports (nfdump, IPFIX and NetFlow field names) are accepted and
  mapped to one name each; :data:`FLOW_ALIASES` lists them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "ALLOWED_FIELDS",
    "CONTENT_FIELD_HINTS",
    "FLOW_ALIASES",
    "WITHHELD",
    "GuardViolation",
    "check_fields",
    "check_host_only_url",
    "refusal_reason",
]

ALLOWED_FIELDS: dict[str, frozenset[str]] = {
    "flow": frozenset(
        {
            "src_ip",
            "dst_ip",
            "src_port",
            "dst_port",
            "protocol",
            "first_seen",
            "last_seen",
            "packets",
            "bytes",
        }
    ),
    "incident-report": frozenset(
        {"report_id", "operator", "observed_at", "reported_at", "confirmed", "indicators"}
    ),
    "incident-operator": frozenset({"name", "sector"}),
    "incident-indicator": frozenset(
        {"type", "value", "role", "first_seen", "last_seen", "dst_port", "protocol"}
    ),
    # Common Output Format for passive DNS (draft-dulaunoy-dnsop-passive-dns-cof): every
    # field it defines is metadata about a DNS answer. bailiwick, sensor_id, origin,
    # rrclass and raw_rdata are accepted and ignored.
    "passive-dns": frozenset(
        {
            "rrname",
            "rrtype",
            "rdata",
            "time_first",
            "time_last",
            "zone_time_first",
            "zone_time_last",
            "time_first_ms",
            "time_last_ms",
            "count",
            "bailiwick",
            "sensor_id",
            "origin",
            "rrclass",
            "raw_rdata",
        }
    ),
}

FLOW_ALIASES: dict[str, str] = {
    "sport": "src_port",
    "dport": "dst_port",
    "srcport": "src_port",
    "dstport": "dst_port",
    "l4_src_port": "src_port",
    "l4_dst_port": "dst_port",
    "sourcetransportport": "src_port",
    "destinationtransportport": "dst_port",
    "src": "src_ip",
    "dst": "dst_ip",
    "sa": "src_ip",
    "da": "dst_ip",
    "srcaddr": "src_ip",
    "dstaddr": "dst_ip",
    "sourceipv4address": "src_ip",
    "destinationipv4address": "dst_ip",
    "sourceipv6address": "src_ip",
    "destinationipv6address": "dst_ip",
    "proto": "protocol",
    "pr": "protocol",
    "protocolidentifier": "protocol",
    "start": "first_seen",
    "end": "last_seen",
    "ts": "first_seen",
    "te": "last_seen",
    "flowstartseconds": "first_seen",
    "flowendseconds": "last_seen",
    "pkts": "packets",
    "ipkt": "packets",
    "packetdeltacount": "packets",
    "octets": "bytes",
    "ibyt": "bytes",
    "octetdeltacount": "bytes",
}

# What a rejection shows instead of the value of a refused field: quoting it would copy the
# very content the guard keeps out into logs and reports.
WITHHELD = "(value withheld: possible communication content)"

# Names that certainly carry content; they get a sharper message than "not in the allowlist".
CONTENT_FIELD_HINTS = frozenset(
    {
        "payload",
        "body",
        "message",
        "text",
        "subject",
        "headers",
        "header",
        "http_headers",
        "user_agent",
        "useragent",
        "cookie",
        "cookies",
        "url",
        "uri",
        "path",
        "query",
        "data",
        "content",
        "contents",
        "file",
        "file_contents",
        "attachment",
        "email",
        "from",
        "to",
        "cc",
        "sender",
        "recipient",
        "password",
    }
)


@dataclass(frozen=True, slots=True)
class GuardViolation:
    """Why a record was refused: the offending field and the reason."""

    field: str
    reason: str


def refusal_reason(kind: str, field: str) -> str:
    """The rejection reason for a field outside the allowlist of a record kind."""
    if field.strip().lower() in CONTENT_FIELD_HINTS:
        what = f"field {field!r} carries communication content"
    else:
        what = f"field {field!r} is not in the metadata allowlist for {kind} records"
    return f"refused whole by the metadata-only guard: {what}; nothing of this record is kept"


def check_fields(
    kind: str, fields: Iterable[str], aliases: dict[str, str] | None = None
) -> GuardViolation | None:
    """The first field outside the allowlist of ``kind`` (after alias mapping), or None."""
    allowed = ALLOWED_FIELDS[kind]
    for field in fields:
        name = field.strip().lower()
        if aliases:
            name = aliases.get(name, name)
        if name not in allowed:
            return GuardViolation(field, refusal_reason(kind, field))
    return None


def check_host_only_url(value: str) -> str | None:
    """None when a URL names only scheme, host and port; otherwise why it is content."""
    try:
        parts = urlsplit(value.strip())
        _ = parts.port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.username is not None or parts.password is not None:
        return (
            "refused whole by the metadata-only guard: URL carries user information "
            "(a credential is content)"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or value.rstrip().endswith("?"):
        return (
            "refused whole by the metadata-only guard: URL has a path, query or fragment "
            "(what was requested is content; give only scheme://host[:port])"
        )
    return None
