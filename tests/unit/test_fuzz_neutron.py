"""Fuzzing the Neutron face's OpenAPI document (GET /v2.0/openapi.json) against the app, with Schemathesis.

As tests/unit/test_fuzz_schemathesis.py does for v1 (same checks, seed and numbers, in process over
WSGI): every operation, valid and invalid requests, as a tenant and as an administrator; about half
the generated ids (in paths and in bodies' network_id) are swapped for real ones of the tenant's,
kept in stock between cases, so the fuzzer gets past the lookups. The cases run are printed at the end.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import BaseSchema, Case

from rest import neutron, v1
from rest.app import Api
from rest.auth import NeutronNoAuth, NoAuth
from rest.neutron.openapi import document
from rest.openapi import document as v1_document
from sdnapp import errors
from sdnapp.model import Caller
from sdnapp.routerops import EXTERNAL_NETWORK_ID
from sdnapp.service import NetworkService, SegmentPool
from sdnapp.specs import FloatingSpec, PortSpec, RouterSpec, SubnetSpec
from sdnapp.status import StatusBook
from sdnapp.store import Store
from topology.switches import Topology

from .conftest import EXTERNAL, HOSTS, MAX_BODY, TENANT
from .test_fuzz_schemathesis import MAX_EXAMPLES, ROLES, SEED, SETTINGS, _config, _is_uuid

BASE = "http://localhost"
RUN: Counter[tuple[str, str]] = Counter()
STATUSES: Counter[int] = Counter()
PARAMS = ("network_id", "subnet_id", "port_id", "security_group_id", "rule_id", "router_id", "floatingip_id")
BODY_IDS = ("network_id", "subnet_id", "port_id")


@dataclass
class FuzzWorld:
    store: Store
    service: NetworkService
    api: Api

    @property
    def owner(self) -> Caller:
        return Caller(TENANT)

    def stock(self) -> None:
        """Keep a few of the tenant's resources: networks (one with a small subnet), ports in it."""
        svc, me = self.service, self.owner
        nets = svc.list_networks(me)
        while len(nets) < 2:
            n = svc.create_network(me, "fuzz")
            if not any(x.address_prefix for x in nets):
                svc.create_subnets(me, [SubnetSpec(n.id, "10.77.0.0/26")])
            nets = svc.list_networks(me)
        with_subnet = [n for n in nets if n.address_prefix]
        while with_subnet and len(svc.list_ports(me)) < 3:
            svc.create_ports(me, [PortSpec(with_subnet[0].id, fixed_ips=())])
        svc.list_security_groups(me)
        if not svc.list_routers(me):
            svc.create_router(me, RouterSpec(name="fuzz"))
        if not svc.list_floating_addresses(me):
            with contextlib.suppress(errors.ExternalPoolExhausted):  # the fuzzer may have taken the pool
                svc.create_floating_address(me, FloatingSpec())

    def real_id(self, kind: str, generated: str) -> str | None:
        me = self.owner
        groups = self.service.list_security_groups(me)
        ids = {
            "network_id": [n.id for n in self.service.list_networks(me)],
            "subnet_id": [s.id for s in self.service.list_subnets(me)],
            "port_id": [p.id for p in self.service.list_ports(me)],
            "security_group_id": [g.id for g in groups],
            "rule_id": [r.id for g in groups for r in g.rules],
            "router_id": [r.id for r in self.service.list_routers(me)],
            "floatingip_id": [f.id for f in self.service.list_floating_addresses(me)],
        }[kind]
        return ids[int(generated.replace("-", "")[:8], 16) % len(ids)] if ids else None


class _App:
    api: Api | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.api is not None, "the fuzz_world fixture installs the app"
        return self.api(environ, start_response)


APP = _App()


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    path: Path = tmp_path_factory.mktemp("nfuzz") / "fuzz.db"
    store = Store(str(path))
    service = NetworkService(store, SegmentPool("vlan", 100, 3999), Topology(), StatusBook(), hosts=HOSTS.get,
                             external=EXTERNAL)
    api = Api(service, NoAuth(), MAX_BODY, lambda: True, v1_document, faces=(v1.FACE, neutron.FACE),
              face_auth={neutron.PREFIX: NeutronNoAuth("admin")})
    APP.api = api
    yield FuzzWorld(store, service, api)
    APP.api = None
    store.close()


@pytest.fixture(scope="module", autouse=True)
def report_cases(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not RUN:
        return
    statuses = Counter(f"{s // 100}xx" for s in STATUSES.elements())
    line = (
        f"schemathesis on the Neutron face (seed {SEED}, {MAX_EXAMPLES} fuzzed per operation): "
        f"{sum(RUN.values())} cases over {len({op for _, op in RUN})} operations; answers "
        + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    )
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write("\n")
        reporter.write_line(line)


def _use_real_ids(case: Case, world: FuzzWorld) -> None:
    world.stock()
    params = case.path_parameters or {}
    for name in PARAMS:
        v = params.get(name)
        if _is_uuid(v) and v[0] in "01234567":
            params[name] = world.real_id(name, v) or v
    if params.get("project_id") and str(params["project_id"])[:1] in "01234567":
        params["project_id"] = TENANT
    body = case.body
    if isinstance(body, dict):
        items = [body, *(x for k, x in body.items() if isinstance(x, dict))]
        items += [i for x in body.values() if isinstance(x, list) for i in x if isinstance(i, dict)]
        for item in items:
            for name in BODY_IDS:
                v = item.get(name)
                if isinstance(v, str) and _is_uuid(v) and v[0] in "01234567":
                    item[name] = world.real_id(name, v) or v
            # most of the external network ids generated become the real one
            gateway = item.get("external_gateway_info")
            for holder in (item, gateway if isinstance(gateway, dict) else {}):
                for name in ("floating_network_id", "network_id"):
                    v = holder.get(name)
                    if holder is item and name == "network_id":
                        continue
                    if isinstance(v, str) and _is_uuid(v) and v[0] in "0123456789ab":
                        holder[name] = EXTERNAL_NETWORK_ID


def _fuzz(case: Case, world: FuzzWorld, role: str) -> None:
    _use_real_ids(case, world)
    RUN[(role, case.operation.label)] += 1
    response = case.call_and_validate()
    STATUSES[response.status_code] += 1


def _schema(role: str) -> BaseSchema:
    schema = schemathesis.openapi.from_dict(document(BASE), config=_config(role))
    schema.app = APP
    return schema


TENANT_SCHEMA = _schema("tenant")
ADMIN_SCHEMA = _schema("admin")


@TENANT_SCHEMA.parametrize()
@SETTINGS
def test_fuzz_neutron_as_tenant(case: Case, fuzz_world: FuzzWorld) -> None:
    _fuzz(case, fuzz_world, "tenant")


@ADMIN_SCHEMA.parametrize()
@SETTINGS
def test_fuzz_neutron_as_admin(case: Case, fuzz_world: FuzzWorld) -> None:
    _fuzz(case, fuzz_world, "admin")


def test_every_route_was_fuzzed_in_both_roles() -> None:
    if not RUN:
        pytest.skip("the fuzz tests were not run (deselected)")
    for r in neutron.ROUTES:
        for role in ROLES:
            assert RUN[(role, f"{r.method} {r.path}")] > 0, (role, r.method, r.path)


def test_uuid_helper_is_shared() -> None:
    assert _is_uuid(str(uuid.uuid4())) and not _is_uuid("x")
