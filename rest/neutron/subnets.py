"""Subnets (`/v2.0/subnets`): a network's one IPv4 address range, with its gateway, pools, DHCP
options and routes. It is the network's `address_prefix` of v1: addresses follow from it."""

from __future__ import annotations

from typing import Any

from sdnapp import errors
from sdnapp.model import Subnet
from sdnapp.specs import UNSET, SubnetChanges, SubnetSpec

from ..routes import Body, Call, Ok, RequestBody, Route
from . import external, query
from .attrs import (
    BOOL,
    BULK_BYTES,
    ID_IN,
    NAME,
    NULL_STR,
    UUID_OUT,
    Attr,
    Resource,
    Schema,
    items_of,
    pick,
    project_of,
    q_bool,
    q_int,
    q_str,
    standard,
    standard_view,
)

_IP: Schema = {"type": "string", "maxLength": 64}
POOLS: Schema = {"type": "array", "maxItems": 64, "items": {
    "type": "object", "properties": {"start": _IP, "end": _IP}, "required": ["start", "end"],
    "additionalProperties": False}}
ROUTES_IN: Schema = {"type": "array", "maxItems": 64, "items": {
    "type": "object", "properties": {"destination": _IP, "nexthop": _IP}, "required": ["destination", "nexthop"],
    "additionalProperties": False}}

SUBNET = Resource("subnet", "subnets", (
    *standard(),
    Attr("name", NAME, post=True, put=True, query=q_str, sort=True),
    Attr("network_id", UUID_OUT, into=ID_IN, post=True, required=True, query=q_str, sort=True),
    Attr("ip_version", {"type": "integer", "enum": [4]},
         into={"oneOf": [{"type": "integer", "enum": [4, 6]}, {"type": "string", "enum": ["4", "6"]}]},
         post=True, required=True, query=q_int, sort=True),
    Attr("cidr", {"type": "string"}, into=_IP, post=True, required=True, query=q_str, sort=True),
    Attr("gateway_ip", NULL_STR, into={"type": ["string", "null"], "maxLength": 64}, post=True, put=True,
         query=q_str, sort=True),
    Attr("allocation_pools", POOLS, post=True, put=True),
    Attr("dns_nameservers", {"type": "array", "items": {"type": "string"}},
         into={"type": "array", "maxItems": 64, "items": _IP}, post=True, put=True),
    Attr("host_routes", ROUTES_IN, post=True, put=True),
    Attr("enable_dhcp", BOOL, post=True, put=True, query=q_bool, sort=True),
    Attr("ipv6_ra_mode", NULL_STR, query=q_str, sort=True),
    Attr("ipv6_address_mode", NULL_STR, query=q_str, sort=True),
    Attr("subnetpool_id", NULL_STR, query=q_str, sort=True),
))


def view(s: Subnet) -> dict[str, Any]:
    return {
        **standard_view(s, s.tenant_id),
        "name": s.name,
        "network_id": s.network_id,
        "ip_version": 4,
        "cidr": s.cidr,
        "gateway_ip": s.gateway_ip,
        "allocation_pools": [{"start": a, "end": b} for a, b in s.allocation_pools],
        "dns_nameservers": list(s.dns_nameservers),
        "host_routes": [{"destination": d, "nexthop": h} for d, h in s.host_routes],
        "enable_dhcp": s.enable_dhcp,
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
    }


