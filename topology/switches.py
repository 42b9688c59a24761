"""Switches, their ports and the links between them, as the controller last saw them.

Mutated by the OpenFlow glue as switches connect, report port changes and pass
on LLDP; read by the service and the reconciler. A lock keeps readers from
seeing a half-made change; nothing here does I/O.

A link is in use when both its switches are connected and both its ports are
up, and it is either discovered (LLDP seen recently) or configured. A
configured link that discovery contradicts (LLDP shows another peer on one of
its ports) is reported and not used.
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class LinkInUse:
    link: Link
    source: str  # "discovered", "configured" or "both"


class Topology:
    def __init__(self, configured_links: list[tuple[PortRef, PortRef]] | None = None) -> None:
        self._lock = threading.Lock()
        self._switches: dict[int, Switch] = {}
        self._configured = list(configured_links or [])
        self._discovered: dict[Link, float] = {}
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

    def switch_connected(self, dpid: int, ports: list[SwitchPort]) -> bool:
        """Install the port list asked for since `begin_port_snapshot`, with the events that came meanwhile.

        False (and nothing changes) if the switch disconnected since it was asked:
        the reply describes a connection that is gone.
        """
        with self._lock:
            if dpid not in self._port_events:
                raise ValueError(f"switch {dpid:016x}: no port list was asked for")
            events = self._port_events.pop(dpid)
            if events is None:
                return False
            by_no = {p.port_no: p for p in ports}
            for port, deleted in events:
                _apply_port_event(by_no, port, deleted)
            self._switches[dpid] = Switch(dpid, True, by_no)
            return True

    def switch_disconnected(self, dpid: int) -> None:
        with self._lock:
            if dpid in self._port_events:
                self._port_events[dpid] = None
            s = self._switches.get(dpid)
            if s is not None:
                self._switches[dpid] = replace(s, connected=False)

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
            self._discovered[link] = now
            return new

    def expire_links(self, older_than: float) -> list[Link]:
        """Forget discovered links not seen since `older_than`; returns them."""
        with self._lock:
            gone = [lk for lk, seen in self._discovered.items() if seen < older_than]
            for lk in gone:
                del self._discovered[lk]
            return gone

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

    def _usable(self, link: Link) -> bool:
        for end in (link.a, link.b):
            s = self._switches.get(end.datapath_id)
            if s is None or not s.connected:
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

    def link_problems(self) -> list[str]:
        with self._lock:
            return self._configured_links()[1]

    def fabric(self) -> Fabric:
        """The connected switches and the links in use, with tree and paths (cached until they change)."""
        with self._lock:
            switches = tuple(sorted(d for d, s in self._switches.items() if s.connected))
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
