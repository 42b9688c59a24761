"""The gateway's routing and conntrack NAT (flows.nat), proved with the table simulator over generated
topologies, for both isolation drivers: every switch holds what the reconciler would give it (base
flows, the gateway's own flows, each network's driver flows with its router, each NATed network's NAT
flows), and frames are followed across links and tunnels (flows.trace) through the simulated
connection tracker of the gateway.

Every network uses the same range (10.0.0.0/24) and the same host addresses, so anything that leaked
between networks would be delivered. Properties:
- a VM's packet to the outside leaves the uplink once, to the next hop, from its floating address or
  else its network's external address, TTL decremented; nothing else sees it;
- the answer from outside reaches only the VNIC that sent, rewritten for it;
- a new connection from outside reaches a floating address's port, and only it; a network's external
  address and every other address are closed;
- a VM reaches another network only by a floating address (a hairpin through the gateway), never by a
  private address, and the answer comes back to it alone.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.driver import Context, Driver, TunnelEnd
from flows.model import GATEWAY_MAC, Ct, DecTtl, Flow
from flows.nat import Gateway, gateway_base_flows, nat_flows, with_router, zone_of
from flows.pipeline import BASE_PARTITION, base_flows, cookie_for
from flows.sim import FakeSwitch, Packet
from flows.state import Member, NatState, SegmentState
from flows.trace import TunnelPort, Wiring, follow
from flows.vlan import VlanDriver
from flows.vxlan import VxlanDriver
from tests.fabricsim import link_ports, wire
from topology.fabric import Fabric

from .test_ofmsg import assert_round_trips

PREFIX = "10.0.0.0/24"
POOL = ("203.0.113.10", "203.0.113.60")
NEXT_HOP, NEXT_HOP_MAC = "203.0.113.1", "0a:00:00:00:00:fe"
OUTSIDE = "198.51.100.7"  # a host beyond the next hop
UPLINK = 50
TUNNEL = 1


def mac(n: int) -> str:
    return ":".join(f"{b:02x}" for b in (0x0A, 0, 0, 0, n >> 8 & 0xFF, n & 0xFF))


@dataclass
class Net:
    segment: int
    members: list[Member]
    external: str
    floating: dict[str, str]  # port address -> floating address

    @property
    def state(self) -> SegmentState:
        nat = NatState(zone_of(self.external, POOL), PREFIX, self.external, tuple(sorted(self.floating.items())))
        return SegmentState(self.segment, tuple(self.members), nat)


@dataclass
class World:
    switches: dict[int, FakeSwitch]
    wiring: Wiring
    gateway: Gateway
    nets: list[Net]

    def send(self, m: Member, dst: str, sport: int, eth_dst: str = GATEWAY_MAC) -> list[tuple[int, int, Packet]]:
        p = Packet(m.port_no, m.mac, eth_dst, eth_type=0x0800, ipv4_src=m.ip, ipv4_dst=dst, ip_proto=17,
                   udp_src=sport, udp_dst=80)
        return self.delivered(m.datapath_id, p)

    def from_outside(self, src: str, dst: str, sport: int, dport: int) -> list[tuple[int, int, Packet]]:
        p = Packet(UPLINK, NEXT_HOP_MAC, GATEWAY_MAC, eth_type=0x0800, ipv4_src=src, ipv4_dst=dst, ip_proto=17,
                   udp_src=sport, udp_dst=dport)
        return self.delivered(self.gateway.datapath_id, p)

    def delivered(self, dpid: int, p: Packet) -> list[tuple[int, int, Packet]]:
        """Where copies of the frame left the fabric: (switch, port, frame), links and tunnels crossed."""
        walk = follow(self.switches, self.wiring, dpid, p)
        return [(h.datapath_id, e.port, e.frame) for h in walk.hops for e in h.emits if e.kind == "port"]


def build(driver: Driver, ctx: Context, ports: dict[int, set[int]], wiring: Wiring, gw: Gateway,
          nets: list[Net]) -> World:
    switches = {d: FakeSwitch(d, ps) for d, ps in ports.items()}
    for d, sw in switches.items():
        sw.install(base_flows())
        if d == gw.datapath_id:
            sw.install(gateway_base_flows(gw, cookie_for(BASE_PARTITION)))
        for n in nets:
            members = with_router(n.state, gw)
            sw.install(driver.segment_flows(n.segment, members, d, ctx))
            sw.install(nat_flows(n.state, d, gw, driver, ctx, cookie_for(n.segment)))
    return World(switches, wiring, gw, nets)


@st.composite
def networks(draw: st.DrawFn, slots: list[tuple[int, int]], segments: st.SearchStrategy[int]) -> list[Net]:
    """1-3 NATed networks, all 10.0.0.0/24 with the same host addresses, on random switch ports, some ports
    with floating addresses; every outside address distinct."""
    n = draw(st.integers(1, 3))
    segs = draw(st.lists(segments, min_size=n, max_size=n, unique=True))
    where = draw(st.lists(st.sampled_from(slots), min_size=1, max_size=min(7, len(slots)), unique=True))
    which = draw(st.lists(st.integers(0, n - 1), min_size=len(where), max_size=len(where)))
    outside = iter(str(ipaddress.IPv4Address(POOL[0]) + i) for i in draw(st.permutations(range(20))))
    nets = [Net(s, [], next(outside), {}) for s in segs]
    for i, ((d, p), k) in enumerate(zip(where, which, strict=True)):
        net = nets[k]
        ip = f"10.0.0.{len(net.members) + 2}"
        net.members.append(Member(f"p{i}", f"v{i}", mac(i + 1), d, p, ip))
        if draw(st.booleans()):
            net.floating[ip] = next(outside)
    return nets


@st.composite
def vlan_worlds(draw: st.DrawFn) -> World:
    n = draw(st.integers(1, 5))
    dpids = list(range(1, n + 1))
    pairs = [(dpids[i], dpids[draw(st.integers(0, i - 1))]) for i in range(1, n)]
    links = wire(pairs)
    trunks = link_ports(links)
    gw_dpid = draw(st.sampled_from(dpids))
    slots = [(d, p) for d in dpids for p in (100, 101, 102)]
    nets = draw(networks(slots, st.integers(100, 4000)))
    ports = {d: trunks.get(d, set()) | {100, 101, 102} | ({UPLINK} if d == gw_dpid else set()) for d in dpids}
    fabric = Fabric(dpids, links)
    gw = Gateway(gw_dpid, UPLINK, NEXT_HOP, NEXT_HOP_MAC)
    return build(VlanDriver(), Context(fabric), ports, Wiring.of(fabric.links), gw, nets)


@st.composite
def vxlan_worlds(draw: st.DrawFn) -> World:
    n = draw(st.integers(1, 4))
    hypervisors = list(range(1, n + 1))
    gw_dpid = 100
    ends = {d: TunnelEnd(f"192.0.2.{d}", TUNNEL) for d in [*hypervisors, gw_dpid]}
    slots = [(d, p) for d in hypervisors for p in (10, 11, 12)]
    nets = draw(networks(slots, st.integers(1000, 99999)))
    ports = {d: {TUNNEL, 10, 11, 12} for d in hypervisors} | {gw_dpid: {TUNNEL, UPLINK}}
    ctx = Context(Fabric([*hypervisors, gw_dpid], []), ends)
    wiring = Wiring.of((), {d: TunnelPort(e.port_no or 0, e.ip) for d, e in ends.items()})
    gw = Gateway(gw_dpid, UPLINK, NEXT_HOP, NEXT_HOP_MAC)
    return build(VxlanDriver(), ctx, ports, wiring, gw, nets)


def check(w: World) -> None:
    gw = w.gateway.datapath_id
    sport = 1000
    for net in w.nets:
        for m in net.members:
            assert m.ip is not None
            sport += 1
            source = net.floating.get(m.ip, net.external)
            # Out: once, from the uplink, translated, to the next hop, TTL decremented.
            out = w.send(m, OUTSIDE, sport)
            assert [(d, port) for d, port, _ in out] == [(gw, UPLINK)], out
            frame = out[0][2]
            assert (frame.ipv4_src, frame.ipv4_dst, frame.eth_src, frame.eth_dst) == (
                source, OUTSIDE, GATEWAY_MAC, NEXT_HOP_MAC)
            assert frame.ip_ttl == 63 and frame.vlan_vid is None
            # Back: the answer reaches the sender alone, rewritten for it.
            back = w.from_outside(OUTSIDE, source, 80, sport)
            assert [(d, port) for d, port, _ in back] == [(m.datapath_id, m.port_no)], back
            answer = back[0][2]
            assert (answer.ipv4_src, answer.ipv4_dst, answer.eth_src, answer.eth_dst, answer.vlan_vid) == (
                OUTSIDE, m.ip, GATEWAY_MAC, m.mac, None)
            # A private address of any network is never reached: the own range is dropped at the router,
            # and any other leaves for the outside.
            for other in w.nets:
                for o in other.members:
                    assert o.ip is not None
                    assert w.send(m, o.ip, sport + 5000) == []
    # From outside: new connections reach a floating address's port alone; nothing else is open.
    for net in w.nets:
        assert w.from_outside(OUTSIDE, net.external, 4000, 22) == []
        for m in net.members:
            assert m.ip is not None
            fa = net.floating.get(m.ip)
            if fa is None:
                continue
            got = w.from_outside(OUTSIDE, fa, 4001, 22)
            assert [(d, port, f.ipv4_dst) for d, port, f in got] == [(m.datapath_id, m.port_no, m.ip)], got
    for free in ("203.0.113.59", "10.0.0.2", NEXT_HOP):
        assert w.from_outside(OUTSIDE, free, 4002, 22) == []
    # Hairpin: a VM reaches another network's floating address through the gateway, seen as its own
    # outside address; the answer finds its way back to it alone.
    sport = 7000
    for a_net in w.nets:
        for a in a_net.members:
            for b_net in w.nets:
                for b in b_net.members:
                    assert a.ip is not None and b.ip is not None
                    fa = b_net.floating.get(b.ip)
                    if fa is None or b_net is a_net:
                        continue
                    sport += 1
                    there = w.send(a, fa, sport)
                    assert [(d, port) for d, port, _ in there] == [(b.datapath_id, b.port_no)], there
                    seen_as = a_net.floating.get(a.ip, a_net.external)
                    assert (there[0][2].ipv4_src, there[0][2].ipv4_dst) == (seen_as, b.ip)
                    answer = Packet(b.port_no, b.mac, GATEWAY_MAC, eth_type=0x0800, ipv4_src=b.ip, ipv4_dst=seen_as,
                                    ip_proto=17, udp_src=80, udp_dst=sport)
                    back = w.delivered(b.datapath_id, answer)
                    assert [(d, port, f.ipv4_src, f.ipv4_dst) for d, port, f in back] == [
                        (a.datapath_id, a.port_no, fa, a.ip)], back


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(vlan_worlds())
def test_nat_over_generated_vlan_fabrics(w: World) -> None:
    check(w)


@SETTINGS
@given(vxlan_worlds())
def test_nat_over_generated_vxlan_hypervisors(w: World) -> None:
    check(w)


def test_a_floating_address_maps_to_exactly_one_port() -> None:
    """Two networks with the same range and host addresses: each floating address reaches its own port."""
    gw = Gateway(1, UPLINK, NEXT_HOP, NEXT_HOP_MAC)
    a = Net(100, [Member("pa", "va", mac(1), 1, 100, "10.0.0.2")], "203.0.113.10", {"10.0.0.2": "203.0.113.20"})
    b = Net(200, [Member("pb", "vb", mac(2), 1, 101, "10.0.0.2")], "203.0.113.11", {"10.0.0.2": "203.0.113.21"})
    w = build(VlanDriver(), Context(Fabric([1], [])), {1: {100, 101, UPLINK}}, Wiring.of(()), gw, [a, b])
    assert [(p, f.ipv4_dst) for _, p, f in w.from_outside(OUTSIDE, "203.0.113.20", 5, 22)] == [(100, "10.0.0.2")]
    assert [(p, f.ipv4_dst) for _, p, f in w.from_outside(OUTSIDE, "203.0.113.21", 5, 22)] == [(101, "10.0.0.2")]
    check(w)


def test_an_expired_ttl_is_not_routed() -> None:
    gw = Gateway(1, UPLINK, NEXT_HOP, NEXT_HOP_MAC)
    a = Net(100, [Member("pa", "va", mac(1), 1, 100, "10.0.0.2")], "203.0.113.10", {})
    w = build(VlanDriver(), Context(Fabric([1], [])), {1: {100, UPLINK}}, Wiring.of(()), gw, [a])
    m = a.members[0]
    p = Packet(100, m.mac, GATEWAY_MAC, eth_type=0x0800, ipv4_src=m.ip, ipv4_dst=OUTSIDE, ip_proto=17, udp_src=1,
               udp_dst=2, ip_ttl=1)
    assert w.delivered(1, p) == []
    assert len(w.delivered(1, replace(p, ip_ttl=2))) == 1


def test_no_way_out_until_the_next_hop_is_known_and_no_uplink_no_admission() -> None:
    gw = Gateway(1, UPLINK, NEXT_HOP, None)
    a = Net(100, [Member("pa", "va", mac(1), 1, 100, "10.0.0.2")], "203.0.113.10", {})
    w = build(VlanDriver(), Context(Fabric([1], [])), {1: {100, UPLINK}}, Wiring.of(()), gw, [a])
    assert w.send(a.members[0], OUTSIDE, 1) == []
    assert [f for f in gateway_base_flows(replace(gw, uplink=None), 0) if f.table == 0] == []


def test_a_spoofed_source_never_reaches_the_gateway() -> None:
    gw = Gateway(1, UPLINK, NEXT_HOP, NEXT_HOP_MAC)
    a = Net(100, [Member("pa", "va", mac(1), 1, 100, "10.0.0.2")], "203.0.113.10", {})
    w = build(VlanDriver(), Context(Fabric([1], [])), {1: {100, UPLINK}}, Wiring.of(()), gw, [a])
    m = a.members[0]
    spoofed = Packet(100, m.mac, GATEWAY_MAC, eth_type=0x0800, ipv4_src="10.0.0.9", ipv4_dst=OUTSIDE, ip_proto=17,
                     udp_src=1, udp_dst=2)
    assert w.delivered(1, spoofed) == []


def test_the_gateways_flows_round_trip_through_openflow() -> None:
    gw = Gateway(1, UPLINK, NEXT_HOP, NEXT_HOP_MAC, meter=1)
    a = Net(100, [Member("pa", "va", mac(1), 1, 100, "10.0.0.2")], "203.0.113.10", {"10.0.0.2": "203.0.113.20"})
    flows = gateway_base_flows(gw, cookie_for(0)) + nat_flows(a.state, 1, gw, VlanDriver(),
                                                              Context(Fabric([1], [])), cookie_for(100))
    assert any(isinstance(x, Ct) and x.nat == "src=203.0.113.10" for f in flows for x in f.actions)
    assert any(isinstance(x, DecTtl) for f in flows for x in f.actions)
    assert_round_trips(flows)


def test_zones_come_from_the_external_address() -> None:
    assert zone_of("203.0.113.10", POOL) == 1 and zone_of("203.0.113.60", POOL) == 51
    flows: list[Flow] = nat_flows(Net(7, [], "203.0.113.12", {}).state, 1, Gateway(1, 2, NEXT_HOP, None),
                                  VlanDriver(), Context(Fabric([1], [])), 0)
    assert {dict(f.match).get("ct_zone") for f in flows} >= {3}
