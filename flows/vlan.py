"""VLAN isolation driver: one 802.1Q VLAN id per network."""

from __future__ import annotations

from collections.abc import Iterable

from .model import OFPVID_NONE, OFPVID_PRESENT, Action, Flow, Output, PopVlan, PushVlan, SetField, match
from .pipeline import PRIO_ACCESS, PRIO_FLOOD, PRIO_UNICAST, TABLE_FORWARD, TABLE_INGRESS, cookie_for
from .state import Member

DRIVER = "vlan"
VLAN_MIN = 1
VLAN_MAX = 4094


def segment_flows(segment_id: int, members: Iterable[Member]) -> list[Flow]:
    """Flows one switch needs for one network, given the network's members on it."""
    if not VLAN_MIN <= segment_id <= VLAN_MAX:
        raise ValueError(f"VLAN id {segment_id} out of range")
    local = sorted(members, key=lambda m: (m.port_no, m.mac))
    if not local:
        return []
    cookie = cookie_for(segment_id)
    vid = OFPVID_PRESENT | segment_id
    flows: list[Flow] = []
    for m in local:
        flows.append(
            Flow(
                table=TABLE_INGRESS,
                priority=PRIO_ACCESS,
                match=match(in_port=m.port_no, eth_src=m.mac, vlan_vid=OFPVID_NONE),
                actions=(PushVlan(), SetField("vlan_vid", vid)),
                goto=TABLE_FORWARD,
                cookie=cookie,
            )
        )
        flows.append(
            Flow(
                table=TABLE_FORWARD,
                priority=PRIO_UNICAST,
                match=match(vlan_vid=vid, eth_dst=m.mac),
                actions=(PopVlan(), Output(m.port_no)),
                cookie=cookie,
            )
        )
    # Broadcast, multicast and unknown unicast: every access port of the
    # network, once. OpenFlow never outputs to the ingress port unless asked
    # with IN_PORT, so the sender does not get its own frame back.
    flood: list[Action] = [PopVlan()]
    flood.extend(Output(p) for p in sorted({m.port_no for m in local}))
    flows.append(
        Flow(
            table=TABLE_FORWARD,
            priority=PRIO_FLOOD,
            match=match(vlan_vid=vid),
            actions=tuple(flood),
            cookie=cookie,
        )
    )
    return flows
