"""Fixtures for the REST and service tests: a real store on a temporary file, the service, the WSGI app.

The app is driven in process (`webob.Request.blank(...).get_response(app)`): no server, no port.
Every answer to a request that reaches a route is checked against the OpenAPI document (`apidoc`),
so each REST test also proves the document true for what it does.

`raw_flow_stats` has os-ken keep flow stats entries as bytes, as `sdnapp run` does
(`ofmsg.keep_flow_stats_raw`), for the tests that drive SwitchChannels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from webob import Request

from rest import neutron, v1
from rest.app import Api
from rest.auth import Authenticator, NeutronNoAuth, NoAuth
from rest.openapi import document
from rest.routes import Face
from sdnapp.config import ExternalConfig
from sdnapp.metrics import Metrics
from sdnapp.ofmsg import keep_flow_stats_raw
from sdnapp.service import HostInfo, NetworkService, SegmentPool
from sdnapp.status import StatusBook
from sdnapp.store import Store
from topology.switches import Topology

from .. import pgtest
from . import apidoc

MAX_BODY = 65536
TENANT = "tenant-a"
OTHER = "tenant-b"
ADMIN_PROJECT = "admin-project"

_UNSET: Any = object()


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def error_type(self) -> str:
        """The error's type, after checking the error body has the documented shape (v1's or Neutron's)."""
        doc = self.json
        if isinstance(doc, dict) and set(doc) == {"NeutronError"}:
            err = doc["NeutronError"]
            assert isinstance(err, dict) and set(err) == {"type", "message", "detail"} and err["detail"] == "", err
        else:
            assert isinstance(doc, dict) and set(doc) == {"error"}, doc
            err = doc["error"]
            assert isinstance(err, dict) and set(err) == {"type", "message"}, err
        assert isinstance(err["type"], str) and isinstance(err["message"], str) and err["message"], err
        return str(err["type"])


