"""The OpenAPI 3.0.3 document of the REST API (shared/API.md), served at GET /v1/openapi.json.

The paths are written out here, one by one, rather than derived from `rest.app.ROUTES`, so that
a test can compare the two and catch a route that was added without being documented (or the
reverse). Bodies and resources come from `rest.schemas`, converted to OpenAPI 3.0's dialect of
JSON schema.
"""

from __future__ import annotations

import copy
from typing import Any

from . import schemas

Doc = dict[str, Any]

JSON = "application/json"

# Keywords of a JSON schema (draft 7) that an OpenAPI 3.0 Schema Object has too, with the same meaning.
_SAME_KEYWORDS = frozenset(
    {
        "title", "description", "default", "enum", "format", "pattern", "maxLength", "minLength",
        "maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf", "maxItems",
        "minItems", "uniqueItems", "maxProperties", "minProperties", "required", "type",
        "properties", "additionalProperties", "items", "allOf", "oneOf", "anyOf", "not",
        "readOnly", "writeOnly",
    }
)


def to_openapi(schema: schemas.Schema) -> schemas.Schema:
    """A JSON schema of rest.schemas as an OpenAPI 3.0 Schema Object.

    OpenAPI 3.0 has no `"type": [..., "null"]` and no `{"type": "null"}`: both become
    `nullable: true`. Any keyword OpenAPI 3.0 lacks is an error, so that a schema
    change cannot silently produce a document that says something else.
    """
    out: schemas.Schema = {}
    for key, value in schema.items():
        if key not in _SAME_KEYWORDS:
            raise ValueError(f"JSON-schema keyword {key!r} has no OpenAPI 3.0 equivalent")
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if len(types) != 1:
                raise ValueError(f"type {value!r} cannot be said in OpenAPI 3.0")
            out["type"] = types[0]
            if "null" in value:
                out["nullable"] = True
        elif key == "properties":
            out[key] = {name: to_openapi(sub) for name, sub in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = to_openapi(value)
        elif key in ("oneOf", "anyOf", "allOf"):
            subs = [s for s in value if s != {"type": "null"}]
            if len(subs) < len(value):
                # "X or null": X itself, nullable.
                if len(subs) != 1:
                    raise ValueError(f"{key} with null of several schemas cannot be said in OpenAPI 3.0")
                for k, v in to_openapi(subs[0]).items():
                    out[k] = v
                out["nullable"] = True
            else:
                out[key] = [to_openapi(s) for s in subs]
        elif key == "type" and value == "null":
            raise ValueError('"type": "null" alone cannot be said in OpenAPI 3.0')
        else:
            out[key] = copy.deepcopy(value)
    return out


def _ref(name: str) -> Doc:
    return {"$ref": f"#/components/schemas/{name}"}


def _wrap(key: str, inner: Doc) -> Doc:
    return {"type": "object", "properties": {key: inner}, "required": [key]}


def _list_of(key: str, name: str) -> Doc:
    return _wrap(key, {"type": "array", "items": _ref(name)})


_VERSION: Doc = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "status": {"type": "string", "enum": ["CURRENT", "SUPPORTED", "DEPRECATED"]},
        "links": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"rel": {"type": "string"}, "href": {"type": "string"}},
                "required": ["rel", "href"],
            },
        },
    },
    "required": ["id", "status", "links"],
}
_HEALTH: Doc = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok"]},
        "store": {"type": "string", "enum": ["ok"]},
        "openflow": {"type": "string", "enum": ["listening"]},
    },
    "required": ["status", "store", "openflow"],
}


