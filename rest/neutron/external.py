"""The external network as the Neutron face shows it: the configured outside (`external:`), listed with
the networks (`router:external`) and its subnet with the subnets, under fixed ids, for every caller
(as Neutron shows external networks to every project). It is configuration, so the API neither makes
nor changes nor deletes it; routers' gateways and floating IPs are on it.
"""

from __future__ import annotations

import time
from typing import Any

from sdnapp import errors
from sdnapp.config import ExternalConfig
from sdnapp.model import Caller
from sdnapp.routerops import EXTERNAL_NETWORK_ID, EXTERNAL_SUBNET_ID
from sdnapp.service import NetworkService

from .attrs import iso

_SHOWN_SINCE = time.time()  # its created_at and updated_at: when this process began to show it
_CONFIGURED = "the external network is sdnapp's configuration (external: in its config file), not the API's"


def _standard(oid: str) -> dict[str, Any]:
    return {"id": oid, "tenant_id": "", "project_id": "", "description": "", "created_at": iso(_SHOWN_SINCE),
            "updated_at": iso(_SHOWN_SINCE), "revision_number": 1}


def network_view(ext: ExternalConfig, admin: bool) -> dict[str, Any]:
    out = {
        **_standard(EXTERNAL_NETWORK_ID),
        "name": ext.name,
        "admin_state_up": True,
        "status": "ACTIVE",
        "shared": False,
        "router:external": True,
        "subnets": [EXTERNAL_SUBNET_ID],
        "mtu": 1500,
        "port_security_enabled": False,
    }
    if admin:
        out |= {"provider:network_type": "flat", "provider:physical_network": None,
                "provider:segmentation_id": None}
    return out


def subnet_view(ext: ExternalConfig) -> dict[str, Any]:
    first, last = ext.pool
    return {
        **_standard(EXTERNAL_SUBNET_ID),
        "name": f"{ext.name}-subnet",
        "network_id": EXTERNAL_NETWORK_ID,
        "ip_version": 4,
        "cidr": ext.prefix,
        "gateway_ip": ext.next_hop,
        "allocation_pools": [{"start": first, "end": last}],
        "dns_nameservers": list(ext.dns_servers),
        "host_routes": [],
        "enable_dhcp": False,
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
    }


def is_network(svc: NetworkService, oid: str) -> bool:
    return svc.external is not None and oid == EXTERNAL_NETWORK_ID


def subnet_of(svc: NetworkService, oid: str) -> ExternalConfig | None:
    """The configuration behind the external subnet, if `oid` names it."""
    return svc.external if oid == EXTERNAL_SUBNET_ID else None


def refuse_change(caller: Caller, deleting: bool, in_use: type[errors.Conflict]) -> None:
    """A change of the external network or its subnet: not the caller's (403), else not the API's."""
    if not caller.is_admin:
        raise errors.Forbidden("the external network is for administrators to change")
    if deleting:
        raise in_use(_CONFIGURED)
    raise errors.BadRequest(_CONFIGURED)
