"""VLAN isolation driver: one 802.1Q VLAN id per network, carried tagged on trunk links."""

from __future__ import annotations

from collections.abc import Sequence

from topology.fabric import Fabric, Link

from .driver import Context
from .model import OFPVID_PRESENT, Action, Flow, MatchValue, Output, PopVlan, PushVlan, SetField, match
from .nat import TABLE_NAT_OUT
from .pipeline import PRIO_FLOOD, PRIO_TRUNK, PRIO_UNICAST, TABLE_FORWARD, TABLE_INGRESS, access_flows, cookie_for
from .state import Member

DRIVER = "vlan"  # its name in the configuration (isolation.driver)
VLAN_MIN = 1
VLAN_MAX = 4094


def _network_links(members: Sequence[Member], fabric: Fabric) -> tuple[frozenset[Link], frozenset[Link]]:
    """(flood links, all links) a network uses: its part of the tree, and the shortest paths between its switches."""
    where = {m.datapath_id for m in members} & fabric.switches
    flood = fabric.pruned_tree(where)
    used = set(flood)
    for s in where:
        for d in where:
            if s != d:
                used.update(fabric.path(s, d) or ())
    return flood, frozenset(used)


def access_members(members: Sequence[Member], fabric: Fabric) -> list[Member]:
    """Members not on an inter-switch link's port: such a port is never an access port, whatever a binding says."""
    return [m for m in members if m.port_no not in fabric.trunk_ports(m.datapath_id)]


def segment_switches(members: Sequence[Member], fabric: Fabric) -> frozenset[int]:
    """The switches that hold flows of a network: its members' and those its traffic crosses."""
    members = access_members(members, fabric)
    where = {m.datapath_id for m in members} & fabric.switches
    _, used = _network_links(members, fabric)
    return frozenset(where | {lk.a.datapath_id for lk in used} | {lk.b.datapath_id for lk in used})


def segment_flows(segment_id: int, members: Sequence[Member], dpid: int, fabric: Fabric | None = None,
                  dhcp_meter: int | None = None) -> list[Flow]:
    """Flows switch `dpid` needs for one network, given all the network's members on the fabric."""
    if not VLAN_MIN <= segment_id <= VLAN_MAX:
        raise ValueError(f"VLAN id {segment_id} out of range")
    fabric = fabric or Fabric([dpid], [])
    members = access_members(members, fabric)
    local = sorted((m for m in members if m.datapath_id == dpid), key=lambda m: (m.port_no, m.mac))
    flood_links, used_links = _network_links(members, fabric)
    touches = [lk for lk in used_links if dpid in (lk.a.datapath_id, lk.b.datapath_id)]
    if not local and not touches:
        return []
    cookie = cookie_for(segment_id)
    vid = OFPVID_PRESENT | segment_id
    flows: list[Flow] = []
    for m in local:
        if m.router:  # the network's router here: frames for it go on to the NAT tables, still tagged
            flows.append(Flow(TABLE_FORWARD, PRIO_UNICAST, match(vlan_vid=vid, eth_dst=m.mac), goto=TABLE_NAT_OUT,
                              cookie=cookie))
            continue
        flows.extend(access_flows(m, (PushVlan(), SetField("vlan_vid", vid)), cookie, dhcp_meter))
        flows.append(
            Flow(
                table=TABLE_FORWARD,
                priority=PRIO_UNICAST,
                match=match(vlan_vid=vid, eth_dst=m.mac),
                actions=(PopVlan(), Output(m.port_no)),
                cookie=cookie,
            )
        )
    # Trunk ports admit this network's tag only on links the network uses.
    for port in sorted({lk.end_at(dpid).port_no for lk in touches}):
        flows.append(
            Flow(
                table=TABLE_INGRESS,
                priority=PRIO_TRUNK,
                match=match(in_port=port, vlan_vid=vid),
                goto=TABLE_FORWARD,
                cookie=cookie,
            )
        )
    # Members elsewhere: tagged, on the first hop of the shortest path to their switch.
    for m in sorted(members, key=lambda m: m.mac):
        if m.datapath_id == dpid:
            continue
        hop = fabric.next_hop(dpid, m.datapath_id)
        if hop is None:
            continue
        flows.append(
            Flow(
                table=TABLE_FORWARD,
                priority=PRIO_UNICAST,
                match=match(vlan_vid=vid, eth_dst=m.mac),
                actions=(Output(hop.end_at(dpid).port_no),),
                cookie=cookie,
            )
        )
    # Broadcast, multicast and unknown unicast: along the network's part of the
    # tree (tagged), then to every local access port (untagged). OpenFlow never
    # outputs to the ingress port unless asked with IN_PORT, so each port of the
    # network gets one copy and nothing goes back where it came from.
    tree_ports = sorted({lk.end_at(dpid).port_no for lk in flood_links if dpid in (lk.a.datapath_id, lk.b.datapath_id)})
    access = sorted({m.port_no for m in local if not m.router})
    if access or tree_ports:
        flood: list[Action] = [Output(p) for p in tree_ports]
        if access:
            flood.append(PopVlan())
            flood.extend(Output(p) for p in access)
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


def deliver_actions(segment_id: int, m: Member, dpid: int, fabric: Fabric) -> tuple[Action, ...] | None:
    """What sends an untagged frame from switch `dpid` to member `m` of the network: out of its port
    here, else tagged on the first hop towards its switch; None when no path leads there."""
    if m.datapath_id == dpid:
        return (Output(m.port_no),)
    hop = fabric.next_hop(dpid, m.datapath_id)
    if hop is None:
        return None
    return (PushVlan(), SetField("vlan_vid", OFPVID_PRESENT | segment_id), Output(hop.end_at(dpid).port_no))


class VlanDriver:
    uses_fabric = True

    def network_match(self, segment_id: int) -> dict[str, MatchValue]:
        """How a frame of the network is told apart inside a switch (after table 0): its tag."""
        return {"vlan_vid": OFPVID_PRESENT | segment_id}

    def leave_network(self) -> tuple[Action, ...]:
        return (PopVlan(),)

    def deliver_actions(self, segment_id: int, m: Member, dpid: int, ctx: Context) -> tuple[Action, ...] | None:
        return deliver_actions(segment_id, m, dpid, ctx.fabric)

    def segment_flows(self, segment_id: int, members: Sequence[Member], dpid: int, ctx: Context) -> list[Flow]:
        return segment_flows(segment_id, members, dpid, ctx.fabric, ctx.dhcp_meter)

    def segment_switches(self, members: Sequence[Member], ctx: Context) -> frozenset[int]:
        return segment_switches(members, ctx.fabric)
