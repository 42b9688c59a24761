"""Flow values to OpenFlow 1.3 messages (os-ken) and back.

The reverse direction must give back exactly the value that was sent, so that a
switch holding the desired flows shows an empty difference on reconnect.

Flow-mods and flow stats entries go through `flowcodec` (bytes, no os-ken objects) where it
covers the flow, and through os-ken's classes otherwise: `flow_mod_bytes`, `flow_from_entry`.
"""

from __future__ import annotations

import logging
import struct
from typing import Any

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from flows.model import Action, Ct, DecTtl, Flow, Opaque, Output, PopVlan, PushVlan, SetField
from flows.pipeline import COOKIE_MARK, COOKIE_MARK_MASK

from . import flowcodec
from .flowcodec import ADD, DELETE, MODIFY

LOG = logging.getLogger(__name__)
# A replacement is sent as an ADD: the spec has ADD replace an entry with the
# same match and priority, cookie included, where a MODIFY's effect on the
# cookie differs between switches.
_COMMANDS = {ADD: ofp.OFPFC_ADD, MODIFY: ofp.OFPFC_ADD, DELETE: ofp.OFPFC_DELETE_STRICT}


def _action(a: Action) -> Any:
    if isinstance(a, Output):
        max_len = ofp.OFPCML_NO_BUFFER if a.port == ofp.OFPP_CONTROLLER else 0
        return parser.OFPActionOutput(a.port, max_len)
    if isinstance(a, PushVlan):
        return parser.OFPActionPushVlan(a.ethertype)
    if isinstance(a, PopVlan):
        return parser.OFPActionPopVlan()
    if isinstance(a, SetField):
        return parser.OFPActionSetField(**{a.name: a.value})
    if isinstance(a, DecTtl):
        return parser.OFPActionDecNwTtl()
    if isinstance(a, Ct):
        return _ct(a)
    raise ValueError(f"cannot send {a}")


# Open vSwitch's conntrack action (nicira_ext): flags, "no recirculation", NAT flags and ranges.
_CT_COMMIT = 1
_CT_NO_TABLE = 255
_NAT_SRC, _NAT_DST = 1, 2


def _ct(a: Ct) -> Any:
    nat: list[Any] = []
    if a.nat == "nat":
        nat = [parser.NXActionNAT(0)]
    elif a.nat:
        kind, address = a.nat.split("=")
        nat = [parser.NXActionNAT(_NAT_SRC if kind == "src" else _NAT_DST, range_ipv4_min=address)]
    # An immediate zone: no source field, the zone in zone_ofs_nbits.
    return parser.NXActionCT(_CT_COMMIT if a.commit else 0, "", a.zone,
                             _CT_NO_TABLE if a.table is None else a.table, 0, nat)


def _ct_value(a: Any) -> Action:
    """The Ct of an NXActionCT read back, or Opaque for one sdnapp never writes."""
    nat = ""
    inner = list(a.actions)
    if len(inner) == 1 and isinstance(inner[0], parser.NXActionNAT):
        n = inner[0]
        if n.flags == 0 and not n.range_ipv4_min:
            nat = "nat"
        elif n.flags in (_NAT_SRC, _NAT_DST) and n.range_ipv4_min and n.range_ipv4_max in ("", n.range_ipv4_min):
            nat = f"{'src' if n.flags == _NAT_SRC else 'dst'}={n.range_ipv4_min}"
    if a.zone_src or a.alg or a.flags & ~_CT_COMMIT or (inner and not nat):
        return Opaque(repr(a))
    return Ct(a.zone_ofs_nbits, bool(a.flags & _CT_COMMIT), None if a.recirc_table == _CT_NO_TABLE else a.recirc_table,
              nat)


def flow_mod(datapath: Any, kind: str, f: Flow) -> Any:
    """An OFPFlowMod that adds, replaces (strictly) or deletes (strictly) `f`."""
    inst: list[Any] = []
    # A delete names the entry by table, priority, match and cookie only: a flow read back with
    # actions this application never writes can be deleted.
    if kind != DELETE:
        if f.meter is not None:
            inst.append(parser.OFPInstructionMeter(f.meter, ofp.OFPIT_METER))
        if f.actions:
            inst.append(parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [_action(a) for a in f.actions]))
        if f.goto is not None:
            inst.append(parser.OFPInstructionGotoTable(f.goto))
    return parser.OFPFlowMod(
        datapath,
        cookie=f.cookie,
        # A strict delete must name our cookie exactly, so it can never take
        # another application's flow that happens to share the match.
        cookie_mask=0xFFFFFFFFFFFFFFFF if kind == DELETE else 0,
        table_id=f.table,
        command=_COMMANDS[kind],
        priority=f.priority,
        buffer_id=ofp.OFP_NO_BUFFER,
        out_port=ofp.OFPP_ANY,
        out_group=ofp.OFPG_ANY,
        match=parser.OFPMatch(**dict(f.match)),
        instructions=inst,
    )


def flow_mod_bytes(datapath: Any, kind: str, f: Flow, xid: int) -> bytes:
    """The bytes of `flow_mod(datapath, kind, f)` with transaction id `xid`: flowcodec's where it covers `f`."""
    try:
        return flowcodec.encode_flow_mod(kind, f, xid)
    except flowcodec.NotInSubset:
        msg = flow_mod(datapath, kind, f)
        msg.set_xid(xid)
        msg.serialize()
        return bytes(msg.buf)


def flow_stats_request(datapath: Any) -> Any:
    """Ask for every flow carrying this application's cookie mark, in all tables."""
    return parser.OFPFlowStatsRequest(
        datapath,
        0,
        ofp.OFPTT_ALL,
        ofp.OFPP_ANY,
        ofp.OFPG_ANY,
        COOKIE_MARK,
        COOKIE_MARK_MASK,
        parser.OFPMatch(),
    )


