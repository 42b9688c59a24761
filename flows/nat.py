"""The gateway of NATed networks (the `nat` extension): routing and Open vSwitch conntrack NAT on the
gateway switch, as flows computed from the desired state. Pure.

A VM sends what leaves its network to GATEWAY_MAC; the isolation driver carries it to the network's
router member on the gateway switch, whose forwarding flow hands it to table NAT_OUT, still in the
network (its VLAN tag or VNI). There, per network:

- NAT_OUT: a frame to an address of the network's own range is dropped (never routed back in); the
  rest leaves the network's encapsulation, has its TTL decremented, and is looked up in the
  network's conntrack zone with its translation applied (`ct(zone=Z,nat,table=NAT_OUT_CT)`).
- NAT_OUT_CT: a new connection is committed with its source translated to the port's floating
  address, or else the network's external address; an established or related one goes on.
- EGRESS: to an outside address held by a NATed network (a hairpin) on to NAT_IN; anything else out
  of the uplink to the next hop (one flow, the next hop's MAC once ARP found it).
- NAT_IN (from the uplink, or a hairpin): a frame to an outside address in use is looked up in the
  zone of the network that holds it (its translation undone, `ct(zone=Z,nat)`); other addresses of
  the pool match nothing: dropped.
- NAT_IN_CT: a new connection to a floating address is committed with its destination translated
  to the port's address; established and related ones (answers, ICMP errors) go on; a new one to a
  network's external address is dropped: outside hosts never reach a private address.
- DELIVER: by the zone (so only the network that made the connection) and the private address, to
  the VNIC: MACs rewritten (from GATEWAY_MAC, to the VNIC's), into the network's segment towards its
  switch; out of IN_PORT where a hairpin came in on the port it must leave by (OpenFlow never
  outputs to the ingress port otherwise).

TTL is decremented in NAT_OUT and NAT_IN, once per routing.

The zone of a network is 1 + its external address's offset in the pool (`zone_of`): one per network,
so two networks with the same range never share a connection; the pool is at most 65,534 addresses.
On the uplink (table 0 of the gateway switch), IPv4 goes to NAT_IN and ARP to the controller (which
answers for the pool's addresses in use and learns the next hop's MAC), all else is dropped.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .model import (
    GATEWAY_MAC,
    OFPP_CONTROLLER,
    OFPP_IN_PORT,
    Action,
    Ct,
    DecTtl,
    Flow,
    MatchValue,
    Output,
    SetField,
    match,
)
from .state import Member, NatState, SegmentState

if TYPE_CHECKING:
    from .driver import Context, Driver

ETH_IPV4, ETH_ARP = 0x0800, 0x0806

TABLE_NAT_OUT = 10
TABLE_NAT_OUT_CT = 11
TABLE_EGRESS = 12
TABLE_NAT_IN = 13
TABLE_NAT_IN_CT = 14
TABLE_DELIVER = 15
NAT_TABLES = (TABLE_NAT_OUT, TABLE_NAT_OUT_CT, TABLE_EGRESS, TABLE_NAT_IN, TABLE_NAT_IN_CT, TABLE_DELIVER)

PRIO_MISS = 0
PRIO_ROUTE = 100
PRIO_OWN_RANGE = 200
PRIO_NEW = 100
PRIO_NEW_FLOATING = 110
PRIO_ESTABLISHED = 90
PRIO_RELATED = 80
PRIO_HAIRPIN = 200
PRIO_UPLINK = 100
PRIO_UPLINK_ARP = 110

# ct_state bits (Open vSwitch): a (value, mask) pair also requires the packet not to be invalid.
CT_NEW, CT_EST, CT_REL, CT_RPL, CT_INV, CT_TRK = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
NEW = (CT_TRK | CT_NEW, CT_TRK | CT_NEW | CT_INV)
ESTABLISHED = (CT_TRK | CT_EST, CT_TRK | CT_EST | CT_INV)
RELATED = (CT_TRK | CT_REL, CT_TRK | CT_REL | CT_INV)
MAX_ZONES = 65534


@dataclass(frozen=True)
class Gateway:
    """The gateway switch as the flows need it: its uplink (number, once the switch reports it), the next
    hop and its MAC (once ARP found it)."""

    datapath_id: int
    uplink: int | None
    next_hop: str
    next_hop_mac: str | None
    meter: int | None = None  # the meter ARP to the controller passes


def zone_of(external: str, pool: tuple[str, str]) -> int:
    """A network's conntrack zone: 1 + its external address's offset in the pool."""
    offset = int(ipaddress.IPv4Address(external)) - int(ipaddress.IPv4Address(pool[0]))
    if not 0 <= offset < MAX_ZONES:
        raise ValueError(f"{external} is not in the pool {pool[0]}-{pool[1]} of at most {MAX_ZONES} addresses")
    return offset + 1


def router(gateway: Gateway) -> Member:
    """A network's router on the gateway switch, as a member its isolation driver carries frames to."""
    return Member("", "", GATEWAY_MAC, gateway.datapath_id, 0, router=True)


def with_router(state: SegmentState, gateway: Gateway | None) -> tuple[Member, ...]:
    """The members the isolation driver connects: a NATed network's VNICs and its router."""
    if state.nat is None or gateway is None:
        return state.members
    return (*state.members, router(gateway))


def _ipv4(value: str) -> MatchValue:
    net = ipaddress.IPv4Network(value)
    return str(net.network_address) if net.prefixlen == 32 else (str(net.network_address), str(net.netmask))


