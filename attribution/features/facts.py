"""The facts behind the features as compact arrays: interned ids, int32 edges, float64 times.

:func:`read_facts` streams the read-only export statements of
:mod:`attribution.features.export` record by record into a :class:`FactsBuilder`, so no list
of rows, dictionary of properties or graph object per node is ever held: a node costs one
interned string and a few array cells. :meth:`Facts.from_export` fills the same structure from
a :class:`~attribution.features.export.GraphExport` (hand-built fixtures, analysts' exports),
so both paths compute features with the same code.

Ids are dense per kind (domain names, addresses, prefixes, ASes, registrars, registrants,
networks). Scored nodes come first in each of the domain and address tables, in the order of
:meth:`GraphExport.keys` (sorted); names and addresses that only appear as a relationship's end
follow them.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from neo4j import READ_ACCESS, ManagedTransaction, Result, unit_of_work

from attribution.db import Graph
from attribution.features.export import (
    ADDRESS_COLUMNS,
    DOMAIN_COLUMNS,
    EXPORT_STATEMENTS,
    GraphExport,
    net_of,
    prefix_rows,
)
from attribution.labels import NodeKey

__all__ = ["Facts", "FactsBuilder", "read_facts"]

_DOMAIN_TIMES = ("first", "created", "updated", "expires")


class _Interner:
    """Strings to dense ids, in order of first appearance."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.values: list[str] = []

    def __call__(self, value: str) -> int:
        found = self.ids.get(value)
        if found is None:
            found = self.ids[value] = len(self.values)
            self.values.append(value)
        return found


