"""sdnapp.ofmsg against os-ken's real OpenFlow 1.3 classes, through bytes.

ofmsg promises `flow_from_stats(flow_mod(f)) == f`: a switch holding exactly the
desired flows must show an empty difference when read back, or every restart
would rewrite it. Here every flow the drivers can emit goes out as os-ken would
send it (`flow_mod`, serialised), is read by the switch (os-ken's own
OFPFlowMod parser), comes back as the flow stats entry the switch would write
for what it holds, inside a multipart reply split as a switch splits it, is
parsed by os-ken's message parser as the Datapath's receive loop does, and
must be the same `Flow` value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from flows import vlan
from flows.diff import diff
from flows.driver import Context, TunnelEnd
from flows.model import OFPVID_PRESENT, Flow, Opaque, Output, PushVlan, SetField, match
from flows.pipeline import (
    CONTROLLER_METER,
    COOKIE_MARK,
    COOKIE_MARK_MASK,
    DHCP_METER,
    access_flows,
    base_flows,
    cookie_for,
)
from flows.state import Member
from flows.vxlan import VNI_MAX, VxlanDriver
from sdnapp import ofmsg
from testbeds import ofwire
from tests.fabricsim import leaf_spine, line, ring, wire
from tests.unit.fakechannel import stats_entry, switch_flow
from topology.fabric import Fabric

DP = ofwire.WireDatapath(0x5D)
XID = 0x80000001
ALL_ONES = (1 << 64) - 1
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- the trip ---------------------------------------------------------------------------------


def sent(kind: str, f: Flow, xid: int = XID) -> tuple[bytes, Any]:
    """The bytes of `f`'s flow-mod as os-ken sends them, and the OFPFlowMod the switch parses from them."""
    msg = ofmsg.flow_mod(DP, kind, f)
    msg.set_xid(xid)
    buf = ofwire.to_wire(msg)
    fm = ofwire.parse(DP, buf)
    assert isinstance(fm, parser.OFPFlowMod) and fm.xid == xid
    return buf, fm


def held(fm: Any) -> bytes:
    """The stats entry a switch writes for the entry an ADD made: the flow-mod's fields, plus counters."""
    assert fm.command == ofp.OFPFC_ADD
    return ofwire.flow_stats_entry(fm.table_id, fm.priority, fm.cookie, fm.match, fm.instructions,
                                   packet_count=3, byte_count=180)


def read_back(entries: Sequence[bytes], max_len: int = ofwire.MAX_MESSAGE) -> list[Flow]:
    """What SwitchChannels.read_flows makes of a flow stats reply carrying `entries`."""
    replies = [ofwire.parse(DP, b) for b in ofwire.multipart_replies(XID, ofp.OFPMP_FLOW, entries, max_len)]
    assert all(isinstance(r, parser.OFPFlowStatsReply) and r.xid == XID for r in replies)
    return [ofmsg.flow_from_stats(s) for r in replies for s in r.body]


def round_trip(flows: Iterable[Flow], max_len: int = ofwire.MAX_MESSAGE) -> list[Flow]:
    entries = []
    for f in flows:
        _, fm = sent(ofmsg.ADD, f)
        entries.append(held(fm))
    return read_back(entries, max_len)


def assert_round_trips(flows: Sequence[Flow]) -> None:
    back = round_trip(flows)
    for f, b in zip(flows, back, strict=True):
        assert b == f, f"sent {f}\nread {b}"


# -- what the drivers emit ------------------------------------------------------------------------


def mac_text(n: int) -> str:
    text = f"{n:012x}"
    return ":".join(text[j : j + 2] for j in range(0, 12, 2))


# Unicast, non-zero, lower case: what the service hands the drivers (sdnapp.validate.unicast_mac).
macs = st.integers(1, (1 << 48) - 1).map(lambda n: n & ~(1 << 40)).filter(bool).map(mac_text)
ipv4s = st.ip_addresses(v=4).map(str)
port_nos = st.integers(1, ofp.OFPP_MAX)


