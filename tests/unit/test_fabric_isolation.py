"""Isolation of the VLAN driver across a fabric: frames run through the compiled tables of every switch.

Every switch holds `base_flows()` plus, for every network, the flows
`segment_flows` computes for it against one shared `Fabric`; `FabricSim`
carries frames across the links. The properties are checked over generated
topologies (lines, rings, meshes, random graphs, parallel links) and on a few
named layouts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.model import Flow, Output, match
from flows.pipeline import partition_of
from flows.sim import Packet
from flows.state import Member
from flows.vlan import VLAN_MAX, VLAN_MIN, segment_switches
from tests.fabricsim import (
    FabricSim,
    ForwardingLoop,
    counts,
    full_mesh,
    hop_counts,
    leaf_spine,
    line,
    link_ports,
    ring,
    wire,
)
from topology.fabric import Link

BROADCAST = "ff:ff:ff:ff:ff:ff"
MULTICAST = "01:00:5e:00:00:fb"
UNKNOWN = "06:00:00:00:00:01"  # never a member's MAC
SPOOFED = "06:00:00:00:00:02"  # never a member's MAC

Networks = dict[int, list[Member]]



def mac(n: int) -> str:
    text = f"{(0x02 << 40) | n:012x}"
    return ":".join(text[j : j + 2] for j in range(0, 12, 2))


def member(name: str, n: int, dpid: int, port: int) -> Member:
    return Member(port_id=f"p-{name}", vnic_id=f"v-{name}", mac=mac(n), datapath_id=dpid, port_no=port)


def at(m: Member) -> tuple[int, int]:
    return m.datapath_id, m.port_no


# -- the properties, for one compiled fabric -----------------------------------------


def check_isolation(sim: FabricSim) -> None:
    """Every property of the brief, for every member as sender; also checks trunk admission."""
    nets = sim.networks
    everyone = [(vid, m) for vid, ms in nets.items() for m in ms]
    by_mac = {m.mac: vid for vid, m in everyone}
    assert len(by_mac) == len(everyone), "test set-up: MACs must be unique"
    n_switches = len(sim.switches)
    used: dict[int, set[Link]] = {vid: set() for vid in nets}

    def crossed(vid: int) -> int:
        """Record the links this send crossed; every frame on a link must carry the network's tag."""
        for lk, frame in sim.crossings:
            assert frame.vlan_vid == vid, (lk, frame)
            used[vid].add(lk)
        return len(sim.crossings)

    for vid, src in everyone:
        dist = hop_counts(sim.fabric.links, src.datapath_id)
        reachable_rest = {at(m): 1 for m in nets[vid] if m != src and m.datapath_id in dist}
        for dst in nets[vid]:
            got = sim.send_from(src, dst.mac)
            hops = crossed(vid)
            if dst == src:
                assert got == {}, (src, got)
                continue
            if dst.datapath_id not in dist:
                continue  # another part of a split fabric: flooded in src's part, checked below
            assert counts(got) == {at(dst): 1}, (src, dst, counts(got))
            frame = got[at(dst)][0]
            assert frame.vlan_vid is None
            assert (frame.eth_src, frame.eth_dst) == (src.mac, dst.mac)
            assert hops == dist[dst.datapath_id], ("not a shortest path", src, dst, sim.crossings)
        foreign = [m.mac for v, m in everyone if v != vid]
        for dst_mac in [BROADCAST, MULTICAST, UNKNOWN, *foreign]:
            got = sim.send_from(src, dst_mac)
            hops = crossed(vid)
            assert counts(got) == reachable_rest, (src, dst_mac, counts(got), reachable_rest)
            assert all(f.vlan_vid is None and (f.eth_src, f.eth_dst) == (src.mac, dst_mac) for f in _frames(got))
            assert hops <= max(0, n_switches - 1), ("a flood crossed more links than a tree has", sim.crossings)
        # a source MAC that is not the member's own, or a tagged frame, gets nothing out
        peer_macs = [m.mac for m in nets[vid] if m != src][:1]
        spoofs = [SPOOFED, BROADCAST] + [m.mac for _, m in everyone if m != src][:3]
        for spoof in spoofs:
            for dst_mac in (BROADCAST, *peer_macs):
                assert sim.send_from(src, dst_mac, eth_src=spoof) == {} and not sim.crossings, (src, spoof)
        for tag in {vid, 0, *nets}:
            for dst_mac in (BROADCAST, *peer_macs):
                assert sim.send_from(src, dst_mac, vlan_vid=tag) == {} and not sim.crossings, (src, tag)

    check_trunks(sim, used)


