"""What the flow drivers need to know about the desired state, as plain values."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Member:
    """A VNIC plugged into a port of a network and bound to a switch port."""

    port_id: str
    vnic_id: str
    mac: str
    datapath_id: int
    port_no: int
    ip: str | None = None  # the port's address, where its network has an address range
    port_security: bool = True  # False: the port may send with any source (no anti-spoofing)
    # Other (MAC, IPv4 address or network) pairs the port may send as (Neutron's allowed address pairs).
    pairs: tuple[tuple[str, str], ...] = ()
    # Its network's gateway address (the subnet's gateway_ip), answered for ARP and ping on the
    # VNIC's switch; None where the network has none.
    gateway: str | None = None
    dhcp: bool = False  # its DHCP requests go to the controller, which answers them (its network serves DHCP)
    # The network's router on the gateway switch (the `nat` extension), not a VNIC: the isolation
    # driver carries frames for GATEWAY_MAC to it, and hands them to the NAT tables there.
    router: bool = False


@dataclass(frozen=True, slots=True)
class NatState:
    """A NATed network as the gateway sees it: its connection-tracking zone, its address range, its
    outside address, and its ports' floating addresses as (port's address, floating address)."""

    zone: int
    prefix: str
    external: str
    floating: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SegmentState:
    """One network as the data plane sees it: its segment and its members (and its NAT, if NATed)."""

    segment_id: int
    members: tuple[Member, ...]
    nat: NatState | None = None