@dataclass
class Client:
    """Calls the WSGI app in process, as one project (admin or not)."""

    app: Api
    project: str | None = TENANT
    roles: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def as_(self, project: str | None, roles: str = "") -> Client:
        return Client(self.app, project, roles, dict(self.headers))

    def admin(self) -> Client:
        return self.as_(ADMIN_PROJECT, "member,admin")

    def call(
        self,
        method: str,
        path: str,
        body: Any = _UNSET,
        *,
        raw: bytes | None = None,
        content_type: str | None = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        h: dict[str, str] = dict(self.headers)
        if self.project is not None:
            h["X-Project-Id"] = self.project
        if self.roles:
            h["X-Roles"] = self.roles
        h.update(headers or {})
        req = Request.blank(path, method=method, headers=h)
        data = raw if raw is not None else (None if body is _UNSET else json.dumps(body).encode())
        if data is not None:
            req.body = data
            if content_type is not None:
                req.content_type = content_type
            else:
                req.headers.pop("Content-Type", None)
        resp = req.get_response(self.app)
        # No request gets a 5xx, except the health check saying it is unhealthy.
        allowed_5xx = resp.status_int == 503 and path.split("?")[0] == "/healthz"
        assert resp.status_int < 500 or allowed_5xx, f"{method} {path} answered {resp.status}: {resp.body[:500]!r}"
        reply = Reply(resp.status_int, dict(resp.headers), resp.body)
        try:
            template = apidoc.template_of(method, req.path_info)
        except UnicodeDecodeError:
            template = None
        if template is not None:
            apidoc.check(method, template, reply.status, reply.body, lambda: reply.error_type,
                         resp.headers.get("Content-Type", ""))
        return reply

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = _UNSET, **kw: Any) -> Reply:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: Any = _UNSET, **kw: Any) -> Reply:
        return self.call("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.call("DELETE", path, **kw)

    # shortcuts for a scenario's set-up: each asserts success
    def ok(self, method: str, path: str, body: Any = _UNSET, status: int | None = None) -> Any:
        r = self.call(method, path, body)
        expected = status or {"POST": 201, "DELETE": 204}.get(method, 200)
        assert r.status == expected, (method, path, r.status, r.body)
        return r.json

    def network(self, prefix: str | None = None, name: str = "net") -> dict[str, Any]:
        b: dict[str, Any] = {"name": name}
        if prefix is not None:
            b["address_prefix"] = prefix
        return dict(self.ok("POST", "/v1/networks", {"network": b})["network"])

    def port(self, network_id: str, name: str = "port") -> dict[str, Any]:
        return dict(self.ok("POST", f"/v1/networks/{network_id}/ports", {"port": {"name": name}})["port"])

    def vnic(self, mac: str | None = None, name: str = "vnic") -> dict[str, Any]:
        b: dict[str, Any] = {"name": name}
        if mac is not None:
            b["mac_address"] = mac
        return dict(self.ok("POST", "/v1/vnics", {"vnic": b})["vnic"])

    def plug(self, port_id: str, vnic_id: str) -> Reply:
        return self.put(f"/v1/ports/{port_id}/attachment", {"attachment": {"vnic_id": vnic_id}})


@dataclass
class World:
    """One store, service and app, and clients for it."""

    store: Store
    service: NetworkService
    topology: Topology
    status: StatusBook
    api: Api
    client: Client

    def snapshot(self) -> dict[str, Any]:
        """Everything the API shows an admin: to check that a refused request changed nothing."""
        admin = self.client.admin()
        out = {}
        for what in ("networks", "ports", "vnics"):
            r = admin.get(f"/v1/{what}")
            assert r.status == 200, r.body
            out[what] = r.json[what]
        if "nat" in self.service.extensions:
            out["floating_addresses"] = admin.get("/v1/floating-addresses").json["floating_addresses"]
        return out


WorldFactory = Callable[..., World]


@pytest.fixture
def raw_flow_stats() -> Iterator[None]:
    keep_flow_stats_raw()
    try:
        yield
    finally:
        keep_flow_stats_raw(False)


StoreTarget = Callable[[str], str]


@pytest.fixture
def store_engine() -> str:
    """The engine under the worlds' stores; a module whose tests run on both overrides this (params)."""
    return "sqlite"


@pytest.fixture(scope="module")
def pg_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """The module's own PostgreSQL database, dropped after its last test."""
    with pgtest.database(request.module.__name__) as url:
        yield url


@pytest.fixture
def store_target(store_engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> StoreTarget:
    """Where a world's store named `db` lives: a file, or an empty schema of the module's database."""
    if store_engine == "sqlite":
        return lambda db: str(tmp_path / db)
    url = request.getfixturevalue("pg_database")
    return lambda db: pgtest.fresh_schema(url, "s_" + re.sub(r"\W", "_", db))


@pytest.fixture
def make_world(store_target: StoreTarget) -> Iterator[WorldFactory]:
    made: list[World] = []

    def make(
        pool: SegmentPool | None = None,
        auth: Authenticator | None = None,
        extensions: tuple[str, ...] = ("ethernet-vnic", "networks"),
        db: str = "sdnapp.db",
        max_body_bytes: int = MAX_BODY,
        ready: Callable[[], bool] = lambda: True,
        on_change: Callable[[set[int]], None] | None = None,
        metrics: bool = True,
        faces: tuple[Face, ...] = (v1.FACE,),
        face_auth: dict[str, Authenticator] | None = None,
        quotas: dict[str, int] | None = None,
        hosts: dict[str, HostInfo] | None = None,
        underlay_mtu: int = 1500,
        external: ExternalConfig | None = None,
    ) -> World:
        m = Metrics(enabled=metrics)
        store = Store(store_target(db), m)
        topology, status = Topology(), StatusBook()
        service = NetworkService(
            store, pool or SegmentPool("vlan", 100, 3999), topology, status, extensions=extensions,
            on_change=on_change, quotas=quotas, hosts=(hosts or {}).get, underlay_mtu=underlay_mtu,
            external=external,
        )
        api = Api(service, auth or NoAuth(), max_body_bytes, ready, document, metrics=m, faces=faces,
                  face_auth=face_auth)
        w = World(store, service, topology, status, api, Client(api))
        made.append(w)
        return w

    yield make
    for w in made:
        w.store.close()


@pytest.fixture
def world(make_world: WorldFactory) -> World:
    return make_world()


NEUTRON_DEFAULT_PROJECT = "admin"
HOSTS = {"compute1": HostInfo("compute1", 0xA01, "br-int", "netdev"),
         "compute2": HostInfo("compute2", 0xA02, "br-int", "system"),
         "starting": HostInfo("starting", 0xA03, "br-int", None)}  # its bridge not read over OVSDB yet


# An outside network of the `nat` extension: a pool of eight addresses.
EXTERNAL = ExternalConfig(0xE1, "uplink", "203.0.113.0/24", "203.0.113.1", ("203.0.113.10", "203.0.113.17"))


def make_neutron_world(make_world: WorldFactory, **kw: Any) -> World:
    """Both faces, with noauth as the server sets it up (Neutron's face: no project, an admin of `admin`)."""
    kw.setdefault("face_auth", {neutron.PREFIX: NeutronNoAuth(NEUTRON_DEFAULT_PROJECT)})
    kw.setdefault("hosts", HOSTS)
    return make_world(faces=(v1.FACE, neutron.FACE), **kw)


@pytest.fixture
def nworld(make_world: WorldFactory) -> World:
    return make_neutron_world(make_world)


@pytest.fixture
def l3world(make_world: WorldFactory) -> World:
    """The Neutron face with an external network: routers and floating IPs offered."""
    return make_neutron_world(make_world, external=EXTERNAL)


@pytest.fixture
def nat_world(make_world: WorldFactory) -> World:
    return make_world(external=EXTERNAL)


@pytest.fixture
def tiny_world(make_world: WorldFactory) -> World:
    """A segment pool of two VLANs (100-101), for exhaustion."""
    return make_world(pool=SegmentPool("vlan", 100, 101), db="tiny.db")


@pytest.fixture
def store(world: World) -> Store:
    return world.store


@pytest.fixture
def service(world: World) -> NetworkService:
    return world.service


@pytest.fixture
def api(world: World) -> Api:
    return world.api


@pytest.fixture
def client(world: World) -> Client:
    return world.client


@pytest.fixture
def admin(world: World) -> Client:
    return world.client.admin()
