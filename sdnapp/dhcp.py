"""DHCP answered by sdnapp itself, as OVN's native DHCP: the address is the port's, so no lease database.

Pure: a frame's bytes in, a request or the reason it is refused out (`parse_request`); a request
and the port's lease in, the answer frame or the reason there is none out (`answer`). Frames are
read and built with os-ken's packet library. Everything refused here is refused whole: a frame
that is not a well-formed DHCP request from the port's own VNIC gets no answer (the caller logs
it at debug and counts it); nothing is ever stored, so a hostile frame changes nothing.

What is answered (RFC 2131): DISCOVER with an OFFER, REQUEST with an ACK for the port's address
(a NAK for any other address; nothing when the client chose another server), INFORM with an ACK
carrying the options only, RELEASE and DECLINE with nothing. Each answer comes from the network's
gateway (its address as server identifier, the gateway MAC as source) and carries the mask, the
router, the DNS servers, the lease time with its renewal and rebinding times, the MTU, and the
subnet's host routes (option 121, with the default route, since a client that takes 121 ignores
the router option).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

from os_ken.lib.packet import dhcp, ethernet, ipv4, packet, udp
from os_ken.lib.packet.ether_types import ETH_TYPE_IP
from os_ken.lib.packet.in_proto import IPPROTO_UDP

from flows.model import GATEWAY_MAC

DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = 1, 2, 3, 4, 5, 6, 7, 8
MESSAGE_NAMES = {DISCOVER: "discover", OFFER: "offer", REQUEST: "request", DECLINE: "decline", ACK: "ack",
                 NAK: "nak", RELEASE: "release", INFORM: "inform"}
CLIENT_PORT, SERVER_PORT = 68, 67
ANY, BROADCAST = "0.0.0.0", "255.255.255.255"
BROADCAST_FLAG = 0x8000
MAGIC_COOKIE = "99.130.83.99"
BOOTP_MIN_LEN = 300  # RFC 1542: some clients drop a shorter BOOTP message
_OPT_BROADCAST_ADDRESS = 28
_ETH_HLEN, _HTYPE_ETHERNET = 6, 1
_FIXED_LEN = 236  # the BOOTP header before the magic cookie


@dataclass(frozen=True)
class Lease:
    """What a port's VNIC is told: its address and its network's settings."""

    mac: str
    address: str
    cidr: str  # the subnet, for the mask and broadcast address
    gateway: str  # the router, and the server identifier of every answer
    dns: tuple[str, ...]
    mtu: int
    lease_time: int  # seconds
    routes: tuple[tuple[str, str], ...] = ()  # (destination CIDR, next hop): the subnet's host routes


@dataclass(frozen=True)
class Request:
    """A well-formed DHCP request, as far as it can be checked without knowing the port."""

    kind: int  # DISCOVER, REQUEST, DECLINE, RELEASE or INFORM
    xid: int
    flags: int
    mac: str  # the client hardware address, which is also the frame's source MAC
    ciaddr: str
    ip_src: str
    ip_dst: str
    requested: str | None  # option 50
    server_id: str | None  # option 54


@dataclass(frozen=True)
class Reply:
    kind: int  # OFFER, ACK or NAK
    frame: bytes


@dataclass(frozen=True)
class Silence:
    """No answer: `outcome` is what is counted ("refused" for what is malformed or hostile), `reason` is logged."""

    outcome: str
    reason: str


def refused(reason: str) -> Silence:
    return Silence("refused", reason)


def parse_request(data: bytes) -> Request | Silence:
    """The DHCP request in an Ethernet frame, or why it is not one sdnapp answers."""
    try:
        pkt = packet.Packet(data)
        eth = pkt.get_protocol(ethernet.ethernet)
        ip = pkt.get_protocol(ipv4.ipv4)
        dgram = pkt.get_protocol(udp.udp)
        msg = pkt.get_protocol(dhcp.dhcp)
    except Exception as e:  # os-ken's parsers raise whatever the bytes provoke
        return refused(f"undecodable: {type(e).__name__}")
    if eth is None or ip is None or dgram is None or msg is None or len(pkt.protocols) < 4:
        return refused("not Ethernet/IPv4/UDP/DHCP")
    if eth.ethertype != ETH_TYPE_IP or pkt.protocols[1] is not ip:
        return refused("tagged, or not IPv4 right after Ethernet")
    if ip.proto != IPPROTO_UDP or ip.offset or ip.flags & 0x1 or ip.header_length < 5:
        return refused("not a whole UDP datagram")
    if len(data) < 14 + ip.total_length or ip.total_length < 4 * ip.header_length + dgram.total_length:
        return refused("truncated IPv4 or UDP")
    if (dgram.src_port, dgram.dst_port) != (CLIENT_PORT, SERVER_PORT):
        return refused(f"UDP {dgram.src_port}->{dgram.dst_port}, not a client's request")
    if msg.op != dhcp.DHCP_BOOT_REQUEST or msg.htype != _HTYPE_ETHERNET or msg.hlen != _ETH_HLEN:
        return refused("not a BOOTREQUEST for an Ethernet address")
    if dgram.total_length < 8 + _FIXED_LEN + 4:
        return refused("truncated BOOTP")
    if not isinstance(msg.chaddr, str) or msg.chaddr.lower() != eth.src.lower():
        return refused(f"chaddr {msg.chaddr!r} is not the frame's source {eth.src}")
    if msg.giaddr != ANY:
        return refused(f"relayed through {msg.giaddr}: sdnapp answers a VNIC on its own port only")
    opts = msg.options
    if opts is None or opts.magic_cookie != MAGIC_COOKIE:
        return refused("no DHCP magic cookie")
    values: dict[int, bytes] = {}
    for o in opts.option_list:
        if not isinstance(o, dhcp.option):
            return refused("an option runs past the end of the packet")
        if o.tag in values and o.tag in (dhcp.DHCP_MESSAGE_TYPE_OPT, dhcp.DHCP_REQUESTED_IP_ADDR_OPT,
                                         dhcp.DHCP_SERVER_IDENTIFIER_OPT):
            return refused(f"option {o.tag} given twice")
        values.setdefault(o.tag, bytes(o.value))
    kind_opt = values.get(dhcp.DHCP_MESSAGE_TYPE_OPT)
    if kind_opt is None or len(kind_opt) != 1 or kind_opt[0] not in (DISCOVER, REQUEST, DECLINE, RELEASE, INFORM):
        return refused(f"message type {kind_opt!r} is not a client's")
    addresses: dict[int, str | None] = {}
    for tag in (dhcp.DHCP_REQUESTED_IP_ADDR_OPT, dhcp.DHCP_SERVER_IDENTIFIER_OPT):
        raw = values.get(tag)
        if raw is not None and len(raw) != 4:
            return refused(f"option {tag} of {len(raw)} bytes is not an address")
        addresses[tag] = socket.inet_ntoa(raw) if raw is not None else None
    return Request(kind_opt[0], msg.xid, msg.flags, eth.src.lower(), msg.ciaddr, ip.src, ip.dst,
                   addresses[dhcp.DHCP_REQUESTED_IP_ADDR_OPT], addresses[dhcp.DHCP_SERVER_IDENTIFIER_OPT])


def answer(req: Request, lease: Lease) -> Reply | Silence:
    """What the server says to `req` from the port whose lease is `lease`."""
    if req.mac != lease.mac:
        return refused(f"from {req.mac}, not the port's VNIC {lease.mac}")
    if req.ip_src not in (ANY, lease.address):
        return refused(f"from {req.ip_src}, neither 0.0.0.0 nor the port's address {lease.address}")
    if req.ip_dst not in (BROADCAST, lease.gateway):
        return refused(f"to {req.ip_dst}, neither broadcast nor the server {lease.gateway}")
    if req.ciaddr not in (ANY, lease.address):
        return Reply(NAK, _build(req, lease, NAK)) if req.kind == REQUEST else refused(
            f"ciaddr {req.ciaddr} is not the port's address")
    if req.kind == DISCOVER:
        return Reply(OFFER, _build(req, lease, OFFER))
    if req.kind == REQUEST:
        if req.server_id is not None and req.server_id != lease.gateway:
            return Silence("other_server", f"the client chose server {req.server_id}")
        wanted = req.requested if req.requested is not None else (req.ciaddr if req.ciaddr != ANY else None)
        if wanted is None:
            return refused("a REQUEST that names no address")
        return Reply(ACK if wanted == lease.address else NAK, _build(req, lease, ACK if wanted == lease.address
                                                                     else NAK))
    if req.kind == INFORM:
        if req.ciaddr != lease.address:
            return refused("an INFORM without the port's address as ciaddr")
        return Reply(ACK, _build(req, lease, ACK, inform=True))
    # RELEASE and DECLINE: the address stays the port's; there is nothing to answer or to record.
    return Silence(MESSAGE_NAMES[req.kind], f"{MESSAGE_NAMES[req.kind]} of {lease.address}")


def _addr(a: str) -> bytes:
    return socket.inet_aton(a)


def _classless_routes(routes: tuple[tuple[str, str], ...], gateway: str) -> bytes:
    """Option 121 (RFC 3442): each destination as its prefix length and significant octets, then the router."""
    out = b""
    for dest, hop in (*routes, ("0.0.0.0/0", gateway)):
        net = ipaddress.IPv4Network(dest)
        width = (net.prefixlen + 7) // 8
        out += bytes([net.prefixlen]) + net.network_address.packed[:width] + _addr(hop)
    return out


def _options(lease: Lease, kind: int, inform: bool) -> list[dhcp.option]:
    o = dhcp.option
    opts = [o(dhcp.DHCP_MESSAGE_TYPE_OPT, bytes([kind])), o(dhcp.DHCP_SERVER_IDENTIFIER_OPT, _addr(lease.gateway))]
    if kind == NAK:
        return opts
    net = ipaddress.IPv4Network(lease.cidr)
    if not inform:  # RFC 2131: no lease time in an answer to INFORM
        t = lease.lease_time
        opts += [o(dhcp.DHCP_IP_ADDR_LEASE_TIME_OPT, struct.pack("!I", t)),
                 o(dhcp.DHCP_RENEWAL_TIME_OPT, struct.pack("!I", t // 2)),
                 o(dhcp.DHCP_REBINDING_TIME_OPT, struct.pack("!I", t * 7 // 8))]
    opts += [o(dhcp.DHCP_SUBNET_MASK_OPT, net.netmask.packed),
             o(_OPT_BROADCAST_ADDRESS, net.broadcast_address.packed),
             o(dhcp.DHCP_GATEWAY_ADDR_OPT, _addr(lease.gateway)),
             o(dhcp.DHCP_INTERFACE_MTU_OPT, struct.pack("!H", lease.mtu))]
    if lease.dns:
        opts.append(o(dhcp.DHCP_DNS_SERVER_ADDR_OPT, b"".join(_addr(a) for a in lease.dns)))
    if lease.routes:
        opts.append(o(dhcp.DHCP_CLASSLESS_ROUTE_OPT, _classless_routes(lease.routes, lease.gateway)))
    return opts


def _build(req: Request, lease: Lease, kind: int, inform: bool = False) -> bytes:
    opts: list[dhcp.option | bytes] = list(_options(lease, kind, inform))
    size = _FIXED_LEN + 4 + sum(2 + len(x.value) for x in opts if isinstance(x, dhcp.option)) + 1
    if size < BOOTP_MIN_LEN:
        # The end option, then padding: os-ken ends the list itself only when it ends with an option.
        opts.append(bytes([dhcp.DHCP_END_OPT]) + bytes(BOOTP_MIN_LEN - size))
    # Where the answer goes (RFC 2131 4.1): a bound client (ciaddr) by unicast; a NAK, or a client
    # that asked for broadcast, to everyone; else the offered address. The frame itself is sent
    # straight out of the VNIC's port, to its MAC, so no other VNIC ever sees it.
    if kind == NAK or (req.ciaddr == ANY and req.flags & BROADCAST_FLAG):
        ip_dst = BROADCAST
    elif req.ciaddr != ANY:
        ip_dst = req.ciaddr
    else:
        ip_dst = lease.address
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=lease.mac, src=GATEWAY_MAC, ethertype=ETH_TYPE_IP))
    pkt.add_protocol(ipv4.ipv4(src=lease.gateway, dst=ip_dst, proto=IPPROTO_UDP, ttl=64))
    pkt.add_protocol(udp.udp(src_port=SERVER_PORT, dst_port=CLIENT_PORT))
    pkt.add_protocol(dhcp.dhcp(
        op=dhcp.DHCP_BOOT_REPLY, chaddr=lease.mac, xid=req.xid, flags=req.flags,
        ciaddr=req.ciaddr if kind != NAK else ANY,
        yiaddr=lease.address if kind != NAK and not inform else ANY,
        options=dhcp.options(option_list=opts),
    ))
    pkt.serialize()
    return bytes(pkt.data)
