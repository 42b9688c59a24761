"""The face's own resources: its version entry (for `GET /`), `GET /v2.0` (the resource list), the
OpenAPI document, and the extensions, listed only where sdnapp really does what they say.

`router` (routers and floating IPs) and `ext-gw-mode` (a gateway's enable_snat and external_fixed_ips)
are listed where v1's `nat` extension is offered (an external network is configured), as their
resources are. Not listed, on purpose: `binding-extended` (no `/ports/{id}/bindings`: Nova then uses its legacy
migration flow, which sdnapp follows by moving a port with its interface), `dns-integration`, `tag`s.
"""

from __future__ import annotations

from typing import Any

from webob import Request

from ..routes import Body, Call, Ok, Route
from .faults import HTTPNotFound

_EXTENSIONS = (
    ("binding", "Port Binding", "2014-02-03T10:00:00-00:00",
     "Expose port bindings of a virtual port to external application"),
    ("port-security", "Port Security", "2012-07-23T10:00:00-00:00", "Provides port security"),
    ("allowed-address-pairs", "Allowed Address Pairs", "2013-07-23T10:00:00-00:00", "Provides allowed address pairs"),
    ("external-net", "Neutron external network", "2013-01-14T10:00:00-00:00",
     "Adds external network attribute to network resource."),
    ("provider", "Provider Network", "2012-09-07T10:00:00-00:00",
     "Expose mapping of virtual networks to physical networks"),
    ("net-mtu", "Network MTU", "2015-03-25T10:00:00-00:00", "Provides MTU attribute for a network resource."),
    ("quotas", "Quota management support", "2012-07-29T10:00:00-00:00",
     "Expose functions for quotas management per project"),
    ("quota_details", "Quota details management support", "2017-02-10T10:00:00-00:00",
     "Expose functions for quotas usage statistics per project"),
    ("security-group", "security-group", "2012-10-05T10:00:00-00:00", "The security groups extension."),
    ("project-id", "project_id field enabled", "2016-09-09T09:09:09-09:09",
     "Extension that indicates that project_id field is enabled."),
    ("standard-attr-timestamp", "Resource timestamps", "2016-09-12T10:00:00-00:00",
     "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."),
    ("standard-attr-revisions", "Resource revision numbers", "2016-04-11T10:00:00-00:00",
     "This extension will display the revision number of neutron resources."),
    ("standard-attr-description", "standard-attr-description", "2016-02-10T10:00:00-00:00",
     "Extension to add descriptions to standard attributes"),
    ("filter-validation", "Filter parameters validation", "2018-07-04T10:00:00-00:00",
     "Provides validation on filter parameters."),
    ("pagination", "Pagination support", "2016-06-12T00:00:00-00:00",
     "Extension that indicates that pagination is enabled."),
    ("sorting", "Sorting support", "2016-06-12T00:00:00-00:00", "Extension that indicates that sorting is enabled."),
    ("ip-substring-filtering", "IP address substring filtering", "2017-11-28T09:00:00-00:00",
     "Provides IP address substring filtering when listing ports"),
)
# What the `nat` extension of v1 brings (sdnapp/routerops.py).
_L3 = (
    ("router", "Neutron L3 Router", "2012-07-20T10:00:00-00:00",
     "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks "
     "via a NAT gateway."),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "2013-03-28T10:00:00-00:00",
     "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"),
)
EXTENSIONS: dict[str, dict[str, Any]] = {
    alias: {"alias": alias, "name": name, "updated": updated, "description": description, "links": []}
    for alias, name, updated, description in (*_EXTENSIONS, *_L3)
}
L3_ALIASES = frozenset(alias for alias, *_ in _L3)
COLLECTIONS = (("network", "networks"), ("subnet", "subnets"), ("port", "ports"))
L3_COLLECTIONS = (("router", "routers"), ("floatingip", "floatingips"))


def _offered(c: Call) -> dict[str, dict[str, Any]]:
    nat = "nat" in c.svc.extensions
    return {alias: e for alias, e in EXTENSIONS.items() if nat or alias not in L3_ALIASES}


def version(req: Request) -> dict[str, Any]:
    """`v2.0` in `GET /`: CURRENT, its self link with a trailing slash as Neutron's (clients follow it)."""
    return {"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": f"{req.host_url}/v2.0/"}]}


def list_resources(c: Call) -> Body:
    base = f"{c.req.host_url}/v2.0"
    offered = (*COLLECTIONS, *(L3_COLLECTIONS if "nat" in c.svc.extensions else ()))
    return {"resources": [{"name": n, "collection": coll, "links": [{"rel": "self", "href": f"{base}/{coll}"}]}
                          for n, coll in offered]}


def neutron_openapi(c: Call) -> Body:
    from .openapi import document  # the document is made from this face's table, which imports this module

    return document(c.req.host_url)


def list_extensions(c: Call) -> Body:
    return {"extensions": list(_offered(c).values())}


def show_extension(c: Call) -> Body:
    found = _offered(c).get(c.path["alias"])
    if found is None:
        raise HTTPNotFound(f"Extension with alias {c.path['alias'][:64]} does not exist")
    return {"extension": found}


ROUTES: tuple[Route, ...] = (
    Route("GET", "/v2.0", list_resources, "versions", "List the resources of version v2.0",
          Ok(200, "NeutronResourcesResponse", "The core collections, each with its link")),
    Route("GET", "/v2.0/openapi.json", neutron_openapi, "versions", "Get this OpenAPI document",
          Ok(200, "OpenApiDocument", "The OpenAPI document of the Neutron face"), public=True),
    Route("GET", "/v2.0/extensions", list_extensions, "extensions", "List the extensions",
          Ok(200, "NeutronExtensionsResponse", "Only what sdnapp really implements, by Neutron's aliases")),
    Route("GET", "/v2.0/extensions/{alias}", show_extension, "extensions", "Show an extension",
          Ok(200, "NeutronExtensionResponse", "The extension"), (HTTPNotFound,)),
)
