"""MISP warninglists: known benign or shared infrastructure, matched fast against IPs and names.

A warninglist hit is a misidentification control: an address inside a cloud or CDN range,
a top site, a public resolver or a reserved range must not be taken down because one tenant
is malicious. The lists are read in the upstream format (github.com/MISP/misp-warninglists:
``lists/<name>/list.json``). By default they are the ~119 lists bundled with the pinned
``pymispwarninglists`` package (:func:`package_lists_dir`); the ``warninglists_dir`` setting
(``ATTRIBUTION_WARNINGLISTS_DIR``) points at a newer clone of the upstream repository instead.

Which lists are consulted: a list's ``matching_attributes`` (MISP attribute types) decide
whether its entries apply to names (``domain``, ``hostname``, ``url``, ``uri``) and to
addresses (``ip-src``, ``ip-dst`` and their ``|port`` forms); a list without them applies to
both, as in MISP. ``cidr`` lists always apply to addresses. (``domain|ip`` alone, a composite
of both, does not make a name list apply to addresses.) Lists of hashes,
e-mail addresses or phone numbers are therefore listed but never matched.

Matching, per list ``type`` (the ``kind`` of a hit):

``cidr``
    Entries are CIDR blocks or single addresses (IPv4 and IPv6). An address, or a network
    given as CIDR, matches every block containing it (CIDR inside CIDR). Blocks are indexed by
    prefix length in hash maps: a lookup costs one dictionary probe per distinct prefix length.
``hostname``
    A name matches an entry equal to it or to any of its parents (``a.b.example`` matches
    ``example``); a URL is reduced to its host first.
``string``
    Exact match on the canonical name or address (kind ``exact``).
``substring``
    The entry occurs anywhere in the canonical name or address text.
``regex``
    The entry searched in the canonical name or address text; MISP's PCRE form
    ``/pattern/flags`` is understood (flags ``i``, ``m``, ``s``, ``x``; ``g`` is ignored).

A leading dot (``.google.ad``) marks a suffix entry in any list type (kind ``suffix``): it
matches the name itself and every name under it, which is what the upstream lists mean by it
(MISP itself would compare ``.google.ad`` literally in a ``string`` list and never match).
Names are compared case-insensitively, without a trailing dot, in punycode.

Each list has a category and a meaning (benign, shared, reserved, not-applicable, context)
from the one table in :mod:`attribution.warninglist_categories`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from attribution.identities import InvalidIdentity, canonical_domain, canonical_ip
from attribution.warninglist_categories import (
    CATEGORY_BY_LIST,
    CATEGORY_BY_PREFIX,
    category_for,
    meaning_for,
)

__all__ = [
    "ADDRESS_ATTRIBUTES",
    "CATEGORY_BY_LIST",
    "CATEGORY_BY_PREFIX",
    "LIST_TYPES",
    "NAME_ATTRIBUTES",
    "Warninglist",
    "WarninglistHit",
    "WarninglistIndex",
    "category_for",
    "load_warninglists",
    "meaning_for",
    "package_lists_dir",
]

LIST_TYPES = ("cidr", "string", "hostname", "substring", "regex")
NAME_ATTRIBUTES = frozenset({"domain", "hostname", "url", "uri", "hostname|port"})
ADDRESS_ATTRIBUTES = frozenset({"ip-src", "ip-dst", "ip-src|port", "ip-dst|port"})


def package_lists_dir() -> Path:
    """The upstream repository layout bundled inside the ``pymispwarninglists`` package."""
    import pymispwarninglists

    return Path(pymispwarninglists.__file__).resolve().parent / "data" / "misp-warninglists"


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
    meaning: str = "context"
    applies_to: tuple[str, ...] = ()
    """``address`` and/or ``name``: the lookups this list's entries take part in."""


