"""A switch's port map converges whatever the order of its events while it connects (issue 16).

The reconciler asks a connecting switch for its port list and installs the reply
later; port-status events that arrive in between must not be lost under the older
reply, and a switch that goes away meanwhile must not come back as connected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.sim import FakeSwitch
from sdnapp.reconciler import SwitchGone, Work
from sdnapp.status import ACTIVE, DOWN
from topology.switches import SwitchPort, Topology

from .test_reconciler import DPID, MAC_A1, MAC_A2, MAC_A3, World, make_world

PORTS = (1, 2, 3, 4)


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    world = make_world(str(tmp_path / "store.db"), FakeSwitch(DPID, PORTS + (9,)))
    world.channel.delete_port(DPID, 9)  # the switch can take port 9, but has none yet
    yield world
    world.rec.stop()
    world.store.close()


def reported(w: World, dpid: int = DPID) -> dict[int, SwitchPort]:
    s = w.topo.switch(dpid)
    assert s is not None
    return dict(s.ports)


def test_events_between_the_reply_and_its_installation_are_kept(w: World) -> None:
    def meanwhile(dpid: int) -> None:
        # The reply has left the switch; then a port is added, one deleted, one goes down.
        added = w.channel.set_port(dpid, 9, name="tap9")
        gone = w.channel.delete_port(dpid, 3)
        down = w.channel.set_port(dpid, 2, up=False)
        w.rec.on_port_status(dpid, added)
        w.rec.on_port_status(dpid, gone, deleted=True)
        w.rec.on_port_status(dpid, down)

    w.channel.after_port_desc = meanwhile
    w.full()
    assert reported(w) == w.channel.ports[DPID]
    assert set(reported(w)) == {1, 2, 4, 9} and not reported(w)[2].up


def test_events_for_a_switch_seen_for_the_first_time_are_not_dropped(w: World) -> None:
    # Nothing is known of the switch before its first port list is installed.
    assert w.topo.switch(DPID) is None

    def meanwhile(dpid: int) -> None:
        w.rec.on_port_status(dpid, w.channel.set_port(dpid, 9, name="vxlan0"))

    w.channel.after_port_desc = meanwhile
    w.full()
    assert reported(w)[9] == SwitchPort(9, "vxlan0", True)


def test_a_vnic_on_a_port_added_while_the_switch_connects_goes_active(w: World) -> None:
    net = w.network()
    a1 = w.attach(net, MAC_A1, 1)
    a9 = w.attach(net, MAC_A2, 0, port_name="tap9")  # bound by name: the interface is not there yet
    a3 = w.attach(net, MAC_A3, 3)
    w.take_changed()

    def meanwhile(dpid: int) -> None:
        w.rec.on_port_status(dpid, w.channel.set_port(dpid, 9, name="tap9"))
        w.rec.on_port_status(dpid, w.channel.delete_port(dpid, 3), deleted=True)

    w.channel.after_port_desc = meanwhile
    w.full()
    w.channel.after_port_desc = None
    # The events asked for their networks to be recomputed; that job finds nothing left to do.
    assert w.job(*w.take_changed()) == []
    assert [w.status_of(x) for x in (a1, a9, a3)] == [ACTIVE, ACTIVE, DOWN]
    assert {m.port_no for m in w.desired_state.segment_states()[net.segment_id].members} == {1, 9}


def test_a_switch_that_disconnects_while_its_ports_are_read_stays_disconnected(w: World) -> None:
    w.channel.after_port_desc = w.rec.on_switch_down
    with pytest.raises(SwitchGone):
        w.full()
    assert w.topo.connected() == []
    assert w.rec.installed(DPID) == []


def test_topology_replays_events_in_order_on_top_of_the_snapshot() -> None:
    t = Topology()
    t.begin_port_snapshot(1)
    t.port_changed(1, SwitchPort(5, "p5", True))
    t.port_changed(1, SwitchPort(5, "p5", False))
    t.port_changed(1, SwitchPort(2, "p2", True), deleted=True)
    t.port_changed(1, SwitchPort(2, "p2b", True))  # deleted and added again with another name
    assert t.switch_connected(1, [SwitchPort(1, "p1", True), SwitchPort(2, "p2", True)]) is not None
    s = t.switch(1)
    assert s is not None and s.connected
    assert s.ports == {1: SwitchPort(1, "p1", True), 2: SwitchPort(2, "p2b", True), 5: SwitchPort(5, "p5", False)}
    assert s.port_by_name("p2b") == SwitchPort(2, "p2b", True) and s.port_by_name("p2") is None

    # Events after the installation apply directly; a reply asked for before a disconnect is refused.
    t.port_changed(1, SwitchPort(5, "p5", True))
    assert t.switch(1).ports[5].up  # type: ignore[union-attr]
    t.begin_port_snapshot(1)
    t.switch_disconnected(1)
    assert t.switch_connected(1, [SwitchPort(1, "p1", True)]) is None
    assert t.connected() == [] and set(t.switch(1).ports) == {1, 2, 5}  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        t.switch_connected(1, [])  # nothing was asked for


def test_a_tunnel_port_that_appears_later_recomputes_its_switch(tmp_path: Path) -> None:
    # Found on three VXLAN hypervisors: a tunnel port added after the switch's first job was in the
    # topology but no job recomputed the switch, so it held only local flows.
    from flows.driver import TunnelEnd

    w = make_world(str(tmp_path / "store.db"), FakeSwitch(DPID, PORTS + (9,)))
    try:
        w.channel.delete_port(DPID, 9)
        ends: dict[int, TunnelEnd] = {}

        def tunnels() -> dict[int, TunnelEnd]:
            s = w.topo.switch(DPID)
            port = s.port_by_name("vxlan0") if s else None
            ends[DPID] = TunnelEnd("192.0.2.1", port.port_no if port else None)
            return dict(ends)

        w.rec.tunnels = tunnels
        w.full()
        with w.rec._cond:
            assert not w.rec._pending
        w.rec.on_port_status(DPID, w.channel.set_port(DPID, 9, name="vxlan0"))
        with w.rec._cond:
            pending = dict(w.rec._pending)
        assert pending == {DPID: Work(every=True)}
    finally:
        w.store.close()