def members_on(switches: Sequence[int], ports: st.SearchStrategy[int], max_size: int = 6) -> st.SearchStrategy[
        list[Member]]:
    """Members with distinct (switch, port), any MAC, with or without an address."""
    one = st.tuples(st.sampled_from(list(switches)), ports, macs, st.none() | ipv4s)
    return st.lists(one, min_size=1, max_size=max_size, unique_by=lambda t: (t[0], t[1])).map(
        lambda ts: [Member(f"p{i}", f"v{i}", mac, dpid, port, ip) for i, (dpid, port, mac, ip) in enumerate(ts)]
    )


FABRICS = {
    "one switch": [],
    "line of 3": line(3),
    "ring of 4": ring(4),
    "leaf-spine 2x3": leaf_spine(2, 3),
}
ACCESS = st.integers(10, 40)  # link ports are numbered from 1, a few per switch: access ports above them


def fabric_of(pairs: list[tuple[int, int]]) -> Fabric:
    links = wire(pairs)
    switches = {d for lk in links for d in (lk.a.datapath_id, lk.b.datapath_id)} or {1}
    return Fabric(switches, links)


def vlan_flows(segment: int, members: Sequence[Member], fabric: Fabric) -> list[Flow]:
    return [f for d in sorted(fabric.switches) for f in vlan.segment_flows(segment, members, d, fabric)]


def vxlan_flows(vni: int, members: Sequence[Member], tunnels: dict[int, TunnelEnd]) -> list[Flow]:
    ctx = Context(Fabric(tunnels, []), tunnels)
    driver = VxlanDriver()
    return [f for d in sorted(tunnels) for f in driver.segment_flows(vni, members, d, ctx)]


def catalogue() -> list[Flow]:
    """One of every kind of flow the drivers emit, on a small fixed deployment."""
    a = Member("pa", "va", "fa:16:3e:00:00:0a", 1, 10, "10.0.0.10", gateway="10.0.0.1", dhcp=True)
    b = Member("pb", "vb", "fa:16:3e:00:00:0b", 2, 11)
    c = Member("pc", "vc", "fa:16:3e:00:00:0c", 3, 12, "10.0.0.12",
               pairs=(("fa:16:3e:00:00:0c", "10.0.0.99"), ("fa:16:3e:00:01:0c", "10.0.1.0/24")))
    d = Member("pd", "vd", "fa:16:3e:00:00:0d", 1, 13, "10.0.0.13", port_security=False, gateway="10.0.0.1")
    flows: list[Flow] = []
    for lldp in (False, True):
        for meter in (None, CONTROLLER_METER):
            flows += base_flows(lldp=lldp, meter=meter)
    flows += vlan_flows(100, [a, b, c, d], fabric_of(ring(3)))
    flows += vlan.segment_flows(100, [a], 1, fabric_of(ring(3)), dhcp_meter=DHCP_METER)
    tunnels = {1: TunnelEnd("192.0.2.1", 9), 2: TunnelEnd("192.0.2.2", 9), 3: TunnelEnd("192.0.2.3", None)}
    flows += vxlan_flows(5000, [a, b, c], tunnels)
    return list(dict.fromkeys(flows))


def test_the_catalogue_covers_every_field_action_and_instruction_the_drivers_use() -> None:
    flows = catalogue()
    fields = {name for f in flows for name, _ in f.match}
    assert fields == {
        "in_port", "eth_src", "eth_dst", "vlan_vid", "eth_type", "ipv4_src", "arp_spa", "arp_sha",
        "ip_proto", "udp_src", "udp_dst", "tunnel_id", "tun_ipv4_src", "arp_op", "arp_tpa", "ipv4_dst", "icmpv4_type",
    }
    actions = {type(a).__name__ if not isinstance(a, SetField) else f"set_{a.name}" for f in flows for a in f.actions}
    assert actions == {"Output", "PushVlan", "PopVlan", "set_vlan_vid", "set_tunnel_id", "set_tun_ipv4_dst",
                       "set_eth_src", "set_eth_dst", "set_arp_op", "set_arp_sha", "set_arp_spa", "set_arp_tha",
                       "set_arp_tpa", "set_ipv4_src", "set_ipv4_dst", "set_icmpv4_type"}
    assert any(f.meter is not None for f in flows) and any(f.goto is not None for f in flows)
    assert any(not f.actions and f.goto is None for f in flows)  # drops
    assert any(isinstance(v, tuple) for f in flows for k, v in f.match if k in ("ipv4_src", "arp_spa"))  # pairs
    assert any(Output(ofp.OFPP_CONTROLLER) in f.actions for f in flows)


