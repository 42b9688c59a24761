"""A small OpenFlow 1.3 table simulator over `flows.model` values. Pure.

The tests prove isolation with it; it is product code so that a trace of "what
these flows do to this frame" has one implementation (DESIGN.md).

Enough of the spec to run frames through the tables this application compiles
and see where they come out: multi-table lookup, priorities, the match fields
the pipeline uses (masked or not), apply-actions in order, goto. Tunnel
metadata (tunnel_id, and OVS's tun_ipv4_src/tun_ipv4_dst) rides with the
packet between tables as on Open vSwitch; set_field rewrites header fields in
place (the switch's own ARP and ping answers), and output to IN_PORT sends a
frame back where it came from; what links and tunnels do with what a
switch emits is `flows.trace`'s business. Anything the
pipeline should never produce (overlapping flows of equal priority, a second
VLAN tag, goto backwards, output to a port the switch lacks) raises, because a
real switch would either reject it or behave in an unspecified way.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from .diff import FlowDiff
from .model import (
    OFPP_CONTROLLER,
    OFPP_IN_PORT,
    OFPVID_NONE,
    OFPVID_PRESENT,
    Action,
    Ct,
    DecTtl,
    Flow,
    MatchValue,
    Opaque,
    Output,
    PopVlan,
    PushVlan,
    SetField,
)

FlowModKind = Literal["add", "modify", "delete"]
FlowKey = tuple[int, int, tuple[tuple[str, MatchValue], ...]]

_MAC_FIELDS = frozenset({"eth_src", "eth_dst", "arp_sha", "arp_tha"})
_IPV4_FIELDS = frozenset({"ipv4_src", "ipv4_dst", "arp_spa", "arp_tpa", "tun_ipv4_src", "tun_ipv4_dst"})
# OXM prerequisites: a flow matching these fields without the eth_type is rejected.
_PREREQ = {"ipv4_src": 0x0800, "ipv4_dst": 0x0800, "arp_spa": 0x0806, "arp_tpa": 0x0806, "arp_sha": 0x0806,
           "arp_tha": 0x0806, "arp_op": 0x0806, "ip_proto": 0x0800}
_PROTO_PREREQ = {"udp_src": 17, "udp_dst": 17, "icmpv4_type": 1}
_KNOWN_FIELDS = (
    frozenset({"in_port", "vlan_vid", "eth_type", "tunnel_id", "ip_proto", "udp_src", "udp_dst", "arp_op",
               "icmpv4_type", "ct_state", "ct_zone"})
    | _MAC_FIELDS | _IPV4_FIELDS
)
# Fields a set_field may rewrite in place (an answer made on the switch), besides the VLAN and tunnel ones.
_REWRITABLE = frozenset({"eth_src", "eth_dst", "arp_op", "arp_sha", "arp_spa", "arp_tha", "arp_tpa", "ipv4_src",
                         "ipv4_dst", "icmpv4_type"})
TUNNEL_ID_MAX = (1 << 64) - 1
MAX_RECIRCULATIONS = 8
_CT_NEW, _CT_EST, _CT_RPL, _CT_TRK = 0x01, 0x02, 0x08, 0x20
Tuple5 = tuple[str | None, str | None, int | None, int | None, int | None]


@dataclass
class Connection:
    """A connection the simulated tracker committed: its original direction and the reply it expects
    (with its translation applied), and whether a reply was seen."""

    orig: Tuple5
    reply: Tuple5
    replied: bool = False


def _tuple(p: Packet) -> Tuple5:
    return (p.ipv4_src, p.ipv4_dst, p.ip_proto, p.udp_src, p.udp_dst)


def _reverse(t: Tuple5) -> Tuple5:
    return (t[1], t[0], t[2], t[4], t[3])


@dataclass(frozen=True)
class Packet:
    in_port: int
    eth_src: str
    eth_dst: str
    vlan_vid: int | None = None  # None: untagged; else the 12-bit VLAN id
    eth_type: int = 0x0806  # the payload's ethertype (after any VLAN tag)
    ipv4_src: str | None = None
    ipv4_dst: str | None = None
    arp_spa: str | None = None
    arp_tpa: str | None = None
    arp_sha: str | None = None
    arp_op: int | None = None  # 1 request, 2 reply
    arp_tha: str | None = None
    ip_proto: int | None = None
    udp_src: int | None = None
    udp_dst: int | None = None
    icmpv4_type: int | None = None  # 8 echo request, 0 echo reply
    tunnel_id: int = 0  # 0 unless a tunnel delivered it or a flow set it (as OVS's tun_id)
    tun_ipv4_src: str | None = None  # outer source address, for a frame that came out of a tunnel
    tun_ipv4_dst: str | None = None  # outer destination, for a frame about to go into a tunnel
    ip_ttl: int = 64
    ct_state: int = 0  # what the connection tracker said of it (0: not tracked); see flows.nat
    ct_zone: int = 0


def mac_to_int(mac: str) -> int:
    octets = mac.split(":")
    if len(octets) != 6 or not all(len(o) == 2 for o in octets):
        raise ValueError(f"bad MAC address {mac!r}")
    return int("".join(octets), 16)


def _value_to_int(name: str, value: int | str) -> int:
    if isinstance(value, int):
        return value
    if name in _MAC_FIELDS:
        return mac_to_int(value)
    if name in _IPV4_FIELDS:
        return int(ipaddress.IPv4Address(value))
    raise ValueError(f"field {name} takes an int, not {value!r}")


def _split(name: str, value: MatchValue) -> tuple[int, int]:
    """A match value as (value, mask) integers; unmasked means all ones."""
    if isinstance(value, tuple):
        v, m = _value_to_int(name, value[0]), _value_to_int(name, value[1])
        if v & ~m:
            raise ValueError(f"{name}: value {value[0]} has bits outside mask {value[1]}")
        return v, m
    return _value_to_int(name, value), -1


def _packet_field(packet: Packet, name: str) -> int | None:
    """The field as the OXM sees it; None when the packet lacks it."""
    if name == "vlan_vid":
        return OFPVID_NONE if packet.vlan_vid is None else OFPVID_PRESENT | packet.vlan_vid
    raw: int | str | None = getattr(packet, name)
    return None if raw is None else _value_to_int(name, raw)


def _matches(flow: Flow, packet: Packet) -> bool:
    for name, value in flow.match:
        have = _packet_field(packet, name)
        v, m = _split(name, value)
        if have is None or have & m != v & m:
            return False
    return True


def _check_flow(flow: Flow) -> None:
    """Reject what a switch would reject when the flow is added."""
    fields = dict(flow.match)
    for name, value in flow.match:
        if name not in _KNOWN_FIELDS:
            raise ValueError(f"simulator does not know match field {name!r}: {flow}")
        _split(name, value)
        if name in _PREREQ and fields.get("eth_type") != _PREREQ[name]:
            raise ValueError(f"{name} needs eth_type={_PREREQ[name]:#x}: {flow}")
        if name in _PROTO_PREREQ and fields.get("ip_proto") != _PROTO_PREREQ[name]:
            raise ValueError(f"{name} needs ip_proto={_PROTO_PREREQ[name]}: {flow}")
    if flow.goto is not None and flow.goto <= flow.table:
        raise ValueError(f"goto must go to a later table: {flow}")


@dataclass(frozen=True)
class Lookup:
    """One table's lookup of a frame: the flow that matched (None: none did, OpenFlow's table-miss drop)."""

    table: int
    flow: Flow | None
    frame: Packet  # as the table saw it


@dataclass(frozen=True)
class Visit:
    """What one switch did to one frame: its lookups in order, and the frames it emitted."""

    lookups: tuple[Lookup, ...]
    outputs: tuple[tuple[int, Packet], ...]  # (out port, frame as emitted)


class FakeSwitch:
    def __init__(self, datapath_id: int, port_nos: set[int] | list[int] | tuple[int, ...]) -> None:
        self.datapath_id = datapath_id
        self.port_nos = frozenset(port_nos)
        self.flows: dict[int, dict[FlowKey, Flow]] = {}
        # Open vSwitch's connection tracker, as far as flows.nat uses it: per zone, the connections
        # committed. Enough to prove where answers go; no timeouts, ports never remapped.
        self.conntrack: dict[int, list[Connection]] = {}

    def all_flows(self) -> list[Flow]:
        return [f for t in sorted(self.flows) for f in self.flows[t].values()]

    def apply(self, kind: FlowModKind, flow: Flow) -> None:
        """One flow-mod, strict (matched on table, priority and match exactly).

        As OpenFlow 1.3 says (and OVS does): "add" replaces an entry with the
        same identity outright; "modify" replaces its instructions but keeps
        its cookie, and does nothing if there is no such entry.
        """
        table = self.flows.setdefault(flow.table, {})
        if kind == "add":
            _check_flow(flow)
            table[flow.key] = flow
        elif kind == "modify":
            _check_flow(flow)
            old = table.get(flow.key)
            if old is not None:
                table[flow.key] = replace(flow, cookie=old.cookie)
        elif kind == "delete":
            table.pop(flow.key, None)
        else:
            raise ValueError(f"unknown flow-mod kind {kind!r}")

    def install(self, flows: Iterable[Flow]) -> None:
        for f in flows:
            self.apply("add", f)

    def apply_diff(self, d: FlowDiff) -> int:
        """Apply a diff the way reconciliation must send it; return the message count.

        Changed flows go as "add": only that replaces the cookie too, and
        diff() reports a cookie change as a change.
        """
        for f in d.delete:
            self.apply("delete", f)
        for f in d.modify:
            self.apply("add", f)
        for f in d.add:
            self.apply("add", f)
        return len(d)

    def lookup(self, table_id: int, packet: Packet) -> Flow | None:
        hits = [f for f in self.flows.get(table_id, {}).values() if _matches(f, packet)]
        if not hits:
            return None
        top = max(f.priority for f in hits)
        best = [f for f in hits if f.priority == top]
        if len(best) > 1:
            raise AssertionError("overlapping flows of equal priority: " + " | ".join(map(str, best)))
        return best[0]

    def process(self, packet: Packet) -> list[tuple[int, Packet]]:
        """Run one frame through the pipeline; return (out_port, frame as emitted)."""
        return list(self.visit(packet).outputs)

    def visit(self, packet: Packet) -> Visit:
        """Run one frame through the pipeline: each table's lookup, and what came out."""
        if packet.in_port not in self.port_nos:
            raise ValueError(f"switch {self.datapath_id:#x} has no port {packet.in_port}")
        if packet.vlan_vid is not None and not 0 <= packet.vlan_vid < 0x1000:
            raise ValueError(f"bad VLAN id {packet.vlan_vid}")
        out: list[tuple[int, Packet]] = []
        lookups: list[Lookup] = []
        table_id: int | None = 0
        recirculations = 0
        while table_id is not None:
            flow = self.lookup(table_id, packet)
            lookups.append(Lookup(table_id, flow, packet))
            if flow is None:
                break  # OpenFlow 1.3 table-miss default: drop
            if flow.extra:
                raise NotImplementedError(f"simulator cannot run instructions {flow.extra}")
            table_id = flow.goto
            for i, action in enumerate(flow.actions):
                if isinstance(action, DecTtl):
                    if packet.eth_type != 0x0800:
                        raise AssertionError(f"dec_ttl on a frame that is not IPv4: {flow}")
                    if packet.ip_ttl <= 1:
                        return Visit(tuple(lookups), tuple(out))  # expired: dropped
                    packet = replace(packet, ip_ttl=packet.ip_ttl - 1)
                elif isinstance(action, Ct):
                    packet = self._ct(action, packet, flow)
                    if action.table is not None:  # recirculation: the flow's other actions never run here
                        if i != len(flow.actions) - 1 or flow.goto is not None:
                            raise AssertionError(f"ct with a table must end the flow: {flow}")
                        recirculations += 1
                        if recirculations > MAX_RECIRCULATIONS:
                            raise AssertionError(f"a frame recirculated more than {MAX_RECIRCULATIONS} times")
                        table_id = action.table
                else:
                    packet = self._act(action, packet, out, flow)
        return Visit(tuple(lookups), tuple(out))

    def _ct(self, action: Ct, packet: Packet, flow: Flow) -> Packet:
        """The connection tracker: look the packet up in the zone, commit, translate; set ct_state/ct_zone."""
        if packet.eth_type != 0x0800:
            raise AssertionError(f"ct on a frame that is not IPv4: {flow}")
        conns = self.conntrack.setdefault(action.zone, [])
        t = _tuple(packet)
        conn = next((c for c in conns if t in (c.orig, c.reply)), None)
        reply = conn is not None and t == conn.reply
        if conn is None and action.commit:
            translated = t
            if action.nat.startswith("src="):
                translated = (action.nat[4:], *t[1:])
            elif action.nat.startswith("dst="):
                translated = (t[0], action.nat[4:], *t[2:])
            conn = Connection(t, _reverse(translated))
            conns.append(conn)
            state = _CT_TRK | _CT_NEW
        elif conn is None:
            state = _CT_TRK | _CT_NEW
        elif reply:
            conn.replied = True
            state = _CT_TRK | _CT_EST | _CT_RPL
        else:
            state = _CT_TRK | (_CT_EST if conn.replied else _CT_NEW)
        if action.nat and conn is not None:
            # The connection's translation: the original direction becomes the reply's reverse, and back.
            src, dst = (conn.orig[1], conn.orig[0]) if reply else (conn.reply[1], conn.reply[0])
            packet = replace(packet, ipv4_src=src, ipv4_dst=dst)
        return replace(packet, ct_state=state, ct_zone=action.zone)

    def _act(self, action: Action, packet: Packet, out: list[tuple[int, Packet]], flow: Flow) -> Packet:
        if isinstance(action, Output):
            port = action.port
            if port == OFPP_IN_PORT:
                out.append((packet.in_port, packet))
            elif port == OFPP_CONTROLLER:
                out.append((port, packet))
            elif port not in self.port_nos:
                raise AssertionError(f"output to missing port {port}: {flow}")
            elif port != packet.in_port:  # never back out the ingress port unless IN_PORT
                out.append((port, packet))
            return packet
        if isinstance(action, PushVlan):
            if packet.vlan_vid is not None:
                raise AssertionError(f"push_vlan on a tagged frame: {flow}")
            return replace(packet, vlan_vid=0)
        if isinstance(action, PopVlan):
            if packet.vlan_vid is None:
                raise AssertionError(f"pop_vlan on an untagged frame: {flow}")
            return replace(packet, vlan_vid=None)
        if isinstance(action, SetField):
            if action.name == "vlan_vid":
                if packet.vlan_vid is None:
                    raise AssertionError(f"set vlan_vid on an untagged frame: {flow}")
                return replace(packet, vlan_vid=_value_to_int("vlan_vid", action.value) & 0x0FFF)
            if action.name in _REWRITABLE:
                if _PREREQ.get(action.name, packet.eth_type) != packet.eth_type or getattr(packet, action.name) is None:
                    raise AssertionError(f"set {action.name} on a frame without it: {flow}")
                _value_to_int(action.name, action.value)  # a value of the field's kind
                if isinstance(action.value, str) != (action.name in _MAC_FIELDS | _IPV4_FIELDS):
                    raise AssertionError(f"set {action.name} to {action.value!r}: {flow}")
                rewritten: dict[str, Any] = {action.name: action.value}
                return replace(packet, **rewritten)
            if action.name == "tunnel_id":
                tid = _value_to_int("tunnel_id", action.value)
                if not 0 <= tid <= TUNNEL_ID_MAX:
                    raise AssertionError(f"tunnel_id {tid} does not fit 64 bits: {flow}")
                return replace(packet, tunnel_id=tid)
            if action.name == "in_port" and isinstance(action.value, int):
                return replace(packet, in_port=action.value)
            if action.name == "tun_ipv4_dst" and isinstance(action.value, str):
                return replace(packet, tun_ipv4_dst=str(ipaddress.IPv4Address(action.value)))
            raise NotImplementedError(f"set_field {action.name}")
        if isinstance(action, Opaque):
            raise NotImplementedError(f"simulator cannot run {action}")
        raise TypeError(f"not an action: {action!r}")  # pragma: no cover
