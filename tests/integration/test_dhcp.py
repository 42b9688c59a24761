"""sdnapp's DHCP and the gateway address on a real OVS switch, against the real process, with busybox udhcpc.

Each host of the single-switch testbed (its networks have address ranges) obtains its port's
address by DHCP; the gateway answers ARP and ping on the switch, also while sdnapp is down; a
DHCP flood is metered in the switch and the API stays responsive; a spoofed request gets nothing.
"""

from __future__ import annotations

import ipaddress
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from flows.model import GATEWAY_MAC
from testbeds import single_switch as ss
from testbeds.dhcp_client import udhcpc_lease

from .capture import Capture
from .conftest import Bed


def gateway_of(bed: Bed, host: str) -> str:
    return str(ipaddress.IPv4Network(ss.LAYOUT[bed.sc.hosts[host].network][1])[1])


def lease(bed: Bed, host: str, tmp_path: Path) -> dict[str, str]:
    node = bed.host(host)
    return udhcpc_lease(node.cmd, str(node.defaultIntf()), tmp_path / host)


def metric(bed: Bed, line_start: str) -> float:
    with urllib.request.urlopen(bed.proc.url + "/metrics", timeout=5) as r:
        text = r.read().decode()
    found = [float(x.split()[-1]) for x in text.splitlines() if x.startswith(line_start)]
    return sum(found)


def restore(bed: Bed) -> None:
    """The hosts as the testbed configures them: their address in the /16, MTU 1500, no default route."""
    for h in bed.net.hosts:
        h.cmd(f"ip link set {h.defaultIntf()} mtu 1500; ip route del default 2>/dev/null")
    ss.configure_hosts(bed.net, bed.sc)


@pytest.fixture(autouse=True)
def _hosts_as_configured(bed: Bed) -> object:
    yield
    restore(bed)


def test_every_vm_gets_its_ports_address_by_dhcp_and_pings_its_gateway(bed: Bed, tmp_path: Path) -> None:
    for host in ("h1", "h3", "h4", "h6"):  # one of each network, both tenants
        node, plan = bed.host(host), bed.sc.hosts[host]
        node.cmd(f"ip addr flush dev {node.defaultIntf()}")
        got = lease(bed, host, tmp_path)
        gw = gateway_of(bed, host)
        assert (got.get("ip"), got.get("mask"), got.get("router"), got.get("serverid")) == (plan.ip, "24", gw, gw), got
        assert (got.get("mtu"), got.get("dns"), got.get("lease")) == ("1500", "8.8.8.8 8.8.4.4", "86400"), got
        assert f"{plan.ip}/24" in node.cmd(f"ip -4 addr show dev {node.defaultIntf()}")
        assert ss.ping(bed.net, host, gw, count=2), f"{host} cannot ping its gateway {gw}"
        assert GATEWAY_MAC in node.cmd(f"ip neigh show {gw}"), "the gateway answered ARP with another MAC"
    assert metric(bed, 'sdnapp_dhcp_packets_total{outcome="ack"}') >= 4


def test_the_gateway_answers_on_the_switch_while_sdnapp_is_down(bed: Bed) -> None:
    node = bed.host("h2")
    gw = gateway_of(bed, "h2")
    node.cmd(f"ip neigh flush dev {node.defaultIntf()}")
    bed.proc.stop(signal.SIGKILL)
    try:
        assert ss.ping(bed.net, "h2", gw, count=3), "ARP and ping for the gateway need the controller"
        assert GATEWAY_MAC in node.cmd(f"ip neigh show {gw}")
        # Another network's gateway is not answered: h2 (red-a) asks for blue-a's.
        assert not ss.ping(bed.net, "h2", gateway_of(bed, "h4"), count=1)
    finally:
        bed.proc.start()
        bed.admin.wait_status([h.port_id for h in bed.sc.hosts.values()], "ACTIVE", timeout=30)


def test_a_spoofed_request_gets_no_answer(bed: Bed) -> None:
    node = bed.host("h1")
    h = bed.sc.hosts
    refused = metric(bed, 'sdnapp_dhcp_packets_total{outcome="refused"}')
    cap = Capture([node, bed.host("h2")], "udp dst port 68")
    # h1's own MAC on the frame, h2's as the client hardware address: h1 may not ask for h2's lease.
    out = node.cmd(f"{sys.executable} -c \"from scapy.all import *; sendp(Ether(src='{h['h1'].mac}', "
                   f"dst='ff:ff:ff:ff:ff:ff')/IP(src='0.0.0.0', dst='255.255.255.255')/UDP(sport=68, dport=67)"
                   f"/BOOTP(chaddr=bytes.fromhex('{h['h2'].mac.replace(':', '')}'))/DHCP(options=[('message-type',"
                   f" 'discover'), 'end']), iface='{node.defaultIntf()}', count=3, verbose=0)\"")
    assert "Traceback" not in out, out
    seen = cap.stop(settle=1.0)
    assert seen == {"h1": [], "h2": []}, seen
    assert metric(bed, 'sdnapp_dhcp_packets_total{outcome="refused"}') >= refused + 3


def test_a_dhcp_flood_is_metered_in_the_switch_and_the_api_stays_responsive(bed: Bed, tmp_path: Path) -> None:
    node = bed.host("h3")
    offers_before = metric(bed, 'sdnapp_dhcp_packets_total{outcome="offer"}')
    flood = node.popen([sys.executable, "-m", "testbeds.flood", "--dhcp", "--iface", str(node.defaultIntf()),
                        "--count", "2000", "--seconds", "5", "--rate", "1000"], stdout=subprocess.PIPE, text=True)
    red = bed.admin.as_project("red")
    worst = 0.0
    t0 = time.monotonic()
    while flood.poll() is None:
        t = time.monotonic()
        red.get("/v1/ports")
        worst = max(worst, time.monotonic() - t)
        time.sleep(0.05)
    took = time.monotonic() - t0
    out, _ = flood.communicate()
    assert re.search(r"sent 2000 frames", out), out
    assert worst < 1.0, f"the REST API took {worst:.2f}s to answer during the flood"
    stats = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "meter-stats", "s1", "meter=2"], capture_output=True,
                           text=True).stdout
    dropped = [int(x.split(":")[1]) for x in stats.split() if x.startswith("packet_count:")]
    assert dropped and dropped[-1] > 1000, f"the switch dropped too little of the flood: {stats}"
    # At most the meter's rate (50/s, a burst of 20) of the 1,800 good DISCOVERs was answered.
    offers = metric(bed, 'sdnapp_dhcp_packets_total{outcome="offer"}') - offers_before
    assert 0 < offers <= 50 * (took + 1) + 20, (offers, took)
    assert bed.admin.get("/healthz")["status"] == "ok"
    # Once it is over, DHCP answers as before.
    node.cmd(f"ip addr flush dev {node.defaultIntf()}")
    assert lease(bed, "h3", tmp_path).get("ip") == bed.sc.hosts["h3"].ip
    print(f"DHCP flood: {out.strip()}; worst REST answer {worst * 1000:.0f} ms; {offers:.0f} offers; "
          f"meter 2: {' '.join(stats.split())}")
