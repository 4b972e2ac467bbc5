"""Load and validate a sandbox data directory (the layout in docs/sandbox-layout.md).

The servers read the directory through :func:`load_data_dir`, so that a malformed file is
reported once, with its path, before any server starts. Recorded registry answers are kept as
raw bytes: the RDAP server sends them exactly as the registry did.
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

RDAP_KINDS = ("ip", "autnum", "domain", "entity")
RDAP_SUFFIXES = (".json", ".input")
CYMRU_V4_ZONE = "origin.asn.cymru.com"
CYMRU_V6_ZONE = "origin6.asn.cymru.com"
CYMRU_ASN_ZONE = "asn.cymru.com"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_RDAP_FAULT_KINDS = {"status", "malformed", "delay"}
_WHOIS_FAULT_KINDS = {"truncate", "reset", "delay"}


class LayoutError(ValueError):
    """A file in the data directory does not follow the documented layout."""


@dataclass(frozen=True)
class RdapRecord:
    """One recorded RDAP answer: the raw bytes as served, plus what it covers."""

    path: Path
    body: bytes
    kind: str
    key: str
    first: int | None = None  # ip: first address as int; autnum: first AS number
    last: int | None = None
    version: int | None = None  # ip only: 4 or 6

    @property
    def size(self) -> int:
        """Number of addresses or AS numbers covered (smaller wins)."""
        if self.first is None or self.last is None:
            return 1
        return self.last - self.first + 1


@dataclass(frozen=True)
class RdapFault:
    """An RDAP request path that answers with a failure instead of the data."""

    path: str
    kind: str  # "status" | "malformed" | "delay"
    status: int = 500
    retry_after: int | None = None
    seconds: float = 0.0
    prefix: bool = False
    times: int | None = None  # fail only the first N matching requests

    def matches(self, path: str) -> bool:
        """Whether this fault applies to a normalised request path."""
        wanted = self.path.lower()
        got = path.lower()
        return got.startswith(wanted) if self.prefix else got == wanted


@dataclass(frozen=True)
class WhoisFault:
    """A WHOIS query (the target, e.g. a domain or address) answered badly."""

    query: str
    kind: str  # "truncate" | "reset" | "delay"
    keep_bytes: int = 64
    seconds: float = 0.0
    times: int | None = None

    def matches(self, target: str) -> bool:
        """Whether this fault applies to a query target (case-insensitive)."""
        return self.query.lower() == target.lower()


class _Fault(Protocol):
    @property
    def times(self) -> int | None: ...

    def matches(self, target: str, /) -> bool: ...


F = TypeVar("F", bound=_Fault)


class FaultBudget(Generic[F]):
    """Hands out the first fault matching a request, counting each against its ``times``.

    Shared by the RDAP and WHOIS servers; thread-safe, since both serve requests in threads.
    """

    def __init__(self, faults: tuple[F, ...]) -> None:
        self.faults = faults
        self._hits: dict[int, int] = {}
        self._lock = threading.Lock()

    def take(self, target: str) -> F | None:
        for i, fault in enumerate(self.faults):
            if not fault.matches(target):
                continue
            with self._lock:
                used = self._hits.get(i, 0)
                if fault.times is not None and used >= fault.times:
                    continue
                self._hits[i] = used + 1
            return fault
        return None


@dataclass(frozen=True)
class Faults:
    """Failures injected on purpose, read from faults.json."""

    rdap: tuple[RdapFault, ...] = ()
    whois: tuple[WhoisFault, ...] = ()
    servfail_zones: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataDir:
    """Everything the sandbox servers serve, indexed."""

    root: Path
    zones: dict[str, Path]
    rdap: dict[str, tuple[RdapRecord, ...]]
    whois_domains: dict[str, Path]
    whois_origins: dict[str, Path]
    rdap_less_tlds: frozenset[str]
    faults: Faults = field(default_factory=Faults)


def parse_address(text: str) -> IPAddress:
    """Parse an address as registries write it in startAddress/endAddress.

    Real answers carry forms Python's parser rejects: zero-padded IPv4 octets
    ("074.125.000.000", ARIN) and a prefix length after the address ("62.239.237.0/32", RIPE).
    """
    value = text.strip().split("/", 1)[0]
    if ":" not in value and "." in value:
        octets = value.split(".")
        if len(octets) == 4 and all(o.isdigit() for o in octets):
            value = ".".join(str(int(o)) for o in octets)
    return ipaddress.ip_address(value)


def normalise_domain(name: str) -> str:
    """Lower-case a domain name and drop a trailing dot."""
    return name.strip().rstrip(".").lower()


def cymru_origin_name(address: IPAddress, *, trim_v6: bool = True) -> str:
    """The owner name a client queries in the Team Cymru origin zones for an address.

    IPv6 follows what ipwhois sends: nibbles of the exploded address with trailing all-zero
    groups removed (set trim_v6=False for the full 32-nibble form).
    """
    if address.version == 4:
        return ".".join(reversed(str(address).split("."))) + "." + CYMRU_V4_ZONE
    groups = address.exploded.split(":")
    if trim_v6:
        while groups and groups[-1] == "0000":
            groups.pop()
    nibbles = "".join(groups)
    return ".".join(reversed(nibbles)) + "." + CYMRU_V6_ZONE


def cymru_prefix_owners(network: IPNetwork) -> list[str]:
    """Owner names (relative to the origin zone) that make one prefix answer by DNS wildcard.

    A prefix on an octet (IPv4) or nibble (IPv6) boundary is one wildcard ``*.<labels>``; other
    lengths are expanded to the next boundary. A query for any address inside then reaches the
    wildcard of its longest enclosing prefix, as DNS wildcard rules pick the closest encloser.
    """
    step = 8 if network.version == 4 else 4
    bound = -(-network.prefixlen // step) * step
    subnets: list[IPNetwork] = (
        [network] if bound == network.prefixlen else list(network.subnets(new_prefix=bound))
    )
    owners: list[str] = []
    for subnet in subnets:
        if network.version == 4:
            labels = str(subnet.network_address).split(".")[: bound // 8]
        else:
            labels = list(subnet.network_address.exploded.replace(":", ""))[: bound // 4]
        owners.append(".".join(["*", *reversed(labels)]) if labels else "*")
    return owners


def _rdap_key(kind: str, path: Path, doc: dict[str, Any]) -> RdapRecord:
    body = path.read_bytes()
    stem = path.name[: -len(path.suffix)]
    if kind == "ip":
        try:
            first = parse_address(str(doc["startAddress"]))
            last = parse_address(str(doc["endAddress"]))
        except (KeyError, ValueError) as exc:
            raise LayoutError(
                f"{path}: RDAP ip network needs startAddress/endAddress: {exc}"
            ) from exc
        if first.version != last.version or int(first) > int(last):
            raise LayoutError(f"{path}: startAddress/endAddress do not form a range")
        return RdapRecord(path, body, kind, stem, int(first), int(last), first.version)
    if kind == "autnum":
        start = doc.get("startAutnum")
        end = doc.get("endAutnum", start)
        if start is None:
            if not stem.removeprefix("AS").isdigit():
                raise LayoutError(f"{path}: autnum answer has no startAutnum and no numeric name")
            start = end = int(stem.removeprefix("AS"))
        try:
            return RdapRecord(path, body, kind, stem, int(start), int(end or start))
        except (TypeError, ValueError) as exc:
            raise LayoutError(f"{path}: startAutnum/endAutnum must be numbers") from exc
    if kind == "domain":
        return RdapRecord(path, body, kind, normalise_domain(stem))
    return RdapRecord(path, body, kind, stem)


def _load_rdap(root: Path) -> dict[str, tuple[RdapRecord, ...]]:
    out: dict[str, tuple[RdapRecord, ...]] = {}
    for kind in RDAP_KINDS:
        records: list[RdapRecord] = []
        folder = root / "rdap" / kind
        paths = sorted(p for p in folder.glob("*") if p.suffix in RDAP_SUFFIXES and p.is_file())
        for path in paths:
            try:
                doc = json.loads(path.read_bytes())
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise LayoutError(f"{path}: not valid JSON: {exc}") from exc
            if not isinstance(doc, dict):
                raise LayoutError(f"{path}: an RDAP answer must be a JSON object")
            records.append(_rdap_key(kind, path, doc))
        out[kind] = tuple(records)
    return out


def _zone_origin(path: Path) -> str:
    return normalise_domain(path.name[: -len(".zone")])


def _positive(value: Any, where: str, name: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise LayoutError(f"{where}: {name} must be a non-negative number")
    return float(value)


def _times(item: dict[str, Any], where: str) -> int | None:
    times = item.get("times")
    if times is None:
        return None
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise LayoutError(f"{where}: times must be a positive integer")
    return times


def load_faults(path: Path) -> Faults:
    """Read faults.json (absent file: no faults). Errors name the entry that is wrong."""
    if not path.exists():
        return Faults()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LayoutError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise LayoutError(f"{path}: must be a JSON object")
    unknown = set(doc) - {"rdap", "whois", "dns", "comment"}
    if unknown:
        raise LayoutError(f"{path}: unknown keys {sorted(unknown)}")
    rdap: list[RdapFault] = []
    for i, item in enumerate(doc.get("rdap", [])):
        where = f"{path}: rdap[{i}]"
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind not in _RDAP_FAULT_KINDS or not isinstance(item.get("path"), str):
            raise LayoutError(f"{where}: needs a path and kind in {sorted(_RDAP_FAULT_KINDS)}")
        status = item.get("status", 500)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise LayoutError(f"{where}: status must be an HTTP error code (400-599)")
        retry_after = item.get("retry_after")
        if retry_after is not None:
            retry_after = int(_positive(retry_after, where, "retry_after"))
        path_value = "/" + item["path"].lstrip("/")
        rdap.append(
            RdapFault(
                path=path_value,
                kind=kind,
                status=status,
                retry_after=retry_after,
                seconds=_positive(item.get("seconds", 0), where, "seconds"),
                prefix=bool(item.get("prefix", False)),
                times=_times(item, where),
            )
        )
    whois: list[WhoisFault] = []
    for i, item in enumerate(doc.get("whois", [])):
        where = f"{path}: whois[{i}]"
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind not in _WHOIS_FAULT_KINDS or not isinstance(item.get("query"), str):
            raise LayoutError(f"{where}: needs a query and kind in {sorted(_WHOIS_FAULT_KINDS)}")
        whois.append(
            WhoisFault(
                query=item["query"].strip(),
                kind=kind,
                keep_bytes=int(_positive(item.get("keep_bytes", 64), where, "keep_bytes")),
                seconds=_positive(item.get("seconds", 0), where, "seconds"),
                times=_times(item, where),
            )
        )
    dns = doc.get("dns", {})
    servfail = dns.get("servfail_zones", []) if isinstance(dns, dict) else None
    if not isinstance(servfail, list) or not all(isinstance(z, str) for z in servfail):
        raise LayoutError(f"{path}: dns.servfail_zones must be a list of zone names")
    return Faults(tuple(rdap), tuple(whois), tuple(normalise_domain(z) for z in servfail))


def _read_tlds(path: Path) -> frozenset[str]:
    if not path.exists():
        return frozenset()
    tlds = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        value = line.split("#", 1)[0].strip()
        if value:
            tlds.add(normalise_domain(value).lstrip("."))
    return frozenset(tlds)


_ORIGIN_FILE = re.compile(r"^AS(\d+)\.txt$", re.IGNORECASE)


def load_data_dir(root: Path) -> DataDir:
    """Index a data directory; raise LayoutError naming the first file that does not fit."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise LayoutError(f"{root}: data directory does not exist")
    zones: dict[str, Path] = {}
    for path in sorted((root / "dns" / "zones").glob("*.zone")):
        origin = _zone_origin(path)
        if not origin:
            raise LayoutError(f"{path}: zone file name must be <origin>.zone")
        zones[origin] = path
    whois_domains = {
        normalise_domain(p.name[: -len(".txt")]): p
        for p in sorted((root / "whois" / "domain").glob("*.txt"))
    }
    whois_origins: dict[str, Path] = {}
    for path in sorted((root / "whois" / "origin").glob("*.txt")):
        match = _ORIGIN_FILE.match(path.name)
        if not match:
            raise LayoutError(f"{path}: ASN-origin answers are named AS<number>.txt")
        whois_origins[f"AS{int(match.group(1))}"] = path
    faults = load_faults(root / "faults.json")
    clash = set(faults.servfail_zones) & set(zones)
    if clash:
        raise LayoutError(f"{root / 'faults.json'}: servfail zones {sorted(clash)} have zone files")
    return DataDir(
        root=root,
        zones=zones,
        rdap=_load_rdap(root),
        whois_domains=whois_domains,
        whois_origins=whois_origins,
        rdap_less_tlds=_read_tlds(root / "whois" / "rdap-less-tlds.txt"),
        faults=faults,
    )
