"""A fabric of simulated switches joined by links, to run frames across the compiled tables of every switch.

Each switch is a `FakeSwitch` holding `base_flows()` and, for every network,
`segment_flows(...)` compiled against the same `Fabric`. A frame sent in on a
port is run through that switch; whatever comes out on an inter-switch link
port arrives at the switch on the other end of the link, on that end's port;
whatever comes out on any other port is delivered there: `flows.trace.follow`, the
same walk `sdnapp trace` runs. A forwarding loop raises `ForwardingLoop`: a loop is
a test failure, never a hang.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from flows.pipeline import base_flows
from flows.sim import FakeSwitch, Packet
from flows.state import Member
from flows.trace import ForwardingLoop, PortKey, Wiring, follow
from flows.vlan import segment_flows
from topology.fabric import Fabric, Link, LinkEnd

__all__ = [
    "Delivery", "FabricSim", "ForwardingLoop", "PortKey", "counts", "full_mesh", "hop_counts", "leaf_spine", "line",
    "link_ports", "ring", "wire",
]

Delivery = dict[PortKey, list[Packet]]


def wire(pairs: Iterable[tuple[int, int]], first_port: int = 1) -> list[Link]:
    """Links for switch pairs, each switch numbering its link ports from `first_port` in the order given."""
    nxt: dict[int, int] = {}
    links: list[Link] = []
    for x, y in pairs:
        px = nxt.get(x, first_port)
        nxt[x] = px + 1
        py = nxt.get(y, first_port)
        nxt[y] = py + 1
        links.append(Link.of(LinkEnd(x, px), LinkEnd(y, py)))
    return links


def line(n: int) -> list[tuple[int, int]]:
    return [(i, i + 1) for i in range(1, n)]


def ring(n: int) -> list[tuple[int, int]]:
    return line(n) + [(n, 1)] if n > 2 else line(n)


def full_mesh(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(1, n + 1) for j in range(i + 1, n + 1)]


def leaf_spine(spines: int, leaves: int) -> list[tuple[int, int]]:
    """Spines are switches 1..spines, leaves the next `leaves` ids; every leaf linked to every spine."""
    return [(s, spines + leaf) for leaf in range(1, leaves + 1) for s in range(1, spines + 1)]


def link_ports(links: Iterable[Link]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for lk in links:
        for end in (lk.a, lk.b):
            out.setdefault(end.datapath_id, set()).add(end.port_no)
    return out


def hop_counts(links: Iterable[Link], src: int) -> dict[int, int]:
    """Links crossed on a shortest walk from `src` to every switch it reaches (itself at 0), by plain BFS."""
    adj: dict[int, set[int]] = {}
    for lk in links:
        x, y = lk.a.datapath_id, lk.b.datapath_id
        adj.setdefault(x, set()).add(y)
        adj.setdefault(y, set()).add(x)
    dist = {src: 0}
    queue = deque([src])
    while queue:
        x = queue.popleft()
        for y in adj.get(x, ()):
            if y not in dist:
                dist[y] = dist[x] + 1
                queue.append(y)
    return dist


class FabricSim:
    """Simulated switches (access ports as given, plus their link ports) joined by `links`."""

    def __init__(
        self,
        ports: Mapping[int, Iterable[int]],
        links: Iterable[Link],
        networks: Mapping[int, Sequence[Member]] | None = None,
    ) -> None:
        self.links = tuple(links)
        trunks = link_ports(self.links)
        self.access_ports: dict[int, frozenset[int]] = {dpid: frozenset() for dpid in trunks}
        for dpid, ps in ports.items():
            self.access_ports[dpid] = frozenset(set(ps) - trunks.get(dpid, set()))
        self.fabric = Fabric(self.access_ports, self.links)
        # The wiring the frames follow: every usable link, seen from each end.
        self.wiring = Wiring.of(self.fabric.links)
        self._link_at: dict[PortKey, Link] = {}
        for lk in self.fabric.links:
            self._link_at[(lk.a.datapath_id, lk.a.port_no)] = self._link_at[(lk.b.datapath_id, lk.b.port_no)] = lk
        self.switches: dict[int, FakeSwitch] = {
            dpid: FakeSwitch(dpid, set(aps) | trunks.get(dpid, set())) for dpid, aps in self.access_ports.items()
        }
        self.networks: dict[int, list[Member]] = {}
        self.trace: list[tuple[int, Packet]] = []
        self.crossings: list[tuple[Link, Packet]] = []
        self.compile(networks or {})

    def compile(self, networks: Mapping[int, Sequence[Member]]) -> None:
        """Replace every switch's tables with base flows plus every network's flows for that switch."""
        self.networks = {vid: list(ms) for vid, ms in networks.items()}
        for dpid, sw in self.switches.items():
            sw.flows.clear()
            sw.install(base_flows())
            for vid, ms in self.networks.items():
                sw.install(segment_flows(vid, ms, dpid, self.fabric))

    def is_link_port(self, dpid: int, port_no: int) -> bool:
        return (dpid, port_no) in self.wiring.links

    def send(self, dpid: int, in_port: int, packet: Packet) -> Delivery:
        """Inject `packet` on (dpid, in_port); return the frames that came out on non-link ports, by port.

        Afterwards `trace` holds every (switch, frame as it arrived) and
        `crossings` every (link, frame as sent onto it) of this send.
        """
        self.trace, self.crossings = [], []
        walk = follow(self.switches, self.wiring, dpid, replace(packet, in_port=in_port))
        self.trace = [(h.datapath_id, h.frame) for h in walk.hops]
        self.crossings = [(self._link_at[(h.datapath_id, e.port)], e.frame) for h, e in walk.emits("link")]
        return walk.delivered()

    def send_from(self, m: Member, eth_dst: str, vlan_vid: int | None = None, eth_src: str | None = None) -> Delivery:
        """A frame from member `m`'s access port (its own source MAC unless `eth_src` is given)."""
        frame = Packet(in_port=m.port_no, eth_src=eth_src or m.mac, eth_dst=eth_dst, vlan_vid=vlan_vid)
        return self.send(m.datapath_id, m.port_no, frame)


def counts(delivered: Delivery) -> dict[PortKey, int]:
    """How many frames came out on each port."""
    return {k: len(v) for k, v in delivered.items() if v}