def test_every_catalogued_flow_round_trips() -> None:
    assert_round_trips(catalogue())


# -- round trips over generated deployments ------------------------------------------------------------


@pytest.mark.parametrize("lldp", [False, True])
@pytest.mark.parametrize("meter", [None, CONTROLLER_METER])
def test_base_flows_round_trip(lldp: bool, meter: int | None) -> None:
    flows = base_flows(lldp=lldp, meter=meter)
    assert_round_trips(flows)
    lldp_flows = [f for f in flows if f.actions]
    assert len(lldp_flows) == int(lldp)
    for f in lldp_flows:
        assert f.meter == meter


@SETTINGS
@given(m=members_on([1], port_nos, max_size=1), segment=st.integers(1, 4094), vni=st.integers(1, VNI_MAX))
def test_access_flows_round_trip_with_and_without_an_address(m: list[Member], segment: int, vni: int) -> None:
    member = m[0]
    vlan_admit = (PushVlan(), SetField("vlan_vid", OFPVID_PRESENT | segment))
    vxlan_admit = (SetField("tunnel_id", vni),)
    for admit, part in ((vlan_admit, segment), (vxlan_admit, vni)):
        flows = access_flows(member, admit, cookie_for(part))
        assert len(flows) == (2 if member.ip is None else 4)
        assert_round_trips(flows)


@pytest.mark.parametrize("name", sorted(FABRICS))
@SETTINGS
@given(data=st.data(), segment=st.integers(1, 4094))
def test_vlan_flows_round_trip_on_generated_fabrics(name: str, data: st.DataObject, segment: int) -> None:
    fabric = fabric_of(FABRICS[name])
    members = data.draw(members_on(sorted(fabric.switches), ACCESS))
    flows = vlan_flows(segment, members, fabric)
    assert flows
    assert_round_trips(flows)


@st.composite
def hypervisors(draw: st.DrawFn) -> dict[int, TunnelEnd]:
    """1-4 hypervisors with distinct addresses; a tunnel port the controller may not know yet (None)."""
    n = draw(st.integers(1, 4))
    ips = draw(st.lists(ipv4s, min_size=n, max_size=n, unique=True))
    ports = draw(st.lists(st.none() | port_nos, min_size=n, max_size=n))
    return {d: TunnelEnd(ip, p) for d, (ip, p) in enumerate(zip(ips, ports, strict=True), start=1)}


@SETTINGS
@given(data=st.data(), tunnels=hypervisors(), vni=st.integers(1, VNI_MAX))
def test_vxlan_flows_round_trip_with_known_and_unknown_tunnel_ports(
    data: st.DataObject, tunnels: dict[int, TunnelEnd], vni: int
) -> None:
    members = data.draw(members_on(sorted(tunnels), ACCESS))
    flows = vxlan_flows(vni, members, tunnels)  # none where every member sits on its tunnel port
    assert_round_trips(flows)
    remote = [a for f in flows for a in f.actions if isinstance(a, SetField) and a.name == "tun_ipv4_dst"]
    for a in remote:
        assert isinstance(a.value, str) and ipaddress.IPv4Address(a.value)


def test_a_whole_table_read_back_in_several_replies_is_the_table_in_order() -> None:
    flows = catalogue()
    # A switch splits a long reply (the flag OFPMPF_REPLY_MORE on all but the last); 300 bytes a message here.
    replies = ofwire.multipart_replies(XID, ofp.OFPMP_FLOW, [held(sent(ofmsg.ADD, f)[1]) for f in flows], 300)
    assert len(replies) > 10
    assert round_trip(flows, max_len=300) == flows


def test_masked_match_values_round_trip() -> None:
    # Allowed address pairs emit masked IPv4 and ARP addresses (in the catalogue); these are masks no driver emits.
    f = Flow(0, 5, match(eth_dst=("01:00:00:00:00:00", "01:00:00:00:00:00"), vlan_vid=(0x1000, 0x1000)),
             cookie=cookie_for(7))
    assert_round_trips([f])


