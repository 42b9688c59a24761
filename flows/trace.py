"""Following one frame through the flows of several switches, across links and tunnels, and judging the result. Pure.

The one implementation of "where does this frame go" (DESIGN.md): the tests prove
isolation with it over many generated fabrics, and `sdnapp trace` (GET /v1/trace)
explains one frame with it, hop by hop, over the flows sdnapp wants.

`follow` injects a frame on a switch port and runs it through that switch
(`flows.sim.FakeSwitch`). What comes out on an inter-switch link's port arrives at
the switch on the link's other end, on that end's port. What comes out on a
hypervisor's tunnel port crosses the underlay to the hypervisor whose address is
the frame's tun_ipv4_dst and arrives on that hypervisor's tunnel port with the
sender's address as tun_ipv4_src, the same tunnel_id and no tun_ipv4_dst, as VXLAN
decapsulation leaves it; a frame for an address no hypervisor has is lost. What
comes out on any other port is delivered there; CONTROLLER is the controller.

A forwarding loop (a frame crossing more links or tunnels than a loop-free fabric
could make it, or the same frame arriving twice at the same port of the same
switch) raises `ForwardingLoop`: a loop is a failure, never a hang.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from topology.fabric import Link

from .model import OFPP_CONTROLLER, Flow
from .pipeline import PRIO_GUARD, PRIO_MISS, TABLE_INGRESS, partition_of
from .sim import FakeSwitch, Lookup, Packet
from .vxlan import VNI_MAX

PortKey = tuple[int, int]  # (datapath id, port number)
EmitKind = Literal["port", "link", "tunnel", "controller", "lost"]


class ForwardingLoop(AssertionError):
    """A frame went round in circles or was duplicated onto the same port."""


@dataclass(frozen=True)
class TunnelPort:
    """A hypervisor's tunnel port as the switch has it: its number and its underlay address."""

    port_no: int
    ip: str


@dataclass(frozen=True)
class Wiring:
    """How switches are joined: each link port's far end (both ways), and each hypervisor's tunnel port."""

    links: Mapping[PortKey, PortKey] = field(default_factory=dict)
    tunnels: Mapping[int, TunnelPort] = field(default_factory=dict)

    @staticmethod
    def of(links: Iterable[Link] = (), tunnels: Mapping[int, TunnelPort] | None = None) -> Wiring:
        peer: dict[PortKey, PortKey] = {}
        for lk in links:
            a, b = (lk.a.datapath_id, lk.a.port_no), (lk.b.datapath_id, lk.b.port_no)
            if a in peer or b in peer:
                raise ValueError(f"port cabled twice: {lk}")
            peer[a], peer[b] = b, a
        ends = {d: TunnelPort(t.port_no, str(ipaddress.IPv4Address(t.ip))) for d, t in (tunnels or {}).items()}
        if len({t.ip for t in ends.values()}) != len(ends):
            raise ValueError("two hypervisors share one tunnel address")
        return Wiring(peer, ends)

    def hypervisor_at(self, ip: str | None) -> int | None:
        if ip is None:
            return None
        return next((d for d, t in self.tunnels.items() if t.ip == ip), None)


@dataclass(frozen=True)
class Emit:
    """A frame a switch emitted: where it went, and the hop it started there (links and tunnels)."""

    port: int
    frame: Packet  # as emitted
    kind: EmitKind
    to: PortKey | None = None  # link or tunnel: the (switch, port) it arrived at
    next_hop: int | None = None


@dataclass(frozen=True)
class Hop:
    """One switch's handling of one copy of the frame."""

    index: int
    parent: int | None  # the hop whose output brought it here; None for the injected frame
    datapath_id: int
    frame: Packet  # as it arrived
    lookups: tuple[Lookup, ...]
    emits: tuple[Emit, ...]


