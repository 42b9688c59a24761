"""The v1 face (shared/API.md): its handlers, its route table, and how it answers errors:
`{"error": {"type": <the error's class name>, "message": ...}}` with the status of `FAULTS`."""

from __future__ import annotations

import json
from typing import Any

from webob import Request

from sdnapp import errors
from sdnapp.service import BindingRequest, NetworkRequest, PluggedPortRequest
from sdnapp.specs import FloatingChanges, FloatingSpec
from sdnapp.trace import Frame

from . import faults, schemas, static, views
from .routes import Body, Call, Face, Ok, Query, Raw, RequestBody, Route

# handlers: versions and operations -------------------------------------------------------------


def _version(req: Request) -> dict[str, Any]:
    return {"id": "v1", "status": "CURRENT", "links": [{"rel": "self", "href": f"{req.host_url}/v1"}]}


def versions(c: Call) -> Body:
    return {"versions": [version(c.req) for version in c.api.versions]}


def version(c: Call) -> Body:
    return {"version": _version(c.req)}


def healthz(c: Call) -> Body:
    store_ok, of_ok = c.svc.healthy(), c.api.ready()
    body = {"store": "ok" if store_ok else "unreachable", "openflow": "listening" if of_ok else "down"}
    if store_ok and of_ok:
        return {"status": "ok", **body}
    raise faults.ServiceUnavailable(json.dumps(body))


def openapi(c: Call) -> Body:
    return c.api.openapi_doc(c.req.host_url)


def list_extensions(c: Call) -> Body:
    return {"extensions": c.svc.list_extensions()}


def show_extension(c: Call) -> Body:
    return {"extension": c.svc.get_extension(c.path["alias"])}


def list_switches(c: Call) -> Body:
    switches = c.svc.switches(c.caller)
    return {"switches": [views.switch(s, c.api.switch_report(s.datapath_id)) for s in switches]}


def list_links(c: Call) -> Body:
    links, problems = c.svc.links(c.caller)
    return {"links": [views.link(u) for u in links], "problems": problems}


def show_topology(c: Call) -> Body:
    switches = [views.switch(s, c.api.switch_report(s.datapath_id)) for s in c.svc.switches(c.caller)]
    links = [views.known_link(k) for k in c.svc.known_links(c.caller)]
    networks = []
    if "networks" in c.svc.extensions:
        by_network: dict[str, list[Any]] = {}
        for p in c.svc.list_ports(c.caller):
            by_network.setdefault(p.network_id, []).append(p)
        vnics = {v.id: v for v in c.svc.list_vnics(c.caller)}
        networks = [views.network_ports(n, by_network.get(n.id, []), vnics, c.svc, c.caller)
                    for n in c.svc.list_networks(c.caller)]
    return {"switches": switches, "links": links, "networks": networks}


def trace(c: Call) -> Body:
    q = c.query
    frame = Frame(q["from"], q["to"], q.get("eth_src"), q.get("ipv4_src"),
                  int(q["vlan"]) if "vlan" in q else None, q.get("arp") == "true")
    return {"trace": c.api.tracer.trace(frame)}


def show_port_flows(c: Call) -> Body:
    port = c.svc.get_port(c.caller, c.path["port_id"])
    return c.api.tracer.port_flows(port.id)


def metrics(c: Call) -> Body:
    if not c.api.metrics.enabled:
        raise faults.NotFound("metrics are off here (metrics.enabled: false)")
    content_type, data = c.api.metrics.exposition(c.req.headers.get("Accept", ""))
    return Raw(content_type, data)


def ui_page(c: Call) -> Body:
    return static.asset("index.html")


def ui_file(c: Call) -> Body:
    return static.asset(c.path["asset"])


# handlers: vnics and bindings -------------------------------------------------------------------


def list_vnics(c: Call) -> Body:
    return {"vnics": [views.vnic(v, c.svc) for v in c.svc.list_vnics(c.caller, c.query.get("tenant_id"))]}


