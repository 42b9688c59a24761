"""The pipeline's tables, priorities and cookies, declared once.

Table 0 (ingress) admits a frame only from a bound access port with the VNIC's
own source MAC and no VLAN tag, and tags it with its network's VLAN. Table 1
(forwarding) delivers by (VLAN, destination MAC) and floods the rest to the
ports of that VLAN only. Anything not admitted hits a drop flow: nothing ever
goes to the controller in steady state.
"""

from __future__ import annotations

import ipaddress

from .model import (
    GATEWAY_MAC,
    OFPP_CONTROLLER,
    OFPP_IN_PORT,
    OFPVID_NONE,
    Action,
    Flow,
    MatchValue,
    Output,
    SetField,
    match,
)
from .state import Member

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ARP_REQUEST, ARP_REPLY = 1, 2
IPPROTO_ICMP = 1
ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST = 0, 8
IPPROTO_UDP = 17
DHCP_SERVER, DHCP_CLIENT = 67, 68

TABLE_INGRESS = 0
TABLE_FORWARD = 1
TABLES = (TABLE_INGRESS, TABLE_FORWARD)

PRIO_MISS = 0
PRIO_FLOOD = 10
# An allowed address pair's admission: below the port's own, longer prefixes first, so no two
# admissions a frame can match share a priority.
PRIO_PAIR = 60
PRIO_ACCESS = 100
PRIO_TRUNK = 100
PRIO_UNICAST = 100
# The gateway's answers and DHCP to the controller: above the admissions they take frames from.
PRIO_GATEWAY = 110
PRIO_GUARD = 120
PRIO_LLDP = 1000

LLDP_ETH_TYPE = 0x88CC
LLDP_NEAREST_BRIDGE = "01:80:c2:00:00:0e"

# The top 16 bits mark a flow as this application's; the low 48 bits name the
# partition it belongs to: 0 for the fixed pipeline, else the network's segment
# id. Reconciliation diffs one partition at a time, so a change to one network
# never reads or rewrites another network's flows.
COOKIE_MARK = 0x5D4E << 48
COOKIE_MARK_MASK = 0xFFFF << 48
PARTITION_MASK = (1 << 48) - 1
BASE_PARTITION = 0


def cookie_for(partition: int) -> int:
    if not 0 <= partition <= PARTITION_MASK:
        raise ValueError(f"partition {partition} out of range")
    return COOKIE_MARK | partition


def partition_of(cookie: int) -> int:
    return cookie & PARTITION_MASK


# What a switch must offer (README, "What a switch must support"), as far as its handshake tells:
# OpenFlow 1.3 and as many tables as the pipeline has. Meters are welcome but not needed.
OPENFLOW_VERSION = 0x04
OPENFLOW_NAMES = {0x01: "1.0", 0x02: "1.1", 0x03: "1.2", 0x04: "1.3", 0x05: "1.4", 0x06: "1.5"}


def unmet_needs(openflow_version: int, n_tables: int) -> list[str]:
    """What a switch lacks for this pipeline, from the version it speaks and the tables it has; [] if nothing."""
    out = []
    if openflow_version != OPENFLOW_VERSION:
        spoken = OPENFLOW_NAMES.get(openflow_version, f"version {openflow_version:#x}")
        out.append(f"OpenFlow 1.3 (the switch speaks OpenFlow {spoken})")
    if n_tables < len(TABLES):
        out.append(f"{len(TABLES)} flow tables (the switch has {n_tables})")
    return out


CONTROLLER_METER = 1  # the meter that limits what any switch sends to the controller
# What a switch may send to the controller: LLDP needs a few frames per port per
# second. The meter above enforces it in the pipeline; on Open vSwitch the
# bridge's controller_rate_limit/controller_burst_limit are a second line (and
# the only one on a switch without meters).
CONTROLLER_RATE_PPS = 100
CONTROLLER_BURST = 25
# DHCP to the controller passes a meter of its own: a VM flooding DHCP fills that one, never
# LLDP's (losing LLDP would drop links). One per switch, shared by its VNICs: sdnapp answers
# at most this many DHCP packets a second from one switch.
DHCP_METER = 2
DHCP_RATE_PPS = 50
DHCP_BURST = 20


