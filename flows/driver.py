"""What an isolation driver is: flows per network per switch, and the switches a network uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from topology.fabric import Fabric

from .model import Flow
from .state import Member


@dataclass(frozen=True)
class TunnelEnd:
    """A hypervisor's tunnel endpoint: its underlay address and its tunnel port (once the switch reports it)."""

    ip: str
    port_no: int | None


@dataclass(frozen=True)
class Context:
    """What a driver may know besides the network: the fabric's links, the hypervisors' tunnel ends, and
    the switch's DHCP meter."""

    fabric: Fabric
    tunnels: Mapping[int, TunnelEnd] = field(default_factory=dict)
    dhcp_meter: int | None = None  # the meter DHCP to the controller passes, on a switch that has meters


class Driver(Protocol):
    # Whether the flows depend on the links between switches: if not, a change of the fabric
    # (a switch joining or leaving, a link found or lost) recomputes nothing.
    uses_fabric: bool

    def segment_flows(self, segment_id: int, members: Sequence[Member], dpid: int, ctx: Context) -> list[Flow]:
        """The flows switch `dpid` needs for one network, given all the network's members."""
        ...

    def segment_switches(self, members: Sequence[Member], ctx: Context) -> frozenset[int]:
        """The switches that hold flows of the network (each must confirm them before a port is ACTIVE)."""
        ...
