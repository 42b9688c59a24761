"""The OpenAPI 3.0.3 document of the Neutron face, served at GET /v2.0/openapi.json.

Made from the face's route table (`rest/neutron/__init__.py`) as v1's is from its own (the same
operation builder, rest/openapi.py), with the resources' attribute maps giving the bodies, the
answers, and each list's filters, `fields`, sorting and paging parameters.
"""

from __future__ import annotations

from typing import Any

from .. import openapi as oa
from ..routes import Route
from . import FACE, floatingips, networks, ports, quotas, routers, secgroups, subnets
from .attrs import Attr, Resource, q_bool, q_int
from .extensions import EXTENSIONS
from .ports import q_fixed_ip

Doc = dict[str, Any]

RESOURCES: tuple[Resource, ...] = (networks.NETWORK, subnets.SUBNET, ports.PORT, routers.ROUTER, floatingips.FLOATINGIP,
                                   secgroups.GROUP, secgroups.RULE)
LISTS = {f"{r.method} {r.path}": res for res in RESOURCES for r in FACE.routes
         if r.method == "GET" and r.path.endswith("/" + res.collection.replace("_", "-"))}
SHOWS = {r.path for r in FACE.routes if r.method == "GET" and r.raw_query} - {p.split(" ", 1)[1] for p in LISTS}
PATH_PARAMS = {
    "network_id": "The network's id.",
    "subnet_id": "The subnet's id.",
    "port_id": "The port's id.",
    "router_id": "The router's id.",
    "floatingip_id": "The floating IP's id.",
    "security_group_id": "The security group's id.",
    "rule_id": "The security group rule's id.",
}
# noauth: a request with no project acts as an administrator of the configured default project.
SECURITY: list[dict[str, list[str]]] = [*oa.AUTHENTICATED, {}]
NEUTRON_ERROR: Doc = {
    "type": "object",
    "properties": {"NeutronError": {
        "type": "object",
        "properties": {"type": {"type": "string"}, "message": {"type": "string"}, "detail": {"type": "string"}},
        "required": ["type", "message", "detail"],
    }},
    "required": ["NeutronError"],
}
LINKS: Doc = {"type": "array", "items": {"type": "object", "properties": {
    "rel": {"type": "string", "enum": ["next", "previous"]}, "href": {"type": "string"}}, "required": ["rel", "href"]}}


def _query_schema(a: Attr) -> Doc:
    if a.query is q_bool:
        return {"type": "boolean"}
    if a.query is q_int:
        return {"type": "integer"}
    if a.query is q_fixed_ip:
        return {"type": "string", "pattern": "^(ip_address|subnet_id|ip_address_substr)=", "maxLength": 255}
    return {"type": "string", "maxLength": 255}


def _repeated(name: str, items: Doc, description: str) -> Doc:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "array", "items": items}, "style": "form", "explode": True}


def _parameters() -> tuple[Doc, dict[str, list[str]]]:
    """The parameters' components, and each list or show operation's query parameters (by route)."""
    params: Doc = {name: oa.path_param(name, text) for name, text in PATH_PARAMS.items()}
    params["project_id"] = {"name": "project_id", "in": "path", "required": True, "description": "A project's id.",
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}}
    params["alias"] = {"name": "alias", "in": "path", "required": True, "schema": {"type": "string"},
                       "description": "The extension's alias, e.g. `binding`."}
    params["fields"] = _repeated("fields", {"type": "string", "maxLength": 255},
                                 "Only these attributes in each item (unknown ones are ignored).")
    params["sort_dir"] = _repeated("sort_dir", {"type": "string", "enum": ["asc", "desc"]},
                                   "One direction per sort_key.")
    params["limit"] = {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0},
                       "description": "At most this many items, with links to the next and previous pages."}
    params["marker"] = {"name": "marker", "in": "query", "required": False,
                        "schema": {"type": "string", "maxLength": 255},
                        "description": "With limit: the page after (or, with page_reverse, before) this id."}
    params["page_reverse"] = {"name": "page_reverse", "in": "query", "required": False,
                              "schema": {"type": "boolean"}, "description": "The page before the marker."}
    per_route: dict[str, list[str]] = {}
    for key, res in LISTS.items():
        names = []
        for a in res.attrs:
            if a.query is not None:
                ref = f"{res.name}.{a.name}"
                params[ref] = _repeated(a.name, _query_schema(a), f"Only {res.collection} whose {a.name} is one of "
                                        "these (repeated: any of them; different filters: all of them).")
                names.append(ref)
        sortable = [a.name for a in res.attrs if a.sort]
        params[f"{res.name}.sort_key"] = _repeated("sort_key", {"type": "string", "enum": sortable},
                                                   "Sort by these attributes, in order.")
        per_route[key] = [*names, "fields", f"{res.name}.sort_key", "sort_dir", "limit", "marker", "page_reverse"]
    for path in SHOWS:
        per_route[f"GET {path}"] = ["fields"]
    return params, per_route


