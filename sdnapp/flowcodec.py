"""OpenFlow 1.3 flow-mods and flow stats entries for the flows sdnapp writes, straight to and from bytes.

os-ken builds an object for every match field, instruction and action, and converts every
address through netaddr: tens of microseconds per flow each way, seconds at 10,000 ports. This
module does the same for the part of OpenFlow 1.3 the pipeline uses with `struct` alone, and gives
exactly what os-ken gives there (tests/unit/test_flowcodec.py holds os-ken as the oracle):

- `encode_flow_mod(kind, flow, xid)`: the bytes `ofmsg.flow_mod(dp, kind, flow)` serialises to
  with that xid; `NotInSubset` for a flow it cannot encode, which the caller sends through os-ken.
- `decode_flow_stats(entry)`: the `Flow` that os-ken's `OFPFlowStats.parser` and
  `ofmsg.flow_from_stats` make of one ofp_flow_stats entry; None for a well-formed entry outside
  the subset, which the caller reads with os-ken; `MalformedEntry` for bytes whose lengths do not
  add up. Those must not reach os-ken: its parsers step over some actions and instructions by their
  length field and over others by the size the spec gives them, and loop forever on a zero length.

The subset. Match fields, exact or masked ((value, mask) pairs): in_port, eth_dst, eth_src,
eth_type, vlan_vid, ip_proto, ipv4_src, ipv4_dst, udp_src, udp_dst, icmpv4_type, arp_op, arp_spa,
arp_tpa, arp_sha, arp_tha, tunnel_id, and Open vSwitch's tun_ipv4_src and tun_ipv4_dst (NXM_NX class,
as os-ken writes them).
Instructions meter, apply-actions and goto-table, each at most once; actions output, push_vlan,
pop_vlan and set_field of one of those fields. Values as os-ken gives them back: ints, MACs as
"aa:bb:cc:dd:ee:ff" (read in lower case; either case is written), IPv4 addresses dotted decimal
without leading zeros. Flow-mods are ADD (for "add" and "modify") and DELETE_STRICT by the exact
cookie without instructions (for "delete"), as `ofmsg.flow_mod` makes them.
"""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import Callable
from operator import itemgetter

from flows.model import OFPP_CONTROLLER, Action, Flow, MatchValue, Output, PopVlan, PushVlan, SetField

ADD, MODIFY, DELETE = "add", "modify", "delete"


class NotInSubset(ValueError):
    """A flow this codec does not encode: send it through os-ken."""


class MalformedEntry(ValueError):
    """Bytes that are not a well-formed ofp_flow_stats entry."""


# OpenFlow 1.3 numbers (the spec; os_ken.ofproto.ofproto_v1_3 has the same).
_OFP_VERSION = 4
_OFPT_FLOW_MOD = 14
_COMMANDS = {ADD: 0, MODIFY: 0, DELETE: 4}  # OFPFC_ADD, OFPFC_DELETE_STRICT
_ALL_ONES = (1 << 64) - 1
_NONE = 0xFFFFFFFF  # OFP_NO_BUFFER, OFPP_ANY, OFPG_ANY
_OFPCML_NO_BUFFER = 0xFFFF
_OFPMT_OXM = 1
_IT_GOTO, _IT_WRITE_ACTIONS, _IT_APPLY_ACTIONS, _IT_CLEAR_ACTIONS, _IT_METER = 1, 3, 4, 5, 6
_AT_OUTPUT, _AT_PUSH_VLAN, _AT_POP_VLAN, _AT_SET_FIELD, _AT_EXPERIMENTER = 0, 17, 18, 25, 0xFFFF
# Sizes the spec fixes: os-ken steps over these by that size whatever the length field says.
_INSTRUCTION_SIZES = {_IT_GOTO: 8, 2: 24, _IT_METER: 8}
_ACTION_SIZES = {_AT_OUTPUT: 16} | {t: 8 for t in (11, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26, 27)}
# Open vSwitch's ct action carries actions of its own after a 24-byte header; os-ken steps over
# them by their length field too.
_NX_VENDOR, _NXAST_CT, _NX_CT_HEADER = 0x00002320, 35, 24