# -- what goes on the wire ---------------------------------------------------------------------------


@pytest.mark.parametrize("f", catalogue(), ids=str)
def test_a_delete_is_strict_names_the_exact_cookie_and_carries_no_instructions(f: Flow) -> None:
    _, fm = sent(ofmsg.DELETE, f)
    assert fm.command == ofp.OFPFC_DELETE_STRICT
    assert (fm.cookie, fm.cookie_mask) == (f.cookie, ALL_ONES)
    assert fm.instructions == []
    assert (fm.table_id, fm.priority) == (f.table, f.priority)
    assert tuple(sorted(fm.match.items())) == f.match
    assert (fm.out_port, fm.out_group) == (ofp.OFPP_ANY, ofp.OFPG_ANY)  # no further filter


@pytest.mark.parametrize("f", catalogue(), ids=str)
def test_an_add_and_a_modify_are_the_same_bytes_an_ofpfc_add(f: Flow) -> None:
    add, fm = sent(ofmsg.ADD, f)
    modify, _ = sent(ofmsg.MODIFY, f)
    assert modify == add  # a MODIFY would keep the old cookie on some switches; an ADD replaces it
    assert fm.command == ofp.OFPFC_ADD and fm.cookie_mask == 0
    assert (fm.buffer_id, fm.idle_timeout, fm.hard_timeout, fm.flags) == (ofp.OFP_NO_BUFFER, 0, 0, 0)


@pytest.mark.parametrize("f", catalogue(), ids=str)
def test_the_fake_switch_reads_and_reports_every_flow_as_sent(f: Flow) -> None:
    # tests/unit/fakechannel.py's switch half: what it holds for a flow-mod and what it reports back.
    _, fm = sent(ofmsg.ADD, f)
    assert switch_flow(fm.table_id, fm.priority, fm.cookie, fm.match, fm.instructions) == f
    assert read_back([stats_entry(f)]) == [f]


def test_output_to_the_controller_asks_for_the_whole_frame() -> None:
    (lldp,) = [f for f in base_flows(lldp=True) if f.actions]
    _, fm = sent(ofmsg.ADD, lldp)
    (apply,) = fm.instructions
    (out,) = apply.actions
    assert (out.port, out.max_len) == (ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)  # LLDP needs all of it


def test_a_flow_with_an_action_this_application_never_writes_cannot_be_sent() -> None:
    with pytest.raises(ValueError):
        ofmsg.flow_mod(DP, ofmsg.ADD, Flow(0, 1, match(in_port=1), actions=(Opaque("group:1"),)))


# -- what the application never writes reads back as such -------------------------------------------------


def _lldp() -> Flow:
    (f,) = [f for f in base_flows(lldp=True, meter=CONTROLLER_METER) if f.actions]
    return f


UNKNOWN_ACTIONS = [
    parser.OFPActionGroup(7),
    parser.OFPActionSetQueue(1),
    parser.OFPActionCopyTtlOut(),
    parser.OFPActionDecMplsTtl(),
    parser.OFPActionPushMpls(0x8847),
]


@pytest.mark.parametrize("extra", UNKNOWN_ACTIONS, ids=lambda a: type(a).__name__)
def test_an_unknown_action_reads_back_opaque_and_never_equals_the_desired_flow(extra: Any) -> None:
    want = _lldp()
    _, fm = sent(ofmsg.ADD, want)
    meter, apply = fm.instructions
    tampered = [meter, parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, list(apply.actions) + [extra])]
    (got,) = read_back([ofwire.flow_stats_entry(want.table, want.priority, want.cookie, fm.match, tampered)])
    assert got.actions[:-1] == want.actions and isinstance(got.actions[-1], Opaque)
    assert got != want
    assert diff([want], [got]).modify == [want]  # reconciliation replaces it


UNKNOWN_INSTRUCTIONS = [
    parser.OFPInstructionActions(ofp.OFPIT_WRITE_ACTIONS, [parser.OFPActionOutput(1, 0)]),
    parser.OFPInstructionActions(ofp.OFPIT_CLEAR_ACTIONS, []),
    parser.OFPInstructionWriteMetadata(1, 0xFF),
]


