"""The emulated switch of testbeds/fleet_switch.py: its table semantics, and every message it handles, read and
written as bytes and checked through os-ken's own parser and sdnapp's real SwitchChannels."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from flows.diff import FlowDiff
from flows.model import Flow, Output
from flows.pipeline import CONTROLLER_BURST, CONTROLLER_METER, CONTROLLER_RATE_PPS, COOKIE_MARK, COOKIE_MARK_MASK
from sdnapp import ofmsg
from sdnapp.ofapp import SwitchChannels
from testbeds import ofwire
from testbeds.fleet_switch import N_TABLES, EmulatedSwitch, Port
from tests.unit.fakechannel import to_channels
from tests.unit.test_ofmsg import catalogue

DPID = 0x2A
ALL_ONES = (1 << 64) - 1
_xids = itertools.count(1)


def switch(max_meters: int = 0) -> EmulatedSwitch:
    return EmulatedSwitch(DPID, [Port(1, "sw42-p1"), Port(2, "sw42-p2", up=False)], max_meters=max_meters)


def send(sw: EmulatedSwitch, msg: Any) -> list[Any]:
    """`msg` as os-ken puts it on the wire, handled by the switch; its replies as os-ken parses them."""
    if msg.xid is None:
        msg.set_xid(next(_xids))
    return [ofwire.parse(ofwire.WireDatapath(DPID), r) for r in sw.handle(ofwire.to_wire(msg))]


def mod(command: int, priority: int = 10, cookie: int = 1, cookie_mask: int = 0, table_id: int = 0,
        out: int = 1, **match: Any) -> Any:
    inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(out, 0)])]
    return parser.OFPFlowMod(ofwire.WireDatapath(), cookie=cookie, cookie_mask=cookie_mask, table_id=table_id,
                             command=command, priority=priority, buffer_id=ofp.OFP_NO_BUFFER, out_port=ofp.OFPP_ANY,
                             out_group=ofp.OFPG_ANY, match=parser.OFPMatch(**(match or {"in_port": 1})),
                             instructions=inst)


def stats(sw: EmulatedSwitch, cookie: int = 0, mask: int = 0, table_id: int = ofp.OFPTT_ALL, **match: Any) -> list[Any]:
    req = parser.OFPFlowStatsRequest(ofwire.WireDatapath(), 0, table_id, ofp.OFPP_ANY, ofp.OFPG_ANY, cookie, mask,
                                     parser.OFPMatch(**match))
    replies = send(sw, req)
    assert all(isinstance(r, parser.OFPFlowStatsReply) for r in replies)
    return [s for r in replies for s in r.body]


def out_port(entry: Any) -> int:
    (inst,) = entry.instructions
    return int(inst.actions[0].port)


def only_error(replies: list[Any]) -> tuple[int, int]:
    (err,) = replies
    assert isinstance(err, parser.OFPErrorMsg)
    return err.type, err.code


# -- the table ---------------------------------------------------------------------------------------------


def test_add_replaces_the_entry_of_the_same_table_priority_and_match_cookie_included() -> None:
    sw = switch()
    send(sw, mod(ofp.OFPFC_ADD, cookie=1, out=1, in_port=1, eth_dst="fa:16:3e:00:00:01"))
    send(sw, mod(ofp.OFPFC_ADD, cookie=2, out=2, in_port=1, eth_dst="fa:16:3e:00:00:01"))
    (entry,) = stats(sw)
    assert (entry.cookie, out_port(entry)) == (2, 2)
    send(sw, mod(ofp.OFPFC_ADD, priority=11, in_port=1, eth_dst="fa:16:3e:00:00:01"))
    send(sw, mod(ofp.OFPFC_ADD, table_id=1, in_port=1, eth_dst="fa:16:3e:00:00:01"))
    send(sw, mod(ofp.OFPFC_ADD, in_port=2, eth_dst="fa:16:3e:00:00:01"))
    assert sw.flow_count() == 4 and sw.counters.flows_added == 5


def test_a_match_is_the_same_whatever_order_its_fields_were_written_in() -> None:
    sw = switch()
    msg = mod(ofp.OFPFC_ADD, cookie=1, in_port=1, eth_dst="fa:16:3e:00:00:01")
    msg.set_xid(1)
    buf = bytearray(ofwire.to_wire(msg))
    at = ofp.OFP_FLOW_MOD_SIZE - ofp.OFP_MATCH_SIZE
    (in_port, eth_dst), _ = ofwire.match_fields(bytes(buf), at)
    assert in_port[:4] == ofp.OXM_OF_IN_PORT.to_bytes(4, "big")  # os-ken writes in_port first
    buf[at + 4:at + 4 + len(in_port) + len(eth_dst)] = eth_dst + in_port
    sw.handle(bytes(buf))
    send(sw, mod(ofp.OFPFC_ADD, cookie=2, in_port=1, eth_dst="fa:16:3e:00:00:01"))
    (entry,) = stats(sw)
    assert entry.cookie == 2 and dict(entry.match.items()) == {"in_port": 1, "eth_dst": "fa:16:3e:00:00:01"}


def test_delete_strict_removes_the_entry_only_when_its_cookie_matches_under_the_mask() -> None:
    sw = switch()
    send(sw, mod(ofp.OFPFC_ADD, cookie=COOKIE_MARK | 7))
    assert send(sw, mod(ofp.OFPFC_DELETE_STRICT, cookie=COOKIE_MARK | 8, cookie_mask=ALL_ONES)) == []
    assert sw.flow_count() == 1
    send(sw, mod(ofp.OFPFC_DELETE_STRICT, priority=11, cookie=COOKIE_MARK | 7, cookie_mask=ALL_ONES))
    assert sw.flow_count() == 1  # another priority is another entry
    send(sw, mod(ofp.OFPFC_DELETE_STRICT, cookie=COOKIE_MARK | 8, cookie_mask=COOKIE_MARK_MASK))
    assert sw.flow_count() == 0 and sw.counters.flows_removed == 1


def test_delete_removes_every_entry_that_includes_the_match_with_the_cookie_in_every_table() -> None:
    sw = switch()
    send(sw, mod(ofp.OFPFC_ADD, cookie=COOKIE_MARK | 1, in_port=1, eth_dst="fa:16:3e:00:00:01"))
    send(sw, mod(ofp.OFPFC_ADD, cookie=COOKIE_MARK | 2, table_id=1, in_port=1))
    send(sw, mod(ofp.OFPFC_ADD, cookie=0x1234 << 48, in_port=1))  # another application's
    send(sw, mod(ofp.OFPFC_ADD, cookie=COOKIE_MARK | 3, in_port=2))
    send(sw, mod(ofp.OFPFC_DELETE, table_id=ofp.OFPTT_ALL, cookie=COOKIE_MARK, cookie_mask=COOKIE_MARK_MASK,
                 in_port=1))
    assert sorted(e.cookie for e in stats(sw)) == sorted([COOKIE_MARK | 3, 0x1234 << 48])


def test_modify_strict_replaces_the_instructions_and_keeps_the_cookie() -> None:
    sw = switch()
    send(sw, mod(ofp.OFPFC_ADD, cookie=5, out=1))
    send(sw, mod(ofp.OFPFC_MODIFY_STRICT, cookie=9, out=2))
    (entry,) = stats(sw)
    assert (entry.cookie, out_port(entry)) == (5, 2)
    send(sw, mod(ofp.OFPFC_MODIFY_STRICT, priority=3, out=3))  # no such entry: nothing
    assert sw.flow_count() == 1


def test_flow_stats_filter_by_cookie_under_the_mask_by_table_and_by_match() -> None:
    sw = switch()
    for n, table in ((1, 0), (2, 1), (3, 1)):
        send(sw, mod(ofp.OFPFC_ADD, cookie=COOKIE_MARK | n, table_id=table, in_port=n))
    send(sw, mod(ofp.OFPFC_ADD, cookie=0x1234 << 48, in_port=9))
    assert len(stats(sw)) == 4
    assert sorted(e.cookie for e in stats(sw, COOKIE_MARK, COOKIE_MARK_MASK)) == [COOKIE_MARK | n for n in (1, 2, 3)]
    assert [e.cookie for e in stats(sw, COOKIE_MARK, COOKIE_MARK_MASK, table_id=1, in_port=3)] == [COOKIE_MARK | 3]
    assert [e.table_id for e in stats(sw, COOKIE_MARK, COOKIE_MARK_MASK)] == [0, 1, 1]  # by table


def test_what_sdnapp_sends_reads_back_as_sent_over_split_replies() -> None:
    """Every kind of flow the drivers emit, through SwitchChannels and os-ken, into the table and back."""
    sw, ch = switch(), SwitchChannels()
    ch.add(EmulatedDatapath(sw, ch))
    flows = catalogue()
    many = flows + [Flow(1, 100, (("eth_dst", f"fa:16:3e:00:{n >> 8:02x}:{n & 255:02x}"),), (Output(1),),
                         cookie=COOKIE_MARK | 1) for n in range(1000)]
    assert ch.send(DPID, FlowDiff(add=many)) == []
    assert sw.counters.flow_mods == len(many)
    # The catalogue holds flows of several switches: on one, the last ADD of each identity is what stays.
    held = list({f.key: f for f in many}.values())
    assert 1000 < len(held) < len(many) and Counter(ch.read_flows(DPID)) == Counter(held)
    replies = sw.handle(ofwire.to_wire(_stamped(ofmsg.flow_stats_request(ofwire.WireDatapath()))))
    assert len(replies) > 1 and all(len(r) <= ofwire.MAX_MESSAGE for r in replies)
    assert ch.send(DPID, FlowDiff(delete=held)) == []
    assert sw.flow_count() == 0


def _stamped(msg: Any) -> Any:
    msg.set_xid(next(_xids))
    return msg


class EmulatedDatapath:
    """os-ken's Datapath as SwitchChannels uses it, its messages handled by an EmulatedSwitch."""

    ofproto = ofp
    ofproto_parser = parser

    def __init__(self, sw: EmulatedSwitch, ch: SwitchChannels) -> None:
        self.id = sw.datapath_id
        self.sw = sw
        self.deliver = to_channels(ch)

    def send_msg(self, msg: Any) -> bool:
        return self.send(ofwire.to_wire(msg))

    def send(self, buf: bytes, close_socket: bool = False) -> bool:
        """Bytes as sdnapp writes them itself (flow-mods back to back), read one message at a time."""
        for one in ofwire.split(buf):
            for reply in self.sw.handle(one):
                self.deliver(ofwire.parse(self, reply))
        return True


