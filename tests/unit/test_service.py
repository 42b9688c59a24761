"""NetworkService and Store: concurrent writers never get the same value, acknowledged
writes survive, and a store file that is not ours (or not this version) is refused."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sdnapp import errors
from sdnapp.desired import DesiredState
from sdnapp.model import Caller
from sdnapp.service import NetworkService, SegmentPool
from sdnapp.status import StatusBook
from sdnapp.store import SCHEMA_VERSION, Store, StoreError
from topology.switches import SwitchPort, Topology

from .conftest import World, WorldFactory


@pytest.fixture(params=["sqlite", "postgresql"])
def store_engine(request: pytest.FixtureRequest) -> str:
    """This module's tests run on both engines."""
    return str(request.param)


THREADS = 20
TENANT = Caller("tenant-a")
ADMIN = Caller("ops", is_admin=True)


def run_together(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) for i < n in n threads released at once; re-raise the first unexpected error."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    failures: list[BaseException] = []

    def main(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except BaseException as e:  # handed to the test thread below
            failures.append(e)

    threads = [threading.Thread(target=main, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    if failures:
        raise failures[0]
    return results


def _random_mac(rng: random.Random) -> str:
    return "02:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(5))


# --- concurrency -----------------------------------------------------------------------------


def test_concurrent_creates_never_hand_out_a_value_twice(world: World) -> None:
    svc = world.service
    shared = svc.create_network(TENANT, "shared", "10.20.0.0/24")
    contested = [f"fa:16:3e:00:01:{i:02x}" for i in range(5)]

    def work(i: int) -> dict[str, list[Any]]:
        rng = random.Random(i)
        out: dict[str, list[Any]] = {"networks": [], "vnics": [], "ports": [], "refused": []}
        for _ in range(3):
            out["networks"].append(svc.create_network(TENANT, f"n{i}"))
            out["vnics"].append(svc.create_vnic(TENANT))  # the server picks a random MAC
            out["vnics"].append(svc.create_vnic(TENANT, _random_mac(rng)))
            out["ports"].append(svc.create_port(TENANT, shared.id, f"p{i}"))
        try:
            out["vnics"].append(svc.create_vnic(TENANT, contested[i % len(contested)]))
        except errors.MacAddressInUse as e:
            out["refused"].append(e)
        return out

    results = run_together(THREADS, work)
    networks = [n for r in results for n in r["networks"]]
    vnics = [v for r in results for v in r["vnics"]]
    ports = [p for r in results for p in r["ports"]]

    segments = [n.segment_id for n in networks] + [shared.segment_id]
    assert len(segments) == len(set(segments)) == 3 * THREADS + 1
    assert all(100 <= s <= 3999 for s in segments)
    macs = [v.mac_address for v in vnics]
    assert len(macs) == len(set(macs))
    assert sorted(m for m in macs if m in contested) == sorted(contested)  # each contested MAC once
    assert sum(len(r["refused"]) for r in results) == THREADS - len(contested)
    ips = [p.ip_address for p in ports]
    assert len(ips) == len(set(ips)) == 3 * THREADS
    assert "10.20.0.0" not in ips and "10.20.0.1" not in ips and "10.20.0.255" not in ips

    # and the store agrees with what the callers were told
    assert {n.id for n in svc.list_networks(ADMIN)} == {n.id for n in networks} | {shared.id}
    assert {(v.id, v.mac_address) for v in svc.list_vnics(ADMIN)} == {(v.id, v.mac_address) for v in vnics}
    assert {(p.id, p.ip_address) for p in svc.list_ports(ADMIN)} == {(p.id, p.ip_address) for p in ports}


def test_concurrent_creates_exhaust_a_pool_exactly(make_world: WorldFactory) -> None:
    svc = make_world(pool=SegmentPool("vlan", 200, 209)).service
    small = svc.create_network(TENANT, "small", "10.30.0.0/28")  # 13 addresses for ports

    def work(i: int) -> tuple[str, str]:
        try:
            n = svc.create_network(TENANT, f"n{i}")
            seg = f"segment {n.segment_id}"
        except errors.SegmentPoolExhausted:
            seg = "exhausted"
        try:
            ip = f"ip {svc.create_port(TENANT, small.id).ip_address}"
        except errors.AddressPoolExhausted:
            ip = "exhausted"
        return seg, ip

    results = run_together(THREADS, work)
    segs = [s for s, _ in results if s != "exhausted"]
    assert len(segs) == len(set(segs)) == 9  # 10 in the pool, one taken by `small`
    ips = [ip for _, ip in results if ip != "exhausted"]
    assert len(ips) == len(set(ips)) == 13
    assert sorted(ips) == sorted(f"ip 10.30.0.{i}" for i in range(2, 15))


def test_concurrent_plugs_of_one_vnic_attach_it_once(world: World) -> None:
    svc = world.service
    net = svc.create_network(TENANT)
    ports = [svc.create_port(TENANT, net.id) for _ in range(THREADS)]
    vnic = svc.create_vnic(TENANT)

    def work(i: int) -> str:
        try:
            svc.plug(TENANT, ports[i].id, vnic.id)
            return "plugged"
        except errors.AlreadyAttached:
            return "refused"

    assert sorted(run_together(THREADS, work)) == ["plugged"] + ["refused"] * (THREADS - 1)
    plugged = [p for p in svc.list_ports(TENANT) if p.vnic_id == vnic.id]
    assert len(plugged) == 1 and svc.get_vnic(TENANT, vnic.id).port_id == plugged[0].id


# --- durability ------------------------------------------------------------------------------


def _everything(store: Store) -> dict[str, Any]:
    with store.read() as tx:
        return {
            "networks": tx.networks(),
            "ports": tx.ports(),
            "vnics": tx.vnics(),
        }


def test_a_second_store_on_the_file_sees_every_acknowledged_write(tmp_path: Path) -> None:
    path = str(tmp_path / "durable.db")
    first = Store(path)
    svc = NetworkService(first, SegmentPool("vlan", 100, 3999), Topology(), StatusBook())
    net = svc.create_network(TENANT, "n", "10.40.0.0/24")
    gone = svc.create_port(TENANT, net.id)
    port = svc.create_port(TENANT, net.id)
    vnic = svc.create_vnic(TENANT, "fa:16:3e:00:00:01")
    svc.plug(TENANT, port.id, vnic.id)
    svc.bind(ADMIN, vnic.id, 1, port_name="s1-eth1")
    svc.destroy_port(TENANT, gone.id)

    second = Store(path)  # the first is still open: nothing was flushed by closing it
    try:
        seen = _everything(second)
        assert seen == _everything(first)
        assert [n.id for n in seen["networks"]] == [net.id]
        assert [(p.id, p.vnic_id, p.ip_address) for p in seen["ports"]] == [(port.id, vnic.id, "10.40.0.3")]
        (v,) = seen["vnics"]
        assert (v.id, v.port_id, v.binding and v.binding.port_name) == (vnic.id, port.id, "s1-eth1")
    finally:
        second.close()
        first.close()


_CRASHING_WRITER = """
import os, sys
from sdnapp.model import Caller
from sdnapp.service import NetworkService, SegmentPool
from sdnapp.status import StatusBook
from sdnapp.store import Store
from topology.switches import SwitchPort, Topology

svc = NetworkService(Store(sys.argv[1]), SegmentPool("vlan", 100, 3999), Topology(), StatusBook())
me = Caller("tenant-a")
net = svc.create_network(me, "n", "10.50.0.0/24")
print("network", net.id, flush=True)
for _ in range(3):
    print("port", svc.create_port(me, net.id).id, flush=True)
    print("vnic", svc.create_vnic(me).id, flush=True)
os._exit(0)  # no close, no clean-up: as if the process died right after answering
"""


def test_acknowledged_writes_survive_a_process_that_dies(tmp_path: Path) -> None:
    path = str(tmp_path / "crash.db")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", _CRASHING_WRITER, path], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    acked: dict[str, set[str]] = {"network": set(), "port": set(), "vnic": set()}
    for line in out.stdout.splitlines():
        kind, rid = line.split()
        acked[kind].add(rid)
    assert len(acked["port"]) == len(acked["vnic"]) == 3
    store = Store(path)
    try:
        seen = _everything(store)
        assert {n.id for n in seen["networks"]} == acked["network"]
        assert {p.id for p in seen["ports"]} == acked["port"]
        assert {v.id for v in seen["vnics"]} == acked["vnic"]
    finally:
        store.close()


def test_a_refused_write_leaves_nothing_behind(world: World) -> None:
    svc = world.service
    net = svc.create_network(TENANT, "n", "10.60.0.0/29")
    for _ in range(5):
        svc.create_port(TENANT, net.id)
    before = _everything(world.store)
    with pytest.raises(errors.AddressPoolExhausted):
        svc.create_port(TENANT, net.id)
    with pytest.raises(errors.BadRequest):
        svc.create_network(TENANT, "n", "10.60.0.1/24")
    assert _everything(world.store) == before


# --- files that are not this store ------------------------------------------------------------


def test_a_store_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Store(str(path)).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}"):
        Store(str(path))


def test_an_older_store_is_upgraded_in_one_transaction_keeping_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sdnapp import store as store_module

    path = str(tmp_path / "older.db")
    first = Store(path)
    kept = NetworkService(first, SegmentPool("vlan", 100, 3999), Topology(), StatusBook()).create_network(TENANT)
    first.close()
    steps = store_module._STEPS
    # A next version whose second statement fails: nothing of it may stay.
    monkeypatch.setattr(store_module, "_STEPS", (*steps, "ALTER TABLE networks ADD COLUMN extra TEXT; BOGUS"))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(steps) + 1)
    with pytest.raises(StoreError):
        Store(path)
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta").fetchone() == (str(len(steps)),)
    assert "extra" not in {r[1] for r in db.execute("PRAGMA table_info(networks)")}
    db.close()

    monkeypatch.setattr(store_module, "_STEPS", (*steps, "ALTER TABLE networks ADD COLUMN extra TEXT"))
    upgraded = Store(path)
    with upgraded.read() as tx:
        assert tx.network(kept.id) == kept
        assert tx.db.execute("SELECT value FROM meta").fetchone() == (str(len(steps) + 1),)
    upgraded.close()


def test_a_store_without_a_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nover.db"
    Store(str(path)).close()
    db = sqlite3.connect(path)
    db.execute("DELETE FROM meta")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version"):
        Store(str(path))


def test_another_applications_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "theirs.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO customers (name) VALUES ('x')")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not an sdnapp store"):
        Store(str(path))
    # and it was not touched
    db = sqlite3.connect(path)
    assert db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall() == [("customers",)]
    db.close()


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not a database\n" * 200)
    with pytest.raises(StoreError):
        Store(str(path))


