"""Switches, their ports and the links between them, as the controller last saw them.

Mutated by the OpenFlow glue as switches connect, report port changes and pass
on LLDP; read by the service and the reconciler. A lock keeps readers from
seeing a half-made change; nothing here does I/O.

A link is in use when both its switches are in the fabric and both its ports
are up, and it is either discovered (by LLDP) or configured. A configured link
that discovery contradicts (LLDP shows another peer on one of its ports) is
reported and not used.

A switch that disconnects is held in the fabric, with its last known ports and
links, for `hold_time` seconds: a switch whose controller connection drops keeps
forwarding on its flows (fail-mode secure), so the other switches keep sending
through it rather than flap their flows, and it comes back to the same fabric.
A switch remembered from before a restart of the controller is held the same
way until it reconnects. A link is dropped at once when a port status says
either end is down, and a discovered link when LLDP has not seen it for the
expiry time while both its switches were connected (a switch's links cannot be
probed while it is away).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from functools import cached_property

from .fabric import Fabric, Link, LinkEnd

# A configured link end: a datapath id and a port number or name.
PortRef = tuple[int, int | str]

# The highest physical port number (OpenFlow 1.3's OFPP_MAX); the numbers above it are reserved ports.
MAX_PORT_NO = 0xFFFFFF00


@dataclass(frozen=True, slots=True)
class SwitchPort:
    port_no: int
    name: str
    up: bool


@dataclass(frozen=True)
class Switch:
    datapath_id: int
    connected: bool
    ports: dict[int, SwitchPort] = field(default_factory=dict)

    @cached_property
    def _by_name(self) -> dict[str, SwitchPort]:
        return {p.name: p for p in self.ports.values()}

    def port_by_name(self, name: str) -> SwitchPort | None:
        # Bindings name ports; a switch of a thousand ports must not be scanned per binding.
        return self._by_name.get(name)


@dataclass(frozen=True, slots=True)
class LinkInUse:
    link: Link
    source: str  # "discovered", "configured" or "both"


@dataclass(frozen=True)
class TopologyChanges:
    """What changed since the last time it was asked, for the store that remembers the topology."""

    ports: dict[int, list[SwitchPort]]  # switches whose port list changed: their ports now
    links: list[Link] | None  # every discovered link, if any was found or dropped


@dataclass(frozen=True)
class KnownLink:
    """A link known to the controller, in use or not: `state` is up (in use), down (a switch of it is out of
    the fabric, a port of it is down, or LLDP stopped seeing it and it has not expired yet) or problem
    (configured, contradicted by discovery)."""

    link: Link
    source: str  # "discovered", "configured" or "both"
    state: str


class Topology:
    def __init__(self, configured_links: list[tuple[PortRef, PortRef]] | None = None, hold_time: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._switches: dict[int, Switch] = {}
        self._configured = list(configured_links or [])
        self.hold_time = hold_time
        # Discovered links -> when LLDP last saw them (or when they were remembered).
        self._discovered: dict[Link, float] = {}
        self._connected_since: dict[int, float] = {}
        self._held: dict[int, float] = {}  # disconnected switches still in the fabric -> until when
        self._dirty_ports: set[int] = set()
        self._links_dirty = False
        self.ports_version = 0  # moves whenever any switch's port list changes
        self._fabric: Fabric | None = None
        self._fabric_key: object = None
        self._handed_out: object = None
        # Per switch whose port list has been asked for and not yet installed: the port
        # events that arrived meanwhile, in order, to replay on top of the reply (None:
        # the switch disconnected meanwhile, so the reply is of a connection that is gone).
        self._port_events: dict[int, list[tuple[SwitchPort, bool]] | None] = {}

    def switch(self, dpid: int) -> Switch | None:
        with self._lock:
            return self._switches.get(dpid)

    def switches(self) -> list[Switch]:
        with self._lock:
            return sorted(self._switches.values(), key=lambda s: s.datapath_id)

    def connected(self) -> list[int]:
        with self._lock:
            return sorted(d for d, s in self._switches.items() if s.connected)

    def restore(self, switches: dict[int, list[SwitchPort]], links: list[Link], now: float) -> None:
        """What the store remembers from before a restart: switches held with their last known ports
        until they reconnect (or `hold_time` passes), and the links discovered between them."""
        with self._lock:
            for dpid, ports in switches.items():
                if dpid not in self._switches or not self._switches[dpid].connected:
                    self._switches[dpid] = Switch(dpid, False, {p.port_no: p for p in ports})
                    self._held[dpid] = now + self.hold_time
            for lk in links:
                self._discovered.setdefault(lk, now)
            self.ports_version += 1

    def expect(self, dpid: int) -> None:
        """A switch the configuration names: listed (disconnected) before it ever connects."""
        with self._lock:
            self._switches.setdefault(dpid, Switch(dpid, False))

    def begin_port_snapshot(self, dpid: int) -> None:
        """The switch's port list is about to be asked for: keep the port events that arrive from now on.

        A port event that arrives after this may be older or newer than the reply;
        replaying every one of them, in order, on top of the reply is right either
        way, because the switch reports every change of a port: the last event of
        a port is its state now, and a port without events is as the reply says.
        """
        with self._lock:
            self._port_events[dpid] = []

    def switch_connected(
        self, dpid: int, ports: list[SwitchPort], now: float = 0.0
    ) -> list[tuple[SwitchPort, bool]] | None:
        """Install the port list asked for since `begin_port_snapshot`, with the events that came meanwhile.

        Returns how the switch's ports differ from what was known of them before, as
        port events (port, deleted). None (and nothing changes) if the switch
        disconnected since it was asked: the reply describes a connection that is gone.
        """
        with self._lock:
            if dpid not in self._port_events:
                raise ValueError(f"switch {dpid:016x}: no port list was asked for")
            events = self._port_events.pop(dpid)
            if events is None:
                return None
            by_no = {p.port_no: p for p in ports}
            for port, deleted in events:
                _apply_port_event(by_no, port, deleted)
            old = self._switches[dpid].ports if dpid in self._switches else {}
            self._switches[dpid] = Switch(dpid, True, by_no)
            self._connected_since[dpid] = now
            self._held.pop(dpid, None)
            if old != by_no:
                self._dirty_ports.add(dpid)
                self.ports_version += 1
            changes = [(p, False) for n, p in sorted(by_no.items()) if old.get(n) != p]
            return changes + [(p, True) for n, p in sorted(old.items()) if n not in by_no]

    def switch_disconnected(self, dpid: int, now: float = 0.0) -> None:
        """The switch's connection is gone; it stays in the fabric for `hold_time` seconds from `now`."""
        with self._lock:
            if dpid in self._port_events:
                self._port_events[dpid] = None
            s = self._switches.get(dpid)
            if s is not None and s.connected:
                self._switches[dpid] = replace(s, connected=False)
                if self.hold_time > 0:
                    self._held[dpid] = now + self.hold_time

    def release_held(self, now: float) -> list[int]:
        """Take out of the fabric the disconnected switches held past their time, and their discovered links."""
        with self._lock:
            gone = sorted(d for d, until in self._held.items() if until < now)
            for dpid in gone:
                del self._held[dpid]
            dropped = [lk for lk in self._discovered if {lk.a.datapath_id, lk.b.datapath_id} & set(gone)]
            for lk in dropped:
                del self._discovered[lk]
            self._links_dirty |= bool(dropped)
            return gone

    def port_changed(self, dpid: int, port: SwitchPort, deleted: bool = False) -> None:
        with self._lock:
            events = self._port_events.get(dpid)
            if events is not None:
                events.append((port, deleted))
            s = self._switches.get(dpid)
            if s is None:
                return
            ports = dict(s.ports)
            _apply_port_event(ports, port, deleted)
            self._switches[dpid] = replace(s, ports=ports)
            self._dirty_ports.add(dpid)
            self.ports_version += 1

    # links ------------------------------------------------------------------
    def link_seen(self, src: LinkEnd, dst: LinkEnd, now: float) -> bool:
        """LLDP sent from `src` arrived at `dst`. True if the link is new."""
        link = Link.of(src, dst)
        with self._lock:
            new = link not in self._discovered
            # A port has one peer: what was discovered on either end before is gone.
            if new:
                for old in [lk for lk in self._discovered if {lk.a, lk.b} & {link.a, link.b}]:
                    del self._discovered[old]
                self._links_dirty = True
            self._discovered[link] = now
            return new

    def expire_links(self, now: float, timeout: float) -> list[Link]:
        """Forget discovered links LLDP has not seen for `timeout` seconds while both their switches
        were connected (a reconnected switch's links get a full `timeout` again); returns them."""
        with self._lock:
            gone = []
            for lk, seen in self._discovered.items():
                ends = (lk.a.datapath_id, lk.b.datapath_id)
                if not all(d in self._switches and self._switches[d].connected for d in ends):
                    continue
                if now - max(seen, *(self._connected_since.get(d, 0.0) for d in ends)) > timeout:
                    gone.append(lk)
            for lk in gone:
                del self._discovered[lk]
            self._links_dirty |= bool(gone)
            return gone

    def take_changes(self) -> TopologyChanges | None:
        """The port lists and links changed since the last call (None if nothing did)."""
        with self._lock:
            if not self._dirty_ports and not self._links_dirty:
                return None
            ports = {
                d: sorted(self._switches[d].ports.values(), key=lambda p: p.port_no)
                for d in self._dirty_ports if d in self._switches
            }
            links = sorted(self._discovered) if self._links_dirty else None
            self._dirty_ports.clear()
            self._links_dirty = False
            return TopologyChanges(ports, links)

    def _resolve_ref(self, ref: PortRef) -> LinkEnd | None:
        dpid, port = ref
        s = self._switches.get(dpid)
        if s is None:
            return None
        sp = s.ports.get(port) if isinstance(port, int) else s.port_by_name(port)
        return None if sp is None else LinkEnd(dpid, sp.port_no)

    def _configured_links(self) -> tuple[list[Link], list[str]]:
        """Configured links whose ports are known, and why others are set aside."""
        used: list[Link] = []
        problems: list[str] = []
        discovered_at = {end: lk for lk in self._discovered for end in (lk.a, lk.b)}
        for ra, rb in self._configured:
            ea, eb = self._resolve_ref(ra), self._resolve_ref(rb)
            if ea is None or eb is None:
                continue
            link = Link.of(ea, eb)
            clash = [discovered_at[e] for e in (ea, eb) if e in discovered_at and discovered_at[e] != link]
            if clash:
                problems.append(f"configured link {link} contradicted by discovered link {clash[0]}: not used")
                continue
            used.append(link)
        return used, problems

    def _in_fabric(self, dpid: int) -> bool:
        s = self._switches.get(dpid)
        return s is not None and (s.connected or dpid in self._held)

    def _usable(self, link: Link) -> bool:
        for end in (link.a, link.b):
            s = self._switches.get(end.datapath_id)
            if s is None or not self._in_fabric(end.datapath_id):
                return False
            p = s.ports.get(end.port_no)
            if p is None or not p.up:
                return False
        return True

    def links_in_use(self) -> list[LinkInUse]:
        with self._lock:
            return self._links_in_use()

    def _links_in_use(self) -> list[LinkInUse]:
        configured, _ = self._configured_links()
        sources: dict[Link, set[str]] = {}
        for lk in configured:
            sources.setdefault(lk, set()).add("configured")
        for lk in self._discovered:
            sources.setdefault(lk, set()).add("discovered")
        return [
            LinkInUse(lk, "both" if len(src) == 2 else next(iter(src)))
            for lk, src in sorted(sources.items())
            if self._usable(lk)
        ]

    def links_known(self) -> list[KnownLink]:
        """Every link known: configured (both ends reported) or discovered (not expired), and its state."""
        with self._lock:
            used, _ = self._configured_links()
            resolved = {Link.of(a, b) for a, b in (map(self._resolve_ref, pair) for pair in self._configured)
                        if a is not None and b is not None}
            sources: dict[Link, set[str]] = {}
            for lk in resolved:
                sources.setdefault(lk, set()).add("configured")
            for lk in self._discovered:
                sources.setdefault(lk, set()).add("discovered")
            out = []
            for lk, src in sorted(sources.items()):
                state = "problem" if lk in resolved and lk not in used else "up" if self._usable(lk) else "down"
                out.append(KnownLink(lk, "both" if len(src) == 2 else next(iter(src)), state))
            return out

    def link_problems(self) -> list[str]:
        with self._lock:
            return self._configured_links()[1]

    def fabric(self) -> Fabric:
        """The switches in the fabric (connected, or held) and the links in use, with tree and paths
        (cached until they change)."""
        with self._lock:
            switches = tuple(sorted(d for d in self._switches if self._in_fabric(d)))
            links = tuple(u.link for u in self._links_in_use())
            key = (switches, links)
            if self._fabric is None or key != self._fabric_key:
                self._fabric = Fabric(switches, links)
                self._fabric_key = key
            return self._fabric

    def take_fabric_change(self) -> bool:
        """True once after each change of the connected switches or of the links in use."""
        fabric = self.fabric()
        with self._lock:
            key = (fabric.switches, fabric.links)
            changed = key != self._handed_out
            self._handed_out = key
            return changed

    def resolve(self, dpid: int, port_no: int | None, port_name: str | None) -> SwitchPort | None:
        """The switch port a binding names, if the switch has reported it."""
        s = self.switch(dpid)
        if s is None:
            return None
        if port_no is not None:
            return s.ports.get(port_no)
        if port_name is not None:
            return s.port_by_name(port_name)
        return None

    def port_usable(self, dpid: int, port_no: int) -> bool:
        s = self.switch(dpid)
        if s is None or not s.connected:
            return False
        p = s.ports.get(port_no)
        return p is not None and p.up


def _apply_port_event(ports: dict[int, SwitchPort], port: SwitchPort, deleted: bool) -> None:
    if deleted:
        ports.pop(port.port_no, None)
    else:
        ports[port.port_no] = port
