"""One source for each constant: where a library also defines it, the two agree."""

from __future__ import annotations

from os_ken.ofproto import ofproto_v1_3

from rest.auth import AUTHENTICATORS
from sdnapp.config import AUTH_STRATEGIES
from topology.switches import MAX_PORT_NO


def test_the_highest_port_number_is_openflow_13s() -> None:
    assert MAX_PORT_NO == ofproto_v1_3.OFPP_MAX


def test_each_auth_strategy_has_one_authenticator() -> None:
    assert set(AUTHENTICATORS) == set(AUTH_STRATEGIES)
