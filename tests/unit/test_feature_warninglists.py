"""The warninglists a scoring run loads hold only the name entries its nodes can hit, and the
warninglist columns come out exactly as with every entry indexed."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from test_facts_builder import _address, _domain

from attribution.features.extract import feature_warninglists, features_from_facts, names_to_match
from attribution.features.facts import Facts, FactsBuilder
from attribution.warninglists import WarninglistIndex, package_lists_dir


@pytest.fixture(scope="module")
def facts() -> Facts:
    builder = FactsBuilder()
    # www.10book.jp is on a top-site list (an exact entry) only through its registrable name;
    # maps.google.ad through a suffix entry; 104.16.0.1 in a CDN's range; nothing.test on none.
    for name, registrable in (
        ("www.10book.jp", "10book.jp"),
        ("maps.google.ad", None),
        ("nothing.test", None),
        ("cdn-hosted.test", None),
    ):
        resolves = [["104.16.0.1", 300]] if name == "cdn-hosted.test" else []
        builder.add_domain_record(_domain(name, 10, registrable, resolves=resolves))
    builder.add_address_record(_address("104.16.0.1"))
    builder.add_address_record(_address("192.0.2.1"))
    return builder.build()


def test_names_to_match_are_each_scored_name_and_its_registrable_name(facts: Facts) -> None:
    assert names_to_match(facts, None) == [
        "cdn-hosted.test",
        "maps.google.ad",
        "nothing.test",
        "www.10book.jp",
        "cdn-hosted.test",
        "maps.google.ad",
        "nothing.test",
        "10book.jp",
    ]
    # Rows past the domains are addresses: they add no name.
    assert names_to_match(facts, [3, 4, 5]) == ["www.10book.jp", "10book.jp"]


@pytest.fixture(scope="module")
def bundled() -> Iterator[None]:
    """The bundled lists, with their million-entry top-site lists (the tests' default is a
    small subset without them)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATTRIBUTION_WARNINGLISTS_DIR", str(package_lists_dir()))
        yield


@pytest.fixture(scope="module")
def whole(bundled: None) -> WarninglistIndex:
    return feature_warninglists()


@pytest.mark.parametrize("rows", [None, [1, 3, 4]])
def test_columns_equal_those_of_the_whole_index(
    facts: Facts, rows: list[int] | None, bundled: None, whole: WarninglistIndex
) -> None:
    only = feature_warninglists(names_to_match(facts, rows))
    assert only.only_names is not None and whole.only_names is None
    expected = features_from_facts(facts, {}, n_folds=2, seed=0, warninglists=whole, rows=rows)
    got = features_from_facts(facts, {}, n_folds=2, seed=0, warninglists=only, rows=rows)
    np.testing.assert_array_equal(got.X, expected.X)
    columns = [expected.names.index(c) for c in ("wl_top", "wl_cdn")]
    hits = {key[1]: expected.X[i, columns].tolist() for i, key in enumerate(expected.keys)}
    assert hits["www.10book.jp"] == [1.0, 0.0]
    assert hits["104.16.0.1"][1] == 1.0
