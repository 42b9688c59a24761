"""A fabric of simulated switches joined by links, to run frames across the compiled tables of every switch.

Each switch is a `FakeSwitch` holding `base_flows()` and, for every network,
`segment_flows(...)` compiled against the same `Fabric`. A frame sent in on a
port is run through that switch; whatever comes out on an inter-switch link
port arrives at the switch on the other end of the link, on that end's port;
whatever comes out on any other port is delivered there. A forwarding loop (a
frame crossing more links than a loop-free fabric could make it, or the same
frame arriving twice on the same port of the same switch) raises
`ForwardingLoop`: a loop is a test failure, never a hang.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from flows.pipeline import base_flows
from flows.sim import FakeSwitch, Packet
from flows.state import Member
from flows.vlan import segment_flows
from topology.fabric import Fabric, Link, LinkEnd

PortKey = tuple[int, int]  # (datapath id, port number)
Delivery = dict[PortKey, list[Packet]]


class ForwardingLoop(AssertionError):
    """A frame went round in circles or was duplicated onto the same port."""


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
        self.peer: dict[PortKey, PortKey] = {}
        self._link_at: dict[PortKey, Link] = {}
        for lk in self.fabric.links:
            a, b = (lk.a.datapath_id, lk.a.port_no), (lk.b.datapath_id, lk.b.port_no)
            if a in self.peer or b in self.peer:
                raise ValueError(f"port cabled twice: {lk}")
            self.peer[a], self.peer[b] = b, a
            self._link_at[a] = self._link_at[b] = lk
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
        return (dpid, port_no) in self.peer

    def send(self, dpid: int, in_port: int, packet: Packet) -> Delivery:
        """Inject `packet` on (dpid, in_port); return the frames that came out on non-link ports, by port.

        Afterwards `trace` holds every (switch, frame as it arrived) and
        `crossings` every (link, frame as sent onto it) of this send.
        """
        limit = 4 * max(1, len(self.peer) // 2)
        budget = 16 * (len(self.switches) + len(self.peer))  # switch visits, against a storm
        delivered: Delivery = {}
        seen: set[tuple[int, Packet]] = set()
        self.trace = []
        self.crossings = []
        queue: deque[tuple[int, Packet, int]] = deque([(dpid, replace(packet, in_port=in_port), 0)])
        while queue:
            at, frame, hops = queue.popleft()
            if (at, frame) in seen:
                raise ForwardingLoop(f"frame seen twice at switch {at} port {frame.in_port}: {frame}\n{self._story()}")
            if hops > limit:
                raise ForwardingLoop(f"frame crossed {hops} links (limit {limit}): {frame}\n{self._story()}")
            budget -= 1
            if budget < 0:
                raise ForwardingLoop(f"too many copies of one frame: {packet}\n{self._story()}")
            seen.add((at, frame))
            self.trace.append((at, frame))
            for out_port, out in self.switches[at].process(frame):
                far = self.peer.get((at, out_port))
                if far is None:
                    delivered.setdefault((at, out_port), []).append(out)
                else:
                    self.crossings.append((self._link_at[(at, out_port)], out))
                    queue.append((far[0], replace(out, in_port=far[1]), hops + 1))
        return delivered

    def _story(self) -> str:
        return "\n".join(f"  sw {d} in {f.in_port} vlan {f.vlan_vid} {f.eth_src}->{f.eth_dst}" for d, f in self.trace)

    def send_from(self, m: Member, eth_dst: str, vlan_vid: int | None = None, eth_src: str | None = None) -> Delivery:
        """A frame from member `m`'s access port (its own source MAC unless `eth_src` is given)."""
        frame = Packet(in_port=m.port_no, eth_src=eth_src or m.mac, eth_dst=eth_dst, vlan_vid=vlan_vid)
        return self.send(m.datapath_id, m.port_no, frame)


def counts(delivered: Delivery) -> dict[PortKey, int]:
    """How many frames came out on each port."""
    return {k: len(v) for k, v in delivered.items() if v}