def _schemas(routes: tuple[Route, ...]) -> Doc:
    built: Doc = {"NeutronError": NEUTRON_ERROR, "OpenApiDocument": {"type": "object",
                                                                    "description": "An OpenAPI 3.0.3 document."}}
    for res in RESOURCES:
        t = f"Neutron{res.title}"
        built[t] = oa.to_openapi(res.item_out())
        built[f"{t}sResponse"] = {"type": "object", "required": [res.collection], "properties": {
            res.collection: {"type": "array", "items": oa.ref(t)}, f"{res.collection}_links": LINKS}}
        built[f"{t}Response"] = oa.wrap(res.name, oa.ref(t))
        built[f"{t}CreateResponse"] = {"type": "object", "minProperties": 1, "maxProperties": 1, "properties": {
            res.name: oa.ref(t), res.collection: {"type": "array", "items": oa.ref(t)}}}
    built["NeutronRouterInterfaceResponse"] = oa.to_openapi(routers.INTERFACE_OUT)
    quota = oa.to_openapi(quotas.QUOTA_OUT)
    built["NeutronQuotaResponse"] = oa.wrap("quota", quota)
    built["NeutronQuotaDetailsResponse"] = oa.wrap("quota", oa.to_openapi(quotas.DETAILS_OUT))
    listed = {**quota, "properties": {**quota["properties"], "project_id": {"type": "string"},
                                      "tenant_id": {"type": "string"}}}
    built["NeutronQuotasResponse"] = oa.wrap("quotas", {"type": "array", "items": listed})
    ext = {"type": "object", "properties": {k: {"type": "string"} for k in ("alias", "name", "updated", "description")}
           | {"links": {"type": "array", "items": {"type": "object"}}},
           "required": ["alias", "name", "updated", "description", "links"]}
    built["NeutronExtension"] = ext
    built["NeutronExtensionsResponse"] = oa.list_of("extensions", "NeutronExtension")
    built["NeutronExtensionResponse"] = oa.wrap("extension", oa.ref("NeutronExtension"))
    built["NeutronResourcesResponse"] = oa.wrap("resources", {"type": "array", "items": {
        "type": "object", "required": ["name", "collection", "links"],
        "properties": {"name": {"type": "string"}, "collection": {"type": "string"},
                       "links": {"type": "array", "items": {"type": "object"}}}}})
    for r in routes:
        if r.body is not None:
            oa.add(built, r.body.name, oa.to_openapi(r.body.schema))
    return built


def document(base_url: str) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of the Neutron face, served from `base_url`."""
    params, per_route = _parameters()
    paths: Doc = {}
    for r in FACE.routes:
        op = oa.operation(FACE, r, ("NeutronError", "NeutronError"), SECURITY, per_route.get(f"{r.method} {r.path}"))
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "sdnapp network service: the OpenStack Networking API v2.0 face",
            "version": "v2.0",
            "description": "What Nova, openstacksdk and the openstack CLI use of Neutron's API, over the same service "
            "as v1. Errors answer `{\"NeutronError\": {\"type\", \"message\", \"detail\"}}`. With auth.strategy "
            "noauth a request without X-Project-Id acts as an administrator of auth.noauth_project. Extensions: "
            + ", ".join(sorted(EXTENSIONS)) + ".",
        },
        "servers": [{"url": base_url}],
        "tags": [{"name": n} for n in FACE.tags],
        "paths": paths,
        "components": {"schemas": _schemas(FACE.routes), "parameters": params,
                       "securitySchemes": oa.SECURITY_SCHEMES},
    }
