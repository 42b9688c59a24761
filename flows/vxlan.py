"""VXLAN isolation driver: one VNI per network, carried between hypervisors in VXLAN tunnels.

Each hypervisor switch has one tunnel port whose key and remote address come
from the flow (`options:key=flow`, `options:remote_ip=flow`). Inside a switch
the network travels in the packet's tunnel_id field from table 0 to table 1:

- table 0: an access port admits the VNIC's own untagged frames and sets the
  network's VNI; the tunnel port admits a VNI only from hypervisors that have
  ports of that network and only where this hypervisor has some too.
- table 1: known MACs go to their local port, or to their hypervisor's address
  through the tunnel port; the rest is copied to the local ports and to each
  other hypervisor of the network once. OpenFlow never outputs to the ingress
  port, so a frame that came in through the tunnel port is never sent back into
  a tunnel: no hypervisor re-floods another's broadcast.
"""

from __future__ import annotations

from collections.abc import Sequence

from .driver import Context
from .model import Action, Flow, MatchValue, Output, SetField, match
from .nat import TABLE_NAT_OUT
from .pipeline import PRIO_FLOOD, PRIO_TRUNK, PRIO_UNICAST, TABLE_FORWARD, TABLE_INGRESS, access_flows, cookie_for
from .state import Member

DRIVER = "vxlan"  # its name in the configuration (isolation.driver)
VNI_MIN = 1
VNI_MAX = (1 << 24) - 1


class VxlanDriver:
    uses_fabric = False  # tunnels reach every hypervisor directly, whatever the links

    @staticmethod
    def access_members(members: Sequence[Member], ctx: Context) -> list[Member]:
        """Members not bound to their hypervisor's tunnel port: that port is never an access port."""
        out = []
        for m in members:
            end = ctx.tunnels.get(m.datapath_id)
            if end is None or end.port_no != m.port_no:
                out.append(m)
        return out

    def segment_switches(self, members: Sequence[Member], ctx: Context) -> frozenset[int]:
        return frozenset(m.datapath_id for m in self.access_members(members, ctx))

    def segment_flows(self, segment_id: int, members: Sequence[Member], dpid: int, ctx: Context) -> list[Flow]:
        if not VNI_MIN <= segment_id <= VNI_MAX:
            raise ValueError(f"VNI {segment_id} out of range")
        members = self.access_members(members, ctx)
        local = sorted((m for m in members if m.datapath_id == dpid), key=lambda m: (m.port_no, m.mac))
        if not local:
            return []
        cookie = cookie_for(segment_id)
        here = ctx.tunnels.get(dpid)
        tun = here.port_no if here is not None else None
        # Other hypervisors of this network whose tunnel address is known.
        remote: dict[int, str] = {}
        if tun is not None:
            for m in members:
                end = ctx.tunnels.get(m.datapath_id)
                if m.datapath_id != dpid and end is not None:
                    remote[m.datapath_id] = end.ip
        flows: list[Flow] = []
        for m in local:
            if m.router:  # the network's router here: frames for it go on to the NAT tables
                flows.append(Flow(TABLE_FORWARD, PRIO_UNICAST, match(tunnel_id=segment_id, eth_dst=m.mac),
                                  goto=TABLE_NAT_OUT, cookie=cookie))
                continue
            flows.extend(access_flows(m, (SetField("tunnel_id", segment_id),), cookie, ctx.dhcp_meter))
            flows.append(
                Flow(
                    table=TABLE_FORWARD,
                    priority=PRIO_UNICAST,
                    match=match(tunnel_id=segment_id, eth_dst=m.mac),
                    actions=(Output(m.port_no),),
                    cookie=cookie,
                )
            )
        if tun is None:
            return flows + [self._flood(segment_id, local, {}, None, cookie)]
        for ip in sorted(set(remote.values())):
            flows.append(
                Flow(
                    table=TABLE_INGRESS,
                    priority=PRIO_TRUNK,
                    match=match(in_port=tun, tunnel_id=segment_id, tun_ipv4_src=ip),
                    goto=TABLE_FORWARD,
                    cookie=cookie,
                )
            )
        for m in sorted(members, key=lambda m: m.mac):
            dst = remote.get(m.datapath_id)
            if dst is None:
                continue
            flows.append(
                Flow(
                    table=TABLE_FORWARD,
                    priority=PRIO_UNICAST,
                    match=match(tunnel_id=segment_id, eth_dst=m.mac),
                    actions=(SetField("tun_ipv4_dst", dst), Output(tun)),
                    cookie=cookie,
                )
            )
        flows.append(self._flood(segment_id, local, remote, tun, cookie))
        return flows

    def network_match(self, segment_id: int) -> dict[str, MatchValue]:
        """How a frame of the network is told apart inside a switch (after table 0): its VNI."""
        return {"tunnel_id": segment_id}

    def leave_network(self) -> tuple[Action, ...]:
        return ()

    def deliver_actions(self, segment_id: int, m: Member, dpid: int, ctx: Context) -> tuple[Action, ...] | None:
        """What sends a frame from hypervisor `dpid` to member `m` of the network: out of its port here,
        else through the tunnel to its hypervisor; None while a tunnel end is unknown."""
        if m.datapath_id == dpid:
            return (Output(m.port_no),)
        here, there = ctx.tunnels.get(dpid), ctx.tunnels.get(m.datapath_id)
        if here is None or here.port_no is None or there is None:
            return None
        return (SetField("tunnel_id", segment_id), SetField("tun_ipv4_dst", there.ip), Output(here.port_no))

    @staticmethod
    def _flood(segment_id: int, local: list[Member], remote: dict[int, str], tun: int | None, cookie: int) -> Flow:
        actions: list[Action] = [Output(p) for p in sorted({m.port_no for m in local if not m.router})]
        if tun is not None:
            for ip in sorted(set(remote.values())):
                actions += [SetField("tun_ipv4_dst", ip), Output(tun)]
        return Flow(
            table=TABLE_FORWARD,
            priority=PRIO_FLOOD,
            match=match(tunnel_id=segment_id),
            actions=tuple(actions),
            cookie=cookie,
        )