def _components() -> Doc:
    resources = {
        "Error": schemas.ERROR,
        "Network": schemas.NETWORK,
        "Port": schemas.PORT,
        "Vnic": schemas.VNIC,
        "Binding": schemas.BINDING,
        "Attachment": schemas.ATTACHMENT,
        "Extension": schemas.EXTENSION,
        "Switch": schemas.SWITCH,
        "LinkEnd": schemas.LINK_END,
        "Link": schemas.LINK,
        "VnicCreateRequest": schemas.VNIC_CREATE,
        "NetworkCreateRequest": schemas.NETWORK_CREATE,
        "PortCreateRequest": schemas.PORT_CREATE,
        "AttachmentRequest": schemas.ATTACHMENT_PUT,
        "BindingRequest": schemas.BINDING_PUT,
    }
    built: Doc = {name: to_openapi(s) for name, s in resources.items()}
    built["Version"] = _VERSION
    built["VersionsResponse"] = _list_of("versions", "Version")
    built["VersionResponse"] = _wrap("version", _ref("Version"))
    built["HealthResponse"] = _HEALTH
    built["ExtensionsResponse"] = _list_of("extensions", "Extension")
    built["ExtensionResponse"] = _wrap("extension", _ref("Extension"))
    built["VnicsResponse"] = _list_of("vnics", "Vnic")
    built["VnicResponse"] = _wrap("vnic", _ref("Vnic"))
    built["PortsResponse"] = _list_of("ports", "Port")
    built["PortResponse"] = _wrap("port", _ref("Port"))
    built["NetworksResponse"] = _list_of("networks", "Network")
    built["NetworkResponse"] = _wrap("network", _ref("Network"))
    built["AttachmentResponse"] = _wrap("attachment", _ref("Attachment"))
    built["BindingResponse"] = _wrap("binding", _ref("Binding"))
    built["SwitchesResponse"] = _list_of("switches", "Switch")
    built["LinksResponse"] = {
        "type": "object",
        "properties": {
            "links": {"type": "array", "items": _ref("Link")},
            "problems": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Configured links set aside, e.g. contradicted by discovery.",
            },
        },
        "required": ["links", "problems"],
    }
    return {
        "schemas": built,
        "parameters": {
            "vnic_id": _path_param("vnic_id", "The VNIC's id."),
            "port_id": _path_param("port_id", "The port's id."),
            "network_id": _path_param("network_id", "The network's id."),
            "alias": {
                "name": "alias",
                "in": "path",
                "required": True,
                "description": "The extension's alias, e.g. `networks`.",
                "schema": {"type": "string"},
            },
            "tenant_id": {
                "name": "tenant_id",
                "in": "query",
                "required": False,
                "description": "Admins only: only the resources of this project (ignored for others).",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            },
            "network_id_filter": {
                "name": "network_id",
                "in": "query",
                "required": False,
                "description": "Only the ports of this network.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            },
        },
        "securitySchemes": {
            "projectId": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Project-Id",
                "description": "auth.strategy noauth (or keystone): the project the request acts for.",
            },
            "roles": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Roles",
                "description": "auth.strategy noauth (or keystone): comma-separated roles; `admin` makes the "
                "caller an administrator.",
            },
            "authToken": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Auth-Token",
                "description": "auth.strategy token: a token of the tokens file (kept there as its SHA-256).",
            },
        },
    }


def _path_param(name: str, description: str) -> Doc:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description + " Anything that is not a known id (of the caller's project) answers 404.",
        "schema": {"type": "string", "format": "uuid"},
    }


def _param(name: str) -> Doc:
    return {"$ref": f"#/components/parameters/{name}"}


_STATUS_TEXT = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    503: "Service unavailable",
}


def _error(status: int, types: list[str]) -> Doc:
    """An error response whose `error.type` is one of `types`."""
    return {
        "description": f"{_STATUS_TEXT[status]}: {' or '.join(types)}",
        "content": {
            JSON: {
                "schema": {
                    "allOf": [
                        _ref("Error"),
                        {
                            "type": "object",
                            "properties": {
                                "error": {
                                    "type": "object",
                                    "properties": {"type": {"type": "string", "enum": list(types)}},
                                }
                            },
                        },
                    ]
                }
            }
        },
    }


def _ok(status: int, schema_name: str | None, description: str) -> tuple[str, Doc]:
    if schema_name is None:
        return str(status), {"description": description}
    return str(status), {"description": description, "content": {JSON: {"schema": _ref(schema_name)}}}


_PUBLIC: list[dict[str, list[str]]] = []
_AUTHENTICATED: list[dict[str, list[str]]] = [
    {"projectId": []},
    {"projectId": [], "roles": []},
    {"authToken": []},
]


