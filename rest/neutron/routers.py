"""Routers (`/v2.0/routers`): a router's external gateway on the external network, and its interface on
a tenant subnet, which together NAT that subnet to the gateway's address (sdnapp/routerops.py: one
interface per router, as NATed networks stay isolated from each other)."""

from __future__ import annotations

from typing import Any

from sdnapp import errors
from sdnapp.model import Port, Router
from sdnapp.routerops import EXTERNAL_NETWORK_ID, EXTERNAL_SUBNET_ID
from sdnapp.specs import UNSET, FixedIp, GatewaySpec, RouterChanges, RouterSpec, Unset

from ..routes import Body, Call, Ok, RequestBody, Route
from . import query
from .attrs import (
    BOOL,
    ID_IN,
    NAME,
    UUID_OUT,
    Attr,
    Resource,
    Schema,
    pick,
    project_of,
    q_bool,
    q_str,
    standard,
    standard_view,
)

_IP: Schema = {"type": "string", "maxLength": 64}
GATEWAY_OUT: Schema = {"type": ["object", "null"], "properties": {
    "network_id": UUID_OUT, "enable_snat": BOOL,
    "external_fixed_ips": {"type": "array", "items": {"type": "object", "properties": {
        "subnet_id": UUID_OUT, "ip_address": {"type": "string"}}, "required": ["subnet_id", "ip_address"]}}},
    "required": ["network_id", "enable_snat", "external_fixed_ips"]}
GATEWAY_IN: Schema = {"type": ["object", "null"], "properties": {
    "network_id": ID_IN, "enable_snat": BOOL,
    "external_fixed_ips": {"type": "array", "maxItems": 16, "items": {"type": "object", "properties": {
        "subnet_id": ID_IN, "ip_address": _IP}, "additionalProperties": False}}},
    "additionalProperties": False}

ROUTER = Resource("router", "routers", (
    *standard(),
    Attr("name", NAME, post=True, put=True, query=q_str, sort=True),
    Attr("admin_state_up", BOOL, post=True, put=True, query=q_bool, sort=True),
    Attr("status", {"type": "string", "enum": ["ACTIVE"]}, query=q_str, sort=True),
    Attr("external_gateway_info", GATEWAY_OUT, into=GATEWAY_IN, post=True, put=True),
))


def view(r: Router) -> dict[str, Any]:
    gateway = None
    if r.gateway_address is not None:
        gateway = {"network_id": EXTERNAL_NETWORK_ID, "enable_snat": True,
                   "external_fixed_ips": [{"subnet_id": EXTERNAL_SUBNET_ID, "ip_address": r.gateway_address}]}
    return {
        **standard_view(r, r.tenant_id),
        "name": r.name,
        "admin_state_up": r.admin_state_up,
        "status": "ACTIVE",
        "external_gateway_info": gateway,
    }


def _gateway(v: dict[str, Any] | None) -> GatewaySpec | None:
    """The gateway asked for; none for null or `{}` (how `openstack router unset --external-gateway` says it)."""
    if not v:
        return None
    if "network_id" not in v:
        raise errors.BadL3Request("Bad router request: external_gateway_info needs the external network's "
                                  "network_id")
    fixed: tuple[FixedIp, ...] | Unset = UNSET
    if "external_fixed_ips" in v:
        fixed = tuple(FixedIp(f.get("subnet_id"), f.get("ip_address")) for f in v["external_fixed_ips"])
    return GatewaySpec(v["network_id"], v.get("enable_snat", UNSET), fixed)


def _interface_view(r: Router, p: Port, subnet_id: str) -> dict[str, Any]:
    """What Neutron answers an interface's addition or removal with."""
    return {"id": r.id, "tenant_id": r.tenant_id, "project_id": r.tenant_id, "port_id": p.id,
            "network_id": p.network_id, "subnet_id": subnet_id, "subnet_ids": [subnet_id]}


# handlers ---------------------------------------------------------------------------------------


def list_routers(c: Call) -> Body:
    q = query.parse(c.items, ROUTER)
    page = query.select(c.req, [view(r) for r in c.svc.list_routers(c.caller)], q, not_found=errors.RouterNotFound)
    return {"routers": page.items, **({"routers_links": page.links} if page.links else {})}


def show_router(c: Call) -> Body:
    return {"router": query.only(view(c.svc.get_router(c.caller, c.path["router_id"])), query.fields_of(c.items))}


def create_router(c: Call) -> Body:
    item = c.body["router"]
    spec = RouterSpec(project=project_of(item), name=item.get("name", ""), description=item.get("description", ""),
                      admin_state_up=item.get("admin_state_up", True),
                      gateway=_gateway(item.get("external_gateway_info")))
    return {"router": view(c.svc.create_router(c.caller, spec))}