_OXM_BASIC, _OXM_NXM_1 = 0x8000, 0x0001
_INT, _MAC, _IPV4 = "int", "mac", "ipv4"
_FIELDS = {
    # name: (OXM class, field number, value kind, value size)
    "in_port": (_OXM_BASIC, 0, _INT, 4),
    "eth_dst": (_OXM_BASIC, 3, _MAC, 6),
    "eth_src": (_OXM_BASIC, 4, _MAC, 6),
    "eth_type": (_OXM_BASIC, 5, _INT, 2),
    "vlan_vid": (_OXM_BASIC, 6, _INT, 2),
    "ip_proto": (_OXM_BASIC, 10, _INT, 1),
    "ipv4_src": (_OXM_BASIC, 11, _IPV4, 4),
    "ipv4_dst": (_OXM_BASIC, 12, _IPV4, 4),
    "udp_src": (_OXM_BASIC, 15, _INT, 2),
    "udp_dst": (_OXM_BASIC, 16, _INT, 2),
    "icmpv4_type": (_OXM_BASIC, 19, _INT, 1),
    "arp_op": (_OXM_BASIC, 21, _INT, 2),
    "arp_spa": (_OXM_BASIC, 22, _IPV4, 4),
    "arp_tpa": (_OXM_BASIC, 23, _IPV4, 4),
    "arp_sha": (_OXM_BASIC, 24, _MAC, 6),
    "arp_tha": (_OXM_BASIC, 25, _MAC, 6),
    "tunnel_id": (_OXM_BASIC, 38, _INT, 8),
    "tun_ipv4_src": (_OXM_NXM_1, 31, _IPV4, 4),
    "tun_ipv4_dst": (_OXM_NXM_1, 32, _IPV4, 4),
}

_FLOW_MOD = struct.Struct("!BBHIQQBBHHHIIIH2x")  # ofp_header, then ofp_flow_mod up to its match
_STATS = struct.Struct("!HB9xH10xQ16xHH")  # ofp_flow_stats: length, table_id, priority, cookie; match type, length
_HH = struct.Struct("!HH")
_U32 = struct.Struct("!I")
_OUTPUT = struct.Struct("!HHIH6x")
_PUSH = struct.Struct("!HHH2x")
_POP_VLAN = _HH.pack(_AT_POP_VLAN, 8) + bytes(4)
_METER = struct.Struct("!HHI")
_GOTO = struct.Struct("!HHB3x")
_NX_HEADER = struct.Struct("!HHIH")  # experimenter action: type, len, vendor, subtype


# -- values ---------------------------------------------------------------------------------------------

_MAC_TEXT = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_TEXT = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def _uint(v: object, size: int) -> int:
    """`v` if it is an int that fits `size` bytes (os-ken would wrap a larger one around, or fail)."""
    if type(v) is not int or not 0 <= v < 1 << 8 * size:
        raise NotInSubset(f"{v!r} is not an unsigned {8 * size}-bit int")
    return v


def _int_bytes(size: int) -> Callable[[object], bytes]:
    return lambda v: _uint(v, size).to_bytes(size, "big")


def _mac_bytes(v: object) -> bytes:
    if type(v) is not str or not _MAC_TEXT.fullmatch(v):
        raise NotInSubset(f"{v!r} is not a MAC address as aa:bb:cc:dd:ee:ff")
    return bytes.fromhex(v.replace(":", ""))


def _ipv4_bytes(v: object) -> bytes:
    if type(v) is not str or not _IPV4_TEXT.fullmatch(v):
        raise NotInSubset(f"{v!r} is not an IPv4 address in dotted decimal")
    return socket.inet_aton(v)


def _int_value(b: bytes) -> int:
    return int.from_bytes(b, "big")


def _mac_value(b: bytes) -> str:
    return b.hex(":")


_TO_BYTES = {_MAC: lambda size: _mac_bytes, _IPV4: lambda size: _ipv4_bytes, _INT: _int_bytes}
_TO_VALUE: dict[str, Callable[[bytes], int | str]] = {_INT: _int_value, _MAC: _mac_value, _IPV4: socket.inet_ntoa}


def _oxm_header(oxm_class: int, number: int, masked: bool, length: int) -> int:
    return oxm_class << 16 | number << 9 | int(masked) << 8 | length


# name -> (os-ken's order of fields in a match, header, masked header, value to bytes)
_ENCODE: dict[str, tuple[int, int, int, Callable[[object], bytes]]] = {
    name: (oxm_class << 7 | number, _oxm_header(oxm_class, number, False, size),
           _oxm_header(oxm_class, number, True, 2 * size), _TO_BYTES[kind](size))
    for name, (oxm_class, number, kind, size) in _FIELDS.items()
}
# header (which fixes the length) -> (name, bytes to value, value size, masked)
_DECODE: dict[int, tuple[str, Callable[[bytes], int | str], int, bool]] = {
    _oxm_header(oxm_class, number, masked, size * (1 + masked)): (name, _TO_VALUE[kind], size, masked)
    for name, (oxm_class, number, kind, size) in _FIELDS.items()
    for masked in (False, True)
}


