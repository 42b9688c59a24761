"""Floating IPs (`/v2.0/floatingips`): outside addresses of the external network's pool, each carrying
one port's traffic (v1's floating addresses, with Neutron's attributes: the port's network must be
NATed by a router, else 404 ExternalGatewayForFloatingIPNotFound as in Neutron)."""

from __future__ import annotations

from typing import Any

from sdnapp import errors
from sdnapp.model import FloatingAddress
from sdnapp.routerops import EXTERNAL_NETWORK_ID, EXTERNAL_SUBNET_ID
from sdnapp.specs import FloatingChanges, FloatingSpec

from ..routes import Body, Call, Ok, RequestBody, Route
from . import query
from .attrs import ID_IN, NULL_STR, UUID_OUT, Attr, Resource, Schema, pick, project_of, q_str, standard, standard_view

_IP_IN: Schema = {"type": ["string", "null"], "maxLength": 64}
FLOATINGIP = Resource("floatingip", "floatingips", (
    *standard(),
    Attr("floating_ip_address", {"type": "string"}, into=_IP_IN, post=True, query=q_str, sort=True),
    Attr("floating_network_id", UUID_OUT, into=ID_IN, post=True, required=True, query=q_str, sort=True),
    Attr("subnet_id", NULL_STR, into={"type": ["string", "null"], "maxLength": 64}, post=True),
    Attr("router_id", NULL_STR, query=q_str, sort=True),
    Attr("port_id", NULL_STR, into={"type": ["string", "null"], "maxLength": 64}, post=True, put=True, query=q_str,
         sort=True),
    Attr("fixed_ip_address", NULL_STR, into=_IP_IN, post=True, put=True, query=q_str, sort=True),
    Attr("status", {"type": "string", "enum": ["ACTIVE", "DOWN"]}, query=q_str, sort=True),
))


def view(f: FloatingAddress, status: str, router: str | None) -> dict[str, Any]:
    return {
        **standard_view(f, f.tenant_id),
        "floating_ip_address": f.address,
        "floating_network_id": EXTERNAL_NETWORK_ID,
        "subnet_id": EXTERNAL_SUBNET_ID,
        "router_id": router,
        "port_id": f.port_id,
        "fixed_ip_address": f.fixed_address,
        "status": status,
    }


def views(c: Call, fs: list[FloatingAddress]) -> list[dict[str, Any]]:
    routers = c.svc.routers_by_network() if any(f.network_id for f in fs) else {}
    return [view(f, c.svc.floating_status(f), routers.get(f.network_id) if f.network_id else None) for f in fs]


# handlers ---------------------------------------------------------------------------------------


def list_floatingips(c: Call) -> Body:
    q = query.parse(c.items, FLOATINGIP)
    page = query.select(c.req, views(c, c.svc.list_floating_addresses(c.caller)), q,
                        not_found=errors.FloatingAddressNotFound)
    return {"floatingips": page.items, **({"floatingips_links": page.links} if page.links else {})}


def show_floatingip(c: Call) -> Body:
    f = c.svc.get_floating_address(c.caller, c.path["floatingip_id"])
    return {"floatingip": query.only(views(c, [f])[0], query.fields_of(c.items))}


def create_floatingip(c: Call) -> Body:
    item = c.body["floatingip"]
    spec = FloatingSpec(network_id=item["floating_network_id"], subnet_id=item.get("subnet_id"),
                        project=project_of(item), port_id=item.get("port_id"),
                        fixed_ip_address=item.get("fixed_ip_address"), address=item.get("floating_ip_address"),
                        description=item.get("description", ""))
    return {"floatingip": views(c, [c.svc.create_floating_address(c.caller, spec, neutron=True)])[0]}


def update_floatingip(c: Call) -> Body:
    item = c.body["floatingip"]
    ch = FloatingChanges(port_id=pick(item, "port_id"), fixed_ip_address=pick(item, "fixed_ip_address"),
                         description=pick(item, "description"))
    f = c.svc.update_floating_address(c.caller, c.path["floatingip_id"], ch, neutron=True)
    return {"floatingip": views(c, [f])[0]}


def delete_floatingip(c: Call) -> Body:
    c.svc.release_floating_address(c.caller, c.path["floatingip_id"])
    return None


CREATE = RequestBody("NeutronFloatingipCreateRequest", FLOATINGIP.create_one_body())
UPDATE = RequestBody("NeutronFloatingipUpdateRequest", FLOATINGIP.update_body())
P = "/v2.0/floatingips"
ONE = P + "/{floatingip_id}"
NOT_FOUND = (errors.FloatingAddressNotFound, errors.ExtensionNotFound)
PORT_ERRORS = (errors.PortNotFound, errors.NotRoutedOutside, errors.FloatingAddressInUse, errors.BadRequest)

ROUTES: tuple[Route, ...] = (
    Route("GET", P, list_floatingips, "floatingips", "List floating IPs",
          Ok(200, "NeutronFloatingipsResponse", "The floating IPs the caller may see, filtered, sorted and paged"),
          NOT_FOUND, raw_query=True,
          description="Offered where sdnapp has an external network (the `nat` extension of v1); else 404."),
    Route("POST", P, create_floatingip, "floatingips", "Take a floating IP, for a port or for later",
          Ok(201, "NeutronFloatingipResponse", "The new floating IP"),
          (errors.ExtensionNotFound, errors.BadL3Request, errors.ExternalPoolExhausted, errors.IpAddressInUse,
           errors.InvalidIpForSubnet, errors.Forbidden, *PORT_ERRORS), CREATE,
          description="On the external network; floating_ip_address is for administrators. With port_id, the "
          "port's network must be NATed by a router (else 404 ExternalGatewayForFloatingIPNotFound)."),
    Route("GET", ONE, show_floatingip, "floatingips", "Show a floating IP",
          Ok(200, "NeutronFloatingipResponse", "The floating IP"), NOT_FOUND, raw_query=True),
    Route("PUT", ONE, update_floatingip, "floatingips", "Associate a floating IP with a port, or with none",
          Ok(200, "NeutronFloatingipResponse", "The floating IP"), (*NOT_FOUND, *PORT_ERRORS), UPDATE),
    Route("DELETE", ONE, delete_floatingip, "floatingips", "Release a floating IP",
          Ok(204, None, "Released (its address back in the pool)"), NOT_FOUND),
)
