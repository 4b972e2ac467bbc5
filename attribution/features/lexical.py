"""Lexical features of a domain name: what the name itself says, without any lookup.

All features look at the *registrable label*: the label left of the public suffix
(``login-bank`` in ``www.login-bank.co.jp``), because that is the part an operator chooses;
``depth`` and ``idn`` look at the whole name.

Character plausibility is a bigram log-likelihood: a character bigram model (with start and
end markers, add-one smoothing over a 38-symbol alphabet) fitted on :data:`COMMON_WORDS`, a
small built-in list of common English words and brand-like name parts. A name stitched from
ordinary words scores high; algorithmically generated strings (``qxjv7kz3w``) score low. The
model is fixed and shipped with the code, so the feature needs no training data and cannot
leak labels.

TLD risk is a three-level score: 2 for TLDs that are cheap or free and heavily used for abuse,
1 for other new generic TLDs, 0 for the legacy generic and country-code TLDs that were not
singled out. It is a prior, not evidence, and the classifier weighs it against the rest.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from functools import cache

from attribution.identities import InvalidIdentity, registrable_domain

__all__ = [
    "COMMON_WORDS",
    "LEXICAL_FEATURES",
    "bigram_log_likelihood",
    "lexical_features",
    "shannon_entropy",
    "tld_risk",
]

LEXICAL_FEATURES: tuple[str, ...] = (
    "lex_length",
    "lex_entropy",
    "lex_digit_ratio",
    "lex_hyphen_ratio",
    "lex_bigram_ll",
    "lex_tld_risk",
    "lex_depth",
    "lex_idn",
)

COMMON_WORDS: tuple[str, ...] = (
    "about", "account", "air", "alpha", "amber", "anchor", "app", "art", "auth", "bank",
    "bay", "best", "blue", "book", "bright", "business", "care", "cash", "center", "city",
    "cloud", "club", "code", "coffee", "company", "connect", "corp", "data", "design",
    "digital", "direct", "east", "energy", "express", "fashion", "first", "food", "forest",
    "free", "garden", "global", "gold", "green", "group", "harbor", "health", "home", "hotel",
    "house", "info", "island", "jade", "japan", "kyoto", "lake", "land", "lantern", "life",
    "light", "line", "link", "local", "login", "mail", "maple", "market", "meadow", "media",
    "mountain", "nagoya", "net", "network", "news", "north", "ocean", "office", "online",
    "osaka", "pay", "photo", "pine", "plus", "portal", "power", "pro", "river", "rural",
    "secure", "server", "service", "shop", "silver", "sky", "smart", "solutions", "south",
    "sport", "star", "store", "studio", "sun", "support", "systems", "tech", "tokyo",
    "tours", "town", "travel", "union", "update", "valley", "verify", "web", "west",
    "willow", "world", "www",
)  # fmt: skip

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-"
_START, _END = "^", "$"
_SYMBOLS = len(_ALPHABET) + 1  # every character plus the end marker can follow a context

CHEAP_TLDS = frozenset(
    {"tk", "ml", "ga", "cf", "gq", "xyz", "top", "icu", "buzz", "cyou", "rest", "click",
     "work", "monster", "sbs", "cfd", "bond", "su", "zip", "mov"}
)  # fmt: skip
LEGACY_TLDS = frozenset({"com", "net", "org", "edu", "gov", "mil", "int", "info", "biz"})


@cache
def _bigram_model() -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    contexts: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for word in COMMON_WORDS:
        chars = [_START, *word, _END]
        for a, b in itertools.pairwise(chars):
            contexts[a] += 1
            pairs[(a, b)] += 1
    return dict(contexts), dict(pairs)


def bigram_log_likelihood(text: str) -> float:
    """Mean natural-log probability per character transition under the built-in word model.

    Characters outside ``a-z0-9-`` are scored like any unseen transition.
    """
    contexts, pairs = _bigram_model()
    chars = [_START, *text.lower(), _END]
    total = 0.0
    for a, b in itertools.pairwise(chars):
        total += math.log((pairs.get((a, b), 0) + 1) / (contexts.get(a, 0) + _SYMBOLS))
    return total / (len(chars) - 1)


def shannon_entropy(text: str) -> float:
    """Shannon entropy of the character distribution, in bits per character (0 for '')."""
    if not text:
        return 0.0
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def tld_risk(tld: str) -> float:
    """2 for cheap, abuse-heavy TLDs; 1 for other generic TLDs; 0 for legacy gTLDs and ccTLDs.

    ``tld`` is the last label of the public suffix (``jp`` for ``co.jp``).
    """
    if tld in CHEAP_TLDS:
        return 2.0
    if tld in LEGACY_TLDS or (len(tld) == 2 and tld.isalpha()):
        return 0.0
    return 1.0


def _split(name: str) -> tuple[str, str]:
    """(registrable label, suffix) of a canonical name; the whole name when no suffix is known."""
    try:
        registrable = registrable_domain(name)
    except InvalidIdentity:
        registrable = None
    if not registrable or "." not in registrable:
        label, _, suffix = name.partition(".")
        return label, suffix
    label, _, suffix = registrable.partition(".")
    return label, suffix


def lexical_features(name: str) -> dict[str, float]:
    """The :data:`LEXICAL_FEATURES` of one canonical domain name."""
    label, suffix = _split(name)
    n = len(label)
    return {
        "lex_length": float(n),
        "lex_entropy": shannon_entropy(label),
        "lex_digit_ratio": sum(ch.isdigit() for ch in label) / n if n else 0.0,
        "lex_hyphen_ratio": label.count("-") / n if n else 0.0,
        "lex_bigram_ll": bigram_log_likelihood(label),
        "lex_tld_risk": tld_risk(suffix.rsplit(".", 1)[-1] if suffix else ""),
        "lex_depth": float(name.count(".") + 1),
        "lex_idn": 1.0 if any(part.startswith("xn--") for part in name.split(".")) else 0.0,
    }
