"""Authentication and tenancy over every route, for every auth strategy (shared/API.md, Authentication).

The matrix iterates `rest.v1.ROUTES`, so a route added there is covered without touching this file;
a route this file cannot build a request for (a new path parameter, a new body) fails
`test_every_route_has_a_request_recipe` until it is taught here.

For each strategy (noauth, token, keystone):
- no credentials: 401 on every non-public route; the public ones answer without any;
- wrong credentials (a bad token, keystone's Invalid or missing identity status, ...): 401;
- a non-admin on an admin route: 403;
- another tenant's real ids: 404 on every route that takes an id, answered exactly as a made-up id is
  (status, type and message), so nothing tells the resource exists;
- after every refused call, everything an admin sees is as before.
The requests refused are ones that would change something if let through: `test_the_requests_used_are_effective`
proves that by making each of them as someone allowed to.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from rest.auth import Authenticator, KeystoneAuth, NoAuth, TokenAuth, authenticator_for
from rest.faults import Unauthorized
from rest.openapi import document
from rest.routes import Route
from rest.v1 import ROUTES
from sdnapp.config import AuthConfig, ConfigError, parse

from .conftest import ADMIN_PROJECT, EXTERNAL, OTHER, TENANT, Client, Reply, World, WorldFactory

Headers = dict[str, str]

PUBLIC = {("GET", "/"), ("GET", "/healthz"), ("GET", "/v1"), ("GET", "/v1/openapi.json"), ("GET", "/ui"),
          ("GET", "/ui/{asset}")}
ADMIN_ONLY = {
    ("PUT", "/v1/vnics/{vnic_id}/binding"),
    ("DELETE", "/v1/vnics/{vnic_id}/binding"),
    ("GET", "/v1/switches"),
    ("GET", "/v1/links"),
    ("GET", "/v1/topology"),
    ("GET", "/v1/trace"),
    ("GET", "/v1/ports/{port_id}/flows"),
    ("GET", "/metrics"),
}
# Routes where only a part of the request is for admins (a bulk item's binding): they document 403 too.
PARTLY_ADMIN = {("POST", "/v1/plugged-ports")}
NON_PUBLIC = [r for r in ROUTES if not r.public]
ADMIN_ROUTES = [r for r in ROUTES if (r.method, r.path) in ADMIN_ONLY]
ID_PARAMS = {"vnic_id", "port_id", "network_id", "floating_id"}
NOT_FOUND = {"vnic_id": "VnicNotFound", "port_id": "PortNotFound", "network_id": "NetworkNotFound",
             "floating_id": "FloatingAddressNotFound"}


def _key(r: Route) -> str:
    return f"{r.method} {r.path}"


# --- strategies ------------------------------------------------------------------------------

TOKENS: dict[tuple[str, bool], str] = {
    (TENANT, False): "tenant-a-secret",
    (OTHER, False): "tenant-b-secret",
    (ADMIN_PROJECT, True): "admin-secret",
}


@dataclass(frozen=True)
class Strategy:
    name: str
    make_auth: Callable[[Path], Authenticator]
    creds: Callable[[str, bool], Headers]
    # Credentials that must be refused with 401, each with why.
    wrong: tuple[tuple[str, Headers], ...] = field(default=())

    def __str__(self) -> str:
        return self.name


def _token_auth(tmp_path: Path) -> Authenticator:
    tokens = [
        {"sha256": hashlib.sha256(tok.encode()).hexdigest(), "project_id": project,
         "roles": ["member", "admin"] if admin else ["member"]}
        for (project, admin), tok in TOKENS.items()
    ]
    path = tmp_path / "tokens.yaml"
    path.write_text(yaml.safe_dump({"tokens": tokens}))
    return TokenAuth.from_file(str(path))


def _noauth_creds(project: str, admin: bool) -> Headers:
    return {"X-Project-Id": project, "X-Roles": "member,admin" if admin else "member"}


def _keystone_creds(project: str, admin: bool) -> Headers:
    return {"X-Identity-Status": "Confirmed", **_noauth_creds(project, admin)}


ADMIN_NOAUTH = _noauth_creds(ADMIN_PROJECT, True)

STRATEGIES = (
    Strategy(
        "noauth",
        lambda _: NoAuth(),
        _noauth_creds,
        (
            ("an empty project", {"X-Project-Id": "", "X-Roles": "admin"}),
            ("a project that is not a project id", {"X-Project-Id": "a/b", "X-Roles": "admin"}),
            ("roles without a project", {"X-Roles": "admin"}),
            ("a token, which noauth does not read", {"X-Auth-Token": TOKENS[(ADMIN_PROJECT, True)]}),
        ),
    ),
    Strategy(
        "token",
        _token_auth,
        lambda project, admin: {"X-Auth-Token": TOKENS[(project, admin)]},
        (
            ("an empty token", {"X-Auth-Token": ""}),
            ("a wrong token", {"X-Auth-Token": "wrong"}),
            ("a token in another case", {"X-Auth-Token": "ADMIN-SECRET"}),
            ("the token's digest", {"X-Auth-Token": hashlib.sha256(b"admin-secret").hexdigest()}),
            ("noauth's headers", ADMIN_NOAUTH),
            ("keystone's headers", _keystone_creds(ADMIN_PROJECT, True)),
        ),
    ),
    Strategy(
        "keystone",
        lambda _: KeystoneAuth(),
        _keystone_creds,
        (
            ("identity Invalid", {**ADMIN_NOAUTH, "X-Identity-Status": "Invalid"}),
            ("no identity status", ADMIN_NOAUTH),
            ("identity status in another case", {**ADMIN_NOAUTH, "X-Identity-Status": "confirmed"}),
            ("an empty identity status", {**ADMIN_NOAUTH, "X-Identity-Status": ""}),
            ("confirmed without a project", {"X-Identity-Status": "Confirmed", "X-Roles": "admin"}),
            ("confirmed with an empty project", {"X-Identity-Status": "Confirmed", "X-Project-Id": ""}),
            ("confirmed with a bad project", {"X-Identity-Status": "Confirmed", "X-Project-Id": "a b"}),
            ("a token alone (the middleware's job)", {"X-Auth-Token": TOKENS[(ADMIN_PROJECT, True)]}),
        ),
    ),
)


# --- a world with tenant A's and tenant B's resources ---------------------------------------


@dataclass
class Seeded:
    world: World
    strategy: Strategy
    a: dict[str, str]  # tenant A's ids
    b: dict[str, str]  # tenant B's ids

    def client(self, headers: Mapping[str, str]) -> Client:
        return Client(self.world.api, None, "", dict(headers))

    def as_(self, project: str, admin: bool = False) -> Client:
        return self.client(self.strategy.creds(project, admin))

    @property
    def admin(self) -> Client:
        return self.as_(ADMIN_PROJECT, True)

    def snapshot(self) -> dict[str, Any]:
        """Everything an admin sees of the tenants' resources."""
        out = {}
        for what in ("networks", "ports", "vnics", "floating-addresses"):
            r = self.admin.get(f"/v1/{what}")
            assert r.status == 200, r.body
            out[what] = r.json[what.replace("-", "_")]
        return out