def base_flows(lldp: bool = False, meter: int | None = None) -> list[Flow]:
    """The fixed part of every switch's pipeline: table-miss drops, and LLDP to the controller for discovery.

    With `meter`, frames to the controller pass that meter first: the switch
    itself drops what exceeds its rate, so a host flooding LLDP cannot flood
    the controller.
    """
    cookie = cookie_for(BASE_PARTITION)
    flows = [Flow(table=t, priority=PRIO_MISS, match=match(), cookie=cookie) for t in TABLES]
    if lldp:
        flows.append(
            Flow(
                table=TABLE_INGRESS,
                priority=PRIO_LLDP,
                match=match(eth_type=LLDP_ETH_TYPE, eth_dst=LLDP_NEAREST_BRIDGE),
                actions=(Output(OFPP_CONTROLLER),),
                cookie=cookie,
                meter=meter,
            )
        )
    return flows


def _ipv4(value: str) -> MatchValue:
    """An address, or a network as (address, mask)."""
    net = ipaddress.IPv4Network(value)
    return str(net.network_address) if net.prefixlen == 32 else (str(net.network_address), str(net.netmask))


def _pair_flows(m: Member, admit: tuple[Action, ...], cookie: int) -> list[Flow]:
    """Admission of the port's allowed address pairs: IPv4 from the pair's address and ARP for it,
    with the pair's MAC. A pair the port's own admission already covers adds nothing."""
    flows = []
    for mac, ip in sorted(set(m.pairs)):
        if mac == m.mac and (m.ip is None or ip == m.ip):
            continue
        prio = PRIO_PAIR + ipaddress.IPv4Network(ip).prefixlen
        base: dict[str, MatchValue] = {"in_port": m.port_no, "eth_src": mac, "vlan_vid": OFPVID_NONE}
        for mt in (match(**base, eth_type=ETH_IPV4, ipv4_src=_ipv4(ip)),
                   match(**base, eth_type=ETH_ARP, arp_spa=_ipv4(ip), arp_sha=mac)):
            flows.append(Flow(TABLE_INGRESS, prio, mt, admit, goto=TABLE_FORWARD, cookie=cookie))
    return flows


def access_flows(m: Member, admit: tuple[Action, ...], cookie: int, dhcp_meter: int | None = None) -> list[Flow]:
    """Table 0 for one VNIC's access port: what it may send, and `admit` (the driver's actions) for it.

    Only untagged frames with the VNIC's own source MAC. Where the port has an
    address: IPv4 only from that address, ARP only for its own MAC/IP pair, and
    DHCP requests from 0.0.0.0; nothing else (IPv6 included). Never frames from
    a DHCP server port: a VM cannot answer as a DHCP server. Allowed address
    pairs add their own admissions. A port without port security sends any
    untagged frame, as anything. The gateway's answers and DHCP to the
    controller come first (`gateway_flows`); where DHCP goes to the controller
    it is not admitted into the network.
    """
    if not m.port_security:
        return gateway_flows(m, cookie, dhcp_meter) + [
            Flow(TABLE_INGRESS, PRIO_ACCESS, match(in_port=m.port_no, vlan_vid=OFPVID_NONE), admit,
                 goto=TABLE_FORWARD, cookie=cookie)
        ]
    base: dict[str, MatchValue] = {"in_port": m.port_no, "eth_src": m.mac, "vlan_vid": OFPVID_NONE}
    if m.ip is None:
        matches = [match(**base)]
    else:
        matches = [
            match(**base, eth_type=ETH_IPV4, ipv4_src=m.ip),
            match(**base, eth_type=ETH_ARP, arp_spa=m.ip, arp_sha=m.mac),
        ]
        if not _serves_dhcp(m):
            matches.append(match(**base, eth_type=ETH_IPV4, ipv4_src="0.0.0.0", ip_proto=IPPROTO_UDP,
                                 udp_src=DHCP_CLIENT, udp_dst=DHCP_SERVER))
    flows = gateway_flows(m, cookie, dhcp_meter)
    flows += [Flow(TABLE_INGRESS, PRIO_ACCESS, mt, admit, goto=TABLE_FORWARD, cookie=cookie) for mt in matches]
    flows += _pair_flows(m, admit, cookie)
    flows.append(
        Flow(
            TABLE_INGRESS,
            PRIO_GUARD,
            match(in_port=m.port_no, eth_type=ETH_IPV4, ip_proto=IPPROTO_UDP, udp_src=DHCP_SERVER),
            cookie=cookie,
        )
    )
    return flows


