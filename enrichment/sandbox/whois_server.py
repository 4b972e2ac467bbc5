"""A loopback port-43 WHOIS server: registry domain answers and Team Cymru IP-to-ASN answers.

One query line in, the answer out, then the connection is closed (RFC 3912). Domain answers
are the recorded files in whois/domain/, sent byte-for-byte. Team Cymru answers are
synthesised from the Cymru DNS zones of the data directory, resolved with the same
closest-encloser wildcard rule nsd applies, so that WHOIS and DNS never disagree.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import socketserver
import struct
import time
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone

from enrichment.sandbox.layout import (
    CYMRU_ASN_ZONE,
    CYMRU_V4_ZONE,
    CYMRU_V6_ZONE,
    DataDir,
    FaultBudget,
    IPAddress,
    LayoutError,
    WhoisFault,
    cymru_origin_name,
    normalise_domain,
)
from enrichment.sandbox.limiting import SandboxStats

CYMRU_HEADER = ("AS", "IP", "BGP Prefix", "CC", "Registry", "Allocated", "AS Name")
CYMRU_WIDTHS = (8, 17, 20, 3, 9, 11, 0)
ASN_HEADER = ("AS", "CC", "Registry", "Allocated", "AS Name")
ASN_WIDTHS = (8, 3, 9, 11, 0)
BULK_BANNER = "Bulk mode; whois.cymru.com [2000-01-01 00:00:00 +0000]"
RADB_NO_ENTRIES = "%  No entries found for the selected source(s).\n"
MAX_QUERY_BYTES = 64 * 1024
READ_TIMEOUT = 10.0
# The manager's readiness probe asks this name; it is not counted or limited.
PROBE_QUERY = "sandbox-probe.invalid"


@dataclass(frozen=True)
class Origin:
    """One Cymru origin answer: "ASN | prefix | CC | registry | allocated"."""

    asn: str
    prefix: str
    cc: str
    registry: str
    allocated: str


@dataclass(frozen=True)
class AsInfo:
    """One Cymru AS answer: "ASN | CC | registry | allocated | AS name"."""

    asn: str
    cc: str
    registry: str
    allocated: str
    name: str


def _fields(text: str, count: int, where: str) -> list[str]:
    parts = [p.strip() for p in text.split("|")]
    if len(parts) != count:
        raise LayoutError(f"{where}: Cymru TXT needs {count} '|'-separated fields: {text!r}")
    return parts


class CymruZones:
    """TXT records of the Cymru zones, answered with DNS wildcard semantics."""

    def __init__(self, data: DataDir) -> None:
        self._txt: dict[str, list[str]] = {}
        self._names: set[str] = set()  # every existing name, empty non-terminals included
        for origin in (CYMRU_V4_ZONE, CYMRU_V6_ZONE, CYMRU_ASN_ZONE):
            path = data.zones.get(origin)
            if path is not None:
                self._load(origin, path)

    def _load(self, origin: str, path: object) -> None:
        try:
            zone = dns.zone.from_file(str(path), origin=origin, relativize=False)
        except (dns.exception.DNSException, OSError) as exc:
            raise LayoutError(f"{path}: cannot read Cymru zone: {exc}") from exc
        apex = dns.name.from_text(origin)
        for name, node in zone.nodes.items():
            key = name.to_text(omit_final_dot=True).lower()
            ancestor = name
            while ancestor != apex and ancestor.is_subdomain(apex):
                self._names.add(ancestor.to_text(omit_final_dot=True).lower())
                ancestor = ancestor.parent()
            rdataset = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.TXT)
            if rdataset is None:
                continue
            for rdata in rdataset:
                text = b"".join(rdata.strings).decode("utf-8", "replace")
                self._txt.setdefault(key, []).append(text)
        self._names.add(origin)

    def txt(self, qname: str) -> list[str]:
        """TXT strings a query for qname gets: exact name, else the closest encloser's wildcard."""
        qname = qname.lower().rstrip(".")
        if qname in self._names:
            return self._txt.get(qname, [])
        labels = qname.split(".")
        for i in range(1, len(labels)):
            encloser = ".".join(labels[i:])
            if encloser in self._names:
                return self._txt.get("*." + encloser, [])
        return []

    def origins(self, address: IPAddress) -> list[Origin]:
        """Origin answers for an address, one per origin AS (a multi-origin TXT lists several)."""
        texts = self.txt(cymru_origin_name(address))
        if not texts and address.version == 6:
            texts = self.txt(cymru_origin_name(address, trim_v6=False))
        out = []
        for text in texts:
            asns, prefix, cc, registry, allocated = _fields(text, 5, "origin zone")
            out += [Origin(a, prefix, cc, registry, allocated) for a in asns.split()]
        return out

    def as_info(self, asn: str) -> AsInfo | None:
        """The AS answer from asn.cymru.com, or None."""
        for text in self.txt(f"as{asn}.{CYMRU_ASN_ZONE}"):
            number, cc, registry, allocated, name = _fields(text, 5, "asn zone")
            return AsInfo(number, cc, registry, allocated, name)
        return None