# -- the other messages --------------------------------------------------------------------------------------


def test_the_handshake_hello_features_and_port_descriptions() -> None:
    sw = switch()
    hello = ofwire.parse(ofwire.WireDatapath(), sw.hello())
    assert isinstance(hello, parser.OFPHello) and hello.version == ofp.OFP_VERSION
    assert send(sw, parser.OFPHello(ofwire.WireDatapath())) == []
    (features,) = send(sw, parser.OFPFeaturesRequest(ofwire.WireDatapath()))
    assert isinstance(features, parser.OFPSwitchFeatures)
    assert (features.datapath_id, features.n_buffers, features.n_tables) == (DPID, 0, N_TABLES)
    ch = SwitchChannels()
    ch.add(EmulatedDatapath(sw, ch))
    assert [(p.port_no, p.name, p.up) for p in ch.port_desc(DPID)] == [(1, "sw42-p1", True), (2, "sw42-p2", False)]


def test_an_older_controller_is_told_hello_failed() -> None:
    old = bytes([ofp.OFP_VERSION - 1]) + ofwire.hello(7)[1:]
    (reply,) = switch().handle(old)
    assert ofwire.parse(ofwire.WireDatapath(), reply).type == ofp.OFPET_HELLO_FAILED


def test_echo_requests_are_answered_with_their_xid_and_data() -> None:
    msg = parser.OFPEchoRequest(ofwire.WireDatapath(), data=b"ping")
    msg.set_xid(77)
    (reply,) = send(switch(), msg)
    assert isinstance(reply, parser.OFPEchoReply) and (reply.xid, reply.data) == (77, b"ping")
    assert isinstance(ofwire.parse(ofwire.WireDatapath(), switch().echo_request()), parser.OFPEchoRequest)


