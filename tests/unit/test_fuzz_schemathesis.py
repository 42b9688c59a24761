"""Fuzzing the OpenAPI document against the app, with Schemathesis.

Schemathesis reads `rest.openapi.document` (what GET /v1/openapi.json serves) and generates requests for
every operation, valid ones and invalid ones (its coverage phase: boundary values, wrong types, missing
parts, methods a path lacks; then its fuzzing phase: random ones). The app, in process over WSGI (no
server, no port), must answer each with no 5xx, a status the document lists for the operation, the
documented content type, a body that validates against the documented schema, never a success to a
request the document calls invalid, and 405 with an Allow header to a method a path lacks. It runs once
as a tenant and once as an admin (noauth headers).

Generated ids are random UUIDs, which only ever find nothing; so about half the generated ids are swapped
for ids of real resources of the tenant (kept in stock between cases), which takes the fuzzer past the
lookups: to destroying, plugging, binding and creating ports in real networks.

The number of cases run is printed at the end (also without `-s`).
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import hypothesis
import pytest
import schemathesis
from schemathesis import BaseSchema, Case
from schemathesis.config import SchemathesisConfig

from rest.app import Api
from rest.auth import NoAuth
from rest.openapi import document
from rest.v1 import ROUTES
from sdnapp.model import Caller
from sdnapp.service import NetworkService, SegmentPool
from sdnapp.status import StatusBook
from sdnapp.store import Store
from topology.fabric import LinkEnd
from topology.switches import SwitchPort, Topology

from .conftest import ADMIN_PROJECT, MAX_BODY, TENANT, World

BASE = "http://localhost"
# Cases per operation and role in the fuzzing phase (the coverage phase adds its own, a few dozen); the
# seed makes a run repeatable. Both can be raised for a longer hunt:
#   SDNAPP_FUZZ_EXAMPLES=300 SDNAPP_FUZZ_SEED=7 .venv/bin/pytest tests/unit/test_fuzz_schemathesis.py
MAX_EXAMPLES = int(os.environ.get("SDNAPP_FUZZ_EXAMPLES", "15"))
SEED = int(os.environ.get("SDNAPP_FUZZ_SEED", "1126"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "content_type_conformance",
    # An invalid request (by the document) must not succeed.
    "negative_data_rejection",
    # A method the path does not have answers 405, with an Allow header naming those it has.
    "unsupported_method",
    "allow_header_conformance",
)

ROLES = {
    "tenant": {"X-Project-Id": TENANT, "X-Roles": "member"},
    "admin": {"X-Project-Id": ADMIN_PROJECT, "X-Roles": "member,admin"},
}


def _config(role: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "headers": ROLES[role],
            "seed": SEED,
            "generation": {"mode": "all", "with-security-parameters": False, "max-examples": MAX_EXAMPLES},
            "phases": {"stateful": {"enabled": False}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )


RUN: Counter[tuple[str, str]] = Counter()  # (role, operation) -> cases run
STATUSES: Counter[int] = Counter()  # HTTP status -> answers


@dataclass
class FuzzWorld:
    store: Store
    service: NetworkService
    topology: Topology
    api: Api

    @property
    def owner(self) -> Caller:
        return Caller(TENANT)

    def stock(self) -> None:
        """Keep a few of the tenant's resources: networks (one with a small range), ports, VNICs, a plugged pair."""
        svc, me = self.service, self.owner
        nets = svc.list_networks(me)
        while len(nets) < 2:
            svc.create_network(me, "fuzz", "10.7.0.0/29" if not nets else None)
            nets = svc.list_networks(me)
        while len(svc.list_ports(me)) < 3:
            svc.create_port(me, nets[len(svc.list_ports(me)) % len(nets)].id, "fuzz")
        while len(svc.list_vnics(me)) < 3:
            svc.create_vnic(me, name="fuzz")
        if not any(p.vnic_id for p in svc.list_ports(me)):
            port = next(p for p in svc.list_ports(me))
            vnic = next((v for v in svc.list_vnics(me) if v.port_id is None), None) or svc.create_vnic(me)
            svc.plug(me, port.id, vnic.id)

    def real_id(self, kind: str, generated: str) -> str:
        me = self.owner
        ids = {
            "vnic_id": [v.id for v in self.service.list_vnics(me)],
            "port_id": [p.id for p in self.service.list_ports(me)],
            "network_id": [n.id for n in self.service.list_networks(me)],
        }[kind]
        return ids[int(generated.replace("-", "")[:8], 16) % len(ids)]


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    # Built as conftest's make_world builds one, but once for the module: Hypothesis runs all of an
    # operation's cases in one test call, and the schemas need their app at import (see _App).
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    store = Store(str(path))
    topology = Topology()
    # Switches and a link, so the operations lists have something to show.
    topology.begin_port_snapshot(0xAB)
    topology.switch_connected(0xAB, [SwitchPort(1, "eth1", True), SwitchPort(2, "eth2", False)])
    topology.begin_port_snapshot(0xCD)
    topology.switch_connected(0xCD, [SwitchPort(1, "eth1", True)])
    topology.link_seen(LinkEnd(0xAB, 1), LinkEnd(0xCD, 1), now=1.0)
    service = NetworkService(store, SegmentPool("vlan", 100, 3999), topology, StatusBook())
    api = Api(service, NoAuth(), MAX_BODY, lambda: True, document)
    APP.api = api
    yield FuzzWorld(store, service, topology, api)
    APP.api = None
    store.close()