def update_router(c: Call) -> Body:
    item = c.body["router"]
    ch = RouterChanges(name=pick(item, "name"), description=pick(item, "description"),
                       admin_state_up=pick(item, "admin_state_up"),
                       gateway=pick(item, "external_gateway_info", _gateway))
    return {"router": view(c.svc.update_router(c.caller, c.path["router_id"], ch))}


def delete_router(c: Call) -> Body:
    c.svc.delete_router(c.caller, c.path["router_id"])
    return None


def add_interface(c: Call) -> Body:
    r, p, subnet = c.svc.add_router_interface(c.caller, c.path["router_id"], c.body.get("subnet_id"),
                                              c.body.get("port_id"))
    return _interface_view(r, p, subnet)


def remove_interface(c: Call) -> Body:
    r, p, subnet = c.svc.remove_router_interface(c.caller, c.path["router_id"], c.body.get("subnet_id"),
                                                 c.body.get("port_id"))
    return _interface_view(r, p, subnet)


CREATE = RequestBody("NeutronRouterCreateRequest", ROUTER.create_one_body())
UPDATE = RequestBody("NeutronRouterUpdateRequest", ROUTER.update_body())
INTERFACE = RequestBody("NeutronRouterInterfaceRequest", {
    "type": "object", "title": "RouterInterface", "properties": {"subnet_id": ID_IN, "port_id": ID_IN},
    "additionalProperties": False})
INTERFACE_OUT: Schema = {"type": "object", "properties": {
    "id": UUID_OUT, "tenant_id": {"type": "string"}, "project_id": {"type": "string"}, "port_id": UUID_OUT,
    "network_id": UUID_OUT, "subnet_id": UUID_OUT, "subnet_ids": {"type": "array", "items": UUID_OUT}},
    "required": ["id", "port_id", "network_id", "subnet_id", "subnet_ids"]}
P = "/v2.0/routers"
ONE = P + "/{router_id}"
GATEWAY_ERRORS = (errors.BadL3Request, errors.Forbidden, errors.ExternalPoolExhausted, errors.IpAddressInUse,
                  errors.InvalidIpForSubnet)
NAT_DESCRIPTION = ("Offered where sdnapp has an external network (the `nat` extension of v1); else 404. "
                   "A router NATs the one tenant subnet it joins to its gateway's address.")

ROUTES: tuple[Route, ...] = (
    Route("GET", P, list_routers, "routers", "List routers",
          Ok(200, "NeutronRoutersResponse", "The routers the caller may see, filtered, sorted and paged"),
          (errors.RouterNotFound, errors.ExtensionNotFound), raw_query=True, description=NAT_DESCRIPTION),
    Route("POST", P, create_router, "routers", "Create a router, with or without its external gateway",
          Ok(201, "NeutronRouterResponse", "The new router"),
          (errors.ExtensionNotFound, *GATEWAY_ERRORS), CREATE, description=NAT_DESCRIPTION),
    Route("GET", ONE, show_router, "routers", "Show a router", Ok(200, "NeutronRouterResponse", "The router"),
          (errors.RouterNotFound, errors.ExtensionNotFound), raw_query=True),
    Route("PUT", ONE, update_router, "routers", "Update a router: its name, state, external gateway",
          Ok(200, "NeutronRouterResponse", "The router"),
          (errors.RouterNotFound, errors.ExtensionNotFound, errors.GatewayInUseByFloating, *GATEWAY_ERRORS), UPDATE,
          description="external_gateway_info null takes the gateway away (refused while a floating IP needs it)."),
    Route("DELETE", ONE, delete_router, "routers", "Delete a router",
          Ok(204, None, "Deleted (its gateway address back in the pool)"),
          (errors.RouterNotFound, errors.ExtensionNotFound, errors.RouterInUse)),
    Route("PUT", ONE + "/add_router_interface", add_interface, "routers", "Join a tenant subnet to the router",
          Ok(200, "NeutronRouterInterfaceResponse", "The router, the interface's port and its subnet"),
          (errors.RouterNotFound, errors.SubnetNotFound, errors.ExtensionNotFound, errors.BadL3Request,
           errors.IpAddressInUse, errors.OverQuota), INTERFACE,
          description="By subnet_id: a port of the subnet's network takes its gateway address, and with the "
          "router's gateway the subnet is NATed. A router takes one interface (a second is a 400: sdnapp's NATed "
          "networks stay isolated from each other); by port_id is not offered (400)."),
    Route("PUT", ONE + "/remove_router_interface", remove_interface, "routers", "Take a subnet off the router",
          Ok(200, "NeutronRouterInterfaceResponse", "The router, the removed port and its subnet"),
          (errors.RouterNotFound, errors.ExtensionNotFound, errors.BadL3Request, errors.RouterInterfaceNotFound,
           errors.RouterInterfaceNotFoundForSubnet, errors.InterfaceInUseByFloating), INTERFACE,
          description="By subnet_id or port_id; refused while a floating IP of a port behind it needs it."),
)