# -- encoding ---------------------------------------------------------------------------------------------


def encode_flow_mod(kind: str, f: Flow, xid: int) -> bytes:
    """The OFPT_FLOW_MOD that adds, replaces (as an ADD) or strictly deletes `f`, with transaction id `xid`."""
    command = _COMMANDS.get(kind)
    if command is None:
        raise ValueError(f"unknown flow-mod kind {kind!r}")
    match = _match(f.match)
    if kind == DELETE:
        instructions, cookie_mask = b"", _ALL_ONES  # a delete names our exact cookie
    else:
        if f.extra:
            raise NotInSubset(f"instructions sdnapp never writes: {f.extra}")
        instructions, cookie_mask = _instructions(f), 0
    length = _FLOW_MOD.size + len(match) + len(instructions)
    if length > 0xFFFF:
        raise NotInSubset(f"a flow-mod of {length} bytes")
    head = _FLOW_MOD.pack(
        _OFP_VERSION, _OFPT_FLOW_MOD, length, _uint(xid, 4),
        _uint(f.cookie, 8), cookie_mask, _uint(f.table, 1), command, 0, 0, _uint(f.priority, 2),
        _NONE, _NONE, _NONE, 0,
    )
    return head + match + instructions


def _match(fields: tuple[tuple[str, MatchValue], ...]) -> bytes:
    tlvs: list[tuple[int, bytes]] = []
    for name, value in dict(fields).items():  # as os-ken gets them: OFPMatch(**dict(f.match))
        spec = _ENCODE.get(name)
        if spec is None:
            raise NotInSubset(f"match field {name}")
        order, header, masked_header, to_bytes = spec
        if isinstance(value, tuple):
            if len(value) != 2:
                raise NotInSubset(f"{name}={value!r}")
            v, m = to_bytes(value[0]), to_bytes(value[1])
            v = bytes(x & y for x, y in zip(v, m, strict=True))  # os-ken clears the bits the mask leaves out
            tlvs.append((order, _U32.pack(masked_header) + v + m))
        else:
            tlvs.append((order, _U32.pack(header) + to_bytes(value)))
    tlvs.sort(key=itemgetter(0))
    body = b"".join(t for _, t in tlvs)
    length = 4 + len(body)
    return _HH.pack(_OFPMT_OXM, length) + body + bytes(-length % 8)


def _instructions(f: Flow) -> bytes:
    out = b""
    if f.meter is not None:
        out += _METER.pack(_IT_METER, 8, _uint(f.meter, 4))
    if f.actions:
        actions = b"".join(_action(a) for a in f.actions)
        out += _HH.pack(_IT_APPLY_ACTIONS, 8 + len(actions)) + bytes(4) + actions
    if f.goto is not None:
        out += _GOTO.pack(_IT_GOTO, 8, _uint(f.goto, 1))
    return out


def _action(a: Action) -> bytes:
    if isinstance(a, Output):
        port = _uint(a.port, 4)
        # As ofmsg asks: the whole frame to the controller (LLDP needs it), nothing to buffer elsewhere.
        return _OUTPUT.pack(_AT_OUTPUT, 16, port, _OFPCML_NO_BUFFER if port == OFPP_CONTROLLER else 0)
    if isinstance(a, PushVlan):
        return _PUSH.pack(_AT_PUSH_VLAN, 8, _uint(a.ethertype, 2))
    if isinstance(a, PopVlan):
        return _POP_VLAN
    if isinstance(a, SetField):
        spec = _ENCODE.get(a.name)
        if spec is None:
            raise NotInSubset(f"set_field of {a.name}")
        tlv = _U32.pack(spec[1]) + spec[3](a.value)
        length = 4 + len(tlv)
        return _HH.pack(_AT_SET_FIELD, length + -length % 8) + tlv + bytes(-length % 8)
    raise NotInSubset(f"action {a}")


# -- decoding ---------------------------------------------------------------------------------------------


