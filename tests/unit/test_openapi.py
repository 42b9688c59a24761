"""The OpenAPI document is true: it is valid OpenAPI 3.0, every answer validates against what it
documents for the operation (checked on every REST test's answers by `conftest.Client`, see
`apidoc`), every documented answer happens, and the route table it is made from cannot declare an
operation the document could not describe."""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest
from webob import Request

from rest import schemas, v1
from rest.app import Api
from rest.auth import NoAuth
from rest.faults import HTTP_FAULTS, status_of
from rest.openapi import document, to_openapi
from rest.routes import Body, Call, Face, Ok, RequestBody, Route
from sdnapp import errors
from sdnapp.service import SegmentPool
from topology.switches import SwitchPort

from .apidoc import DOC, OPS, Answer, documented, template_of
from .conftest import EXTERNAL, MAX_BODY, Client, Reply, World, WorldFactory

# --- the route table declares only what the document can say ---------------------------------


def _route(**kw: Any) -> Route:
    args: dict[str, Any] = {
        "method": "GET",
        "path": "/v1/things",
        "handler": v1.list_vnics,
        "tag": "vnics",
        "summary": "List things",
        "ok": Ok(200, "VnicsResponse", "The things"),
    }
    return Route(**{**args, **kw})


@pytest.mark.parametrize(
    "bad",
    [{"summary": ""}, {"summary": "  "}, {"tag": ""}, {"method": "FETCH"}, {"path": "v1/things"},
     {"public": True, "admin": True}],
    ids=str,
)
def test_a_route_missing_a_part_cannot_be_declared(bad: dict[str, Any]) -> None:
    _route()
    with pytest.raises(ValueError):
        _route(**bad)


@pytest.mark.parametrize(
    "ok", [(204, "VnicResponse", "x"), (200, None, "x"), (404, "Error", "x"), (200, "VnicResponse", "")], ids=str
)
def test_a_success_is_2xx_described_and_has_a_body_unless_204(ok: tuple[int, str | None, str]) -> None:
    with pytest.raises(ValueError):
        Ok(*ok)


def test_a_request_body_schema_is_checked_when_declared() -> None:
    with pytest.raises(jsonschema.SchemaError):
        RequestBody("Broken", {"type": "no-such-type"})


def _face(*routes: Route) -> Face:
    return Face("", v1.FACE.tags, routes, v1.FAULTS, v1.error_body)


class _Unmapped(Exception):
    pass


@pytest.mark.parametrize(
    "routes",
    [
        (_route(), _route()),  # the same operation twice
        (_route(), _route(path="/v1/other")),  # one handler for two operations: one operationId for both
        (_route(tag="things"),),  # a tag the document does not list
        (_route(errors=(_Unmapped,)),),  # an error the face has no status for
    ],
    ids=["twice", "one-handler-two-routes", "unknown-tag", "unmapped-error"],
)
def test_a_face_refuses_routes_the_document_could_not_describe(routes: tuple[Route, ...]) -> None:
    _face(_route())
    with pytest.raises(ValueError):
        _face(*routes)


def test_summaries_read_as_prose_not_code() -> None:
    for r in v1.ROUTES:
        s = r.summary
        assert s[0].isupper() and not s.endswith("."), (r.name, s)
        assert not re.search(r"[()_;\[\]]", s), f"{r.name}: {s!r} reads like code"
        assert len(s) <= 80, (r.name, s)


def test_the_table_is_what_the_document_describes() -> None:
    """One operation per route, named after its handler; the request body documented is the one validated."""
    assert {(r.method, r.path) for r in v1.ROUTES} == set(OPS)
    for r in v1.ROUTES:
        op = OPS[(r.method, r.path)]
        assert op["operationId"] == r.name == r.handler.__name__
        if r.body is not None:
            name = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            assert DOC["components"]["schemas"][name] == to_openapi(r.body.schema)
            assert r.body.validator.schema is r.body.schema


# --- errors: the domain's carry no HTTP; each face maps them -----------------------------------


def _domain_errors() -> list[type[errors.ServiceError]]:
    return [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.ServiceError)]


def test_domain_errors_know_nothing_of_http_and_each_has_a_v1_status() -> None:
    for cls in _domain_errors():
        assert not hasattr(cls, "status") and not hasattr(cls, "type"), cls
        if cls is not errors.ServiceError:
            assert status_of(v1.FAULTS, cls) in (400, 403, 404, 409), cls


