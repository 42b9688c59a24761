"""The service's resources as dataclasses, as the store keeps them."""

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


@dataclass(frozen=True, slots=True)
class Port:
    id: str
    tenant_id: str
    network_id: str
    name: str
    ip_address: str | None
    vnic_id: str | None


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