@dataclass(frozen=True, slots=True)
class WarninglistHit:
    """A match: which list, its description and category, and the entry that matched."""

    list_name: str
    name: str
    description: str
    category: str
    matched: str
    meaning: str = "context"
    kind: str = ""
    """How it matched: cidr, exact, hostname, suffix, substring or regex."""


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# A key's entries: an int code (list index * 2 + 1 when written with a leading dot, the entry
# as written being the key itself or "." + key), or a list of (list index, entry as written).
_Slot = int | list[tuple[int, str]]
_MAYBE_IP = re.compile(r"^\s*(?:[0-9.]+|.*:.*)\s*$")
_PCRE = re.compile(r"^/(.*)/([a-zA-Z]*)$", re.DOTALL)
_PCRE_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


def _canonical_name(entry: str) -> str:
    text = entry.strip().rstrip(".")
    if text.isascii():
        return text.lower()  # canonical_domain's result for valid ASCII names, much faster
    try:
        return canonical_domain(text)
    except InvalidIdentity:
        return text.lower()


def _compile(entry: str) -> re.Pattern[str]:
    """A list regex: MISP's ``/pattern/flags`` form, or a bare Python pattern."""
    found = _PCRE.match(entry)
    if found is None:
        return re.compile(entry)
    flags = 0
    for letter in found.group(2):
        flags |= _PCRE_FLAGS.get(letter, 0)
    return re.compile(found.group(1), flags)


def _put(table: dict[str, _Slot], key: str, index: int, entry: str) -> None:
    if entry == key or entry == "." + key:
        code: _Slot = index * 2 + (entry != key)
        if key not in table:
            table[key] = code
            return
    existing = table.get(key)
    pairs = _pairs(key, existing) if existing is not None else []
    pairs.append((index, entry))
    table[key] = pairs


def _pairs(key: str, slot: _Slot) -> list[tuple[int, str]]:
    if isinstance(slot, int):
        return [(slot >> 1, "." + key if slot & 1 else key)]
    return list(slot)


@dataclass
class _TextIndex:
    """Non-CIDR entries of the lists that apply to one kind of value (names or addresses)."""

    exact: dict[str, _Slot] = field(default_factory=dict)
    suffix: dict[str, _Slot] = field(default_factory=dict)
    hostname: dict[str, _Slot] = field(default_factory=dict)
    substrings: list[tuple[int, str, str]] = field(default_factory=list)
    regexes: list[tuple[int, re.Pattern[str], str]] = field(default_factory=list)

    def hits(self, text: str, parents: bool) -> Iterator[tuple[int, str, str]]:
        """(list index, entry, kind) of every entry matching ``text``."""
        slot = self.exact.get(text)
        if slot is not None:
            yield from ((i, e, "exact") for i, e in _pairs(text, slot))
        for index, needle, entry in self.substrings:
            if needle in text:
                yield index, entry, "substring"
        for index, regex, entry in self.regexes:
            if regex.search(text):
                yield index, entry, "regex"
        if not parents:
            return
        labels = text.split(".")
        for start in range(len(labels)):
            key = ".".join(labels[start:])
            for table, kind in ((self.suffix, "suffix"), (self.hostname, "hostname")):
                slot = table.get(key)
                if slot is not None:
                    yield from ((i, e, kind) for i, e in _pairs(key, slot))


