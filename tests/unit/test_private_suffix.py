"""Names under a private Public Suffix List entry: the tenants of a publishing platform."""

from __future__ import annotations

import pytest

from attribution.identities import private_suffix


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("user.github.io", "github.io"),
        ("A.User.GitHub.io.", "github.io"),
        ("foo.duckdns.org", "duckdns.org"),
        ("github.io", None),  # the platform's own name is not under it
        ("www.google.com", None),  # an ICANN suffix only
        ("c2.bad.test", None),  # under no known suffix
    ],
)
def test_private_suffix(name: str, suffix: str | None) -> None:
    assert private_suffix(name) == suffix
