"""Parsing and checking of values that come from outside."""

from __future__ import annotations

import ipaddress
import re
import uuid

from flows.model import GATEWAY_MAC

from .errors import BadRequest, MacAddressInUse

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$")
_DPID_HEX_RE = re.compile(r"^[0-9a-fA-F]{16}$")
PROJECT_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_DPID = (1 << 64) - 1
MAX_NAME = 255


def unicast_mac(value: str) -> str:
    """A unicast, non-zero MAC address in lower case, colon separated."""
    if not isinstance(value, str) or not _MAC_RE.match(value):
        raise BadRequest(f"mac_address {value!r} is not a MAC address (like fa:16:3e:00:00:01)")
    mac = value.lower().replace("-", ":")
    if int(mac[:2], 16) & 1:
        raise BadRequest(f"mac_address {mac} is a multicast or broadcast address, not unicast")
    if mac == "00:00:00:00:00:00":
        raise BadRequest("mac_address must not be all zero")
    return mac


def vnic_mac(value: str) -> str:
    """A MAC a VNIC (or an allowed address pair) may have: unicast, and not the gateway's."""
    mac = unicast_mac(value)
    if mac == GATEWAY_MAC:
        raise MacAddressInUse(f"mac_address {mac} is every network's gateway's")
    return mac


def ipv4_prefix(value: str) -> str:
    """An IPv4 network in CIDR form, with no host bits set, with room for a port."""
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as e:
        raise BadRequest(f"address_prefix {value!r} is not an IPv4 network in CIDR form: {e}") from None
    if "/" not in value:
        raise BadRequest(f"address_prefix {value!r} needs a prefix length, like 10.1.0.0/24")
    if net.prefixlen > 29:
        raise BadRequest(
            f"address_prefix {value} is too small: a /{net.prefixlen} leaves no address "
            "for a port after the network, gateway and broadcast addresses (use /29 or larger)"
        )
    return str(net)


def datapath_id(value: object) -> int:
    """A datapath id: 16 hex digits, 0x-prefixed hex, or decimal (string or number)."""
    if isinstance(value, bool):
        raise BadRequest("datapath_id must be 16 hex digits, 0x-prefixed hex or decimal")
    if isinstance(value, int):
        dpid = value
    elif isinstance(value, str):
        v = value.strip()
        try:
            if _DPID_HEX_RE.match(v):
                dpid = int(v, 16)
            elif v.lower().startswith("0x") and 2 < len(v) <= 18:
                dpid = int(v[2:], 16)
            elif v.isdigit() and len(v) <= 20:
                dpid = int(v, 10)
            else:
                raise ValueError(v)
        except ValueError:
            raise BadRequest(
                f"datapath_id {value!r} is not 16 hex digits, 0x-prefixed hex or decimal"
            ) from None
    else:
        raise BadRequest("datapath_id must be a string or an integer")
    if not 0 <= dpid <= MAX_DPID:
        raise BadRequest(f"datapath_id {value!r} is out of range (64 bits)")
    return dpid


def format_dpid(dpid: int) -> str:
    return f"{dpid:016x}"


def resource_id(value: str, what: str, not_found: type[Exception]) -> str:
    """A path id: a UUID, else the resource is simply not there."""
    try:
        return str(uuid.UUID(value)) if len(value) == 36 else _raise(not_found, what, value)
    except ValueError:
        return _raise(not_found, what, value)


def _raise(exc: type[Exception], what: str, value: str) -> str:
    shown = value if len(value) <= 64 else value[:64] + "..."
    raise exc(f"{what} {shown} not found")


def name(value: str) -> str:
    return text(value, "name")


def project_id(value: str) -> str:
    if not isinstance(value, str) or not PROJECT_RE.match(value):
        raise BadRequest("a project id is 1 to 64 letters, digits, '_', '.' or '-'")
    return value


def text(value: str, what: str, limit: int = MAX_NAME) -> str:
    """A free text attribute (a description, a device id): at most `limit` characters, no control characters."""
    if len(value) > limit:
        raise BadRequest(f"{what} is longer than {limit} characters")
    if any(ord(c) < 32 for c in value):
        raise BadRequest(f"{what} must not contain control characters")
    return value
