"""The OpenAPI document is true: it has every route and no other, it is valid OpenAPI 3.0,
every operation answers only statuses it lists, every listed status happens, and every
answer validates against the schema documented for it."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest

from rest import faults, schemas
from rest.app import FAULTS, ROUTES
from rest.faults import status_of
from rest.openapi import document, to_openapi
from sdnapp import errors
from sdnapp.service import SegmentPool
from topology.switches import SwitchPort

from .conftest import MAX_BODY, Client, Reply, World, WorldFactory

BASE = "http://localhost"
DOC = document(BASE)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path template) -> operation object."""
    return {
        (m.upper(), path): op
        for path, item in doc["paths"].items()
        for m, op in item.items()
        if m in METHODS
    }


OPS = operations(DOC)


# --- the document and the routes agree -------------------------------------------------------


def test_every_route_is_documented_and_every_operation_is_a_route() -> None:
    routes = {(r.method, r.path) for r in ROUTES}
    assert len(routes) == len(ROUTES), "a route is declared twice"
    assert set(OPS) - routes == set(), "documented but not served"
    assert routes - set(OPS) == set(), "served but not documented"


def test_operation_ids_are_the_handler_names_and_unique() -> None:
    by_route = {(r.method, r.path): r.handler for r in ROUTES}
    ids = [op["operationId"] for op in OPS.values()]
    assert len(ids) == len(set(ids))
    for key, op in OPS.items():
        assert op["operationId"] == by_route[key], key


def test_path_parameters_and_query_parameters_match_the_routes() -> None:
    params = DOC["components"]["parameters"]
    for r in ROUTES:
        op = OPS[(r.method, r.path)]
        resolved = [params[p["$ref"].rsplit("/", 1)[1]] for p in op.get("parameters", [])]
        in_path = {p["name"] for p in resolved if p["in"] == "path"}
        in_query = {p["name"] for p in resolved if p["in"] == "query"}
        assert in_path == set(r.regex.groupindex), r.path
        assert in_query == set(r.query), r.path
        assert all(p["required"] for p in resolved if p["in"] == "path")


