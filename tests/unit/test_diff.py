"""flows.diff: what reconciliation sends, checked against a simulated switch."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.diff import FlowDiff, diff
from flows.model import Flow, Opaque, Output, match
from flows.pipeline import PRIO_FLOOD, base_flows, cookie_for
from flows.sim import FakeSwitch
from flows.state import Member
from flows.vlan import segment_flows

DPID = 0x1
PORTS = list(range(1, 9))


def member(i: int, port_no: int) -> Member:
    return Member(port_id=f"p{i}", vnic_id=f"v{i}", mac=f"02:00:00:00:00:{i:02x}", datapath_id=DPID, port_no=port_no)


def desired(layout: dict[int, list[Member]]) -> list[Flow]:
    flows = base_flows()
    for vid, ms in layout.items():
        flows += segment_flows(vid, ms, DPID)
    return flows


OLD = {10: [member(1, 1), member(2, 2)], 20: [member(3, 3), member(4, 4)]}
# member 2 moved to port 5, member 3 unplugged, member 5 joined 10, network 20 otherwise unchanged
NEW = {10: [member(1, 1), member(2, 5), member(5, 6)], 20: [member(4, 4)]}


def test_identical_sets_give_empty_diff() -> None:
    flows = desired(OLD)
    d = diff(flows, list(reversed(flows)))
    assert not d
    assert len(d) == 0
    assert d == FlowDiff()


def test_empty_desired_deletes_everything_installed() -> None:
    flows = desired(OLD)
    d = diff([], flows)
    assert d.add == [] and d.modify == []
    assert sorted(map(str, d.delete)) == sorted(map(str, flows))


def test_missing_flow_is_added() -> None:
    flows = desired(OLD)
    d = diff(flows, flows[1:])
    assert (d.add, d.modify, d.delete) == ([flows[0]], [], [])


def test_changed_actions_give_modify() -> None:
    f = Flow(table=1, priority=10, match=match(vlan_vid=0x100A), actions=(Output(1), Output(2)), cookie=cookie_for(10))
    g = Flow(table=1, priority=10, match=match(vlan_vid=0x100A), actions=(Output(1), Output(3)), cookie=cookie_for(10))
    d = diff([g], [f])
    assert (d.add, d.modify, d.delete) == ([], [g], [])


def test_action_order_matters() -> None:
    f = Flow(table=1, priority=10, match=match(), actions=(Output(1), Output(2)))
    g = Flow(table=1, priority=10, match=match(), actions=(Output(2), Output(1)))
    assert diff([g], [f]).modify == [g]


def test_changed_cookie_gives_modify() -> None:
    f = Flow(table=0, priority=0, match=match(), cookie=cookie_for(0))
    g = Flow(table=0, priority=0, match=match(), cookie=cookie_for(7))
    assert diff([g], [f]).modify == [g]


def test_foreign_opaque_action_is_replaced() -> None:
    f = Flow(table=0, priority=0, match=match(), actions=(Opaque("learn(...)"),))
    g = Flow(table=0, priority=0, match=match())
    assert diff([g], [f]).modify == [g]


def test_extra_installed_gives_delete() -> None:
    flows = desired(OLD)
    stray = Flow(table=1, priority=100, match=match(eth_dst="02:00:00:00:00:99", vlan_vid=0x100A), actions=(Output(7),))
    d = diff(flows, flows + [stray])
    assert (d.add, d.modify, d.delete) == ([], [], [stray])


def test_duplicated_identity_in_desired_raises() -> None:
    f = Flow(table=1, priority=10, match=match(vlan_vid=0x100A), actions=(Output(1),))
    g = Flow(table=1, priority=10, match=match(vlan_vid=0x100A), actions=(Output(2),))
    with pytest.raises(ValueError, match="identity"):
        diff([f, g], [])


def test_exact_duplicate_in_desired_is_harmless() -> None:
    f = Flow(table=1, priority=10, match=match(vlan_vid=0x100A), actions=(Output(1),))
    assert diff([f, f], []).add == [f]


def test_two_members_with_one_mac_in_a_network_cannot_be_compiled() -> None:
    twins = [member(1, 1), Member("p9", "v9", member(1, 1).mac, DPID, 2)]
    with pytest.raises(ValueError, match="identity"):
        diff(segment_flows(10, twins, DPID), [])


def _converges(sw: FakeSwitch, want: list[Flow]) -> None:
    d = diff(want, sw.all_flows())
    assert sw.apply_diff(d) == len(d)
    assert sorted(map(str, sw.all_flows())) == sorted(map(str, want))
    assert set(sw.all_flows()) == set(want)
    again = diff(want, sw.all_flows())
    assert not again
    assert sw.apply_diff(again) == 0


def test_applying_the_diff_converges_and_second_reconcile_sends_nothing() -> None:
    sw = FakeSwitch(DPID, PORTS)
    sw.install(desired(OLD))
    want = desired(NEW)
    d = diff(want, sw.all_flows())
    assert d.add and d.modify and d.delete
    # member 4's own flows are the same before and after: not sent
    member4 = [f for f in segment_flows(20, [member(4, 4)], DPID) if f.priority != PRIO_FLOOD]
    assert len(member4) == 3  # ingress, the DHCP-server guard, unicast
    assert not set(member4) & set(d.add + d.modify + d.delete)
    _converges(sw, want)


def test_reconcile_from_empty_and_to_empty() -> None:
    sw = FakeSwitch(DPID, PORTS)
    _converges(sw, desired(NEW))
    _converges(sw, [])
    assert sw.all_flows() == []


def test_of13_modify_keeps_the_cookie() -> None:
    """Why apply_diff sends changed flows as "add": OFPFC_MODIFY keeps the old cookie."""
    sw = FakeSwitch(DPID, PORTS)
    old = Flow(table=0, priority=0, match=match(), cookie=cookie_for(0))
    new = Flow(table=0, priority=0, match=match(), actions=(Output(1),), cookie=cookie_for(7))
    sw.install([old])
    sw.apply("modify", new)
    assert sw.all_flows() == [Flow(table=0, priority=0, match=match(), actions=(Output(1),), cookie=cookie_for(0))]
    assert diff([new], sw.all_flows()).modify == [new]  # never converges by modify alone
    sw.apply("modify", Flow(table=0, priority=5, match=match()))  # no such entry: nothing happens
    assert len(sw.all_flows()) == 1


POOL = [
    Flow(table=t, priority=p, match=match(in_port=i), actions=(Output(o),), cookie=cookie_for(c))
    for t in (0, 1)
    for p in (0, 10)
    for i in (1, 2)
    for o in (3, 4)
    for c in (0, 5)
]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(POOL)), st.lists(st.sampled_from(POOL)), st.randoms())
def test_reconcile_converges_from_any_installed_state(want: list[Flow], have: list[Flow], rnd: random.Random) -> None:
    # desired must not hold two flows of one identity
    want = list({f.key: f for f in want}.values())
    rnd.shuffle(want)
    sw = FakeSwitch(DPID, PORTS)
    sw.install(have)
    _converges(sw, want)
