"""NATed networks on a real OVS gateway (testbeds/nat.py), driven over HTTP against the real sdnapp process,
asserted with real packets captured on the outside host and on the VMs."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbeds import nat
from testbeds.nat import NatBed

from .capture import Capture

API_PORT = 19697
OF_PORT = 16654
# The first segment of a connection (SYN without ACK): its source is the client as the server sees it.
SYN_TO_8000 = "tcp dst port 8000 and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"
SYN_TO_8080 = "tcp dst port 8080 and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatBed]:
    workdir: Path = tmp_path_factory.mktemp("nat")
    with nat.running(workdir, API_PORT, OF_PORT) as b:
        try:
            yield b
        finally:
            print(b.proc.log()[-4000:])


def fetch(bed: NatBed, vm: str, url: str, timeout: float = 5) -> str:
    return nat.fetch(bed.host(vm), url, timeout)


def sources(lines: list[str]) -> set[str]:
    """Source addresses of the IPv4 packets tcpdump printed."""
    return {m.group(1) for line in lines if (m := re.search(r" IPv4 .*?: (\d+\.\d+\.\d+\.\d+)\.?\d* > ", line))}


def test_each_tenant_reaches_the_outside_as_its_own_external_address(bed: NatBed) -> None:
    """vm1 (red) and vm3 (blue) have the same private address; the outside host sees each as its network."""
    red, blue = bed.networks["red"]["external_address"], bed.networks["blue"]["external_address"]
    assert red != blue
    for vm, seen_as in (("vm1", red), ("vm3", blue)):
        cap = Capture([bed.host("out")], SYN_TO_8000)
        assert fetch(bed, vm, f"http://{nat.OUTSIDE_IP}:{nat.HTTP_PORT}/") == "200"
        seen = cap.stop()["out"]
        assert sources(seen) == {seen_as}, seen
    # ping through the NAT: the answer comes back; the TTL was decremented by the gateway.
    out = bed.host("vm1").cmd(f"ping -c 2 -W 2 {nat.OUTSIDE_IP}")
    assert " 0% packet loss" in out, out
    assert re.search(r"ttl=63", out), out


def test_a_floating_address_is_reached_from_outside_and_is_the_ports_source(bed: NatBed) -> None:
    vm2 = bed.vms["vm2"]
    red = bed.client("red")
    fa = red.ok("POST", "/v1/floating-addresses", {"floating_address": {"port_id": vm2.port_id}})["floating_address"]
    deadline = time.monotonic() + 20
    while red.get(f"/v1/floating-addresses/{fa['id']}")["floating_address"]["status"] != "ACTIVE":
        assert time.monotonic() < deadline, "the floating address never went ACTIVE"
        time.sleep(0.1)
    server = bed.host("vm2").popen(["timeout", "60", sys.executable, "-m", "http.server", "8080"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        nat.wait_http(bed.host("vm2"), f"http://{vm2.ip}:8080/")
        cap = Capture([bed.host("vm2")], SYN_TO_8080)
        assert fetch(bed, "out", f"http://{fa['address']}:8080/") == "200"
        seen = cap.stop()["vm2"]
        assert any(f"> {vm2.ip}.8080" in line for line in seen), seen  # translated to the port's address
        # Hairpin: blue's vm3 reaches red's floating address, seen as blue's external address.
        cap = Capture([bed.host("vm2")], SYN_TO_8080)
        assert fetch(bed, "vm3", f"http://{fa['address']}:8080/") == "200"
        assert sources(cap.stop()["vm2"]) == {bed.networks["blue"]["external_address"]}
        # vm2's own traffic now leaves from its floating address.
        cap = Capture([bed.host("out")], SYN_TO_8000)
        assert fetch(bed, "vm2", f"http://{nat.OUTSIDE_IP}:{nat.HTTP_PORT}/") == "200"
        assert sources(cap.stop()["out"]) == {fa["address"]}
    finally:
        server.terminate()
        server.wait(5)
    red.ok("PUT", f"/v1/floating-addresses/{fa['id']}", {"floating_address": {"port_id": None}})
    time.sleep(1)
    assert fetch(bed, "out", f"http://{fa['address']}:8080/", timeout=2) != "200"


def test_the_outside_never_reaches_a_private_address(bed: NatBed) -> None:
    out = bed.host("out")
    red = bed.networks["red"]["external_address"]
    out.cmd(f"ip route replace 10.0.0.0/24 via {red}")
    try:
        cap = Capture([bed.host(v) for v in ("vm1", "vm2", "vm3")], "icmp")
        assert " 100% packet loss" in out.cmd("ping -c 2 -W 1 10.0.0.2")
        assert " 100% packet loss" in out.cmd(f"ping -c 2 -W 1 {red}")  # no connection, no floating address
        seen = cap.stop()
        assert all(lines == [] for lines in seen.values()), seen
    finally:
        out.cmd("ip route del 10.0.0.0/24")


def test_a_restart_keeps_an_open_connection_and_sends_no_flow_mod(bed: NatBed) -> None:
    chunks = 600  # 6 MB over about 6 s
    server = bed.host("out").popen(["timeout", "60", sys.executable, "-c", nat.STREAM_SERVER, nat.OUTSIDE_IP, "9000",
                                    str(chunks)])
    time.sleep(0.5)
    client = bed.host("vm1").popen(["timeout", "60", sys.executable, "-c", nat.STREAM_CLIENT, nat.OUTSIDE_IP,
                                    "9000"], stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    bed.proc.stop(signal.SIGKILL)
    time.sleep(0.5)
    log_mark = len(bed.proc.log())
    bed.proc.start()
    bed.admin.wait_status([v.port_id for v in bed.vms.values()], timeout=30)
    got, _ = client.communicate(timeout=60)
    server.wait(10)
    assert got.strip() == str(chunks * 10000), f"bytes lost across the restart: {got!r}"
    for sw in bed.admin.get("/v1/switches")["switches"]:
        assert sw["flows"]["flow_mods_sent"] == 0, (sw["datapath_id"], sw["flows"], bed.proc.log()[log_mark:])
    nat.wait_next_hop(bed)
    assert fetch(bed, "vm1", f"http://{nat.OUTSIDE_IP}:{nat.HTTP_PORT}/") == "200"


def test_the_vms_took_their_leases_by_dhcp(bed: NatBed) -> None:
    for v in bed.vms.values():
        assert v.lease["ip"] == v.ip and v.lease["router"] == bed.networks[v.network]["gateway_ip"], v.lease


def test_the_gateway_is_reported(bed: NatBed) -> None:
    report = bed.gateway_report()
    assert report["ok"] and report["uplink_port"] == nat.UPLINK and report["next_hop_mac"] == nat.OUTSIDE_MAC, report


# ICMP errors: conntrack's "related" traffic, carried back through the translation. Port 33434 is closed on
# every host (nothing listens on it), so each host's kernel answers it with an ICMP port unreachable.
CLOSED = 33434


def udp_probe(bed: NatBed, host: str, src: str, sport: int, dst: str) -> str:
    """nat.UDP_PROBE from `host`: "refused" once an ICMP port unreachable for its datagram reached its socket."""
    p = bed.host(host).popen([sys.executable, "-c", nat.UDP_PROBE, dst, str(CLOSED), src, str(sport)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = p.communicate(timeout=10)
    return out.strip()


def test_an_icmp_error_from_outside_reaches_the_vm_translated_back(bed: NatBed) -> None:
    """vm1's UDP to a closed port of the outside host leaves as red's external address; the outside host's port
    unreachable to that address is translated back (outer destination and embedded source) to vm1 alone, not to
    vm3 of blue with the same private address."""
    red = bed.networks["red"]["external_address"]
    vm1 = bed.vms["vm1"]
    cap = Capture([bed.host(v) for v in ("out", "vm1", "vm3")], f"icmp or udp port {CLOSED}")
    assert udp_probe(bed, "vm1", vm1.ip, 40001, nat.OUTSIDE_IP) == "refused"
    seen = cap.stop()
    assert any(f"{red}.40001 > {nat.OUTSIDE_IP}.{CLOSED}: UDP" in line for line in seen["out"]), seen["out"]
    assert any(f"{nat.OUTSIDE_IP} > {red}: ICMP {nat.OUTSIDE_IP} udp port {CLOSED} unreachable" in line
               for line in seen["out"]), seen["out"]
    assert any(f"{nat.OUTSIDE_IP} > {vm1.ip}: ICMP {nat.OUTSIDE_IP} udp port {CLOSED} unreachable" in line
               for line in seen["vm1"]), seen["vm1"]
    assert seen["vm3"] == [], seen["vm3"]


def test_a_vms_icmp_error_leaves_from_its_floating_address(bed: NatBed) -> None:
    """The outside host's UDP to vm2's floating address on a closed port: vm2's port unreachable leaves the
    gateway from the floating address, naming it in the embedded header, and reaches the sending socket; and
    so for a VM of another network, by the hairpin."""
    vm2 = bed.vms["vm2"]
    red = bed.client("red")
    fa = red.ok("POST", "/v1/floating-addresses", {"floating_address": {"port_id": vm2.port_id}})["floating_address"]
    try:
        deadline = time.monotonic() + 20
        while red.get(f"/v1/floating-addresses/{fa['id']}")["floating_address"]["status"] != "ACTIVE":
            assert time.monotonic() < deadline, "the floating address never went ACTIVE"
            time.sleep(0.1)
        cap = Capture([bed.host(v) for v in ("out", "vm2")], f"icmp or udp port {CLOSED}")
        assert udp_probe(bed, "out", nat.OUTSIDE_IP, 40002, fa["address"]) == "refused"
        seen = cap.stop()
        assert any(f"{nat.OUTSIDE_IP}.40002 > {vm2.ip}.{CLOSED}: UDP" in line for line in seen["vm2"]), seen["vm2"]
        assert any(f"{fa['address']} > {nat.OUTSIDE_IP}: ICMP {fa['address']} udp port {CLOSED} unreachable" in line
                   for line in seen["out"]), seen["out"]
        # Through the hairpin too: blue's vm3 gets it back through both translations (red's, then blue's).
        assert udp_probe(bed, "vm3", bed.vms["vm3"].ip, 40004, fa["address"]) == "refused"
    finally:
        red.delete(f"/v1/floating-addresses/{fa['id']}")


# A forged port unreachable from the outside host to argv[1], for a UDP flow argv[1]:argv[2] -> the outside host
# that never existed.
FORGED_ICMP = r'''
import sys
from scapy.layers.inet import ICMP, IP, UDP
from scapy.sendrecv import send
inner = IP(src=sys.argv[1], dst=sys.argv[3]) / UDP(sport=int(sys.argv[2]), dport=33434)
send(IP(dst=sys.argv[1]) / ICMP(type=3, code=3) / inner, count=3, inter=0.1, verbose=False)
'''


def test_an_icmp_error_for_no_connection_reaches_no_vm(bed: NatBed) -> None:
    """A port unreachable to red's external address naming a flow conntrack never saw is dropped (invalid)."""
    red = bed.networks["red"]["external_address"]
    cap = Capture([bed.host(v) for v in ("out", "vm1", "vm2", "vm3")], "icmp")
    forged = bed.host("out").popen([sys.executable, "-c", FORGED_ICMP, red, "40003", nat.OUTSIDE_IP],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = forged.communicate(timeout=20)
    assert forged.returncode == 0, out
    seen = cap.stop()
    assert len([line for line in seen.pop("out") if f"> {red}: ICMP" in line]) == 3  # sent
    assert all(lines == [] for lines in seen.values()), seen
