"""Flows as plain values.

A flow here is what the switch holds, in a form that compares equal exactly when
the switch would behave the same: match fields sorted by name, actions in order.
The os-ken glue converts these values to and from OpenFlow 1.3 messages; nothing
in this module knows about sockets or os-ken.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A match value is an int or a string (MAC addresses, lower case), or a
# (value, mask) pair for masked fields.
MatchValue = int | str | tuple[int, int] | tuple[str, str]

OFPVID_PRESENT = 0x1000
OFPVID_NONE = 0x0000
ETH_TYPE_VLAN = 0x8100
OFPP_CONTROLLER = 0xFFFFFFFD
OFPP_IN_PORT = 0xFFFFFFF8  # back out of the port the frame came in on (answers made on the switch)

# The MAC address of every network's gateway (its subnet's gateway_ip): one constant, locally
# administered (02:), as OVN gives one MAC to a router port; 5d:4e as the cookie mark. Networks
# are apart by their segment, so sharing it is safe. The switch answers ARP for the gateway with
# it (flows.pipeline), sdnapp's DHCP answers come from it, and frames sent to it are the ones
# routing takes (the nat extension). No VNIC may have it (sdnapp.validate.vnic_mac).
GATEWAY_MAC = "02:5d:4e:00:00:01"


@dataclass(frozen=True, order=True, slots=True)
class Output:
    port: int


@dataclass(frozen=True, order=True, slots=True)
class PushVlan:
    ethertype: int = ETH_TYPE_VLAN


@dataclass(frozen=True, order=True, slots=True)
class PopVlan:
    pass


@dataclass(frozen=True, order=True, slots=True)
class SetField:
    name: str
    value: int | str


@dataclass(frozen=True, order=True, slots=True)
class DecTtl:
    """Decrement the IPv4 TTL (a router's hop); a packet whose TTL runs out is dropped."""


@dataclass(frozen=True, order=True, slots=True)
class Ct:
    """Open vSwitch's connection tracker (`ct`): look the packet up in `zone` (committing its connection
    with `commit`), apply `nat`, and continue in `table` with the packet's ct_state and ct_zone set.

    `nat` is "" (no NAT), "nat" (the translation the connection already has, both ways), "src=A"
    or "dst=A" (translate a connection being committed to address A). Without `table` the packet
    goes on with the flow's next action (ct_state is not set for it).
    """

    zone: int
    commit: bool = False
    table: int | None = None
    nat: str = ""


@dataclass(frozen=True, order=True, slots=True)
class Opaque:
    """Something read from a switch that this application never writes.

    Kept so that a flow carrying it never compares equal to a desired flow and
    gets replaced by reconciliation.
    """

    text: str


Action = Output | PushVlan | PopVlan | SetField | DecTtl | Ct | Opaque


FlowKey = tuple[int, int, tuple[tuple[str, MatchValue], ...]]


def match(**fields: MatchValue) -> tuple[tuple[str, MatchValue], ...]:
    """Build a canonical match: fields sorted by name."""
    return tuple(sorted(fields.items()))


@dataclass(frozen=True, slots=True)
class Flow:
    """One flow entry. Identity on a switch is `key`: (table, priority, match)."""

    table: int
    priority: int
    match: tuple[tuple[str, MatchValue], ...]
    actions: tuple[Action, ...] = ()
    goto: int | None = None
    cookie: int = 0
    extra: tuple[str, ...] = field(default=())  # instructions we never write
    meter: int | None = None  # an OpenFlow meter the flow's packets pass first

    @property
    def key(self) -> FlowKey:
        return (self.table, self.priority, self.match)

    def __str__(self) -> str:
        m = ",".join(f"{k}={_fmt(v)}" for k, v in self.match) or "*"
        acts = ",".join(format_action(a) for a in self.actions)
        if self.goto is not None:
            acts = f"{acts},goto:{self.goto}" if acts else f"goto:{self.goto}"
        meter = f"meter:{self.meter}," if self.meter is not None else ""
        return f"table={self.table} prio={self.priority} cookie={self.cookie:#x} {m} -> {meter}{acts or 'drop'}"


def _fmt(v: MatchValue) -> str:
    if isinstance(v, tuple):
        return f"{_fmt(v[0])}/{_fmt(v[1])}"
    return hex(v) if isinstance(v, int) and v > 9 else str(v)


def format_action(a: Action) -> str:
    """One action as ovs-ofctl writes it (output:2, push_vlan:0x8100, set_field:0x1064->vlan_vid)."""
    if isinstance(a, Output):
        return f"output:{a.port}"
    if isinstance(a, PushVlan):
        return f"push_vlan:{a.ethertype:#x}"
    if isinstance(a, PopVlan):
        return "pop_vlan"
    if isinstance(a, SetField):
        return f"set_field:{_fmt(a.value)}->{a.name}"
    if isinstance(a, DecTtl):
        return "dec_ttl"
    if isinstance(a, Ct):
        parts = [*(["commit"] if a.commit else []), f"zone={a.zone}",
                 *([f"table={a.table}"] if a.table is not None else []),
                 *([a.nat if a.nat == "nat" else f"nat({a.nat})"] if a.nat else [])]
        return f"ct({','.join(parts)})"
    return f"opaque({a.text})"