@dataclass(frozen=True)
class Walk:
    """Every hop of one injected frame, breadth first."""

    hops: tuple[Hop, ...]

    def emits(self, *kinds: EmitKind) -> list[tuple[Hop, Emit]]:
        return [(h, e) for h in self.hops for e in h.emits if not kinds or e.kind in kinds]

    def delivered(self) -> dict[PortKey, list[Packet]]:
        """The frames that came out on ports that are neither links nor tunnels, by port."""
        out: dict[PortKey, list[Packet]] = {}
        for h, e in self.emits("port"):
            out.setdefault((h.datapath_id, e.port), []).append(e.frame)
        return out


def follow(switches: Mapping[int, FakeSwitch], wiring: Wiring, dpid: int, frame: Packet) -> Walk:
    """Inject `frame` (its in_port set) at switch `dpid` and follow every copy wherever it goes."""
    n_links = len(wiring.links) // 2
    n_tunnels = len(wiring.tunnels)
    limit = 4 * max(1, n_links) + 2 * n_tunnels  # links and tunnels one copy may cross
    budget = 16 * (len(switches) + len(wiring.links)) + 16 * n_tunnels**2 + 16  # switch visits, against a storm
    hops: list[Hop] = []
    seen: set[tuple[int, Packet]] = set()
    queue: deque[tuple[int, Packet, int, int | None]] = deque([(dpid, frame, 0, None)])

    def story() -> str:
        return "\n".join(
            f"  sw {h.datapath_id:x} in {h.frame.in_port} vlan {h.frame.vlan_vid} vni {h.frame.tunnel_id} "
            f"{h.frame.eth_src}->{h.frame.eth_dst}" for h in hops
        )

    while queue:
        at, arrived, crossed, parent = queue.popleft()
        if (at, arrived) in seen:
            raise ForwardingLoop(f"frame seen twice at switch {at:x} port {arrived.in_port}: {arrived}\n{story()}")
        if crossed > limit:
            raise ForwardingLoop(f"frame crossed {crossed} links or tunnels (limit {limit}): {arrived}\n{story()}")
        budget -= 1
        if budget < 0:
            raise ForwardingLoop(f"too many copies of one frame: {frame}\n{story()}")
        seen.add((at, arrived))
        visit = switches[at].visit(arrived)
        index = len(hops)
        emits: list[Emit] = []
        for port, out in visit.outputs:
            e = _emit(wiring, at, port, out)
            if e.to is not None:
                far_dpid, far_port = e.to
                if e.kind == "tunnel":
                    src_ip = wiring.tunnels[at].ip
                    landed = replace(out, in_port=far_port, tun_ipv4_src=src_ip, tun_ipv4_dst=None, ct_state=0,
                                     ct_zone=0)
                else:
                    landed = replace(out, in_port=far_port, ct_state=0, ct_zone=0)
                e = replace(e, next_hop=index + 1 + len(queue))
                queue.append((far_dpid, landed, crossed + 1, index))
            emits.append(e)
        hops.append(Hop(index, parent, at, arrived, visit.lookups, tuple(emits)))
    return Walk(tuple(hops))


def _emit(wiring: Wiring, at: int, port: int, out: Packet) -> Emit:
    if port == OFPP_CONTROLLER:
        return Emit(port, out, "controller")
    far = wiring.links.get((at, port))
    if far is not None:
        return Emit(port, out, "link", far)
    tunnel = wiring.tunnels.get(at)
    if tunnel is None or tunnel.port_no != port:
        return Emit(port, out, "port")
    if not 0 <= out.tunnel_id <= VNI_MAX:
        raise AssertionError(f"switch {at:x}: tunnel_id {out.tunnel_id:#x} does not fit a VNI: {out}")
    there = wiring.hypervisor_at(out.tun_ipv4_dst)
    if there is None:
        return Emit(port, out, "lost")
    return Emit(port, out, "tunnel", (there, wiring.tunnels[there].port_no))


# Judging a walk ----------------------------------------------------------------------------------

Outcome = Literal["delivered", "dropped", "controller"]
ANTI_SPOOFING = "anti-spoofing"
ISOLATION = "isolation"
NO_BINDING = "no binding"
TABLE_MISS = "table miss"
RULES = (ANTI_SPOOFING, ISOLATION, NO_BINDING, TABLE_MISS)


