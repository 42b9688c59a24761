"""The shared walk (`flows.trace.follow`) and its verdicts (`judge`), on compiled VLAN fabrics and VXLAN hypervisors.

The walk is what the isolation properties run on (tests/fabricsim.py, tests/vxlansim.py); here the
hop-by-hop record it keeps and the verdicts `sdnapp trace` gives are checked on small named layouts.
"""

from __future__ import annotations

import pytest

from flows.explain import concerning, explain, role
from flows.model import Flow, Output, SetField, match
from flows.pipeline import (
    DHCP_CLIENT,
    DHCP_SERVER,
    ETH_IPV4,
    IPPROTO_UDP,
    LLDP_ETH_TYPE,
    LLDP_NEAREST_BRIDGE,
    PRIO_GUARD,
    PRIO_MISS,
    TABLE_FORWARD,
    TABLE_INGRESS,
    base_flows,
    cookie_for,
)
from flows.sim import FakeSwitch, Packet
from flows.state import Member
from flows.trace import (
    ANTI_SPOOFING,
    ISOLATION,
    NO_BINDING,
    TABLE_MISS,
    ForwardingLoop,
    Target,
    TunnelPort,
    Wiring,
    admitted_segment,
    follow,
    judge,
)
from tests.fabricsim import FabricSim, line, wire
from tests.vxlansim import Hypervisor, VxlanSim

RED, BLUE = 10, 20


def member(name: str, n: int, dpid: int, port: int, ip: str | None = None) -> Member:
    return Member(f"p-{name}", f"v-{name}", f"02:00:00:00:00:{n:02x}", dpid, port, ip)


# A line of three switches: red on switches 1 and 3 (crossing 2), blue on 1 and 2.
A = member("a", 1, 1, 10, "10.0.0.2")
B = member("b", 2, 3, 10, "10.0.0.3")
C = member("c", 3, 1, 11)
D = member("d", 4, 2, 11)
IDLE = 12  # a port of switch 1 with no VNIC bound


def line3() -> FabricSim:
    ports = {1: {10, 11, IDLE}, 2: {11}, 3: {10}}
    return FabricSim(ports, wire(line(3)), {RED: [A, B], BLUE: [C, D]})


def target(m: Member, segment: int) -> Target:
    return Target(m.mac, (m.datapath_id, m.port_no), segment)


def ipv4(m: Member, dst: Member, **over: object) -> Packet:
    fields: dict[str, object] = {"in_port": m.port_no, "eth_src": m.mac, "eth_dst": dst.mac, "eth_type": ETH_IPV4,
                                 "ipv4_src": m.ip, "ipv4_dst": dst.ip}
    fields.update(over)
    return Packet(**fields)  # type: ignore[arg-type]


def test_a_delivered_frame_is_told_hop_by_hop() -> None:
    sim = line3()
    walk = follow(sim.switches, sim.wiring, 1, ipv4(A, B))
    assert [h.datapath_id for h in walk.hops] == [1, 2, 3]
    assert [h.parent for h in walk.hops] == [None, 0, 1]
    first = walk.hops[0]
    assert [lk.table for lk in first.lookups] == [TABLE_INGRESS, TABLE_FORWARD]
    assert first.lookups[0].flow is not None and dict(first.lookups[0].flow.match)["eth_src"] == A.mac
    assert first.lookups[1].frame.vlan_vid == RED  # table 1 saw the frame as table 0 tagged it
    [e] = first.emits
    assert (e.kind, e.next_hop, e.frame.vlan_vid) == ("link", 1, RED)
    assert walk.hops[1].frame.in_port == e.to[1]  # type: ignore[index]
    [last] = walk.hops[2].emits
    assert (last.kind, last.port, last.frame.vlan_vid) == ("port", B.port_no, None)
    assert admitted_segment(walk) == RED
    v = judge(walk, target(B, RED), source_bound=True)
    assert (v.outcome, v.rule, v.at, v.hop) == ("delivered", None, (3, B.port_no), 2)


def test_another_networks_vnic_is_isolation() -> None:
    sim = line3()
    walk = follow(sim.switches, sim.wiring, 1, ipv4(A, D, ipv4_dst=None))
    assert (3, B.port_no) in walk.delivered()  # flooded, as unknown unicast, in red only
    assert (2, D.port_no) not in walk.delivered()
    v = judge(walk, target(D, BLUE), source_bound=True)
    assert (v.outcome, v.rule) == ("dropped", ISOLATION)
    assert "another network" in v.reason


@pytest.mark.parametrize(
    "over",
    [
        {"eth_src": C.mac},  # another VNIC's MAC
        {"ipv4_src": "10.0.0.3"},  # another VNIC's address
        {"vlan_vid": BLUE},  # tagged
    ],
    ids=["mac", "ip", "tagged"],
)
def test_spoofed_frames_are_anti_spoofing_at_the_first_switch(over: dict[str, object]) -> None:
    sim = line3()
    walk = follow(sim.switches, sim.wiring, 1, ipv4(A, B, **over))
    assert len(walk.hops) == 1 and not walk.hops[0].emits
    v = judge(walk, target(B, RED), source_bound=True)
    assert (v.outcome, v.rule, v.hop) == ("dropped", ANTI_SPOOFING, 0)
    assert v.flow is not None and (v.flow.table, v.flow.priority) == (TABLE_INGRESS, PRIO_MISS)