def _nan_if_none(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _flag(value: Any) -> float:
    """A property read as truth (1.0 / 0.0), NaN when absent."""
    return float("nan") if value is None else (1.0 if value else 0.0)


@dataclass
class Facts:
    """Every fact the features use, as arrays over dense ids (see the module docstring)."""

    domains: list[str]
    """Domain names: the ``n_domains`` scored ones (sorted) first, then relationship ends."""
    n_domains: int
    addresses: list[str]
    n_addresses: int
    prefixes: list[str]
    asns: list[int]
    registrars: list[str]
    registrants: list[str]
    times: np.ndarray
    """(n_domains, 4) float64 epoch milliseconds: first seen, created, updated, expires."""
    privacy: np.ndarray
    """Scored domains' own ``privacy_proxy`` as 1.0 / 0.0, NaN when absent."""
    nxdomain: np.ndarray
    """Scored domains with an ``nxdomain`` property (any value)."""
    registrable: np.ndarray
    """Domain id of each scored domain's registrable name (its own name when it has none)."""
    resolves: np.ndarray
    """(n, 2) int32 rows (name id, address id), one per RESOLVES_TO relationship."""
    resolve_ttl: np.ndarray
    """float64 smallest TTL of each ``resolves`` row, NaN when unknown."""
    aliases: np.ndarray
    name_servers: np.ndarray
    mail_servers: np.ndarray
    reverse: dict[int, str]
    """Address id -> its reverse name (the smallest when several were seen)."""
    reverse_ids: dict[int, int]
    """Address id -> domain id of that reverse name."""
    in_prefix: np.ndarray
    """(n, 3) int64 rows (address id, prefix id, ASN id or -1), one per prefix row."""
    registrar_of: dict[int, int]
    """Domain id -> registrar id (the smallest key when several)."""
    registrant_of: dict[int, tuple[int, float]]
    """Domain id -> (registrant id, registrant's privacy_proxy as 1.0 / 0.0 / NaN)."""
    incidents: set[NodeKey] = field(default_factory=set)
    _networks: tuple[np.ndarray, int] | None = field(default=None, repr=False, compare=False)

    @property
    def n_rows(self) -> int:
        return self.n_domains + self.n_addresses

    def keys(self) -> list[NodeKey]:
        """The scored nodes in row order (as :meth:`GraphExport.keys`)."""
        return [("Domain", n) for n in self.domains[: self.n_domains]] + [
            ("IPAddress", a) for a in self.addresses[: self.n_addresses]
        ]

    def key(self, row: int) -> NodeKey:
        if row < self.n_domains:
            return ("Domain", self.domains[row])
        return ("IPAddress", self.addresses[row - self.n_domains])

    def networks(self) -> tuple[np.ndarray, int]:
        """The /24 or /48 network id of every address, and how many networks there are
        (computed once: the address features and the graph features both ask)."""
        if self._networks is None:
            nets = _Interner()
            ids = np.array([nets(net_of(a)) for a in self.addresses], dtype=np.int64)
            self._networks = (ids, len(nets.values))
        return self._networks

    @classmethod
    def from_export(cls, export: GraphExport) -> Facts:
        """The same facts, from a dictionary export."""
        builder = FactsBuilder()
        for name in sorted(export.domains):
            props = export.domains[name]
            builder.add_domain(
                name, props.get("registrable"), [props.get(t) for t in _DOMAIN_TIMES],
                props.get("privacy"), props.get("nxdomain"),
            )  # fmt: skip
        for address in sorted(export.addresses):
            builder.add_address(address)
        for name, address, ttl in export.resolves:
            builder.add_resolve(name, address, ttl)
        for kind in ("aliases", "name_servers", "mail_servers"):
            for a, b in getattr(export, kind):
                builder.add_pair(kind, a, b)
        for address, name in export.reverse.items():
            builder.add_reverse(address, name)
        for address, rows in export.prefixes.items():
            for prefix, asn in rows:
                builder.add_prefix(address, prefix, asn)
        for name, registrar in export.registrars.items():
            builder.add_registrar(name, registrar)
        for name, (registrant, privacy) in export.registrants.items():
            builder.add_registrant(name, registrant, privacy)
        builder.incidents = set(export.incidents)
        return builder.build()


class FactsBuilder:
    """Collects facts one row at a time into interned ids and typed arrays.

    Scored domains and addresses (:meth:`add_domain`, :meth:`add_address`) and relationships
    come in any order, and relationships may also name nodes that are not scored;
    :meth:`build` puts the scored ones first, in sorted order.
    """

    def __init__(self) -> None:
        self.domain_ids, self.address_ids = _Interner(), _Interner()
        self.prefix_ids, self.registrar_ids = _Interner(), _Interner()
        self.registrant_ids = _Interner()
        self.asn_ids: dict[int, int] = {}
        # The interned id of each scored domain and address, in the order they were added
        # (their rows in the per-domain arrays); relationships may intern other names first.
        self.domain_rows, self.address_rows = array("i"), array("i")
        self.scored_domains: set[int] = set()
        self.scored_addresses: set[int] = set()
        self.times = array("d")
        self.privacy = array("d")
        self.nxdomain = array("b")
        self.registrable_names: list[str] = []
        self.resolves, self.resolve_ttl = array("i"), array("d")
        self.pairs = {name: array("i") for name in ("aliases", "name_servers", "mail_servers")}
        self.reverse: dict[int, str] = {}
        self.in_prefix = array("q")
        self.registrar_of: dict[int, int] = {}
        self.registrant_of: dict[int, tuple[int, float]] = {}
        self.incidents: set[NodeKey] = set()

    @property
    def n_domains(self) -> int:
        return len(self.domain_rows)

    @property
    def n_addresses(self) -> int:
        return len(self.address_rows)

    def _arrays(self) -> list[Any]:
        return [self.domain_rows, self.address_rows, self.times, self.privacy, self.nxdomain,
                self.registrable_names, self.resolves, self.resolve_ttl, *self.pairs.values(),
                self.in_prefix]  # fmt: skip

    def mark(self) -> tuple[int, ...]:
        """The row counts so far (the dictionaries keep minima, so repeats cannot change them)."""
        return tuple(map(len, self._arrays()))

    def rewind(self, mark: tuple[int, ...]) -> None:
        """Forget the rows added since :meth:`mark` (a retried statement adds them again)."""
        self.scored_domains.difference_update(self.domain_rows[mark[0] :])
        self.scored_addresses.difference_update(self.address_rows[mark[1] :])
        for values, length in zip(self._arrays(), mark, strict=True):
            del values[length:]

    def add_domain(
        self, name: str, registrable: str | None, times: Sequence[Any], privacy: Any, nxdomain: Any
    ) -> None:
        """A scored domain: its name, registrable name, epoch-millisecond times (first seen,
        created, updated, expires; None when unknown), ``privacy_proxy`` and ``nxdomain``."""
        i = self.domain_ids(name)
        if i in self.scored_domains:
            return  # the same name twice: the first row stands
        self.scored_domains.add(i)
        self.domain_rows.append(i)
        self.times.extend(map(_nan_if_none, times))
        self.privacy.append(_flag(privacy))
        self.nxdomain.append(nxdomain is not None)
        self.registrable_names.append(registrable or name)

    def add_address(self, address: str) -> None:
        i = self.address_ids(address)
        if i not in self.scored_addresses:
            self.scored_addresses.add(i)
            self.address_rows.append(i)

    def add_domain_record(self, record: Sequence[Any]) -> None:
        """A record of the ``domains`` statement, its values in
        :data:`~attribution.features.export.DOMAIN_COLUMNS` order: the domain and its
        relationships."""
        (name, registrable, first, _last, created, updated, expires, privacy, nxdomain,
         resolves, aliases, name_servers, mail_servers, registrars, registrants) = record  # fmt: skip
        self.add_domain(name, registrable, (first, created, updated, expires), privacy, nxdomain)
        for address, ttl in resolves:
            self.add_resolve(name, address, ttl)
        for kind, others in (("aliases", aliases), ("name_servers", name_servers),
                             ("mail_servers", mail_servers)):  # fmt: skip
            for other in others:
                self.add_pair(kind, name, other)
        for registrar in registrars:
            self.add_registrar(name, registrar)
        for registrant, registrant_privacy in registrants:
            self.add_registrant(name, registrant, registrant_privacy)

    def add_address_record(self, record: Sequence[Any]) -> None:
        """A record of the ``addresses`` statement, its values in
        :data:`~attribution.features.export.ADDRESS_COLUMNS` order."""
        address, _first, _last, reverse, prefixes = record
        self.add_address(address)
        for name in reverse:
            self.add_reverse(address, name)
        for prefix, asn in prefix_rows(prefixes):
            self.add_prefix(address, prefix, asn)

    def add_resolve(self, name: str, address: str, ttl: int | None) -> None:
        self.resolves.append(self.domain_ids(name))
        self.resolves.append(self.address_ids(address))
        self.resolve_ttl.append(_nan_if_none(ttl))

    def add_pair(self, kind: str, a: str, b: str) -> None:
        """A domain-to-domain relationship (``aliases``, ``name_servers``, ``mail_servers``)."""
        self.pairs[kind].append(self.domain_ids(a))
        self.pairs[kind].append(self.domain_ids(b))

    def add_reverse(self, address: str, name: str) -> None:
        """Keeps the smallest reverse name of an address, for a stable result."""
        i = self.address_ids(address)
        current = self.reverse.get(i)
        self.reverse[i] = name if current is None else min(current, name)

    def add_prefix(self, address: str, prefix: str, asn: int | None) -> None:
        asn_id = -1 if asn is None else self.asn_ids.setdefault(asn, len(self.asn_ids))
        self.in_prefix.extend((self.address_ids(address), self.prefix_ids(prefix), asn_id))

    def add_registrar(self, name: str, registrar: str) -> None:
        """Keeps the smallest registrar key of a domain."""
        i, r = self.domain_ids(name), self.registrar_ids(registrar)
        current = self.registrar_of.get(i)
        if current is None or registrar < self.registrar_ids.values[current]:
            self.registrar_of[i] = r

    def add_registrant(self, name: str, registrant: str, privacy: bool | None) -> None:
        """Keeps the registrant with the smallest key (and its privacy flag)."""
        i = self.domain_ids(name)
        current = self.registrant_of.get(i)
        if current is None or registrant < self.registrant_ids.values[current[0]]:
            self.registrant_of[i] = (self.registrant_ids(registrant), _flag(privacy))

    def build(self) -> Facts:
        """The arrays, scored domains and addresses renumbered into sorted order."""
        registrable = [self.domain_ids(n) for n in self.registrable_names]
        reverse_ids = {a: self.domain_ids(n) for a, n in self.reverse.items()}
        d_new, d_order, scored = _sorted_ids(self.domain_ids.values, self.domain_rows)
        a_new, a_order, _ = _sorted_ids(self.address_ids.values, self.address_rows)
        domains = [self.domain_ids.values[i] for i in d_order]
        pairs = {k: d_new[_pairs(v)] for k, v in self.pairs.items()}
        resolves = _pairs(self.resolves)
        in_prefix = np.frombuffer(self.in_prefix, dtype=np.int64).reshape(-1, 3).copy()
        in_prefix[:, 0] = a_new[in_prefix[:, 0]]
        return Facts(
            domains=domains,
            n_domains=self.n_domains,
            addresses=[self.address_ids.values[i] for i in a_order],
            n_addresses=self.n_addresses,
            prefixes=self.prefix_ids.values,
            asns=list(self.asn_ids),
            registrars=self.registrar_ids.values,
            registrants=self.registrant_ids.values,
            times=np.frombuffer(self.times, dtype=np.float64).reshape(-1, 4)[scored],
            privacy=np.frombuffer(self.privacy, dtype=np.float64)[scored],
            nxdomain=np.frombuffer(self.nxdomain, dtype=np.int8).astype(bool)[scored],
            registrable=d_new[np.array(registrable, dtype=np.int64)[scored]],
            resolves=np.column_stack((d_new[resolves[:, 0]], a_new[resolves[:, 1]])),
            resolve_ttl=np.frombuffer(self.resolve_ttl, dtype=np.float64),
            aliases=pairs["aliases"],
            name_servers=pairs["name_servers"],
            mail_servers=pairs["mail_servers"],
            reverse={int(a_new[a]): name for a, name in self.reverse.items()},
            reverse_ids={int(a_new[a]): int(d_new[d]) for a, d in reverse_ids.items()},
            in_prefix=in_prefix,
            registrar_of={int(d_new[d]): r for d, r in self.registrar_of.items()},
            registrant_of={int(d_new[d]): r for d, r in self.registrant_of.items()},
            incidents=self.incidents,
        )


def _sorted_ids(values: list[str], rows: array[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(new id of each old id, old id of each new id, added row of each scored new id): the
    scored ids (``rows``, in the order they were added) first in sorted order, then the rest
    in id order."""
    rank = np.array(sorted(range(len(rows)), key=lambda k: values[rows[k]]), dtype=np.int64)
    scored = np.frombuffer(rows, dtype=np.int32).astype(np.int64)[rank]
    rest = np.ones(len(values), dtype=bool)
    rest[scored] = False
    old_of_new = np.concatenate((scored, np.flatnonzero(rest)))
    new_of_old = np.empty(len(values), dtype=np.int32)
    new_of_old[old_of_new] = np.arange(len(values), dtype=np.int32)
    return new_of_old, old_of_new, rank


def _pairs(values: array[int]) -> np.ndarray:
    return np.frombuffer(values, dtype=np.int32).reshape(-1, 2)


def _stream(
    graph: Graph, name: str, consume: Callable[[Result], None], timeout: float | None
) -> None:
    """Run one export statement read-only and hand its result to ``consume``, which reads the
    records as they arrive (the driver fetches them in batches; nothing collects them)."""

    @unit_of_work(timeout=timeout, metadata={"query": f"features.{name}"})
    def work(tx: ManagedTransaction) -> None:
        consume(tx.run(EXPORT_STATEMENTS[name]))

    with graph.session(default_access_mode=READ_ACCESS) as session:
        session.execute_read(work)


def read_facts(graph: Graph, *, timeout: float | None = None) -> Facts:
    """Stream the export statements into :class:`Facts` (read-only, tagged ``features.*``).

    Each domain and address comes with its relationships in one record, whose values are
    taken by position (the statement's columns are checked against the expected order first).
    A statement the driver retries starts again from the builder's state before its first
    attempt.
    """
    builder = FactsBuilder()

    def each(name: str, columns: tuple[str, ...], add: Callable[[Any], None]) -> None:
        mark = builder.mark()

        def consume(result: Result) -> None:
            if tuple(result.keys()) != columns:
                raise RuntimeError(
                    f"features.{name} returned columns {list(result.keys())}, "
                    f"expected {list(columns)}"
                )
            builder.rewind(mark)
            for record in result:
                add(record)

        _stream(graph, name, consume, timeout)

    each("domains", DOMAIN_COLUMNS, builder.add_domain_record)
    each("addresses", ADDRESS_COLUMNS, builder.add_address_record)
    each("incidents", ("label", "key"), lambda record: builder.incidents.add(tuple(record)))
    return builder.build()