@dataclass
class WarninglistIndex:
    """All loaded lists and the lookup structures built from them."""

    lists: list[Warninglist] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    source: str = ""
    # (version, prefix length) -> network as int -> slot of (list index, entry as written)
    _networks: dict[tuple[int, int], dict[int, list[tuple[int, str]]]] = field(default_factory=dict)
    _prefix_lengths: dict[int, list[int]] = field(default_factory=dict)
    _names: _TextIndex = field(default_factory=_TextIndex)
    _addresses: _TextIndex = field(default_factory=_TextIndex)
    only_names: frozenset[str] | None = None
    """When set (:func:`name_keys` of the names to match), exact, suffix and hostname entries
    for names are indexed only when their key is in it: every lookup of those names finds the
    same hits as in the full index, and the index holds thousands of entries where the
    top-site lists have millions. Looking up any other name misses entries it would hit."""

    def add(self, list_name: str, document: dict[str, Any]) -> None:
        """Index one list document (the parsed ``list.json``)."""
        kind = document["type"]
        entries = [str(item) for item in document["list"]]
        applies_to = _applies_to(kind, document.get("matching_attributes"))
        category = category_for(list_name)
        index = len(self.lists)
        self.lists.append(
            Warninglist(
                list_name=list_name,
                name=str(document["name"]),
                description=str(document["description"]),
                type=kind,
                category=category,
                version=int(document["version"]),
                entries=len(entries),
                meaning=meaning_for(category),
                applies_to=applies_to,
            )
        )
        if kind == "cidr":
            self._add_networks(index, entries)
        else:
            for target in applies_to:
                table = self._names if target == "name" else self._addresses
                self._add_texts(table, index, kind, entries)

    def _add_networks(self, index: int, entries: list[str]) -> None:
        for entry in entries:
            try:
                network = ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                self.rejections.append(
                    f"{self.lists[index].list_name}: {entry!r} is not an address or CIDR block"
                )
                continue
            bucket = self._networks.setdefault((network.version, network.prefixlen), {})
            bucket.setdefault(int(network.network_address), []).append((index, entry))
        self._prefix_lengths = {
            version: sorted({length for v, length in self._networks if v == version}, reverse=True)
            for version in (4, 6)
        }

    def _add_texts(self, table: _TextIndex, index: int, kind: str, entries: list[str]) -> None:
        wanted = self.only_names if table is self._names else None
        chosen: Iterable[str] = entries
        if wanted is not None and kind in ("string", "hostname"):
            chosen = _maybe_wanted(entries, kind, wanted)
        for entry in chosen:
            if kind == "regex":
                try:
                    table.regexes.append((index, _compile(entry), entry))
                except re.error as exc:
                    name = self.lists[index].list_name
                    self.rejections.append(f"{name}: bad regex {entry!r} ({exc})")
            elif kind == "substring":
                table.substrings.append((index, entry.lower(), entry))
            else:
                slots, key = _slot(table, kind, entry)
                if wanted is None or key in wanted:
                    _put(slots, key, index, entry)

    def _hits(self, found: Iterator[tuple[int, str, str]]) -> list[WarninglistHit]:
        hits: dict[tuple[str, str], WarninglistHit] = {}
        for index, entry, kind in found:
            item = self.lists[index]
            hits.setdefault(
                (item.list_name, entry),
                WarninglistHit(
                    item.list_name,
                    item.name,
                    item.description,
                    item.category,
                    entry,
                    item.meaning,
                    kind,
                ),
            )
        return [hits[key] for key in sorted(hits)]

    def _network_hits(self, network: _Network) -> Iterator[tuple[int, str, str]]:
        number = int(network.network_address)
        width = network.max_prefixlen
        for length in self._prefix_lengths.get(network.version, ()):
            if length > network.prefixlen:
                continue
            shift = width - length
            found = self._networks[(network.version, length)].get(number >> shift << shift)
            if found:
                yield from ((index, entry, "cidr") for index, entry in found)

    def match_ip(self, ip: str) -> list[WarninglistHit]:
        """Every list entry matching an IP address (blocks containing it, exact strings...)."""
        address = ipaddress.ip_address(canonical_ip(ip))
        return self.match_network(ipaddress.ip_network(address))

    def match_network(self, network: _Network | str) -> list[WarninglistHit]:
        """Every listed block containing ``network`` (CIDR inside CIDR), and text entries
        matching its text (the address alone for a single address)."""
        if isinstance(network, str):
            network = ipaddress.ip_network(network.strip(), strict=False)
        single = network.num_addresses == 1
        text = str(network.network_address) if single else str(network)
        found = self._network_hits(network)
        return self._hits(_chain(found, self._addresses.hits(text, parents=False)))

    def match_domain(self, name: str) -> list[WarninglistHit]:
        """Every list entry matching a domain name: exact, the name or a parent, substring, regex."""
        return self._hits(self._names.hits(canonical_domain(name), parents=True))

    def match(self, value: str) -> list[WarninglistHit]:
        """Match any value: an address, a network in CIDR notation, a name or a URL's host.

        Raises ValueError (InvalidIdentity is one) when the value is none of these.
        """
        text = value.strip()
        if "://" in text:
            host = urlsplit(text).hostname
            if not host:
                raise ValueError(f"{value!r}: a URL without a host")
            text = host
        if "/" in text:
            return self.match_network(text)
        try:
            return self.match_ip(text)
        except (InvalidIdentity, ValueError):
            return self.match_domain(text)


