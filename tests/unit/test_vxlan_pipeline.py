"""Isolation of the VXLAN driver across hypervisors: frames run through every hypervisor's compiled tables.

Every hypervisor holds `base_flows()` plus, for every network, the flows
`VxlanDriver().segment_flows` computes for it against one shared `Context`;
`VxlanSim` carries what goes into the tunnel port to the hypervisor with that
address. The properties are checked over generated deployments (1-5
hypervisors, 1-4 networks with random VNIs, members anywhere, tunnel port
numbers that other hypervisors use as access ports, some tunnel ports not yet
known to the controller, MACs reused across networks) and on a few named ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.driver import Context, TunnelEnd
from flows.model import Flow, Output, SetField, match
from flows.pipeline import base_flows, partition_of
from flows.sim import OFPP_IN_PORT, FakeSwitch, Packet
from flows.state import Member
from flows.vxlan import VNI_MAX, VNI_MIN, VxlanDriver
from tests.fabricsim import counts
from tests.vxlansim import Crossing, ForwardingLoop, Hypervisor, Lost, VxlanSim
from topology.fabric import Fabric

BROADCAST = "ff:ff:ff:ff:ff:ff"
MULTICAST = "01:00:5e:00:00:fb"
UNKNOWN = "06:00:00:00:00:01"  # never a member's MAC
SPOOFED = "06:00:00:00:00:02"  # never a member's MAC
OUTSIDER_IP = "192.0.2.250"  # an underlay address no hypervisor has
IDLE_PORT = 200  # on every hypervisor, bound to nothing

Networks = dict[int, list[Member]]
PortKey = tuple[int, int]


def mac(n: int) -> str:
    text = f"{(0x02 << 40) | n:012x}"
    return ":".join(text[j : j + 2] for j in range(0, 12, 2))


def member(name: str, n: int, dpid: int, port: int) -> Member:
    return Member(port_id=f"p-{name}", vnic_id=f"v-{name}", mac=mac(n), datapath_id=dpid, port_no=port)


def at(m: Member) -> PortKey:
    return m.datapath_id, m.port_no


def hv_ip(i: int) -> str:
    return f"10.0.{i // 250}.{i % 250 + 1}"


# -- the properties, for one compiled deployment ---------------------------------------------


class Checker:
    """The properties of the brief, checked with every member of every network as the sender."""

    def __init__(self, sim: VxlanSim) -> None:
        self.sim = sim
        self.nets = sim.networks
        for vni, ms in self.nets.items():
            assert len({m.mac for m in ms}) == len(ms), f"test set-up: MACs must be unique within network {vni}"
            assert len({at(m) for m in ms}) == len(ms), "test set-up: one member per port"
        assert len({at(m) for ms in self.nets.values() for m in ms}) == sum(map(len, self.nets.values()))

    def known(self, dpid: int) -> bool:
        return self.sim.hypervisors[dpid].tunnel_known

    def connected(self, a: Member, b: Member) -> bool:
        """Whether a frame can get from a to b: same hypervisor, or both tunnel ports known to the controller."""
        return a.datapath_id == b.datapath_id or (self.known(a.datapath_id) and self.known(b.datapath_id))

    def hvs_of(self, vni: int) -> set[int]:
        return {m.datapath_id for m in self.nets.get(vni, [])}

    def crossings_from(self, src: int, vni: int) -> Counter[int]:
        """The hypervisors this send's frames went to through a tunnel; each frame from `src` with `vni`."""
        out: Counter[int] = Counter()
        for c in self.sim.crossings:
            assert c.src == src, ("a receiving hypervisor sent a frame on", c, self.sim.crossings)
            assert c.vni == vni, ("a frame crossed with another network's VNI", c)
            assert c.dst is not None, ("a frame went to an address no hypervisor has", c)
            out[c.dst] += 1
        assert not self.sim.lost
        return out

    def check(self) -> None:
        for vni, ms in self.nets.items():
            for src in ms:
                self.check_unicast(vni, src)
                self.check_flood(vni, src)
                self.check_refused(vni, src)
        self.check_tunnel_admission()

    def check_unicast(self, vni: int, src: Member) -> None:
        """A frame to a member of its own network arrives once at that member's port, and nowhere else."""
        sim = self.sim
        for dst in self.nets[vni]:
            got = sim.send_from(src, dst.mac)
            went = self.crossings_from(src.datapath_id, vni)
            if dst == src:
                assert got == {} and not went, (src, got, went)
                continue
            if self.connected(src, dst):
                assert counts(got) == {at(dst): 1}, (vni, src, dst, counts(got))
                frame = got[at(dst)][0]
                assert (frame.eth_src, frame.eth_dst, frame.vlan_vid) == (src.mac, dst.mac, None), frame
                hops = {} if dst.datapath_id == src.datapath_id else {dst.datapath_id: 1}
                assert went == hops, ("unicast must take one tunnel, straight to its hypervisor", src, dst, went)
                continue
            # One of the two tunnel ports is not known yet: never delivered, and nothing leaks elsewhere.
            local_rest = {at(m) for m in self.nets[vni] if m != src and m.datapath_id == src.datapath_id}
            assert at(dst) not in got and set(got) <= local_rest, (src, dst, counts(got))
            assert all(n == 1 for n in counts(got).values()), (src, dst, counts(got))
            assert set(went) <= {dst.datapath_id} and all(n == 1 for n in went.values()), (src, dst, went)

    def check_flood(self, vni: int, src: Member) -> None:
        """Broadcast, multicast and unknown unicast reach every other port of the network once, nothing else.

        Copies go only to the network's other hypervisors, each once, and no hypervisor sends them on.
        """
        sim = self.sim
        own_macs = {m.mac for m in self.nets[vni]}
        foreign = sorted({m.mac for v, ms in self.nets.items() if v != vni for m in ms} - own_macs)
        expected = {at(m): 1 for m in self.nets[vni] if m != src and self.connected(src, m)}
        others = self.hvs_of(vni) - {src.datapath_id}
        copies = {d: 1 for d in others} if self.known(src.datapath_id) else {}
        for dst_mac in [BROADCAST, MULTICAST, UNKNOWN, *foreign]:
            got = sim.send_from(src, dst_mac)
            went = self.crossings_from(src.datapath_id, vni)
            assert counts(got) == expected, (vni, src, dst_mac, counts(got), expected)
            assert all(
                (f.eth_src, f.eth_dst, f.vlan_vid) == (src.mac, dst_mac, None) for fs in got.values() for f in fs
            ), got
            assert went == copies, ("flood copies", vni, src, dst_mac, dict(went), copies)
        # Same-looking ARP in another network (same addresses) changes nothing.
        got = sim.send_from(src, BROADCAST, arp=("10.1.0.1", "10.1.0.2"))
        assert counts(got) == expected, (vni, src, counts(got))

    def check_refused(self, vni: int, src: Member) -> None:
        """A source MAC that is not the member's own, or a VLAN-tagged frame, gets nothing out."""
        sim = self.sim
        peer_macs = [m.mac for m in self.nets[vni] if m != src][:2]
        everyone = [m for ms in self.nets.values() for m in ms]
        spoofs = [SPOOFED, BROADCAST, *sorted({m.mac for m in everyone} - {src.mac})[:3]]
        for spoof in spoofs:
            for dst_mac in (BROADCAST, *peer_macs):
                got = sim.send_from(src, dst_mac, eth_src=spoof)
                assert got == {} and not sim.crossings, (src, spoof, dst_mac, got, sim.crossings)
        for tag in sorted({0, 1, vni & 0xFFF, 4095}):
            for dst_mac in (BROADCAST, *peer_macs):
                got = sim.send_from(src, dst_mac, vlan_vid=tag)
                assert got == {} and not sim.crossings, (src, tag, dst_mac, got, sim.crossings)

    def check_tunnel_admission(self) -> None:
        """What arrives on a tunnel port is admitted only with a VNI of a network this hypervisor has ports of,
        and only from the address of another hypervisor that has ports of that network; it is delivered to
        local ports only, never sent on into a tunnel.
        """
        sim = self.sim
        unused = next(v for v in range(VNI_MAX, 0, -1) if v not in self.nets)
        vnis = [*self.nets, unused]
        ips = [hv.ip for hv in sim.hypervisors.values()] + [OUTSIDER_IP]
        for h in sim.hypervisors:
            for vni in vnis:
                ms = self.nets.get(vni, [])
                here = [m for m in ms if m.datapath_id == h]
                elsewhere = [m for m in ms if m.datapath_id != h][:1]
                for ip in ips:
                    g = sim.by_ip.get(ip)
                    admitted = (
                        self.known(h) and bool(here) and g is not None and g != h and g in self.hvs_of(vni)
                    )
                    flood = {at(m): 1 for m in here} if admitted else {}
                    for dst_mac in (BROADCAST, UNKNOWN):
                        got = sim.send_from_tunnel(h, vni, ip, SPOOFED, dst_mac)
                        assert counts(got) == flood, (h, vni, ip, dst_mac, admitted, counts(got))
                        assert not sim.crossings, ("re-flooded into a tunnel", h, vni, ip, sim.crossings)
                    for dst in here + elsewhere:
                        got = sim.send_from_tunnel(h, vni, ip, SPOOFED, dst.mac)
                        want = {at(dst): 1} if admitted and dst.datapath_id == h else {}
                        assert counts(got) == want, (h, vni, ip, dst, admitted, counts(got))
                        assert not sim.crossings, ("sent back into a tunnel", h, vni, ip, sim.crossings)


