"""The Neutron face's OpenAPI document is true: valid OpenAPI 3.0, made from the face's route table,
served at /v2.0/openapi.json, and every success it documents happens (every answer of the REST tests
is also checked against it: conftest.Client, apidoc)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from rest import neutron
from rest.neutron.openapi import document
from rest.openapi import to_openapi
from sdnapp.routerops import EXTERNAL_NETWORK_ID

from .apidoc import NEUTRON_DOC, NEUTRON_OPS, documented, template_of
from .conftest import TENANT, Client, World


def test_document_is_valid_openapi_3_0() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(NEUTRON_DOC)
    assert NEUTRON_DOC["openapi"] == "3.0.3"


def test_the_table_is_what_the_document_describes() -> None:
    assert {(r.method, r.path) for r in neutron.ROUTES} == set(NEUTRON_OPS)
    for r in neutron.ROUTES:
        op = NEUTRON_OPS[(r.method, r.path)]
        assert op["operationId"] == r.name == r.handler.__name__
        if r.body is not None:
            name = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            assert NEUTRON_DOC["components"]["schemas"][name] == to_openapi(r.body.schema)
        s = r.summary
        assert s[0].isupper() and not s.endswith(".") and not re.search(r"[()_;\[\]]", s), s
        for status, resp in op["responses"].items():
            if int(status) >= 400:
                assert resp["content"]["application/json"]["schema"]["allOf"][0] == {
                    "$ref": "#/components/schemas/NeutronError"}


def test_lists_document_their_filters_and_pages() -> None:
    names = {p["$ref"].rsplit("/", 1)[1] for p in NEUTRON_OPS[("GET", "/v2.0/ports")]["parameters"]}
    assert {"port.device_id", "port.network_id", "port.fixed_ips", "port.mac_address", "fields", "limit", "marker",
            "page_reverse", "sort_dir", "port.sort_key"} <= names
    shown = {p["$ref"].rsplit("/", 1)[1] for p in NEUTRON_OPS[("GET", "/v2.0/ports/{port_id}")]["parameters"]}
    assert shown == {"port_id", "fields"}


def test_served_document_is_the_document_of_the_request_base(nworld: World) -> None:
    r = nworld.client.as_(None).get("/v2.0/openapi.json", headers={"Host": "api.example:9696"})
    assert r.status == 200 and r.json == document("http://api.example:9696")


def test_every_documented_success_happens(l3world: World) -> None:
    c, admin = l3world.client, l3world.client.admin()
    seen: set[tuple[str, str, str]] = set()

    def call(who: Client, method: str, path: str, body: Any = None) -> Any:
        r = who.call(method, path, body) if body is not None else who.call(method, path)
        assert r.status < 300, (method, path, r.body)
        tpl = template_of(method, path.split("?")[0])
        assert tpl is not None
        seen.add((method, tpl, str(r.status)))
        return r.json

    call(c.as_(None), "GET", "/v2.0/openapi.json")
    call(c, "GET", "/v2.0")
    call(c, "GET", "/v2.0/extensions")
    call(c, "GET", "/v2.0/extensions/binding")
    n = call(c, "POST", "/v2.0/networks", {"network": {"name": "n"}})["network"]
    call(c, "GET", "/v2.0/networks")
    call(c, "GET", f"/v2.0/networks/{n['id']}")
    call(c, "PUT", f"/v2.0/networks/{n['id']}", {"network": {"name": "m"}})
    s = call(c, "POST", "/v2.0/subnets", {"subnet": {"network_id": n["id"], "cidr": "10.0.0.0/24",
                                                      "ip_version": 4}})["subnet"]
    call(c, "GET", "/v2.0/subnets")
    call(c, "GET", f"/v2.0/subnets/{s['id']}")
    call(c, "PUT", f"/v2.0/subnets/{s['id']}", {"subnet": {"name": "t"}})
    p = call(c, "POST", "/v2.0/ports", {"ports": [{"network_id": n["id"]}]})["ports"][0]
    call(c, "GET", "/v2.0/ports?limit=1")
    call(c, "GET", f"/v2.0/ports/{p['id']}")
    call(c, "PUT", f"/v2.0/ports/{p['id']}", {"port": {"name": "q"}})
    call(admin, "GET", "/v2.0/quotas")
    call(c, "GET", f"/v2.0/quotas/{TENANT}")
    call(c, "GET", f"/v2.0/quotas/{TENANT}/details.json")
    call(admin, "PUT", f"/v2.0/quotas/{TENANT}", {"quota": {"port": 9}})
    call(admin, "DELETE", f"/v2.0/quotas/{TENANT}")
    g = call(c, "GET", "/v2.0/security-groups")["security_groups"][0]
    call(c, "GET", f"/v2.0/security-groups/{g['id']}")
    call(c, "GET", "/v2.0/security-group-rules")
    call(c, "GET", f"/v2.0/security-group-rules/{g['security_group_rules'][0]['id']}")
    gateway = {"network_id": EXTERNAL_NETWORK_ID}
    r = call(c, "POST", "/v2.0/routers", {"router": {"name": "r", "external_gateway_info": gateway}})["router"]
    call(c, "GET", "/v2.0/routers")
    call(c, "GET", f"/v2.0/routers/{r['id']}")
    call(c, "PUT", f"/v2.0/routers/{r['id']}", {"router": {"name": "r2"}})
    call(c, "PUT", f"/v2.0/routers/{r['id']}/add_router_interface", {"subnet_id": s["id"]})
    fip = call(c, "POST", "/v2.0/floatingips", {"floatingip": {"floating_network_id": EXTERNAL_NETWORK_ID,
                                                               "port_id": p["id"]}})["floatingip"]
    call(c, "GET", "/v2.0/floatingips")
    call(c, "GET", f"/v2.0/floatingips/{fip['id']}")
    call(c, "PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    call(c, "DELETE", f"/v2.0/floatingips/{fip['id']}")
    call(c, "PUT", f"/v2.0/routers/{r['id']}/remove_router_interface", {"subnet_id": s["id"]})
    call(c, "DELETE", f"/v2.0/routers/{r['id']}")
    call(c, "DELETE", f"/v2.0/ports/{p['id']}")
    call(c, "DELETE", f"/v2.0/subnets/{s['id']}")
    call(c, "DELETE", f"/v2.0/networks/{n['id']}")
    successes = {(m, tpl, st) for (m, tpl, st, t) in documented(NEUTRON_OPS) if t is None}
    assert successes == seen


def test_every_operation_answers_a_documented_status_with_unknown_ids(nworld: World, l3world: World) -> None:
    for (method, template), op in NEUTRON_OPS.items():
        path = re.sub(r"\{(\w+)\}", lambda m: TENANT if m.group(1) == "project_id" else str(uuid.uuid4()), template)
        body: Any = {"network": {}} if "requestBody" in op and "network" in template else None
        for who in (nworld.client, nworld.client.admin(), l3world.client, l3world.client.admin()):
            r = who.call(method, path, body) if body is not None else who.call(method, path)
            assert r.status < 500  # and documented: the client checks every answer against the document
