"""Isolation of the VLAN driver, checked by running frames through a simulated switch."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.model import (
    OFPP_CONTROLLER,
    OFPVID_NONE,
    OFPVID_PRESENT,
    Flow,
    MatchValue,
    Output,
    PopVlan,
    PushVlan,
    SetField,
    match,
)
from flows.pipeline import base_flows
from flows.sim import OFPP_IN_PORT, FakeSwitch, Packet
from flows.state import Member
from flows.vlan import VLAN_MAX, VLAN_MIN, segment_flows

DPID = 0x1
BROADCAST = "ff:ff:ff:ff:ff:ff"
MULTICAST = "01:00:5e:00:00:fb"
UNKNOWN = "06:00:00:00:00:01"  # never a member's MAC below
UNBOUND_PORTS = (90, 91)


def member(name: str, mac: str, port_no: int) -> Member:
    return Member(port_id=f"p-{name}", vnic_id=f"v-{name}", mac=mac, datapath_id=DPID, port_no=port_no)


# Three networks on one switch; C has a single member.
NETWORKS: dict[int, list[Member]] = {
    10: [
        member("a1", "02:00:00:00:0a:01", 1),
        member("a2", "02:00:00:00:0a:02", 2),
        member("a3", "02:00:00:00:0a:03", 3),
    ],
    20: [member("b1", "02:00:00:00:0b:01", 4), member("b2", "02:00:00:00:0b:02", 5)],
    30: [member("c1", "02:00:00:00:0c:01", 6)],
}
ALL_MEMBERS = [(vid, m) for vid, ms in NETWORKS.items() for m in ms]


def compile_switch(networks: dict[int, list[Member]], extra_ports: tuple[int, ...] = UNBOUND_PORTS) -> FakeSwitch:
    ports = {m.port_no for ms in networks.values() for m in ms} | set(extra_ports)
    sw = FakeSwitch(DPID, ports)
    sw.install(base_flows())
    for vid, ms in networks.items():
        sw.install(segment_flows(vid, ms, DPID))
    return sw


def send(sw: FakeSwitch, src: Member, dst: str, vlan_vid: int | None = None) -> list[tuple[int, Packet]]:
    return sw.process(Packet(in_port=src.port_no, eth_src=src.mac, eth_dst=dst, vlan_vid=vlan_vid))


@pytest.fixture
def sw() -> FakeSwitch:
    return compile_switch(NETWORKS)


# -- unicast -----------------------------------------------------------------


@pytest.mark.parametrize(("vid", "src"), ALL_MEMBERS, ids=lambda x: getattr(x, "port_id", str(x)))
def test_unicast_reaches_only_its_destination_untagged(sw: FakeSwitch, vid: int, src: Member) -> None:
    for dst in NETWORKS[vid]:
        if dst == src:
            continue
        out = send(sw, src, dst.mac)
        assert [p for p, _ in out] == [dst.port_no]
        frame = out[0][1]
        assert frame.vlan_vid is None
        assert (frame.eth_src, frame.eth_dst) == (src.mac, dst.mac)


def test_unicast_to_another_networks_mac_is_flooded_in_own_network_only(sw: FakeSwitch) -> None:
    a1, b1 = NETWORKS[10][0], NETWORKS[20][0]
    out = send(sw, a1, b1.mac)
    assert sorted(p for p, _ in out) == [2, 3]


def test_frame_to_own_mac_goes_nowhere(sw: FakeSwitch) -> None:
    a1 = NETWORKS[10][0]
    assert send(sw, a1, a1.mac) == []


# -- flooding ----------------------------------------------------------------


@pytest.mark.parametrize("dst", [BROADCAST, MULTICAST, UNKNOWN], ids=["broadcast", "multicast", "unknown"])
@pytest.mark.parametrize(("vid", "src"), ALL_MEMBERS, ids=lambda x: getattr(x, "port_id", str(x)))
def test_flood_reaches_every_other_port_of_the_network_once(sw: FakeSwitch, dst: str, vid: int, src: Member) -> None:
    out = send(sw, src, dst)
    expected = Counter(m.port_no for m in NETWORKS[vid] if m != src)
    assert Counter(p for p, _ in out) == expected
    assert all(frame.vlan_vid is None and frame.eth_dst == dst for _, frame in out)


# -- what gets nothing out ---------------------------------------------------


@pytest.mark.parametrize(
    "spoofed",
    [NETWORKS[10][1].mac, NETWORKS[20][0].mac, "02:de:ad:be:ef:00", BROADCAST, "00:00:00:00:00:00"],
    ids=["same-network-vnic", "other-network-vnic", "random", "broadcast", "zero"],
)
@pytest.mark.parametrize("dst", [BROADCAST, NETWORKS[10][2].mac, NETWORKS[20][1].mac])
def test_foreign_source_mac_is_dropped(sw: FakeSwitch, spoofed: str, dst: str) -> None:
    a1 = NETWORKS[10][0]
    assert sw.process(Packet(in_port=a1.port_no, eth_src=spoofed, eth_dst=dst)) == []


@pytest.mark.parametrize("tag", [10, 20, 30, 0, 4095])
@pytest.mark.parametrize("dst", [BROADCAST, NETWORKS[10][1].mac, NETWORKS[20][0].mac])
def test_tagged_frame_from_access_port_is_dropped(sw: FakeSwitch, tag: int, dst: str) -> None:
    a1 = NETWORKS[10][0]
    assert send(sw, a1, dst, vlan_vid=tag) == []


@pytest.mark.parametrize("port", UNBOUND_PORTS)
@pytest.mark.parametrize("src_mac", [m.mac for _, m in ALL_MEMBERS] + ["02:de:ad:be:ef:00"])
@pytest.mark.parametrize("tag", [None, 10, 20])
def test_frames_from_unbound_ports_are_dropped(sw: FakeSwitch, port: int, src_mac: str, tag: int | None) -> None:
    for dst in (BROADCAST, NETWORKS[10][1].mac):
        assert sw.process(Packet(in_port=port, eth_src=src_mac, eth_dst=dst, vlan_vid=tag)) == []


def test_removed_network_carries_nothing() -> None:
    sw = compile_switch({10: NETWORKS[10], 20: []})
    b1 = NETWORKS[20][0]
    assert sw.process(Packet(in_port=1, eth_src=b1.mac, eth_dst=BROADCAST)) == []


def test_flows_never_output_to_the_controller_or_in_port(sw: FakeSwitch) -> None:
    outputs = {a.port for f in sw.all_flows() for a in f.actions if isinstance(a, Output)}
    assert OFPP_CONTROLLER not in outputs
    assert OFPP_IN_PORT not in outputs
    assert outputs <= sw.port_nos


def test_every_table_has_a_drop_miss_flow(sw: FakeSwitch) -> None:
    for table in (0, 1):
        miss = sw.flows[table][(table, 0, ())]
        assert miss.actions == () and miss.goto is None


# -- the simulator itself ----------------------------------------------------


def _flow(
    table: int,
    prio: int,
    actions: tuple[Output | PushVlan | PopVlan | SetField, ...],
    goto: int | None = None,
    **m: MatchValue,
) -> Flow:
    return Flow(table=table, priority=prio, match=match(**m), actions=actions, goto=goto)


def test_sim_output_to_in_port_is_dropped_unless_in_port() -> None:
    sw = FakeSwitch(1, [1, 2])
    sw.install([_flow(0, 1, (Output(1), Output(2), Output(OFPP_IN_PORT)))])
    assert [p for p, _ in sw.process(Packet(1, "02:00:00:00:00:01", BROADCAST))] == [2, 1]


def test_sim_push_set_pop_and_masked_vlan_match() -> None:
    sw = FakeSwitch(1, [1, 2, 3])
    sw.install(
        [
            _flow(
                0, 1, (PushVlan(), SetField("vlan_vid", OFPVID_PRESENT | 7), Output(2)), goto=1, vlan_vid=OFPVID_NONE
            ),
            _flow(1, 1, (PopVlan(), Output(3)), vlan_vid=(OFPVID_PRESENT, OFPVID_PRESENT)),
        ]
    )
    out = sw.process(Packet(1, "02:00:00:00:00:01", BROADCAST))
    assert [(p, f.vlan_vid) for p, f in out] == [(2, 7), (3, None)]
    assert sw.process(Packet(1, "02:00:00:00:00:01", BROADCAST, vlan_vid=5)) == []


@pytest.mark.parametrize(
    ("flows", "packet_vid"),
    [
        ([_flow(0, 1, (PushVlan(),))], 5),  # second tag
        ([_flow(0, 1, (PopVlan(),))], None),  # nothing to pop
        ([_flow(0, 1, (Output(9),))], None),  # no such port
        ([_flow(0, 1, ()), _flow(0, 1, (), eth_type=0x0806)], None),  # overlapping equal priority
    ],
)
def test_sim_rejects_pipeline_bugs(flows: list[Flow], packet_vid: int | None) -> None:
    sw = FakeSwitch(1, [1, 2])
    sw.install(flows)
    with pytest.raises(AssertionError):
        sw.process(Packet(1, "02:00:00:00:00:01", BROADCAST, vlan_vid=packet_vid))


def test_sim_rejects_goto_backwards() -> None:
    with pytest.raises(ValueError):
        FakeSwitch(1, [1]).install([_flow(1, 1, (), goto=1)])


# -- property: isolation over generated layouts --------------------------------


@st.composite
def layouts(draw: st.DrawFn) -> dict[int, list[Member]]:
    vids = draw(st.lists(st.integers(VLAN_MIN, VLAN_MAX), min_size=1, max_size=5, unique=True))
    n = draw(st.integers(1, 12))
    macs = draw(st.lists(st.integers(0, 2**40 - 1), min_size=n, max_size=n, unique=True))
    ports = draw(st.lists(st.integers(1, 0xFFFFFF00), min_size=n, max_size=n, unique=True))
    nets = draw(st.lists(st.sampled_from(vids), min_size=n, max_size=n))
    out: dict[int, list[Member]] = {vid: [] for vid in vids}
    for i, (mac, port, vid) in enumerate(zip(macs, ports, nets, strict=True)):
        text = f"{(0x02 << 40) | mac:012x}"
        mac_str = ":".join(text[j : j + 2] for j in range(0, 12, 2))
        out[vid].append(member(str(i), mac_str, port))
    return out


@settings(max_examples=100, deadline=None)
@given(layouts())
def test_isolation_property(networks: dict[int, list[Member]]) -> None:
    sw = compile_switch(networks, extra_ports=())
    everyone = [(vid, m) for vid, ms in networks.items() for m in ms]
    for vid, src in everyone:
        own = {m.port_no for m in networks[vid]}
        others = Counter(m.port_no for m in networks[vid] if m != src)
        dsts = [m.mac for _, m in everyone] + [BROADCAST, MULTICAST, UNKNOWN]
        for dst in dsts:
            out = send(sw, src, dst)
            ports = Counter(p for p, _ in out)
            assert set(ports) <= own - {src.port_no}
            assert all(f.vlan_vid is None and (f.eth_src, f.eth_dst) == (src.mac, dst) for _, f in out)
            target = next((m for v, m in everyone if m.mac == dst and v == vid), None)
            if target is not None:
                assert list(ports.elements()) == ([target.port_no] if target != src else [])
            else:
                assert ports == others  # flooded: everyone else in the network, once
        # a spoofed source or a tagged frame from the same port gets nothing out
        assert sw.process(Packet(src.port_no, UNKNOWN, BROADCAST)) == []
        assert send(sw, src, BROADCAST, vlan_vid=vid) == []
