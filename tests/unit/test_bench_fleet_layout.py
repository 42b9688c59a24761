"""The fleet benchmark's layout: which network each emulated switch port is in."""

from __future__ import annotations

from collections import defaultdict

import pytest

from testbeds.bench_fleet import VLANS, Layout


@pytest.mark.parametrize(("switches", "ports", "spread"), [(10, 100, 2), (7, 10, 3), (5, 4, 2), (1, 3, 2), (4, 25, 4)])
def test_networks_have_their_ports_over_at_most_spread_switches(switches: int, ports: int, spread: int) -> None:
    lay = Layout(switches, ports, spread, "vxlan")
    members: dict[int, list[int]] = defaultdict(list)
    for i, row in enumerate(lay.assignment()):
        for n in row:
            members[n].append(i)
    assert sorted(members) == list(range(len(members)))  # numbered densely from 0
    assert sum(len(m) for m in members.values()) == switches * ports
    assert all(len(m) <= lay.per_network and len(set(m)) <= spread for m in members.values())
    full = [m for m in members.values() if len(m) == lay.per_network]
    assert len(full) >= len(members) - (switches + spread - 1) // spread  # at most one short network per block
    if switches >= spread and ports * spread >= lay.per_network:
        assert any(len(set(m)) == spread for m in full)  # networks do span switches


def test_with_vlans_networks_grow_rather_than_run_out_of_vlan_ids() -> None:
    lay = Layout(1000, 100, 2, "vlan")
    assert lay.per_network > 10
    assert max(max(row) for row in lay.assignment()) < VLANS
