"""The OpenAPI 3.0.3 document of the REST API (shared/API.md), served at GET /v1/openapi.json.

The paths are made from the v1 face's route table (`rest/v1.py`): each operation's summary, tag,
parameters, request body, success and error answers are those its route declares, plus the errors
the dispatcher itself answers (`Route.error_classes`). Bodies and resources come from
`rest.schemas`, converted to OpenAPI 3.0's dialect of JSON schema.
"""

from __future__ import annotations

import copy
from typing import Any

from . import schemas, v1
from .app import QUERY_VALUE_MAX
from .faults import status_of
from .routes import Face, Query, Route

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


def ref(name: str) -> Doc:
    return {"$ref": f"#/components/schemas/{name}"}


def wrap(key: str, inner: Doc) -> Doc:
    return {"type": "object", "properties": {key: inner}, "required": [key]}


def list_of(key: str, name: str) -> Doc:
    return wrap(key, {"type": "array", "items": ref(name)})


VERSION: Doc = {
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


SECURITY_SCHEMES: Doc = {
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
}


def _components(routes: tuple[Route, ...]) -> Doc:
    resources = {
        "Error": schemas.ERROR,
        "Network": schemas.NETWORK,
        "Port": schemas.PORT,
        "Vnic": schemas.VNIC,
        "PluggedPort": schemas.PLUGGED_PORT,
        "Binding": schemas.BINDING,
        "Attachment": schemas.ATTACHMENT,
        "Extension": schemas.EXTENSION,
        "Switch": schemas.SWITCH,
        "LinkEnd": schemas.LINK_END,
        "Link": schemas.LINK,
        "KnownLink": schemas.KNOWN_LINK,
        "NetworkWithPorts": schemas.VIEW_NETWORK,
        "Trace": schemas.TRACE,
        "Flow": schemas.PORT_FLOW,
        "FloatingAddress": schemas.FLOATING_ADDRESS,
    }
    built: Doc = {name: to_openapi(s) for name, s in resources.items()}
    built["Version"] = VERSION
    built["VersionsResponse"] = list_of("versions", "Version")
    built["VersionResponse"] = wrap("version", ref("Version"))
    built["HealthResponse"] = _HEALTH
    built["OpenApiDocument"] = {"type": "object", "description": "An OpenAPI 3.0.3 document."}
    built["ExtensionsResponse"] = list_of("extensions", "Extension")
    built["ExtensionResponse"] = wrap("extension", ref("Extension"))
    built["VnicsResponse"] = list_of("vnics", "Vnic")
    built["VnicResponse"] = wrap("vnic", ref("Vnic"))
    built["PortsResponse"] = list_of("ports", "Port")
    built["PortResponse"] = wrap("port", ref("Port"))
    built["NetworksResponse"] = list_of("networks", "Network")
    built["NetworkResponse"] = wrap("network", ref("Network"))
    built["NetworkCreatedResponse"] = {"oneOf": [ref("NetworkResponse"), ref("NetworksResponse")]}
    built["AttachmentResponse"] = wrap("attachment", ref("Attachment"))
    built["FloatingAddressesResponse"] = list_of("floating_addresses", "FloatingAddress")
    built["FloatingAddressResponse"] = wrap("floating_address", ref("FloatingAddress"))
    built["PluggedPortsResponse"] = list_of("plugged_ports", "PluggedPort")
    built["BindingResponse"] = wrap("binding", ref("Binding"))
    built["SwitchesResponse"] = list_of("switches", "Switch")
    built["TopologyResponse"] = {
        "type": "object",
        "properties": {
            "switches": {"type": "array", "items": ref("Switch")},
            "links": {"type": "array", "items": ref("KnownLink")},
            "networks": {"type": "array", "items": ref("NetworkWithPorts")},
        },
        "required": ["switches", "links", "networks"],
    }
    built["TraceResponse"] = wrap("trace", ref("Trace"))
    built["PortFlowsResponse"] = {
        "type": "object",
        "properties": {
            "port": _trace_source(),
            "note": {"type": "string", "nullable": True, "description": "Why the port has no flows, if so."},
            "flows": {"type": "array", "items": ref("Flow")},
        },
        "required": ["port", "note", "flows"],
    }
    built["Metrics"] = {"type": "string", "description": "Prometheus's text exposition format."}
    built["StaticFile"] = {"type": "string", "description": "A file of the live page."}
    built["LinksResponse"] = {
        "type": "object",
        "properties": {
            "links": {"type": "array", "items": ref("Link")},
            "problems": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Configured links set aside, e.g. contradicted by discovery.",
            },
        },
        "required": ["links", "problems"],
    }
    parameters: Doc = {
        "vnic_id": path_param("vnic_id", "The VNIC's id."),
        "port_id": path_param("port_id", "The port's id."),
        "network_id": path_param("network_id", "The network's id."),
        "floating_id": path_param("floating_id", "The floating address's id."),
        "alias": {
            "name": "alias",
            "in": "path",
            "required": True,
            "description": "The extension's alias, e.g. `networks`.",
            "schema": {"type": "string"},
        },
    }
    parameters["asset"] = {
        "name": "asset",
        "in": "path",
        "required": True,
        "description": "A file's name, e.g. `app.js`.",
        "schema": {"type": "string"},
    }
    for r in routes:
        if r.body is not None:
            add(built, r.body.name, to_openapi(r.body.schema))
        for q in r.query:
            add(parameters, q.ref, {
                "name": q.name,
                "in": "query",
                "required": q.required,
                "description": q.description,
                "schema": _query_schema(q),
            })
    return {
        "schemas": built,
        "parameters": parameters,
        "securitySchemes": SECURITY_SCHEMES,
    }


