"""``net_of``: the network of an address is what ``ipaddress`` says it is, for every address
and for text that only looks like one, on its fast IPv4 path and its general path alike."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution.features.export import net_of

EXAMPLES = settings(max_examples=300, derandomize=True, deadline=None, database=None)


def _reference(address: str) -> str:
    ip = ipaddress.ip_address(address)
    length = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{length}", strict=False))


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("192.0.2.77", "192.0.2.0/24"),
        ("0.0.0.0", "0.0.0.0/24"),
        ("255.255.255.255", "255.255.255.0/24"),
        ("2001:db8:1:2::5", "2001:db8:1::/48"),
        ("::ffff:192.0.2.1", "::/48"),
        ("::1", "::/48"),
    ],
)
def test_the_network_of_an_address(address: str, network: str) -> None:
    assert net_of(address) == network


@pytest.mark.parametrize(
    "text", ["01.2.3.4", "1.2.3", "1.2.3.4 ", "10.0.0.256", "1.2.3.4/24", "", "example.test"]
)
def test_text_that_is_not_an_address_is_refused_as_ipaddress_refuses_it(text: str) -> None:
    with pytest.raises(ValueError):
        net_of(text)


@EXAMPLES
@given(st.ip_addresses())
def test_every_address_gets_the_network_ipaddress_gives(address: ipaddress._BaseAddress) -> None:
    assert net_of(str(address)) == _reference(str(address))


@EXAMPLES
@given(st.text(alphabet="0123456789.:abcdef ", max_size=20))
def test_address_like_text_gets_the_same_network_or_the_same_refusal(text: str) -> None:
    try:
        expected = _reference(text)
    except ValueError:
        with pytest.raises(ValueError):
            net_of(text)
    else:
        assert net_of(text) == expected
