"""The gateway's answers on the switch and DHCP to the controller, run through the table simulator.

On the VNIC's own switch: ARP for the gateway comes back as a reply on the port it came in on, a
ping to the gateway comes back as an echo reply, DHCP goes to the controller (through the DHCP
meter) and nowhere else; nothing of it crosses into another network, on one switch, across a VLAN
fabric or between VXLAN hypervisors, even where two networks share a prefix and a gateway.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.driver import Context, TunnelEnd
from flows.explain import explain, role
from flows.model import GATEWAY_MAC, OFPP_CONTROLLER
from flows.pipeline import DHCP_METER, base_flows, gateway_flows
from flows.sim import FakeSwitch, Packet
from flows.state import Member
from flows.vlan import segment_flows
from flows.vxlan import VxlanDriver
from tests.fabricsim import FabricSim, leaf_spine, ring, wire
from tests.vxlansim import Hypervisor, VxlanSim
from topology.fabric import Fabric

DPID = 1
BCAST = "ff:ff:ff:ff:ff:ff"
GW = "10.0.0.1"
# Two networks with the same prefix and gateway (two tenants), and one without DHCP.
A = Member("pa", "va", "fa:16:3e:00:00:0a", DPID, 1, "10.0.0.2", gateway=GW, dhcp=True)
B = Member("pb", "vb", "fa:16:3e:00:00:0b", DPID, 2, "10.0.0.3", gateway=GW, dhcp=True)
C = Member("pc", "vc", "fa:16:3e:00:00:0c", DPID, 3, "10.0.0.2", gateway=GW, dhcp=True)  # other tenant, same address
D = Member("pd", "vd", "fa:16:3e:00:00:0d", DPID, 4, "10.0.0.2", gateway=GW)  # DHCP disabled
E = Member("pe", "ve", "fa:16:3e:00:00:0e", DPID, 5, "10.0.0.3", gateway=GW)
OPEN = Member("po", "vo", "fa:16:3e:00:00:0f", DPID, 6, "10.0.0.4", port_security=False, gateway=GW, dhcp=True)


def arp_for(m: Member, target: str = GW, **kw: object) -> Packet:
    fields: dict[str, object] = {"in_port": m.port_no, "eth_src": m.mac, "eth_dst": BCAST, "eth_type": 0x0806,
                                 "arp_op": 1, "arp_sha": m.mac, "arp_spa": m.ip, "arp_tha": "00:00:00:00:00:00",
                                 "arp_tpa": target}
    fields.update(kw)
    return Packet(**fields)  # type: ignore[arg-type]


def ping(m: Member, target: str = GW, **kw: object) -> Packet:
    fields: dict[str, object] = {"in_port": m.port_no, "eth_src": m.mac, "eth_dst": GATEWAY_MAC, "eth_type": 0x0800,
                                 "ipv4_src": m.ip, "ipv4_dst": target, "ip_proto": 1, "icmpv4_type": 8}
    fields.update(kw)
    return Packet(**fields)  # type: ignore[arg-type]


def dhcp(m: Member, src: str = "0.0.0.0", **kw: object) -> Packet:
    fields: dict[str, object] = {"in_port": m.port_no, "eth_src": m.mac, "eth_dst": BCAST, "eth_type": 0x0800,
                                 "ipv4_src": src, "ipv4_dst": "255.255.255.255", "ip_proto": 17, "udp_src": 68,
                                 "udp_dst": 67}
    fields.update(kw)
    return Packet(**fields)  # type: ignore[arg-type]


@pytest.fixture
def sw() -> FakeSwitch:
    s = FakeSwitch(DPID, [1, 2, 3, 4, 5, 6])
    s.install(base_flows() + segment_flows(100, [A, B, OPEN], DPID, dhcp_meter=DHCP_METER)
              + segment_flows(200, [C], DPID, dhcp_meter=DHCP_METER) + segment_flows(300, [D, E], DPID))
    return s


def test_arp_for_the_gateway_is_answered_in_place_on_the_same_port(sw: FakeSwitch) -> None:
    out = sw.process(arp_for(A))
    assert out == [(A.port_no, Packet(
        in_port=A.port_no, eth_src=GATEWAY_MAC, eth_dst=A.mac, eth_type=0x0806, arp_op=2, arp_sha=GATEWAY_MAC,
        arp_spa=GW, arp_tha=A.mac, arp_tpa=A.ip,
    ))]
    # A refresh sent to the gateway's MAC is answered as well.
    assert [p for p, _ in sw.process(arp_for(A, eth_dst=GATEWAY_MAC))] == [A.port_no]


def test_ping_to_the_gateway_is_answered_in_place(sw: FakeSwitch) -> None:
    out = sw.process(ping(A))
    assert out == [(A.port_no, Packet(
        in_port=A.port_no, eth_src=GATEWAY_MAC, eth_dst=A.mac, eth_type=0x0800, ipv4_src=GW, ipv4_dst=A.ip,
        ip_proto=1, icmpv4_type=0,
    ))]


def test_each_network_is_answered_on_its_own_port_even_with_the_same_prefix(sw: FakeSwitch) -> None:
    for m in (A, B, C, D, E, OPEN):
        assert [p for p, _ in sw.process(arp_for(m))] == [m.port_no], m
        assert [p for p, _ in sw.process(ping(m))] == [m.port_no], m


def test_dhcp_goes_to_the_controller_through_the_meter_and_nowhere_else(sw: FakeSwitch) -> None:
    for m in (A, B, C, OPEN):
        for frame in (dhcp(m), dhcp(m, src=m.ip or "", ipv4_dst=GW, eth_dst=GATEWAY_MAC)):
            visit = sw.visit(frame)
            assert [p for p, _ in visit.outputs] == [OFPP_CONTROLLER], m
            assert visit.lookups[-1].flow is not None and visit.lookups[-1].flow.meter == DHCP_METER


def test_without_dhcp_the_request_stays_in_its_network_as_before(sw: FakeSwitch) -> None:
    assert [p for p, _ in sw.process(dhcp(D))] == [E.port_no]


def test_a_request_not_from_the_vnics_own_identity_gets_no_answer(sw: FakeSwitch) -> None:
    assert sw.process(arp_for(A, arp_spa="10.0.0.9")) == []  # claims another address: anti-spoofing drops it
    assert sw.process(arp_for(A, eth_src=B.mac)) == []
    assert all(f.eth_src == A.mac for _, f in sw.process(arp_for(A, arp_op=2)))  # a reply is not answered
    assert sw.process(ping(A, eth_src=B.mac)) == []
    assert sw.process(ping(A, ipv4_src="10.0.0.9")) == []
    assert sw.process(dhcp(A, eth_src=B.mac)) == []  # another MAC on A's port
    assert sw.process(Packet(1, A.mac, BCAST, vlan_vid=100, eth_type=0x0800, ipv4_src="0.0.0.0",
                             ipv4_dst="255.255.255.255", ip_proto=17, udp_src=68, udp_dst=67)) == []  # tagged


def test_other_traffic_to_the_gateway_is_not_answered_and_ping_replies_are_not_made_of_replies(sw: FakeSwitch) -> None:
    # An echo reply towards the gateway is admitted as any IPv4 from A (routing is the nat extension's), not turned.
    out = sw.process(ping(A, icmpv4_type=0))
    assert all(f.eth_src == A.mac for _, f in out)
    # ARP for another VNIC is not answered on the switch: it is flooded in the network, as before.
    assert sorted(p for p, _ in sw.process(arp_for(A, target=B.ip or ""))) == [B.port_no, OPEN.port_no]


def test_no_gateway_or_no_address_means_no_answers() -> None:
    assert gateway_flows(replace(A, gateway=None), 1) == []
    assert gateway_flows(replace(A, ip=None), 1) == []
    flows = gateway_flows(replace(A, dhcp=False), 1)
    assert {role(f) for f in flows} == {"gateway"}


def test_the_flows_are_told_in_words() -> None:
    words = sorted(explain(f) for f in gateway_flows(A, 7, DHCP_METER))
    assert words == [
        f"DHCP from {A.mac} on port 1 to the controller (through meter {DHCP_METER}), which answers it",
        f"answer ARP for the gateway {GW} from {A.mac} back on port 1",
        f"answer ping for the gateway {GW} from {A.mac} back on port 1",
    ]


# -- over generated fabrics and hypervisors: nothing crosses networks ---------------------------------------

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _members(switches: list[int], n_networks: int, data: st.DataObject, first_port: int) -> dict[int, list[Member]]:
    """Networks 100.. with members on the given switches, all with the prefix 10.0.0.0/24 and gateway .1."""
    nets: dict[int, list[Member]] = {}
    port = first_port
    for k in range(n_networks):
        ms = []
        for i, dpid in enumerate(data.draw(st.lists(st.sampled_from(switches), min_size=1, max_size=4))):
            ms.append(Member(f"p{k}-{i}", f"v{k}-{i}", f"fa:16:3e:00:{k:02x}:{i:02x}", dpid, port, f"10.0.0.{2 + i}",
                             gateway=GW, dhcp=data.draw(st.booleans())))
            port += 1
        nets[100 + k] = ms
    return nets


def _check_answers(send: object, nets: dict[int, list[Member]]) -> None:
    for ms in nets.values():
        for m in ms:
            for frame in (arp_for(m), ping(m)):
                delivered = send(m, frame)  # type: ignore[operator]
                assert {k: len(v) for k, v in delivered.items()} == {(m.datapath_id, m.port_no): 1}, (m, frame)


@pytest.mark.parametrize("pairs", [ring(4), leaf_spine(2, 3)], ids=["ring of 4", "leaf-spine 2x3"])
@SETTINGS
@given(data=st.data())
def test_on_vlan_fabrics_answers_stay_on_the_asking_port_and_dhcp_reaches_only_the_controller(
        pairs: list[tuple[int, int]], data: st.DataObject) -> None:
    links = wire(pairs)
    switches = sorted({d for lk in links for d in (lk.a.datapath_id, lk.b.datapath_id)})
    nets = _members(switches, 2, data, first_port=20)
    ports = {d: {m.port_no for ms in nets.values() for m in ms if m.datapath_id == d} for d in switches}
    sim = FabricSim(ports, links, nets)

    def send(m: Member, frame: Packet) -> dict[tuple[int, int], list[Packet]]:
        return sim.send(m.datapath_id, m.port_no, frame)

    _check_answers(send, nets)
    for ms in nets.values():
        for m in ms:
            delivered = send(m, dhcp(m))
            if m.dhcp:
                assert delivered == {} and not sim.crossings
                assert [(d, f.in_port) for d, f in sim.trace] == [(m.datapath_id, m.port_no)]
            else:
                ours = {(o.datapath_id, o.port_no) for o in ms}
                assert set(delivered) <= ours  # within its own network only


@SETTINGS
@given(data=st.data())
def test_between_vxlan_hypervisors_answers_stay_on_the_asking_port_and_dhcp_never_enters_a_tunnel(
        data: st.DataObject) -> None:
    hvs = [Hypervisor.of(d, f"192.0.2.{d}", 9, range(20, 40)) for d in (1, 2, 3)]
    nets = _members([1, 2, 3], 3, data, first_port=20)
    driver = VxlanDriver()
    sim = VxlanSim(hvs, {}, driver)
    sim.ctx = Context(sim.ctx.fabric, sim.ctx.tunnels, DHCP_METER)
    sim.compile(nets)

    def send(m: Member, frame: Packet) -> dict[tuple[int, int], list[Packet]]:
        return sim.send(m.datapath_id, m.port_no, frame)

    _check_answers(send, nets)
    for ms in nets.values():
        for m in ms:
            delivered = send(m, dhcp(m))
            if m.dhcp:
                assert delivered == {} and sim.crossings == []


def test_the_vxlan_driver_meters_dhcp_only_where_the_switch_has_the_meter() -> None:
    tunnels = {1: TunnelEnd("192.0.2.1", 9)}
    for meter in (None, DHCP_METER):
        flows = VxlanDriver().segment_flows(5000, [A], DPID, Context(Fabric([1], []), tunnels, meter))
        assert [f.meter for f in flows if role(f) == "dhcp"] == [meter]


def test_no_vnic_may_have_the_gateways_mac(tmp_path: Path) -> None:
    from sdnapp import errors
    from tests.unit.test_reconciler import ADMIN, make_world

    w = make_world(str(tmp_path / "g.db"), FakeSwitch(DPID, [1]))
    try:
        for mac in (GATEWAY_MAC, GATEWAY_MAC.upper()):
            with pytest.raises(errors.MacAddressInUse, match="gateway"):
                w.svc.create_vnic(ADMIN, mac)
        assert w.svc.list_vnics(ADMIN) == []
    finally:
        w.store.close()
