"""Links in the topology: discovered, configured, contradicted, and which are in use."""

from __future__ import annotations

from topology.fabric import Link, LinkEnd
from topology.switches import SwitchPort, Topology


def _two_switches(t: Topology) -> None:
    t.begin_port_snapshot(1)
    t.switch_connected(1, [SwitchPort(1, "s1-eth1", True), SwitchPort(2, "s1-eth2", True)])
    t.begin_port_snapshot(2)
    t.switch_connected(2, [SwitchPort(1, "s2-eth1", True), SwitchPort(2, "s2-eth2", True)])


def test_a_configured_link_is_used_by_name_or_number() -> None:
    t = Topology([((1, "s1-eth2"), (2, 1))])
    _two_switches(t)
    [u] = t.links_in_use()
    assert (u.link, u.source) == (Link.of(LinkEnd(1, 2), LinkEnd(2, 1)), "configured")
    assert t.link_problems() == []


def test_a_configured_link_that_discovery_confirms_is_both() -> None:
    t = Topology([((1, 2), (2, 1))])
    _two_switches(t)
    t.link_seen(LinkEnd(2, 1), LinkEnd(1, 2), now=1.0)
    assert [u.source for u in t.links_in_use()] == ["both"]


def test_a_contradicted_configured_link_is_reported_and_not_used() -> None:
    t = Topology([((1, 2), (2, 1))])
    _two_switches(t)
    t.link_seen(LinkEnd(1, 2), LinkEnd(2, 2), now=1.0)  # LLDP says s1/2 is cabled to s2/2
    assert [(u.link, u.source) for u in t.links_in_use()] == [(Link.of(LinkEnd(1, 2), LinkEnd(2, 2)), "discovered")]
    [problem] = t.link_problems()
    assert "contradicted" in problem and "0000000000000001/2" in problem


def test_links_need_both_switches_connected_and_ports_up() -> None:
    t = Topology()
    _two_switches(t)
    t.link_seen(LinkEnd(1, 1), LinkEnd(2, 1), now=1.0)
    assert len(t.links_in_use()) == 1
    t.port_changed(2, SwitchPort(1, "s2-eth1", False))
    assert t.links_in_use() == []
    t.port_changed(2, SwitchPort(1, "s2-eth1", True))
    assert len(t.links_in_use()) == 1
    t.switch_disconnected(1)
    assert t.links_in_use() == []


def test_discovered_links_expire_and_a_port_has_one_peer() -> None:
    t = Topology()
    _two_switches(t)
    assert t.link_seen(LinkEnd(1, 1), LinkEnd(2, 1), now=1.0) is True
    assert t.link_seen(LinkEnd(2, 1), LinkEnd(1, 1), now=2.0) is False  # the same link, seen from the other side
    t.link_seen(LinkEnd(1, 1), LinkEnd(2, 2), now=3.0)  # re-cabled: s1/1 now reaches s2/2
    assert [u.link for u in t.links_in_use()] == [Link.of(LinkEnd(1, 1), LinkEnd(2, 2))]
    assert t.expire_links(now=3.9, timeout=1.0) == []
    assert t.expire_links(now=4.1, timeout=1.0) == [Link.of(LinkEnd(1, 1), LinkEnd(2, 2))]
    assert t.links_in_use() == []


def test_fabric_changes_are_reported_once() -> None:
    t = Topology()
    _two_switches(t)
    assert t.take_fabric_change() is True
    assert t.take_fabric_change() is False
    t.link_seen(LinkEnd(1, 1), LinkEnd(2, 1), now=1.0)
    assert t.take_fabric_change() is True
    assert t.fabric() is t.fabric()  # cached until something changes


LINK = Link.of(LinkEnd(1, 1), LinkEnd(2, 1))