def gateway_base_flows(gateway: Gateway, cookie: int) -> list[Flow]:
    """The gateway switch's flows that belong to no network: its NAT tables' misses (drop), the uplink's
    admission (IPv4 to NAT_IN, ARP to the controller) and the way out to the next hop."""
    flows = [Flow(t, PRIO_MISS, match(), cookie=cookie) for t in NAT_TABLES]
    if gateway.uplink is None:
        return flows
    up = gateway.uplink
    flows += [
        Flow(0, PRIO_UPLINK, match(in_port=up, eth_type=ETH_IPV4), goto=TABLE_NAT_IN, cookie=cookie),
        Flow(0, PRIO_UPLINK_ARP, match(in_port=up, eth_type=ETH_ARP), (Output(OFPP_CONTROLLER),), cookie=cookie,
             meter=gateway.meter),
    ]
    if gateway.next_hop_mac is not None:
        flows.append(Flow(TABLE_EGRESS, PRIO_ROUTE, match(eth_type=ETH_IPV4),
                          (SetField("eth_src", GATEWAY_MAC), SetField("eth_dst", gateway.next_hop_mac), Output(up)),
                          cookie=cookie))
    return flows


def nat_flows(state: SegmentState, dpid: int, gateway: Gateway | None, driver: Driver, ctx: Context,
              cookie: int) -> list[Flow]:
    """The flows switch `dpid` needs to route and translate one NATed network: only the gateway's."""
    nat = state.nat
    if nat is None or gateway is None or dpid != gateway.datapath_id:
        return []
    seg, z = state.segment_id, nat.zone
    net = driver.network_match(seg)
    ip = {"eth_type": ETH_IPV4}
    zone = {"ct_zone": z}
    flows = [
        Flow(TABLE_NAT_OUT, PRIO_OWN_RANGE, match(**net, **ip, ipv4_dst=_ipv4(nat.prefix)), cookie=cookie),
        Flow(TABLE_NAT_OUT, PRIO_ROUTE, match(**net, **ip),
             (*driver.leave_network(), DecTtl(), Ct(z, table=TABLE_NAT_OUT_CT, nat="nat")),
             cookie=cookie),
        Flow(TABLE_NAT_OUT_CT, PRIO_NEW, match(**zone, ct_state=NEW, **ip),
             (Ct(z, commit=True, table=TABLE_EGRESS, nat=f"src={nat.external}"),), cookie=cookie),
        Flow(TABLE_NAT_OUT_CT, PRIO_ESTABLISHED, match(**zone, ct_state=ESTABLISHED), goto=TABLE_EGRESS, cookie=cookie),
        Flow(TABLE_NAT_OUT_CT, PRIO_RELATED, match(**zone, ct_state=RELATED), goto=TABLE_EGRESS, cookie=cookie),
        Flow(TABLE_NAT_IN_CT, PRIO_ESTABLISHED, match(**zone, ct_state=ESTABLISHED), goto=TABLE_DELIVER, cookie=cookie),
        Flow(TABLE_NAT_IN_CT, PRIO_RELATED, match(**zone, ct_state=RELATED), goto=TABLE_DELIVER, cookie=cookie),
    ]
    held = [nat.external] + [fa for fixed, fa in nat.floating]
    for address in held:
        flows += [
            Flow(TABLE_EGRESS, PRIO_HAIRPIN, match(**ip, ipv4_dst=address), goto=TABLE_NAT_IN, cookie=cookie),
            Flow(TABLE_NAT_IN, PRIO_ROUTE, match(**ip, ipv4_dst=address),
                 (DecTtl(), Ct(z, table=TABLE_NAT_IN_CT, nat="nat")), cookie=cookie),
        ]
    for fixed, fa in nat.floating:
        flows += [
            Flow(TABLE_NAT_OUT_CT, PRIO_NEW_FLOATING, match(**zone, ct_state=NEW, **ip, ipv4_src=fixed),
                 (Ct(z, commit=True, table=TABLE_EGRESS, nat=f"src={fa}"),), cookie=cookie),
            Flow(TABLE_NAT_IN_CT, PRIO_NEW_FLOATING, match(**zone, ct_state=NEW, **ip, ipv4_dst=fa),
                 (Ct(z, commit=True, table=TABLE_DELIVER, nat=f"dst={fixed}"),), cookie=cookie),
        ]
    for m in _delivered(state.members):
        assert m.ip is not None
        way = driver.deliver_actions(seg, m, dpid, ctx)
        if way is None:
            continue
        rewrite: tuple[Action, ...] = (SetField("eth_src", GATEWAY_MAC), SetField("eth_dst", m.mac))
        flows.append(Flow(TABLE_DELIVER, PRIO_ROUTE, match(**zone, **ip, ipv4_dst=m.ip), (*rewrite, *way),
                          cookie=cookie))
        last = way[-1]
        if isinstance(last, Output):  # a hairpin that came in where it must go out: OpenFlow needs IN_PORT
            flows.append(Flow(TABLE_DELIVER, PRIO_HAIRPIN, match(**zone, **ip, ipv4_dst=m.ip, in_port=last.port),
                              (*rewrite, *way[:-1], Output(OFPP_IN_PORT)), cookie=cookie))
    return flows


def _delivered(members: Sequence[Member]) -> list[Member]:
    """The VNICs answers are delivered to: those with an address, one per address (the first bound keeps it)."""
    seen: dict[str, Member] = {}
    for m in sorted(members, key=lambda m: (m.datapath_id, m.port_no)):
        if m.ip is not None and not m.router:
            seen.setdefault(m.ip, m)
    return list(seen.values())


def held_addresses(nat: NatState) -> list[str]:
    """The outside addresses a NATed network holds: its external address and its ports' floating ones."""
    return [nat.external, *(fa for _, fa in nat.floating)]
