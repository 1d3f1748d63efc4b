"""Who a caller is for its limits (api.requests.client_pseudonym): an IPv4 address, or an IPv6
/64 with its /56 and /48; IPv4 carried in IPv6 is that IPv4."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chalicelib.api.requests import client_pseudonym
from chalicelib.observability import hashed


def caller(address: str) -> SimpleNamespace:
    return SimpleNamespace(context={"identity": {"sourceIp": address}})


@pytest.mark.parametrize(
    "carried",
    [
        "::ffff:192.0.2.7",  # IPv4-mapped
        "2002:c000:207::1",  # 6to4: 2002:<IPv4>::/48
        "2001:0:4136:e378:8000:63bf:3fff:fdf8",  # Teredo: its client's IPv4 (192.0.2.7), inverted
    ],
)
def test_ipv4_carried_in_ipv6_is_that_ipv4(carried):
    assert client_pseudonym(caller(carried)) == client_pseudonym(caller("192.0.2.7")) == hashed("192.0.2.7")


def test_an_ipv6_caller_is_its_64_56_and_48():
    networks = client_pseudonym(caller("2001:db8:1:4203:a:b:c:d")).split(" ")
    assert networks == [
        hashed("2001:db8:1:4203::/64"),
        hashed("2001:db8:1:4200::/56"),
        hashed("2001:db8:1::/48"),
    ]
    neighbour = client_pseudonym(caller("2001:db8:1:42ff::1")).split(" ")  # same /56, another /64
    assert neighbour[0] != networks[0] and neighbour[1:] == networks[1:]


def test_an_address_that_is_none_is_still_one_client():
    assert client_pseudonym(caller("not an address")) == hashed("not an address")
    assert client_pseudonym(SimpleNamespace(context={})) == hashed("unknown")
