"""Reading `ovs-appctl ofproto/trace` and comparing it with sdnapp's hops (`sdnapp trace --compare`).

The texts are what Open vSwitch 3.1 printed on this kind of machine for flows of this pipeline.
"""

from __future__ import annotations

from typing import Any

from sdnapp.ovstrace import SwitchTrace, compare_hop, flow_spec, parse

UNICAST = """\
Flow: ip,in_port=1,vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,nw_src=10.0.0.1,nw_dst=10.0.0.2

bridge("s1")
------------
 0. in_port=1,vlan_tci=0x0000/0x1fff,dl_src=02:00:00:00:00:01, priority 100, cookie 0x5d4e000000000064
    push_vlan:0x8100
    set_field:4196->vlan_vid
    goto_table:1
 1. dl_vlan=100,dl_dst=02:00:00:00:00:02, priority 100, cookie 0x5d4e000000000064
    pop_vlan
    output:2

Final flow: unchanged
Megaflow: recirc_id=0,eth,ip,in_port=1,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,nw_frag=no
Datapath actions: 1
"""

FLOOD = """\
bridge("s1")
------------
 0. in_port=1,vlan_tci=0x0000/0x1fff,dl_src=02:00:00:00:00:01, priority 100, cookie 0x5d4e000000000064
    push_vlan:0x8100
    set_field:4196->vlan_vid
    goto_table:1
 1. dl_vlan=100, priority 10, cookie 0x5d4e000000000064
    pop_vlan
    output:1
     >> skipping output to input port
    output:"s1-eth2"
"""

DROP = """\
bridge("s1")
------------
 0. priority 0, cookie 0x5d4e000000000000
    drop
"""

NO_MATCH = """\
bridge("s1")
------------
 0. No match.
    drop
"""

TUNNEL = """\
bridge("br-int")
----------------
 1. tun_id=0x3e8,dl_dst=02:00:00:00:00:02, priority 100, cookie 0x5d4e0000000003e8
    set_field:192.0.2.2->tun_dst
    output:9
     -> output to native tunnel
     -> tunneling to 192.0.2.2 via br-phy

bridge("br-phy")
----------------
 0. priority 0
    NORMAL
    output:3
"""


def hop(tables: list[tuple[int, int, int] | tuple[int, None, None]], outputs: list[int]) -> dict[str, Any]:
    return {
        "hop": 0, "datapath_id": "0000000000000001",
        "frame": {"in_port": 1, "eth_src": "02:00:00:00:00:01", "eth_dst": "02:00:00:00:00:02", "eth_type": "0x0800",
                  "ipv4_src": "10.0.0.1", "ipv4_dst": "10.0.0.2"},
        "tables": [{"table": t, "flow": None if p is None else {"priority": p, "cookie": f"{c:#x}"}}
                   for t, p, c in tables],
        "outputs": [{"port": p} for p in outputs],
    }


def test_parse_reads_lookups_and_outputs() -> None:
    assert parse(UNICAST, "s1") == SwitchTrace(((0, 100, 0x5D4E000000000064), (1, 100, 0x5D4E000000000064)), ("2",))
    assert parse(FLOOD, "s1").outputs == ("s1-eth2",)  # the ingress port is skipped, as OpenFlow says
    assert parse(DROP, "s1") == SwitchTrace(((0, 0, 0x5D4E000000000000),), ())
    assert parse(NO_MATCH, "s1") == SwitchTrace(((0, None, None),), ())
    # What a tunnel leads to is another bridge's business.
    assert parse(TUNNEL, "br-int") == SwitchTrace(((1, 100, 0x5D4E0000000003E8),), ("9",))
    assert parse(UNICAST, "s2") == SwitchTrace((), ())


def test_flow_spec_says_the_frame_in_ofproto_trace_syntax() -> None:
    assert flow_spec(hop([], [])["frame"]) == (
        "in_port=1,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,dl_type=0x0800,nw_src=10.0.0.1,nw_dst=10.0.0.2")
    arp = {"in_port": 9, "eth_src": "02:00:00:00:00:01", "eth_dst": "ff:ff:ff:ff:ff:ff", "vlan_vid": 100,
           "eth_type": "0x0806", "arp_spa": "10.0.0.1", "arp_tpa": "10.0.0.9", "arp_sha": "02:00:00:00:00:01"}
    assert flow_spec(arp) == ("in_port=9,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,dl_vlan=100,"
                              "dl_type=0x0806,arp_spa=10.0.0.1,arp_tpa=10.0.0.9,arp_sha=02:00:00:00:00:01,arp_op=1")


COOKIE = 0x5D4E000000000064


def test_agreement_and_each_kind_of_difference() -> None:
    same = compare_hop(hop([(0, 100, COOKIE), (1, 100, COOKIE)], [2]), "s1", UNICAST)
    assert same.differences == [] and same.bridge == "s1"
    stale = compare_hop(hop([(0, 100, COOKIE), (1, 100, COOKIE)], [2]), "s1", DROP)
    assert [d.split(":")[0] for d in stale.differences] == ["tables", "outputs"]
    assert "the switch does table 0 prio 0" in stale.differences[0]
    other_port = compare_hop(hop([(0, 100, COOKIE), (1, 100, COOKIE)], [3]), "s1", UNICAST)
    assert other_port.differences == ["outputs: sdnapp means ports 3, the switch sends to 2"]
    miss = compare_hop(hop([(0, None, None)], []), "s1", NO_MATCH)
    assert miss.differences == []
