"""The service's resources as dataclasses, as the store keeps them.

A network, a port and a VNIC are what both faces of the API show (v1 and Neutron's v2.0): the
attributes only the Neutron face names (admin state, device, port security, host binding,
timestamps, revisions) have defaults that are v1's behaviour, so a v1 resource is a valid v2.0
resource and the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Network:
    id: str
    tenant_id: str
    name: str
    address_prefix: str | None
    segment_type: str
    segment_id: int
    admin_state_up: bool = True
    port_security: bool = True  # the default of its new ports
    description: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    revision: int = 0
    nat: bool = False  # a NATed IPv4 network (the `nat` extension)
    external_address: str | None = None  # its outside address, from the pool, when NATed
    gateway_ip: str | None = None  # its subnet's gateway (read from the subnet; never written through here)


@dataclass(frozen=True, slots=True)
class Router:
    """A Neutron router as the `nat` extension has it: an external gateway (an outside address of the
    pool) and at most one interface, a port on a tenant network holding its subnet's gateway address.
    With both, and up, that network is NATed to the gateway address."""

    id: str
    tenant_id: str
    name: str
    description: str
    admin_state_up: bool
    gateway_address: str | None  # None: no external gateway
    port_id: str | None  # its interface
    network_id: str | None  # the interface's network
    created_at: float = 0.0
    updated_at: float = 0.0
    revision: int = 0

    @property
    def nats(self) -> bool:
        """Whether its interface's network is NATed through it now."""
        return self.admin_state_up and self.gateway_address is not None and self.network_id is not None


@dataclass(frozen=True, slots=True)
class FloatingAddress:
    """An outside address of the pool a project holds, associated with one of its ports or none."""

    id: str
    tenant_id: str
    address: str
    port_id: str | None
    fixed_address: str | None  # the port's address
    network_id: str | None  # the port's network
    created_at: float = 0.0
    description: str = ""
    updated_at: float = 0.0
    revision: int = 0


@dataclass(frozen=True, slots=True)
class Subnet:
    """A network's address range (its `address_prefix`) with what a Neutron subnet adds to it.

    A network has at most one. `gateway_ip` None: no gateway; `allocation_pools` are inclusive
    (first, last) address ranges the service hands addresses out of.
    """

    id: str
    network_id: str
    tenant_id: str
    name: str
    cidr: str
    gateway_ip: str | None
    allocation_pools: tuple[tuple[str, str], ...]
    enable_dhcp: bool = True
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[tuple[str, str], ...] = ()  # (destination CIDR, next hop)
    description: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    revision: int = 0


@dataclass(frozen=True, slots=True)
class AddressPair:
    """Another address a port may send from: an IPv4 address or network, with a MAC (the port's by default)."""

    ip_address: str
    mac_address: str


@dataclass(frozen=True, slots=True)
class Port:
    id: str
    tenant_id: str
    network_id: str
    name: str
    ip_address: str | None
    vnic_id: str | None
    mac_address: str | None = None  # the plugged VNIC's
    admin_state_up: bool = True
    device_id: str = ""
    device_owner: str = ""
    port_security: bool = True
    address_pairs: tuple[AddressPair, ...] = ()
    host: str = ""  # the hypervisor it is bound to (Neutron's binding:host_id), "" for none
    vnic_type: str = "normal"
    profile: str = "{}"  # Neutron's binding:profile, a JSON object
    description: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    revision: int = 0


@dataclass(frozen=True, slots=True)
class Binding:
    datapath_id: int
    port_no: int | None
    port_name: str | None
    source: str  # "api" or "switch"


@dataclass(frozen=True, slots=True)
class Vnic:
    id: str
    tenant_id: str
    name: str
    mac_address: str
    port_id: str | None
    binding: Binding | None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request acts for."""

    project_id: str
    is_admin: bool = False

    def sees(self, tenant_id: str) -> bool:
        return self.is_admin or tenant_id == self.project_id


@dataclass(frozen=True)
class Lease:
    """Which instance masters a switch, and until when (the database's clock): sdnapp/mastership.py."""

    datapath_id: int
    holder: str | None
    generation: int
    expires_at: float
