"""sdnapp.flowcodec against os-ken, the oracle: the same bytes out, the same Flow values in, or a refusal.

For every flow the drivers emit over generated deployments (test_ofmsg's generators) and for
hypothesis-made flows anywhere in the codec's subset, `encode_flow_mod` must give the bytes os-ken
serialises `ofmsg.flow_mod` to, and `decode_flow_stats` must give what os-ken's
`OFPFlowStats.parser` and `ofmsg.flow_from_stats` make of the stats entry a switch writes back.
Outside the subset the encoder raises NotInSubset and the decoder says None (the caller asks
os-ken). Mutated, cut and random entries either decode to exactly os-ken's value or are refused.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from flows.driver import TunnelEnd
from flows.model import (
    OFPP_CONTROLLER,
    OFPVID_PRESENT,
    Action,
    Flow,
    Opaque,
    Output,
    PopVlan,
    PushVlan,
    SetField,
    match,
)
from flows.pipeline import access_flows, cookie_for
from flows.state import Member
from flows.vxlan import VNI_MAX
from sdnapp import flowcodec, ofmsg
from sdnapp.flowcodec import ADD, DELETE, MODIFY, MalformedEntry, NotInSubset, decode_flow_stats, encode_flow_mod
from sdnapp.ofmsg import RawFlowStats, flow_from_entry, keep_flow_stats_raw
from testbeds import ofwire
from tests.unit.test_ofmsg import (
    ACCESS,
    FABRICS,
    UNKNOWN_ACTIONS,
    UNKNOWN_INSTRUCTIONS,
    catalogue,
    fabric_of,
    hypervisors,
    ipv4s,
    mac_text,
    members_on,
    port_nos,
    vlan_flows,
    vxlan_flows,
)

DP = ofwire.WireDatapath(0x5D)
XID = 0x80000001
KINDS = (ADD, MODIFY, DELETE)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- the oracle -------------------------------------------------------------------------------------------


def os_ken_bytes(kind: str, f: Flow, xid: int = XID) -> bytes:
    msg = ofmsg.flow_mod(DP, kind, f)
    msg.set_xid(xid)
    return ofwire.to_wire(msg)


def instructions_of(f: Flow) -> list[Any]:
    """What os-ken makes of `f`'s instructions, read back from its flow-mod as a switch reads it."""
    return list(ofwire.parse(DP, os_ken_bytes(ADD, f)).instructions)


def entry_of(f: Flow, match_: Any = None, instructions: Sequence[Any] | None = None) -> bytes:
    """The stats entry a switch writes for what os-ken's ADD of `f` made it hold (or other match / instructions)."""
    fm = ofwire.parse(DP, os_ken_bytes(ADD, f))
    return ofwire.flow_stats_entry(fm.table_id, fm.priority, fm.cookie, fm.match if match_ is None else match_,
                                   fm.instructions if instructions is None else instructions,
                                   packet_count=3, byte_count=180)


def os_ken_reads(entry: bytes) -> Flow:
    return ofmsg.flow_from_stats(parser.OFPFlowStats.parser(entry, 0))


def assert_agrees(flows: Sequence[Flow]) -> None:
    for i, f in enumerate(flows):
        for kind in KINDS:
            xid = XID + 7 * i
            assert encode_flow_mod(kind, f, xid) == os_ken_bytes(kind, f, xid), (kind, str(f))
        entry = entry_of(f)
        assert decode_flow_stats(entry) == os_ken_reads(entry) == f, str(f)


# -- what the drivers emit ----------------------------------------------------------------------------------


def test_every_catalogued_flow_encodes_and_decodes_as_os_ken_does() -> None:
    assert_agrees(catalogue())


@SETTINGS
@given(m=members_on([1], port_nos, max_size=1), segment=st.integers(1, 4094), vni=st.integers(1, VNI_MAX))
def test_access_flows_with_and_without_an_address(m: list[Member], segment: int, vni: int) -> None:
    assert_agrees(access_flows(m[0], (PushVlan(), SetField("vlan_vid", OFPVID_PRESENT | segment)), cookie_for(segment)))
    assert_agrees(access_flows(m[0], (SetField("tunnel_id", vni),), cookie_for(vni)))


