"""The testbeds' parser of `ovs-ofctl dump-flows` lines, which the integration tests rely on."""

from testbeds.ovs import parse_flow


def test_parses_a_flow_with_a_match() -> None:
    f = parse_flow(
        " cookie=0x5d4e000000000064, duration=1.896s, table=0, n_packets=3, n_bytes=0, "
        "priority=100,in_port=1,vlan_tci=0x0000/0x1fff,dl_src=02:00:00:00:00:01 "
        "actions=push_vlan:0x8100,set_field:4196->vlan_vid,goto_table:1"
    )
    assert f is not None
    assert (f.cookie, f.table, f.priority, f.n_packets) == (0x5D4E000000000064, 0, 100, 3)
    assert f.match == "in_port=1,vlan_tci=0x0000/0x1fff,dl_src=02:00:00:00:00:01"
    assert f.actions == "push_vlan:0x8100,set_field:4196->vlan_vid,goto_table:1"
    assert f.duration == 1.896 and f.ours


def test_parses_a_flow_without_a_match_and_other_lines() -> None:
    f = parse_flow(" cookie=0x0, duration=10.1s, table=1, n_packets=0, n_bytes=0, priority=0 actions=drop")
    assert f is not None and (f.priority, f.match, f.actions, f.ours) == (0, "", "drop", False)
    assert parse_flow("OFPST_FLOW reply (OF1.3) (xid=0x2):") is None