def test_a_disconnected_switch_is_held_with_its_links_until_its_time_passes() -> None:
    t = Topology(hold_time=10.0)
    _two_switches(t)
    t.link_seen(LinkEnd(1, 1), LinkEnd(2, 1), now=1.0)
    before = t.fabric()
    t.take_fabric_change()
    t.switch_disconnected(2, now=5.0)
    assert t.connected() == [1]
    assert t.fabric().switches == before.switches and t.fabric().links == before.links
    assert t.take_fabric_change() is False  # the other switches' flows need not change
    assert t.expire_links(now=100.0, timeout=3.5) == []  # a switch that is away cannot be probed
    assert t.release_held(now=14.0) == []
    t.begin_port_snapshot(2)
    t.switch_connected(2, [SwitchPort(1, "s2-eth1", True), SwitchPort(2, "s2-eth2", True)], now=14.0)
    assert t.take_fabric_change() is False  # back in the same fabric
    # Reconnected: LLDP has a full expiry time again before the link is given up.
    assert t.expire_links(now=17.0, timeout=3.5) == []
    assert t.expire_links(now=17.6, timeout=3.5) == [LINK]

    t.link_seen(LinkEnd(1, 1), LinkEnd(2, 1), now=18.0)
    t.switch_disconnected(2, now=20.0)
    assert t.release_held(now=29.9) == []
    assert t.release_held(now=30.1) == [2]
    assert t.fabric().switches == {1} and t.links_in_use() == []
    assert t.take_fabric_change() is True


def test_without_a_hold_time_a_disconnected_switch_leaves_the_fabric_at_once() -> None:
    t = Topology()
    _two_switches(t)
    t.link_seen(LinkEnd(1, 1), LinkEnd(2, 1), now=1.0)
    t.switch_disconnected(2, now=2.0)
    assert t.fabric().switches == {1} and t.links_in_use() == []


def test_a_restored_topology_is_the_fabric_before_the_restart_until_told_otherwise() -> None:
    ports = {1: [SwitchPort(1, "s1-eth1", True)], 2: [SwitchPort(1, "s2-eth1", True)]}
    t = Topology(hold_time=30.0)
    t.restore(ports, [LINK], now=100.0)
    assert t.connected() == [] and t.fabric().switches == {1, 2} and t.fabric().links == (LINK,)
    t.take_fabric_change()
    t.begin_port_snapshot(1)
    t.switch_connected(1, ports[1], now=101.0)
    assert t.take_fabric_change() is False
    # Switch 2 comes back with the link's port down: the link is dropped at once.
    t.begin_port_snapshot(2)
    t.switch_connected(2, [SwitchPort(1, "s2-eth1", False)], now=102.0)
    assert t.links_in_use() == [] and t.take_fabric_change() is True


def test_a_remembered_link_lldp_does_not_confirm_expires_once_both_ends_are_back() -> None:
    ports = {1: [SwitchPort(1, "s1-eth1", True)], 2: [SwitchPort(1, "s2-eth1", True)]}
    t = Topology(hold_time=30.0)
    t.restore(ports, [LINK], now=100.0)
    t.begin_port_snapshot(1)
    t.switch_connected(1, ports[1], now=101.0)
    assert t.expire_links(now=110.0, timeout=3.5) == []  # switch 2 is not back: nothing can be concluded
    t.begin_port_snapshot(2)
    t.switch_connected(2, ports[2], now=111.0)
    assert t.expire_links(now=114.0, timeout=3.5) == []
    assert t.expire_links(now=114.6, timeout=3.5) == [LINK]


def test_changes_to_remember_are_handed_out_once() -> None:
    t = Topology()
    assert t.take_changes() is None
    _two_switches(t)
    changes = t.take_changes()
    assert changes is not None and set(changes.ports) == {1, 2} and changes.links is None
    assert t.take_changes() is None
    t.link_seen(LinkEnd(1, 1), LinkEnd(2, 1), now=1.0)
    t.port_changed(1, SwitchPort(2, "s1-eth2", False))
    changes = t.take_changes()
    assert changes is not None and changes.links == [LINK]
    assert changes.ports == {1: [SwitchPort(1, "s1-eth1", True), SwitchPort(2, "s1-eth2", False)]}
    t.link_seen(LinkEnd(1, 1), LinkEnd(2, 1), now=2.0)  # seen again: nothing new to remember
    assert t.take_changes() is None
