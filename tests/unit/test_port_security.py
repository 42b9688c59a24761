"""Port security in the pipeline: a VNIC sends only as itself (MAC, and IP where it has one)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flows.driver import Context, TunnelEnd
from flows.pipeline import base_flows
from flows.sim import FakeSwitch, Packet
from flows.state import Member
from flows.vlan import segment_flows
from flows.vxlan import VxlanDriver
from topology.fabric import Fabric

DPID = 1
A = Member("pa", "va", "02:00:00:00:00:0a", DPID, 1, "10.0.0.2")
B = Member("pb", "vb", "02:00:00:00:00:0b", DPID, 2, "10.0.0.3")
N = Member("pn", "vn", "02:00:00:00:00:0c", DPID, 3)  # a network without an address range
M = Member("pm", "vm", "02:00:00:00:00:0d", DPID, 4)
BCAST = "ff:ff:ff:ff:ff:ff"


@pytest.fixture
def sw() -> FakeSwitch:
    s = FakeSwitch(DPID, [1, 2, 3, 4])
    s.install(base_flows() + segment_flows(100, [A, B], DPID) + segment_flows(200, [N, M], DPID))
    return s


def _out(sw: FakeSwitch, p: Packet) -> list[int]:
    return sorted(port for port, _ in sw.process(p))


def ip(src_ip: str, **kw: object) -> Packet:
    fields: dict[str, object] = {"in_port": 1, "eth_src": A.mac, "eth_dst": B.mac, "eth_type": 0x0800,
                                 "ipv4_src": src_ip, "ipv4_dst": "10.0.0.3", "ip_proto": 6}
    fields.update(kw)
    return Packet(**fields)  # type: ignore[arg-type]


def test_own_ip_passes_and_a_foreign_ip_does_not(sw: FakeSwitch) -> None:
    assert _out(sw, ip("10.0.0.2")) == [2]
    assert _out(sw, ip("10.0.0.3")) == []  # B's address
    assert _out(sw, ip("10.0.0.99")) == []  # nobody's


def test_arp_only_for_the_own_pair(sw: FakeSwitch) -> None:
    def arp(spa: str, sha: str) -> Packet:
        return Packet(1, A.mac, BCAST, eth_type=0x0806, arp_spa=spa, arp_sha=sha, arp_tpa="10.0.0.3")

    assert _out(sw, arp("10.0.0.2", A.mac)) == [2]
    assert _out(sw, arp("10.0.0.3", A.mac)) == []  # claims B's address
    assert _out(sw, arp("10.0.0.2", B.mac)) == []  # claims another hardware address


def test_dhcp_discover_from_nothing_passes_a_dhcp_server_answer_does_not(sw: FakeSwitch) -> None:
    discover = ip("0.0.0.0", eth_dst=BCAST, ipv4_dst="255.255.255.255", ip_proto=17, udp_src=68, udp_dst=67)
    assert _out(sw, discover) == [2]
    offer = ip("10.0.0.2", eth_dst=BCAST, ipv4_dst="255.255.255.255", ip_proto=17, udp_src=67, udp_dst=68)
    assert _out(sw, offer) == []
    other_from_nothing = ip("0.0.0.0", ip_proto=17, udp_src=5353, udp_dst=5353)
    assert _out(sw, other_from_nothing) == []


def test_other_ethertypes_need_no_address_range(sw: FakeSwitch) -> None:
    ipv6 = Packet(1, A.mac, B.mac, eth_type=0x86DD)
    assert _out(sw, ipv6) == []  # A has an address: only IPv4 from it, ARP and DHCP
    assert _out(sw, Packet(3, N.mac, M.mac, eth_type=0x86DD)) == [4]  # N has none: any ethertype
    offer = Packet(3, N.mac, BCAST, eth_type=0x0800, ipv4_src="192.0.2.1", ip_proto=17, udp_src=67, udp_dst=68)
    assert _out(sw, offer) == []  # no DHCP server answers from any VM


# --- allowed address pairs and port security off (Neutron's port attributes) ---------------------

P = Member("pp", "vp", "02:00:00:00:00:0e", DPID, 5, "10.0.0.4",
           pairs=(("02:00:00:00:00:0e", "10.0.0.50"), ("02:00:00:00:00:ee", "10.9.0.0/24"),
                  ("02:00:00:00:00:0e", "10.0.0.4")))
OPEN = Member("po", "vo", "02:00:00:00:00:0f", DPID, 6, "10.0.0.5", port_security=False)


@pytest.fixture
def sw2() -> FakeSwitch:
    s = FakeSwitch(DPID, [1, 2, 5, 6])
    s.install(base_flows() + segment_flows(100, [A, B, P, OPEN], DPID))
    return s


def _from(m: Member, mac: str, src_ip: str, **kw: object) -> Packet:
    fields: dict[str, object] = {"in_port": m.port_no, "eth_src": mac, "eth_dst": B.mac, "eth_type": 0x0800,
                                 "ipv4_src": src_ip, "ipv4_dst": "10.0.0.3", "ip_proto": 6}
    fields.update(kw)
    return Packet(**fields)  # type: ignore[arg-type]


def test_an_allowed_address_pair_is_admitted_and_nothing_more(sw2: FakeSwitch) -> None:
    assert _out(sw2, _from(P, P.mac, "10.0.0.4")) == [2]  # its own address still
    assert _out(sw2, _from(P, P.mac, "10.0.0.50")) == [2]  # a pair with its own MAC
    assert _out(sw2, _from(P, "02:00:00:00:00:ee", "10.9.0.77")) == [2]  # a pair network with another MAC
    assert _out(sw2, _from(P, "02:00:00:00:00:ee", "10.9.1.1")) == []  # outside the pair's network
    assert _out(sw2, _from(P, "02:00:00:00:00:ee", "10.0.0.50")) == []  # that address with the wrong MAC
    assert _out(sw2, _from(P, P.mac, "10.0.0.51")) == []
    arp = Packet(5, "02:00:00:00:00:ee", BCAST, eth_type=0x0806, arp_spa="10.9.0.5", arp_sha="02:00:00:00:00:ee",
                 arp_tpa="10.0.0.3")
    assert _out(sw2, arp) == [1, 2, 6]
    assert _out(sw2, replace(arp, arp_sha=P.mac)) == []  # claims another hardware address
    offer = _from(P, P.mac, "10.0.0.50", eth_dst=BCAST, ip_proto=17, udp_src=67, udp_dst=68)
    assert _out(sw2, offer) == []  # a pair does not make it a DHCP server


def test_a_port_without_port_security_sends_as_anything_untagged(sw2: FakeSwitch) -> None:
    assert _out(sw2, _from(OPEN, "02:12:34:56:78:9a", "192.0.2.9")) == [2]
    assert _out(sw2, Packet(6, A.mac, BCAST, eth_type=0x86DD)) == [1, 2, 5]  # even as another port
    offer = _from(OPEN, OPEN.mac, "10.0.0.5", eth_dst=BCAST, ip_proto=17, udp_src=67, udp_dst=68)
    assert _out(sw2, offer) == [1, 2, 5]  # it may run a DHCP server: Neutron's port security off does not stop it
    assert _out(sw2, Packet(6, OPEN.mac, B.mac, vlan_vid=100)) == []  # tagged frames still never enter


def test_pairs_and_port_security_round_trip_through_the_vxlan_driver() -> None:
    ctx = Context(Fabric([DPID], []), {DPID: TunnelEnd("192.0.2.1", 9)})
    flows = VxlanDriver().segment_flows(5000, [P, OPEN], DPID, ctx)
    s = FakeSwitch(DPID, [5, 6, 9])
    s.install(base_flows() + flows)
    assert _out(s, _from(P, "02:00:00:00:00:ee", "10.9.0.77", eth_dst=OPEN.mac)) == [6]
    assert _out(s, _from(P, "02:00:00:00:00:ee", "10.8.0.77", eth_dst=OPEN.mac)) == []
