"""LLDP frames for link discovery, signed so that a host cannot fake a link. Pure.

The controller sends one frame out of every switch port; a frame that comes back
in on another switch's port proves a link. Hosts can send LLDP too, so each
frame carries an HMAC of (datapath id, port) under a key only this controller
process knows; frames without a valid one are ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from .switches import MAX_PORT_NO

ETH_TYPE = 0x88CC
DST_MAC = bytes.fromhex("0180c200000e")
SRC_MAC = bytes.fromhex("025d4e000001")  # locally administered: this application's own

_CHASSIS, _PORT, _TTL, _SYSDESC, _END = 1, 2, 3, 6, 0
_SUBTYPE_LOCAL = 7
_PREFIX = b"sdnapp "
_MAC_LEN = 32  # hex digits of the HMAC kept


def _tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("!H", (kind << 9) | len(value)) + value


def _sign(key: bytes, dpid: int, port_no: int) -> bytes:
    return hmac.new(key, f"{dpid:016x}/{port_no}".encode(), hashlib.sha256).hexdigest()[:_MAC_LEN].encode()


def encode(key: bytes, dpid: int, port_no: int, ttl: int = 120) -> bytes:
    """The LLDP frame (Ethernet header included) to send out of `port_no` of switch `dpid`."""
    body = (
        _tlv(_CHASSIS, bytes([_SUBTYPE_LOCAL]) + f"dpid:{dpid:016x}".encode())
        + _tlv(_PORT, bytes([_SUBTYPE_LOCAL]) + str(port_no).encode())
        + _tlv(_TTL, struct.pack("!H", ttl))
        + _tlv(_SYSDESC, _PREFIX + _sign(key, dpid, port_no))
        + _tlv(_END, b"")
    )
    return DST_MAC + SRC_MAC + struct.pack("!H", ETH_TYPE) + body


def decode(key: bytes, frame: bytes) -> tuple[int, int] | None:
    """(datapath id, port) that sent `frame`, if it is one of ours and intact; else None."""
    if len(frame) < 14 or frame[:6] != DST_MAC or struct.unpack("!H", frame[12:14])[0] != ETH_TYPE:
        return None
    tlvs: dict[int, bytes] = {}
    off = 14
    ended = False
    while off + 2 <= len(frame):
        (head,) = struct.unpack("!H", frame[off : off + 2])
        kind, length = head >> 9, head & 0x1FF
        off += 2
        if off + length > len(frame):
            return None
        if kind == _END:
            ended = True
            break
        tlvs.setdefault(kind, frame[off : off + length])
        off += length
    chassis, port, desc = tlvs.get(_CHASSIS), tlvs.get(_PORT), tlvs.get(_SYSDESC)
    if not ended or not chassis or not port or not desc:
        return None
    if chassis[0] != _SUBTYPE_LOCAL or port[0] != _SUBTYPE_LOCAL or not chassis[1:].startswith(b"dpid:"):
        return None
    try:
        dpid = int(chassis[6:].decode("ascii"), 16)
        port_no = int(port[1:].decode("ascii"), 10)
    except (UnicodeDecodeError, ValueError):
        return None
    if not (0 <= dpid < 1 << 64 and 0 < port_no <= MAX_PORT_NO) or not desc.startswith(_PREFIX):
        return None
    if not hmac.compare_digest(desc[len(_PREFIX) :], _sign(key, dpid, port_no)):
        return None
    return dpid, port_no