@pytest.mark.parametrize("name", sorted(FABRICS))
@SETTINGS
@given(data=st.data(), segment=st.integers(1, 4094))
def test_vlan_flows_on_generated_fabrics(name: str, data: st.DataObject, segment: int) -> None:
    fabric = fabric_of(FABRICS[name])
    assert_agrees(vlan_flows(segment, data.draw(members_on(sorted(fabric.switches), ACCESS)), fabric))


@SETTINGS
@given(data=st.data(), tunnels=hypervisors(), vni=st.integers(1, VNI_MAX))
def test_vxlan_flows_with_known_and_unknown_tunnel_ports(data: st.DataObject, tunnels: dict[int, TunnelEnd],
                                                        vni: int) -> None:
    assert_agrees(vxlan_flows(vni, data.draw(members_on(sorted(tunnels), ACCESS)), tunnels))


# -- anything in the subset --------------------------------------------------------------------------------


def uints(size: int) -> st.SearchStrategy[int]:
    return st.integers(0, (1 << 8 * size) - 1)


ANY_MAC = st.integers(0, (1 << 48) - 1).map(mac_text)
VALUES: dict[str, Callable[[int], st.SearchStrategy[int | str]]] = {
    "int": uints, "mac": lambda size: ANY_MAC | ANY_MAC.map(str.upper), "ipv4": lambda size: ipv4s,
}
FIELD_VALUES = {name: VALUES[kind](size) for name, (_, _, kind, size) in flowcodec._FIELDS.items()}


def match_values(name: str) -> st.SearchStrategy[Any]:
    v = FIELD_VALUES[name]
    return v | st.tuples(v, v)  # exact or (value, mask), the value with bits outside the mask or not


actions_in_subset: st.SearchStrategy[Action] = st.one_of(
    st.builds(Output, uints(4) | st.just(OFPP_CONTROLLER)),
    st.builds(PushVlan, uints(2)),
    st.just(PopVlan()),
    st.sampled_from(sorted(FIELD_VALUES)).flatmap(lambda n: FIELD_VALUES[n].map(lambda v: SetField(n, v))),
)