def _row(values: tuple[str, ...] | list[str], widths: tuple[int, ...]) -> str:
    cells = [v.ljust(w) if w else v for v, w in zip(values, widths, strict=True)]
    return "| ".join(cells).rstrip()


def _pick(row: tuple[str, ...], keep: list[int]) -> tuple[str, ...]:
    return tuple(row[i] for i in keep)


@dataclass(frozen=True)
class CymruQuery:
    """A parsed Team Cymru query: flags and the items asked about."""

    verbose: bool
    header: bool
    flags: frozenset[str]
    items: tuple[str, ...]
    bulk: bool = False


def looks_like_cymru(tokens: list[str]) -> bool:
    """An IP address or ASN query, possibly with Cymru flags (as opposed to a domain)."""
    if not tokens:
        return False
    target = tokens[-1]
    if target.upper().startswith("AS") and target[2:].isdigit():
        return True
    try:
        ipaddress.ip_address(target)
    except ValueError:
        return False
    return True


class WhoisAnswers:
    """Turns one WHOIS query into the answer text, from the data directory."""

    def __init__(self, data: DataDir) -> None:
        self.data = data
        self.cymru = CymruZones(data)

    def target(self, query: str) -> str:
        """The object a query asks about (domain, address or ASN): what faults match on."""
        lines = [line.strip() for line in query.splitlines() if line.strip()]
        if not lines:
            return ""
        tokens = lines[0].split()
        return tokens[-1] if tokens else ""

    def answer(self, query: str) -> bytes:
        """The full answer to a query (one line, or a Cymru begin/end bulk block)."""
        lines = [line.strip() for line in query.splitlines() if line.strip()]
        if not lines:
            return b"% empty query\n"
        if lines[0].lower() == "begin":
            return self._cymru_bulk(lines[1:]).encode()
        tokens = lines[0].split()
        if len(tokens) >= 3 and tokens[-3:-1] == ["-i", "origin"]:
            return self._origin(tokens[-1])
        if looks_like_cymru(tokens):
            flags = frozenset(t for t in tokens[:-1] if t[:1] in "-+")
            query_obj = CymruQuery(
                verbose="-v" in flags,
                header="-f" not in flags,
                flags=flags,
                items=(tokens[-1],),
            )
            return self._cymru(query_obj).encode()
        return self._domain(tokens[-1] if tokens else "")

    def _domain(self, text: str) -> bytes:
        name = text
        for suffix in ("/e", "/j"):  # JPRS: English / Japanese output
            name = name.removesuffix(suffix)
        name = normalise_domain(name.lstrip("="))
        path = self.data.whois_domains.get(name)
        if path is not None:
            return path.read_bytes()
        return f'No match for "{name.upper()}".\r\n'.encode()

    def _origin(self, asn: str) -> bytes:
        key = "AS" + asn.upper().removeprefix("AS")
        path = self.data.whois_origins.get(key)
        return path.read_bytes() if path is not None else RADB_NO_ENTRIES.encode()

    def _cymru_bulk(self, lines: list[str]) -> str:
        verbose = False
        flags: set[str] = set()
        items: list[str] = []
        for line in lines:
            lowered = line.lower()
            if lowered == "end":
                break
            if lowered == "verbose":
                verbose = True
                continue
            tokens = line.split()
            flags.update(t for t in tokens if t[:1] in "-+")
            items += [t for t in tokens if t[:1] not in "-+"]
        query = CymruQuery(
            verbose=verbose or "-v" in flags,
            header="-f" not in flags,
            flags=frozenset(flags),
            items=tuple(items),
            bulk=True,
        )
        return BULK_BANNER + "\n" + self._cymru(query)

    def _ip_columns(self, query: CymruQuery) -> list[int]:
        if query.verbose:
            return list(range(7))
        keep = [0, 1]
        for flag, column in (("-p", 2), ("-c", 3), ("-r", 4), ("-a", 5)):
            if flag in query.flags:
                keep.append(column)
        return [*keep, 6]

    def _cymru(self, query: CymruQuery) -> str:
        out: list[str] = []
        ip_keep = self._ip_columns(query)
        widths = tuple(CYMRU_WIDTHS[i] for i in ip_keep)
        asn_keep = [0, 1, 2, 3, 4] if query.verbose else [4]
        asn_widths = tuple(ASN_WIDTHS[i] if query.verbose else 0 for i in asn_keep)
        ip_items = [i for i in query.items if not i.upper().startswith("AS")]
        asn_items = [i for i in query.items if i.upper().startswith("AS")]
        if ip_items and query.header:
            out.append(_row(_pick(CYMRU_HEADER, ip_keep), widths))
        for item in ip_items:
            for row in self._ip_rows(item):
                out.append(_row(_pick(row, ip_keep), widths))
        if asn_items and query.header:
            out.append(_row(_pick(ASN_HEADER, asn_keep), asn_widths))
        for item in asn_items:
            asn = item.upper().removeprefix("AS")
            info = self.cymru.as_info(asn)
            row = (
                (info.asn, info.cc, info.registry, info.allocated, info.name)
                if info is not None
                else (asn, "NA", "NA", "NA", "NA")
            )
            out.append(_row(_pick(row, asn_keep), asn_widths))
        return "".join(line + "\n" for line in out)

    def _ip_rows(self, item: str) -> list[tuple[str, ...]]:
        try:
            address = ipaddress.ip_address(item)
        except ValueError:
            return [("NA", item, "NA", "NA", "NA", "NA", "Error: invalid IP address")]
        origins = self.cymru.origins(address)
        if not origins:
            return [("NA", str(address), "NA", "NA", "NA", "NA", "NA")]
        rows: list[tuple[str, ...]] = []
        for origin in origins:
            info = self.cymru.as_info(origin.asn)
            name = info.name if info is not None else "NA"
            rows.append(
                (
                    origin.asn,
                    str(address),
                    origin.prefix,
                    origin.cc,
                    origin.registry,
                    origin.allocated,
                    name,
                )
            )
        return rows


