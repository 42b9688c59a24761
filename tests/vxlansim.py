"""Hypervisor switches joined by VXLAN tunnels over an underlay, to run frames across the VXLAN driver's tables.

Each hypervisor is a `FakeSwitch` with its access ports and one tunnel port,
holding `base_flows()` and, for every network, `VxlanDriver().segment_flows(...)`
compiled against one shared `Context` (a fabric of the hypervisors and no
links, and every hypervisor's tunnel end). A frame sent in on a port is run
through that switch. What comes out on the tunnel port crosses the underlay to
the hypervisor whose address is the frame's tun_ipv4_dst and arrives on that
hypervisor's tunnel port with the sender's address as tun_ipv4_src, the same
tunnel_id and no tun_ipv4_dst, as VXLAN decapsulation leaves it; a frame for an
address no hypervisor has is lost (and recorded). What comes out on any other
port is delivered there.

A hypervisor's tunnel port exists on the switch even while the controller does
not know its number yet (`tunnel_known=False`: its `TunnelEnd` has port_no
None): frames from other hypervisors still arrive on it.

A forwarding loop (a frame crossing more tunnels than possible without one, or
the same frame arriving twice at the same port of the same hypervisor) raises
`ForwardingLoop`: a loop is a test failure, never a hang.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from flows.driver import Context, TunnelEnd
from flows.pipeline import base_flows
from flows.sim import FakeSwitch, Packet
from flows.state import Member
from flows.vxlan import VNI_MAX, VxlanDriver
from tests.fabricsim import Delivery, ForwardingLoop
from topology.fabric import Fabric

__all__ = ["Crossing", "Delivery", "ForwardingLoop", "Hypervisor", "Lost", "VxlanSim"]


@dataclass(frozen=True)
class Hypervisor:
    """One hypervisor's switch: its access ports, its tunnel port and its underlay address."""

    datapath_id: int
    ip: str
    tunnel_port: int
    access_ports: frozenset[int]
    tunnel_known: bool = True  # False: the controller has not learnt the tunnel port's number yet

    @staticmethod
    def of(
        datapath_id: int, ip: str, tunnel_port: int, access_ports: Iterable[int], tunnel_known: bool = True
    ) -> Hypervisor:
        return Hypervisor(datapath_id, str(ipaddress.IPv4Address(ip)), tunnel_port, frozenset(access_ports),
                          tunnel_known)

    @property
    def tunnel_end(self) -> TunnelEnd:
        return TunnelEnd(self.ip, self.tunnel_port if self.tunnel_known else None)


@dataclass(frozen=True)
class Crossing:
    """A frame that went into a tunnel: from which hypervisor, to which (None: nobody has that address), VNI."""

    src: int
    dst: int | None
    vni: int
    frame: Packet  # as the sender emitted it


@dataclass(frozen=True)
class Lost:
    """A frame sent into a tunnel towards an address no hypervisor has (or no address at all)."""

    src: int
    frame: Packet