def _trace_source() -> Doc:
    """Where a port's traffic enters, as the trace's `from` says it."""
    return to_openapi(schemas.TRACE["properties"]["from"])


def _query_schema(q: Query) -> Doc:
    if q.kind == "integer":
        return {"type": "integer", "minimum": q.minimum, "maximum": q.maximum}
    if q.kind == "boolean":
        return {"type": "boolean"}
    return {"type": "string", "minLength": 1, "maxLength": QUERY_VALUE_MAX}


def add(components: Doc, name: str, item: Doc) -> None:
    """A component several routes share is one component; two different ones under one name are an error."""
    if components.setdefault(name, item) != item:
        raise ValueError(f"two different components are both named {name!r}")


def path_param(name: str, description: str) -> Doc:
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
    405: "Method not allowed",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    500: "Internal server error",
    503: "Service unavailable",
}


def _error(status: int, types: list[str], error: tuple[str, str]) -> Doc:
    """An error response whose type is one of `types`; `error` names the error body's schema and the
    key its type sits under (v1: ("Error", "error"))."""
    schema_name, key = error
    return {
        "description": f"{_STATUS_TEXT[status]}: {' or '.join(types)}",
        "content": {
            JSON: {
                "schema": {
                    "allOf": [
                        ref(schema_name),
                        {
                            "type": "object",
                            "properties": {
                                key: {
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


PUBLIC: list[dict[str, list[str]]] = []
AUTHENTICATED: list[dict[str, list[str]]] = [
    {"projectId": []},
    {"projectId": [], "roles": []},
    {"authToken": []},
]
_ADMIN_ONLY = "Administrators only (`403 Forbidden` for others)."


def _error_types(face: Face, route: Route) -> dict[int, list[str]]:
    """Status -> the error types `route` may answer with it: the dispatcher's and the route's own."""
    out: dict[int, set[str]] = {}
    for cls in route.error_classes():
        status = status_of(face.faults, cls)
        assert status is not None, "Face refuses a route with an error it has no status for"
        out.setdefault(status, set()).add(face.error_type(cls))
    return {status: sorted(types) for status, types in sorted(out.items())}


def operation(
    face: Face,
    route: Route,
    error: tuple[str, str] = ("Error", "error"),
    security: list[dict[str, list[str]]] | None = None,
    parameters: list[str] | None = None,
) -> Doc:
    """The OpenAPI operation of a route; `parameters` (names in the document's components) replace the
    route's declared ones."""
    ok: Doc = {"description": route.ok.description}
    if route.ok.schema is not None:
        ok["content"] = {media: {"schema": ref(route.ok.schema)} for media in route.ok.media}
    op: Doc = {
        "operationId": route.name,
        "tags": [route.tag],
        "summary": route.summary,
        "responses": {
            str(route.ok.status): ok,
            **{str(s): _error(s, t, error) for s, t in _error_types(face, route).items()},
        },
    }
    params = [*route.path_params, *(parameters if parameters is not None else (q.ref for q in route.query))]
    if params:
        op["parameters"] = [_param(p) for p in params]
    if route.body is not None:
        op["requestBody"] = {"required": not route.body.optional, "content": {JSON: {"schema": ref(route.body.name)}}}
    op["security"] = PUBLIC if route.public else (security if security is not None else AUTHENTICATED)
    description = " ".join(d for d in (route.description, _ADMIN_ONLY if route.admin else "") if d)
    if description:
        op["description"] = description
    return op


def _paths(face: Face) -> Doc:
    paths: Doc = {}
    for r in face.routes:
        paths.setdefault(r.path, {})[r.method.lower()] = operation(face, r)
    return paths


def document(base_url: str) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of the v1 face, served from `base_url`."""
    face = v1.FACE
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "sdnapp network service",
            "version": "v1",
            "description": "Tenant layer-2 networks on OpenFlow switches: VNICs, networks, ports, "
            "attachments and bindings. Errors answer `{\"error\": {\"type\", \"message\"}}`.",
        },
        "servers": [{"url": base_url}],
        "tags": [{"name": n} for n in face.tags],
        "paths": _paths(face),
        "components": _components(face.routes),
    }
