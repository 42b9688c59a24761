"""Flows told in words, by what they do in the pipeline (`flows.pipeline`), for operators. Pure.

`role` names a flow's part ("admit", "deliver", "flood", ...); `explain` says it as a
sentence; `concerning` picks, from the flows of every switch, those that carry one
VNIC's traffic. The words come from the flow alone (table, priority, match,
actions), so they describe what a switch holds as well as what sdnapp wants.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from .model import OFPP_CONTROLLER, OFPP_IN_PORT, OFPVID_NONE, OFPVID_PRESENT, Flow, Output, PopVlan, SetField
from .pipeline import (
    ETH_ARP,
    ETH_IPV4,
    PRIO_FLOOD,
    PRIO_GATEWAY,
    PRIO_GUARD,
    PRIO_LLDP,
    PRIO_MISS,
    TABLE_FORWARD,
    TABLE_INGRESS,
    partition_of,
)
from .state import Member


def role(f: Flow) -> str:
    """The flow's part in the pipeline: lldp, miss, guard, gateway, dhcp, admit, trunk, deliver, forward, tunnel,
    flood, other."""
    m = dict(f.match)
    if f.priority == PRIO_LLDP:
        return "lldp"
    if f.priority == PRIO_MISS and not m:
        return "miss"
    if f.table == TABLE_INGRESS:
        if f.priority == PRIO_GUARD:
            return "guard"
        if f.priority == PRIO_GATEWAY:
            return "dhcp" if Output(OFPP_CONTROLLER) in f.actions else "gateway"
        if f.goto == TABLE_FORWARD and ("eth_src" in m or m.get("vlan_vid") == OFPVID_NONE):
            return "admit"  # a VNIC's own frames, or (no eth_src) anything untagged from a port without port security
        if f.goto == TABLE_FORWARD:
            return "trunk"
    if f.table == TABLE_FORWARD:
        if f.priority == PRIO_FLOOD:
            return "flood"
        if "eth_dst" in m:
            if any(isinstance(a, SetField) and a.name == "tun_ipv4_dst" for a in f.actions):
                return "tunnel"
            return "deliver" if any(isinstance(a, PopVlan) for a in f.actions) or "tunnel_id" in m else "forward"
    return "other"


def _network(f: Flow) -> str:
    m = dict(f.match)
    for a in f.actions:
        if isinstance(a, SetField) and a.name == "vlan_vid" and isinstance(a.value, int):
            return f"VLAN {a.value & 0xFFF}"
        if isinstance(a, SetField) and a.name == "tunnel_id":
            return f"VNI {a.value}"
    vid = m.get("vlan_vid")
    if isinstance(vid, int) and vid & OFPVID_PRESENT:
        return f"VLAN {vid & 0xFFF}"
    if "tunnel_id" in m:
        return f"VNI {m['tunnel_id']}"
    return f"segment {partition_of(f.cookie)}"


def _address(v: object) -> str:
    """An IPv4 match value: an address, or a masked one (an allowed address pair's network) as a CIDR."""
    if isinstance(v, tuple):
        return str(ipaddress.IPv4Network(f"{v[0]}/{v[1]}"))
    return str(v)


def _ports(ports: Sequence[int]) -> str:
    return ("port " if len(ports) == 1 else "ports ") + ", ".join(map(str, ports))


def _outputs(f: Flow) -> tuple[list[int], list[int], list[str]]:
    """(ports sent to before a pop_vlan, ports sent to after it, tunnel destinations) of a flow's actions.

    On a VLAN flow the first are tagged (trunks) and the second untagged (access ports); on a
    VXLAN flow nothing is tagged and the first are local ports. The output that follows a
    tun_ipv4_dst is the tunnel port's, counted as its destination.
    """
    before: list[int] = []
    after: list[int] = []
    tunnels: list[str] = []
    popped = into_tunnel = False
    for a in f.actions:
        if isinstance(a, PopVlan):
            popped = True
        elif isinstance(a, SetField) and a.name == "tun_ipv4_dst":
            tunnels.append(str(a.value))
            into_tunnel = True
        elif isinstance(a, Output) and a.port not in (OFPP_CONTROLLER, OFPP_IN_PORT):
            if into_tunnel:
                into_tunnel = False
            else:
                (after if popped else before).append(a.port)
    return before, after, tunnels


def explain(f: Flow) -> str:
    """What the flow does, in a sentence."""
    m = dict(f.match)
    r = role(f)
    net = _network(f)
    if r == "lldp":
        return "LLDP to the controller, for link discovery" + (f" (through meter {f.meter})" if f.meter else "")
    if r == "miss":
        return ("drop whatever no other flow admits" if f.table == TABLE_INGRESS
                else "drop what no network's flow claims")
    if r == "guard":
        return f"drop DHCP server answers from port {m.get('in_port')}: a VM may not answer as a DHCP server"
    if r == "gateway":
        what = "ARP" if m.get("eth_type") == ETH_ARP else "ping"
        gateway = m.get("arp_tpa", m.get("ipv4_dst"))
        return f"answer {what} for the gateway {gateway} from {m.get('eth_src')} back on port {m.get('in_port')}"
    if r == "dhcp":
        through = f" (through meter {f.meter})" if f.meter is not None else ""
        return f"DHCP from {m.get('eth_src')} on port {m.get('in_port')} to the controller{through}, which answers it"
    if r == "admit":
        what = "frames"
        if m.get("eth_type") == ETH_IPV4 and m.get("ipv4_src") == "0.0.0.0":
            what = "DHCP requests from 0.0.0.0"
        elif m.get("eth_type") == ETH_IPV4:
            what = f"IPv4 from {_address(m.get('ipv4_src'))}"
        elif m.get("eth_type") == ETH_ARP:
            what = f"ARP for {_address(m.get('arp_spa'))} at {m.get('arp_sha')}"
        source = f"source {m['eth_src']}" if "eth_src" in m else "any source (no port security)"
        return f"admit untagged {what} with {source} from port {m.get('in_port')} into {net}"
    if r == "trunk":
        if "tun_ipv4_src" in m:
            return f"admit {net} from hypervisor {m['tun_ipv4_src']} on tunnel port {m.get('in_port')}"
        return f"admit {net} tagged from trunk port {m.get('in_port')}"
    before, after, tunnels = _outputs(f)
    dst = m.get("eth_dst")
    if r == "deliver":
        return f"deliver {dst} of {net} to {_ports(after or before)}" + (" untagged" if after else "")
    if r == "forward":
        return f"send {dst} of {net} towards its switch, tagged, on trunk {_ports(before)}"
    if r == "tunnel":
        return f"send {dst} of {net} through the tunnel to {', '.join(tunnels)}"
    if r == "flood":
        parts = []
        if before:
            parts.append(f"to {_ports(before)}" if "tunnel_id" in m else f"tagged on trunk {_ports(before)}")
        if tunnels:
            parts.append(f"through the tunnel to {', '.join(tunnels)}")
        if after:
            parts.append(f"untagged to {_ports(after)}")
        return f"flood {net} (broadcast, multicast, unknown unicast): " + ("; ".join(parts) or "nowhere")
    return f"drop: {f}" if not f.actions and f.goto is None else f"other: {f}"


def concerning(m: Member, flows: Mapping[int, Sequence[Flow]]) -> list[tuple[int, Flow]]:
    """(switch, flow) of every flow that carries member `m`'s traffic: its admission and guard on its
    port, every flow towards its MAC anywhere, and its network's flood on its switch."""
    out: list[tuple[int, Flow]] = []
    for dpid in sorted(flows):
        for f in flows[dpid]:
            fm = dict(f.match)
            on_port = dpid == m.datapath_id and fm.get("in_port") == m.port_no
            towards = fm.get("eth_dst") == m.mac and f.table == TABLE_FORWARD
            floods_to = (dpid == m.datapath_id and role(f) == "flood"
                         and any(isinstance(a, Output) and a.port == m.port_no for a in f.actions))
            if on_port or towards or floods_to:
                out.append((dpid, f))
    return out
