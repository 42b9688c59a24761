"""The service's rules behind the Neutron face, without HTTP: the store step that brings a v1 store to
subnets, address allocation from a subnet's pools, bulk creates in one transaction, and a Neutron port
bound by the iface-id that names it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdnapp import errors, ipam
from sdnapp import store as store_module
from sdnapp.core import SegmentPool
from sdnapp.model import Caller
from sdnapp.service import NetworkService
from sdnapp.specs import FixedIp, PortSpec, SubnetSpec
from sdnapp.status import StatusBook
from sdnapp.store import Store
from topology.switches import Topology

from .conftest import StoreTarget


@pytest.fixture(params=["sqlite", "postgresql"])
def store_engine(request: pytest.FixtureRequest) -> str:
    """This module's tests run on both engines."""
    return str(request.param)


ME = Caller("tenant-a")


def _svc(target: str, quotas: dict[str, int] | None = None) -> NetworkService:
    return NetworkService(Store(target), SegmentPool("vlan", 100, 3999), Topology(), StatusBook(), quotas=quotas)


def test_a_v1_store_gets_its_subnets_from_its_address_ranges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    monkeypatch.setattr(store_module, "_STEPS", store_module._STEPS[:1])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 1)
    old = Store(str(path))
    old.close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO networks VALUES ('n1', 't', 'red', '10.1.0.0/24', 'vlan', 100, 1.0)")
    db.execute("INSERT INTO networks VALUES ('n2', 't', 'plain', NULL, 'vlan', 101, 2.0)")
    db.execute("INSERT INTO ports VALUES ('p1', 't', 'n1', 'a', '10.1.0.2', 3.0)")
    db.commit()
    db.close()
    monkeypatch.undo()
    svc = _svc(str(path))
    t = Caller("t")
    (sub,) = svc.list_subnets(t)
    assert (sub.id, sub.network_id, sub.cidr, sub.gateway_ip, sub.allocation_pools, sub.created_at) == (
        "n1", "n1", "10.1.0.0/24", "10.1.0.1", (("10.1.0.2", "10.1.0.254"),), 1.0)
    with svc.store.read() as tx:  # the old rows' ids are not UUIDs: read them from the store
        p = tx.port("p1")
        n = tx.network("n2")
    assert p is not None and (p.admin_state_up, p.port_security, p.device_id, p.host, p.updated_at) == (
        True, True, "", "", 3.0)
    assert n is not None and (n.admin_state_up, n.port_security, n.revision) == (True, True, 0)
    with svc.store.write() as tx:  # the next address after the old port's, from the migrated pool
        a = ipam.Allocator(sub.allocation_pools, tx.used_addresses("n1"))
        assert a.take("n1") == "10.1.0.3"


def test_pools_gateway_and_requested_addresses() -> None:
    assert ipam.default_pools("10.0.0.0/29", "10.0.0.1") == [("10.0.0.2", "10.0.0.6")]
    assert ipam.default_pools("10.0.0.0/29", "10.0.0.4") == [("10.0.0.1", "10.0.0.3"), ("10.0.0.5", "10.0.0.6")]
    assert ipam.default_pools("10.0.0.0/29", None) == [("10.0.0.1", "10.0.0.6")]
    assert ipam.check_pools("10.0.0.0/24", "10.0.0.1", [("10.0.0.50", "10.0.0.60"), ("10.0.0.2", "10.0.0.9")]) == [
        ("10.0.0.2", "10.0.0.9"), ("10.0.0.50", "10.0.0.60")]
    with pytest.raises(errors.Conflict):
        ipam.check_pools("10.0.0.0/24", None, [("10.0.0.2", "10.0.0.9"), ("10.0.0.9", "10.0.0.20")])
    with pytest.raises(errors.BadRequest):
        ipam.check_pools("10.0.0.0/24", None, [("10.0.0.2", "10.0.1.9")])
    with pytest.raises(errors.InvalidIpForSubnet):
        ipam.check_address("10.0.0.0/24", "10.0.0.1", "10.0.0.0")
    with pytest.raises(errors.IpAddressInUse):
        ipam.check_address("10.0.0.0/24", "10.0.0.1", "10.0.0.1")
    assert ipam.check_address("10.0.0.0/24", None, "10.0.0.1") == "10.0.0.1"


@settings(max_examples=50, deadline=None)
@given(used=st.sets(st.integers(2, 14)), claims=st.lists(st.integers(1, 14), max_size=5), n=st.integers(0, 16))
def test_the_allocator_never_hands_out_an_address_twice(used: set[int], claims: list[int], n: int) -> None:
    taken = {f"10.0.0.{i}" for i in used}
    a = ipam.Allocator([("10.0.0.2", "10.0.0.14")], set(taken))
    out = []
    for c in claims:
        if a.claim(f"10.0.0.{c}"):
            out.append(f"10.0.0.{c}")
    for _ in range(n):
        try:
            out.append(a.take("net"))
        except errors.AddressPoolExhausted:
            assert a.used >= {f"10.0.0.{i}" for i in range(2, 15)}
            break
    assert len(out) == len(set(out)) and not (set(out) - {f"10.0.0.{c}" for c in claims}) & taken


def test_a_bulk_that_fails_late_changes_nothing(store_target: StoreTarget) -> None:
    svc = _svc(store_target("b.db"), quotas={"port": 5})
    n = svc.create_network(ME, "net")
    svc.create_subnets(ME, [SubnetSpec(n.id, "10.0.0.0/24")])
    with pytest.raises(errors.OverQuota):
        svc.create_ports(ME, [PortSpec(n.id) for _ in range(6)])  # the quota is checked after the inserts
    with pytest.raises(errors.IpAddressInUse):
        svc.create_ports(ME, [PortSpec(n.id, fixed_ips=(FixedIp(ip_address="10.0.0.9"),))] * 2)
    assert svc.list_ports(ME) == [] and svc.list_vnics(ME) == []
    made = svc.create_ports(ME, [PortSpec(n.id) for _ in range(5)])
    assert [p.ip_address for p in made] == [f"10.0.0.{i}" for i in range(2, 7)]


def test_a_neutron_port_is_bound_by_its_own_id_as_iface_id(store_target: StoreTarget) -> None:
    svc = _svc(store_target("v.db"))
    n = svc.create_network(ME, "net")
    (p,) = svc.create_ports(ME, [PortSpec(n.id)])
    svc.switch_vifs_changed(7, {"tap" + p.id[:11]: p.id}, {})
    v = svc.get_vnic(ME, p.id)
    assert (v.port_id, v.mac_address, v.binding and v.binding.port_name) == (p.id, p.mac_address, "tap" + p.id[:11])
    svc.delete_port(ME, p.id)
    with pytest.raises(errors.VnicNotFound):
        svc.get_vnic(ME, p.id)