def create_vnic(c: Call) -> Body:
    b = c.body["vnic"]
    return {"vnic": views.vnic(c.svc.create_vnic(c.caller, b.get("mac_address"), b.get("name", "")), c.svc)}


def show_vnic(c: Call) -> Body:
    return {"vnic": views.vnic(c.svc.get_vnic(c.caller, c.path["vnic_id"]), c.svc)}


def destroy_vnic(c: Call) -> Body:
    c.svc.destroy_vnic(c.caller, c.path["vnic_id"])
    return None


def unplug_vnic(c: Call) -> Body:
    c.svc.unplug_vnic(c.caller, c.path["vnic_id"])
    return None


def bind(c: Call) -> Body:
    b = c.body["binding"]
    v = c.svc.bind(c.caller, c.path["vnic_id"], b["datapath_id"], b.get("port_no"), b.get("port_name"))
    return {"binding": views.vnic(v, c.svc)["binding"]}


def unbind(c: Call) -> Body:
    c.svc.unbind(c.caller, c.path["vnic_id"])
    return None


# handlers: ports and attachments ----------------------------------------------------------------


def list_ports(c: Call) -> Body:
    ps = c.svc.list_ports(c.caller, c.query.get("network_id"), c.query.get("tenant_id"))
    return {"ports": [views.port(p, c.svc) for p in ps]}


def show_port(c: Call) -> Body:
    return {"port": views.port(c.svc.get_port(c.caller, c.path["port_id"]), c.svc)}


def destroy_port(c: Call) -> Body:
    c.svc.destroy_port(c.caller, c.path["port_id"])
    return None


def plug(c: Call) -> Body:
    return {"attachment": views.attachment(c.svc.plug(c.caller, c.path["port_id"], c.body["attachment"]["vnic_id"]))}


def show_attachment(c: Call) -> Body:
    return {"attachment": views.attachment(c.svc.get_attachment(c.caller, c.path["port_id"]))}


def unplug_port(c: Call) -> Body:
    c.svc.unplug_port(c.caller, c.path["port_id"])
    return None


def create_plugged_ports(c: Call) -> Body:
    items = [
        PluggedPortRequest(
            it["network_id"], it.get("name", ""), it.get("vnic", {}).get("name", ""),
            it.get("vnic", {}).get("mac_address"),
            BindingRequest(it["binding"]["datapath_id"], it["binding"].get("port_no"), it["binding"].get("port_name"))
            if "binding" in it else None,
        )
        for it in c.body["plugged_ports"]
    ]
    made = c.svc.create_plugged_ports(c.caller, items)
    return {"plugged_ports": [{"port": views.port(p, c.svc), "vnic": views.vnic(v, c.svc)} for p, v in made]}


# handlers: networks -----------------------------------------------------------------------------


def list_networks(c: Call) -> Body:
    return {"networks": [views.network(n, c.caller) for n in c.svc.list_networks(c.caller, c.query.get("tenant_id"))]}


def create_network(c: Call) -> Body:
    if "networks" in c.body:
        made = c.svc.create_v1_networks(c.caller, [
            NetworkRequest(b.get("name", ""), b.get("address_prefix"), b.get("nat")) for b in c.body["networks"]
        ])
        return {"networks": [views.network(n, c.caller) for n in made]}
    b = c.body["network"]
    n = c.svc.create_network(c.caller, b.get("name", ""), b.get("address_prefix"), b.get("nat"))
    return {"network": views.network(n, c.caller)}


def show_network(c: Call) -> Body:
    return {"network": views.network(c.svc.get_network(c.caller, c.path["network_id"]), c.caller)}


def destroy_network(c: Call) -> Body:
    c.svc.destroy_network(c.caller, c.path["network_id"])
    return None


def create_port(c: Call) -> Body:
    name = (c.body or {}).get("port", {}).get("name", "")
    return {"port": views.port(c.svc.create_port(c.caller, c.path["network_id"], name), c.svc)}


