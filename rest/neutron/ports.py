"""Ports (`/v2.0/ports`): list (with Nova's filters: device_id, network_id, fixed_ips=ip_address=...),
show, create (one or many, in one transaction), update, delete.

A port is a v1 port with its own VNIC plugged: its MAC is the VNIC's, and the VNIC has the port's id,
so the interface os-vif plugs with `external_ids:iface-id=<port id>` binds it and the port goes
ACTIVE once its switches hold its flows."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sdnapp import errors
from sdnapp.core import ROUTER_INTERFACE
from sdnapp.model import Port, Subnet
from sdnapp.routerops import ROUTER_MAC
from sdnapp.service import NetworkService
from sdnapp.specs import UNSET, FixedIp, PairSpec, PortChanges, PortSpec, Unset

from ..routes import Body, Call, Ok, RequestBody, Route
from . import query
from .attrs import (
    BOOL,
    BULK_BYTES,
    ID_IN,
    NAME,
    STR,
    UUID_OUT,
    Attr,
    Resource,
    Schema,
    items_of,
    pick,
    project_of,
    q_bool,
    q_mac,
    q_str,
    standard,
    standard_view,
)
from .faults import InvalidInput

_IP: Schema = {"type": "string", "maxLength": 64}
FIXED_IPS_OUT: Schema = {"type": "array", "items": {
    "type": "object", "properties": {"subnet_id": UUID_OUT, "ip_address": {"type": "string"}},
    "required": ["subnet_id", "ip_address"]}}
FIXED_IPS_IN: Schema = {"type": "array", "maxItems": 16, "items": {
    "type": "object", "properties": {"subnet_id": ID_IN, "ip_address": _IP}, "additionalProperties": False}}
PAIRS_OUT: Schema = {"type": "array", "items": {
    "type": "object", "properties": {"ip_address": {"type": "string"}, "mac_address": {"type": "string"}},
    "required": ["ip_address", "mac_address"]}}
PAIRS_IN: Schema = {"type": ["array", "null"], "maxItems": 64, "items": {
    "type": "object", "properties": {"ip_address": _IP, "mac_address": {"type": "string", "maxLength": 32}},
    "required": ["ip_address"], "additionalProperties": False}}
VIF_DETAILS: Schema = {"type": "object", "properties": {
    "port_filter": BOOL, "ovs_hybrid_plug": BOOL, "bridge_name": {"type": "string"},
    "datapath_type": {"type": "string"}, "connectivity": {"type": "string"}}}


def q_fixed_ip(v: str) -> object:
    """`fixed_ips=ip_address=10.0.0.5` (or subnet_id=, ip_address_substr=) as (key, value)."""
    key, sep, value = v.partition("=")
    if not sep or key not in ("ip_address", "subnet_id", "ip_address_substr"):
        raise InvalidInput(f"Invalid input for operation: '{v[:64]}' is not of the form <key>=[value].")
    return key, value


PORT = Resource("port", "ports", (
    *standard(),
    Attr("name", NAME, post=True, put=True, query=q_str, sort=True),
    Attr("network_id", UUID_OUT, into=ID_IN, post=True, required=True, query=q_str, sort=True),
    Attr("admin_state_up", BOOL, post=True, put=True, query=q_bool, sort=True),
    Attr("mac_address", {"type": ["string", "null"]}, into={"type": "string", "maxLength": 32}, post=True,
         put=True, query=q_mac, sort=True),
    Attr("fixed_ips", FIXED_IPS_OUT, into=FIXED_IPS_IN, post=True, put=True, query=q_fixed_ip),
    Attr("device_id", STR, post=True, put=True, query=q_str, sort=True),
    Attr("device_owner", STR, post=True, put=True, query=q_str, sort=True),
    Attr("status", {"type": "string", "enum": ["ACTIVE", "DOWN", "ERROR"]}, query=q_str, sort=True),
    Attr("security_groups", {"type": "array", "items": UUID_OUT},
         into={"type": ["array", "null"], "maxItems": 16, "items": ID_IN}, post=True, put=True, query=q_str),
    Attr("port_security_enabled", BOOL, post=True, put=True),
    Attr("allowed_address_pairs", PAIRS_OUT, into=PAIRS_IN, post=True, put=True),
    Attr("binding:host_id", {"type": "string"}, into={"type": ["string", "null"], "maxLength": 255}, post=True,
         put=True, query=q_str, admin=True),
    Attr("binding:vif_type", {"type": "string", "enum": ["ovs", "unbound", "binding_failed"]}, query=q_str,
         admin=True),
    Attr("binding:vif_details", VIF_DETAILS, admin=True),
    Attr("binding:vnic_type", {"type": "string"}, into={"type": "string", "maxLength": 64}, post=True, put=True,
         query=q_str, sort=True),
    Attr("binding:profile", {"type": "object"}, into={"type": ["object", "null"]}, post=True, put=True,
         admin=True),
))


def view(p: Port, subnet: Subnet | None, admin: bool, svc: NetworkService) -> dict[str, Any]:
    """The port as Neutron shows it; with `admin`, the attributes only administrators see too."""
    router = p.device_owner == ROUTER_INTERFACE and p.vnic_id is None
    out = {
        **standard_view(p, p.tenant_id),
        "name": p.name,
        "network_id": p.network_id,
        "admin_state_up": p.admin_state_up,
        "mac_address": ROUTER_MAC if router else p.mac_address,
        "fixed_ips": [{"subnet_id": subnet.id, "ip_address": p.ip_address}] if p.ip_address and subnet else [],
        "device_id": p.device_id,
        "device_owner": p.device_owner,
        "status": svc.router_port_status(p) if router else svc.port_status(p),
        "security_groups": list(svc.groups_of(p)),
        "port_security_enabled": p.port_security,
        "allowed_address_pairs": [{"ip_address": a.ip_address, "mac_address": a.mac_address}
                                  for a in p.address_pairs],
        "binding:vnic_type": p.vnic_type,
    }
    if admin:
        vif_type, host = svc.vif_binding(p)
        details: dict[str, Any] = {}
        if host is not None:
            # Nova plugs the tap straight into the host's bridge (no hybrid plug): sdnapp's flows filter it.
            details = {"connectivity": "l2", "port_filter": True, "ovs_hybrid_plug": False,
                       "bridge_name": host.bridge, "datapath_type": host.datapath_type}
        out |= {"binding:host_id": p.host, "binding:vif_type": vif_type, "binding:vif_details": details,
                "binding:profile": json.loads(p.profile)}
    return out


def views(c: Call, ports: list[Port], admin: bool | None = None) -> list[dict[str, Any]]:
    """As the caller may see them (`admin` None), or with every attribute (to filter on, as Neutron's
    database does, before the caller's view)."""
    subnets = c.svc.network_subnets({p.network_id for p in ports if p.ip_address})
    full = c.caller.is_admin if admin is None else admin
    return [view(p, subnets.get(p.network_id), full, c.svc) for p in ports]


def match_fixed_ips(item: dict[str, Any], wanted: list[object]) -> bool:
    """Neutron's fixed_ips filter: an address asked for, in a subnet asked for, containing a part asked for."""
    ips = [f["ip_address"] for f in item.get("fixed_ips", [])]
    subnets = [f["subnet_id"] for f in item.get("fixed_ips", [])]
    by: dict[str, list[str]] = {}
    for kv in wanted:
        assert isinstance(kv, tuple)  # q_fixed_ip made each a (key, value) pair
        by.setdefault(str(kv[0]), []).append(str(kv[1]))
    return (
        ("ip_address" not in by or any(ip in by["ip_address"] for ip in ips))
        and ("subnet_id" not in by or any(s in by["subnet_id"] for s in subnets))
        and ("ip_address_substr" not in by or any(part in ip for part in by["ip_address_substr"] for ip in ips))
    )


def _fixed_ips(v: list[dict[str, str]]) -> tuple[FixedIp, ...]:
    return tuple(FixedIp(f.get("subnet_id"), f.get("ip_address")) for f in v)


def _pairs(v: list[dict[str, str]] | None) -> tuple[PairSpec, ...]:
    return tuple(PairSpec(a["ip_address"], a.get("mac_address")) for a in v or ())


def _groups(v: list[str] | None) -> tuple[str, ...] | Unset:
    return UNSET if v is None else tuple(dict.fromkeys(v))


def _spec(item: dict[str, Any]) -> PortSpec:
    return PortSpec(
        network_id=item["network_id"],
        project=project_of(item),
        name=item.get("name", ""),
        description=item.get("description", ""),
        admin_state_up=item.get("admin_state_up", True),
        mac_address=item.get("mac_address"),
        fixed_ips=pick(item, "fixed_ips", _fixed_ips),
        device_id=item.get("device_id", ""),
        device_owner=item.get("device_owner", ""),
        port_security=pick(item, "port_security_enabled"),
        security_groups=_groups(item.get("security_groups")),
        address_pairs=_pairs(item.get("allowed_address_pairs")),
        host=pick(item, "binding:host_id", lambda v: v or ""),
        vnic_type=item.get("binding:vnic_type", "normal"),
        profile=pick(item, "binding:profile", lambda v: v or {}),
    )


# handlers ---------------------------------------------------------------------------------------


def _strings(values: Iterable[object] | None) -> list[str] | None:
    return None if values is None else [str(v) for v in values]


def list_ports(c: Call) -> Body:
    q = query.parse(c.items, PORT)
    f = q.filters
    # What the store can narrow by itself (Nova's frequent lookups by device and network); the rest
    # is filtered on the answers.
    ports = c.svc.list_ports(c.caller, ids=_strings(f.get("id")), device_ids=_strings(f.get("device_id")),
                             network_ids=_strings(f.get("network_id")))
    page = query.select(c.req, views(c, ports, admin=True), q, {"fixed_ips": match_fixed_ips},
                        not_found=errors.PortNotFound, hidden=set() if c.caller.is_admin else PORT.admin_only)
    return {"ports": page.items, **({"ports_links": page.links} if page.links else {})}


def show_port(c: Call) -> Body:
    p = c.svc.get_port(c.caller, c.path["port_id"])
    return {"port": query.only(views(c, [p])[0], query.fields_of(c.items))}


def create_ports(c: Call) -> Body:
    items, bulk = items_of(c.body, PORT)
    made = views(c, c.svc.create_ports(c.caller, [_spec(i) for i in items]))
    return {"ports": made} if bulk else {"port": made[0]}


def update_port(c: Call) -> Body:
    item = c.body["port"]
    ch = PortChanges(
        name=pick(item, "name"),
        description=pick(item, "description"),
        admin_state_up=pick(item, "admin_state_up"),
        mac_address=pick(item, "mac_address"),
        fixed_ips=pick(item, "fixed_ips", _fixed_ips),
        device_id=pick(item, "device_id"),
        device_owner=pick(item, "device_owner"),
        port_security=pick(item, "port_security_enabled"),
        security_groups=_groups(item["security_groups"]) if "security_groups" in item else UNSET,
        address_pairs=pick(item, "allowed_address_pairs", _pairs),
        host=pick(item, "binding:host_id", lambda v: v or ""),
        vnic_type=pick(item, "binding:vnic_type"),
        profile=pick(item, "binding:profile", lambda v: v or {}),
    )
    return {"port": views(c, [c.svc.update_port(c.caller, c.path["port_id"], ch)])[0]}


def delete_port(c: Call) -> Body:
    c.svc.delete_port(c.caller, c.path["port_id"])
    return None


CREATE = RequestBody("NeutronPortCreateRequest", PORT.create_body(), max_bytes=BULK_BYTES)
UPDATE = RequestBody("NeutronPortUpdateRequest", PORT.update_body())
P = "/v2.0/ports"
ADDRESS_ERRORS = (errors.InvalidIpForNetwork, errors.InvalidIpForSubnet, errors.IpAddressInUse,
                  errors.AddressPoolExhausted, errors.MacAddressInUse, errors.SecurityGroupNotFound,
                  errors.SecurityGroupsNotEnforced, errors.Forbidden)

ROUTES: tuple[Route, ...] = (
    Route("GET", P, list_ports, "ports", "List ports",
          Ok(200, "NeutronPortsResponse", "The ports the caller may see, filtered, sorted and paged"),
          (errors.PortNotFound,), raw_query=True),
    Route("POST", P, create_ports, "ports", "Create a port, or several in one transaction",
          Ok(201, "NeutronPortCreateResponse", "The new port (or ports, in request order)"),
          (errors.NetworkNotFound, errors.Conflict, errors.OverQuota, *ADDRESS_ERRORS), CREATE,
          description="Each port gets its own VNIC, whose id is the port's: an Open vSwitch interface with "
          "external_ids:iface-id=<port id> binds it. All or none are created."),
    Route("GET", P + "/{port_id}", show_port, "ports", "Show a port",
          Ok(200, "NeutronPortResponse", "The port"), (errors.PortNotFound,), raw_query=True),
    Route("PUT", P + "/{port_id}", update_port, "ports", "Update a port",
          Ok(200, "NeutronPortResponse", "The port"),
          (errors.PortNotFound, errors.Conflict, errors.PortBound, errors.RouterPortInUse, *ADDRESS_ERRORS), UPDATE),
    Route("DELETE", P + "/{port_id}", delete_port, "ports", "Delete a port and its VNIC",
          Ok(204, None, "Deleted"), (errors.PortNotFound, errors.RouterPortInUse),
          description="A router's interface is refused (ServicePortInUse): it goes with the router's interface."),
)
