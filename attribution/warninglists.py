"""MISP warninglists: known benign or shared infrastructure, matched fast against IPs and names.

A warninglist hit is a misidentification control: an address inside a cloud or CDN range,
a top site, a public resolver or a reserved range must not be taken down because one tenant
is malicious. The lists are read from a directory in the upstream format
(github.com/MISP/misp-warninglists: ``lists/<name>/list.json``); the directory comes from
the ``warninglists_dir`` setting (``ATTRIBUTION_WARNINGLISTS_DIR``), for users a clone of
the upstream repository.

Matching, per list ``type``:

``cidr``
    Entries are CIDR blocks or single addresses (IPv4 and IPv6). An address matches every
    block containing it. Blocks are indexed by prefix length in hash maps, so a lookup costs
    one dictionary probe per distinct prefix length (at most 33 for IPv4, 129 for IPv6)
    whatever the number of blocks; 100k blocks stay fast.
``hostname``
    A name matches an entry equal to it or to any of its parents (``a.b.example`` matches
    ``example``).
``string``
    Exact match on the canonical name (or address text).
``substring``
    The entry occurs anywhere in the canonical name (or address text).
``regex``
    ``re.search`` of the entry on the canonical name (or address text).

A leading dot (``.google.ad``) marks a suffix entry in any list type: it matches the name
itself and every name under it, which is what the upstream lists mean by it. Entries are
made canonical like indicators (lower case, punycode, no trailing dot) where they can be;
entries that are not valid names (``-container.example``) are kept lower-cased as written.

Each hit carries a category derived from the list's directory name by
:data:`CATEGORY_BY_LIST` (exact names) and :data:`CATEGORY_BY_PREFIX` (families of lists in
the full upstream repository); anything else is ``other``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attribution.identities import InvalidIdentity, canonical_domain, canonical_ip

__all__ = [
    "CATEGORY_BY_LIST",
    "CATEGORY_BY_PREFIX",
    "LIST_TYPES",
    "Warninglist",
    "WarninglistHit",
    "WarninglistIndex",
    "category_for",
    "load_warninglists",
]

LIST_TYPES = ("cidr", "string", "hostname", "substring", "regex")

CATEGORY_BY_LIST: dict[str, str] = {
    "amazon-aws": "cloud",
    "google-gcp": "cloud",
    "microsoft-azure": "cloud",
    "ovh-cluster": "cloud",
    "github": "cloud",
    "akamai": "cdn",
    "cloudflare": "cdn",
    "fastly": "cdn",
    "tranco10k": "top-sites",
    "cisco_top10k": "top-sites",
    "cloudflare-top10k": "top-sites",
    "google": "top-sites",
    "public-dns-v4": "public-dns",
    "public-dns-v6": "public-dns",
    "rfc1918": "reserved",
    "rfc5735": "reserved",
    "rfc6598": "reserved",
    "dynamic-dns": "dynamic-dns",
    "parking-domain": "parking",
    "parking-domain-ns": "parking",
    "crl-hostname": "crl",
    "crl-ip": "crl",
    "lots-project": "lots",
    "second-level-tlds": "tld",
}

# Families in the full upstream repository, tried in order when the exact name is unknown.
CATEGORY_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("amazon-", "cloud"),
    ("microsoft-azure", "cloud"),
    ("google-gcp", "cloud"),
    ("oracle-cloud", "cloud"),
    ("ovh-", "cloud"),
    ("cloudflare-top", "top-sites"),
    ("cloudflare", "cdn"),
    ("akamai", "cdn"),
    ("fastly", "cdn"),
    ("stackpath", "cdn"),
    ("tranco", "top-sites"),
    ("cisco_top", "top-sites"),
    ("alexa", "top-sites"),
    ("majestic", "top-sites"),
    ("umbrella", "top-sites"),
    ("public-dns", "public-dns"),
    ("rfc", "reserved"),
    ("multicast", "reserved"),
    ("dynamic-dns", "dynamic-dns"),
    ("parking", "parking"),
    ("crl-", "crl"),
    ("lots", "lots"),
    ("tlds", "tld"),
    ("second-level-tlds", "tld"),
)


def category_for(list_name: str) -> str:
    """The category of a warninglist from its directory name."""
    if list_name in CATEGORY_BY_LIST:
        return CATEGORY_BY_LIST[list_name]
    for prefix, category in CATEGORY_BY_PREFIX:
        if list_name.startswith(prefix):
            return category
    return "other"


@dataclass(frozen=True, slots=True)
class Warninglist:
    """One list: directory name, the list's own name and description, type and category."""

    list_name: str
    name: str
    description: str
    type: str
    category: str
    version: int
    entries: int


@dataclass(frozen=True, slots=True)
class WarninglistHit:
    """A match: which list, its description and category, and the entry that matched."""

    list_name: str
    name: str
    description: str
    category: str
    matched: str


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _canonical_name(entry: str) -> str:
    text = entry.strip().rstrip(".")
    try:
        return canonical_domain(text)
    except InvalidIdentity:
        return text.lower()