def test_a_dhcp_server_answer_from_a_vm_is_anti_spoofing_by_the_guard() -> None:
    sim = line3()
    frame = ipv4(A, B, ip_proto=IPPROTO_UDP, udp_src=DHCP_SERVER, udp_dst=DHCP_CLIENT)
    v = judge(follow(sim.switches, sim.wiring, 1, frame), target(B, RED), source_bound=True)
    assert (v.rule, v.flow.priority if v.flow else None) == (ANTI_SPOOFING, PRIO_GUARD)
    assert "DHCP" in v.reason


def test_a_port_with_no_vnic_is_no_binding() -> None:
    sim = line3()
    frame = Packet(in_port=IDLE, eth_src="02:00:00:00:00:99", eth_dst=B.mac)
    v = judge(follow(sim.switches, sim.wiring, 1, frame), target(B, RED), source_bound=False)
    assert (v.outcome, v.rule) == ("dropped", NO_BINDING)


def test_an_address_nobody_has_is_no_binding() -> None:
    sim = line3()
    walk = follow(sim.switches, sim.wiring, 1, ipv4(A, B, eth_dst="02:00:00:00:00:77"))
    v = judge(walk, Target("02:00:00:00:00:77"), source_bound=True)
    assert (v.outcome, v.rule) == ("dropped", NO_BINDING)


def test_a_broadcast_is_delivered_to_every_port_of_its_network() -> None:
    sim = line3()
    walk = follow(sim.switches, sim.wiring, 1, ipv4(A, B, eth_dst="ff:ff:ff:ff:ff:ff"))
    v = judge(walk, Target("ff:ff:ff:ff:ff:ff"), source_bound=True)
    assert v.outcome == "delivered" and "1 port(s)" in v.reason and set(walk.delivered()) == {(3, B.port_no)}


def test_no_flow_at_all_is_a_table_miss() -> None:
    bare = {1: FakeSwitch(1, {1, 2})}
    walk = follow(bare, Wiring.of(), 1, Packet(in_port=1, eth_src="02:00:00:00:00:01", eth_dst="02:00:00:00:00:02"))
    [lk] = walk.hops[0].lookups
    assert lk.flow is None
    v = judge(walk, Target("02:00:00:00:00:02", (1, 2), RED), source_bound=True)
    assert (v.outcome, v.rule, v.flow) == ("dropped", TABLE_MISS, None)


def test_a_frame_admitted_but_with_no_way_on_is_a_table_miss() -> None:
    sw = FakeSwitch(1, {1, 2})
    sw.install(base_flows())
    admit = Flow(TABLE_INGRESS, 100, match(in_port=1), goto=TABLE_FORWARD, cookie=cookie_for(RED))
    sw.install([admit])
    walk = follow({1: sw}, Wiring.of(), 1, Packet(in_port=1, eth_src="02:00:00:00:00:01", eth_dst="02:00:00:00:00:02"))
    v = judge(walk, Target("02:00:00:00:00:02", (1, 2), RED), source_bound=True)
    assert (v.rule, v.flow.table if v.flow else None) == (TABLE_MISS, TABLE_FORWARD)


def test_lldp_goes_to_the_controller() -> None:
    sw = FakeSwitch(1, {1})
    sw.install(base_flows(lldp=True))
    frame = Packet(in_port=1, eth_src="02:00:00:00:00:01", eth_dst=LLDP_NEAREST_BRIDGE, eth_type=LLDP_ETH_TYPE)
    walk = follow({1: sw}, Wiring.of(), 1, frame)
    assert [e.kind for e in walk.hops[0].emits] == ["controller"]
    assert judge(walk, Target(LLDP_NEAREST_BRIDGE), source_bound=False).outcome == "controller"


def test_vxlan_crosses_a_tunnel_and_keeps_vnis_apart() -> None:
    a = member("a", 1, 1, 5)
    b = member("b", 2, 2, 5)
    c = member("c", 3, 2, 6)
    sim = VxlanSim([Hypervisor.of(1, "192.0.2.1", 9, {5}), Hypervisor.of(2, "192.0.2.2", 9, {5, 6})],
                   {1000: [a, b], 2000: [c]})
    walk = follow(sim.switches, sim.wiring, 1, Packet(in_port=5, eth_src=a.mac, eth_dst=b.mac))
    kinds = [e.kind for h in walk.hops for e in h.emits]
    assert kinds == ["tunnel", "port"]
    arrived = walk.hops[1].frame
    assert (arrived.tunnel_id, arrived.tun_ipv4_src, arrived.tun_ipv4_dst, arrived.in_port) == (1000, "192.0.2.1",
                                                                                                 None, 9)
    assert judge(walk, target(b, 1000), source_bound=True).outcome == "delivered"
    walk = follow(sim.switches, sim.wiring, 1, Packet(in_port=5, eth_src=a.mac, eth_dst=c.mac))
    assert judge(walk, target(c, 2000), source_bound=True).rule == ISOLATION


