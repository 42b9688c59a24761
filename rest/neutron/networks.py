"""Networks (`/v2.0/networks`): list, show, create (one or many), update, delete."""

from __future__ import annotations

from typing import Any

from sdnapp import errors
from sdnapp.model import Network
from sdnapp.service import NetworkService
from sdnapp.specs import NetworkChanges, NetworkSpec

from ..routes import Body, Call, Ok, RequestBody, Route
from . import external, query
from .attrs import (
    BOOL,
    BULK_BYTES,
    INT_OUT,
    NAME,
    NULL_STR,
    UUID_OUT,
    Attr,
    Resource,
    int_in,
    items_of,
    pick,
    project_of,
    q_bool,
    q_int,
    q_str,
    standard,
    standard_view,
)

NETWORK = Resource("network", "networks", (
    *standard(),
    Attr("name", NAME, post=True, put=True, query=q_str, sort=True),
    Attr("admin_state_up", BOOL, post=True, put=True, query=q_bool, sort=True),
    Attr("status", {"type": "string", "enum": ["ACTIVE"]}, query=q_str, sort=True),
    Attr("shared", BOOL, post=True, put=True, query=q_bool),
    Attr("router:external", BOOL, post=True, put=True, query=q_bool),
    Attr("subnets", {"type": "array", "items": UUID_OUT}),
    Attr("mtu", INT_OUT, query=q_int, sort=True),
    Attr("port_security_enabled", BOOL, post=True, put=True),
    Attr("provider:network_type", {"type": "string", "enum": ["vlan", "vxlan", "flat"]},
         into={"type": "string", "maxLength": 64}, post=True, put=True, query=q_str, admin=True),
    Attr("provider:physical_network", NULL_STR, into={"type": ["string", "null"], "maxLength": 64},
         post=True, put=True, query=q_str, admin=True),
    Attr("provider:segmentation_id", {"type": ["integer", "null"]}, into=int_in(0, 2**32 - 1), post=True, put=True,
         query=q_int,
         admin=True),
))
PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")


def view(n: Network, subnet: str | None, admin: bool, svc: NetworkService) -> dict[str, Any]:
    """The network as Neutron shows it; with `admin`, the attributes only administrators see too."""
    out = {
        **standard_view(n, n.tenant_id),
        "name": n.name,
        "admin_state_up": n.admin_state_up,
        "status": "ACTIVE",
        "shared": False,
        "router:external": False,
        "subnets": [subnet] if subnet else [],
        "mtu": svc.network_mtu(n),
        "port_security_enabled": n.port_security,
    }
    if admin:
        out |= {"provider:network_type": n.segment_type, "provider:physical_network": None,
                "provider:segmentation_id": n.segment_id}
    return out


def views(c: Call, nets: list[Network], admin: bool | None = None) -> list[dict[str, Any]]:
    """As the caller may see them (`admin` None), or with every attribute (to filter on, as Neutron's
    database does, before the caller's view)."""
    subnets = c.svc.network_subnets(n.id for n in nets if n.address_prefix)
    full = c.caller.is_admin if admin is None else admin
    return [view(n, subnets[n.id].id if n.id in subnets else None, full, c.svc) for n in nets]


def _external(c: Call, admin: bool | None = None) -> list[dict[str, Any]]:
    """The external network's view, where there is one."""
    ext = c.svc.external
    return [] if ext is None else [external.network_view(ext, c.caller.is_admin if admin is None else admin)]


def _spec(item: dict[str, Any]) -> NetworkSpec:
    return NetworkSpec(
        project=project_of(item),
        name=item.get("name", ""),
        description=item.get("description", ""),
        admin_state_up=item.get("admin_state_up", True),
        port_security=item.get("port_security_enabled", True),
        shared=item.get("shared", False),
        external=item.get("router:external", False),
        segment_type=pick(item, "provider:network_type"),
        segment_id=pick(item, "provider:segmentation_id", int),
        physical_network=item.get("provider:physical_network"),
    )


# handlers ---------------------------------------------------------------------------------------


def list_networks(c: Call) -> Body:
    q = query.parse(c.items, NETWORK)
    ids = [str(v) for v in q.filters["id"]] if "id" in q.filters else None
    nets = c.svc.list_networks(c.caller, ids=ids)
    page = query.select(c.req, views(c, nets, admin=True) + _external(c, admin=True), q,
                        not_found=errors.NetworkNotFound, hidden=set() if c.caller.is_admin else NETWORK.admin_only)
    return {"networks": page.items, **({"networks_links": page.links} if page.links else {})}


def show_network(c: Call) -> Body:
    if external.is_network(c.svc, c.path["network_id"]):
        return {"network": query.only(_external(c)[0], query.fields_of(c.items))}
    n = c.svc.get_network(c.caller, c.path["network_id"])
    return {"network": query.only(views(c, [n])[0], query.fields_of(c.items))}


def create_networks(c: Call) -> Body:
    items, bulk = items_of(c.body, NETWORK)
    made = views(c, c.svc.create_networks(c.caller, [_spec(i) for i in items]))
    return {"networks": made} if bulk else {"network": made[0]}


def update_network(c: Call) -> Body:
    if external.is_network(c.svc, c.path["network_id"]):
        external.refuse_change(c.caller, False, errors.NetworkInUse)
    item = c.body["network"]
    ch = NetworkChanges(
        name=pick(item, "name"),
        description=pick(item, "description"),
        admin_state_up=pick(item, "admin_state_up"),
        port_security=pick(item, "port_security_enabled"),
        shared=pick(item, "shared"),
        external=pick(item, "router:external"),
        segment=any(k in item for k in PROVIDER),
    )
    return {"network": views(c, [c.svc.update_network(c.caller, c.path["network_id"], ch)])[0]}


def delete_network(c: Call) -> Body:
    if external.is_network(c.svc, c.path["network_id"]):
        external.refuse_change(c.caller, True, errors.NetworkInUse)
    c.svc.delete_network(c.caller, c.path["network_id"])
    return None


CREATE = RequestBody("NeutronNetworkCreateRequest", NETWORK.create_body(), max_bytes=BULK_BYTES)
UPDATE = RequestBody("NeutronNetworkUpdateRequest", NETWORK.update_body())
P = "/v2.0/networks"

ROUTES: tuple[Route, ...] = (
    Route("GET", P, list_networks, "networks", "List networks",
          Ok(200, "NeutronNetworksResponse", "The networks the caller may see, filtered, sorted and paged"),
          (errors.NetworkNotFound,), raw_query=True),
    Route("POST", P, create_networks, "networks", "Create a network, or several in one transaction",
          Ok(201, "NeutronNetworkCreateResponse", "The new network (or networks, in request order)"),
          (errors.Forbidden, errors.SegmentPoolExhausted, errors.SegmentInUse, errors.OverQuota), CREATE),
    Route("GET", P + "/{network_id}", show_network, "networks", "Show a network",
          Ok(200, "NeutronNetworkResponse", "The network"), (errors.NetworkNotFound,), raw_query=True),
    Route("PUT", P + "/{network_id}", update_network, "networks", "Update a network",
          Ok(200, "NeutronNetworkResponse", "The network"), (errors.NetworkNotFound, errors.Forbidden), UPDATE),
    Route("DELETE", P + "/{network_id}", delete_network, "networks", "Delete a network with its subnet and ports",
          Ok(204, None, "Deleted"), (errors.NetworkNotFound, errors.NetworkInUse, errors.Forbidden),
          description="Refused (NetworkInUse) while a port of it has a device (a device_id, or a VNIC plugged "
          "through v1); its other ports go with it."),
)
