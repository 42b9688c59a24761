"""OpenFlow 1.3 bytes as a switch reads and writes them, with os-ken's own classes and formats.

os-ken serialises what a controller sends and parses what a switch sends. A
test switch needs the other half: read what the controller sent, and write
replies. os-ken parses a flow-mod and an error; it cannot parse multipart
requests or meter mods, and its reply classes cannot serialise, so those are
read and packed here with os-ken's own struct formats (`ofproto_v1_3.*_PACK_STR`)
and its own OFPMatch / instruction / action classes. Every reply goes back
through `ofproto_parser.msg`, the function os-ken's Datapath feeds with the
bytes it reads from the socket, so the controller sees exactly what a real
connection would hand it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

MAX_MESSAGE = 0xFFFF  # the 16-bit length field of every OpenFlow message


class WireDatapath:
    """What os-ken's message classes need of a datapath to serialise and parse: its protocol modules."""

    ofproto = ofp
    ofproto_parser = parser

    def __init__(self, dpid: int = 1) -> None:
        self.id = dpid


def to_wire(msg: Any) -> bytes:
    """The bytes os-ken's Datapath.send_msg would put on the socket for `msg` (its xid must be set)."""
    assert msg.xid is not None, "os-ken would pick an xid of its own for this message"
    msg.serialize()
    buf = bytes(msg.buf)
    assert len(buf) <= MAX_MESSAGE, f"message of {len(buf)} bytes cannot be sent"
    return buf


@dataclass(frozen=True)
class Header:
    version: int
    msg_type: int
    length: int
    xid: int


def header(buf: bytes) -> Header:
    h = Header(*ofproto_parser.header(buf))
    assert h.version == ofp.OFP_VERSION and h.length == len(buf), h
    return h


def split(stream: bytes) -> list[bytes]:
    """The messages in bytes sent back to back, as a switch reads them off the connection."""
    out = []
    at = 0
    while at < len(stream):
        length = Header(*ofproto_parser.header(stream[at:])).length
        assert ofp.OFP_HEADER_SIZE <= length <= len(stream) - at, f"message of {length} bytes at {at} of {len(stream)}"
        out.append(stream[at:at + length])
        at += length
    return out


def parse(datapath: Any, buf: bytes) -> Any:
    """Parse one message as os-ken's receive loop does; fail loudly where os-ken would log and drop it."""
    h = header(buf)
    msg = ofproto_parser.msg(datapath, h.version, h.msg_type, h.length, h.xid, bytearray(buf))
    assert msg is not None, f"os-ken could not parse message type {h.msg_type}"
    return msg


# -- requests, as the switch reads them ------------------------------------------------------


def multipart_type(buf: bytes) -> int:
    mp_type, _flags = struct.unpack_from(ofp.OFP_MULTIPART_REQUEST_PACK_STR, buf, ofp.OFP_HEADER_SIZE)
    return int(mp_type)


@dataclass(frozen=True)
class FlowStatsRequest:
    table_id: int
    out_port: int
    out_group: int
    cookie: int
    cookie_mask: int
    match: Any  # OFPMatch


def flow_stats_request(buf: bytes) -> FlowStatsRequest:
    offset = ofp.OFP_MULTIPART_REQUEST_SIZE
    table_id, out_port, out_group, cookie, mask = struct.unpack_from(ofp.OFP_FLOW_STATS_REQUEST_0_PACK_STR, buf, offset)
    match = parser.OFPMatch.parser(buf, offset + ofp.OFP_FLOW_STATS_REQUEST_0_SIZE)
    return FlowStatsRequest(table_id, out_port, out_group, cookie, mask, match)


@dataclass(frozen=True)
class MeterMod:
    command: int
    flags: int
    meter_id: int
    bands: tuple[Any, ...]  # OFPMeterBand* as parsed


def meter_mod(buf: bytes) -> MeterMod:
    command, flags, meter_id = struct.unpack_from(ofp.OFP_METER_MOD_PACK_STR, buf, ofp.OFP_HEADER_SIZE)
    offset = ofp.OFP_METER_MOD_SIZE
    bands = []
    while offset < len(buf):
        band = parser.OFPMeterBandHeader.parser(buf, offset)
        bands.append(band)
        offset += band.len
    return MeterMod(command, flags, meter_id, tuple(bands))


# -- replies, as the switch writes them --------------------------------------------------------


def _message(msg_type: int, xid: int, body: bytes) -> bytes:
    return struct.pack(ofp.OFP_HEADER_PACK_STR, ofp.OFP_VERSION, msg_type, ofp.OFP_HEADER_SIZE + len(body), xid) + body


def flow_stats_entry(
    table_id: int,
    priority: int,
    cookie: int,
    match: Any,
    instructions: Sequence[Any],
    packet_count: int = 0,
    byte_count: int = 0,
) -> bytes:
    """One ofp_flow_stats: what a switch reports for a flow entry it holds."""
    tail = bytearray()
    match.serialize(tail, 0)  # pads itself to 8 bytes
    for inst in instructions:
        inst.serialize(tail, len(tail))
    length = ofp.OFP_FLOW_STATS_0_SIZE + len(tail)
    head = struct.pack(
        ofp.OFP_FLOW_STATS_0_PACK_STR,
        length, table_id, 0, 0, priority, 0, 0, 0, cookie, packet_count, byte_count,
    )
    return head + bytes(tail)


def port_entry(port_no: int, name: str, up: bool, hw_addr: bytes = b"\x02\x00\x00\x00\x00\x01") -> bytes:
    """One ofp_port; a port that is down has its link down, as a cable pulled out."""
    state = 0 if up else ofp.OFPPS_LINK_DOWN
    return struct.pack(
        ofp.OFP_PORT_PACK_STR, port_no, hw_addr, name.encode(), 0, state, 0, 0, 0, 0, 0, 0,
    )


def meter_features_entry(max_meter: int, band_types: int, max_bands: int = 1) -> bytes:
    return struct.pack(ofp.OFP_METER_FEATURES_PACK_STR, max_meter, band_types,
                       ofp.OFPMF_PKTPS | ofp.OFPMF_BURST if max_meter else 0, max_bands, 0)


def multipart_replies(xid: int, mp_type: int, entries: Sequence[bytes], max_len: int = MAX_MESSAGE) -> list[bytes]:
    """A multipart reply split as a switch must split it: each message under `max_len`, all but the last
    flagged OFPMPF_REPLY_MORE. An empty body is still one reply."""
    room = max_len - ofp.OFP_MULTIPART_REPLY_SIZE
    bodies: list[bytes] = []
    current = b""
    for e in entries:
        assert len(e) <= room, "entry larger than a message"
        if current and len(current) + len(e) > room:
            bodies.append(current)
            current = b""
        current += e
    bodies.append(current)
    out = []
    for i, body in enumerate(bodies):
        flags = ofp.OFPMPF_REPLY_MORE if i < len(bodies) - 1 else 0
        out.append(_message(ofp.OFPT_MULTIPART_REPLY, xid, struct.pack(ofp.OFP_MULTIPART_REPLY_PACK_STR,
                                                                        mp_type, flags) + body))
    return out


def barrier_reply(xid: int) -> bytes:
    return _message(ofp.OFPT_BARRIER_REPLY, xid, b"")


def error(xid: int, type_: int, code: int, request: bytes) -> bytes:
    """An error about `request`: the spec has it carry at least the request's first 64 bytes."""
    return _message(ofp.OFPT_ERROR, xid, struct.pack(ofp.OFP_ERROR_MSG_PACK_STR, type_, code) + request[:64])
