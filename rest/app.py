"""The WSGI application: picks the face a path belongs to, routes, authenticates, reads and checks
the query and the JSON body, calls the route's handler, and answers errors as that face does.

Nothing here belongs to one version of the API: the faces (`rest/v1.py`, later Neutron's v2.0)
bring their routes, their error statuses and their error bodies.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from webob import Request, Response

from sdnapp import engines, errors
from sdnapp.metrics import NO_METRICS, Metrics
from sdnapp.service import NetworkService
from sdnapp.trace import Tracer

from . import v1
from .auth import Authenticator
from .faults import HttpError, NotFound, RequestTooLarge, StoreUnavailable, UnsupportedMediaType, status_of
from .routes import METHODS, Body, Call, Face, Raw, Route

LOG = logging.getLogger(__name__)

QUERY_VALUE_MAX = 255


class Api:
    """The WSGI app: every face of the API over one service."""

    def __init__(
        self,
        service: NetworkService,
        auth: Authenticator,
        max_body_bytes: int,
        ready: Callable[[], bool],
        openapi: Callable[[str], dict[str, Any]],
        faces: Sequence[Face] = (v1.FACE,),
        switch_report: Callable[[int], dict[str, Any]] = lambda dpid: {},
        tracer: Tracer | None = None,
        metrics: Metrics = NO_METRICS,
        open_routes: frozenset[str] = frozenset(),
        face_auth: Mapping[str, Authenticator] | None = None,
    ) -> None:
        """`switch_report` adds to each switch of GET /v1/switches what the switch side knows of it;
        `tracer` runs frames through the wanted flows (by default over the service's store and
        topology, without tunnels); `metrics` counts requests and is what GET /metrics serves;
        `open_routes` names routes (by handler) served without credentials (`metrics.public`);
        `face_auth` gives a face (by prefix) its own authenticator instead of `auth`."""
        self.svc = service
        self.auth = auth
        self.max_body = max_body_bytes
        self.ready = ready
        self.openapi_doc = openapi
        self.versions = [f.version for f in faces if f.version is not None]  # in the order given
        self.faces = sorted(faces, key=lambda f: len(f.prefix), reverse=True)
        self.switch_report = switch_report
        self.tracer = tracer or Tracer.over(service.store, service.topology, service.pool.type)
        self.metrics = metrics
        self.open_routes = open_routes
        self._face_auth = dict(face_auth or {})

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        req = Request(environ)
        # PATH_INFO as the server gave it: req.path_info raises on a path that is not UTF-8.
        raw_path = environ.get("PATH_INFO", "")
        face = next((f for f in self.faces if f.owns(raw_path)), self.faces[-1])
        route: list[Route] = []  # the route reached, for the metrics' label
        try:
            resp = self._dispatch(face, req, route)
        except Exception as e:
            status = status_of(face.faults, type(e))
            if status is None:
                LOG.error("unexpected error on %s %r", req.method, raw_path[:200], exc_info=e)
                resp = _response(500, face.error_body(face.internal_error, "internal error; see the service log"))
            else:
                resp = _response(status, face.error_body(face.error_type(type(e)), str(e)))
                if isinstance(e, HttpError):
                    resp.headers.update(e.headers)
        method = req.method if req.method in METHODS else "other"
        label = route[0].path if route else "unmatched"  # bounded: a route's template, never the raw path
        self.metrics.api_request(label, method, resp.status_int, time.perf_counter() - started)
        return resp(environ, start_response)

    def _dispatch(self, face: Face, req: Request, reached: list[Route]) -> Response:
        try:
            path = req.path_info
        except UnicodeDecodeError:
            raise NotFound("no resource at a path that is not UTF-8") from None
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        route, params = face.match(req.method, path)
        reached.append(route)
        who = None
        if not (route.public or route.name in self.open_routes):
            who = self._face_auth.get(face.prefix, self.auth).caller(req.headers)
            if route.admin and not who.is_admin:
                raise errors.Forbidden("this call is for administrators")
        items = self._items(req)
        query = {} if route.raw_query else self._query(items, route)
        body = self._body(req, route, face)
        try:
            answer = route.handler(Call(self, req, who, params, query, body, tuple(items)))
        except engines.StoreUnavailable as e:
            raise StoreUnavailable(str(e)) from None
        return _response(route.ok.status, answer)

    @staticmethod
    def _items(req: Request) -> list[tuple[str, str]]:
        try:
            items = _query_items(req.environ.get("QUERY_STRING", ""))
        except UnicodeError:
            raise errors.BadRequest("the query string is not UTF-8") from None
        for k, v in items:
            if len(k) > QUERY_VALUE_MAX or len(v) > QUERY_VALUE_MAX:
                raise errors.BadRequest(f"query parameter {k[:64]!r} is longer than {QUERY_VALUE_MAX} characters")
        return items

    @staticmethod
    def _query(items: list[tuple[str, str]], route: Route) -> dict[str, str]:
        out: dict[str, str] = {}
        accepted = {q.name: q for q in route.query}
        for k, v in items:
            q = accepted.get(k)
            if q is None:
                raise errors.BadRequest(f"unknown query parameter {k[:64]!r}")
            if k in out:
                raise errors.BadRequest(f"query parameter {k!r} given twice")
            if not v or len(v) > QUERY_VALUE_MAX:
                raise errors.BadRequest(f"query parameter {k!r} must be 1 to {QUERY_VALUE_MAX} characters")
            if q.kind == "integer" and not (_INTEGER.match(v) and q.minimum <= int(v) <= q.maximum):
                raise errors.BadRequest(f"query parameter {k!r} must be an integer from {q.minimum} to {q.maximum}")
            if q.kind == "boolean" and v not in ("true", "false"):
                raise errors.BadRequest(f"query parameter {k!r} must be true or false")
            out[k] = v
        missing = [q.name for q in route.query if q.required and q.name not in out]
        if missing:
            raise errors.BadRequest(f"query parameter {missing[0]!r} is required")
        return out

    def _body(self, req: Request, route: Route, face: Face) -> Any:
        limit = route.body.max_bytes if route.body is not None and route.body.max_bytes else self.max_body
        length = req.content_length
        if length is not None and length > limit:
            raise RequestTooLarge(f"the body is larger than {limit} bytes")
        raw = req.body_file_raw.read(limit + 1) if (length or req.is_body_readable) else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"the body is larger than {limit} bytes")
        if route.body is None:
            if raw.strip():
                raise errors.BadRequest(f"{route.method} {route.path} takes no body")
            return None
        if not raw.strip():
            if route.body.optional:
                return None
            raise errors.BadRequest("a JSON body is required")
        ctype = (req.content_type or "").lower()
        if ctype != "application/json":
            raise UnsupportedMediaType(f"the body must be application/json, not {ctype[:64] or 'untyped'}")
        charset = (req.headers.get("Content-Type", "").lower().partition("charset=")[2] or "utf-8").strip(" \"'")
        if charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType("the body must be UTF-8 encoded JSON")
        try:
            doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
            # A lone surrogate (\ud800) parses but cannot be stored: refuse it here.
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise errors.BadRequest("the body is not valid JSON: nested too deeply") from None
        except (UnicodeError, ValueError) as e:
            raise errors.BadRequest(f"the body is not valid JSON: {str(e)[:200]}") from None
        errs = sorted(route.body.validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if errs:
            raise face.body_error(errs[0])
        return doc


_INTEGER = re.compile(r"^-?[0-9]{1,10}$")


def _response(status: int, body: Body) -> Response:
    if body is None:
        return Response(status=status)
    if isinstance(body, Raw):
        return Response(status=status, body=body.data, headerlist=[("Content-Type", body.content_type),
                                                                   *body.headers.items()])
    return Response(status=status, body=json.dumps(body).encode(), content_type="application/json", charset=None)


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
