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

The walk is `flows.trace.follow`, the same `sdnapp trace` runs. A forwarding loop
raises `ForwardingLoop`: a loop is a test failure, never a hang.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from flows.driver import Context, TunnelEnd
from flows.pipeline import base_flows
from flows.sim import FakeSwitch, Packet
from flows.state import Member
from flows.trace import ForwardingLoop, TunnelPort, Wiring, follow
from flows.vxlan import VxlanDriver
from tests.fabricsim import Delivery
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
        # The underlay: every hypervisor's tunnel port as the switch has it, known to the controller or not.
        self.wiring = Wiring.of((), {d: TunnelPort(hv.tunnel_port, hv.ip) for d, hv in self.hypervisors.items()})
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
        self.trace, self.crossings, self.lost = [], [], []
        walk = follow(self.switches, self.wiring, dpid, replace(packet, in_port=in_port))
        self.trace = [(h.datapath_id, h.frame) for h in walk.hops]
        for h, e in walk.emits("tunnel", "lost"):
            far = e.to[0] if e.to is not None else None
            self.crossings.append(Crossing(h.datapath_id, far, e.frame.tunnel_id, e.frame))
            if far is None:
                self.lost.append(Lost(h.datapath_id, e.frame))
        return walk.delivered()

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