def list_network_ports(c: Call) -> Body:
    n = c.svc.get_network(c.caller, c.path["network_id"])
    return {"ports": [views.port(p, c.svc) for p in c.svc.list_ports(c.caller, network_id=n.id)]}


# handlers: floating addresses (extension `nat`) ------------------------------------------------


def list_floating_addresses(c: Call) -> Body:
    return {"floating_addresses": [views.floating_address(f, c.svc) for f in c.svc.list_floating_addresses(c.caller)]}


def create_floating_address(c: Call) -> Body:
    f = c.svc.create_floating_address(c.caller, FloatingSpec(port_id=c.body["floating_address"].get("port_id")))
    return {"floating_address": views.floating_address(f, c.svc)}


def show_floating_address(c: Call) -> Body:
    return {"floating_address": views.floating_address(c.svc.get_floating_address(c.caller, c.path["floating_id"]),
                                                       c.svc)}


def associate_floating_address(c: Call) -> Body:
    f = c.svc.update_floating_address(c.caller, c.path["floating_id"],
                                      FloatingChanges(port_id=c.body["floating_address"]["port_id"]))
    return {"floating_address": views.floating_address(f, c.svc)}


def release_floating_address(c: Call) -> Body:
    c.svc.release_floating_address(c.caller, c.path["floating_id"])
    return None


# the route table --------------------------------------------------------------------------------

TENANT = Query("tenant_id", "Admins only: only the resources of this project (ignored for others).")
NETWORK = Query("network_id", "Only the ports of this network.", component="network_id_filter")
TRACE_QUERY = (
    Query("from", "Where the frame enters: a port's id (its VNIC's switch port), or DATAPATH_ID/PORT, a switch "
          "port by number or name.", required=True),
    Query("to", "Where it is meant to go: a MAC address, or an IPv4 address (the frame is IPv4 to the VNIC that "
          "has it, or an ARP request when none does).", required=True),
    Query("eth_src", "The frame's source MAC, instead of the VNIC's own (a spoofed frame)."),
    Query("ipv4_src", "The frame's source IPv4 address, instead of the port's own."),
    Query("vlan", "The frame arrives tagged with this VLAN id.", kind="integer", minimum=0, maximum=4095),
    Query("arp", "true: an ARP request for `to` (an IPv4 address), not IPv4 to its owner.", kind="boolean"),
)

VNIC_CREATE = RequestBody("VnicCreateRequest", schemas.VNIC_CREATE)
BINDING_PUT = RequestBody("BindingRequest", schemas.BINDING_PUT)
ATTACHMENT_PUT = RequestBody("AttachmentRequest", schemas.ATTACHMENT_PUT)
NETWORK_CREATE = RequestBody("NetworkCreateRequest", schemas.NETWORK_CREATE)
FLOATING_CREATE = RequestBody("FloatingAddressCreateRequest", schemas.FLOATING_CREATE)
FLOATING_PUT = RequestBody("FloatingAddressRequest", schemas.FLOATING_PUT)
PORT_CREATE = RequestBody("PortCreateRequest", schemas.PORT_CREATE, optional=True)
# Up to MAX_BULK items of a few hundred bytes each: more than a single call's body limit.
PLUGGED_PORTS_CREATE = RequestBody("PluggedPortsCreateRequest", schemas.PLUGGED_PORTS_CREATE, max_bytes=4 << 20)

# Every call of the networks extension answers ExtensionNotFound where the driver lacks it.
NET_NOT_FOUND = (errors.NetworkNotFound, errors.ExtensionNotFound)
NET_EXT = "Extension `networks`."
NAT_EXT = "Extension `nat`."
FA_NOT_FOUND = (errors.FloatingAddressNotFound, errors.ExtensionNotFound)

