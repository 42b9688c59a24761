"""OpenFlow 1.3 bytes as a switch reads and writes them, with os-ken's own classes and formats.

os-ken serialises what a controller sends and parses what a switch sends. A
switch (the unit tests' fake datapath, the emulated fleet of testbeds/fleet.py)
needs the other half: read what the controller sent, and write replies. os-ken
parses a flow-mod and an error; it cannot parse multipart requests or meter
mods, and its reply classes cannot serialise, so those are read and packed here
with os-ken's own struct formats (`ofproto_v1_3.*_PACK_STR`) and its own
OFPMatch / instruction / action classes. The tests hand every reply to
`ofproto_parser.msg`, the function os-ken's Datapath feeds with the bytes it
reads from the socket, so the controller sees exactly what a real connection
would hand it.

The emulated switches keep flows as bytes: `raw_flow_mod` cuts a flow-mod into
its fixed fields, its match as OXM TLVs in a canonical order (so one match has
one key, whatever order it was written in) and its instructions as they came,
and `raw_flow_stats_entry` puts them back together; nothing is parsed into
objects on that path, so thousands of switches fit in a few processes.
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


def multipart_flags(buf: bytes) -> int:
    _mp_type, flags = struct.unpack_from(ofp.OFP_MULTIPART_REQUEST_PACK_STR, buf, ofp.OFP_HEADER_SIZE)
    return int(flags)


def match_fields(buf: bytes, offset: int) -> tuple[tuple[bytes, ...], int]:
    """The OXM TLVs of the ofp_match at `offset`, each whole (header and payload), and the offset after the
    match's padding. ValueError if it is not an OXM match or does not fit."""
    if offset + ofp.OFP_MATCH_SIZE > len(buf):
        raise ValueError("truncated match")
    match_type, length = struct.unpack_from(ofp.OFP_MATCH_PACK_STR, buf, offset)[:2]
    end = offset + length
    if match_type != ofp.OFPMT_OXM or length < 4 or end > len(buf):
        raise ValueError(f"bad match: type {match_type}, length {length}")
    fields = []
    at = offset + 4
    while at < end:
        if at + 4 > end:
            raise ValueError("truncated OXM header")
        size = 4 + buf[at + 3]  # an OXM header's low byte is its payload's length (OpenFlow 1.3, 7.2.3.2)
        if at + size > end:
            raise ValueError("OXM field overruns its match")
        fields.append(bytes(buf[at:at + size]))
        at += size
    return tuple(fields), offset + (length + 7) // 8 * 8


@dataclass(frozen=True)
class FlowStatsRequest:
    table_id: int
    out_port: int
    out_group: int
    cookie: int
    cookie_mask: int
    match: Any  # OFPMatch
    fields: tuple[bytes, ...]  # the same match as OXM TLVs


def flow_stats_request(buf: bytes) -> FlowStatsRequest:
    offset = ofp.OFP_MULTIPART_REQUEST_SIZE
    table_id, out_port, out_group, cookie, mask = struct.unpack_from(ofp.OFP_FLOW_STATS_REQUEST_0_PACK_STR, buf, offset)
    match = parser.OFPMatch.parser(buf, offset + ofp.OFP_FLOW_STATS_REQUEST_0_SIZE)
    fields, _ = match_fields(buf, offset + ofp.OFP_FLOW_STATS_REQUEST_0_SIZE)
    return FlowStatsRequest(table_id, out_port, out_group, cookie, mask, match, fields)


@dataclass(frozen=True, slots=True)
class RawFlowMod:
    """A flow-mod's fields as on the wire; its match as OXM TLVs in canonical (sorted) order."""

    cookie: int
    cookie_mask: int
    table_id: int
    command: int
    idle_timeout: int
    hard_timeout: int
    priority: int
    buffer_id: int
    out_port: int
    out_group: int
    flags: int
    match: tuple[bytes, ...]  # the key of the flow's match: its fields, sorted
    match_raw: bytes  # the ofp_match as it came, padding included (what flow stats report)
    instructions: bytes


_FLOW_MOD_MATCH_OFFSET = ofp.OFP_FLOW_MOD_SIZE - ofp.OFP_MATCH_SIZE


def raw_flow_mod(buf: bytes) -> RawFlowMod:
    """A flow-mod cut into its parts without parsing instructions. ValueError if malformed."""
    if len(buf) < ofp.OFP_FLOW_MOD_SIZE:
        raise ValueError("flow-mod too short")
    (cookie, cookie_mask, table_id, command, idle_timeout, hard_timeout, priority, buffer_id, out_port, out_group,
     flags) = struct.unpack_from(ofp.OFP_FLOW_MOD_PACK_STR0, buf, ofp.OFP_HEADER_SIZE)
    fields, end = match_fields(buf, _FLOW_MOD_MATCH_OFFSET)
    if end > len(buf):
        raise ValueError("flow-mod match padding missing")
    return RawFlowMod(cookie, cookie_mask, table_id, command, idle_timeout, hard_timeout, priority, buffer_id,
                      out_port, out_group, flags, tuple(sorted(fields)), bytes(buf[_FLOW_MOD_MATCH_OFFSET:end]),
                      bytes(buf[end:]))


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


def hello(xid: int) -> bytes:
    """A HELLO without elements: OpenFlow 1.3 by its version field."""
    return to_wire(_stamped(parser.OFPHello(WireDatapath()), xid))