@dataclass
class WarninglistIndex:
    """All loaded lists and the lookup structures built from them."""

    lists: list[Warninglist] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    # (version, prefix length) -> network as int -> [(list index, entry as written)]
    _networks: dict[tuple[int, int], dict[int, list[tuple[int, str]]]] = field(default_factory=dict)
    _prefix_lengths: dict[int, list[int]] = field(default_factory=dict)
    _exact: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    _suffix: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    _substrings: list[tuple[int, str, str]] = field(default_factory=list)
    _regexes: list[tuple[int, re.Pattern[str], str]] = field(default_factory=list)

    def add(self, list_name: str, document: dict[str, Any]) -> None:
        """Index one list document (the parsed ``list.json``)."""
        kind = document["type"]
        entries = [str(item) for item in document["list"]]
        index = len(self.lists)
        self.lists.append(
            Warninglist(
                list_name=list_name,
                name=str(document["name"]),
                description=str(document["description"]),
                type=kind,
                category=category_for(list_name),
                version=int(document["version"]),
                entries=len(entries),
            )
        )
        for entry in entries:
            self._add_entry(index, kind, entry)
        self._prefix_lengths = {
            version: sorted({length for v, length in self._networks if v == version}, reverse=True)
            for version in (4, 6)
        }

    def _add_entry(self, index: int, kind: str, entry: str) -> None:
        if kind == "cidr":
            try:
                network = ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                self.rejections.append(
                    f"{self.lists[index].list_name}: {entry!r} is not an address or CIDR block"
                )
                return
            key = (network.version, network.prefixlen)
            bucket = self._networks.setdefault(key, {})
            bucket.setdefault(int(network.network_address), []).append((index, entry))
        elif kind == "regex":
            try:
                self._regexes.append((index, re.compile(entry), entry))
            except re.error as exc:
                self.rejections.append(
                    f"{self.lists[index].list_name}: bad regex {entry!r} ({exc})"
                )
        elif kind == "substring":
            self._substrings.append((index, entry.lower(), entry))
        elif entry.startswith("."):
            self._suffix[_canonical_name(entry.lstrip("."))].append((index, entry))
        elif kind == "hostname":
            self._suffix[_canonical_name(entry)].append((index, entry))
        else:
            self._exact[self._canonical_text(entry)].append((index, entry))

    @staticmethod
    def _canonical_text(entry: str) -> str:
        try:
            return canonical_ip(entry)
        except InvalidIdentity:
            return _canonical_name(entry)

    def _hits(self, found: Iterable[tuple[int, str]]) -> list[WarninglistHit]:
        hits = {
            (self.lists[index].list_name, entry): WarninglistHit(
                self.lists[index].list_name,
                self.lists[index].name,
                self.lists[index].description,
                self.lists[index].category,
                entry,
            )
            for index, entry in found
        }
        return [hits[key] for key in sorted(hits)]

    def _text_hits(self, text: str) -> list[tuple[int, str]]:
        found = list(self._exact.get(text, ()))
        found += [(index, entry) for index, needle, entry in self._substrings if needle in text]
        found += [(index, entry) for index, regex, entry in self._regexes if regex.search(text)]
        return found

    def match_ip(self, ip: str) -> list[WarninglistHit]:
        """Every list entry matching an IP address (blocks containing it, exact strings...)."""
        address = ipaddress.ip_address(canonical_ip(ip))
        number = int(address)
        width = address.max_prefixlen
        found: list[tuple[int, str]] = []
        for length in self._prefix_lengths.get(address.version, ()):
            masked = number >> (width - length) << (width - length) if length else 0
            found += self._networks[(address.version, length)].get(masked, ())
        found += self._text_hits(str(address))
        return self._hits(found)

    def match_domain(self, name: str) -> list[WarninglistHit]:
        """Every list entry matching a domain name: exact, the name or a parent, substring, regex."""
        canonical = canonical_domain(name)
        found = self._text_hits(canonical)
        labels = canonical.split(".")
        for start in range(len(labels)):
            found += self._suffix.get(".".join(labels[start:]), ())
        return self._hits(found)


def load_warninglists(directory: Path | str) -> WarninglistIndex:
    """Load every ``list.json`` under ``directory/lists`` (or ``directory`` itself).

    A list that cannot be read is recorded in ``index.rejections`` (with its path and why)
    and the others are still loaded. Raises FileNotFoundError when the directory holds no
    lists at all, so a wrong setting is not mistaken for "nothing is on any list".
    """
    root = Path(directory)
    lists_dir = root / "lists" if (root / "lists").is_dir() else root
    paths = sorted(lists_dir.glob("*/list.json"))
    if not paths:
        raise FileNotFoundError(f"no MISP warninglists (*/list.json) under {lists_dir}")
    index = WarninglistIndex()
    for path in paths:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            index.rejections.append(f"{path}: not readable JSON ({exc})")
            continue
        problem = _document_problem(document)
        if problem is not None:
            index.rejections.append(f"{path}: {problem}")
            continue
        index.add(path.parent.name, document)
    return index


def _document_problem(document: Any) -> str | None:
    if not isinstance(document, dict):
        return "not a JSON object"
    missing = [
        key for key in ("name", "description", "type", "list", "version") if key not in document
    ]
    if missing:
        return f"missing {', '.join(missing)}"
    if document["type"] not in LIST_TYPES:
        return f"unknown list type {document['type']!r}"
    if not isinstance(document["list"], list):
        return "'list' is not an array"
    return None