ROUTES: tuple[Route, ...] = (
    Route("GET", "/", versions, "versions", "List the API versions this service speaks",
          Ok(200, "VersionsResponse", "The versions, each with a self link"), public=True),
    Route("GET", "/healthz", healthz, "operations", "Check that the store is reachable and the OpenFlow listener is up",
          Ok(200, "HealthResponse", "Healthy"), (faults.ServiceUnavailable,), public=True),
    Route("GET", "/v1", version, "versions", "Show version v1",
          Ok(200, "VersionResponse", "This version, with a self link"), public=True),
    Route("GET", "/v1/openapi.json", openapi, "versions", "Get this OpenAPI document",
          Ok(200, "OpenApiDocument", "The OpenAPI document"), public=True),
    Route("GET", "/v1/extensions", list_extensions, "extensions", "List the extensions the configured driver supports",
          Ok(200, "ExtensionsResponse", "The extensions")),
    Route("GET", "/v1/extensions/{alias}", show_extension, "extensions", "Show an extension",
          Ok(200, "ExtensionResponse", "The extension"), (errors.ExtensionNotFound,)),
    # vnics and bindings
    Route("GET", "/v1/vnics", list_vnics, "vnics", "List VNICs",
          Ok(200, "VnicsResponse", "The caller's VNICs (an admin's: all, or one project's)"), query=(TENANT,)),
    Route("POST", "/v1/vnics", create_vnic, "vnics", "Create a VNIC", Ok(201, "VnicResponse", "The new VNIC"),
          (errors.ExtensionNotFound, errors.MacAddressInUse), VNIC_CREATE,
          description="Extension `ethernet-vnic`. Without a MAC address the server picks a random, unique, "
          "locally administered unicast one."),
    Route("GET", "/v1/vnics/{vnic_id}", show_vnic, "vnics", "Show a VNIC", Ok(200, "VnicResponse", "The VNIC"),
          (errors.VnicNotFound,)),
    Route("DELETE", "/v1/vnics/{vnic_id}", destroy_vnic, "vnics", "Destroy a VNIC, unplugging it first",
          Ok(204, None, "Destroyed"), (errors.VnicNotFound,)),
    Route("DELETE", "/v1/vnics/{vnic_id}/attachment", unplug_vnic, "ports", "Unplug a VNIC from its port",
          Ok(204, None, "Unplugged (also when it was not plugged)"), (errors.VnicNotFound,)),
    Route("PUT", "/v1/vnics/{vnic_id}/binding", bind, "bindings", "Bind a VNIC to a switch port",
          Ok(200, "BindingResponse", "The binding"), (errors.VnicNotFound, errors.BindingInUse), BINDING_PUT,
          admin=True, description="The switch port is named by `port_name` or by `port_no`."),
    Route("DELETE", "/v1/vnics/{vnic_id}/binding", unbind, "bindings", "Unbind a VNIC from its switch port",
          Ok(204, None, "Unbound (also when it was not bound)"), (errors.VnicNotFound,), admin=True),
    # ports and attachments
    Route("GET", "/v1/ports", list_ports, "ports", "List ports",
          Ok(200, "PortsResponse", "The caller's ports (an admin's: all, or one project's)"), query=(NETWORK, TENANT)),
    Route("GET", "/v1/ports/{port_id}", show_port, "ports", "Show a port", Ok(200, "PortResponse", "The port"),
          (errors.PortNotFound,), description="Poll it for status `ACTIVE`: then traffic flows."),
    Route("DELETE", "/v1/ports/{port_id}", destroy_port, "ports", "Destroy a port",
          Ok(204, None, "Destroyed; its address is free again"), (errors.PortNotFound, errors.PortInUse)),
    Route("PUT", "/v1/ports/{port_id}/attachment", plug, "ports", "Plug a VNIC into a port",
          Ok(200, "AttachmentResponse", "The attachment"),
          (errors.PortNotFound, errors.VnicNotFound, errors.PortInUse, errors.AlreadyAttached, errors.MacAddressInUse),
          ATTACHMENT_PUT, description="Repeating the same plug changes nothing."),
    Route("POST", "/v1/plugged-ports", create_plugged_ports, "ports",
          "Create many ports at once, each with a new VNIC plugged in and bound where given",
          Ok(201, "PluggedPortsResponse", "The new ports and VNICs, in the order asked"),
          (*NET_NOT_FOUND, errors.AddressPoolExhausted, errors.MacAddressInUse, errors.BindingInUse,
           errors.Forbidden, errors.OverQuota),
          PLUGGED_PORTS_CREATE,
          description="Extensions `networks` and `ethernet-vnic`. What create_port, create_vnic, plug and (for "
          "admins) bind do one call at a time, for up to 1,000 ports in one transaction: all of them or, on "
          "the first bad item (its index is in the error's message), none. Bodies up to 4 MiB."),
    Route("GET", "/v1/ports/{port_id}/attachment", show_attachment, "ports", "Show which VNIC is plugged into a port",
          Ok(200, "AttachmentResponse", "The attachment; vnic_id is null when none is plugged"),
          (errors.PortNotFound,)),
    Route("DELETE", "/v1/ports/{port_id}/attachment", unplug_port, "ports",
          "Unplug whatever VNIC is plugged into a port",
          Ok(204, None, "Unplugged (also when nothing was plugged)"), (errors.PortNotFound,)),
    # networks
    Route("GET", "/v1/networks", list_networks, "networks", "List networks",
          Ok(200, "NetworksResponse", "The caller's networks (an admin's: all, or one project's)"),
          (errors.ExtensionNotFound,), query=(TENANT,), description=NET_EXT),
    Route("POST", "/v1/networks", create_network, "networks", "Create a network, or many at once",
          Ok(201, "NetworkCreatedResponse", "The new network; or, given `networks`, the new networks in the "
             "order asked"),
          (errors.ExtensionNotFound, errors.SegmentPoolExhausted, errors.OverQuota, errors.ExternalPoolExhausted),
          NETWORK_CREATE,
          description=f"{NET_EXT} The new network takes a segment (VLAN id or VNI) from the configured pool. "
          f"{NAT_EXT} `nat` defaults to true when the extension is offered and a prefix is given; a NATed "
          "network takes an external address from the configured pool. With `networks` (1 to 1,000 of the "
          "same objects) every network is made or none (one transaction); a bad item's error names its index."),
    Route("GET", "/v1/networks/{network_id}", show_network, "networks", "Show a network",
          Ok(200, "NetworkResponse", "The network; segment is shown to admins only"), NET_NOT_FOUND),
    Route("DELETE", "/v1/networks/{network_id}", destroy_network, "networks", "Destroy a network and its ports",
          Ok(204, None, "Destroyed"), (*NET_NOT_FOUND, errors.NetworkInUse)),
    Route("POST", "/v1/networks/{network_id}/ports", create_port, "networks", "Create a port in a network",
          Ok(201, "PortResponse", "The new port"), (*NET_NOT_FOUND, errors.AddressPoolExhausted, errors.OverQuota),
          PORT_CREATE,
          description="With an address range, the port gets the next free address."),
    Route("GET", "/v1/networks/{network_id}/ports", list_network_ports, "networks", "List a network's ports",
          Ok(200, "PortsResponse", "The network's ports"), NET_NOT_FOUND),
    # floating addresses
    Route("GET", "/v1/floating-addresses", list_floating_addresses, "floating-addresses", "List floating addresses",
          Ok(200, "FloatingAddressesResponse", "The caller's floating addresses (an admin's: all)"),
          (errors.ExtensionNotFound,), description=NAT_EXT),
    Route("POST", "/v1/floating-addresses", create_floating_address, "floating-addresses",
          "Take a floating address from the pool, for a port or none",
          Ok(201, "FloatingAddressResponse", "The new floating address"),
          (errors.ExtensionNotFound, errors.PortNotFound, errors.FloatingAddressInUse, errors.ExternalPoolExhausted),
          FLOATING_CREATE, description=f"{NAT_EXT} With `port_id`, traffic from outside to the address reaches "
          "that port's address, and the port's outgoing traffic leaves with it. The port must have an address in a "
          "NATed network (else 400) and no floating address yet (else 409)."),
    Route("GET", "/v1/floating-addresses/{floating_id}", show_floating_address, "floating-addresses",
          "Show a floating address", Ok(200, "FloatingAddressResponse", "The floating address"), FA_NOT_FOUND,
          description=f"{NAT_EXT} Its status is ACTIVE once the gateway's flows for it are confirmed."),
    Route("PUT", "/v1/floating-addresses/{floating_id}", associate_floating_address, "floating-addresses",
          "Associate a floating address with a port, or with none",
          Ok(200, "FloatingAddressResponse", "The floating address"),
          (*FA_NOT_FOUND, errors.PortNotFound, errors.FloatingAddressInUse), FLOATING_PUT, description=NAT_EXT),
    Route("DELETE", "/v1/floating-addresses/{floating_id}", release_floating_address, "floating-addresses",
          "Release a floating address to the pool", Ok(204, None, "Released"), FA_NOT_FOUND, description=NAT_EXT),
    # operations
    Route("GET", "/v1/switches", list_switches, "operations",
          "List the connected and configured switches and their ports",
          Ok(200, "SwitchesResponse", "The switches"), admin=True),
    Route("GET", "/v1/links", list_links, "operations", "List the inter-switch links in use",
          Ok(200, "LinksResponse", "The links"), admin=True),
    Route("GET", "/v1/topology", show_topology, "operations",
          "Show switches, every link known with its state, and each network's ports",
          Ok(200, "TopologyResponse", "The live view the page draws"), admin=True,
          description="Links are up (in use), down (a switch or port of it is down, or LLDP stopped seeing it) "
          "or problem (configured, contradicted by discovery)."),
    Route("GET", "/v1/trace", trace, "operations", "Trace a frame through the flows sdnapp wants on each switch",
          Ok(200, "TraceResponse", "Every hop (switch, tables, the flow that matched, what it did) and the verdict"),
          (errors.PortNotFound,), query=TRACE_QUERY, admin=True,
          description="Nothing is sent to a switch: the frame runs through the flows computed from the desired "
          "state, across links and tunnels. The verdict is delivered, dropped (by anti-spoofing, isolation, no "
          "binding or table miss) or sent to the controller."),
    Route("GET", "/v1/ports/{port_id}/flows", show_port_flows, "operations",
          "List the flows that carry a port's traffic, explained",
          Ok(200, "PortFlowsResponse", "The flows wanted on each switch, and whether the switch holds them"),
          (errors.PortNotFound,), admin=True),
    Route("GET", "/metrics", metrics, "operations", "Get the Prometheus metrics",
          Ok(200, "Metrics", "The metrics in Prometheus's text format (OpenMetrics if the Accept header asks)",
             media=("text/plain", "application/openmetrics-text")),
          (faults.NotFound,), admin=True,
          description="Served without credentials where `metrics.public` is set, and with auth.strategy noauth."),
    Route("GET", "/ui", ui_page, "operations", "Open the live page of switches, links and ports",
          Ok(200, "StaticFile", "The page", media=("text/html",)), public=True,
          description="A static page with no data of its own: it reads GET /v1/topology every second with the "
          "caller's credentials."),
    Route("GET", "/ui/{asset}", ui_file, "operations", "Get a file of the live page",
          Ok(200, "StaticFile", "The file", media=static.MEDIA), (static.AssetNotFound,), public=True),
)

FAULTS: faults.FaultMap = {
    **faults.HTTP_FAULTS,
    errors.BadRequest: 400,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
}


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"error": {"type": error_type, "message": message}}


FACE = Face(
    prefix="",  # everything no other face owns: /, /healthz, /v1
    tags=("versions", "extensions", "vnics", "ports", "networks", "floating-addresses", "bindings", "operations"),
    routes=ROUTES,
    faults=FAULTS,
    error_body=error_body,
    version=_version,
)