def test_a_store_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store(str(tmp_path / "nowhere" / "sdnapp.db"))


def test_a_reopened_store_keeps_working(tmp_path: Path) -> None:
    path = str(tmp_path / "again.db")
    Store(path).close()
    store = Store(path)
    svc = NetworkService(store, SegmentPool("vlan", 100, 3999), Topology(), StatusBook())
    assert svc.create_network(TENANT).segment_id == 100
    assert svc.healthy()
    store.close()


# --- what a port-status event touches ------------------------------------------------------


def test_ports_bound_on_finds_exactly_the_vnics_on_that_switch_port(world: World) -> None:
    svc = world.service
    net = svc.create_network(TENANT, "n")
    other_net = svc.create_network(TENANT, "m")

    def attached(network: str, dpid: int, **where: Any) -> str:
        port = svc.create_port(TENANT, network)
        vnic = svc.create_vnic(TENANT)
        svc.plug(TENANT, port.id, vnic.id)
        svc.bind(ADMIN, vnic.id, dpid, **where)
        return port.id

    by_no = attached(net.id, 1, port_no=3)
    by_name = attached(other_net.id, 1, port_name="tap-b")
    elsewhere = attached(net.id, 2, port_no=3)  # the same port number on another switch
    unplugged = svc.create_vnic(TENANT)
    svc.bind(ADMIN, unplugged.id, 1, port_no=4)  # bound but in no port: no traffic to recompute
    seg, other_seg = net.segment_id, other_net.segment_id

    desired = DesiredState(world.store, world.topology, "vlan")
    assert desired.ports_bound_on(1, SwitchPort(3, "tap-a", True)) == ({seg}, {by_no})
    assert desired.ports_bound_on(1, SwitchPort(9, "tap-b", True)) == ({other_seg}, {by_name})
    assert desired.ports_bound_on(1, SwitchPort(4, "tap-c", True)) == (set(), set())
    assert desired.ports_bound_on(1) == ({seg, other_seg}, {by_no, by_name})
    assert desired.ports_bound_on(2) == ({seg}, {elsewhere})
    assert desired.ports_bound_on(3) == (set(), set())
    # An access port is one a VNIC is bound to, plugged or not, found by number even before the
    # switch reported the port's name (link discovery asks about ports it has not seen yet).
    assert desired.is_access_port(1, 3) and desired.is_access_port(1, 4)
    assert desired.is_access_port(1, 9, "tap-b") and not desired.is_access_port(1, 9)
    assert not desired.is_access_port(3, 3)
