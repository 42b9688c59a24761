"""Switches and their ports as the controller last saw them.

Mutated by the OpenFlow glue as switches connect and report port changes; read
by the service and the reconciler. A lock keeps readers from seeing a half-made
change; nothing here does I/O.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace


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

    def port_by_name(self, name: str) -> SwitchPort | None:
        for p in self.ports.values():
            if p.name == name:
                return p
        return None


class Topology:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._switches: dict[int, Switch] = {}

    def switch(self, dpid: int) -> Switch | None:
        with self._lock:
            return self._switches.get(dpid)

    def switches(self) -> list[Switch]:
        with self._lock:
            return sorted(self._switches.values(), key=lambda s: s.datapath_id)

    def connected(self) -> list[int]:
        with self._lock:
            return sorted(d for d, s in self._switches.items() if s.connected)

    def switch_connected(self, dpid: int, ports: list[SwitchPort]) -> None:
        with self._lock:
            self._switches[dpid] = Switch(dpid, True, {p.port_no: p for p in ports})

    def switch_disconnected(self, dpid: int) -> None:
        with self._lock:
            s = self._switches.get(dpid)
            if s is not None:
                self._switches[dpid] = replace(s, connected=False)

    def port_changed(self, dpid: int, port: SwitchPort, deleted: bool = False) -> None:
        with self._lock:
            s = self._switches.get(dpid)
            if s is None:
                return
            ports = dict(s.ports)
            if deleted:
                ports.pop(port.port_no, None)
            else:
                ports[port.port_no] = port
            self._switches[dpid] = replace(s, ports=ports)

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