def check_trunks(sim: FabricSim, used: Mapping[int, set[Link]]) -> None:
    """On a link no frame of a network crossed, a frame tagged with that network's VLAN is dropped at once.

    So is any untagged frame on a link port, and one tagged with a VLAN no network has.
    """
    unused_vid = next(v for v in range(VLAN_MAX, 0, -1) if v not in sim.networks)
    for lk in sim.fabric.links:
        for end in (lk.a, lk.b):
            d, port = end.datapath_id, end.port_no
            for dst_mac in (BROADCAST, UNKNOWN):
                got = sim.send(d, port, Packet(in_port=port, eth_src=SPOOFED, eth_dst=dst_mac))
                assert got == {} and not sim.crossings, (end, "untagged", got)
            for vid in (*sim.networks, unused_vid):
                if lk in used.get(vid, set()):
                    continue
                for dst_mac in (BROADCAST, UNKNOWN, *(m.mac for m in sim.networks.get(vid, []))):
                    got = sim.send(d, port, Packet(in_port=port, eth_src=SPOOFED, eth_dst=dst_mac, vlan_vid=vid))
                    assert got == {} and not sim.crossings, (end, vid, dst_mac, got, sim.crossings)


def _frames(got: Mapping[tuple[int, int], list[Packet]]) -> list[Packet]:
    return [f for fs in got.values() for f in fs]


# -- generated layouts ----------------------------------------------------------------

Layout = tuple[dict[int, set[int]], list[Link], Networks]


@st.composite
def layouts(draw: st.DrawFn, port_numbers: str = "apart") -> Layout:
    """A connected fabric of 1-7 switches, 1-4 networks, members on access ports of random switches.

    port_numbers "apart": access ports (100..) never share a number with any link port of any
    switch; "shared": access ports are the low numbers a switch's links leave free, so they
    repeat the link port numbers of other switches, as on real switches.
    """
    n = draw(st.integers(1, 7))
    dpids = draw(st.lists(st.integers(1, 2**16), min_size=n, max_size=n, unique=True))
    shape = draw(st.sampled_from(["random", "ring", "mesh", "line"]))
    if n == 1:
        pairs: list[tuple[int, int]] = []
    elif shape in ("ring", "line", "mesh"):
        order = draw(st.permutations(range(n)))
        template = {"ring": ring, "line": line, "mesh": full_mesh}[shape](n)
        pairs = [(dpids[order[x - 1]], dpids[order[y - 1]]) for x, y in template]
    else:
        pairs = [(dpids[i], dpids[draw(st.integers(0, i - 1))]) for i in range(1, n)]
        for x, y in draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 2)), max_size=6)):
            pairs.append((dpids[x], dpids[y if y < x else y + 1]))  # any other switch: rings, meshes
    if pairs:
        pairs += draw(st.lists(st.sampled_from(pairs), max_size=2))  # parallel links
        pairs = list(draw(st.permutations(pairs)))
    links = wire(pairs)
    trunks = link_ports(links)

    vids = draw(st.lists(st.integers(VLAN_MIN, VLAN_MAX), min_size=1, max_size=4, unique=True))
    busiest = max((len(ps) for ps in trunks.values()), default=0)
    port_range = st.integers(100, 115) if port_numbers == "apart" else st.integers(1, busiest + 3)
    slots = draw(st.lists(st.tuples(st.sampled_from(dpids), port_range), min_size=1, max_size=9, unique=True))
    slots = [(d, p) for d, p in slots if p not in trunks.get(d, set())]
    numbers = draw(st.lists(st.integers(0, 2**40 - 1), min_size=len(slots), max_size=len(slots), unique=True))
    which = draw(st.lists(st.sampled_from(vids), min_size=len(slots), max_size=len(slots)))
    nets: Networks = {vid: [] for vid in vids}
    ports: dict[int, set[int]] = {d: set() for d in dpids}
    for i, ((d, p), num, vid) in enumerate(zip(slots, numbers, which, strict=True)):
        nets[vid].append(member(str(i), num, d, p))
        ports[d].add(p)
    for d in dpids:
        ports[d].add(200)  # a port bound to nothing
    return ports, links, nets