@pytest.fixture(scope="module", autouse=True)
def report_cases(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not RUN:
        return
    statuses = Counter(f"{s // 100}xx" for s in STATUSES.elements())
    line = (
        f"schemathesis (seed {SEED}, {MAX_EXAMPLES} fuzzed per operation): "
        f"{sum(RUN.values())} cases over {len({op for _, op in RUN})} operations ("
        + ", ".join(f"as {role} {sum(n for (r, _), n in RUN.items() if r == role)}" for role in ROLES)
        + "; answers "
        + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
        + ")"
    )
    # Shown also when pytest captures output (-q without -s): capture is suspended for the line.
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write("\n")
        reporter.write_line(line)


def _is_uuid(v: object) -> TypeGuard[str]:
    try:
        return isinstance(v, str) and str(uuid.UUID(v)) == v
    except ValueError:
        return False


def _use_real_ids(case: Case, world: FuzzWorld) -> None:
    """Swap about half the generated (valid) ids for real ones of the tenant."""
    world.stock()
    params = case.path_parameters or {}
    for name in ("vnic_id", "port_id", "network_id"):
        v = params.get(name)
        if _is_uuid(v) and v[0] in "01234567":
            params[name] = world.real_id(name, v)
    query = case.query or {}
    v = query.get("from")
    if _is_uuid(v) and v[0] in "01234567":
        query["from"] = world.real_id("port_id", v)  # a trace from a real port
    body = case.body
    attachment = body.get("attachment") if isinstance(body, dict) else None
    if isinstance(attachment, dict):
        v = attachment.get("vnic_id")
        if _is_uuid(v) and v[0] in "01234567":
            attachment["vnic_id"] = world.real_id("vnic_id", v)


def _fuzz(case: Case, world: FuzzWorld, role: str) -> None:
    _use_real_ids(case, world)
    RUN[(role, case.operation.label)] += 1
    response = case.call_and_validate()
    STATUSES[response.status_code] += 1


SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    # Health checks judge how fast inputs are generated, not the app: none may fail the run.
    suppress_health_check=list(hypothesis.HealthCheck),
    database=None,
)


class _App:
    """The WSGI app the schemas call: the module's world's, installed by its fixture.

    (Schemathesis's lazy `from_fixture` schemas do not run on this pytest; a schema made at import
    needs an app at import.)
    """

    api: Api | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.api is not None, "the fuzz_world fixture installs the app"
        return self.api(environ, start_response)


APP = _App()


def _schema(role: str) -> BaseSchema:
    schema = schemathesis.openapi.from_dict(document(BASE), config=_config(role))
    schema.app = APP
    return schema


TENANT_SCHEMA = _schema("tenant")
ADMIN_SCHEMA = _schema("admin")


@TENANT_SCHEMA.parametrize()
@SETTINGS
def test_fuzz_as_tenant(case: Case, fuzz_world: FuzzWorld) -> None:
    _fuzz(case, fuzz_world, "tenant")


@ADMIN_SCHEMA.parametrize()
@SETTINGS
def test_fuzz_as_admin(case: Case, fuzz_world: FuzzWorld) -> None:
    _fuzz(case, fuzz_world, "admin")


def test_every_route_was_fuzzed_in_both_roles() -> None:
    """Runs after the fuzz tests (file order): each route got cases as a tenant and as an admin."""
    if not RUN:
        pytest.skip("the fuzz tests were not run (deselected)")
    for r in ROUTES:
        label = f"{r.method} {r.path}"
        for role in ROLES:
            assert RUN[(role, label)] > 0, (role, label)


# --- what the fuzzer found ---------------------------------------------------------------------


def test_a_semicolon_does_not_split_the_query(world: World) -> None:
    """Found by negative_data_rejection: `?tenant_id=` + 260 characters ending in ';;;...' was accepted,
    because WebOb's query parser also splits at ';' and read the value as its first few characters.
    Only '&' separates parameters (CVE-2021-23336): the value keeps its ';' and is judged whole."""
    tenant, admin = world.client, world.client.admin()
    tenant.network(name="mine")
    assert len(admin.get(f"/v1/networks?tenant_id={TENANT}").json["networks"]) == 1
    # the filter is "tenant-a;;", which is no project: nothing, not tenant-a's networks
    assert admin.get(f"/v1/networks?tenant_id={TENANT};;").json == {"networks": []}
    # one parameter, not two: no "unknown parameter network_id", no filter by network
    r = admin.get(f"/v1/ports?tenant_id={TENANT};network_id=x")
    assert (r.status, r.json) == (200, {"ports": []})
    # too long as a whole, though the part before the first ';' is short
    r = admin.get("/v1/vnics?tenant_id=t" + ";" * 255)
    assert (r.status, r.error_type) == (400, "BadRequest")
    # '&' still separates, an encoded ';' is a ';', and a query that is not UTF-8 is refused
    assert admin.get(f"/v1/ports?tenant_id={TENANT}&network_id=x").json == {"ports": []}
    assert admin.get(f"/v1/networks?tenant_id={TENANT}%3B").json == {"networks": []}
    r = admin.get("/v1/networks?tenant_id=%ff")
    assert (r.status, r.error_type) == (400, "BadRequest")
