"""The WSGI application: routes, authentication, JSON in and out, errors to HTTP."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

import jsonschema
from webob import Request, Response

from sdnapp import errors
from sdnapp.model import Caller
from sdnapp.service import NetworkService

from . import faults, schemas, views
from .auth import Authenticator

LOG = logging.getLogger(__name__)

Body = dict[str, Any] | None
Handler = Callable[..., tuple[int, Body]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: str
    body: schemas.Schema | None = None
    body_optional: bool = False
    query: tuple[str, ...] = ()
    public: bool = False
    regex: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        object.__setattr__(self, "regex", re.compile(f"^{pattern}$"))


ROUTES: tuple[Route, ...] = (
    Route("GET", "/", "versions", public=True),
    Route("GET", "/healthz", "healthz", public=True),
    Route("GET", "/v1", "version", public=True),
    Route("GET", "/v1/openapi.json", "openapi", public=True),
    Route("GET", "/v1/extensions", "list_extensions"),
    Route("GET", "/v1/extensions/{alias}", "show_extension"),
    Route("GET", "/v1/vnics", "list_vnics", query=("tenant_id",)),
    Route("POST", "/v1/vnics", "create_vnic", body=schemas.VNIC_CREATE),
    Route("GET", "/v1/vnics/{vnic_id}", "show_vnic"),
    Route("DELETE", "/v1/vnics/{vnic_id}", "destroy_vnic"),
    Route("DELETE", "/v1/vnics/{vnic_id}/attachment", "unplug_vnic"),
    Route("PUT", "/v1/vnics/{vnic_id}/binding", "bind", body=schemas.BINDING_PUT),
    Route("DELETE", "/v1/vnics/{vnic_id}/binding", "unbind"),
    Route("GET", "/v1/ports", "list_ports", query=("network_id", "tenant_id")),
    Route("GET", "/v1/ports/{port_id}", "show_port"),
    Route("DELETE", "/v1/ports/{port_id}", "destroy_port"),
    Route("PUT", "/v1/ports/{port_id}/attachment", "plug", body=schemas.ATTACHMENT_PUT),
    Route("GET", "/v1/ports/{port_id}/attachment", "show_attachment"),
    Route("DELETE", "/v1/ports/{port_id}/attachment", "unplug_port"),
    Route("GET", "/v1/networks", "list_networks", query=("tenant_id",)),
    Route("POST", "/v1/networks", "create_network", body=schemas.NETWORK_CREATE),
    Route("GET", "/v1/networks/{network_id}", "show_network"),
    Route("DELETE", "/v1/networks/{network_id}", "destroy_network"),
    Route("POST", "/v1/networks/{network_id}/ports", "create_port", body=schemas.PORT_CREATE, body_optional=True),
    Route("GET", "/v1/networks/{network_id}/ports", "list_network_ports"),
    Route("GET", "/v1/switches", "list_switches"),
    Route("GET", "/v1/links", "list_links"),
)

# The status of each error, looked up along its class's MRO; anything else is an internal error.
FAULTS: faults.FaultMap = {
    **faults.HTTP_FAULTS,
    errors.BadRequest: 400,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
}

_VALIDATORS = {
    id(r.body): jsonschema.Draft7Validator(r.body) for r in ROUTES if r.body is not None
}


def _schema_message(e: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in e.absolute_path) or "body"
    if e.validator == "additionalProperties":
        msg = e.message.replace("were unexpected", "are not allowed").replace("was unexpected", "is not allowed")
        return f"{where}: {msg}"
    if e.validator == "oneOf" and where.endswith("binding"):
        return f"{where}: give exactly one of port_name and port_no"
    return f"{where}: {e.message}"


class Api:
    def __init__(
        self,
        service: NetworkService,
        auth: Authenticator,
        max_body_bytes: int,
        ready: Callable[[], bool],
        openapi: Callable[[str], dict[str, Any]],
    ) -> None:
        self.svc = service
        self.auth = auth
        self.max_body = max_body_bytes
        self.ready = ready
        self.openapi_doc = openapi

    # WSGI ----------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        req = Request(environ)
        try:
            status, body = self._dispatch(req)
        except Exception as e:
            known = faults.status_of(FAULTS, type(e))
            if known is None:
                # PATH_INFO as the server gave it: req.path_info raises on a path that is not UTF-8.
                LOG.exception("unexpected error on %s %r", req.method, environ.get("PATH_INFO", "")[:200])
                status = 500
                body = {"error": {"type": "InternalError", "message": "internal error; see the service log"}}
            else:
                resp = self._response(known, {"error": {"type": type(e).__name__, "message": str(e)}})
                if isinstance(e, faults.HttpError):
                    resp.headers.update(e.headers)
                return resp(environ, start_response)
        return self._response(status, body)(environ, start_response)

    @staticmethod
    def _response(status: int, body: Body) -> Response:
        if body is None:
            return Response(status=status)
        return Response(
            status=status,
            body=json.dumps(body).encode(),
            content_type="application/json",
            charset=None,
        )

    def _allowed(self, path: str) -> list[str]:
        if len(path) > 1:
            path = path.rstrip("/")  # as _dispatch matches it
        return [r.method for r in ROUTES if r.regex.match(path)]

    def _dispatch(self, req: Request) -> tuple[int, Body]:
        try:
            path = req.path_info
        except UnicodeDecodeError:
            raise faults.NotFound("no resource at a path that is not UTF-8") from None
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        route, params = None, {}
        path_matched = False
        for r in ROUTES:
            m = r.regex.match(path)
            if m is None:
                continue
            path_matched = True
            if r.method == req.method:
                route, params = r, m.groupdict()
                break
        if route is None:
            if path_matched:
                raise faults.MethodNotAllowed(f"{req.method} is not allowed on {path}", self._allowed(path))
            raise faults.NotFound(f"no resource at {path[:200]}")

        caller = None if route.public else self.auth.caller(req.headers)
        query = self._query(req, route)
        body = self._body(req, route)
        handler: Handler = getattr(self, "h_" + route.handler)
        return handler(req=req, caller=caller, query=query, body=body, **params)

    def _query(self, req: Request, route: Route) -> dict[str, str]:
        out: dict[str, str] = {}
        try:
            items = _query_items(req.environ.get("QUERY_STRING", ""))
        except UnicodeError:
            raise errors.BadRequest("the query string is not UTF-8") from None
        for k, v in items:
            if k not in route.query:
                raise errors.BadRequest(f"unknown query parameter {k[:64]!r}")
            if k in out:
                raise errors.BadRequest(f"query parameter {k!r} given twice")
            if not v or len(v) > 255:
                raise errors.BadRequest(f"query parameter {k!r} must be 1 to 255 characters")
            out[k] = v
        return out

    def _body(self, req: Request, route: Route) -> Any:
        length = req.content_length
        if length is not None and length > self.max_body:
            raise faults.RequestTooLarge(f"the body is larger than {self.max_body} bytes")
        raw = req.body_file_raw.read(self.max_body + 1) if (length or req.is_body_readable) else b""
        if len(raw) > self.max_body:
            raise faults.RequestTooLarge(f"the body is larger than {self.max_body} bytes")
        if route.body is None:
            if raw.strip():
                raise errors.BadRequest(f"{route.method} {route.path} takes no body")
            return None
        if not raw.strip():
            if route.body_optional:
                return None
            raise errors.BadRequest("a JSON body is required")
        ctype = (req.content_type or "").lower()
        if ctype != "application/json":
            raise faults.UnsupportedMediaType(
                f"the body must be application/json, not {ctype[:64] or 'untyped'}"
            )
        charset = (req.headers.get("Content-Type", "").lower().partition("charset=")[2] or "utf-8").strip(" \"'")
        if charset not in ("utf-8", "utf8"):
            raise faults.UnsupportedMediaType("the body must be UTF-8 encoded JSON")
        try:
            doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
            # A lone surrogate (\ud800) parses but cannot be stored: refuse it here.
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise errors.BadRequest("the body is not valid JSON: nested too deeply") from None
        except (UnicodeError, ValueError) as e:
            raise errors.BadRequest(f"the body is not valid JSON: {str(e)[:200]}") from None
        errs = sorted(_VALIDATORS[id(route.body)].iter_errors(doc), key=lambda e: list(e.absolute_path))
        if errs:
            raise errors.BadRequest(_schema_message(errs[0]))
        return doc

    # handlers --------------------------------------------------------------
    def h_versions(self, req: Request, **_: Any) -> tuple[int, Body]:
        return 200, {"versions": [self._version(req)]}

    def h_version(self, req: Request, **_: Any) -> tuple[int, Body]:
        return 200, {"version": self._version(req)}

    @staticmethod
    def _version(req: Request) -> dict[str, Any]:
        return {"id": "v1", "status": "CURRENT", "links": [{"rel": "self", "href": f"{req.host_url}/v1"}]}

    def h_healthz(self, **_: Any) -> tuple[int, Body]:
        store_ok, of_ok = self.svc.healthy(), self.ready()
        body = {"store": "ok" if store_ok else "unreachable", "openflow": "listening" if of_ok else "down"}
        if store_ok and of_ok:
            return 200, {"status": "ok", **body}
        raise faults.ServiceUnavailable(json.dumps(body))

    def h_openapi(self, req: Request, **_: Any) -> tuple[int, Body]:
        return 200, self.openapi_doc(req.host_url)

    def h_list_extensions(self, **_: Any) -> tuple[int, Body]:
        return 200, {"extensions": self.svc.list_extensions()}

    def h_show_extension(self, alias: str, **_: Any) -> tuple[int, Body]:
        return 200, {"extension": self.svc.get_extension(alias)}

    # vnics
    def h_list_vnics(self, caller: Caller, query: dict[str, str], **_: Any) -> tuple[int, Body]:
        vs = self.svc.list_vnics(caller, query.get("tenant_id"))
        return 200, {"vnics": [views.vnic(v, self.svc) for v in vs]}

    def h_create_vnic(self, caller: Caller, body: dict[str, Any], **_: Any) -> tuple[int, Body]:
        b = body["vnic"]
        v = self.svc.create_vnic(caller, b.get("mac_address"), b.get("name", ""))
        return 201, {"vnic": views.vnic(v, self.svc)}

    def h_show_vnic(self, caller: Caller, vnic_id: str, **_: Any) -> tuple[int, Body]:
        return 200, {"vnic": views.vnic(self.svc.get_vnic(caller, vnic_id), self.svc)}

    def h_destroy_vnic(self, caller: Caller, vnic_id: str, **_: Any) -> tuple[int, Body]:
        self.svc.destroy_vnic(caller, vnic_id)
        return 204, None

    def h_unplug_vnic(self, caller: Caller, vnic_id: str, **_: Any) -> tuple[int, Body]:
        self.svc.unplug_vnic(caller, vnic_id)
        return 204, None

    def h_bind(self, caller: Caller, vnic_id: str, body: dict[str, Any], **_: Any) -> tuple[int, Body]:
        b = body["binding"]
        v = self.svc.bind(caller, vnic_id, b["datapath_id"], b.get("port_no"), b.get("port_name"))
        return 200, {"binding": views.vnic(v, self.svc)["binding"]}

    def h_unbind(self, caller: Caller, vnic_id: str, **_: Any) -> tuple[int, Body]:
        self.svc.unbind(caller, vnic_id)
        return 204, None

    # ports
    def h_list_ports(self, caller: Caller, query: dict[str, str], **_: Any) -> tuple[int, Body]:
        ps = self.svc.list_ports(caller, query.get("network_id"), query.get("tenant_id"))
        return 200, {"ports": [views.port(p, self.svc) for p in ps]}

    def h_show_port(self, caller: Caller, port_id: str, **_: Any) -> tuple[int, Body]:
        return 200, {"port": views.port(self.svc.get_port(caller, port_id), self.svc)}

    def h_destroy_port(self, caller: Caller, port_id: str, **_: Any) -> tuple[int, Body]:
        self.svc.destroy_port(caller, port_id)
        return 204, None

    def h_plug(self, caller: Caller, port_id: str, body: dict[str, Any], **_: Any) -> tuple[int, Body]:
        p = self.svc.plug(caller, port_id, body["attachment"]["vnic_id"])
        return 200, {"attachment": views.attachment(p)}

    def h_show_attachment(self, caller: Caller, port_id: str, **_: Any) -> tuple[int, Body]:
        return 200, {"attachment": views.attachment(self.svc.get_attachment(caller, port_id))}

    def h_unplug_port(self, caller: Caller, port_id: str, **_: Any) -> tuple[int, Body]:
        self.svc.unplug_port(caller, port_id)
        return 204, None

    # networks
    def h_list_networks(self, caller: Caller, query: dict[str, str], **_: Any) -> tuple[int, Body]:
        ns = self.svc.list_networks(caller, query.get("tenant_id"))
        return 200, {"networks": [views.network(n, caller) for n in ns]}

    def h_create_network(self, caller: Caller, body: dict[str, Any], **_: Any) -> tuple[int, Body]:
        b = body["network"]
        n = self.svc.create_network(caller, b.get("name", ""), b.get("address_prefix"))
        return 201, {"network": views.network(n, caller)}

    def h_show_network(self, caller: Caller, network_id: str, **_: Any) -> tuple[int, Body]:
        return 200, {"network": views.network(self.svc.get_network(caller, network_id), caller)}

    def h_destroy_network(self, caller: Caller, network_id: str, **_: Any) -> tuple[int, Body]:
        self.svc.destroy_network(caller, network_id)
        return 204, None

    def h_create_port(self, caller: Caller, network_id: str, body: Body, **_: Any) -> tuple[int, Body]:
        name = (body or {}).get("port", {}).get("name", "")
        p = self.svc.create_port(caller, network_id, name)
        return 201, {"port": views.port(p, self.svc)}

    def h_list_network_ports(self, caller: Caller, network_id: str, **_: Any) -> tuple[int, Body]:
        n = self.svc.get_network(caller, network_id)
        ps = self.svc.list_ports(caller, network_id=n.id)
        return 200, {"ports": [views.port(p, self.svc) for p in ps]}

    # operations (admin)
    def h_list_switches(self, caller: Caller, **_: Any) -> tuple[int, Body]:
        switches = self.svc.switches(caller)
        return 200, {"switches": [views.switch(s, self.svc.switch_extras(s.datapath_id)) for s in switches]}

    def h_list_links(self, caller: Caller, **_: Any) -> tuple[int, Body]:
        links, problems = self.svc.links(caller)
        return 200, {"links": [views.link(u) for u in links], "problems": problems}


def _query_items(query_string: str) -> list[tuple[str, str]]:
    """The query's name=value pairs, split at '&' only.

    WebOb's `req.GET` also splits at ';' (so `?tenant_id=a;;` would read as `a`): a query
    then means one thing to the app and another to a client or a proxy in front of it, as
    in CVE-2021-23336, after which browsers' rule, '&' alone, became Python's too.
    """
    items = []
    for part in query_string.encode("latin-1").split(b"&"):  # WSGI gives the raw bytes as latin-1
        if part:
            name, _, value = part.partition(b"=")
            items.append((
                unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8"),
                unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8"),
            ))
    return items


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")