@st.composite
def subset_flows(draw: st.DrawFn) -> Flow:
    names = draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), unique=True, max_size=6))
    return Flow(
        table=draw(uints(1)),
        priority=draw(uints(2)),
        match=match(**{n: draw(match_values(n)) for n in names}),
        actions=tuple(draw(st.lists(actions_in_subset, max_size=5))),
        goto=draw(st.none() | uints(1)),
        cookie=draw(uints(8)),
        meter=draw(st.none() | uints(4)),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(f=subset_flows(), xid=uints(4))
def test_any_flow_in_the_subset_encodes_as_os_ken_does_and_its_entry_decodes_as_os_ken_reads_it(f: Flow,
                                                                                                 xid: int) -> None:
    for kind in KINDS:
        assert encode_flow_mod(kind, f, xid) == os_ken_bytes(kind, f, xid)
    entry = entry_of(f)
    assert decode_flow_stats(entry) == os_ken_reads(entry)


# -- outside the subset: os-ken's --------------------------------------------------------------------------

BASE = Flow(0, 100, match(in_port=1, eth_type=0x0800), (Output(2),), cookie=cookie_for(5))
OUTSIDE = {
    "a match field outside": Flow(0, 100, match(in_port=1, metadata=5), cookie=cookie_for(5)),
    "an IPv6 field": Flow(0, 100, match(eth_type=0x86DD, ipv6_src="fe80::1"), cookie=cookie_for(5)),
    "set_field of a field outside": Flow(0, 100, match(in_port=1), (SetField("vlan_pcp", 3),), cookie=cookie_for(5)),
    "a MAC written with dashes": Flow(0, 100, match(eth_src="fa-16-3e-00-00-01"), cookie=cookie_for(5)),
    "an IPv4 prefix as text": Flow(0, 100, match(eth_type=0x0800, ipv4_dst="10.0.0.0/24"), cookie=cookie_for(5)),
    "an IPv4 address as an int": Flow(0, 100, match(eth_type=0x0800, ipv4_src=0x0A000001), cookie=cookie_for(5)),
    "an int too large for its field": Flow(0, 100, match(in_port=(1 << 32) + 1), cookie=cookie_for(5)),
    "a cookie too large": Flow(0, 100, match(in_port=1), cookie=1 << 64),
    "an action sdnapp never writes": Flow(0, 100, match(in_port=1), (Opaque("group:7"),), cookie=cookie_for(5)),
    "instructions sdnapp never writes": Flow(0, 100, match(in_port=1), extra=("write_metadata",),
                                             cookie=cookie_for(5)),
}


@pytest.mark.parametrize("f", OUTSIDE.values(), ids=OUTSIDE.keys())
def test_a_flow_outside_the_subset_is_refused_and_sent_as_os_ken_sends_it(f: Flow) -> None:
    with pytest.raises(NotInSubset):
        encode_flow_mod(ADD, f, XID)
    try:
        want = os_ken_bytes(ADD, f)
    except Exception as e:  # os-ken cannot send it either: the caller gets os-ken's error
        with pytest.raises(type(e)):
            ofmsg.flow_mod_bytes(DP, ADD, f, XID)
    else:
        assert ofmsg.flow_mod_bytes(DP, ADD, f, XID) == want


@pytest.mark.parametrize("f", [OUTSIDE["an action sdnapp never writes"], OUTSIDE["instructions sdnapp never writes"]],
                         ids=["opaque action", "extra"])
def test_a_flow_read_back_with_what_sdnapp_never_writes_can_be_deleted(f: Flow) -> None:
    # A delete carries no instructions: it is the same message whatever the flow holds.
    assert encode_flow_mod(DELETE, f, XID) == os_ken_bytes(DELETE, f) == os_ken_bytes(
        DELETE, Flow(f.table, f.priority, f.match, cookie=f.cookie))


def test_an_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown flow-mod kind"):
        encode_flow_mod("replace", BASE, XID)


def _entries_outside() -> dict[str, bytes]:
    f = BASE
    inst = instructions_of(f)
    apply_ = inst[0]
    out: dict[str, bytes] = {}
    for a in UNKNOWN_ACTIONS + [parser.NXActionResubmitTable(in_port=1, table_id=2),
                                parser.NXActionCT(flags=1, zone_src="", zone_ofs_nbits=0, recirc_table=255, alg=0,
                                                  actions=[parser.NXActionNAT(flags=1)])]:
        acts = list(apply_.actions) + [a]
        out[f"action {type(a).__name__}"] = entry_of(f, instructions=[parser.OFPInstructionActions(
            ofp.OFPIT_APPLY_ACTIONS, acts)])
    for i in UNKNOWN_INSTRUCTIONS:
        out[f"instruction {type(i).__name__} {i.type}"] = entry_of(f, instructions=inst + [i])
    for m in (parser.OFPMatch(in_port=1, metadata=7), parser.OFPMatch(eth_type=0x86DD, ipv6_dst="fe80::2"),
              parser.OFPMatch(pbb_uca=1), parser.OFPMatch(tcp_flags=2), parser.OFPMatch(in_port=1, reg0=5)):
        out[f"match {dict(m.items())}"] = entry_of(f, match_=m)
    out["a set_field outside"] = entry_of(f, instructions=[parser.OFPInstructionActions(
        ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionSetField(vlan_pcp=3)])])
    out["goto given twice"] = entry_of(f, instructions=inst + [parser.OFPInstructionGotoTable(1)] * 2)
    out["a field given twice"] = entry_of(f, match_=parser.OFPMatch(_ordered_fields=[("in_port", 1), ("in_port", 2)]))
    standard = bytearray(entry_of(f))
    standard[48:50] = struct.pack("!H", 0)  # match type OFPMT_STANDARD
    out["a match of another type"] = bytes(standard)
    return out


ENTRIES_OUTSIDE = _entries_outside()


@pytest.mark.parametrize("entry", ENTRIES_OUTSIDE.values(), ids=ENTRIES_OUTSIDE.keys())
def test_an_entry_outside_the_subset_is_not_the_codecs_and_is_read_as_os_ken_reads_it(entry: bytes) -> None:
    assert decode_flow_stats(entry) is None
    try:
        want: Flow | None = os_ken_reads(entry)
    except Exception:  # os-ken cannot read it (e.g. a field twice): left out
        want = None
    assert flow_from_entry(RawFlowStats(entry)) == want