def check_isolation(sim: VxlanSim) -> None:
    Checker(sim).check()


# -- generated deployments ------------------------------------------------------------------

Deployment = tuple[list[Hypervisor], Networks]


@st.composite
def deployments(draw: st.DrawFn, shared_macs: bool = False, all_known: bool = False) -> Deployment:
    """1-5 hypervisors, 1-4 networks with random VNIs, 1-10 members on random hypervisors and ports.

    Tunnel ports are low numbers that other hypervisors also use as access ports. `shared_macs`:
    MACs (and everything else a VNIC shows) may repeat across networks, never within one.
    """
    n = draw(st.integers(1, 5))
    dpids = draw(st.lists(st.integers(1, 2**48 - 1), min_size=n, max_size=n, unique=True))
    ip_numbers = draw(st.lists(st.integers(0, 999), min_size=n, max_size=n, unique=True))
    tunnel_ports = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    if all_known:
        known = [True] * n
    else:
        known = draw(st.lists(st.sampled_from([True, True, True, False]), min_size=n, max_size=n))
    vnis = draw(
        st.lists(
            st.one_of(st.integers(VNI_MIN, VNI_MAX), st.sampled_from([VNI_MIN, VNI_MAX, 0x1000, 0x1001, 4095])),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    tun_of = dict(zip(dpids, tunnel_ports, strict=True))
    slots = draw(
        st.lists(st.tuples(st.sampled_from(dpids), st.integers(1, 8)), min_size=1, max_size=10, unique=True)
    )
    slots = [(d, p) for d, p in slots if p != tun_of[d]]
    which = draw(st.lists(st.sampled_from(vnis), min_size=len(slots), max_size=len(slots)))
    nets: Networks = {vni: [] for vni in vnis}
    if shared_macs:
        pool = draw(st.lists(st.integers(0, 2**40 - 1), min_size=1, max_size=4, unique=True))
        for i, ((d, p), vni) in enumerate(zip(slots, which, strict=True)):
            taken = {m.mac for m in nets[vni]}
            free = [x for x in pool if mac(x) not in taken]
            num = draw(st.sampled_from(free)) if free else 2**40 + i
            nets[vni].append(member(str(i), num, d, p))
    else:
        numbers = draw(st.lists(st.integers(0, 2**40 - 1), min_size=len(slots), max_size=len(slots), unique=True))
        for i, ((d, p), num, vni) in enumerate(zip(slots, numbers, which, strict=True)):
            nets[vni].append(member(str(i), num, d, p))
    ports: dict[int, set[int]] = {d: {IDLE_PORT} for d in dpids}
    for ms in nets.values():
        for m in ms:
            ports[m.datapath_id].add(m.port_no)
    hvs = [
        Hypervisor.of(d, hv_ip(i), tun_of[d], ports[d], k)
        for d, i, k in zip(dpids, ip_numbers, known, strict=True)
    ]
    return hvs, nets


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(deployments(all_known=True))
def test_isolation_over_generated_deployments(d: Deployment) -> None:
    check_isolation(VxlanSim(*d))


@SETTINGS
@given(deployments())
def test_isolation_while_some_tunnel_ports_are_unknown(d: Deployment) -> None:
    check_isolation(VxlanSim(*d))


@SETTINGS
@given(deployments(shared_macs=True))
def test_isolation_with_macs_reused_across_networks(d: Deployment) -> None:
    check_isolation(VxlanSim(*d))


# -- named deployments -------------------------------------------------------------------------


def hypervisors(nets: Networks, n: int, tunnel_port: int = 9, unknown: Sequence[int] = ()) -> list[Hypervisor]:
    """Hypervisors 1..n at 10.0.0.<dpid>, each with the ports its members use, IDLE_PORT and the tunnel port."""
    ports: dict[int, set[int]] = {d: {IDLE_PORT} for d in range(1, n + 1)}
    for ms in nets.values():
        for m in ms:
            ports[m.datapath_id].add(m.port_no)
    return [Hypervisor.of(d, f"10.0.0.{d}", tunnel_port, ps, d not in unknown) for d, ps in ports.items()]


def networks_on(spec: Mapping[int, Sequence[tuple[int, int]]]) -> Networks:
    """{vni: [(dpid, port), ...]} -> members with unique MACs."""
    nets: Networks = {}
    n = 0
    for vni, slots in spec.items():
        nets[vni] = []
        for d, p in slots:
            n += 1
            nets[vni].append(member(f"{vni}-{n}", n, d, p))
    return nets


THREE = networks_on(
    {
        5001: [(1, 1), (2, 1), (2, 2)],
        5002: [(1, 2), (3, 1)],
        VNI_MAX: [(3, 2)],  # alone
        0x1064: [(1, 3), (1, 4)],  # on one hypervisor only
    }
)


def test_three_hypervisors() -> None:
    sim = VxlanSim(hypervisors(THREE, 3), THREE)
    check_isolation(sim)
    # hypervisors a network does not reach hold nothing of it
    for d, sw in sim.switches.items():
        vnis = {partition_of(f.cookie) for f in sw.all_flows()} - {0}
        assert vnis == {vni for vni, ms in THREE.items() if any(m.datapath_id == d for m in ms)}
    # a broadcast from hypervisor 1 of network 5001 goes once to hypervisor 2 and not to 3
    a = THREE[5001][0]
    got = sim.send_from(a, BROADCAST)
    assert counts(got) == {(2, 1): 1, (2, 2): 1}
    assert [(c.src, c.dst, c.vni) for c in sim.crossings] == [(1, 2, 5001)]


def test_same_mac_and_addresses_in_two_tenants() -> None:
    """Tenants A and B each have a VNIC with MAC X and one with MAC Y, on different hypervisors, same IPs."""
    x, y = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"
    a1 = Member("pa1", "va1", x, 1, 1)
    a2 = Member("pa2", "va2", y, 2, 1)
    b1 = Member("pb1", "vb1", x, 2, 2)
    b2 = Member("pb2", "vb2", y, 3, 1)
    b3 = Member("pb3", "vb3", "fa:16:3e:00:00:03", 1, 2)
    nets: Networks = {100: [a1, a2], 200: [b1, b2, b3]}
    sim = VxlanSim(hypervisors(nets, 3), nets)
    check_isolation(sim)
    arp = ("192.168.0.10", "192.168.0.11")
    # A's Y answers A's X; B's Y (same addresses) reaches B's X only
    assert counts(sim.send_from(a2, x, arp=arp[::-1])) == {at(a1): 1}
    assert [(c.src, c.dst, c.vni) for c in sim.crossings] == [(2, 1, 100)]
    assert counts(sim.send_from(b2, x, arp=arp[::-1])) == {at(b1): 1}
    assert [(c.src, c.dst, c.vni) for c in sim.crossings] == [(3, 2, 200)]
    assert counts(sim.send_from(a1, BROADCAST, arp=arp)) == {at(a2): 1}
    assert counts(sim.send_from(b1, BROADCAST, arp=arp)) == {at(b2): 1, at(b3): 1}
    assert sorted((c.src, c.dst, c.vni) for c in sim.crossings) == [(2, 1, 200), (2, 3, 200)]
    # Y is in both networks: the sender's access port decides which one
    assert counts(sim.send_from(b3, y)) == {at(b2): 1}
    assert counts(sim.send_from(a1, y)) == {at(a2): 1}


def test_tunnel_port_not_known_yet() -> None:
    """Hypervisor 2's tunnel port has no number yet: it delivers locally and puts nothing in a tunnel."""
    nets = networks_on({7: [(1, 1), (2, 1), (2, 2), (3, 1)], 8: [(2, 3), (3, 2)]})
    sim = VxlanSim(hypervisors(nets, 3, unknown=[2]), nets)
    assert sim.ctx.tunnels[2] == TunnelEnd("10.0.0.2", None)
    check_isolation(sim)
    a, b, c, d = nets[7]
    assert counts(sim.send_from(b, BROADCAST)) == {at(c): 1} and not sim.crossings
    assert counts(sim.send_from(b, a.mac)) == {at(c): 1} and not sim.crossings  # unknown there: flooded locally
    assert counts(sim.send_from(b, c.mac)) == {at(c): 1} and not sim.crossings
    # hypervisor 2's flows never name its tunnel port, nor a tunnel address
    for f in sim.switches[2].all_flows():
        assert dict(f.match).get("in_port") != 9 and Output(9) not in f.actions, f
        assert not any(isinstance(x, SetField) and x.name == "tun_ipv4_dst" for x in f.actions), f
    # the others still send to its address (harmless: its switch drops what it has no flow for)
    assert counts(sim.send_from(a, BROADCAST)) == {at(d): 1}
    assert sorted((x.src, x.dst) for x in sim.crossings) == [(1, 2), (1, 3)]


def test_hypervisor_without_tunnel_end() -> None:
    """No tunnel end at all for a hypervisor (no address configured): local only, and others leave it out."""
    nets = networks_on({7: [(1, 1), (1, 2), (2, 1)]})
    driver = VxlanDriver()
    ctx = Context(Fabric([1, 2], []), {2: TunnelEnd("10.0.0.2", 9)})
    sw = FakeSwitch(1, {1, 2, 9})
    sw.install(base_flows() + driver.segment_flows(7, nets[7], 1, ctx))
    a, b, c = nets[7]
    assert sw.process(Packet(in_port=1, eth_src=a.mac, eth_dst=BROADCAST)) == [
        (2, Packet(in_port=1, eth_src=a.mac, eth_dst=BROADCAST, tunnel_id=7))
    ]
    other = FakeSwitch(2, {1, 9})
    other.install(base_flows() + driver.segment_flows(7, nets[7], 2, ctx))
    assert [p for p, _ in other.process(Packet(in_port=1, eth_src=c.mac, eth_dst=a.mac))] == []  # a: unknown
    assert not any(dict(f.match).get("in_port") == 9 for f in other.all_flows())


def test_vni_out_of_range_is_refused() -> None:
    nets = networks_on({1: [(1, 1)]})
    ctx = Context(Fabric([1], []), {1: TunnelEnd("10.0.0.1", 9)})
    for bad in (0, VNI_MAX + 1, -1):
        with pytest.raises(ValueError):
            VxlanDriver().segment_flows(bad, nets[1], 1, ctx)


def test_flows_are_stable_and_sorted() -> None:
    """Compiling twice gives the same flows, whatever order the members come in."""
    ms = THREE[5001]
    ctx = VxlanSim(hypervisors(THREE, 3), THREE).ctx
    for d in (1, 2, 3):
        one = VxlanDriver().segment_flows(5001, ms, d, ctx)
        two = VxlanDriver().segment_flows(5001, list(reversed(ms)), d, ctx)
        assert one == two


def test_a_binding_on_the_tunnel_port_changes_no_flow() -> None:
    """As a binding on an inter-switch link port does for the vlan driver: the tunnel port is never an access port.

    Otherwise the access flow on the tunnel port admits any tunnelled frame with that MAC as source,
    whatever its VNI and sender, into this network.
    """
    nets = networks_on({7: [(1, 1), (2, 1)], 8: [(1, 2), (2, 2)]})
    bogus = {vni: [*ms, member(f"bogus-{vni}", 100 + vni, 2, 9)] for vni, ms in nets.items()}
    clean = VxlanSim(hypervisors(nets, 2), nets)
    check_isolation(clean)
    dirty = VxlanSim(hypervisors(nets, 2), bogus)
    for d in clean.switches:
        assert clean.switches[d].all_flows() == dirty.switches[d].all_flows(), d


def test_a_binding_on_the_tunnel_port_leaks_no_other_vni() -> None:
    """What the bug above does: a frame of network 8 from hypervisor 1 lands in network 7 on hypervisor 2."""
    nets = networks_on({7: [(1, 1), (2, 1)], 8: [(1, 2)]})
    bogus = member("bogus", 99, 2, 9)  # bound to hypervisor 2's tunnel port
    ctx = Context(Fabric([1, 2], []), {1: TunnelEnd("10.0.0.1", 9), 2: TunnelEnd("10.0.0.2", 9)})
    sw = FakeSwitch(2, {1, 9})
    sw.install(base_flows())
    sw.install(VxlanDriver().segment_flows(7, [*nets[7], bogus], 2, ctx))
    frame = Packet(in_port=9, eth_src=bogus.mac, eth_dst=BROADCAST, tunnel_id=8, tun_ipv4_src="10.0.0.1")
    assert [p for p, _ in sw.process(frame)] == []  # today: [1], network 7's port


# -- the simulators themselves --------------------------------------------------------------------


def test_ofsim_tunnel_fields() -> None:
    sw = FakeSwitch(1, {1, 2, 9})
    sw.install(
        [
            Flow(table=0, priority=10, match=match(in_port=9, tunnel_id=(0x500, 0xF00), tun_ipv4_src="10.0.0.2"),
                 actions=(Output(1),)),
            Flow(table=0, priority=5, match=match(in_port=9, tunnel_id=0x123), actions=(Output(2),)),
            Flow(table=0, priority=10, match=match(in_port=1, tunnel_id=0),
                 actions=(SetField("tunnel_id", 77), SetField("tun_ipv4_dst", "10.0.0.3"), Output(9), Output(2)),
                 goto=1),
            Flow(table=1, priority=10, match=match(tunnel_id=77), actions=(Output(1), Output(OFPP_IN_PORT))),
        ]
    )
    base = Packet(in_port=9, eth_src=SPOOFED, eth_dst=BROADCAST, tun_ipv4_src="10.0.0.2")
    assert [p for p, _ in sw.process(replace(base, tunnel_id=0x5AB))] == [1]
    assert [p for p, _ in sw.process(replace(base, tunnel_id=0x6AB))] == []
    assert [p for p, _ in sw.process(Packet(in_port=9, eth_src=SPOOFED, eth_dst=BROADCAST))] == []  # no tunnel src
    assert [p for p, _ in sw.process(replace(base, tunnel_id=0x123))] == [2]
    out = sw.process(Packet(in_port=1, eth_src=SPOOFED, eth_dst=BROADCAST))
    # output to the ingress port is dropped (port 1 in table 1), IN_PORT is not
    assert [(p, f.tunnel_id, f.tun_ipv4_dst) for p, f in out] == [(9, 77, "10.0.0.3"), (2, 77, "10.0.0.3"),
                                                                   (1, 77, "10.0.0.3")]
    # and a frame in on the tunnel port is never output there again
    sw.install([Flow(table=0, priority=1, match=match(in_port=9), actions=(Output(9), Output(2)))])
    assert [p for p, _ in sw.process(Packet(in_port=9, eth_src=SPOOFED, eth_dst=BROADCAST))] == [2]
    with pytest.raises(ValueError):
        sw.install([Flow(table=0, priority=1, match=match(tunnel_id=(0x501, 0xF00)))])  # value outside mask


def test_sim_carries_a_frame_through_a_tunnel() -> None:
    nets = networks_on({0xABCDE: [(1, 3), (2, 4)]})
    sim = VxlanSim(hypervisors(nets, 2), nets)
    a, b = nets[0xABCDE]
    got = sim.send_from(a, b.mac)
    assert got == {
        (2, 4): [Packet(in_port=9, eth_src=a.mac, eth_dst=b.mac, tunnel_id=0xABCDE, tun_ipv4_src="10.0.0.1")]
    }
    [c] = sim.crossings
    assert (c.src, c.dst, c.vni, c.frame.tun_ipv4_dst) == (1, 2, 0xABCDE, "10.0.0.2")
    assert [(d, f.in_port, f.tun_ipv4_src) for d, f in sim.trace] == [(1, 3, None), (2, 9, "10.0.0.1")]


def test_sim_records_a_frame_for_an_unknown_address() -> None:
    sim = VxlanSim([Hypervisor.of(1, "10.0.0.1", 9, {1})])
    sim.switches[1].install(
        [Flow(table=0, priority=5, match=match(in_port=1),
              actions=(SetField("tunnel_id", 5), SetField("tun_ipv4_dst", "10.9.9.9"), Output(9)))]
    )
    assert sim.send(1, 1, Packet(in_port=1, eth_src=SPOOFED, eth_dst=BROADCAST)) == {}
    assert [(c.src, c.dst, c.vni) for c in sim.crossings] == [(1, None, 5)]
    assert [lost.src for lost in sim.lost] == [1]
    assert sim.crossings == [Crossing(1, None, 5, sim.lost[0].frame)] and sim.lost == [Lost(1, sim.lost[0].frame)]


def test_sim_catches_a_tunnel_loop() -> None:
    """Each hypervisor bounces what arrives from the tunnel back to the other: the sim reports the loop."""
    hvs = [Hypervisor.of(1, "10.0.0.1", 9, {1}), Hypervisor.of(2, "10.0.0.2", 9, {1})]
    sim = VxlanSim(hvs)
    for hv, peer in ((hvs[0], hvs[1]), (hvs[1], hvs[0])):
        sim.switches[hv.datapath_id].install(
            [
                Flow(table=0, priority=5, match=match(in_port=1),
                     actions=(SetField("tunnel_id", 5), SetField("tun_ipv4_dst", peer.ip), Output(9))),
                Flow(table=0, priority=5, match=match(in_port=9),
                     actions=(SetField("tun_ipv4_dst", peer.ip), Output(OFPP_IN_PORT))),
            ]
        )
    with pytest.raises(ForwardingLoop):
        sim.send(1, 1, Packet(in_port=1, eth_src=SPOOFED, eth_dst=BROADCAST))


def test_sim_refuses_a_tunnel_port_that_is_an_access_port() -> None:
    with pytest.raises(ValueError):
        VxlanSim([Hypervisor.of(1, "10.0.0.1", 9, {1, 9})])