def run(layout: Layout) -> FabricSim:
    ports, links, nets = layout
    sim = FabricSim(ports, links, nets)
    check_isolation(sim)
    return sim


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts())
def test_isolation_over_generated_fabrics(layout: Layout) -> None:
    run(layout)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts(port_numbers="shared"))
def test_isolation_with_access_port_numbers_like_real_switches(layout: Layout) -> None:
    run(layout)


# -- named layouts ----------------------------------------------------------------------


def networks_on(spec: Mapping[int, Sequence[tuple[int, int]]]) -> Networks:
    """{vid: [(dpid, port), ...]} -> members with unique MACs."""
    nets: Networks = {}
    n = 0
    for vid, slots in spec.items():
        nets[vid] = []
        for d, p in slots:
            n += 1
            nets[vid].append(member(f"{vid}-{n}", n, d, p))
    return nets


def ports_of(nets: Networks, dpids: Sequence[int]) -> dict[int, set[int]]:
    ports: dict[int, set[int]] = {d: {99} for d in dpids}
    for ms in nets.values():
        for m in ms:
            ports[m.datapath_id].add(m.port_no)
    return ports


LINE4 = networks_on(
    {
        10: [(1, 3), (4, 3), (4, 4)],  # the ends, through two switches with no member of it
        20: [(2, 3), (3, 4), (1, 4)],
        30: [(1, 5)],  # alone
        40: [(3, 3), (3, 5)],  # one switch
        50: [],
    }
)


def test_line_of_four() -> None:
    sim = FabricSim(ports_of(LINE4, range(1, 5)), wire(line(4)), LINE4)
    check_isolation(sim)
    assert segment_switches(LINE4[10], sim.fabric) == {1, 2, 3, 4}
    assert segment_switches(LINE4[40], sim.fabric) == {3}
    # switches a network does not reach hold nothing of it
    for d, sw in sim.switches.items():
        vids = {partition_of(f.cookie) for f in sw.all_flows()} - {0}
        assert (30 in vids) == (d == 1) and (40 in vids) == (d == 3) and 50 not in vids


RING4 = networks_on(
    {
        10: [(1, 3), (3, 3)],  # opposite corners: two shortest paths
        20: [(1, 4), (2, 3), (3, 4), (4, 3)],
        30: [(2, 4), (4, 4), (4, 5)],
    }
)


def test_ring_of_four() -> None:
    sim = FabricSim(ports_of(RING4, range(1, 5)), wire(ring(4)), RING4)
    check_isolation(sim)
    a, c = RING4[10]
    sim.send_from(a, c.mac)
    assert len(sim.crossings) == 2


@pytest.mark.parametrize("cut", range(4))
def test_ring_still_delivers_after_a_link_goes(cut: int) -> None:
    links = wire(ring(4))
    sim = FabricSim(ports_of(RING4, range(1, 5)), links, RING4)
    check_isolation(sim)
    survivors = [lk for i, lk in enumerate(links) if i != cut]
    after = FabricSim(ports_of(RING4, range(1, 5)), survivors, RING4)
    assert links[cut] not in after.fabric.links
    check_isolation(after)
    # the flows that used the lost link were recompiled
    assert any(sim.switches[d].flows != after.switches[d].flows for d in sim.switches)