def _resources(c: Client, admin: Client, prefix: str) -> dict[str, str]:
    """A (NATed) network with a plugged, bound VNIC with a floating address and a free port; a free VNIC; a
    second, empty network."""
    net = c.network(prefix, name="net")
    plugged_port, free_port = c.port(net["id"], "p1"), c.port(net["id"], "p2")
    plugged_vnic, free_vnic = c.vnic(name="v1"), c.vnic(name="v2")
    assert c.plug(plugged_port["id"], plugged_vnic["id"]).status == 200
    dpid = "00000000000000a1" if prefix.startswith("10.1.") else "00000000000000b1"
    admin.ok("PUT", f"/v1/vnics/{plugged_vnic['id']}/binding",
             {"binding": {"datapath_id": dpid, "port_name": "vm-eth0"}})
    empty = c.network(None, name="empty")
    floating = c.ok("POST", "/v1/floating-addresses", {"floating_address": {"port_id": plugged_port["id"]}})
    return {
        "floating": floating["floating_address"]["id"],
        "network": net["id"], "empty_network": empty["id"],
        "plugged_port": plugged_port["id"], "free_port": free_port["id"],
        "plugged_vnic": plugged_vnic["id"], "free_vnic": free_vnic["id"],
    }


def _seed(make_world: WorldFactory, tmp_path: Path, strategy: Strategy) -> Seeded:
    w = make_world(auth=strategy.make_auth(tmp_path), external=EXTERNAL)
    s = Seeded(w, strategy, {}, {})
    s.a = _resources(s.as_(TENANT), s.admin, "10.1.0.0/24")
    s.b = _resources(s.as_(OTHER), s.admin, "10.2.0.0/24")
    return s