@dataclass(frozen=True)
class Target:
    """Where the frame is meant to go: a VNIC's switch port and its network's segment, if one has the address."""

    address: str
    at: PortKey | None = None
    segment: int | None = None


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    rule: str | None  # why a frame was dropped: one of RULES
    reason: str
    hop: int | None = None  # the hop that decided
    at: PortKey | None = None  # delivered: the port
    flow: Flow | None = None  # dropped: the flow that dropped it (None for a table miss)


def admitted_segment(walk: Walk) -> int | None:
    """The network the first switch put the frame in: the partition of the flow that sent it on from table 0."""
    if not walk.hops:
        return None
    for lk in walk.hops[0].lookups:
        if lk.table == TABLE_INGRESS and lk.flow is not None and lk.flow.goto is not None:
            return partition_of(lk.flow.cookie)
    return None


def judge(walk: Walk, target: Target, source_bound: bool) -> Verdict:
    """What happened to the frame, told against where it was meant to go.

    `source_bound`: a VNIC is bound to the port the frame entered on (else nothing it
    sends is admitted: no binding).
    """
    delivered = walk.delivered()
    if target.at is not None and target.at in delivered:
        hop = next(h.index for h, e in walk.emits("port") if (h.datapath_id, e.port) == target.at)
        return Verdict("delivered", None, f"delivered to {target.address} on {_port(target.at)}", hop, target.at)
    if target.at is None and _multicast(target.address) and delivered:
        ports = ", ".join(_port(k) for k in sorted(delivered))
        return Verdict("delivered", None, f"delivered to {len(delivered)} port(s): {ports}", 0)
    to_controller = walk.emits("controller")
    if to_controller:
        h, _ = to_controller[0]
        return Verdict("controller", None, f"sent to the controller by switch {h.datapath_id:016x}", h.index)
    first = walk.hops[0]
    ingress = first.lookups[0]
    if not first.emits and admitted_segment(walk) is None:
        where = _port((first.datapath_id, first.frame.in_port))
        if ingress.flow is None:
            return Verdict("dropped", TABLE_MISS, f"no flow of table {ingress.table} matched on {where}", 0)
        if ingress.flow.priority == PRIO_GUARD:
            return Verdict("dropped", ANTI_SPOOFING, f"a VM may not answer as a DHCP server ({where})", 0,
                           flow=ingress.flow)
        if not source_bound:
            return Verdict("dropped", NO_BINDING, f"no VNIC is bound to {where}: nothing it sends is admitted", 0,
                           flow=ingress.flow)
        return Verdict("dropped", ANTI_SPOOFING, f"not what the VNIC on {where} may send (its own source MAC, "
                       "its own address, untagged)", 0, flow=ingress.flow)
    segment = admitted_segment(walk)
    if target.at is None:
        return Verdict("dropped", NO_BINDING, f"no VNIC bound to a switch port has {target.address}", None)
    if target.segment is not None and segment is not None and target.segment != segment:
        return Verdict("dropped", ISOLATION, f"{target.address} is in another network (segment {target.segment}); "
                       f"the frame stays in its own (segment {segment})", None)
    for h in walk.hops:
        last = h.lookups[-1]
        if not h.emits and (last.flow is None or last.flow.priority == PRIO_MISS):
            where = _port((h.datapath_id, h.frame.in_port))
            return Verdict("dropped", TABLE_MISS, f"no flow for it in table {last.table} on arrival at {where}",
                           h.index, flow=last.flow)
    return Verdict("dropped", TABLE_MISS, f"no flow leads to {target.address} on {_port(target.at)}", None)


def _port(at: PortKey) -> str:
    return f"{at[0]:016x}/{at[1]}"


def _multicast(address: str) -> bool:
    """A MAC address with the group bit set (broadcast included)."""
    parts = address.split(":")
    return len(parts) == 6 and bool(int(parts[0], 16) & 1)
