"""The gateway's outside (sdnapp.gateway): the next hop's MAC from ARP, ARP answered for the pool's
addresses in use, malformed frames dropped, and what GET /v1/switches says."""

from __future__ import annotations

from pathlib import Path

from flows.model import GATEWAY_MAC, Flow, Output, SetField, match
from flows.nat import TABLE_EGRESS
from sdnapp.config import ExternalConfig
from sdnapp.gateway import ARP_REPLY, ARP_REQUEST, GatewayAgent, _arp_frame, _parse_arp
from sdnapp.store import Store
from topology.switches import SwitchPort, Topology

EXT = ExternalConfig(0xE1, "up", "203.0.113.0/24", "203.0.113.1", ("203.0.113.10", "203.0.113.20"))
HOP_MAC = "0a:00:00:00:00:fe"


def agent(tmp_path: Path) -> tuple[GatewayAgent, list[tuple[int, int, bytes]], list[int]]:
    topo = Topology()
    topo.begin_port_snapshot(0xE1)
    topo.switch_connected(0xE1, [SwitchPort(1, "vm", True), SwitchPort(7, "up", True)], 0.0)
    store = Store(str(tmp_path / "s.db"))
    with store.write() as tx:
        tx.db.execute("INSERT INTO networks (id, tenant_id, name, segment_type, segment_id, created_at, nat) "
                      "VALUES ('n1', 't', '', 'vlan', 100, 0, 1)")
        tx.set_external_address("n1", "t", "203.0.113.10")
    sent: list[tuple[int, int, bytes]] = []
    changes: list[int] = []
    a = GatewayAgent(EXT, topo, store, lambda d, p, f: sent.append((d, p, f)), lambda: changes.append(1))
    return a, sent, changes


def test_the_next_hop_is_asked_for_and_learned_once(tmp_path: Path) -> None:
    a, sent, changes = agent(tmp_path)
    assert a.report()["ok"] is False and "has not answered" in str(a.report()["problem"])
    assert a.ask()
    (dpid, port, frame), = sent
    asked = _parse_arp(frame)
    assert (dpid, port, asked.opcode, asked.dst_ip, asked.src_mac) == (0xE1, 7, ARP_REQUEST, "203.0.113.1",
                                                                        GATEWAY_MAC)
    reply = _arp_frame(ARP_REPLY, HOP_MAC, "203.0.113.1", GATEWAY_MAC, "203.0.113.10")
    assert a.on_packet(0xE1, 7, reply)
    assert a.on_packet(0xE1, 7, reply)
    assert a.next_hop_mac() == HOP_MAC and changes == [1]
    assert a.view().next_hop_mac == HOP_MAC and a.view().uplink == 7
    assert a.report()["ok"] is True


def test_arp_is_answered_for_addresses_in_use_only(tmp_path: Path) -> None:
    a, sent, _ = agent(tmp_path)
    for target, answered in (("203.0.113.10", True), ("203.0.113.11", False), ("10.0.0.2", False)):
        sent.clear()
        assert a.on_packet(0xE1, 7, _arp_frame(ARP_REQUEST, HOP_MAC, "203.0.113.1", "00:00:00:00:00:00", target))
        if answered:
            (_, port, frame), = sent
            got = _parse_arp(frame)
            assert (port, got.opcode, got.src_mac, got.src_ip, got.dst_mac) == (7, ARP_REPLY, GATEWAY_MAC, target,
                                                                               HOP_MAC)
        else:
            assert sent == []


def test_other_ports_switches_and_malformed_frames_are_not_the_gateways(tmp_path: Path) -> None:
    a, sent, changes = agent(tmp_path)
    reply = _arp_frame(ARP_REPLY, HOP_MAC, "203.0.113.1", GATEWAY_MAC, "203.0.113.10")
    assert not a.on_packet(0xE1, 1, reply)
    assert not a.on_packet(0xE2, 7, reply)
    for junk in (b"", b"\x00" * 13, reply[:20], b"\xff" * 60):
        assert not a.on_packet(0xE1, 7, junk)
    assert sent == [] and changes == [] and a.next_hop_mac() is None


def test_a_restart_takes_the_next_hop_from_the_flows_held(tmp_path: Path) -> None:
    a, _, changes = agent(tmp_path)
    held = [Flow(TABLE_EGRESS, 100, match(eth_type=0x800),
                 (SetField("eth_src", GATEWAY_MAC), SetField("eth_dst", HOP_MAC), Output(7)))]
    a.seed(held)
    assert a.next_hop_mac() == HOP_MAC and changes == []
    a.on_packet(0xE1, 7, _arp_frame(ARP_REPLY, "0a:00:00:00:00:ee", "203.0.113.1", GATEWAY_MAC, "203.0.113.10"))
    assert a.next_hop_mac() == "0a:00:00:00:00:ee" and changes == [1]


def test_no_uplink_is_reported(tmp_path: Path) -> None:
    a, sent, _ = agent(tmp_path)
    a.topology.port_changed(0xE1, SwitchPort(7, "up", False), deleted=True)
    assert not a.ask() and sent == []
    assert a.report()["problem"] == "the gateway switch has no port named up"
