"""The OpenAPI document as the tests read it, and every answer of the app checked against it.

`conftest.Client` calls `check` on each answer to a request that reaches a route, so every REST test
in the suite also proves the document right for what it does: the status is one the operation lists,
the body validates against the schema documented for that status (objects may carry no field the
document does not name), and an error's type is one of those documented for that status.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema

from rest import neutron
from rest.faults import HttpError
from rest.neutron.openapi import document as neutron_document
from rest.openapi import document
from rest.v1 import FACE

DOC = document("http://localhost")
NEUTRON_DOC = neutron_document("http://localhost")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

Answer = tuple[str, str, str, str | None]  # METHOD, path template, status, error type (None for a success)


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path template) -> operation object."""
    return {
        (m.upper(), path): op
        for path, item in doc["paths"].items()
        for m, op in item.items()
        if m in METHODS
    }


OPS = operations(DOC)
NEUTRON_OPS = operations(NEUTRON_DOC)


def error_types(resp: dict[str, Any]) -> list[str]:
    schema = resp["content"]["application/json"]["schema"]
    for part in schema.get("allOf", []):
        for body in part.get("properties", {}).values():  # v1's "error", Neutron's "NeutronError"
            t = body.get("properties", {}).get("type", {})
            if "enum" in t:
                return list(t["enum"])
    raise AssertionError(f"error response without its types: {resp}")


def to_json_schema(node: Any, strict: bool) -> Any:
    """OpenAPI 3.0 schema -> JSON schema (nullable -> a null type). With `strict`, objects that
    list their properties allow no others: the document names every field an answer has."""
    if isinstance(node, list):
        return [to_json_schema(n, strict) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v, strict) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        assert "type" in node, node
        out["type"] = [node["type"], "null"]
    if strict and "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


COMPONENTS = {
    name: to_json_schema(s, strict=True)
    for doc in (DOC, NEUTRON_DOC) for name, s in doc["components"]["schemas"].items()
}


def documented(ops: dict[tuple[str, str], dict[str, Any]] = OPS) -> set[Answer]:
    """Every answer the document promises: each success, and each error type of each error status."""
    out: set[Answer] = set()
    for (method, template), op in ops.items():
        for status, resp in op["responses"].items():
            if int(status) < 400:
                out.add((method, template, status, None))
            else:
                out |= {(method, template, status, t) for t in error_types(resp)}
    return out


def template_of(method: str, path: str) -> str | None:
    """The path template of the route a request for `path` (PATH_INFO) reaches; None for none."""
    if len(path) > 1:
        path = path.rstrip("/")
    face = neutron.FACE if neutron.FACE.owns(path) else FACE
    try:
        return face.match(method, path)[0].path
    except HttpError:
        return None


def check(method: str, template: str, status: int, body: bytes, error_type: Callable[[], str],
          content_type: str = "application/json") -> Answer:
    """Assert the answer is one the document gives for the operation; return it as an `Answer`."""
    where = f"{method} {template}"
    responses = {**OPS, **NEUTRON_OPS}[(method, template)]["responses"]
    assert str(status) in responses, f"{where} answered {status}, undocumented: {body[:300]!r}"
    resp = responses[str(status)]
    if "content" not in resp:
        assert body == b"", (where, status, body)
        return (method, template, str(status), None)
    media = content_type.split(";")[0].strip()
    assert media in resp["content"], f"{where} {status}: {content_type!r} is not one of {list(resp['content'])}"
    if media != "application/json":
        assert body, (where, status)
        return (method, template, str(status), None)
    doc = json.loads(body)
    schema = to_json_schema(resp["content"]["application/json"]["schema"], strict=False)
    validator = jsonschema.Draft7Validator({"allOf": [schema], "components": {"schemas": COMPONENTS}})
    errs = list(validator.iter_errors(doc))
    assert not errs, f"{where} {status}: {errs[0].message} in {doc}"
    return (method, template, str(status), error_type() if status >= 400 else None)