def _pools(v: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((p["start"], p["end"]) for p in v)


def _routes(v: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((r["destination"], r["nexthop"]) for r in v)


def _spec(item: dict[str, Any]) -> SubnetSpec:
    return SubnetSpec(
        network_id=item["network_id"],
        cidr=item["cidr"],
        ip_version=int(item["ip_version"]),
        project=project_of(item),
        name=item.get("name", ""),
        description=item.get("description", ""),
        gateway_ip=item["gateway_ip"] if "gateway_ip" in item else UNSET,
        allocation_pools=_pools(item["allocation_pools"]) if "allocation_pools" in item else UNSET,
        enable_dhcp=item.get("enable_dhcp", True),
        dns_nameservers=tuple(item.get("dns_nameservers", ())),
        host_routes=_routes(item.get("host_routes", [])),
    )


# handlers ---------------------------------------------------------------------------------------


def list_subnets(c: Call) -> Body:
    q = query.parse(c.items, SUBNET)
    outside = [] if c.svc.external is None else [external.subnet_view(c.svc.external)]
    page = query.select(c.req, [view(s) for s in c.svc.list_subnets(c.caller)] + outside, q,
                        not_found=errors.SubnetNotFound)
    return {"subnets": page.items, **({"subnets_links": page.links} if page.links else {})}


def show_subnet(c: Call) -> Body:
    ext = external.subnet_of(c.svc, c.path["subnet_id"])
    if ext is not None:
        return {"subnet": query.only(external.subnet_view(ext), query.fields_of(c.items))}
    return {"subnet": query.only(view(c.svc.get_subnet(c.caller, c.path["subnet_id"])), query.fields_of(c.items))}


def create_subnets(c: Call) -> Body:
    items, bulk = items_of(c.body, SUBNET)
    made = [view(s) for s in c.svc.create_subnets(c.caller, [_spec(i) for i in items])]
    return {"subnets": made} if bulk else {"subnet": made[0]}


def update_subnet(c: Call) -> Body:
    if external.subnet_of(c.svc, c.path["subnet_id"]) is not None:
        external.refuse_change(c.caller, False, errors.SubnetInUse)
    item = c.body["subnet"]
    ch = SubnetChanges(
        name=pick(item, "name"),
        description=pick(item, "description"),
        gateway_ip=pick(item, "gateway_ip"),
        allocation_pools=pick(item, "allocation_pools", _pools),
        enable_dhcp=pick(item, "enable_dhcp"),
        dns_nameservers=pick(item, "dns_nameservers", tuple),
        host_routes=pick(item, "host_routes", _routes),
    )
    return {"subnet": view(c.svc.update_subnet(c.caller, c.path["subnet_id"], ch))}


def delete_subnet(c: Call) -> Body:
    if external.subnet_of(c.svc, c.path["subnet_id"]) is not None:
        external.refuse_change(c.caller, True, errors.SubnetInUse)
    c.svc.delete_subnet(c.caller, c.path["subnet_id"])
    return None


CREATE = RequestBody("NeutronSubnetCreateRequest", SUBNET.create_body(), max_bytes=BULK_BYTES)
UPDATE = RequestBody("NeutronSubnetUpdateRequest", SUBNET.update_body())
P = "/v2.0/subnets"

ROUTES: tuple[Route, ...] = (
    Route("GET", P, list_subnets, "subnets", "List subnets",
          Ok(200, "NeutronSubnetsResponse", "The subnets the caller may see, filtered, sorted and paged"),
          (errors.SubnetNotFound,), raw_query=True),
    Route("POST", P, create_subnets, "subnets", "Create a subnet, or several in one transaction",
          Ok(201, "NeutronSubnetCreateResponse", "The new subnet (or subnets, in request order)"),
          (errors.NetworkNotFound, errors.Conflict, errors.OverQuota), CREATE,
          description="IPv4, one per network (a second, or IPv6, is a 400)."),
    Route("GET", P + "/{subnet_id}", show_subnet, "subnets", "Show a subnet",
          Ok(200, "NeutronSubnetResponse", "The subnet"), (errors.SubnetNotFound,), raw_query=True),
    Route("PUT", P + "/{subnet_id}", update_subnet, "subnets", "Update a subnet",
          Ok(200, "NeutronSubnetResponse", "The subnet"),
          (errors.SubnetNotFound, errors.Conflict, errors.IpAddressInUse, errors.SubnetInUse, errors.Forbidden,
           errors.BadRequest), UPDATE),
    Route("DELETE", P + "/{subnet_id}", delete_subnet, "subnets", "Delete a subnet",
          Ok(204, None, "Deleted"), (errors.SubnetNotFound, errors.SubnetInUse, errors.Forbidden)),
)