def _cut(b: bytes, at: int, size: int, value: int | None = None) -> bytes:
    """`b` with a 16-bit length field at `at` set to `value`, or with `size` bytes removed there."""
    if value is not None:
        return b[:at] + struct.pack("!H", value) + b[at + 2:]
    return b[:at] + b[at + size:]


def _fix_length(b: bytes) -> bytes:
    return struct.pack("!H", len(b)) + b[2:]


LLDP = next(f for f in catalogue() if f.meter is not None and f.actions)  # meter, apply-actions (output)
GOTO = next(f for f in catalogue() if f.goto is not None and f.actions[:1] == (PushVlan(),))


def _malformed() -> dict[str, bytes]:
    lldp, goto = entry_of(LLDP), entry_of(GOTO)
    mlen = struct.unpack_from("!H", lldp, 50)[0]
    inst = 48 + mlen + -mlen % 8  # the meter instruction, then apply-actions with one output
    g_mlen = struct.unpack_from("!H", goto, 50)[0]
    g_inst = 48 + g_mlen + -g_mlen % 8  # apply-actions (push_vlan, set_field vlan_vid), goto
    nested = parser.NXActionCT(flags=1, zone_src="", zone_ofs_nbits=0, recirc_table=255, alg=0,
                               actions=[parser.NXActionNAT(flags=1)])
    ct = entry_of(LLDP, instructions=[parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [nested])])
    return {
        "shorter than a header": lldp[:40],
        "length field says more": _cut(lldp, 0, 0, len(lldp) + 8),
        "length field says less": _cut(lldp, 0, 0, len(lldp) - 8),
        "match length under its header": _cut(lldp, 50, 0, 3),
        "match past the entry": _cut(lldp, 50, 0, len(lldp)),
        "a match field of no length": lldp[:52] + b"\x80\x00\x0a\x00" + lldp[56:],
        "a match field past the match": lldp[:52] + struct.pack("!I", 0x80000A00 | 200) + lldp[56:],
        "a meter instruction of no length": _cut(lldp, inst + 2, 0, 0),
        "an apply-actions of no length": _cut(lldp, inst + 10, 0, 0),  # os-ken's own parser loops forever on it
        "an instruction length not a multiple of 8": _cut(lldp, inst + 10, 0, 20),
        "a meter instruction of 16 bytes": _fix_length(lldp[:inst + 2] + b"\x00\x10" + lldp[inst + 4:inst + 8]
                                                       + bytes(8) + lldp[inst + 8:]),
        "an instruction cut": _fix_length(lldp[:-4]),
        "an action of no length": _cut(lldp, inst + 18, 0, 0),
        "an output of 8 bytes": _fix_length(lldp[:inst + 10] + b"\x00\x10" + lldp[inst + 12:inst + 18] + b"\x00\x08"
                                            + lldp[inst + 20:inst + 24]),
        "a set_field whose field runs past it": goto[:g_inst + 20] + struct.pack("!I", 0x80000C00 | 32)
        + goto[g_inst + 24:],
        "a ct action holding an action of no length": _cut(ct, len(ct) - 16 + 2, 0, 0),
    }


MALFORMED = _malformed()


@pytest.mark.parametrize("entry", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_entry_is_refused_and_never_handed_to_os_ken(entry: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MalformedEntry):
        decode_flow_stats(entry)

    def loop(*args: Any) -> None:
        raise AssertionError("os-ken's parser was asked")

    monkeypatch.setattr(parser.OFPFlowStats, "parser", loop)
    assert flow_from_entry(RawFlowStats(entry)) is None


def test_the_malformed_cases_differ_from_a_good_entry_only_where_they_say() -> None:
    # Each case above is one change to an entry that decodes: the refusals are for that change.
    for f in (LLDP, GOTO):
        assert decode_flow_stats(entry_of(f)) == f
    nested = parser.NXActionCT(flags=1, zone_src="", zone_ofs_nbits=0, recirc_table=255, alg=0,
                               actions=[parser.NXActionNAT(flags=1)])
    ct = entry_of(LLDP, instructions=[parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [nested])])
    assert decode_flow_stats(ct) is None and isinstance(os_ken_reads(ct).actions[0], Opaque)


# -- mutated, cut and random entries ------------------------------------------------------------------------

