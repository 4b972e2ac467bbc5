"""Lexical features: exact values on chosen names."""

from __future__ import annotations

import math

import pytest

from attribution.features.lexical import (
    LEXICAL_FEATURES,
    bigram_log_likelihood,
    lexical_features,
    shannon_entropy,
    tld_risk,
)


def test_entropy_exact() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("aabb") == 1.0
    assert shannon_entropy("abcd") == 2.0


def test_features_of_a_subdomain_use_the_registrable_label() -> None:
    got = lexical_features("www.login-bank.co.jp")
    assert list(got) == list(LEXICAL_FEATURES)
    assert got["lex_length"] == 10.0
    assert got["lex_entropy"] == pytest.approx(3.121928094887362, abs=1e-12)
    assert got["lex_digit_ratio"] == 0.0
    assert got["lex_hyphen_ratio"] == 0.1
    assert got["lex_bigram_ll"] == pytest.approx(-2.930829723243796, abs=1e-12)
    assert got["lex_tld_risk"] == 0.0
    assert got["lex_depth"] == 4.0
    assert got["lex_idn"] == 0.0


def test_generated_looking_name_on_a_cheap_tld() -> None:
    got = lexical_features("qxjv7kz3w.xyz")
    assert got["lex_length"] == 9.0
    assert got["lex_digit_ratio"] == pytest.approx(2 / 9)
    assert got["lex_tld_risk"] == 2.0
    assert got["lex_depth"] == 2.0
    assert got["lex_bigram_ll"] == pytest.approx(-3.7169605628351023, abs=1e-12)


def test_word_names_are_more_plausible_than_random_strings() -> None:
    assert bigram_log_likelihood("greenmaple") > bigram_log_likelihood("qxjv7kz3w")
    assert bigram_log_likelihood("shop") == pytest.approx(-2.710467885378197, abs=1e-12)


def test_idn_and_private_suffix() -> None:
    idn = lexical_features("xn--80ak6aa92e.com")
    assert idn["lex_idn"] == 1.0
    assert idn["lex_length"] == 14.0
    assert idn["lex_hyphen_ratio"] == pytest.approx(2 / 14)
    dyn = lexical_features("mail.example.dyndns.org")
    # dyndns.org is a private public suffix: the registrable label is "example".
    assert dyn["lex_length"] == 7.0
    assert dyn["lex_depth"] == 4.0


def test_tld_risk_levels() -> None:
    assert tld_risk("xyz") == 2.0
    assert tld_risk("com") == 0.0
    assert tld_risk("jp") == 0.0
    assert tld_risk("online") == 1.0
    assert all(not math.isnan(v) for v in lexical_features("a.example").values())
