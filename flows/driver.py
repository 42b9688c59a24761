"""What an isolation driver is: flows per network per switch, and the switches a network uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from topology.fabric import Fabric

from .model import Action, Flow, MatchValue
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

    def network_match(self, segment_id: int) -> dict[str, MatchValue]:
        """The match fields that tell the network's frames apart inside a switch, after table 0."""
        ...

    def leave_network(self) -> tuple[Action, ...]:
        """What takes a frame out of its network's encapsulation inside a switch (a VLAN tag)."""
        ...

    def deliver_actions(self, segment_id: int, m: Member, dpid: int, ctx: Context) -> tuple[Action, ...] | None:
        """What sends a frame that belongs to no network yet from switch `dpid` to member `m` of this one
        (the gateway's answers); None while no way there is known."""
        ...
