"""The facts builder: scored nodes first and sorted whatever order records arrive in, each
node's own values on its own row, and a retried statement's rows forgotten."""

from __future__ import annotations

import math

import numpy as np

from attribution.features.export import ADDRESS_COLUMNS, DOMAIN_COLUMNS, DOMAIN_LISTS
from attribution.features.facts import FactsBuilder


def _domain(name: str, created: int, registrable: str | None = None, **lists: list) -> tuple:
    """A ``domains`` record's values, in the statement's column order."""
    row = {"name": name, "registrable": registrable, "first": 1, "last": 2, "created": created,
           "updated": None, "expires": None, "privacy": None, "nxdomain": None}  # fmt: skip
    for key in DOMAIN_LISTS:
        row[key] = lists.get(key, [])
    return tuple(row[column] for column in DOMAIN_COLUMNS)


def _address(address: str, **lists: list) -> tuple:
    """An ``addresses`` record's values, in the statement's column order."""
    row = {"address": address, "first": 1, "last": 2, "reverse": lists.get("reverse", []),
           "prefixes": lists.get("prefixes", [])}  # fmt: skip
    return tuple(row[column] for column in ADDRESS_COLUMNS)


def _built() -> FactsBuilder:
    builder = FactsBuilder()
    # zz.test names its name server b.test (scored, read later) and an unscored one first.
    builder.add_domain_record(
        _domain("zz.test", 30, name_servers=["ns.other", "b.test"], resolves=[["10.0.0.2", 60]])
    )
    builder.add_domain_record(
        _domain("b.test", 20, registrars=["r2", "r1"], registrants=[["p", True], ["a", None]])
    )
    builder.add_domain_record(_domain("a.test", 10, resolves=[["10.0.0.1", None]]))
    builder.add_address_record(
        _address("10.0.0.2", reverse=["z.rev", "a.rev"], prefixes=[["10.0.0.0/24", [65001, 65002]]])
    )
    builder.add_address_record(_address("10.0.0.1", prefixes=[["10.0.1.0/24", []]]))
    return builder


def test_scored_nodes_come_first_and_sorted_whatever_the_record_order() -> None:
    facts = _built().build()
    assert facts.domains == ["a.test", "b.test", "zz.test", "ns.other", "a.rev"]
    assert facts.n_domains == 3
    assert facts.addresses == ["10.0.0.1", "10.0.0.2"]
    assert facts.n_addresses == 2
    assert facts.times[:, 1].tolist() == [10.0, 20.0, 30.0]  # each name's own created time
    assert facts.name_servers.tolist() == [[2, 3], [2, 1]]
    assert facts.resolves.tolist() == [[2, 1], [0, 0]]
    assert facts.resolve_ttl.tolist()[0] == 60.0 and math.isnan(facts.resolve_ttl[1])


def test_relationship_lists_keep_the_rules_of_one_row_per_relationship() -> None:
    facts = _built().build()
    assert facts.registrars[facts.registrar_of[1]] == "r1"  # the smallest key
    registrant, privacy = facts.registrant_of[1]
    assert facts.registrants[registrant] == "a" and math.isnan(privacy)
    assert facts.reverse == {1: "a.rev"}
    rows = [(facts.addresses[a], facts.prefixes[p], facts.asns[s] if s >= 0 else None)
            for a, p, s in facts.in_prefix.tolist()]  # fmt: skip
    assert rows == [
        ("10.0.0.2", "10.0.0.0/24", 65001),
        ("10.0.0.2", "10.0.0.0/24", 65002),
        ("10.0.0.1", "10.0.1.0/24", None),
    ]


def test_a_rewound_statement_is_read_again_to_the_same_facts() -> None:
    builder = FactsBuilder()
    mark = builder.mark()
    builder.add_domain_record(_domain("b.test", 20, name_servers=["a.test"]))
    builder.rewind(mark)  # the driver retries the statement from its first record
    builder.add_domain_record(_domain("b.test", 20, name_servers=["a.test"]))
    builder.add_domain_record(_domain("a.test", 10))
    facts = builder.build()
    assert facts.domains == ["a.test", "b.test"]
    assert facts.n_domains == 2
    assert facts.times[:, 1].tolist() == [10.0, 20.0]
    assert facts.name_servers.tolist() == [[1, 0]]
    assert np.array_equal(facts.registrable, [0, 1])
