"""Addresses of a network's range (its subnet): the gateway, the pools addresses are handed out of,
and which address a port gets. Pure: values in, values out.

Both faces share these rules: a v1 network with an address range is a subnet whose gateway is the
first usable address and whose pool is every other usable address, so a port gets the lowest free
address after the gateway, as v1 says.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Iterator, Sequence

from . import errors

IPv4 = ipaddress.IPv4Address
Pool = tuple[str, str]


def _net(cidr: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(cidr)


def usable(cidr: str) -> tuple[IPv4, IPv4]:
    """The first and last address a host may have: all but the network and broadcast addresses."""
    net = _net(cidr)
    return net.network_address + 1, net.broadcast_address - 1


def default_gateway(cidr: str) -> str:
    return str(usable(cidr)[0])


def default_pools(cidr: str, gateway: str | None) -> list[Pool]:
    """Every usable address but the gateway, as one or two ranges."""
    first, last = usable(cidr)
    if gateway is None or not first <= IPv4(gateway) <= last:
        return [(str(first), str(last))]
    gw = IPv4(gateway)
    return [(str(a), str(b)) for a, b in ((first, gw - 1), (gw + 1, last)) if a <= b]


def parse_ip(value: str, what: str) -> IPv4:
    try:
        return IPv4(value)
    except ValueError:
        raise errors.BadRequest(f"{what} {value[:64]!r} is not an IPv4 address") from None


def check_gateway(cidr: str, gateway: str) -> str:
    gw = parse_ip(gateway, "gateway_ip")
    first, last = usable(cidr)
    if not first <= gw <= last:
        raise errors.BadRequest(f"gateway_ip {gw} is not a usable address of {cidr}")
    return str(gw)


def check_pools(cidr: str, gateway: str | None, pools: Sequence[Pool]) -> list[Pool]:
    """Pools inside the usable range, not overlapping each other nor the gateway; sorted."""
    first, last = usable(cidr)
    parsed = []
    for start, end in pools:
        a, b = parse_ip(start, "allocation_pools start"), parse_ip(end, "allocation_pools end")
        if a > b:
            raise errors.BadRequest(f"the allocation pool {start}-{end} is not valid: it ends before it starts")
        if a < first or b > last:
            raise errors.BadRequest(f"the allocation pool {a}-{b} spans beyond the usable addresses of {cidr}")
        parsed.append((a, b))
    parsed.sort()
    for (a1, b1), (a2, b2) in itertools.pairwise(parsed):
        if a2 <= b1:
            raise errors.Conflict(f"found overlapping allocation pools {a1}-{b1} and {a2}-{b2} in {cidr}")
    if gateway is not None:
        gw = IPv4(gateway)
        for a, b in parsed:
            if a <= gw <= b:
                raise errors.Conflict(f"gateway ip {gw} conflicts with allocation pool {a}-{b}")
    return [(str(a), str(b)) for a, b in parsed]


def check_address(cidr: str, gateway: str | None, address: str) -> str:
    """An address a port may ask for: a usable address of the range, not the gateway (outside the
    pools too, as Neutron allows)."""
    ip = parse_ip(address, "ip_address")
    first, last = usable(cidr)
    if not first <= ip <= last:
        raise errors.InvalidIpForSubnet(f"IP address {ip} is not a valid IP for the subnet {cidr}")
    if gateway is not None and ip == IPv4(gateway):
        raise errors.IpAddressInUse(f"IP address {ip} is the gateway's address of {cidr}")
    return str(ip)


class Allocator:
    """Hands out the pools' free addresses in order; `used` grows with each one given, so one
    allocator serves a whole bulk request without asking the store again."""

    def __init__(self, pools: Iterable[Pool], used: set[str]) -> None:
        self.used = used
        self._next: Iterator[IPv4] = (
            IPv4(i) for a, b in pools for i in range(int(IPv4(a)), int(IPv4(b)) + 1)
        )

    def take(self, what: str) -> str:
        for ip in self._next:
            s = str(ip)
            if s not in self.used:
                self.used.add(s)
                return s
        raise errors.AddressPoolExhausted(f"no more IP addresses available on {what}")

    def claim(self, address: str) -> bool:
        """Mark an address asked for as taken; False if it already was."""
        if address in self.used:
            return False
        self.used.add(address)
        return True
