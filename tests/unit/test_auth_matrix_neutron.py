"""Authentication and tenancy over every route of the Neutron face, for every auth strategy (NEUTRON.md, Auth).

As tests/unit/test_auth_matrix.py does for v1, over `rest.neutron.ROUTES`, so a route added there is
covered without touching this file (a route it cannot build a request for fails
`test_every_route_has_a_request_recipe`). The face's own rule: under noauth a request without a
project acts as an administrator of the configured default project, so "no credentials" is not a
401 there, and only a malformed project is.

For each strategy:
- wrong credentials: 401 HTTPUnauthorized on every non-public route; no credentials too, except
  under noauth (an admin of the default project);
- a non-admin on an admin route: 403; writing an admin-only attribute (binding:*, provider:*): 403;
- another tenant's real ids: 404 on every route that takes one, answered exactly as a made-up id is;
  another project's quota: 403 for a non-admin, as Neutron's policy;
- after every refused call, everything an admin sees is as before; and each request refused is one
  that, let through, changes something (`test_the_requests_used_are_effective`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rest import neutron
from rest.auth import NeutronNoAuth
from rest.routes import Route
from sdnapp.routerops import EXTERNAL_NETWORK_ID, EXTERNAL_SUBNET_ID
from sdnapp.secgroups import SecurityGroup, group_id

from .conftest import (
    ADMIN_PROJECT,
    EXTERNAL,
    NEUTRON_DEFAULT_PROJECT,
    OTHER,
    TENANT,
    Client,
    Reply,
    World,
    WorldFactory,
)
from .conftest import make_neutron_world as _make
from .test_auth_matrix import STRATEGIES, Strategy

V2 = "/v2.0"
ROUTES = neutron.ROUTES
PUBLIC = {("GET", "/v2.0/openapi.json")}
ADMIN_ONLY = {("GET", "/v2.0/quotas"), ("PUT", "/v2.0/quotas/{project_id}"), ("DELETE", "/v2.0/quotas/{project_id}")}
NON_PUBLIC = [r for r in ROUTES if not r.public]
ADMIN_ROUTES = [r for r in ROUTES if (r.method, r.path) in ADMIN_ONLY]
ID_PARAMS = {"network_id": "NetworkNotFound", "subnet_id": "SubnetNotFound", "port_id": "PortNotFound",
             "security_group_id": "SecurityGroupNotFound", "rule_id": "SecurityGroupRuleNotFound",
             "router_id": "RouterNotFound", "floatingip_id": "FloatingIPNotFound"}
EXTERNAL_IDS = {EXTERNAL_NETWORK_ID, EXTERNAL_SUBNET_ID}  # the external network: every project sees it
OTHER_PARAMS = {"alias", "project_id"}
# noauth on this face: only a malformed project is refused; a missing or empty one is the default admin.
NOAUTH_WRONG = (("a project that is not a project id", {"X-Project-Id": "a/b", "X-Roles": "admin"}),
                ("a project with a space", {"X-Project-Id": "a b"}))


def _key(r: Route) -> str:
    return f"{r.method} {r.path}"


def _wrong(strategy: Strategy) -> tuple[tuple[str, dict[str, str]], ...]:
    return NOAUTH_WRONG if strategy.name == "noauth" else strategy.wrong


@dataclass
class Seeded:
    world: World
    strategy: Strategy
    a: dict[str, str]
    b: dict[str, str]

    def client(self, headers: Mapping[str, str]) -> Client:
        return Client(self.world.api, None, "", dict(headers))

    def as_(self, project: str, admin: bool = False) -> Client:
        return self.client(self.strategy.creds(project, admin))

    @property
    def admin(self) -> Client:
        return self.as_(ADMIN_PROJECT, True)

    def snapshot(self) -> dict[str, Any]:
        out = {}
        for what in ("networks", "subnets", "ports", "quotas", "routers", "floatingips"):
            r = self.admin.get(f"{V2}/{what}")
            assert r.status == 200, r.body
            out[what] = r.json[what]
        return out


def _resources(c: Client, prefix: str, project: str) -> dict[str, str]:
    """A network with a subnet, a port with a device and a free one; an empty network; a spare subnet; a
    network NATed by a router (with a port), a router with only a gateway, a floating IP of none."""
    def ok(method: str, path: str, body: Any = None) -> Any:
        return c.ok(method, f"{V2}/{path}", body) if body is not None else c.ok(method, f"{V2}/{path}")

    net = ok("POST", "networks", {"network": {"name": "net"}})["network"]
    sub = ok("POST", "subnets", {"subnet": {"network_id": net["id"], "cidr": f"{prefix}.0.0/24", "ip_version": 4}})
    used = ok("POST", "ports", {"port": {"network_id": net["id"], "device_id": str(uuid.uuid4()),
                                         "device_owner": "compute:nova"}})["port"]
    free = ok("POST", "ports", {"port": {"network_id": net["id"]}})["port"]
    empty = ok("POST", "networks", {"network": {"name": "empty"}})["network"]
    spare = ok("POST", "networks", {"network": {"name": "spare"}})["network"]
    spare_sub = ok("POST", "subnets", {"subnet": {"network_id": spare["id"], "cidr": f"{prefix}.1.0/24",
                                                  "ip_version": 4}})
    groups = ok("GET", "security-groups")["security_groups"]
    routed = ok("POST", "networks", {"network": {"name": "routed"}})["network"]
    routed_sub = ok("POST", "subnets", {"subnet": {"network_id": routed["id"], "cidr": f"{prefix}.2.0/24",
                                                   "ip_version": 4}})["subnet"]
    routed_port = ok("POST", "ports", {"port": {"network_id": routed["id"]}})["port"]
    gateway = {"network_id": EXTERNAL_NETWORK_ID}
    router = ok("POST", "routers", {"router": {"name": "r", "external_gateway_info": gateway}})["router"]
    ok("PUT", f"routers/{router['id']}/add_router_interface", {"subnet_id": routed_sub["id"]})
    spare_router = ok("POST", "routers", {"router": {"name": "s", "external_gateway_info": gateway}})["router"]
    fip = ok("POST", "floatingips", {"floatingip": {"floating_network_id": EXTERNAL_NETWORK_ID}})["floatingip"]
    return {
        "routed_subnet": routed_sub["id"], "routed_port": routed_port["id"], "router": router["id"],
        "spare_router": spare_router["id"], "floatingip": fip["id"],
        "network": net["id"], "subnet": sub["subnet"]["id"], "used_port": used["id"], "free_port": free["id"],
        "empty_network": empty["id"], "spare_subnet": spare_sub["subnet"]["id"], "project": project,
        "security_group": groups[0]["id"], "rule": groups[0]["security_group_rules"][0]["id"],
    }


def _seed(make_world: WorldFactory, tmp_path: Path, strategy: Strategy) -> Seeded:
    auth = strategy.make_auth(tmp_path)
    face_auth = {neutron.PREFIX: NeutronNoAuth(NEUTRON_DEFAULT_PROJECT) if strategy.name == "noauth" else auth}
    w = _make(make_world, auth=auth, face_auth=face_auth, external=EXTERNAL)
    s = Seeded(w, strategy, {}, {})
    s.a = _resources(s.as_(TENANT), "10.1", TENANT)
    s.b = _resources(s.as_(OTHER), "10.2", OTHER)
    s.admin.ok("PUT", f"{V2}/quotas/{TENANT}", {"quota": {"port": 50}})
    s.admin.ok("PUT", f"{V2}/quotas/{OTHER}", {"quota": {"port": 50}})
    return s


# --- one effective request per route --------------------------------------------------------------

_FOR = {"delete_network": "empty_network", "delete_subnet": "spare_subnet", "delete_port": "free_port",
        "delete_router": "spare_router", "add_interface": "spare_router"}
BODIES: dict[str, Callable[[dict[str, str]], Any]] = {
    "create_networks": lambda ids: {"network": {"name": "new"}},
    "update_network": lambda ids: {"network": {"name": "renamed"}},
    "create_subnets": lambda ids: {"subnet": {"network_id": ids["empty_network"], "cidr": "10.9.0.0/24",
                                              "ip_version": 4}},
    "update_subnet": lambda ids: {"subnet": {"name": "renamed"}},
    "create_ports": lambda ids: {"port": {"network_id": ids["network"]}},
    "update_port": lambda ids: {"port": {"name": "renamed"}},
    "update_quota": lambda ids: {"quota": {"port": 10}},
    "create_router": lambda ids: {"router": {"name": "new"}},
    "update_router": lambda ids: {"router": {"name": "renamed"}},
    "add_interface": lambda ids: {"subnet_id": ids["spare_subnet"]},
    "remove_interface": lambda ids: {"subnet_id": ids["routed_subnet"]},
    "create_floatingip": lambda ids: {"floatingip": {"floating_network_id": EXTERNAL_NETWORK_ID}},
    "update_floatingip": lambda ids: {"floatingip": {"port_id": ids["routed_port"]}},
}
BODY_NAMES_IDS = {"create_subnets": "NetworkNotFound", "create_ports": "NetworkNotFound",
                  "add_interface": "SubnetNotFound", "update_floatingip": "PortNotFound"}


def path_ids(route: Route, ids: Mapping[str, str]) -> dict[str, str]:
    h = route.name
    known = {
        "network_id": ids[_FOR.get(h, "network")],
        "subnet_id": ids[_FOR.get(h, "subnet")],
        "port_id": ids[_FOR.get(h, "used_port")],
        "security_group_id": ids["security_group"],
        "rule_id": ids["rule"],
        "router_id": ids[_FOR.get(h, "router")],
        "floatingip_id": ids["floatingip"],
        "project_id": ids["project"],
        "alias": "binding",
    }
    return {p: known[p] for p in route.regex.groupindex}


def request(route: Route, ids: Mapping[str, str], body_ids: Mapping[str, str] | None = None) -> tuple[str, Any]:
    path = route.path.format(**path_ids(route, ids))
    if route.body is None:
        return path, None
    return path, BODIES[route.name](dict(body_ids if body_ids is not None else ids))


def call(c: Client, route: Route, path: str, body: Any) -> Reply:
    return c.call(route.method, path) if body is None else c.call(route.method, path, body)


def test_every_route_has_a_request_recipe() -> None:
    for r in ROUTES:
        unknown = set(r.regex.groupindex) - set(ID_PARAMS) - OTHER_PARAMS
        assert not unknown, f"{_key(r)}: teach this file the path parameter(s) {unknown}"
        if r.body is not None:
            assert r.name in BODIES, f"{_key(r)}: teach this file a request body for {r.name}"


def test_public_and_admin_routes_are_the_documented_ones() -> None:
    from .apidoc import NEUTRON_OPS

    assert {(r.method, r.path) for r in ROUTES if r.public} == PUBLIC
    assert {(r.method, r.path) for r in ROUTES if r.admin} == ADMIN_ONLY
    for key, op in NEUTRON_OPS.items():
        assert ("403" in op["responses"]) >= (key in ADMIN_ONLY), key


@pytest.mark.parametrize("strategy", STRATEGIES, ids=str)
@pytest.mark.parametrize("route", NON_PUBLIC, ids=_key)
def test_the_requests_used_are_effective(
    make_world: WorldFactory, tmp_path: Path, strategy: Strategy, route: Route
) -> None:
    s = _seed(make_world, tmp_path, strategy)
    before = s.snapshot()
    c = s.admin if (route.method, route.path) in ADMIN_ONLY else s.as_(TENANT)
    path, body = request(route, s.a)
    r = call(c, route, path, body)
    assert 200 <= r.status < 300, (path, r.status, r.body)
    if route.method != "GET":
        assert s.snapshot() != before, f"{_key(route)} changed nothing: a refusal of it would prove nothing"


@pytest.mark.parametrize("strategy", STRATEGIES, ids=str)
@pytest.mark.parametrize("route", NON_PUBLIC, ids=_key)
def test_wrong_credentials_are_unauthorized_and_change_nothing(
    make_world: WorldFactory, tmp_path: Path, strategy: Strategy, route: Route
) -> None:
    s = _seed(make_world, tmp_path, strategy)
    before = s.snapshot()
    path, body = request(route, s.a)
    cases = _wrong(strategy) if strategy.name == "noauth" else (("no credentials", {}), *_wrong(strategy))
    for why, headers in cases:
        r = call(s.client(headers), route, path, body)
        assert (r.status, r.error_type) == (401, "HTTPUnauthorized"), (why, path, r.body)
        assert s.snapshot() == before, why


def test_under_noauth_no_project_is_an_admin_of_the_default_project(make_world: WorldFactory, tmp_path: Path) -> None:
    s = _seed(make_world, tmp_path, STRATEGIES[0])
    for headers in ({}, {"X-Auth-Token": "notused"}, {"X-Project-Id": "", "X-Roles": "member"}):
        anon = s.client(headers)
        nets = [n for n in anon.get(f"{V2}/networks").json["networks"] if n["id"] not in EXTERNAL_IDS]
        assert {n["tenant_id"] for n in nets} == {TENANT, OTHER}  # an admin sees all
        made = anon.ok("POST", f"{V2}/networks", {"network": {"name": "mine"}})["network"]
        assert made["tenant_id"] == NEUTRON_DEFAULT_PROJECT
        anon.ok("DELETE", f"{V2}/networks/{made['id']}")


@pytest.mark.parametrize("strategy", STRATEGIES, ids=str)
@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=_key)
def test_a_non_admin_on_an_admin_route_is_forbidden_and_changes_nothing(
    make_world: WorldFactory, tmp_path: Path, strategy: Strategy, route: Route
) -> None:
    s = _seed(make_world, tmp_path, strategy)
    before = s.snapshot()
    for project, ids in ((TENANT, s.a), (OTHER, s.b)):
        path, body = request(route, ids)
        r = call(s.as_(project), route, path, body)
        assert (r.status, r.error_type) == (403, "PolicyNotAuthorized"), (project, path, r.body)
        assert s.snapshot() == before


ADMIN_ATTRIBUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "ports", {"binding:host_id": "compute1"}),
    ("POST", "ports", {"binding:profile": {"pci_slot": "0000:00:01.0"}}),
    ("PUT", "ports", {"binding:host_id": "compute1"}),
    ("PUT", "ports", {"binding:host_id": None}),
    ("POST", "networks", {"provider:segmentation_id": 999}),
    ("POST", "networks", {"provider:network_type": "vlan"}),
    ("PUT", "networks", {"shared": False}),
]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=str)
def test_admin_only_attributes_are_forbidden_to_others_and_change_nothing(
    make_world: WorldFactory, tmp_path: Path, strategy: Strategy
) -> None:
    s = _seed(make_world, tmp_path, strategy)
    before = s.snapshot()
    a = s.as_(TENANT)
    for method, what, attrs in ADMIN_ATTRIBUTES:
        key = what[:-1]
        if method == "POST":
            body = {key: {**({"network_id": s.a["network"]} if key == "port" else {}), **attrs}}
            r = a.post(f"{V2}/{what}", body)
        else:
            target = s.a["free_port"] if key == "port" else s.a["network"]
            r = a.put(f"{V2}/{what}/{target}", {key: attrs})
        assert (r.status, r.error_type) == (403, "PolicyNotAuthorized"), (method, what, attrs, r.body)
        assert s.snapshot() == before
    # an outside address of one's choice (Neutron's policy: administrators only)
    for what, body in (
        ("floatingips", {"floatingip": {"floating_network_id": EXTERNAL_NETWORK_ID,
                                        "floating_ip_address": "203.0.113.16"}}),
        ("routers", {"router": {"external_gateway_info": {
            "network_id": EXTERNAL_NETWORK_ID, "external_fixed_ips": [{"ip_address": "203.0.113.16"}]}}}),
    ):
        r = a.post(f"{V2}/{what}", body)
        assert (r.status, r.error_type) == (403, "PolicyNotAuthorized"), (what, r.body)
        assert s.snapshot() == before
    # the same, as an admin, goes through
    assert s.admin.put(f"{V2}/ports/{s.a['free_port']}", {"port": {"binding:host_id": "compute1"}}).status == 200
    made = s.admin.post(f"{V2}/floatingips", {"floatingip": {"floating_network_id": EXTERNAL_NETWORK_ID,
                                                               "floating_ip_address": "203.0.113.16"}})
    assert made.status == 201 and made.json["floatingip"]["floating_ip_address"] == "203.0.113.16"


ID_ROUTES = [r for r in NON_PUBLIC if set(r.regex.groupindex) & set(ID_PARAMS) or r.name in BODY_NAMES_IDS]


def _made_up(ids: Mapping[str, str]) -> dict[str, str]:
    return {k: (v if k == "project" else str(uuid.uuid4())) for k, v in ids.items()}


def _scrub(reply: Reply, ids: Mapping[str, str]) -> tuple[int, str]:
    text = reply.body.decode()
    for k, v in ids.items():
        if k != "project":
            text = text.replace(v, "<id>")
    return reply.status, text


@pytest.mark.parametrize("strategy", STRATEGIES, ids=str)
@pytest.mark.parametrize("route", ID_ROUTES, ids=_key)
def test_another_tenants_ids_are_not_found_exactly_like_made_up_ids(
    make_world: WorldFactory, tmp_path: Path, strategy: Strategy, route: Route
) -> None:
    s = _seed(make_world, tmp_path, strategy)
    before = s.snapshot()
    b = s.as_(OTHER)
    variants = [(s.a, s.b)] if set(route.regex.groupindex) & set(ID_PARAMS) else []
    if route.name in BODY_NAMES_IDS:
        variants.append((s.b, s.a))
    for in_path, in_body in variants:
        fake = _made_up(s.a)
        path, body = request(route, in_path, in_body)
        real = call(b, route, path, body)
        path2, body2 = request(route, fake if in_path is s.a else in_path, fake if in_body is s.a else in_body)
        made_up = call(b, route, path2, body2)
        assert s.snapshot() == before, path
        assert real.status == 404, (path, real.status, real.body)
        if in_body is s.a and route.name in BODY_NAMES_IDS:
            named = BODY_NAMES_IDS[route.name]
        else:
            named = ID_PARAMS[next(p for p in route.regex.groupindex if p in ID_PARAMS)]
        assert real.error_type == named, (path, real.body)
        assert _scrub(real, s.a) == _scrub(made_up, fake), (path, real.body, made_up.body)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=str)
def test_lists_show_no_other_tenants_resources_and_quotas_are_ones_own(
    make_world: WorldFactory, tmp_path: Path, strategy: Strategy
) -> None:
    s = _seed(make_world, tmp_path, strategy)
    b = s.as_(OTHER)
    for what in ("networks", "subnets", "ports", "security-groups", "routers", "floatingips"):
        key = what.replace("-", "_")
        own = [x for x in b.get(f"{V2}/{what}").json[key] if x["id"] not in EXTERNAL_IDS]
        assert own and {x["tenant_id"] for x in own} == {OTHER}, what
        assert b.get(f"{V2}/{what}?tenant_id={TENANT}").json[key] == [], what  # a filter, within one's own
    assert b.get(f"{V2}/ports?network_id={s.a['network']}").json == {"ports": []}
    assert b.get(f"{V2}/quotas/{OTHER}").status == 200
    r = b.get(f"{V2}/quotas/{TENANT}")
    assert (r.status, r.error_type) == (403, "PolicyNotAuthorized")
    r = b.get(f"{V2}/quotas/{TENANT}/details.json")
    assert (r.status, r.error_type) == (403, "PolicyNotAuthorized")
    assert {n["tenant_id"] for n in s.admin.get(f"{V2}/networks").json["networks"]} >= {TENANT, OTHER}
    assert group_id(TENANT) == SecurityGroup(group_id(TENANT), TENANT, 0).id