def test_a_tunnel_towards_an_address_nobody_has_is_lost() -> None:
    sw = FakeSwitch(1, {5, 9})
    sw.install([Flow(TABLE_INGRESS, 1, match(), (SetField("tun_ipv4_dst", "192.0.2.99"), Output(9)))])
    walk = follow({1: sw}, Wiring.of((), {1: TunnelPort(9, "192.0.2.1")}), 1,
                  Packet(in_port=5, eth_src="02:00:00:00:00:01", eth_dst="02:00:00:00:00:02"))
    assert [e.kind for e in walk.hops[0].emits] == ["lost"]


def test_a_loop_raises_and_does_not_hang() -> None:
    sim = FabricSim({d: {9} for d in (1, 2, 3)}, wire([(1, 2), (2, 3), (3, 1)]))
    for sw in sim.switches.values():
        sw.flows.clear()
        sw.install([Flow(TABLE_INGRESS, 1, match(), tuple(Output(p) for p in sorted(sw.port_nos)))])
    with pytest.raises(ForwardingLoop):
        follow(sim.switches, sim.wiring, 1, Packet(in_port=9, eth_src="02:00:00:00:00:01", eth_dst="ff:ff:ff:ff:ff:ff"))


def test_wiring_refuses_a_port_cabled_twice_and_a_shared_tunnel_address() -> None:
    links = wire([(1, 2)]) + wire([(1, 3)])  # both use port 1 of switch 1
    with pytest.raises(ValueError, match="cabled twice"):
        Wiring.of(links)
    with pytest.raises(ValueError, match="share"):
        Wiring.of((), {1: TunnelPort(9, "192.0.2.1"), 2: TunnelPort(9, "192.0.2.1")})


def test_flows_are_told_in_words_on_both_drivers() -> None:
    sim = line3()
    words = {role(f): explain(f) for f in sim.switches[1].all_flows() if dict(f.match).get("in_port") == A.port_no
             or dict(f.match).get("eth_dst") == A.mac or role(f) in ("flood", "miss", "trunk")}
    assert words["admit"].startswith("admit untagged") and "into VLAN 10" in words["admit"]
    assert words["guard"].startswith("drop DHCP server answers from port 10")
    assert words["deliver"] == f"deliver {A.mac} of VLAN 10 to port 10 untagged"
    assert words["trunk"].startswith("admit VLAN") and "tagged from trunk port" in words["trunk"]
    assert "flood VLAN" in words["flood"] and "tagged on trunk port" in words["flood"]
    got = concerning(A, {d: sw.all_flows() for d, sw in sim.switches.items()})
    assert {(d, role(f)) for d, f in got} >= {(1, "admit"), (1, "guard"), (1, "deliver"), (2, "forward"),
                                              (3, "forward")}

    a, b = member("a", 1, 1, 5), member("b", 2, 2, 5)
    vx = VxlanSim([Hypervisor.of(1, "192.0.2.1", 9, {5}), Hypervisor.of(2, "192.0.2.2", 9, {5})], {1000: [a, b]})
    told = {role(f): explain(f) for f in vx.switches[1].all_flows()}
    assert told["tunnel"] == f"send {b.mac} of VNI 1000 through the tunnel to 192.0.2.2"
    assert told["trunk"] == "admit VNI 1000 from hypervisor 192.0.2.2 on tunnel port 9"
    assert told["flood"].endswith("to port 5; through the tunnel to 192.0.2.2")
    assert told["deliver"] == f"deliver {a.mac} of VNI 1000 to port 5"



def test_allowed_address_pairs_and_a_port_without_port_security_are_told_in_words() -> None:
    from flows.pipeline import access_flows

    pairs = Member("pp", "vp", "02:00:00:00:00:0e", 1, 5, "10.0.0.4", pairs=(("02:00:00:00:00:ee", "10.9.0.0/24"),))
    open_ = Member("po", "vo", "02:00:00:00:00:0f", 1, 6, "10.0.0.5", port_security=False)
    admit = (SetField("tunnel_id", 1000),)
    told = [explain(f) for f in access_flows(pairs, admit, 7) if role(f) == "admit"]
    assert "admit untagged IPv4 from 10.9.0.0/24 with source 02:00:00:00:00:ee from port 5 into VNI 1000" in told
    assert "admit untagged ARP for 10.9.0.0/24 at 02:00:00:00:00:ee with source 02:00:00:00:00:ee from port 5 " \
        "into VNI 1000" in told
    (f,) = access_flows(open_, admit, 7)
    assert (role(f), explain(f)) == ("admit", "admit untagged frames with any source (no port security) from port 6 "
                                     "into VNI 1000")