# --- one effective request per route ---------------------------------------------------------

# Which of a tenant's resources a route acts on: one where the call, let through, changes something.
_VNIC_FOR = {"destroy_vnic": "free_vnic", "bind": "free_vnic"}
_PORT_FOR = {"destroy_port": "free_port", "plug": "free_port"}
_NETWORK_FOR = {"destroy_network": "empty_network"}

# Request bodies by handler; `ids` are the ids the body names (the plug's VNIC).
BODIES: dict[str, Callable[[dict[str, str]], Any]] = {
    "create_vnic": lambda ids: {"vnic": {"name": "new"}},
    "bind": lambda ids: {"binding": {"datapath_id": "00000000000000c1", "port_name": "new-eth0"}},
    "plug": lambda ids: {"attachment": {"vnic_id": ids["free_vnic"]}},
    "create_network": lambda ids: {"network": {"name": "new", "address_prefix": "10.9.0.0/24"}},
    "create_port": lambda ids: {"port": {"name": "new"}},
    "create_plugged_ports": lambda ids: {"plugged_ports": [{"network_id": ids["network"], "vnic": {"name": "new"}}]},
    "create_floating_address": lambda ids: {"floating_address": {"port_id": ids["free_port"]}},
    "associate_floating_address": lambda ids: {"floating_address": {"port_id": ids["free_port"]}},
}
# Routes whose body names a resource, and the error a resource of another tenant named there answers.
BODY_NAMES_IDS = {"plug": "VnicNotFound", "create_plugged_ports": "NetworkNotFound",
                  "create_floating_address": "PortNotFound", "associate_floating_address": "PortNotFound"}
# Query strings by handler, for routes that need one.
QUERIES: dict[str, Callable[[dict[str, str]], str]] = {
    "trace": lambda ids: f"?from={ids['plugged_port']}&to=02:00:00:00:00:99",
}


def path_ids(route: Route, ids: Mapping[str, str]) -> dict[str, str]:
    """The path parameters of a request for `route` on the resources `ids`."""
    h = route.name
    known = {
        "vnic_id": ids[_VNIC_FOR.get(h, "plugged_vnic")],
        "port_id": ids[_PORT_FOR.get(h, "plugged_port")],
        "network_id": ids[_NETWORK_FOR.get(h, "network")],
        "floating_id": ids["floating"],
        "alias": "networks",
        "asset": "app.js",
    }
    return {p: known[p] for p in route.regex.groupindex}


def request(route: Route, ids: Mapping[str, str], body_ids: Mapping[str, str] | None = None) -> tuple[str, Any]:
    path = route.path.format(**path_ids(route, ids))
    if route.name in QUERIES:
        path += QUERIES[route.name](dict(ids))
    if route.body is None:
        return path, None
    return path, BODIES[route.name](dict(body_ids if body_ids is not None else ids))


def call(c: Client, route: Route, path: str, body: Any) -> Reply:
    return c.call(route.method, path) if body is None else c.call(route.method, path, body)


# --- the tables this file relies on are right -------------------------------------------------


def test_every_route_has_a_request_recipe() -> None:
    for r in ROUTES:
        unknown = set(r.regex.groupindex) - ID_PARAMS - {"alias", "asset"}
        assert not unknown, f"{_key(r)}: teach this file the path parameter(s) {unknown}"
        if r.body is not None:
            assert r.name in BODIES, f"{_key(r)}: teach this file a request body for {r.name}"
        if any(q.required for q in r.query):
            assert r.name in QUERIES, f"{_key(r)}: teach this file a query string for {r.name}"


