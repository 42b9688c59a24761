"""Neutron's attribute maps, declared once per resource: which attributes a create or an update takes,
which are filters and sort keys, who sees them, and the JSON schemas of bodies and answers made from
them (for validation and for the OpenAPI document).

Bodies are checked by those schemas (the dispatcher does it, and `body_error` says what is wrong in
Neutron's words); the values the schemas let through are converted by `value_of`. Booleans are JSON
booleans in bodies, and integers may also be strings of digits, as the `openstack` CLI sends some
(`"provider:segmentation_id": "100"`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from sdnapp.specs import UNSET, Unset

from .faults import HTTPBadRequest, InvalidInput

Schema = dict[str, Any]
# A bulk create's body limit (as v1's POST /v1/plugged-ports): a thousand ports are a few hundred KiB.
BULK_BYTES = 4 << 20

STR: Schema = {"type": "string", "maxLength": 255}
NAME: Schema = {"type": "string", "maxLength": 255}
UUID_OUT: Schema = {"type": "string", "format": "uuid"}
ID_IN: Schema = {"type": "string", "maxLength": 64}
BOOL: Schema = {"type": "boolean"}
INT_OUT: Schema = {"type": "integer"}
TIME: Schema = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"}
PROJECT: Schema = {"type": "string", "maxLength": 64}
NULL_STR: Schema = {"type": ["string", "null"]}


def int_in(low: int, high: int) -> Schema:
    """An integer, or its digits as a string (the CLI's way)."""
    return {"oneOf": [{"type": "integer", "minimum": low, "maximum": high},
                      {"type": "string", "pattern": "^[0-9]{1,10}$"}]}


# --- query values ------------------------------------------------------------------------------

_TRUE = {"1", "t", "true", "on", "y", "yes"}
_FALSE = {"0", "f", "false", "off", "n", "no"}


def q_str(v: str) -> object:
    return v


def q_bool(v: str) -> object:
    """Neutron's convert_to_boolean: `shared=False` as Python clients spell it, or true/1/yes..."""
    low = v.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InvalidInput(f"Invalid input for operation: '{v[:64]}' cannot be converted to boolean.")


def q_int(v: str) -> object:
    try:
        return int(v)
    except ValueError:
        raise InvalidInput(f"Invalid input for operation: '{v[:64]}' is not an integer.") from None


def q_mac(v: str) -> object:
    return v.strip().lower().replace("-", ":")


Converter = Callable[[str], object]


@dataclass(frozen=True)
class Attr:
    name: str
    out: Schema  # the value in an answer
    into: Schema | None = None  # the value accepted in a body, if other than `out`
    post: bool = False
    put: bool = False
    required: bool = False  # in a create
    query: Converter | None = None  # a filter, converting each query value; None: not a filter
    sort: bool = False
    admin: bool = False  # shown to administrators only (Neutron's policy)

    @property
    def body(self) -> Schema:
        return self.into if self.into is not None else self.out


def standard(*, filters: bool = True) -> tuple[Attr, ...]:
    """What every resource with Neutron's standard attributes has."""
    q = q_str if filters else None
    return (
        Attr("id", UUID_OUT, query=q, sort=True),
        Attr("tenant_id", PROJECT, post=True, query=q, sort=True),
        Attr("project_id", PROJECT, post=True, query=q, sort=True),
        Attr("description", STR, post=True, put=True, query=q),
        Attr("created_at", TIME, sort=True),
        Attr("updated_at", TIME, sort=True),
        Attr("revision_number", INT_OUT, query=q_int if filters else None, sort=True),
    )


REGISTRY: dict[str, Resource] = {}


@dataclass(frozen=True)
class Resource:
    name: str  # singular, the body key of one: "port", "security_group"
    collection: str  # the body key of many: "ports", "security_groups"
    attrs: tuple[Attr, ...]

    def __post_init__(self) -> None:
        names = [a.name for a in self.attrs]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.name}: an attribute is declared twice")
        REGISTRY[self.name] = self

    @property
    def by_name(self) -> dict[str, Attr]:
        return {a.name: a for a in self.attrs}

    @property
    def admin_only(self) -> set[str]:
        return {a.name for a in self.attrs if a.admin}

    @property
    def title(self) -> str:
        return "".join(w.capitalize() for w in self.name.split("_"))

    def item_in(self, create: bool) -> Schema:
        """One item of a create or an update body."""
        take = [a for a in self.attrs if (a.post if create else a.put)]
        schema: Schema = {
            "type": "object",
            "title": f"{self.title}{'Create' if create else 'Update'}",
            "properties": {a.name: a.body for a in take},
            "additionalProperties": False,
        }
        required = [a.name for a in take if create and a.required]
        if required:
            schema["required"] = required
        return schema

    def create_body(self) -> Schema:
        """`{"port": {...}}` or, in bulk, `{"ports": [{...}, ...]}`."""
        item = self.item_in(create=True)
        return {
            "type": "object",
            "properties": {self.name: item, self.collection: {"type": "array", "items": item, "minItems": 1}},
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
        }

    def create_one_body(self) -> Schema:
        """`{"router": {...}}`: a create of one item (no bulk form)."""
        return {"type": "object", "properties": {self.name: self.item_in(create=True)}, "required": [self.name],
                "additionalProperties": False}

    def update_body(self) -> Schema:
        return {
            "type": "object",
            "properties": {self.name: self.item_in(create=False)},
            "required": [self.name],
            "additionalProperties": False,
        }

    def item_out(self) -> Schema:
        """An item of an answer (every attribute; `fields=` and the caller's role may leave some out)."""
        return {"type": "object", "properties": {a.name: a.out for a in self.attrs}}