def test_a_subclass_answers_as_its_nearest_mapped_base() -> None:
    class PoolDry(errors.SegmentPoolExhausted):
        pass

    assert status_of(v1.FAULTS, PoolDry) == 409
    assert status_of({**v1.FAULTS, PoolDry: 503}, PoolDry) == 503
    assert status_of(v1.FAULTS, errors.ServiceError) is None
    assert status_of(v1.FAULTS, KeyError) is None


def _raw(api: Api, method: str, path: str, **headers: str) -> tuple[int, dict[str, str], Any]:
    resp = Request.blank(path, method=method, headers=headers).get_response(api)
    return resp.status_int, dict(resp.headers), resp.json if resp.body else None


def test_an_error_no_face_expects_is_an_internal_error_without_details(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Unexpected(errors.ServiceError):
        pass

    def fail(*_: Any) -> Any:
        raise Unexpected("secret detail")

    monkeypatch.setattr(world.service, "list_extensions", fail)
    status, _, body = _raw(world.api, "GET", "/v1/extensions", **{"X-Project-Id": "p"})
    assert status == 500
    assert body == {"error": {"type": "InternalError", "message": "internal error; see the service log"}}
    assert "secret detail" in caplog.text


def _neutron_show_network(c: Call) -> Body:
    return {"network": {"id": c.svc.get_network(c.caller, c.path["network_id"]).id}}


NEUTRON_LIKE = Face(
    prefix="/v2.0",
    tags=("networks",),
    routes=(
        Route("GET", "/v2.0/networks/{network_id}", _neutron_show_network, "networks", "Show a network",
              Ok(200, "NetworkResponse", "The network"), (errors.NetworkNotFound,)),
    ),
    faults={**HTTP_FAULTS, errors.BadRequest: 400, errors.NotFound: 404},
    error_body=lambda t, m: {"NeutronError": {"type": t, "message": m, "detail": ""}},
    error_type=lambda cls: cls.__name__ if issubclass(cls, errors.ServiceError) else f"HTTP{cls.__name__}",
)


def test_a_second_face_answers_its_paths_and_errors_its_own_way(world: World) -> None:
    """Room for the Neutron face: its own table under its prefix, its own error bodies and names,
    the same dispatch, authentication and service; v1 unchanged beside it."""
    api = Api(world.service, NoAuth(), MAX_BODY, lambda: True, document, faces=(v1.FACE, NEUTRON_LIKE))
    me = {"X-Project-Id": "p"}
    net = world.client.as_("p").network()
    assert _raw(api, "GET", f"/v2.0/networks/{net['id']}", **me)[2] == {"network": {"id": net["id"]}}
    status, _, body = _raw(api, "GET", f"/v2.0/networks/{uuid.uuid4()}", **me)
    assert (status, body["NeutronError"]["type"]) == (404, "NetworkNotFound")
    status, headers, body = _raw(api, "DELETE", f"/v2.0/networks/{uuid.uuid4()}", **me)
    assert (status, headers["Allow"], body["NeutronError"]["type"]) == (405, "GET", "HTTPMethodNotAllowed")
    assert _raw(api, "GET", "/v2.0/nothing", **me)[2]["NeutronError"]["type"] == "HTTPNotFound"
    assert _raw(api, "GET", f"/v2.0/networks/{net['id']}")[2]["NeutronError"]["type"] == "HTTPUnauthorized"
    status, _, body = _raw(api, "GET", f"/v1/networks/{uuid.uuid4()}", **me)
    assert (status, body["error"]["type"]) == (404, "NetworkNotFound")
    assert _raw(api, "GET", "/v2.0x", **me)[2]["error"]["type"] == "NotFound"  # not under /v2.0: v1's


# --- the document ------------------------------------------------------------------------------


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


def test_the_validator_would_notice_a_reference_to_nothing() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    bad = copy.deepcopy(DOC)
    bad["paths"]["/v1/vnics"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/NoSuchResponse"
    }
    with pytest.raises(Exception):  # noqa: B017
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


@dataclass
class Checker:
    """Calls operations by (METHOD, template) and keeps which documented answers it saw; each answer
    is checked against the document by `conftest.Client` itself."""

    seen: set[Answer] = field(default_factory=set)

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
        path = template.format(**(params or {}))
        assert template_of(method, path) == template, (method, path)
        if body is not None:
            kw["body"] = body
        r = client.call(method, path + query, **kw)
        self.seen.add((method, template, str(r.status), r.error_type if r.status >= 400 else None))
        return r


EXAMPLE_BODIES: dict[str, Any] = {
    "create_vnic": {"vnic": {"name": "vm1-eth0"}},
    "create_network": {"network": {"name": "net", "address_prefix": "10.1.0.0/24"}},
    "create_port": {"port": {"name": "p"}},
    "bind": {"binding": {"datapath_id": "0000000000000001", "port_name": "s1-eth1"}},
}


def _random_ids() -> dict[str, str]:
    return {"vnic_id": str(uuid.uuid4()), "port_id": str(uuid.uuid4()), "network_id": str(uuid.uuid4()),
            "floating_id": str(uuid.uuid4()), "alias": "no-such-extension", "asset": "no-such-file.js"}


def _body_for(op: dict[str, Any]) -> Any:
    oid = op["operationId"]
    if oid == "plug":
        return {"attachment": {"vnic_id": str(uuid.uuid4())}}
    if oid == "create_plugged_ports":  # an unknown network; a binding, which only an admin may give
        return _plugged(str(uuid.uuid4()), bind=("0000000000000001", "s1-eth9"))
    if oid in ("create_floating_address", "associate_floating_address"):  # an unknown port
        return {"floating_address": {"port_id": str(uuid.uuid4())}}
    return EXAMPLE_BODIES.get(oid)


def _plugged(network_id: str, n: int = 1, mac: str | None = None, bind: tuple[str, str] | None = None) -> Any:
    item: dict[str, Any] = {"network_id": network_id, "name": "p", "vnic": {"name": "v"}}
    if mac is not None:
        item["vnic"]["mac_address"] = mac
    if bind is not None:
        item["binding"] = {"datapath_id": bind[0], "port_name": bind[1]}
    return {"plugged_ports": [copy.deepcopy(item) for _ in range(n)]}


def _body_limit(method: str, template: str) -> int:
    route = next(r for r in v1.ROUTES if (r.method, r.path) == (method, template))
    return route.body.max_bytes if route.body is not None and route.body.max_bytes else MAX_BODY


def happy_path(c: Checker, w: World) -> None:
    t, admin = w.client, w.client.admin()
    w.topology.begin_port_snapshot(1)
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
    c.call(admin, "GET", "/v1/topology")
    c.call(admin, "GET", "/v1/trace", query=f"?from={port['id']}&to=fa:16:3e:00:00:02&vlan=7&arp=false")
    c.call(admin, "GET", "/v1/trace", query=f"?from={uuid.uuid4()}&to=10.1.0.9")  # no such port
    c.call(admin, "GET", "/v1/ports/{port_id}/flows", p)
    c.call(admin, "GET", "/metrics")
    c.call(w.client.as_(None), "GET", "/ui")
    c.call(w.client.as_(None), "GET", "/ui/{asset}", {"asset": "app.js"})
    c.call(admin, "DELETE", "/v1/vnics/{vnic_id}/binding", v)
    c.call(t, "DELETE", "/v1/vnics/{vnic_id}/attachment", v)
    c.call(t, "PUT", "/v1/ports/{port_id}/attachment", p, body={"attachment": {"vnic_id": vnic["id"]}})
    c.call(t, "DELETE", "/v1/ports/{port_id}/attachment", p)
    c.call(t, "DELETE", "/v1/ports/{port_id}", p)
    c.call(t, "DELETE", "/v1/vnics/{vnic_id}", v)
    c.call(t, "DELETE", "/v1/networks/{network_id}", n)

    net = c.call(t, "POST", "/v1/networks", body=EXAMPLE_BODIES["create_network"]).json["network"]
    c.call(t, "POST", "/v1/plugged-ports", body=_plugged(net["id"], n=3))
    c.call(admin, "POST", "/v1/plugged-ports", body=_plugged(net["id"], bind=("0000000000000001", "s1-eth2")))

    # floating addresses (the world offers `nat`: the network above is NATed)
    port = t.port(net["id"])
    fa = c.call(t, "POST", "/v1/floating-addresses", body={"floating_address": {}}).json["floating_address"]
    f = {"floating_id": fa["id"]}
    c.call(t, "PUT", "/v1/floating-addresses/{floating_id}", f, body={"floating_address": {"port_id": port["id"]}})
    c.call(t, "GET", "/v1/floating-addresses")
    c.call(t, "GET", "/v1/floating-addresses/{floating_id}", f)
    c.call(t, "PUT", "/v1/floating-addresses/{floating_id}", f, body={"floating_address": {"port_id": None}})
    c.call(t, "DELETE", "/v1/floating-addresses/{floating_id}", f)
    c.call(t, "POST", "/v1/floating-addresses", body={"floating_address": {"port_id": port["id"]}})


def nat_conflicts(c: Checker, w: World) -> None:
    """The pool runs out (for a network and for a floating address); a port holds one floating address."""
    t = w.client
    port = t.port(t.network("10.9.0.0/24")["id"])
    first = c.call(t, "POST", "/v1/floating-addresses", body={"floating_address": {"port_id": port["id"]}})
    c.call(t, "POST", "/v1/floating-addresses", body={"floating_address": {"port_id": port["id"]}})  # InUse
    other = c.call(t, "POST", "/v1/floating-addresses", body={"floating_address": {}}).json["floating_address"]
    c.call(t, "PUT", "/v1/floating-addresses/{floating_id}", {"floating_id": other["id"]},
           body={"floating_address": {"port_id": port["id"]}})  # InUse
    c.call(t, "PUT", "/v1/floating-addresses/{floating_id}", {"floating_id": other["id"]},
           body={"floating_address": {"port_id": str(uuid.uuid4())}})  # PortNotFound
    assert first.status == 201
    while c.call(t, "POST", "/v1/networks", body=EXAMPLE_BODIES["create_network"]).status == 201:
        pass
    r = c.call(t, "POST", "/v1/floating-addresses", body={"floating_address": {}})
    assert r.error_type == "ExternalPoolExhausted"


def test_happy_path_answers_validate_against_the_document(nat_world: World) -> None:
    c = Checker()
    happy_path(c, nat_world)
    successes = {(m, tpl, s) for (m, tpl, s, t) in documented() if t is None}
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
    # the same conflicts in one bulk call: within it, or with what exists
    bulk = "/v1/plugged-ports"
    small = t.network("10.9.1.0/29")["id"]
    c.call(t, "POST", bulk, body=_plugged(small, n=6))  # AddressPoolExhausted: a /29 has 5
    c.call(t, "POST", bulk, body=_plugged(small, n=2, mac="fa:16:3e:00:00:0a"))  # MacAddressInUse within it
    c.call(admin, "POST", bulk, body=_plugged(small, n=2, bind=("0000000000000001", "tap9")))  # BindingInUse
    # SegmentPoolExhausted
    for _ in range(3):
        c.call(tiny.client, "POST", "/v1/networks", body={"network": {}})


def test_every_documented_answer_happens_and_validates(make_world: WorldFactory) -> None:
    c = Checker()
    w = make_world(external=EXTERNAL)
    happy_path(c, w)
    conflicts(c, w, make_world(pool=SegmentPool("vlan", 7, 8), db="tiny.db"))
    nat_conflicts(c, make_world(external=EXTERNAL, db="nat.db"))
    no_ext = make_world(extensions=(), db="noext.db")
    down = make_world(ready=lambda: False, db="down.db")
    c.call(down.client, "GET", "/healthz")
    c.call(make_world(metrics=False, db="nometrics.db").client.admin(), "GET", "/metrics")
    quota = make_world(quotas={"network": 1, "port": 1}, db="quota.db")
    nets = [c.call(quota.client, "POST", "/v1/networks", body={"network": {}}) for _ in range(2)]
    assert [r.status for r in nets] == [201, 409]
    n = {"network_id": nets[0].json["network"]["id"]}
    assert [c.call(quota.client, "POST", "/v1/networks/{network_id}/ports", n).status for _ in range(2)] == [201, 409]
    r = c.call(quota.client, "POST", "/v1/plugged-ports", body={"plugged_ports": [{"network_id": n["network_id"]}]})
    assert r.status == 409
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
            c.call(who, method, template, ids, raw=b" " * (_body_limit(method, template) + 1))
            c.call(who, method, template, ids, body, content_type="text/plain")
        c.call(no_ext.client.admin() if "403" in op["responses"] else no_ext.client, method, template, ids, body)
        if op["operationId"] == "plug":  # a real port, an unknown VNIC
            c.call(tenant, method, template, {"port_id": port["id"]}, body)
    missing = sorted(documented() - c.seen, key=str)
    assert not missing, f"documented but never answered: {missing}"
