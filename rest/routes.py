"""How a face of the API declares its routes: one `Route` per operation, with everything the
dispatcher and the OpenAPI document need, and a `Face` holding a version's table with its way
of answering errors.

A declaration that is missing a part or contradicts itself fails when the module declaring it is
imported, not when a request finds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jsonschema
from webob import Request

from sdnapp import errors as domain
from sdnapp.model import Caller

from .faults import FaultMap, MethodNotAllowed, NotFound, RequestTooLarge, Unauthorized, UnsupportedMediaType, status_of
from .schemas import Schema

if TYPE_CHECKING:
    from sdnapp.service import NetworkService

    from .app import Api

METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH")
JSON = "application/json"


@dataclass(frozen=True)
class Raw:
    """A body that is not JSON (the metrics' text, the page's files), with its content type."""

    content_type: str
    data: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


Body = dict[str, Any] | Raw | None


@dataclass(frozen=True)
class Call:
    """One request as its handler sees it: already routed, authenticated and validated."""

    api: Api
    req: Request
    who: Caller | None  # None on a public route
    path: Mapping[str, str]
    query: Mapping[str, str]  # a route's declared parameters, each given once (see Route.raw_query)
    body: Any
    items: tuple[tuple[str, str], ...] = ()  # the whole query, in order, for a route that reads it itself

    @property
    def svc(self) -> NetworkService:
        return self.api.svc

    @property
    def caller(self) -> Caller:
        if self.who is None:
            raise RuntimeError("a public route's handler asked for a caller")
        return self.who


# A handler returns the body of its route's success; the status is the route's `ok.status`.
Handler = Callable[[Call], Body]


@dataclass(frozen=True)
class Ok:
    """A route's success: its status, its body's schema (a name among the document's schemas;
    None for no body), what it means, and the media types its body comes in (JSON unless said)."""

    status: int
    schema: str | None
    description: str
    media: tuple[str, ...] = (JSON,)

    def __post_init__(self) -> None:
        if not 200 <= self.status < 300:
            raise ValueError(f"a success is a 2xx status, not {self.status}")
        if (self.status == 204) != (self.schema is None):
            raise ValueError("a success has a body schema exactly when it is not 204")
        if not self.description:
            raise ValueError("a success needs a description")


@dataclass(frozen=True)
class RequestBody:
    """A request body: its name among the document's schemas and its JSON schema (draft 7),
    whose validator is made once, here."""

    name: str
    schema: Schema
    optional: bool = False
    max_bytes: int | None = None  # a bulk call's own limit; None: the API's configured max_body_bytes
    validator: jsonschema.Draft7Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        jsonschema.Draft7Validator.check_schema(self.schema)
        object.__setattr__(self, "validator", jsonschema.Draft7Validator(self.schema))


@dataclass(frozen=True)
class Query:
    """A query parameter a route accepts; `component` names it in the document when its name is
    taken there (by a path parameter of the same name). Its value is a string, or (`kind`) an
    integer from `minimum` to `maximum`, or a boolean (true or false); the dispatcher refuses
    any other, and a `required` one that is missing, before the handler runs."""

    name: str
    description: str
    component: str = ""
    required: bool = False
    kind: str = "string"
    minimum: int = 0
    maximum: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("string", "integer", "boolean"):
            raise ValueError(f"query parameter {self.name}: no kind {self.kind!r}")

    @property
    def ref(self) -> str:
        return self.component or self.name


@dataclass(frozen=True)
class Route:
    """One operation. `errors` are those its handler may raise (the service's, mostly); the
    dispatcher's own are added by `error_classes`."""

    method: str
    path: str
    handler: Handler
    tag: str
    summary: str
    ok: Ok
    errors: tuple[type[Exception], ...] = ()
    body: RequestBody | None = None
    query: tuple[Query, ...] = ()
    public: bool = False  # no credentials asked
    admin: bool = False  # the dispatcher refuses others (Forbidden), as the service does for its own
    description: str = ""
    # The handler reads the query itself (`Call.items`: repeated and unknown names included), as
    # Neutron's filters need; otherwise only the declared parameters are accepted, each once.
    raw_query: bool = False
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"{self.method} {self.path}"
        if self.method not in METHODS or not self.path.startswith("/"):
            raise ValueError(f"{where}: not a method and an absolute path")
        if not self.tag or not self.summary.strip():
            raise ValueError(f"{where}: a route needs a tag and a summary")
        if self.public and self.admin:
            raise ValueError(f"{where}: a public route cannot be for administrators")
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        object.__setattr__(self, "regex", re.compile(f"^{pattern}$"))

    @property
    def name(self) -> str:
        """The operation's name (the document's operationId): its handler's."""
        return self.handler.__name__

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(self.regex.groupindex)

    def error_classes(self) -> tuple[type[Exception], ...]:
        """Every error the route may answer: those `app.Api` raises before the handler runs (a bad
        query or body, no credentials), Forbidden on an admin route, and the route's own."""
        out: list[type[Exception]] = [domain.BadRequest]
        if not self.public:
            out.append(Unauthorized)
        if self.admin:
            out.append(domain.Forbidden)
        if self.body is not None:
            out += [RequestTooLarge, UnsupportedMediaType]
        return (*out, *self.errors)


def _class_name(cls: type[Exception]) -> str:
    return cls.__name__


def schema_message(e: jsonschema.ValidationError) -> str:
    """v1's words for what a request body's schema found wrong."""
    where = "/".join(str(p) for p in e.absolute_path) or "body"
    if e.validator == "oneOf" and where == "body" and e.context:
        # A body of none of several shapes (one network or many): what is wrong with it
        # as the shape it came closest to (fewest errors; the first shape on a tie).
        by_shape: dict[int, list[jsonschema.ValidationError]] = {}
        for sub in e.context:
            by_shape.setdefault(int(sub.schema_path[0]), []).append(sub)
        closest = min(by_shape.values(), key=len)
        return schema_message(min(closest, key=lambda s: list(map(str, s.absolute_path))))
    if e.validator == "additionalProperties":
        msg = e.message.replace("were unexpected", "are not allowed").replace("was unexpected", "is not allowed")
        return f"{where}: {msg}"
    if e.validator == "oneOf" and where.endswith("binding"):
        return f"{where}: give exactly one of port_name and port_no"
    return f"{where}: {e.message}"


def _bad_body(e: jsonschema.ValidationError) -> Exception:
    return domain.BadRequest(schema_message(e))


@dataclass(frozen=True)
class Face:
    """One version of the API over the same service: the paths under `prefix` (the face with the
    longest prefix owns a path), its routes, its map of errors to statuses, and how it names an
    error, shapes an error body, refuses a body its schema does not take, and shows itself in the
    list of versions (`GET /`)."""

    prefix: str
    tags: tuple[str, ...]
    routes: tuple[Route, ...]
    faults: FaultMap
    error_body: Callable[[str, str], dict[str, Any]]  # (type, message) -> body
    error_type: Callable[[type[Exception]], str] = _class_name
    body_error: Callable[[jsonschema.ValidationError], Exception] = _bad_body
    version: Callable[[Request], dict[str, Any]] | None = None
    internal_error: str = "InternalError"  # the type of a 500's body

    def __post_init__(self) -> None:
        seen: set[tuple[str, str]] = set()
        names: set[str] = set()
        for r in self.routes:
            where = f"{r.method} {r.path}"
            if (r.method, r.path) in seen or r.name in names:
                raise ValueError(f"{where}: declared twice, or its handler {r.name} serves another route")
            seen.add((r.method, r.path))
            names.add(r.name)
            if not self.owns(r.path):
                raise ValueError(f"{where}: not under the face's prefix {self.prefix!r}")
            if r.tag not in self.tags:
                raise ValueError(f"{where}: tag {r.tag!r} is not one of {self.tags}")
            unmapped = [e.__name__ for e in r.error_classes() if status_of(self.faults, e) is None]
            if unmapped:
                raise ValueError(f"{where}: no status for {unmapped}")

    def owns(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix.rstrip("/") + "/")

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route of `method` on `path` and its path parameters."""
        allowed = []
        for r in self.routes:
            m = r.regex.match(path)
            if m is None:
                continue
            if r.method == method:
                return r, m.groupdict()
            allowed.append(r.method)
        if allowed:
            raise MethodNotAllowed(f"{method} is not allowed on {path}", allowed)
        raise NotFound(f"no resource at {path[:200]}")
