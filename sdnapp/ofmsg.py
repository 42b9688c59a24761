"""Flow values to OpenFlow 1.3 messages (os-ken) and back.

The reverse direction must give back exactly the value that was sent, so that a
switch holding the desired flows shows an empty difference on reconnect.
"""

from __future__ import annotations

from typing import Any

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from flows.model import Action, Flow, Opaque, Output, PopVlan, PushVlan, SetField
from flows.pipeline import COOKIE_MARK, COOKIE_MARK_MASK

ADD, MODIFY, DELETE = "add", "modify", "delete"
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
    raise ValueError(f"cannot send {a}")


def flow_mod(datapath: Any, kind: str, f: Flow) -> Any:
    """An OFPFlowMod that adds, replaces (strictly) or deletes (strictly) `f`."""
    inst: list[Any] = []
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
        instructions=inst if kind != DELETE else [],
    )


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