def _serves_dhcp(m: Member) -> bool:
    """Whether the VNIC's DHCP goes to the controller: its network serves DHCP, and the port has an
    address to give and a gateway whose address the answers come from."""
    return m.dhcp and m.ip is not None and m.gateway is not None


def gateway_flows(m: Member, cookie: int, dhcp_meter: int | None = None) -> list[Flow]:
    """Table 0 on the VNIC's port: the switch answers ARP and ping for the network's gateway, and
    DHCP goes to the controller (through `dhcp_meter`, where the switch has meters).

    Each answer is the request rewritten in place and sent back out of its port, with set_field
    only (any OpenFlow 1.3 switch can): a flow per VNIC matches the VNIC's own MAC and address,
    so every field of the answer is a constant (as Neutron's ARP responder and OVN's router port
    answer, without the NXM moves that would need Open vSwitch). A request that is not from the
    VNIC's own MAC and address gets no answer. A ping is answered with its own identifier,
    sequence and payload: the switch fixes the ICMP checksum when it rewrites the type.
    """
    if m.ip is None or m.gateway is None:
        return []
    port: dict[str, MatchValue] = {"in_port": m.port_no, "eth_src": m.mac, "vlan_vid": OFPVID_NONE}
    back_to_vm = (SetField("eth_dst", m.mac), SetField("eth_src", GATEWAY_MAC))
    flows = [
        Flow(
            TABLE_INGRESS, PRIO_GATEWAY,
            match(**port, eth_type=ETH_ARP, arp_op=ARP_REQUEST, arp_spa=m.ip, arp_sha=m.mac, arp_tpa=m.gateway),
            back_to_vm + (
                SetField("arp_op", ARP_REPLY), SetField("arp_sha", GATEWAY_MAC), SetField("arp_spa", m.gateway),
                SetField("arp_tha", m.mac), SetField("arp_tpa", m.ip), Output(OFPP_IN_PORT),
            ),
            cookie=cookie,
        ),
        Flow(
            TABLE_INGRESS, PRIO_GATEWAY,
            match(**port, eth_type=ETH_IPV4, ipv4_src=m.ip, ipv4_dst=m.gateway, ip_proto=IPPROTO_ICMP,
                  icmpv4_type=ICMP_ECHO_REQUEST),
            back_to_vm + (
                SetField("ipv4_src", m.gateway), SetField("ipv4_dst", m.ip),
                SetField("icmpv4_type", ICMP_ECHO_REPLY), Output(OFPP_IN_PORT),
            ),
            cookie=cookie,
        ),
    ]
    if _serves_dhcp(m):
        # From 0.0.0.0 (DISCOVER, REQUEST) or the port's address (renewal, INFORM, RELEASE): the
        # controller checks the rest.
        flows.append(Flow(
            TABLE_INGRESS, PRIO_GATEWAY,
            match(**port, eth_type=ETH_IPV4, ip_proto=IPPROTO_UDP, udp_src=DHCP_CLIENT, udp_dst=DHCP_SERVER),
            (Output(OFPP_CONTROLLER),), cookie=cookie, meter=dhcp_meter,
        ))
    return flows
