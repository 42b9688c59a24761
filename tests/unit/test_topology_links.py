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
    assert t.expire_links(older_than=4.0) == [Link.of(LinkEnd(1, 1), LinkEnd(2, 2))]
    assert t.links_in_use() == []


def test_fabric_changes_are_reported_once() -> None:
    t = Topology()
    _two_switches(t)
    assert t.take_fabric_change() is True
    assert t.take_fabric_change() is False
    t.link_seen(LinkEnd(1, 1), LinkEnd(2, 1), now=1.0)
    assert t.take_fabric_change() is True
    assert t.fabric() is t.fabric()  # cached until something changes