def _stamped(msg: Any, xid: int) -> Any:
    msg.set_xid(xid)
    return msg


def features_reply(xid: int, datapath_id: int, n_tables: int, capabilities: int) -> bytes:
    """No packet buffers (every packet-in carries its packet), the main connection (auxiliary id 0)."""
    body = struct.pack(ofp.OFP_SWITCH_FEATURES_PACK_STR, datapath_id, 0, n_tables, 0, capabilities, 0)
    return _message(ofp.OFPT_FEATURES_REPLY, xid, body)


def echo_request(xid: int, data: bytes = b"") -> bytes:
    return to_wire(_stamped(parser.OFPEchoRequest(WireDatapath(), data), xid))


def echo_reply(xid: int, data: bytes) -> bytes:
    return to_wire(_stamped(parser.OFPEchoReply(WireDatapath(), data), xid))


def port_status(reason: int, port_no: int, name: str, up: bool, hw_addr: bytes, xid: int = 0) -> bytes:
    """A port status message (OFPPR_ADD, _DELETE, _MODIFY) about one port (see `port_entry`)."""
    body = struct.pack(ofp.OFP_PORT_STATUS_PACK_STR, reason, *_port_fields(port_no, name, up, hw_addr))
    return _message(ofp.OFPT_PORT_STATUS, xid, body)


def raw_flow_stats_entry(
    table_id: int, priority: int, cookie: int, match: bytes, instructions: bytes, *,
    duration_ns: int = 0, idle_timeout: int = 0, hard_timeout: int = 0, flags: int = 0,
    packet_count: int = 0, byte_count: int = 0,
) -> bytes:
    """One ofp_flow_stats from a held flow's bytes: its ofp_match (padded) and its instructions."""
    length = ofp.OFP_FLOW_STATS_0_SIZE + len(match) + len(instructions)
    sec, nsec = divmod(duration_ns, 1_000_000_000)
    head = struct.pack(
        ofp.OFP_FLOW_STATS_0_PACK_STR,
        length, table_id, sec, nsec, priority, idle_timeout, hard_timeout, flags, cookie, packet_count, byte_count,
    )
    return head + match + instructions


def flow_stats_entry(
    table_id: int,
    priority: int,
    cookie: int,
    match: Any,
    instructions: Sequence[Any],
    packet_count: int = 0,
    byte_count: int = 0,
) -> bytes:
    """One ofp_flow_stats: what a switch reports for a flow entry it holds (os-ken's match and instructions)."""
    match_buf = bytearray()
    match.serialize(match_buf, 0)  # pads itself to 8 bytes
    inst_buf = bytearray()
    for inst in instructions:
        inst.serialize(inst_buf, len(inst_buf))
    return raw_flow_stats_entry(table_id, priority, cookie, bytes(match_buf), bytes(inst_buf),
                                packet_count=packet_count, byte_count=byte_count)


def _port_fields(port_no: int, name: str, up: bool, hw_addr: bytes) -> tuple[Any, ...]:
    # A port that is down has its link down, as a cable pulled out.
    state = 0 if up else ofp.OFPPS_LINK_DOWN
    return (port_no, hw_addr, name.encode(), 0, state, 0, 0, 0, 0, 0, 0)


def port_entry(port_no: int, name: str, up: bool, hw_addr: bytes = b"\x02\x00\x00\x00\x00\x01") -> bytes:
    """One ofp_port."""
    return struct.pack(ofp.OFP_PORT_PACK_STR, *_port_fields(port_no, name, up, hw_addr))


def meter_features_entry(max_meter: int, band_types: int, max_bands: int = 1) -> bytes:
    return struct.pack(ofp.OFP_METER_FEATURES_PACK_STR, max_meter, band_types,
                       ofp.OFPMF_PKTPS | ofp.OFPMF_BURST if max_meter else 0, max_bands, 0)


def multipart_replies(xid: int, mp_type: int, entries: Sequence[bytes], max_len: int = MAX_MESSAGE) -> list[bytes]:
    """A multipart reply split as a switch must split it: each message under `max_len`, all but the last
    flagged OFPMPF_REPLY_MORE. An empty body is still one reply."""
    room = max_len - ofp.OFP_MULTIPART_REPLY_SIZE
    bodies: list[list[bytes]] = [[]]
    size = 0
    for e in entries:
        assert len(e) <= room, "entry larger than a message"
        if size and size + len(e) > room:
            bodies.append([])
            size = 0
        bodies[-1].append(e)
        size += len(e)
    out = []
    for i, body in enumerate(bodies):
        flags = ofp.OFPMPF_REPLY_MORE if i < len(bodies) - 1 else 0
        out.append(_message(ofp.OFPT_MULTIPART_REPLY, xid,
                            struct.pack(ofp.OFP_MULTIPART_REPLY_PACK_STR, mp_type, flags) + b"".join(body)))
    return out


def barrier_reply(xid: int) -> bytes:
    return _message(ofp.OFPT_BARRIER_REPLY, xid, b"")


def error(xid: int, type_: int, code: int, request: bytes) -> bytes:
    """An error about `request`: the spec has it carry at least the request's first 64 bytes."""
    return _message(ofp.OFPT_ERROR, xid, struct.pack(ofp.OFP_ERROR_MSG_PACK_STR, type_, code) + request[:64])