def _match_value(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(v)
    return v


def _action_value(a: Any) -> Action:
    if isinstance(a, parser.OFPActionOutput):
        return Output(a.port)
    if isinstance(a, parser.OFPActionPushVlan):
        return PushVlan(a.ethertype)
    if isinstance(a, parser.OFPActionPopVlan):
        return PopVlan()
    if isinstance(a, parser.OFPActionSetField):
        return SetField(a.key, a.value)
    if isinstance(a, parser.OFPActionDecNwTtl):
        return DecTtl()
    if isinstance(a, parser.NXActionCT):
        return _ct_value(a)
    return Opaque(repr(a))


def flow_from_stats(stats: Any) -> Flow:
    """The Flow value of one entry of a flow stats reply."""
    actions: list[Action] = []
    goto: int | None = None
    meter: int | None = None
    extra: list[str] = []
    for inst in stats.instructions:
        if isinstance(inst, parser.OFPInstructionActions) and inst.type == ofp.OFPIT_APPLY_ACTIONS:
            actions.extend(_action_value(a) for a in inst.actions)
        elif isinstance(inst, parser.OFPInstructionGotoTable):
            goto = inst.table_id
        elif isinstance(inst, parser.OFPInstructionMeter):
            meter = inst.meter_id
        else:
            extra.append(repr(inst))
    fields = tuple(sorted((k, _match_value(v)) for k, v in stats.match.items()))
    return Flow(
        table=stats.table_id,
        priority=stats.priority,
        match=fields,
        actions=tuple(actions),
        goto=goto,
        cookie=stats.cookie,
        extra=tuple(extra),
        meter=meter,
    )


_ENTRY_LENGTH = struct.Struct("!H")


class RawFlowStats:
    """One entry of a flow stats reply as the switch wrote it: its bytes, for `flow_from_entry`.

    os-ken's reply parser steps over entries by `length`. An entry whose length field is too small
    or runs past the message takes the rest of the message, so os-ken's loop always moves on and
    ends (with os-ken's own parser, a zero length loops forever); flowcodec then refuses it.
    """

    __slots__ = ("data", "length")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.length = len(data)

    @classmethod
    def parser(cls, buf: bytes, offset: int) -> RawFlowStats:
        end = len(buf)
        if offset + _ENTRY_LENGTH.size <= end:
            (length,) = _ENTRY_LENGTH.unpack_from(buf, offset)
            if ofp.OFP_FLOW_STATS_SIZE <= length <= end - offset:
                end = offset + length
        return cls(bytes(buf[offset:end]))

    def __repr__(self) -> str:
        return f"RawFlowStats({self.data.hex()})"


def keep_flow_stats_raw(keep: bool = True) -> None:
    """Have os-ken keep the entries of flow stats replies as bytes (`RawFlowStats`). Call once, before starting os-ken.

    os-ken parses every message in the connection's receive thread before any handler sees it,
    and its flow stats parsing (an object per field, instruction and action, netaddr for every
    address) is most of the cost of reading 10,000 flows back. The one thing changed is the
    entry class of one reply type, `OFPFlowStatsReply`, which os-ken's multipart parser looks up
    as `cls_stats_body_cls`: every other message, reply type and event is os-ken's as before, and
    `flow_from_entry` reads the entries with flowcodec, or with os-ken's `OFPFlowStats.parser`
    where flowcodec does not cover one. `keep=False` gives os-ken its own parser back.
    """
    parser.OFPFlowStatsReply.cls_stats_body_cls = RawFlowStats if keep else parser.OFPFlowStats


def flow_from_entry(entry: Any) -> Flow | None:
    """The Flow of one entry of a flow stats reply, kept raw or parsed by os-ken; None if it cannot be read.

    An entry that is not a well-formed ofp_flow_stats, or that os-ken cannot parse either, is
    logged and left out, as os-ken leaves out (and logs) a whole reply it cannot parse.
    """
    if not isinstance(entry, RawFlowStats):
        return flow_from_stats(entry)
    try:
        flow = flowcodec.decode_flow_stats(entry.data)
    except flowcodec.MalformedEntry as e:
        LOG.warning("left out a malformed flow stats entry (%s): %s", e, entry.data.hex())
        return None
    if flow is not None:
        return flow
    try:
        return flow_from_stats(parser.OFPFlowStats.parser(entry.data, 0))
    except Exception:  # anything os-ken's parser raises on bytes from a switch
        LOG.warning("left out a flow stats entry os-ken cannot parse: %s", entry.data.hex(), exc_info=True)
        return None


def meter_features_request(datapath: Any) -> Any:
    return parser.OFPMeterFeaturesStatsRequest(datapath, 0)


def drop_meters(replies: list[Any]) -> int:
    """How many meters with a drop band a meter features reply offers (0: none)."""
    return max((int(feat.max_meter) for r in replies for feat in r.body
                if feat.band_types & (1 << ofp.OFPMBT_DROP)), default=0)


def meter_mod(datapath: Any, command: str, meter_id: int, rate_pps: int, burst: int) -> Any:
    """Add or modify a packets-per-second meter that drops above `rate_pps`."""
    return parser.OFPMeterMod(
        datapath,
        command=ofp.OFPMC_ADD if command == ADD else ofp.OFPMC_MODIFY,
        flags=ofp.OFPMF_PKTPS | ofp.OFPMF_BURST,
        meter_id=meter_id,
        bands=[parser.OFPMeterBandDrop(rate=rate_pps, burst_size=burst)],
    )