GOOD = [entry_of(f) for f in catalogue()]


def either_os_kens_or_refused(entry: bytes) -> None:
    """decode_flow_stats gives os-ken's value, or None, or MalformedEntry; never another value or error."""
    try:
        got = decode_flow_stats(entry)
    except MalformedEntry:
        assert flow_from_entry(RawFlowStats(entry)) is None
        return
    if got is None:
        flow_from_entry(RawFlowStats(entry))  # os-ken's, or left out: terminates and raises nothing
    else:
        assert got == os_ken_reads(entry)


@FUZZ
@given(data=st.data())
def test_mutated_entries_decode_as_os_ken_reads_them_or_are_refused(data: st.DataObject) -> None:
    entry = bytearray(data.draw(st.sampled_from(GOOD)))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(entry) - 1))
        entry[at] = data.draw(st.integers(0, 255) | st.sampled_from([0, 8, 16, 0xFF]))
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(entry)))
        entry[at:at + data.draw(st.integers(0, 16))] = data.draw(st.binary(max_size=16))
    if data.draw(st.booleans()):
        entry = bytearray(_fix_length(bytes(entry)))
    either_os_kens_or_refused(bytes(entry))


@FUZZ
@given(body=st.binary(min_size=0, max_size=160), fix=st.booleans())
def test_random_bytes_decode_as_os_ken_reads_them_or_are_refused(body: bytes, fix: bool) -> None:
    either_os_kens_or_refused(_fix_length(body) if fix and len(body) >= 2 else body)


# -- os-ken told not to parse flow stats entries -------------------------------------------------------------


def _stats_replies(entries: list[bytes]) -> list[Any]:
    return [ofwire.parse(DP, b) for b in ofwire.multipart_replies(XID, ofp.OFPMP_FLOW, entries, 400)]


def test_keep_flow_stats_raw_has_os_ken_keep_the_entries_bytes_and_can_be_undone() -> None:
    flows = catalogue()
    entries = [entry_of(f) for f in flows]
    keep_flow_stats_raw()
    try:
        keep_flow_stats_raw()  # twice is once
        replies = _stats_replies(entries)
        assert len(replies) > 5 and all(isinstance(r, parser.OFPFlowStatsReply) for r in replies)
        body = [e for r in replies for e in r.body]
        assert [e.data for e in body] == entries
        assert [flow_from_entry(e) for e in body] == flows
        # other replies are os-ken's as before
        (ports,) = [ofwire.parse(DP, b) for b in ofwire.multipart_replies(XID, ofp.OFPMP_PORT_DESC,
                                                                         [ofwire.port_entry(1, "p1", True)])]
        assert [p.port_no for p in ports.body] == [1]
    finally:
        keep_flow_stats_raw(False)
    body = [e for r in _stats_replies(entries) for e in r.body]
    assert all(isinstance(e, parser.OFPFlowStats) for e in body)
    assert [flow_from_entry(e) for e in body] == flows


@pytest.mark.usefixtures("raw_flow_stats")
@pytest.mark.parametrize("length", [0, 8, 55, 10_000])
def test_an_entry_whose_length_field_is_wrong_takes_the_rest_of_its_reply(length: int) -> None:
    # os-ken's parser steps over entries by their length field: with 0 it never moves on.
    good = [entry_of(f) for f in catalogue()[:3]]
    bad = struct.pack("!H", length) + good[0][2:]
    (reply,) = _stats_replies([good[1], bad, good[2]])
    assert [e.data for e in reply.body][0] == good[1]
    assert b"".join(e.data for e in reply.body[1:]) == bad + good[2]
    assert [flow_from_entry(e) for e in reply.body] == [catalogue()[1], None]


def test_mac_text_is_os_kens() -> None:
    # os-ken writes MACs with netaddr: lower case, two digits an octet; either case is read.
    for mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "0a:1b:2c:3d:4e:5f"):
        f = Flow(0, 1, match(eth_dst=mac), cookie=1)
        assert decode_flow_stats(entry_of(f)) == f
        upper = Flow(0, 1, match(eth_dst=mac.upper()), cookie=1)
        assert encode_flow_mod(ADD, upper, XID) == os_ken_bytes(ADD, upper) == os_ken_bytes(ADD, f)
