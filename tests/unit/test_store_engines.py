"""The store on PostgreSQL as several instances use it: allocations race-free between instances, a
database down at start refused, a database lost while running answered 503 and found again; and how
the configuration names the engine."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from webob import Request

from rest import v1
from rest.app import Api
from rest.auth import NoAuth
from rest.openapi import document
from sdnapp import errors
from sdnapp.config import ConfigError, parse
from sdnapp.engines import StoreError, StoreUnavailable, redact
from sdnapp.model import Caller
from sdnapp.service import NetworkService, SegmentPool
from sdnapp.status import StatusBook
from sdnapp.store import SCHEMA_VERSION, Store
from topology.switches import Topology

from .. import pgtest
from .test_service import THREADS, run_together

TENANT = Caller("tenant-a")
ROOT = Path(__file__).resolve().parents[2]


def _service(store: Store, pool: SegmentPool | None = None) -> NetworkService:
    return NetworkService(store, pool or SegmentPool("vlan", 100, 3999), Topology(), StatusBook())


@pytest.fixture
def schema_url(pg_database: str, request: pytest.FixtureRequest) -> str:
    return pgtest.fresh_schema(pg_database, "s_" + request.node.name[:40].replace("[", "_").replace("]", ""))


@pytest.fixture
def three(schema_url: str) -> Iterator[list[NetworkService]]:
    """Three instances' services, each with its own store (connections) on one database."""
    stores = [Store(schema_url) for _ in range(3)]
    yield [_service(s, SegmentPool("vlan", 100, 129)) for s in stores]
    for s in stores:
        s.close()


def test_instances_starting_together_make_the_schema_once(schema_url: str) -> None:
    stores = run_together(4, lambda i: Store(schema_url))
    try:
        with stores[0].read() as tx:
            assert tx.db.execute("SELECT value FROM meta").fetchone() == (str(SCHEMA_VERSION),)
    finally:
        for s in stores:
            s.close()


def test_instances_never_hand_out_a_value_twice(three: list[NetworkService]) -> None:
    shared = three[0].create_network(TENANT, "shared", "10.20.0.0/26")  # 61 addresses for ports
    contested = "fa:16:3e:00:02:01"

    def work(i: int) -> tuple[list[int], list[str], list[str], bool]:
        svc = three[i % 3]
        segments, macs, ips = [], [], []
        for _ in range(2):
            try:
                segments.append(svc.create_network(TENANT, f"n{i}").segment_id)
            except errors.SegmentPoolExhausted:
                pass
            macs.append(svc.create_vnic(TENANT).mac_address)
            ips.append(str(svc.create_port(TENANT, shared.id).ip_address))
        try:
            svc.create_vnic(TENANT, contested)
            won = True
        except errors.MacAddressInUse:
            won = False
        return segments, macs, ips, won

    results = run_together(THREADS, work)
    segments = [s for r in results for s in r[0]] + [shared.segment_id]
    assert len(segments) == len(set(segments)) == 30  # the pool of 30, each once
    macs = [m for r in results for m in r[1]]
    assert len(macs) == len(set(macs)) == 2 * THREADS
    ips = [ip for r in results for ip in r[2]]
    assert len(ips) == len(set(ips)) == 2 * THREADS
    assert sum(r[3] for r in results) == 1
    # every instance reads what the others wrote
    for svc in three:
        assert sorted(p.ip_address or "" for p in svc.list_ports(TENANT)) == sorted(ips)


def test_a_database_down_at_start_is_refused_with_a_clear_error() -> None:
    with pytest.raises(StoreError, match=r"cannot connect to the store's PostgreSQL database "
                                         r"postgresql://sdnapp:\*\*\*@127\.0\.0\.1:1/nothing"):
        Store("postgresql://sdnapp:secret@127.0.0.1:1/nothing")


def test_sdnapp_exits_when_its_database_is_down_at_start(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("store: {url: 'postgresql://sdnapp:secret@127.0.0.1:1/nothing'}\n"
                      "api: {port: 19869}\nopenflow: {ports: [16869]}\n")
    out = subprocess.run([sys.executable, "-m", "sdnapp.cli", "run", "--config", str(config)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "cannot connect to the store's PostgreSQL database" in out.stderr and "secret" not in out.stderr


def test_a_lost_database_answers_503_to_writes_and_is_found_again(schema_url: str) -> None:
    proxy = pgtest.CuttableProxy(schema_url)
    store = Store(proxy.url)
    try:
        svc = _service(store)
        api = Api(svc, NoAuth(), 65536, lambda: True, document, faces=(v1.FACE,))
        net = svc.create_network(TENANT, "before")

        def call(method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
            req = Request.blank(path, method=method, headers={"X-Project-Id": TENANT.project_id})
            if body is not None:
                req.body, req.content_type = body, "application/json"
            resp = req.get_response(api)
            return resp.status_int, resp.json_body["error"]["type"] if resp.status_int >= 400 else ""

        proxy.cut()
        with pytest.raises(StoreUnavailable, match="unavailable"):
            svc.create_network(TENANT, "during")
        assert call("POST", "/v1/networks", b'{"network": {"name": "during"}}') == (503, "StoreUnavailable")
        assert not svc.healthy()

        proxy.mend()
        deadline = time.monotonic() + 30
        while True:  # no restart: the pool finds the database again by itself
            try:
                after = svc.create_network(TENANT, "after")
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not find its database again"
        assert call("POST", "/v1/networks", b'{"network": {"name": "again"}}') == (201, "")
        assert {n.name for n in svc.list_networks(TENANT)} == {"before", "after", "again"}
        assert net.segment_id != after.segment_id
    finally:
        store.close()
        proxy.close()


def test_the_password_never_shows() -> None:
    assert redact("postgresql://u:pw@h:5/d") == "postgresql://u:***@h:5/d"
    assert redact("postgresql://h/d") == "postgresql://h/d"


def test_the_configuration_names_the_engine(tmp_path: Path) -> None:
    pg = parse({"store": {"url": "postgresql://u:p@db:5432/sdnapp"}}, str(tmp_path))
    assert pg.store.target == "postgresql://u:p@db:5432/sdnapp"
    assert parse({"store": {"url": "sqlite:///state/s.db"}}, str(tmp_path)).store.target == str(
        tmp_path / "state/s.db")
    assert parse({"store": {"path": "s.db"}}, str(tmp_path)).store.target == str(tmp_path / "s.db")
    assert parse({}, str(tmp_path)).store.url is None
    with pytest.raises(ConfigError, match="store.url: give store.url or store.path, not both"):
        parse({"store": {"url": "postgresql://db/x", "path": "s.db"}})
    with pytest.raises(ConfigError, match="store.url: must be postgresql://... or sqlite:///path"):
        parse({"store": {"url": "mysql://db/x"}})