def test_a_barrier_is_answered_after_everything_before_it() -> None:
    sw = switch()
    msgs = [mod(ofp.OFPFC_ADD), parser.OFPPortDescStatsRequest(ofwire.WireDatapath(), 0),
            parser.OFPBarrierRequest(ofwire.WireDatapath())]
    replies = [r for m in msgs for r in sw.handle(ofwire.to_wire(_stamped(m)))]
    kinds = [type(ofwire.parse(ofwire.WireDatapath(), r)).__name__ for r in replies]
    assert kinds == ["OFPPortDescStatsReply", "OFPBarrierReply"] and sw.flow_count() == 1


def test_meters_where_the_switch_has_them_and_none_where_it_does_not() -> None:
    for max_meters, want in ((0, False), (4, True)):
        sw, ch = switch(max_meters), SwitchChannels()
        ch.add(EmulatedDatapath(sw, ch))
        assert ch.ensure_controller_meter(DPID, CONTROLLER_METER, CONTROLLER_RATE_PPS, CONTROLLER_BURST) is want
        assert list(sw.meters) == ([CONTROLLER_METER] if want else [])


@pytest.mark.parametrize(("msg", "error"), [
    (parser.OFPGetConfigRequest(ofwire.WireDatapath()), (ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_TYPE)),
    (parser.OFPDescStatsRequest(ofwire.WireDatapath(), 0), (ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_MULTIPART)),
    (mod(ofp.OFPFC_ADD, table_id=N_TABLES), (ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_BAD_TABLE_ID)),
    (parser.OFPFlowMod(ofwire.WireDatapath(), command=7), (ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_BAD_COMMAND)),
    (parser.OFPFlowStatsRequest(ofwire.WireDatapath(), 0, ofp.OFPTT_ALL, 3, ofp.OFPG_ANY, 0, 0, parser.OFPMatch()),
     (ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_EPERM)),
    (ofmsg.meter_mod(ofwire.WireDatapath(), ofmsg.ADD, 1, 100, 10), (ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_TYPE)),
])
def test_what_it_does_not_emulate_is_an_openflow_error_and_changes_nothing(msg: Any, error: tuple[int, int]) -> None:
    sw = switch()
    assert only_error(send(sw, msg)) == error
    assert sw.flow_count() == 0 and sw.counters.errors == 1