def name_keys(names: Iterable[str]) -> frozenset[str]:
    """Every key a lookup of these canonical names reads: each name and each of its parents
    (``a.b.example``: itself, ``b.example``, ``example``), for ``WarninglistIndex.only_names``."""
    keys: set[str] = set()
    for name in names:
        labels = name.split(".")
        keys.update(".".join(labels[start:]) for start in range(len(labels)))
    return frozenset(keys)


def _maybe_wanted(entries: list[str], kind: str, wanted: frozenset[str]) -> Iterator[str]:
    """The entries whose key may be in ``wanted``: a quick test, inline for the million-entry
    lists, that gives an ASCII entry's exact key (as ``_canonical_name`` would) except when
    the entry is an address, whose key is never a name. Non-ASCII entries always pass."""
    for entry in entries:
        text = entry.lstrip(".") if kind == "hostname" or entry[:1] == "." else entry
        probe = text.strip().rstrip(".")
        if not probe.isascii() or probe.lower() in wanted:
            yield entry


def _slot(table: _TextIndex, kind: str, entry: str) -> tuple[dict[str, _Slot], str]:
    """Where a string or hostname entry is indexed, and under which key: a hostname entry
    (and a string entry with a leading dot, a suffix) under its name, any other under its
    text (a name or an address)."""
    if kind == "hostname":
        return table.hostname, _canonical_name(entry.lstrip("."))
    if entry.startswith("."):
        return table.suffix, _canonical_name(entry.lstrip("."))
    return table.exact, _canonical_text(entry)


def _chain(*parts: Iterator[tuple[int, str, str]]) -> Iterator[tuple[int, str, str]]:
    for part in parts:
        yield from part


def _canonical_text(entry: str) -> str:
    if not _MAYBE_IP.match(entry):
        return _canonical_name(entry)
    try:
        return canonical_ip(entry)
    except InvalidIdentity:
        return _canonical_name(entry)


def _applies_to(kind: str, attributes: Any) -> tuple[str, ...]:
    """The lookups a list takes part in, from its type and MISP ``matching_attributes``."""
    if kind == "cidr":
        return ("address",)
    if not isinstance(attributes, list) or not attributes:
        return ("address", "name")
    names = set(map(str, attributes))
    return tuple(
        target
        for target, wanted in (("address", ADDRESS_ATTRIBUTES), ("name", NAME_ATTRIBUTES))
        if names & wanted
    )


def load_warninglists(
    directory: Path | str | None = None, only_names: frozenset[str] | None = None
) -> WarninglistIndex:
    """Load every ``list.json`` under ``directory/lists`` (or ``directory`` itself); None
    loads the lists bundled with the ``pymispwarninglists`` package. ``only_names``: see
    :attr:`WarninglistIndex.only_names`.

    A list that cannot be read is recorded in ``index.rejections`` (with its path and why)
    and the others are still loaded. Raises FileNotFoundError when the directory holds no
    lists at all, so a wrong setting is not mistaken for "nothing is on any list".
    """
    root = package_lists_dir() if directory is None else Path(directory)
    lists_dir = root / "lists" if (root / "lists").is_dir() else root
    paths = sorted(lists_dir.glob("*/list.json"))
    if not paths:
        raise FileNotFoundError(f"no MISP warninglists (*/list.json) under {lists_dir}")
    index = WarninglistIndex(source=str(root), only_names=only_names)
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
