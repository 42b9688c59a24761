"""VIF bindings from the switch's Interface table: appear, move, leave, pending, restart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sdnapp.model import Caller, Vnic
from sdnapp.ovsdb import TunnelSpec, Vif, VifBinder, tunnel_problem, vifs_of
from sdnapp.service import NetworkService, SegmentPool
from sdnapp.status import StatusBook
from sdnapp.store import Store
from topology.switches import Topology

from .conftest import StoreTarget


@pytest.fixture(params=["sqlite", "postgresql"])
def store_engine(request: pytest.FixtureRequest) -> str:
    """This module's tests run on both engines."""
    return str(request.param)


ADMIN = Caller("ops", is_admin=True)
HV1, HV2 = 0xA01, 0xA02


@pytest.fixture
def svc(store_target: StoreTarget) -> Iterator[NetworkService]:
    store = Store(store_target("s.db"))
    yield NetworkService(store, SegmentPool("vxlan", 1000, 1999), Topology(), StatusBook())
    store.close()


def _binding(svc: NetworkService, vnic_id: str) -> tuple[int, str | None, str] | None:
    b = svc.get_vnic(ADMIN, vnic_id).binding
    return None if b is None else (b.datapath_id, b.port_name, b.source)


def test_appear_move_and_leave(svc: NetworkService) -> None:
    v = svc.create_vnic(Caller("red"))
    binder = VifBinder(svc)
    binder.on_vifs(HV1, {"tap1": Vif("tap1", v.id, v.mac_address)})
    assert _binding(svc, v.id) == (HV1, "tap1", "switch")
    # Live migration: the VIF appears on HV2 while still on HV1, then leaves HV1.
    binder.on_vifs(HV2, {"tap9": Vif("tap9", v.id, v.mac_address)})
    assert _binding(svc, v.id) == (HV2, "tap9", "switch")
    binder.on_vifs(HV1, {"tap1": Vif("tap1", v.id, v.mac_address)})  # an unrelated refresh of HV1
    assert _binding(svc, v.id) == (HV2, "tap9", "switch"), "an old VIF must not take the VNIC back"
    binder.on_vifs(HV1, {})
    assert _binding(svc, v.id) == (HV2, "tap9", "switch")
    binder.on_vifs(HV2, {})
    assert _binding(svc, v.id) is None


def test_an_unknown_iface_id_waits_for_its_vnic(svc: NetworkService) -> None:
    binder = VifBinder(svc)
    later = "4c0ffee0-0000-4000-8000-000000000001"
    binder.on_vifs(HV1, {"tap1": Vif("tap1", later, None), "junk": Vif("junk", "not-a-uuid", None)})
    svc.bind_pending_vifs()  # nothing to bind yet, nothing breaks
    with svc.store.write() as tx:  # the VNIC comes to exist with that id (e.g. a restored store)
        tx.insert_vnic(Vnic(later, "red", "", "fa:16:3e:00:00:99", None, None))
    svc.bind_pending_vifs()
    assert _binding(svc, later) == (HV1, "tap1", "switch")


def test_one_report_of_a_switch_is_one_transaction(svc: NetworkService, monkeypatch: pytest.MonkeyPatch) -> None:
    vnics = [svc.create_vnic(Caller("red")) for _ in range(3)]
    binder = VifBinder(svc)
    binder.on_vifs(HV1, {})
    real = svc.store.write
    writes: list[int] = []

    def counting() -> Any:
        writes.append(1)
        return real()

    monkeypatch.setattr(svc.store, "write", counting)
    binder.on_vifs(HV1, {f"tap{i}": Vif(f"tap{i}", v.id, None) for i, v in enumerate(vnics)})
    assert len(writes) == 1
    assert [_binding(svc, v.id) for v in vnics] == [(HV1, f"tap{i}", "switch") for i in range(3)]
    binder.on_vifs(HV1, {"tap0": Vif("tap0", vnics[0].id, None)})
    assert len(writes) == 2
    assert [_binding(svc, v.id) for v in vnics] == [(HV1, "tap0", "switch"), None, None]
    binder.on_vifs(HV1, {"tap0": Vif("tap0", vnics[0].id, None)})  # nothing changed: nothing written
    assert len(writes) == 2


def test_after_a_restart_bindings_to_vanished_interfaces_are_dropped(svc: NetworkService) -> None:
    a, b = svc.create_vnic(Caller("red")), svc.create_vnic(Caller("red"))
    VifBinder(svc).on_vifs(HV1, {"ta": Vif("ta", a.id, None), "tb": Vif("tb", b.id, None)})
    # sdnapp restarts; meanwhile tb left the switch.
    VifBinder(svc).on_vifs(HV1, {"ta": Vif("ta", a.id, None)})
    assert _binding(svc, a.id) == (HV1, "ta", "switch")
    assert _binding(svc, b.id) is None


def test_a_binding_made_by_the_api_is_not_undone_by_an_interface_leaving(svc: NetworkService) -> None:
    v = svc.create_vnic(Caller("red"))
    binder = VifBinder(svc)
    binder.on_vifs(HV1, {"tap1": Vif("tap1", v.id, None)})
    svc.bind(ADMIN, v.id, HV1, port_name="tap1")  # an operator pins it by hand
    binder.on_vifs(HV1, {})
    assert _binding(svc, v.id) == (HV1, "tap1", "api")


def test_vifs_and_tunnel_rows_are_read_as_os_vif_writes_them() -> None:
    rows = [
        {"name": "tap1", "type": "", "options": {}, "external_ids": {"iface-id": "x", "attached-mac": "m"}},
        {"name": "tap2", "type": "", "options": {}, "external_ids": {"iface-id": "y", "iface-status": "inactive"}},
        {"name": "eth0", "type": "", "options": {}, "external_ids": {}},
    ]
    assert vifs_of(rows) == {"tap1": Vif("tap1", "x", "m")}
    spec = TunnelSpec("vxlan0", "10.0.0.1", manage=False)
    good = {"name": "vxlan0", "type": "vxlan", "options": {"key": "flow", "remote_ip": "flow", "local_ip": "10.0.0.1"}}
    assert tunnel_problem(good, spec) is None
    assert "no interface" in (tunnel_problem(None, spec) or "")
    assert "not vxlan" in (tunnel_problem({**good, "type": "geneve"}, spec) or "")
    assert "options" in (tunnel_problem({**good, "options": {"key": "5"}}, spec) or "")