def _op(
    operation_id: str,
    tag: str,
    summary: str,
    ok: tuple[str, Doc],
    errors: dict[int, list[str]] | None = None,
    *,
    params: tuple[str, ...] = (),
    body: str | None = None,
    body_required: bool = True,
    public: bool = False,
    admin: bool = False,
) -> Doc:
    errs: dict[int, list[str]] = {400: ["BadRequest"]}
    if not public:
        errs[401] = ["Unauthorized"]
    if admin:
        errs[403] = ["Forbidden"]
    if body is not None:
        errs[413] = ["RequestTooLarge"]
        errs[415] = ["UnsupportedMediaType"]
    for status, types in (errors or {}).items():
        errs.setdefault(status, [])
        errs[status] = sorted(set(errs[status]) | set(types))
    op: Doc = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "responses": {ok[0]: ok[1], **{str(s): _error(s, t) for s, t in sorted(errs.items())}},
    }
    if params:
        op["parameters"] = [_param(p) for p in params]
    if body is not None:
        op["requestBody"] = {
            "required": body_required,
            "content": {JSON: {"schema": _ref(body)}},
        }
    op["security"] = _PUBLIC if public else _AUTHENTICATED
    if admin:
        op["description"] = "Administrators only (`403 Forbidden` for others)."
    return op


_EXT_NETWORKS = "ExtensionNotFound"


