"""A restarted controller on a fabric starts from the topology it remembers (issue 17).

Two switches joined by a discovered link, a network with a VNIC on each. The controller
restarts; the first switch reconnects while the other has not yet: its job must find
nothing to change (before, it dropped the link's flows until LLDP found the link again).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flows.sim import FakeSwitch
from sdnapp.reconciler import Work
from sdnapp.remembered import RememberedTopology
from sdnapp.status import ACTIVE
from topology.fabric import LinkEnd
from topology.switches import SwitchPort

from .test_reconciler import ADMIN, MAC_A1, MAC_A2, MAC_A3, World, make_world, out_ports

PORTS = tuple(range(1, 9))
TRUNK = 8  # each switch's port 8 is the link
HOLD = 30.0


def _fabric(path: Path) -> World:
    w = make_world(str(path), FakeSwitch(1, PORTS), FakeSwitch(2, PORTS), hold_time=HOLD)
    for dpid in (1, 2):
        w.full(dpid)
    w.topo.link_seen(LinkEnd(1, TRUNK), LinkEnd(2, TRUNK), now=0.0)
    w.rec.on_links_changed()  # as discovery does
    net = w.network()
    w.attach(net, MAC_A1, 1, dpid=1)
    w.attach(net, MAC_A2, 1, dpid=2)
    for dpid in (1, 2):
        w.run(Work(every=True), dpid)
    assert out_ports(w.channel.switches[1], 1, MAC_A1, MAC_A2) == [TRUNK]
    RememberedTopology(w.store, w.topo, lambda: None).tick()
    _take_pending(w)  # what the set-up's jobs asked for was done by the jobs above
    return w


def _restarted(w: World) -> World:
    w.store.close()
    again = make_world(w.path, *w.channel.switches.values(), hold_time=HOLD)
    RememberedTopology(again.store, again.topo, lambda: None).restore()
    return again


def test_the_first_switch_back_finds_nothing_to_change(tmp_path: Path) -> None:
    w2 = _restarted(_fabric(tmp_path / "s.db"))
    try:
        assert w2.full(1) == []  # switch 2 has not reconnected yet
        assert w2.full(2) == []
        assert [w2.svc.port_status(p) for p in w2.svc.list_ports(ADMIN)] == [ACTIVE, ACTIVE]
        assert out_ports(w2.channel.switches[1], 1, MAC_A1, MAC_A2) == [TRUNK]
    finally:
        w2.store.close()


def test_a_link_that_went_down_while_away_is_routed_around_at_once(tmp_path: Path) -> None:
    w2 = _restarted(_fabric(tmp_path / "s.db"))
    w2.channel.set_port(2, TRUNK, up=False)  # while the controller was away
    try:
        assert w2.full(1) == []  # as remembered: switch 2 has not said otherwise yet
        sent = w2.full(2)
        assert w2.topo.links_in_use() == []
        assert {m.flow for m in sent if m.kind == "delete"}  # switch 2 stops using the link
        assert w2.run(Work(every=True), 1)  # and switch 1, recomputed for the new fabric, too
        assert out_ports(w2.channel.switches[1], 1, MAC_A1, MAC_A2) == []
    finally:
        w2.store.close()


def test_what_the_store_remembers_is_the_topology_as_last_seen(tmp_path: Path) -> None:
    w = _fabric(tmp_path / "s.db")
    w.rec.on_port_status(1, w.channel.set_port(1, 3, name="tap3", up=False))
    RememberedTopology(w.store, w.topo, lambda: None).tick()
    with w.store.read() as tx:
        switches, links = tx.remembered_switches(), tx.remembered_links()
    assert [str(lk) for lk in links] == ["0000000000000001/8<->0000000000000002/8"]
    assert SwitchPort(3, "tap3", False) in switches[1] and len(switches[2]) == len(PORTS)
    w.store.close()


def test_a_switch_back_from_a_disconnect_confirms_its_ports_without_the_others_recomputing(tmp_path: Path) -> None:
    # Found on three hypervisors: with the switch held in the fabric, nothing recomputed the
    # others, and the ports of a switch that reconnected stayed DOWN waiting for their confirmation.
    w = _fabric(tmp_path / "s.db")
    a1, a2 = w.svc.list_ports(ADMIN)
    w.rec.on_switch_down(2)
    assert [w.svc.port_status(p) for p in (a1, a2)] == [ACTIVE, "DOWN"]
    with w.rec._cond:
        assert not w.rec._pending  # the fabric did not change: switch 1 keeps its flows
    w.channel.reconnect(2)
    assert w.full(2) == []
    assert [w.svc.port_status(p) for p in (a1, a2)] == [ACTIVE, ACTIVE]
    w.store.close()


def test_an_interface_added_while_its_switch_was_away_is_carried_by_the_others(tmp_path: Path) -> None:
    w = _fabric(tmp_path / "s.db")
    net = w.svc.list_networks(ADMIN)[0]
    w.rec.on_switch_down(2)
    a3 = w.attach(net, MAC_A3, 0, dpid=2, port_name="tap3")  # plugged meanwhile, bound by its name
    w.channel.set_port(2, 3, name="tap3")
    for dpid, work in _take_pending(w).items():  # what the plug asked for, while switch 2 was away
        w.run(work, dpid)
    w.channel.reconnect(2)
    w.full(2)
    pending = _take_pending(w)
    assert set(pending) == {1} and net.segment_id in pending[1].segments  # switch 1 learns of tap3
    w.run(pending[1], 1)
    assert w.status_of(a3) == ACTIVE
    assert out_ports(w.channel.switches[1], 1, MAC_A1, MAC_A3) == [TRUNK]
    w.store.close()


def _take_pending(w: World) -> dict[int, Work]:
    with w.rec._cond:
        pending = dict(w.rec._pending)
        w.rec._pending.clear()
    return pending


def test_a_restart_reads_the_desired_state_once_for_every_switch(tmp_path: Path, monkeypatch: Any) -> None:
    w2 = _restarted(_fabric(tmp_path / "s.db"))
    reads: list[object] = []
    real = w2.desired_state.segment_states

    def counting(segment_ids: Any = None) -> Any:
        reads.append(segment_ids)
        return real(segment_ids)

    monkeypatch.setattr(w2.desired_state, "segment_states", counting)
    try:
        assert w2.full(1) == [] and w2.full(2) == []
        assert reads == [None]  # shared by both switches' first jobs: nothing changed in between
        w2.svc.create_network(ADMIN)  # a write: the next full job reads again
        w2.full(1)
        assert reads == [None, None]
    finally:
        w2.store.close()


def test_switches_reconnecting_together_share_one_read_of_the_desired_state(tmp_path: Path, monkeypatch: Any) -> None:
    import threading
    import time

    w2 = _restarted(_fabric(tmp_path / "s.db"))
    reads: list[object] = []
    real = w2.desired_state.segment_states

    def slow(segment_ids: Any = None) -> Any:
        reads.append(segment_ids)
        time.sleep(0.2)  # long enough for the other worker to ask meanwhile
        return real(segment_ids)

    monkeypatch.setattr(w2.desired_state, "segment_states", slow)
    try:
        jobs = [threading.Thread(target=w2.rec.run_job, args=(dpid, Work(read_back=True))) for dpid in (1, 2)]
        for j in jobs:
            j.start()
        for j in jobs:
            j.join(10)
        assert reads == [None]
    finally:
        w2.store.close()
