"""What the creates and updates of the Neutron-shaped calls ask the service for, in its own terms.

A face turns its request bodies into these; the service checks every value and the rules between
them (tenancy, admin-only attributes, quotas, addresses). In an update, a field left `UNSET` is not
changed; in a create, it takes its default.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, TypeVar


class Unset(enum.Enum):
    UNSET = 0


UNSET = Unset.UNSET
T = TypeVar("T")


def given(value: T | Unset) -> bool:
    return value is not UNSET


@dataclass(frozen=True)
class NetworkSpec:
    project: str | Unset = UNSET  # the caller's project unless given (another's: admins only)
    name: str = ""
    description: str = ""
    admin_state_up: bool = True
    port_security: bool = True
    shared: bool = False
    external: bool = False
    segment_type: str | Unset = UNSET  # admins only: must be the isolation driver's
    segment_id: int | Unset = UNSET  # admins only: a free one of the driver's range
    physical_network: str | None = None  # sdnapp's networks have none


@dataclass(frozen=True)
class NetworkChanges:
    name: str | Unset = UNSET
    description: str | Unset = UNSET
    admin_state_up: bool | Unset = UNSET
    port_security: bool | Unset = UNSET
    shared: bool | Unset = UNSET
    external: bool | Unset = UNSET
    segment: bool = False  # provider attributes were given: they cannot change


@dataclass(frozen=True)
class SubnetSpec:
    network_id: str
    cidr: str
    ip_version: int = 4
    project: str | Unset = UNSET
    name: str = ""
    description: str = ""
    gateway_ip: str | None | Unset = UNSET  # UNSET: the first usable address; None: no gateway
    allocation_pools: tuple[tuple[str, str], ...] | Unset = UNSET
    enable_dhcp: bool = True
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SubnetChanges:
    name: str | Unset = UNSET
    description: str | Unset = UNSET
    gateway_ip: str | None | Unset = UNSET
    allocation_pools: tuple[tuple[str, str], ...] | Unset = UNSET
    enable_dhcp: bool | Unset = UNSET
    dns_nameservers: tuple[str, ...] | Unset = UNSET
    host_routes: tuple[tuple[str, str], ...] | Unset = UNSET


@dataclass(frozen=True)
class FixedIp:
    """One address asked for: in a subnet, or a given address, or both."""

    subnet_id: str | None = None
    ip_address: str | None = None


@dataclass(frozen=True)
class PairSpec:
    ip_address: str
    mac_address: str | None = None  # the port's own by default


@dataclass(frozen=True)
class PortSpec:
    network_id: str
    project: str | Unset = UNSET
    name: str = ""
    description: str = ""
    admin_state_up: bool = True
    mac_address: str | None = None  # None: a random one
    fixed_ips: tuple[FixedIp, ...] | Unset = UNSET  # UNSET: one from the subnet, if any; (): none
    device_id: str = ""
    device_owner: str = ""
    port_security: bool | Unset = UNSET  # UNSET: the network's
    security_groups: tuple[str, ...] | Unset = UNSET
    address_pairs: tuple[PairSpec, ...] = ()
    host: str | Unset = UNSET  # admins only
    vnic_type: str = "normal"
    profile: dict[str, Any] | Unset = UNSET  # admins only


@dataclass(frozen=True)
class PortChanges:
    name: str | Unset = UNSET
    description: str | Unset = UNSET
    admin_state_up: bool | Unset = UNSET
    mac_address: str | Unset = UNSET
    fixed_ips: tuple[FixedIp, ...] | Unset = UNSET
    device_id: str | Unset = UNSET
    device_owner: str | Unset = UNSET
    port_security: bool | Unset = UNSET
    security_groups: tuple[str, ...] | Unset = UNSET
    address_pairs: tuple[PairSpec, ...] | Unset = UNSET
    host: str | Unset = UNSET  # "" unbinds
    vnic_type: str | Unset = UNSET
    profile: dict[str, Any] | Unset = UNSET


@dataclass(frozen=True)
class GatewaySpec:
    """A router's external gateway as asked: on which network, translating or not, which outside address."""

    network_id: str
    enable_snat: bool | Unset = UNSET  # sdnapp's gateways always translate
    fixed_ips: tuple[FixedIp, ...] | Unset = UNSET  # admins only: an address of the pool


@dataclass(frozen=True)
class RouterSpec:
    project: str | Unset = UNSET
    name: str = ""
    description: str = ""
    admin_state_up: bool = True
    gateway: GatewaySpec | None = None


@dataclass(frozen=True)
class RouterChanges:
    name: str | Unset = UNSET
    description: str | Unset = UNSET
    admin_state_up: bool | Unset = UNSET
    gateway: GatewaySpec | None | Unset = UNSET  # None: take the gateway away


@dataclass(frozen=True)
class FloatingSpec:
    """A floating address as asked for (v1 names only a port; the Neutron face names its network too)."""

    network_id: str | None = None  # the external network's id (None: the external network)
    subnet_id: str | None = None  # the external subnet's id, if given
    project: str | Unset = UNSET
    port_id: str | None = None
    fixed_ip_address: str | None = None  # the port's address, if given
    address: str | None = None  # admins only: an address of the pool
    description: str = ""


@dataclass(frozen=True)
class FloatingChanges:
    port_id: str | None | Unset = UNSET
    fixed_ip_address: str | None | Unset = UNSET
    description: str | Unset = UNSET