def _paths() -> Doc:
    return {
        "/": {
            "get": _op(
                "versions", "versions", "The API versions this service speaks",
                _ok(200, "VersionsResponse", "The versions, each with a self link"), public=True,
            ),
        },
        "/healthz": {
            "get": _op(
                "healthz", "operations", "Whether the store is reachable and the OpenFlow listener is up",
                _ok(200, "HealthResponse", "Healthy"), {503: ["ServiceUnavailable"]}, public=True,
            ),
        },
        "/v1": {
            "get": _op(
                "version", "versions", "Version v1",
                _ok(200, "VersionResponse", "This version, with a self link"), public=True,
            ),
        },
        "/v1/openapi.json": {
            "get": _op(
                "openapi", "versions", "This document",
                ("200", {"description": "The OpenAPI document", "content": {JSON: {"schema": {"type": "object"}}}}),
                public=True,
            ),
        },
        "/v1/extensions": {
            "get": _op(
                "list_extensions", "extensions", "The extensions the configured driver supports",
                _ok(200, "ExtensionsResponse", "The extensions"),
            ),
        },
        "/v1/extensions/{alias}": {
            "get": _op(
                "show_extension", "extensions", "One extension",
                _ok(200, "ExtensionResponse", "The extension"), {404: ["ExtensionNotFound"]}, params=("alias",),
            ),
        },
        "/v1/vnics": {
            "get": _op(
                "list_vnics", "vnics", "list_vnics()",
                _ok(200, "VnicsResponse", "The caller's VNICs (an admin's: all, or one project's)"),
                params=("tenant_id",),
            ),
            "post": _op(
                "create_vnic", "vnics",
                "create_vnic([mac_address]) (extension ethernet-vnic); without a MAC the server picks a random "
                "unique locally administered unicast one",
                _ok(201, "VnicResponse", "The new VNIC"),
                {404: ["ExtensionNotFound"], 409: ["MacAddressInUse"]},
                body="VnicCreateRequest",
            ),
        },
        "/v1/vnics/{vnic_id}": {
            "get": _op(
                "show_vnic", "vnics", "Show a VNIC",
                _ok(200, "VnicResponse", "The VNIC"), {404: ["VnicNotFound"]}, params=("vnic_id",),
            ),
            "delete": _op(
                "destroy_vnic", "vnics", "destroy_vnic(vnic_id); unplugs it first",
                _ok(204, None, "Destroyed"), {404: ["VnicNotFound"]}, params=("vnic_id",),
            ),
        },
        "/v1/vnics/{vnic_id}/attachment": {
            "delete": _op(
                "unplug_vnic", "ports", "unplug(vnic_id)",
                _ok(204, None, "Unplugged (also when it was not plugged)"), {404: ["VnicNotFound"]},
                params=("vnic_id",),
            ),
        },
        "/v1/vnics/{vnic_id}/binding": {
            "put": _op(
                "bind", "bindings", "Bind a VNIC to a switch port (by port_name or port_no)",
                _ok(200, "BindingResponse", "The binding"),
                {404: ["VnicNotFound"], 409: ["BindingInUse"]},
                params=("vnic_id",), body="BindingRequest", admin=True,
            ),
            "delete": _op(
                "unbind", "bindings", "Unbind a VNIC",
                _ok(204, None, "Unbound (also when it was not bound)"), {404: ["VnicNotFound"]},
                params=("vnic_id",), admin=True,
            ),
        },
        "/v1/ports": {
            "get": _op(
                "list_ports", "ports", "list_ports()",
                _ok(200, "PortsResponse", "The caller's ports (an admin's: all, or one project's)"),
                {},
                params=("network_id_filter", "tenant_id"),
            ),
        },
        "/v1/ports/{port_id}": {
            "get": _op(
                "show_port", "ports", "Show a port; poll it for status ACTIVE",
                _ok(200, "PortResponse", "The port"), {404: ["PortNotFound"]}, params=("port_id",),
            ),
            "delete": _op(
                "destroy_port", "ports", "destroy_port(port_id)",
                _ok(204, None, "Destroyed; its address is free again"),
                {404: ["PortNotFound"], 409: ["PortInUse"]}, params=("port_id",),
            ),
        },
        "/v1/ports/{port_id}/attachment": {
            "put": _op(
                "plug", "ports", "plug(vnic_id, port_id); repeating the same plug is a no-op",
                _ok(200, "AttachmentResponse", "The attachment"),
                {
                    404: ["PortNotFound", "VnicNotFound"],
                    409: ["PortInUse", "AlreadyAttached", "MacAddressInUse"],
                },
                params=("port_id",), body="AttachmentRequest",
            ),
            "get": _op(
                "show_attachment", "ports", "Show the attachment of a port",
                _ok(200, "AttachmentResponse", "The attachment; vnic_id is null when none is plugged"),
                {404: ["PortNotFound"]}, params=("port_id",),
            ),
            "delete": _op(
                "unplug_port", "ports", "Unplug whatever VNIC is plugged into a port",
                _ok(204, None, "Unplugged (also when nothing was plugged)"), {404: ["PortNotFound"]},
                params=("port_id",),
            ),
        },
        "/v1/networks": {
            "get": _op(
                "list_networks", "networks", "list_networks() (extension networks)",
                _ok(200, "NetworksResponse", "The caller's networks (an admin's: all, or one project's)"),
                {404: [_EXT_NETWORKS]}, params=("tenant_id",),
            ),
            "post": _op(
                "create_network", "networks",
                "create_network([address_prefix]) (extension networks); takes a segment from the pool",
                _ok(201, "NetworkResponse", "The new network"),
                {404: [_EXT_NETWORKS], 409: ["SegmentPoolExhausted"]}, body="NetworkCreateRequest",
            ),
        },
        "/v1/networks/{network_id}": {
            "get": _op(
                "show_network", "networks", "Show a network",
                _ok(200, "NetworkResponse", "The network; segment is shown to admins only"),
                {404: ["NetworkNotFound", _EXT_NETWORKS]}, params=("network_id",),
            ),
            "delete": _op(
                "destroy_network", "networks", "destroy_network(network_id); its ports go with it",
                _ok(204, None, "Destroyed"),
                {404: ["NetworkNotFound", _EXT_NETWORKS], 409: ["NetworkInUse"]}, params=("network_id",),
            ),
        },
        "/v1/networks/{network_id}/ports": {
            "post": _op(
                "create_port", "networks",
                "create_port(network_id); with an address range the port gets the next free address",
                _ok(201, "PortResponse", "The new port"),
                {404: ["NetworkNotFound", _EXT_NETWORKS], 409: ["AddressPoolExhausted"]},
                params=("network_id",), body="PortCreateRequest", body_required=False,
            ),
            "get": _op(
                "list_network_ports", "networks", "A network's ports",
                _ok(200, "PortsResponse", "The network's ports"),
                {404: ["NetworkNotFound", _EXT_NETWORKS]}, params=("network_id",),
            ),
        },
        "/v1/switches": {
            "get": _op(
                "list_switches", "operations", "Connected and configured switches and their ports",
                _ok(200, "SwitchesResponse", "The switches"), admin=True,
            ),
        },
        "/v1/links": {
            "get": _op(
                "list_links", "operations", "Inter-switch links in use",
                _ok(200, "LinksResponse", "The links"), admin=True,
            ),
        },
    }


def document(base_url: str) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of the API, served from `base_url`."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "sdnapp network service",
            "version": "v1",
            "description": "Tenant layer-2 networks on OpenFlow switches: VNICs, networks, ports, "
            "attachments and bindings. Errors answer `{\"error\": {\"type\", \"message\"}}`.",
        },
        "servers": [{"url": base_url}],
        "tags": [
            {"name": n}
            for n in ("versions", "extensions", "vnics", "ports", "networks", "bindings", "operations")
        ],
        "paths": _paths(),
        "components": _components(),
    }