def decode_flow_stats(entry: bytes) -> Flow | None:
    """The Flow of one ofp_flow_stats entry (its declared length is all of `entry`); None outside the subset."""
    n = len(entry)
    if n < _STATS.size + 4:
        raise MalformedEntry(f"{n} bytes, less than an ofp_flow_stats with an empty match")
    length, table, priority, cookie, match_type, match_len = _STATS.unpack_from(entry)
    if length != n:
        raise MalformedEntry(f"entry of {n} bytes says it has {length}")
    match_start = _STATS.size - 4
    match_end = match_start + match_len
    if match_len < 4 or match_start + match_len + -match_len % 8 > n:
        raise MalformedEntry(f"match length {match_len} in an entry of {n} bytes")
    mine = match_type == _OFPMT_OXM
    fields: dict[str, MatchValue] = {}
    at = _STATS.size
    while at < match_end:
        header, end = _tlv(entry, at, match_end, "match field")
        spec = _DECODE.get(header)
        if spec is None or spec[0] in fields:
            mine = False  # a field outside the subset, or one given twice
        else:
            name, to_value, size, masked = spec
            at += 4
            if masked:
                fields[name] = (to_value(entry[at:at + size]), to_value(entry[at + size:end]))  # type: ignore[assignment]
            else:
                fields[name] = to_value(entry[at:end])
        at = end

    actions: list[Action] = []
    goto: int | None = None
    meter: int | None = None
    seen: set[int] = set()
    at = match_end + -match_len % 8
    while at < n:
        if at + 4 > n:
            raise MalformedEntry(f"instruction header cut at byte {at} of {n}")
        kind, size = _HH.unpack_from(entry, at)
        end = at + size
        if size < 8 or size % 8 or end > n or _INSTRUCTION_SIZES.get(kind, size) != size:
            raise MalformedEntry(f"instruction {kind} of {size} bytes at byte {at} of {n}")
        if kind in seen:
            mine = False
        seen.add(kind)
        if kind == _IT_APPLY_ACTIONS:
            mine = _actions(entry, at + 8, end, actions) and mine
        elif kind in (_IT_WRITE_ACTIONS, _IT_CLEAR_ACTIONS):
            _actions(entry, at + 8, end, None)
            mine = False
        elif kind == _IT_GOTO:
            goto = entry[at + 4]
        elif kind == _IT_METER:
            (meter,) = _U32.unpack_from(entry, at + 4)
        else:
            mine = False
        at = end
    if not mine:
        return None
    return Flow(table, priority, tuple(sorted(fields.items())), tuple(actions), goto, cookie, meter=meter)


def _tlv(entry: bytes, at: int, end: int, what: str) -> tuple[int, int]:
    """An OXM TLV's header and where it ends, if it fits before `end`."""
    if at + 4 > end:
        raise MalformedEntry(f"{what} header cut at byte {at}")
    (header,) = _U32.unpack_from(entry, at)
    tlv_end = at + 4 + (header & 0xFF)
    if header & 0xFF == 0 or tlv_end > end:
        raise MalformedEntry(f"{what} {header:#010x} at byte {at} does not fit")
    return header, tlv_end


def _actions(entry: bytes, at: int, end: int, out: list[Action] | None) -> bool:
    """Check the action list in entry[at:end]; append the actions to `out` (if given) while all are in the subset.

    True if they are.
    """
    mine = out is not None
    while at < end:
        if at + 4 > end:
            raise MalformedEntry(f"action header cut at byte {at}")
        kind, size = _HH.unpack_from(entry, at)
        stop = at + size
        if size < 8 or size % 8 or stop > end or _ACTION_SIZES.get(kind, size) != size:
            raise MalformedEntry(f"action {kind} of {size} bytes at byte {at}")
        value: Action | None = None
        if kind == _AT_SET_FIELD:
            header, _ = _tlv(entry, at + 4, stop, "set_field")
            spec = _DECODE.get(header)
            if spec is not None and not spec[3]:
                value = SetField(spec[0], spec[1](entry[at + 8:at + 8 + spec[2]]))
        elif kind == _AT_OUTPUT:
            value = Output(_U32.unpack_from(entry, at + 4)[0])
        elif kind == _AT_PUSH_VLAN:
            value = PushVlan(_HH.unpack_from(entry, at + 4)[0])
        elif kind == _AT_POP_VLAN:
            value = PopVlan()
        elif kind == _AT_EXPERIMENTER and size >= _NX_CT_HEADER:
            _, _, vendor, subtype = _NX_HEADER.unpack_from(entry, at)
            if (vendor, subtype) == (_NX_VENDOR, _NXAST_CT):
                _actions(entry, at + _NX_CT_HEADER, stop, None)
        if value is None:
            mine = False
        elif mine and out is not None:
            out.append(value)
        at = stop
    return mine