# Spines 1, 2; leaves 3..6; every leaf to both spines. Leaf ports 1-2 and spine ports 1-4 are links, so
# members on leaf ports 3 and 4 share their numbers with spine link ports, as on real switches.
LEAF_SPINE = networks_on(
    {
        100: [(3, 3), (3, 4), (5, 3), (6, 3)],
        200: [(4, 3), (5, 4), (6, 4), (6, 5)],
        300: [(3, 5), (4, 4)],
        400: [(5, 5)],
        4094: [(3, 6), (4, 5), (5, 6), (6, 6)],
    }
)


def test_leaf_spine_two_by_four() -> None:
    sim = FabricSim(ports_of(LEAF_SPINE, range(1, 7)), wire(leaf_spine(2, 4)), LEAF_SPINE)
    check_isolation(sim)
    # leaf to leaf goes through one spine
    for ms in LEAF_SPINE.values():
        for s in ms:
            for d in ms:
                if s.datapath_id != d.datapath_id:
                    sim.send_from(s, d.mac)
                    assert len(sim.crossings) == 2


def test_member_port_number_equal_to_a_trunk_port_elsewhere() -> None:
    """Line 1-2-3; switch 2 uses ports 1 and 2 for its links; members on port 2 of switches 1 and 3.

    A member is an access member unless its port is a link port of its own switch: the transit switch 2
    must not drop these two because its own ports 2 are links.
    """
    nets = networks_on({10: [(1, 2), (3, 2)]})
    sim = FabricSim(ports_of(nets, (1, 2, 3)), wire(line(3)), nets)
    a, b = nets[10]
    assert counts(sim.send_from(a, b.mac)) == {at(b): 1}
    check_isolation(sim)


def test_a_binding_on_a_link_port_changes_no_flow() -> None:
    """Port 1 of switch 2 is a link in a line 1-2-3: a member bound there is ignored on every switch."""
    nets = networks_on({10: [(1, 3), (3, 3)], 20: [(2, 3)]})
    bogus = {vid: [*ms, member(f"bogus-{vid}", 100 + vid, 2, 1)] for vid, ms in nets.items()}
    clean = FabricSim(ports_of(nets, (1, 2, 3)), wire(line(3)), nets)
    dirty = FabricSim(ports_of(nets, (1, 2, 3)), wire(line(3)), bogus)
    for d in clean.switches:
        assert clean.switches[d].flows == dirty.switches[d].flows
    check_isolation(clean)


# -- the simulator itself -----------------------------------------------------------------


def test_sim_catches_a_flooding_loop() -> None:
    """Every switch of a ring floods to all its ports, as without a tree: the sim reports the loop."""
    sim = FabricSim({d: {9} for d in range(1, 5)}, wire(ring(4)))
    for sw in sim.switches.values():
        everywhere = tuple(Output(p) for p in sorted(sw.port_nos))
        sw.install([Flow(table=0, priority=5, match=match(), actions=everywhere)])
    with pytest.raises(ForwardingLoop):
        sim.send(1, 9, Packet(in_port=9, eth_src=SPOOFED, eth_dst=BROADCAST))


def test_sim_delivers_across_a_link_on_the_far_port() -> None:
    nets = networks_on({10: [(1, 7), (2, 8)]})
    sim = FabricSim(ports_of(nets, (1, 2)), wire(line(2)), nets)
    a, b = nets[10]
    got = sim.send_from(a, b.mac)
    assert got == {(2, 8): [Packet(in_port=1, eth_src=a.mac, eth_dst=b.mac)]}
    assert [(lk, f.vlan_vid) for lk, f in sim.crossings] == [(sim.fabric.links[0], 10)]
    assert [(d, f.in_port) for d, f in sim.trace] == [(1, 7), (2, 1)]