def test_request_bodies_are_the_schemas_the_app_validates_with() -> None:
    comps = DOC["components"]["schemas"]
    for r in ROUTES:
        op = OPS[(r.method, r.path)]
        if r.body is None:
            assert "requestBody" not in op, r.path
            continue
        rb = op["requestBody"]
        assert rb["required"] is not r.body_optional
        name = rb["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert comps[name] == to_openapi(r.body)


def test_security_public_routes_have_none_and_the_others_all_strategies() -> None:
    schemes = DOC["components"]["securitySchemes"]
    assert {(s["in"], s["name"]) for s in schemes.values()} == {
        ("header", "X-Project-Id"),
        ("header", "X-Roles"),
        ("header", "X-Auth-Token"),
    }
    for r in ROUTES:
        op = OPS[(r.method, r.path)]
        if r.public:
            assert op["security"] == [] and "401" not in op["responses"], r.path
        else:
            used = {name for req in op["security"] for name in req}
            assert used == set(schemes), r.path
            assert "401" in op["responses"], r.path


def test_documented_error_types_are_errors_of_that_status() -> None:
    for key, op in OPS.items():
        for status, resp in op["responses"].items():
            if int(status) < 400:
                continue
            for t in error_types(resp):
                cls = getattr(errors, t, None) or getattr(faults, t, None)
                assert isinstance(cls, type) and issubclass(cls, Exception), (key, t)
                assert status_of(FAULTS, cls) == int(status), (key, status, t)


def test_domain_errors_know_nothing_of_http_and_each_has_a_status() -> None:
    for cls in vars(errors).values():
        if isinstance(cls, type) and issubclass(cls, errors.ServiceError):
            assert not hasattr(cls, "status") and not hasattr(cls, "type"), cls
            if cls is not errors.ServiceError:
                assert status_of(FAULTS, cls) in (400, 403, 404, 409), cls


def test_a_subclass_answers_as_its_nearest_mapped_base() -> None:
    class PoolDry(errors.SegmentPoolExhausted):
        pass

    assert status_of(FAULTS, PoolDry) == 409
    assert status_of({**FAULTS, PoolDry: 503}, PoolDry) == 503
    assert status_of(FAULTS, errors.ServiceError) is None
    assert status_of(FAULTS, KeyError) is None


def test_document_is_valid_openapi_3_0() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(DOC)
    assert DOC["openapi"] == "3.0.3"


def test_the_validator_would_notice_a_json_schema_only_construct() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    bad = copy.deepcopy(DOC)
    bad["components"]["schemas"]["Port"]["properties"]["vnic_id"] = {"type": ["string", "null"]}
    with pytest.raises(Exception):  # noqa: B017 - the library's error class differs between versions
        validator.validate(bad)


def test_served_document_is_the_document_of_the_request_base(client: Client) -> None:
    r = client.get("/v1/openapi.json", headers={"Host": "api.example:9696"})
    assert r.status == 200
    assert r.json == document("http://api.example:9696")
    assert r.json["servers"] == [{"url": "http://api.example:9696"}]


# --- converting JSON schema to OpenAPI 3.0 ---------------------------------------------------


def test_type_with_null_becomes_nullable() -> None:
    assert to_openapi({"type": ["string", "null"], "maxLength": 3}) == {
        "type": "string",
        "maxLength": 3,
        "nullable": True,
    }


def test_one_of_null_becomes_the_other_schema_nullable() -> None:
    out = to_openapi({"oneOf": [{"type": "null"}, schemas.BINDING]})
    assert out["nullable"] is True and out["type"] == "object"
    assert out["properties"]["port_no"] == {"type": "integer", "nullable": True}


def test_nothing_json_schema_only_is_left_in_the_document() -> None:
    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            assert not isinstance(node.get("type"), list), where
            assert node.get("type") != "null", where
            assert "const" not in node and "$schema" not in node and "examples" not in node, where
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")

    walk(DOC, "#")


@pytest.mark.parametrize("schema", [{"const": 1}, {"type": "null"}, {"type": ["string", "integer"]}])
def test_what_openapi_3_0_cannot_say_is_an_error(schema: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        to_openapi(schema)


# --- answers against the document ------------------------------------------------------------


def error_types(resp: dict[str, Any]) -> list[str]:
    schema = resp["content"]["application/json"]["schema"]
    for part in schema.get("allOf", []):
        t = part.get("properties", {}).get("error", {}).get("properties", {}).get("type", {})
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
    name: to_json_schema(s, strict=True) for name, s in DOC["components"]["schemas"].items()
}


def _template_of(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


@dataclass
class Checker:
    """Calls operations by (METHOD, template) and checks each answer against the document."""

    seen: set[tuple[str, str, str, str | None]] = field(default_factory=set)

    def call(
        self,
        client: Client,
        method: str,
        template: str,
        params: dict[str, str] | None = None,
        body: Any = None,
        query: str = "",
        **kw: Any,
    ) -> Reply:
        key = (method, template)
        op = OPS[key]
        path = template.format(**(params or {}))
        if body is not None:
            kw["body"] = body
        r = client.call(method, path + query, **kw)
        responses = op["responses"]
        assert str(r.status) in responses, f"{_template_of(key)} answered {r.status} {r.body[:300]!r}"
        resp = responses[str(r.status)]
        etype = None
        if "content" not in resp:
            assert r.body == b"", (key, r.status, r.body)
        else:
            schema = to_json_schema(resp["content"]["application/json"]["schema"], strict=False)
            validator = jsonschema.Draft7Validator({"allOf": [schema], "components": {"schemas": COMPONENTS}})
            errs = list(validator.iter_errors(r.json))
            assert not errs, f"{_template_of(key)} {r.status}: {errs[0].message} in {r.json}"
            if r.status >= 400:
                etype = r.error_type
        self.seen.add((method, template, str(r.status), etype))
        return r

    def documented(self) -> set[tuple[str, str, str, str | None]]:
        out: set[tuple[str, str, str, str | None]] = set()
        for (method, template), op in OPS.items():
            for status, resp in op["responses"].items():
                if int(status) < 400:
                    out.add((method, template, status, None))
                else:
                    out |= {(method, template, status, t) for t in error_types(resp)}
        return out


EXAMPLE_BODIES: dict[str, Any] = {
    "create_vnic": {"vnic": {"name": "vm1-eth0"}},
    "create_network": {"network": {"name": "net", "address_prefix": "10.1.0.0/24"}},
    "create_port": {"port": {"name": "p"}},
    "bind": {"binding": {"datapath_id": "0000000000000001", "port_name": "s1-eth1"}},
}


def _random_ids() -> dict[str, str]:
    return {"vnic_id": str(uuid.uuid4()), "port_id": str(uuid.uuid4()), "network_id": str(uuid.uuid4()),
            "alias": "no-such-extension"}


def _body_for(op: dict[str, Any]) -> Any:
    oid = op["operationId"]
    if oid == "plug":
        return {"attachment": {"vnic_id": str(uuid.uuid4())}}
    return EXAMPLE_BODIES.get(oid)


def happy_path(c: Checker, w: World) -> None:
    t, admin = w.client, w.client.admin()
    w.topology.switch_connected(1, [SwitchPort(1, "s1-eth1", True), SwitchPort(2, "s1-eth2", False)])
    for tpl in ("/", "/v1", "/healthz", "/v1/openapi.json"):
        c.call(w.client.as_(None), "GET", tpl)
    c.call(t, "GET", "/v1/extensions")
    c.call(t, "GET", "/v1/extensions/{alias}", {"alias": "networks"})

    net = c.call(t, "POST", "/v1/networks", body=EXAMPLE_BODIES["create_network"]).json["network"]
    c.call(t, "POST", "/v1/networks", body={"network": {}})
    n = {"network_id": net["id"]}
    for who in (t, admin):
        c.call(who, "GET", "/v1/networks")
        c.call(who, "GET", "/v1/networks/{network_id}", n)
    c.call(admin, "GET", "/v1/networks", query="?tenant_id=tenant-a")
    port = c.call(t, "POST", "/v1/networks/{network_id}/ports", n, body=EXAMPLE_BODIES["create_port"]).json["port"]
    c.call(t, "POST", "/v1/networks/{network_id}/ports", n)  # no body at all
    p = {"port_id": port["id"]}
    c.call(t, "GET", "/v1/networks/{network_id}/ports", n)
    c.call(t, "GET", "/v1/ports")
    c.call(t, "GET", "/v1/ports", query=f"?network_id={net['id']}")
    c.call(admin, "GET", "/v1/ports", query="?tenant_id=tenant-a")
    c.call(t, "GET", "/v1/ports/{port_id}", p)

    vnic = c.call(t, "POST", "/v1/vnics", body={"vnic": {"mac_address": "fa:16:3e:00:00:01"}}).json["vnic"]
    v = {"vnic_id": vnic["id"]}
    c.call(t, "GET", "/v1/vnics")
    c.call(admin, "GET", "/v1/vnics", query="?tenant_id=tenant-a")
    c.call(t, "GET", "/v1/vnics/{vnic_id}", v)
    c.call(t, "GET", "/v1/ports/{port_id}/attachment", p)  # vnic_id null
    c.call(t, "PUT", "/v1/ports/{port_id}/attachment", p, body={"attachment": {"vnic_id": vnic["id"]}})
    c.call(t, "GET", "/v1/ports/{port_id}/attachment", p)
    c.call(admin, "PUT", "/v1/vnics/{vnic_id}/binding", v, body=EXAMPLE_BODIES["bind"])
    c.call(t, "GET", "/v1/vnics/{vnic_id}", v)  # with its binding
    c.call(t, "GET", "/v1/ports/{port_id}", p)
    c.call(admin, "GET", "/v1/switches")
    c.call(admin, "GET", "/v1/links")
    c.call(admin, "DELETE", "/v1/vnics/{vnic_id}/binding", v)
    c.call(t, "DELETE", "/v1/vnics/{vnic_id}/attachment", v)
    c.call(t, "PUT", "/v1/ports/{port_id}/attachment", p, body={"attachment": {"vnic_id": vnic["id"]}})
    c.call(t, "DELETE", "/v1/ports/{port_id}/attachment", p)
    c.call(t, "DELETE", "/v1/ports/{port_id}", p)
    c.call(t, "DELETE", "/v1/vnics/{vnic_id}", v)
    c.call(t, "DELETE", "/v1/networks/{network_id}", n)


def test_happy_path_answers_validate_against_the_document(world: World) -> None:
    c = Checker()
    happy_path(c, world)
    successes = {(m, tpl, s) for (m, tpl, s, t) in c.documented() if t is None}
    assert successes <= {(m, tpl, s) for (m, tpl, s, _) in c.seen}, "an operation's success was never seen"


def test_every_operation_answers_a_documented_status(world: World) -> None:
    """Any operation with unknown ids and a well-formed body: a documented answer, never 404 for the route or 405."""
    c = Checker()
    for (method, template), op in OPS.items():
        for who in (world.client, world.client.admin()):
            r = c.call(who, method, template, _random_ids(), _body_for(op))
            if r.status in (404, 405):
                assert r.error_type not in ("NotFound", "MethodNotAllowed"), (method, template)


def conflicts(c: Checker, w: World, tiny: World) -> None:
    t = w.client
    net = t.network("10.9.0.0/29")
    n = {"network_id": net["id"]}
    ports = [c.call(t, "POST", "/v1/networks/{network_id}/ports", n) for _ in range(6)]
    assert [r.status for r in ports] == [201] * 5 + [409]
    port, port2 = ports[0].json["port"], ports[1].json["port"]
    v1 = c.call(t, "POST", "/v1/vnics", body={"vnic": {"mac_address": "fa:16:3e:00:00:09"}}).json["vnic"]
    c.call(t, "POST", "/v1/vnics", body={"vnic": {"mac_address": "fa:16:3e:00:00:09"}})  # MacAddressInUse
    v2 = t.vnic()
    attach = "/v1/ports/{port_id}/attachment"
    c.call(t, "PUT", attach, {"port_id": port["id"]}, body={"attachment": {"vnic_id": v1["id"]}})
    c.call(t, "PUT", attach, {"port_id": port["id"]}, body={"attachment": {"vnic_id": v2["id"]}})  # PortInUse
    c.call(t, "PUT", attach, {"port_id": port2["id"]}, body={"attachment": {"vnic_id": v1["id"]}})  # Already...
    # another project's VNIC with the same MAC, plugged by an admin into the same network
    other = t.as_("tenant-b").vnic("fa:16:3e:00:00:09")
    c.call(t.admin(), "PUT", attach, {"port_id": port2["id"]}, body={"attachment": {"vnic_id": other["id"]}})
    c.call(t, "DELETE", "/v1/ports/{port_id}", {"port_id": port["id"]})  # PortInUse
    c.call(t, "DELETE", "/v1/networks/{network_id}", n)  # NetworkInUse
    # BindingInUse: a switch port holds one VNIC
    admin = t.admin()
    bind = {"binding": {"datapath_id": "1", "port_no": 3}}
    c.call(admin, "PUT", "/v1/vnics/{vnic_id}/binding", {"vnic_id": v1["id"]}, body=bind)
    c.call(admin, "PUT", "/v1/vnics/{vnic_id}/binding", {"vnic_id": v2["id"]}, body=bind)
    # SegmentPoolExhausted
    for _ in range(3):
        c.call(tiny.client, "POST", "/v1/networks", body={"network": {}})


def test_every_documented_answer_happens_and_validates(make_world: WorldFactory) -> None:
    c = Checker()
    w = make_world()
    happy_path(c, w)
    conflicts(c, w, make_world(pool=SegmentPool("vlan", 7, 8), db="tiny.db"))
    no_ext = make_world(extensions=(), db="noext.db")
    down = make_world(ready=lambda: False, db="down.db")
    c.call(down.client, "GET", "/healthz")
    port = w.client.port(w.client.network()["id"])
    for (method, template), op in OPS.items():
        ids = _random_ids()
        body = _body_for(op)
        public = not op["security"]
        anon, tenant, admin = w.client.as_(None), w.client, w.client.admin()
        who = admin if "403" in op["responses"] else tenant
        c.call(who, method, template, ids, body, query="?bogus=1")
        c.call(who, method, template, ids, body)  # unknown ids: the documented 404s
        if not public:
            c.call(anon, method, template, ids, body)
        if "403" in op["responses"]:
            c.call(tenant, method, template, ids, body)
        if body is not None:
            c.call(who, method, template, ids, raw=b" " * (MAX_BODY + 1))
            c.call(who, method, template, ids, body, content_type="text/plain")
        c.call(no_ext.client.admin() if "403" in op["responses"] else no_ext.client, method, template, ids, body)
        if op["operationId"] == "plug":  # a real port, an unknown VNIC
            c.call(tenant, method, template, {"port_id": port["id"]}, body)
    missing = sorted(c.documented() - c.seen, key=str)
    assert not missing, f"documented but never answered: {missing}"