class WhoisServer(socketserver.ThreadingTCPServer):
    """ThreadingTCPServer holding the answers, the fault counters and the limits."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], data: DataDir, stats: SandboxStats | None = None
    ) -> None:
        super().__init__(address, WhoisHandler)
        self.answers = WhoisAnswers(data)
        self.faults = FaultBudget(data.faults.whois)
        self.stats = stats or SandboxStats()

    def take_fault(self, target: str) -> WhoisFault | None:
        """The fault for this request, counting it against a fault's `times` budget."""
        return self.faults.take(target)


class WhoisHandler(socketserver.BaseRequestHandler):
    """Reads one query (or a begin..end bulk block), writes the answer, closes."""

    server: WhoisServer

    def _read_query(self) -> str:
        sock: socket.socket = self.request
        sock.settimeout(READ_TIMEOUT)
        buf = b""
        while len(buf) < MAX_QUERY_BYTES:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            buf += chunk
            text = buf.decode("utf-8", "replace")
            lines = [line.strip().lower() for line in text.splitlines()]
            first = lines[0] if lines else ""
            complete = text.endswith("\n")
            if first != "begin" and complete:
                break
            if first == "begin" and complete and "end" in lines[1:]:
                break
        return buf.decode("utf-8", "replace")

    def handle(self) -> None:
        sock: socket.socket = self.request
        query = self._read_query()
        answers = self.server.answers
        if query.strip().lower() != PROBE_QUERY:
            wait = self.server.stats.whois.admit()
            if wait is not None:
                notice = f"% rate limit exceeded; retry after {wait} seconds\n"
                with contextlib.suppress(OSError):
                    sock.sendall(notice.encode())
                return
        fault = self.server.take_fault(answers.target(query))
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
        body = answers.answer(query)
        if fault is not None and fault.kind in {"truncate", "reset"}:
            body = body[: fault.keep_bytes]
        try:
            sock.sendall(body)
            if fault is not None and fault.kind == "reset":
                # Linger 0 makes close() send RST: the client sees a reset connection. Closing
                # here, before socketserver's orderly shutdown(SHUT_WR), keeps the FIN away.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
        except OSError:
            return  # the client went away; nothing to answer