def test_a_malformed_flow_mod_is_an_error_not_a_crash() -> None:
    sw = switch()
    good = ofwire.to_wire(_stamped(mod(ofp.OFPFC_ADD)))
    for bad in (good[:40], good[:52], good[:49] + b"\xff" + good[50:]):  # short; cut match; match length too long
        bad = bad[:2] + len(bad).to_bytes(2, "big") + bad[4:]
        (reply,) = sw.handle(bad)
        assert ofwire.parse(ofwire.WireDatapath(), reply).type == ofp.OFPET_BAD_REQUEST
    assert sw.flow_count() == 0


def test_ports_added_and_removed_are_port_status_messages_and_in_the_next_port_list() -> None:
    sw = switch()
    port, status = sw.add_port("sw42-x1")
    assert port.port_no == 3
    msg = ofwire.parse(ofwire.WireDatapath(), status)
    assert isinstance(msg, parser.OFPPortStatus) and msg.reason == ofp.OFPPR_ADD
    assert (msg.desc.port_no, msg.desc.name) == (3, b"sw42-x1")
    with pytest.raises(ValueError):
        sw.add_port("sw42-x1")
    down = ofwire.parse(ofwire.WireDatapath(), sw.set_port("sw42-x1", up=False))
    assert down.reason == ofp.OFPPR_MODIFY and down.desc.state & ofp.OFPPS_LINK_DOWN
    gone = ofwire.parse(ofwire.WireDatapath(), sw.remove_port("sw42-x1"))
    assert gone.reason == ofp.OFPPR_DELETE and gone.desc.port_no == 3
    assert sw.add_port("sw42-x2")[0].port_no == 4  # numbers are not reused, as OVS's
    (reply,) = send(sw, parser.OFPPortDescStatsRequest(ofwire.WireDatapath(), 0))
    assert [p.name for p in reply.body] == [b"sw42-p1", b"sw42-p2", b"sw42-x2", f"br{DPID:x}".encode()]
