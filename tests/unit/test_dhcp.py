"""sdnapp's DHCP answers: every message type and option, and no answer to anything malformed or hostile.

Requests are made with scapy and answers read with scapy, so os-ken (which sdnapp builds and parses
with) is checked against another implementation, checksums included.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Dot1Q, Ether

from flows.model import GATEWAY_MAC
from flows.sim import FakeSwitch
from sdnapp import dhcp
from sdnapp.config import DhcpConfig
from sdnapp.dhcp import Lease, Reply, Silence, answer, parse_request
from sdnapp.dhcpserver import DhcpServer, claims
from sdnapp.engines import StoreUnavailable
from sdnapp.metrics import Metrics
from sdnapp.model import Network, Port, Subnet, Vnic
from sdnapp.packetin import PacketIns, is_lldp
from sdnapp.specs import SubnetChanges
from tests.unit.test_reconciler import ADMIN, DPID, PORTS, make_world
from topology.switches import SwitchPort

MAC = "fa:16:3e:00:00:0a"
OTHER = "fa:16:3e:00:00:0b"
LEASE = Lease(mac=MAC, address="10.0.0.5", cidr="10.0.0.0/24", gateway="10.0.0.1", dns=("192.0.2.53",),
              mtu=1450, lease_time=3600)


def request(kind: str, *, src: str = "0.0.0.0", dst: str = "255.255.255.255", mac: str = MAC,
            chaddr: str | None = None, ciaddr: str = "0.0.0.0", flags: int = 0, options: list[Any] | None = None,
            **bootp: Any) -> bytes:
    opts: list[Any] = [("message-type", kind), *(options or []), "end"]
    frame = (Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src=src, dst=dst) / UDP(sport=68, dport=67)
             / BOOTP(op=1, chaddr=bytes.fromhex((chaddr or mac).replace(":", "")), xid=0x1234, ciaddr=ciaddr,
                     flags=flags, **bootp)
             / DHCP(options=opts))
    return bytes(frame)


def reply(data: bytes) -> Reply:
    req = parse_request(data)
    assert isinstance(req, dhcp.Request), req
    out = answer(req, LEASE)
    assert isinstance(out, Reply), out
    return out


def options(frame: Any) -> dict[str, Any]:
    return {o[0]: o[1] if len(o) == 2 else o[1:] for o in frame[DHCP].options if isinstance(o, tuple)}


def checked(out: Reply) -> Any:
    """The answer as scapy reads it, with its checksums verified."""
    frame = Ether(out.frame)
    ip_sum, udp_sum = frame[IP].chksum, frame[UDP].chksum
    del frame[IP].chksum, frame[UDP].chksum
    again = Ether(bytes(frame))
    assert (again[IP].chksum, again[UDP].chksum) == (ip_sum, udp_sum), "bad checksum"
    assert len(out.frame) >= 14 + 20 + 8 + dhcp.BOOTP_MIN_LEN
    assert (frame.src, frame.dst, frame[IP].src, frame[UDP].sport, frame[UDP].dport) == (
        GATEWAY_MAC, MAC, "10.0.0.1", 67, 68)
    assert frame[BOOTP].op == 2 and frame[BOOTP].xid == 0x1234 and frame[BOOTP].chaddr[:6] == bytes.fromhex(
        MAC.replace(":", ""))
    return frame


def test_discover_gets_an_offer_of_the_ports_address_with_every_option() -> None:
    out = reply(request("discover"))
    assert out.kind == dhcp.OFFER
    f = checked(out)
    assert f[IP].dst == "10.0.0.5" and f[BOOTP].yiaddr == "10.0.0.5" and f[BOOTP].ciaddr == "0.0.0.0"
    assert options(f) == {
        "message-type": 2, "server_id": "10.0.0.1", "lease_time": 3600, "renewal_time": 1800,
        "rebinding_time": 3150, "subnet_mask": "255.255.255.0", "broadcast_address": "10.0.0.255",
        "router": "10.0.0.1", "interface-mtu": 1450, "name_server": "192.0.2.53",
    }


def test_a_client_asking_for_broadcast_gets_it() -> None:
    assert Ether(reply(request("discover", flags=0x8000)).frame)[IP].dst == "255.255.255.255"


@pytest.mark.parametrize("opts", [
    [("server_id", "10.0.0.1"), ("requested_addr", "10.0.0.5")],  # selecting
    [("requested_addr", "10.0.0.5")],  # init-reboot
])
def test_request_for_the_ports_address_gets_an_ack(opts: list[Any]) -> None:
    out = reply(request("request", options=opts))
    assert out.kind == dhcp.ACK
    f = checked(out)
    assert f[BOOTP].yiaddr == "10.0.0.5" and options(f)["lease_time"] == 3600


def test_renewal_is_acked_by_unicast_to_the_client() -> None:
    out = reply(request("request", src="10.0.0.5", dst="10.0.0.1", ciaddr="10.0.0.5"))
    f = checked(out)
    assert out.kind == dhcp.ACK and f[IP].dst == "10.0.0.5" and f[BOOTP].ciaddr == "10.0.0.5"


@pytest.mark.parametrize(("opts", "ciaddr"), [([("requested_addr", "10.0.0.9")], "0.0.0.0"), ([], "10.0.0.9")])
def test_request_for_another_address_gets_a_nak_to_broadcast(opts: list[Any], ciaddr: str) -> None:
    out = reply(request("request", options=opts, ciaddr=ciaddr))
    f = checked(out)
    assert out.kind == dhcp.NAK and f[IP].dst == "255.255.255.255" and f[BOOTP].yiaddr == "0.0.0.0"
    assert options(f) == {"message-type": 6, "server_id": "10.0.0.1"}


def test_a_request_to_another_server_is_left_to_it() -> None:
    req = parse_request(request("request", options=[("server_id", "10.0.0.254"), ("requested_addr", "10.0.0.5")]))
    assert isinstance(req, dhcp.Request)
    assert answer(req, LEASE) == Silence("other_server", "the client chose server 10.0.0.254")


def test_inform_gets_the_options_without_a_lease() -> None:
    out = reply(request("inform", src="10.0.0.5", ciaddr="10.0.0.5"))
    f = checked(out)
    assert out.kind == dhcp.ACK and f[BOOTP].yiaddr == "0.0.0.0" and f[IP].dst == "10.0.0.5"
    got = options(f)
    assert "lease_time" not in got and "renewal_time" not in got and got["router"] == "10.0.0.1"


@pytest.mark.parametrize("kind", ["release", "decline"])
def test_release_and_decline_change_nothing_and_get_no_answer(kind: str) -> None:
    req = parse_request(request(kind, src="10.0.0.5" if kind == "release" else "0.0.0.0", dst="10.0.0.1",
                                ciaddr="10.0.0.5" if kind == "release" else "0.0.0.0"))
    assert isinstance(req, dhcp.Request)
    out = answer(req, LEASE)
    assert isinstance(out, Silence) and out.outcome == kind


def test_host_routes_go_in_option_121_with_the_default_route() -> None:
    lease = Lease(**{**LEASE.__dict__, "routes": (("192.168.0.0/16", "10.0.0.254"), ("172.16.1.0/24", "10.0.0.253"))})
    req = parse_request(request("discover"))
    assert isinstance(req, dhcp.Request)
    out = answer(req, lease)
    assert isinstance(out, Reply)
    raw = bytes(Ether(out.frame)[DHCP])
    want = bytes([16, 192, 168, 10, 0, 0, 254, 24, 172, 16, 1, 10, 0, 0, 253, 0, 10, 0, 0, 1])
    assert bytes([121, len(want)]) + want in raw


def test_no_dns_servers_no_dns_option() -> None:
    lease = Lease(**{**LEASE.__dict__, "dns": ()})
    req = parse_request(request("discover"))
    assert isinstance(req, dhcp.Request)
    out = answer(req, lease)
    assert isinstance(out, Reply) and "name_server" not in options(Ether(out.frame))


# -- what gets no answer --------------------------------------------------------------------------------------


def refused_reason(data: bytes, lease: Lease = LEASE) -> str:
    req = parse_request(data)
    out = req if isinstance(req, Silence) else answer(req, lease)
    assert isinstance(out, Silence) and out.outcome == "refused", out
    return out.reason


def _raw_options(payload: bytes) -> bytes:
    """A DISCOVER whose options are `payload` (after the magic cookie), as raw bytes."""
    frame = (Ether(src=MAC, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
             / UDP(sport=68, dport=67) / BOOTP(op=1, chaddr=bytes.fromhex(MAC.replace(":", "")), xid=1)
             / (b"\x63\x82\x53\x63" + payload))
    return bytes(frame)


@pytest.mark.parametrize(("frame", "why"), [
    (request("discover", chaddr=OTHER), "chaddr"),  # spoofed client address
    (request("discover", mac=OTHER, chaddr=MAC), "chaddr"),  # another MAC on the frame
    (request("discover", mac=OTHER, chaddr=OTHER), "not the port's VNIC"),  # another VNIC's identity altogether
    (request("discover", src="10.0.0.7"), "neither 0.0.0.0"),
    (request("discover", dst="10.0.0.77"), "neither broadcast"),
    (request("discover", giaddr="10.0.0.200"), "relayed"),
    (request("offer"), "message type"),
    (request("ack"), "message type"),
    (request("inform", src="10.0.0.5", ciaddr="0.0.0.0"), "INFORM"),
    (request("request"), "names no address"),
    (_raw_options(bytes([53, 1, 3, 50, 2, 10, 0, 255])), "not an address"),
    (request("discover", options=[("message-type", "discover")]), "twice"),
    (request("discover", ciaddr="10.0.0.9"), "ciaddr"),
    (bytes(Ether(src=MAC) / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
           / BOOTP(op=2, chaddr=bytes.fromhex(MAC.replace(":", ""))) / DHCP(options=[
               ("message-type", "discover"), "end"])), "BOOTREQUEST"),
    (bytes(Ether(src=MAC) / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
           / BOOTP(op=1, hlen=16, chaddr=bytes.fromhex(MAC.replace(":", ""))) / DHCP(options=[
               ("message-type", "discover"), "end"])), "BOOTREQUEST"),
    (bytes(Ether(src=MAC) / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=67, dport=67)
           / BOOTP(op=1, chaddr=bytes.fromhex(MAC.replace(":", ""))) / DHCP(options=[
               ("message-type", "discover"), "end"])), "UDP 67->67"),
    (bytes(Ether(src=MAC) / IP(src="0.0.0.0", dst="255.255.255.255", flags="MF") / UDP(sport=68, dport=67)
           / BOOTP(op=1, chaddr=bytes.fromhex(MAC.replace(":", ""))) / DHCP(options=[
               ("message-type", "discover"), "end"])), "whole"),
    (bytes(Ether(src=MAC) / Dot1Q(vlan=5) / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
           / BOOTP(op=1, chaddr=bytes.fromhex(MAC.replace(":", ""))) / DHCP(options=[
               ("message-type", "discover"), "end"])), "tagged"),
    (_raw_options(bytes([53, 1, 1, 12, 40]) + b"abc"), "runs past"),  # an option longer than the packet
    (_raw_options(b""), "message type"),
    (_raw_options(bytes([53, 2, 1, 1, 255])), "message type"),
    (bytes(Ether(src=MAC) / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
           / BOOTP(op=1, chaddr=bytes.fromhex(MAC.replace(":", ""))) / (b"\x01\x02\x03\x04" + bytes([53, 1, 1]))),
     "magic cookie"),
])
def test_malformed_or_hostile_requests_get_no_answer(frame: bytes, why: str) -> None:
    assert why in refused_reason(frame)


def test_every_truncation_of_a_request_gets_no_answer() -> None:
    whole = request("discover", options=[("requested_addr", "10.0.0.5")])
    assert isinstance(answer(parse_request(whole), LEASE), Reply)  # type: ignore[arg-type]
    for n in range(len(whole)):
        refused_reason(whole[:n])


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=700))
def test_random_bytes_never_raise_and_get_no_answer(data: bytes) -> None:
    refused_reason(data)


@FUZZ
@given(st.data())
def test_a_mutated_request_never_raises_and_is_answered_only_to_the_ports_vnic(data: st.DataObject) -> None:
    base = bytearray(request(data.draw(st.sampled_from(["discover", "request", "inform"])),
                             options=[("requested_addr", "10.0.0.5")]))
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(base) - 1))
        base[at] = data.draw(st.integers(0, 255))
    req = parse_request(bytes(base))
    out = req if isinstance(req, Silence) else answer(req, LEASE)
    if isinstance(out, Reply):
        f = Ether(out.frame)
        assert f.dst == MAC and f[BOOTP].yiaddr in ("10.0.0.5", "0.0.0.0")


def test_claims_takes_udp_to_port_67_only() -> None:
    assert claims(request("discover"))
    assert not claims(bytes(Ether() / IP() / UDP(sport=68, dport=53) / (b"x" * 20)))
    assert not claims(bytes(Ether(type=0x88CC) / (b"\x00" * 60)))
    assert not claims(b"\x00" * 20)


# -- the server: the lease of the VNIC bound where the request came in -----------------------------------------


class Sent(list[tuple[int, int, bytes]]):
    def __call__(self, dpid: int, port: int, frame: bytes) -> None:
        self.append((dpid, port, frame))


def test_the_server_answers_the_vnic_bound_to_the_port_and_nobody_else(tmp_path: Path) -> None:
    w = make_world(str(tmp_path / "s.db"), FakeSwitch(DPID, PORTS))
    try:
        w.topo.begin_port_snapshot(DPID)
        w.topo.switch_connected(DPID, [SwitchPort(n, f"s1-eth{n}", True) for n in PORTS], 0.0)
        net = w.svc.create_network(ADMIN, address_prefix="10.1.0.0/24")
        a = w.attach(net, MAC, 3)
        bare = w.svc.create_network(ADMIN)  # no address range
        w.attach(bare, OTHER, 4)
        sent = Sent()
        metrics = Metrics()
        server = DhcpServer(w.desired_state, sent, DhcpConfig(), underlay_mtu=1500, metrics=metrics)
        assert server.handle(DPID, 3, request("discover")) == "offer"
        [(dpid, port, frame)] = sent
        f = Ether(frame)
        assert (dpid, port, f[BOOTP].yiaddr, a.port.ip_address) == (DPID, 3, "10.1.0.2", "10.1.0.2")
        assert options(f)["interface-mtu"] == 1500 and options(f)["name_server"] == ("8.8.8.8", "8.8.4.4")
        assert options(f)["lease_time"] == DhcpConfig().lease_time
        # The same request from a port where another VNIC, or none, is bound: nothing.
        assert server.handle(DPID, 4, request("discover")) == "refused"
        assert server.handle(DPID, 5, request("discover")) == "refused"
        assert server.handle(DPID, 4, request("discover", mac=OTHER)) == "refused"  # no address there
        # The subnet's DNS servers win; DHCP disabled on it: nothing.
        subnet = w.svc.list_subnets(ADMIN)[0]
        w.svc.update_subnet(ADMIN, subnet.id, SubnetChanges(dns_nameservers=("192.0.2.1",)))
        server.handle(DPID, 3, request("discover"))
        assert options(Ether(sent[-1][2]))["name_server"] == "192.0.2.1"
        w.svc.update_subnet(ADMIN, subnet.id, SubnetChanges(enable_dhcp=False))
        assert server.handle(DPID, 3, request("discover")) == "refused" and len(sent) == 2
        _, body = metrics.exposition()
        assert 'sdnapp_dhcp_packets_total{outcome="refused"} 4.0' in body.decode()
    finally:
        w.store.close()


def test_a_nated_network_gets_the_outsides_dns_servers_unless_its_subnet_has_some() -> None:
    vnic = Vnic("v", "t", "", MAC, "p", None)
    port = Port("p", "t", "n", "", "10.0.0.5", "v")
    subnet = Subnet("s", "n", "t", "", "10.0.0.0/24", "10.0.0.1", (("10.0.0.2", "10.0.0.254"),))
    for nat, own, want in ((True, (), ("192.0.2.53",)), (False, (), ("8.8.8.8", "8.8.4.4")),
                           (True, ("198.51.100.1",), ("198.51.100.1",))):
        net = Network("n", "t", "", "10.0.0.0/24", "vxlan", 5000, nat=nat)
        found = (vnic, port, net, replace(subnet, dns_nameservers=own))
        desired = SimpleNamespace(addressed_vnic=lambda dpid, port_no, found=found: found, segment_type="vxlan")
        server = DhcpServer(desired, Sent(), DhcpConfig(), 1500, nat_dns=("192.0.2.53",))  # type: ignore[arg-type]
        lease = server.lease(DPID, 3)
        assert isinstance(lease, Lease) and (lease.dns, lease.mtu) == (want, 1450)


def test_a_store_that_does_not_answer_leaves_the_request_unanswered_and_counted() -> None:
    def down(dpid: int, port_no: int) -> None:
        raise StoreUnavailable("connection refused")

    sent, metrics = Sent(), Metrics()
    desired = SimpleNamespace(addressed_vnic=down, segment_type="vlan")
    server = DhcpServer(desired, sent, DhcpConfig(), 1500, metrics)  # type: ignore[arg-type]
    assert server.handle(DPID, 3, request("discover")) == "store_down" and sent == []
    assert 'sdnapp_dhcp_packets_total{outcome="store_down"} 1.0' in metrics.exposition()[1].decode()


# -- the dispatcher: a handler's failure is logged, never raised ----------------------------------------------


def test_packet_ins_go_to_the_first_handler_that_claims_them_and_a_failure_stays_inside() -> None:
    metrics = Metrics()
    ins = PacketIns(metrics)
    got: list[tuple[int, int, bytes]] = []

    def broken(dpid: int, port: int, data: bytes) -> None:
        raise RuntimeError("a bug")

    ins.add("lldp", is_lldp, lambda d, p, data: got.append((d, p, data)))
    ins.add("dhcp", claims, broken)
    lldp = bytes(Ether(type=0x88CC) / (b"\x00" * 60))
    assert ins.dispatch(1, 2, lldp) == "lldp" and got == [(1, 2, lldp)]
    assert ins.dispatch(1, 2, request("discover")) == "dhcp"  # raised inside, logged, dropped
    assert ins.dispatch(1, 2, b"\x00" * 64, "no_match") == "other"
    text = metrics.exposition()[1].decode()
    for kind, reason in (("lldp", "action"), ("dhcp", "action"), ("other", "no_match")):
        assert f'sdnapp_packet_ins_total{{kind="{kind}",reason="{reason}"}} 1.0' in text