@pytest.mark.parametrize("extra", UNKNOWN_INSTRUCTIONS, ids=lambda i: f"{type(i).__name__}-{i.type}")
def test_an_unknown_instruction_reads_back_as_extra_and_never_equals_the_desired_flow(extra: Any) -> None:
    want = _lldp()
    _, fm = sent(ofmsg.ADD, want)
    (got,) = read_back([ofwire.flow_stats_entry(want.table, want.priority, want.cookie, fm.match,
                                                list(fm.instructions) + [extra])])
    assert (got.actions, got.meter, got.goto) == (want.actions, want.meter, want.goto)
    assert len(got.extra) == 1
    assert got != want
    assert diff([want], [got]).modify == [want]


def test_another_meter_or_none_is_a_different_flow() -> None:
    want = _lldp()
    for meter in (None, CONTROLLER_METER + 1):
        other = Flow(want.table, want.priority, want.match, want.actions, want.goto, want.cookie, meter=meter)
        (got,) = round_trip([other])
        assert got == other and got != want


# -- the flow stats request, meters --------------------------------------------------------------------


def test_the_flow_stats_request_asks_for_every_table_by_this_applications_cookie_mark() -> None:
    msg = ofmsg.flow_stats_request(DP)
    msg.set_xid(XID)
    buf = ofwire.to_wire(msg)
    assert ofwire.header(buf).msg_type == ofp.OFPT_MULTIPART_REQUEST
    assert ofwire.multipart_type(buf) == ofp.OFPMP_FLOW
    req = ofwire.flow_stats_request(buf)
    assert (req.table_id, req.out_port, req.out_group) == (ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY)
    assert (req.cookie, req.cookie_mask) == (COOKIE_MARK, COOKIE_MARK_MASK)
    assert list(req.match.items()) == []


@pytest.mark.parametrize("kind, command", [(ofmsg.ADD, ofp.OFPMC_ADD), (ofmsg.MODIFY, ofp.OFPMC_MODIFY)])
def test_a_meter_mod_drops_above_a_packet_rate(kind: str, command: int) -> None:
    msg = ofmsg.meter_mod(DP, kind, CONTROLLER_METER, 100, 25)
    msg.set_xid(XID)
    mod = ofwire.meter_mod(ofwire.to_wire(msg))
    assert (mod.command, mod.meter_id) == (command, CONTROLLER_METER)
    assert mod.flags == ofp.OFPMF_PKTPS | ofp.OFPMF_BURST
    (band,) = mod.bands
    assert isinstance(band, parser.OFPMeterBandDrop) and (band.rate, band.burst_size) == (100, 25)


def test_the_meter_features_request() -> None:
    msg = ofmsg.meter_features_request(DP)
    msg.set_xid(XID)
    buf = ofwire.to_wire(msg)
    assert ofwire.multipart_type(buf) == ofp.OFPMP_METER_FEATURES


def _features(*entries: bytes) -> list[Any]:
    replies = [ofwire.parse(DP, b) for e in entries for b in ofwire.multipart_replies(XID, ofp.OFPMP_METER_FEATURES,
                                                                                        [e])]
    assert all(isinstance(r, parser.OFPMeterFeaturesStatsReply) for r in replies)
    return replies


DROP = 1 << ofp.OFPMBT_DROP
REMARK = 1 << ofp.OFPMBT_DSCP_REMARK


@pytest.mark.parametrize(
    "entries, meters",
    [
        ([], 0),  # no reply at all
        ([(0, 0)], 0),  # no meters
        ([(0, DROP)], 0),  # drop bands, but not a single meter
        ([(64, REMARK)], 0),  # meters that can only remark
        ([(1, DROP)], 1),
        ([(64, DROP | REMARK)], 64),
        ([(0, 0), (8, DROP)], 8),  # any reply offering them
    ],
)
def test_drop_meters(entries: list[tuple[int, int]], meters: int) -> None:
    replies = _features(*(ofwire.meter_features_entry(m, bands) for m, bands in entries))
    assert ofmsg.drop_meters(replies) == meters