def body_error(e: jsonschema.ValidationError) -> Exception:
    """What a body's schema found wrong, in Neutron's words (neutron-lib's attributes module)."""
    path = list(e.absolute_path)
    schema: Schema = e.schema if isinstance(e.schema, dict) else {}
    instance: Any = e.instance
    if not path or (len(path) == 1 and e.validator in ("type", "minItems")):
        if e.validator == "minItems":
            return HTTPBadRequest("Resources required")
        keys = list(schema.get("properties", {})) if not path else [str(path[0])]
        return HTTPBadRequest(f"Unable to find '{keys[0] if keys else 'resource'}' in request body")
    depth = 2 if len(path) > 1 and isinstance(path[1], int) else 1  # bulk items sit one deeper
    if len(path) == depth and e.validator == "additionalProperties":
        title = str(schema.get("title", ""))
        resource = next((r for r in REGISTRY.values() if title.startswith(r.title)), None)
        extra = sorted(k for k in instance if k not in schema.get("properties", {}))
        known = [k for k in extra if resource is not None and k in resource.by_name]
        if known and title.endswith("Create"):
            return HTTPBadRequest(f"Attribute '{known[0]}' not allowed in POST")
        if known:
            return HTTPBadRequest(f"Cannot update read-only attribute {known[0]}")
        return HTTPBadRequest(f"Unrecognized attribute(s) '{', '.join(extra)}'")
    if len(path) == depth and e.validator == "required":
        missing = next(k for k in schema.get("required", []) if k not in instance)
        return HTTPBadRequest(f"Failed to parse request. Required attribute '{missing}' not specified")
    if len(path) == depth:
        return HTTPBadRequest("Body contains invalid data")
    attr = path[depth]
    return InvalidInput(f"Invalid input for operation: Invalid input for {attr}. Reason: {e.message[:300]}.")


# --- bodies to values -------------------------------------------------------------------------


def items_of(body: Mapping[str, Any], resource: Resource) -> tuple[list[dict[str, Any]], bool]:
    """The items of a create body, and whether it was a bulk one."""
    if resource.collection in body:
        return list(body[resource.collection]), True
    return [body[resource.name]], False


def project_of(item: Mapping[str, Any]) -> str | Unset:
    """The project a create names (tenant_id or project_id, equal if both), or UNSET."""
    t, p = item.get("tenant_id"), item.get("project_id")
    if t is not None and p is not None and t != p:
        raise HTTPBadRequest("'project_id' and 'tenant_id' do not match")
    found = p if p is not None else t
    return UNSET if found is None else str(found)


def pick(item: Mapping[str, Any], name: str, convert: Callable[[Any], Any] = lambda v: v) -> Any:
    """An attribute of an update body, converted, or UNSET when absent."""
    return convert(item[name]) if name in item else UNSET


def iso(t: float) -> str:
    """A time as Neutron shows it: `2016-10-10T14:35:47Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def standard_view(obj: Any, project: str) -> dict[str, Any]:
    """The standard attributes of a resource of the service (id, project, description, times, revision)."""
    return {
        "id": obj.id,
        "tenant_id": project,
        "project_id": project,
        "description": obj.description,
        "created_at": iso(obj.created_at),
        "updated_at": iso(obj.updated_at),
        "revision_number": obj.revision,
    }
