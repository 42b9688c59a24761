"""Acknowledged writes survive SIGKILL of the real process; the store stays consistent.

Needs no switch: it runs the real sdnapp (API port 19750, OpenFlow port 16750) and kills it
mid-stream of writes, several times. The checker itself is tested first on made-up journals,
so a checker that sees nothing cannot pass for a product that loses nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testbeds.kill_trials import Snapshot, Write, run_trials, verify

NET = "11111111-1111-4111-8111-111111111111"
PORT = "22222222-2222-4222-8222-222222222222"
VNIC = "33333333-3333-4333-8333-333333333333"


def _write(seq: int, op: str, status: int | None, invoked: float, answered: float | None,
           answer: Any = None, **args: str | None) -> Write:
    return Write(seq, 1, 0, "red", False, op, "X", "/", None, dict(args), invoked, answered, status, answer)


def _network(nid: str = NET, name: str = "n", segment: int = 100) -> dict[str, Any]:
    return {"id": nid, "tenant_id": "red", "name": name, "address_prefix": "10.0.0.0/29",
            "segment": {"type": "vlan", "id": segment}, "status": "ACTIVE"}


def _port(vnic_id: str | None = None, ip: str = "10.0.0.2", pid: str = PORT) -> dict[str, Any]:
    return {"id": pid, "tenant_id": "red", "network_id": NET, "name": "p", "vnic_id": vnic_id,
            "ip_address": ip, "status": "DOWN"}


def _vnic(port_id: str | None = None) -> dict[str, Any]:
    return {"id": VNIC, "tenant_id": "red", "name": "v", "mac_address": "02:00:5e:00:00:01",
            "port_id": port_id, "binding": None, "status": "DOWN"}


def _snap(ports: list[dict[str, Any]], vnics: list[dict[str, Any]]) -> Snapshot:
    return Snapshot({NET: _network()}, {p["id"]: p for p in ports}, {v["id"]: v for v in vnics})


def test_checker_sees_a_lost_acknowledged_create() -> None:
    created = {"network": {k: v for k, v in _network().items() if k != "segment"}}
    ws = [_write(1, "create_network", 201, 0.0, 0.1, created, name="n", address_prefix="10.0.0.0/29")]
    assert any("gone though nothing destroyed it" in v for v in verify(1, Snapshot.empty(), ws, Snapshot.empty()))
    after = Snapshot({NET: _network()}, {}, {})
    assert verify(1, Snapshot.empty(), ws, after) == []
    ws[0].status, ws[0].answered = None, None  # unanswered: it may or may not have happened
    assert verify(1, Snapshot.empty(), ws, after) == []
    assert verify(1, Snapshot.empty(), ws, Snapshot.empty()) == []


def test_checker_sees_a_lost_plug_and_an_undone_destroy() -> None:
    before = _snap([_port()], [_vnic()])
    plug = _write(1, "plug", 200, 0.0, 0.1, port_id=PORT, vnic_id=VNIC)
    assert verify(1, before, [plug], _snap([_port(VNIC)], [_vnic(PORT)])) == []
    lost = verify(1, before, [plug], before)
    assert any(f"vnic {VNIC} is plugged into None" in v for v in lost), lost
    assert any(f"port {PORT} holds vnic None" in v for v in lost), lost
    destroy = _write(2, "destroy_vnic", 204, 0.2, 0.3, vnic_id=VNIC)
    assert any("exists after an acknowledged destroy" in v for v in verify(1, before, [destroy], before))
    assert verify(1, before, [destroy], _snap([_port()], [])) == []


def test_checker_orders_writes_by_time() -> None:
    before = _snap([_port()], [_vnic()])
    plugged, unplugged = _snap([_port(VNIC)], [_vnic(PORT)]), before
    plug = _write(1, "plug", 200, 0.0, 0.1, port_id=PORT, vnic_id=VNIC)
    # An acknowledged unplug sent after the plug was answered comes last: the VNIC must be out.
    unplug = _write(2, "unplug_vnic", 204, 0.2, 0.3, vnic_id=VNIC)
    assert verify(1, before, [plug, unplug], plugged) != []
    assert verify(1, before, [plug, unplug], unplugged) == []
    # Sent before the plug was answered, the two may have happened in either order.
    unplug.invoked = 0.05
    assert verify(1, before, [plug, unplug], plugged) == []
    # An unanswered unplug by port, sent later, may have happened or not.
    by_port = _write(3, "unplug_port", None, 0.4, None, port_id=PORT)
    unplug.invoked = 0.2
    assert verify(1, before, [plug, unplug, by_port], unplugged) == []
    # A rejected plug changed nothing.
    rejected = _write(4, "plug", 409, 0.5, 0.6, port_id=PORT, vnic_id=VNIC)
    assert verify(1, before, [rejected], plugged) != []


def test_checker_sees_broken_invariants() -> None:
    other = "44444444-4444-4444-8444-444444444444"
    twins = _snap([_port(), _port(pid=other)], [])
    assert any("share address" in v for v in verify(1, twins, [], twins))
    gateway = _snap([_port(ip="10.0.0.1")], [])
    assert any("not a host address" in v for v in verify(1, gateway, [], gateway))
    one_way = _snap([_port()], [_vnic(PORT)])
    assert any("which says vnic None" in v for v in verify(1, one_way, [], one_way))


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    report = run_trials(tmp_path, trials=8, seed=20261126)
    print(report.summary())
    assert report.violations == [], "\n".join(report.violations[:50])
    assert report.trials == 8
    assert report.acknowledged > 0
    assert report.unanswered > 0, "no write was cut by a kill: the trials kill nothing in flight"