def test_public_and_admin_routes_are_the_documented_ones() -> None:
    assert {(r.method, r.path) for r in ROUTES if r.public} == PUBLIC
    doc = document("http://localhost")
    documented_admin = {
        (m.upper(), p) for p, item in doc["paths"].items() for m, op in item.items() if "403" in op["responses"]
    }
    assert documented_admin == ADMIN_ONLY | PARTLY_ADMIN
    assert ADMIN_ONLY <= {(r.method, r.path) for r in ROUTES}


@pytest.mark.parametrize("strategy", STRATEGIES, ids=str)
@pytest.mark.parametrize("route", NON_PUBLIC, ids=_key)
def test_the_requests_used_are_effective(
    make_world: WorldFactory, tmp_path: Path, strategy: Strategy, route: Route
) -> None:
    """Each request the refusals below use succeeds for whom it is meant, and a write changes something."""
    s = _seed(make_world, tmp_path, strategy)
    before = s.snapshot()
    admin_only = (route.method, route.path) in ADMIN_ONLY
    c = s.admin if admin_only else s.as_(TENANT)
    path, body = request(route, s.a)
    r = call(c, route, path, body)
    assert 200 <= r.status < 300, (path, r.status, r.body)
    if route.method != "GET":
        assert s.snapshot() != before, f"{_key(route)} changed nothing: a refusal of it would prove nothing"


# --- no credentials, wrong credentials ------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES, ids=str)
def test_public_routes_answer_without_credentials(make_world: WorldFactory, tmp_path: Path, strategy: Strategy) -> None:
    s = _seed(make_world, tmp_path, strategy)
    anon = s.client({})
    for r in ROUTES:
        if r.public:
            path, _ = request(r, s.a)
            assert anon.call(r.method, path).status == 200, _key(r)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=str)
@pytest.mark.parametrize("route", NON_PUBLIC, ids=_key)
def test_missing_and_wrong_credentials_are_unauthorized_and_change_nothing(
    make_world: WorldFactory, tmp_path: Path, strategy: Strategy, route: Route
) -> None:
    s = _seed(make_world, tmp_path, strategy)
    before = s.snapshot()
    path, body = request(route, s.a)
    for why, headers in (("no credentials", {}), *strategy.wrong):
        r = call(s.client(headers), route, path, body)
        assert (r.status, r.error_type) == (401, "Unauthorized"), (why, path, r.body)
        assert s.snapshot() == before, why


# --- admin routes -----------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES, ids=str)
@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=_key)
def test_a_non_admin_on_an_admin_route_is_forbidden_and_changes_nothing(
    make_world: WorldFactory, tmp_path: Path, strategy: Strategy, route: Route
) -> None:
    s = _seed(make_world, tmp_path, strategy)
    before = s.snapshot()
    for project, ids in ((TENANT, s.a), (OTHER, s.b)):
        path, body = request(route, ids)  # the caller's own resources
        r = call(s.as_(project), route, path, body)
        assert (r.status, r.error_type) == (403, "Forbidden"), (project, path, r.body)
        assert s.snapshot() == before


# --- another tenant's ids ---------------------------------------------------------------------

ID_ROUTES = [r for r in NON_PUBLIC if set(r.regex.groupindex) & ID_PARAMS or r.name in BODY_NAMES_IDS]


def _made_up(ids: Mapping[str, str]) -> dict[str, str]:
    return {k: str(uuid.uuid4()) for k in ids}


def _scrub(reply: Reply, ids: Mapping[str, str]) -> tuple[int, Any]:
    """The reply with the ids the request named replaced, to compare a real id's answer with a made-up one's."""
    text = reply.body.decode()
    for v in ids.values():
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
    admin_only = (route.method, route.path) in ADMIN_ONLY
    # B names A's resource in the path (and B's own in the body), then, where the body names one,
    # B's own resource in the path and A's in the body.
    variants = [(s.a, s.b)] if set(route.regex.groupindex) & ID_PARAMS else []
    if route.name in BODY_NAMES_IDS:
        variants.append((s.b, s.a))
    for in_path, in_body in variants:
        fake = _made_up(s.a)
        fake_path = fake if in_path is s.a else in_path
        fake_body = fake if in_body is s.a else in_body
        path, body = request(route, in_path, in_body)
        real = call(b, route, path, body)
        path2, body2 = request(route, fake_path, fake_body)
        made_up = call(b, route, path2, body2)
        assert s.snapshot() == before, path
        if admin_only:
            # A non-admin is refused whatever the id: that tells nothing either.
            assert (real.status, real.error_type) == (403, "Forbidden"), (path, real.body)
        else:
            assert real.status == 404, (path, real.status, real.body)
            named = BODY_NAMES_IDS[route.name] if in_body is s.a else NOT_FOUND[_first_id_param(route)]
            assert real.error_type == named, (path, real.body)
        assert _scrub(real, s.a) == _scrub(made_up, fake), (path, real.body, made_up.body)