class VxlanSim:
    def __init__(self, hypervisors: Iterable[Hypervisor], networks: Mapping[int, Sequence[Member]] | None = None,
                 driver: VxlanDriver | None = None) -> None:
        self.hypervisors: dict[int, Hypervisor] = {}
        self.by_ip: dict[str, int] = {}
        for hv in hypervisors:
            if hv.datapath_id in self.hypervisors:
                raise ValueError(f"hypervisor {hv.datapath_id} given twice")
            if hv.ip in self.by_ip:
                raise ValueError(f"address {hv.ip} given twice")
            if hv.tunnel_port in hv.access_ports:
                raise ValueError(f"hypervisor {hv.datapath_id}: tunnel port {hv.tunnel_port} is also an access port")
            self.hypervisors[hv.datapath_id] = hv
            self.by_ip[hv.ip] = hv.datapath_id
        self.driver = driver or VxlanDriver()
        self.ctx = Context(
            Fabric(self.hypervisors, []),
            {d: hv.tunnel_end for d, hv in self.hypervisors.items()},
        )
        self.switches: dict[int, FakeSwitch] = {
            d: FakeSwitch(d, set(hv.access_ports) | {hv.tunnel_port}) for d, hv in self.hypervisors.items()
        }
        self.networks: dict[int, list[Member]] = {}
        self.trace: list[tuple[int, Packet]] = []
        self.crossings: list[Crossing] = []
        self.lost: list[Lost] = []
        self.compile(networks or {})

    def compile(self, networks: Mapping[int, Sequence[Member]]) -> None:
        """Replace every switch's tables with base flows plus every network's flows for that switch."""
        self.networks = {vni: list(ms) for vni, ms in networks.items()}
        for dpid, sw in self.switches.items():
            sw.flows.clear()
            sw.install(base_flows())
            for vni, ms in self.networks.items():
                sw.install(self.driver.segment_flows(vni, ms, dpid, self.ctx))

    def is_tunnel_port(self, dpid: int, port_no: int) -> bool:
        return self.hypervisors[dpid].tunnel_port == port_no

    def send(self, dpid: int, in_port: int, packet: Packet) -> Delivery:
        """Inject `packet` on (dpid, in_port); return the frames that came out on access ports, by port.

        Afterwards `trace` holds every (hypervisor, frame as it arrived),
        `crossings` every frame sent into a tunnel and `lost` those that
        reached no hypervisor, of this send.
        """
        limit = 2 * len(self.hypervisors)  # tunnel crossings of one copy; one is all a frame ever needs
        budget = 16 * len(self.hypervisors) ** 2 + 16  # switch visits, against a storm
        delivered: Delivery = {}
        seen: set[tuple[int, Packet]] = set()
        self.trace = []
        self.crossings = []
        self.lost = []
        queue: deque[tuple[int, Packet, int]] = deque([(dpid, replace(packet, in_port=in_port), 0)])
        while queue:
            at, frame, hops = queue.popleft()
            if (at, frame) in seen:
                raise ForwardingLoop(f"frame seen twice at hypervisor {at} port {frame.in_port}: {frame}\n"
                                     f"{self._story()}")
            if hops > limit:
                raise ForwardingLoop(f"frame crossed {hops} tunnels (limit {limit}): {frame}\n{self._story()}")
            budget -= 1
            if budget < 0:
                raise ForwardingLoop(f"too many copies of one frame: {packet}\n{self._story()}")
            seen.add((at, frame))
            self.trace.append((at, frame))
            here = self.hypervisors[at]
            for out_port, out in self.switches[at].process(frame):
                if out_port != here.tunnel_port:
                    delivered.setdefault((at, out_port), []).append(out)
                    continue
                if not 0 <= out.tunnel_id <= VNI_MAX:
                    raise AssertionError(f"hypervisor {at}: tunnel_id {out.tunnel_id:#x} does not fit a VNI: {out}")
                far = self.by_ip.get(out.tun_ipv4_dst) if out.tun_ipv4_dst is not None else None
                self.crossings.append(Crossing(at, far, out.tunnel_id, out))
                if far is None:
                    self.lost.append(Lost(at, out))
                    continue
                there = self.hypervisors[far]
                arrived = replace(out, in_port=there.tunnel_port, tun_ipv4_src=here.ip, tun_ipv4_dst=None)
                queue.append((far, arrived, hops + 1))
        return delivered

    def _story(self) -> str:
        return "\n".join(
            f"  hv {d} in {f.in_port} vni {f.tunnel_id} from {f.tun_ipv4_src} {f.eth_src}->{f.eth_dst}"
            for d, f in self.trace
        )

    def send_from(
        self,
        m: Member,
        eth_dst: str,
        vlan_vid: int | None = None,
        eth_src: str | None = None,
        arp: tuple[str, str] | None = None,
    ) -> Delivery:
        """A frame from member `m`'s access port (its own source MAC unless `eth_src` is given).

        `arp`: (sender, target) protocol addresses, for an ARP frame.
        """
        spa, tpa = arp if arp is not None else (None, None)
        frame = Packet(in_port=m.port_no, eth_src=eth_src or m.mac, eth_dst=eth_dst, vlan_vid=vlan_vid,
                       arp_spa=spa, arp_tpa=tpa)
        return self.send(m.datapath_id, m.port_no, frame)

    def send_from_tunnel(self, dpid: int, vni: int, src_ip: str, eth_src: str, eth_dst: str) -> Delivery:
        """A frame arriving on `dpid`'s tunnel port, as if sent by the underlay address `src_ip` with key `vni`."""
        port = self.hypervisors[dpid].tunnel_port
        frame = Packet(in_port=port, eth_src=eth_src, eth_dst=eth_dst, tunnel_id=vni,
                       tun_ipv4_src=str(ipaddress.IPv4Address(src_ip)))
        return self.send(dpid, port, frame)