def _first_id_param(route: Route) -> str:
    """The id parameter the service looks up first: the outermost resource of the path."""
    return next(p for p in route.regex.groupindex if p in ID_PARAMS)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=str)
def test_lists_and_filters_show_no_other_tenants_resources(
    make_world: WorldFactory, tmp_path: Path, strategy: Strategy
) -> None:
    s = _seed(make_world, tmp_path, strategy)
    b = s.as_(OTHER)
    own = {what: b.get(f"/v1/{what}").json[what] for what in ("networks", "ports", "vnics")}
    assert {x["tenant_id"] for xs in own.values() for x in xs} == {OTHER}
    # A non-admin's tenant_id filter is ignored: it is still B's own.
    for what in ("networks", "ports", "vnics"):
        assert b.get(f"/v1/{what}?tenant_id={TENANT}").json[what] == own[what]
    # Filtering ports by A's network matches nothing, exactly as a made-up network does.
    r = b.get(f"/v1/ports?network_id={s.a['network']}")
    assert (r.status, r.json) == (200, {"ports": []})
    assert b.get(f"/v1/ports?network_id={uuid.uuid4()}").json == {"ports": []}
    # The admin sees both, and may filter.
    assert {n["tenant_id"] for n in s.admin.get("/v1/networks").json["networks"]} == {TENANT, OTHER}
    assert {n["tenant_id"] for n in s.admin.get(f"/v1/networks?tenant_id={TENANT}").json["networks"]} == {TENANT}


# --- the keystone strategy and the factory ----------------------------------------------------


def test_keystone_reads_the_middlewares_headers() -> None:
    k = KeystoneAuth()
    c = k.caller({"X-Identity-Status": "Confirmed", "X-Project-Id": "0123abcd", "X-Roles": "reader,Member"})
    assert (c.project_id, c.is_admin) == ("0123abcd", False)
    c = k.caller({"X-Identity-Status": "Confirmed", "X-Project-Id": "p", "X-Roles": "member, admin"})
    assert c.is_admin
    for headers in (
        {"X-Identity-Status": "Invalid", "X-Project-Id": "p"},
        {"X-Project-Id": "p", "X-Roles": "admin"},
        {"X-Identity-Status": "Confirmed"},
    ):
        with pytest.raises(Unauthorized):
            k.caller(headers)


def test_authenticator_for_each_strategy(tmp_path: Path) -> None:
    assert isinstance(authenticator_for(AuthConfig("noauth")), NoAuth)
    assert isinstance(authenticator_for(AuthConfig("keystone")), KeystoneAuth)
    _token_auth(tmp_path)
    token = authenticator_for(AuthConfig("token", str(tmp_path / "tokens.yaml")))
    assert isinstance(token, TokenAuth)
    assert token.caller({"X-Auth-Token": "admin-secret"}).is_admin
    with pytest.raises(ConfigError, match="auth.tokens_file"):
        authenticator_for(AuthConfig("token"))
    with pytest.raises(ConfigError, match="auth.strategy"):
        authenticator_for(AuthConfig("kerberos"))


def test_config_accepts_keystone_on_loopback_only() -> None:
    # Behind Keystone's auth_token middleware: a client reaching sdnapp directly could set the headers.
    with pytest.raises(ConfigError, match="keystone trusts the identity headers"):
        parse({"api": {"host": "192.0.2.1"}, "auth": {"strategy": "keystone"}})
    cfg = parse({"auth": {"strategy": "keystone"}})
    assert (cfg.api.host, cfg.auth.strategy, cfg.auth.tokens_file) == ("127.0.0.1", "keystone", None)
    with pytest.raises(ConfigError, match="noauth, token or keystone"):
        parse({"auth": {"strategy": "Keystone"}})
