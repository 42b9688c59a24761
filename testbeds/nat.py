"""A NAT testbed on Mininet: two OVS switches in a line, the second the gateway with an uplink to an
outside host (203.0.113.1, the next hop, in its own namespace), and two tenants whose networks both
use 10.0.0.0/24. The real sdnapp process runs with the `external` section; the gateway is listed in
`switches` with the machine's OVSDB (that is how sdnapp knows it is Open vSwitch).

    red:  vm1 on s1 (10.0.0.2), vm2 on s2 (10.0.0.3)
    blue: vm3 on s1 (10.0.0.2, the same address as vm1)
    out:  on s2's port s2-up, 203.0.113.1/24, running a small HTTP server

The VMs take their leases from sdnapp's DHCP with busybox udhcpc (address, mask, default route via
the network's gateway, whose ARP their switch answers).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import Client
from .dhcp_client import udhcpc_lease
from .fabric import start_quiet
from .process import SdnappProcess

OVSDB = "unix:/var/run/openvswitch/db.sock"
GATEWAY_DPID = "0000000000000002"
UPLINK = "s2-up"
OUTSIDE_IP, OUTSIDE_MAC = "203.0.113.1", "02:00:00:00:0f:01"
POOL = ("203.0.113.10", "203.0.113.20")
HTTP_PORT = 8000
# vm -> (switch, tenant, network)
VMS = {"vm1": ("s1", "red", "red"), "vm2": ("s2", "red", "red"), "vm3": ("s1", "blue", "blue")}
NETWORKS = {"red": "red", "blue": "blue"}  # network -> tenant


@dataclass
class Vm:
    name: str
    tenant: str
    network: str
    mac: str
    ip: str = ""
    port_id: str = ""
    vnic_id: str = ""
    lease: dict[str, str] = field(default_factory=dict)  # as udhcpc's script saw it


@dataclass
class NatBed:
    net: Any
    proc: SdnappProcess
    admin: Client
    vms: dict[str, Vm] = field(default_factory=dict)
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def host(self, name: str) -> Any:
        return self.net.get(name)

    def client(self, tenant: str) -> Client:
        return Client(self.proc.url, tenant)

    def gateway_report(self) -> dict[str, Any]:
        switches = self.admin.get("/v1/switches")["switches"]
        return dict(next(s for s in switches if s["datapath_id"] == GATEWAY_DPID).get("gateway", {}))


def config(api_port: int, of_port: int) -> dict[str, object]:
    return {
        "topology": {"lldp_interval": 0.5},
        "switches": [{"datapath_id": GATEWAY_DPID, "ovsdb": OVSDB, "bridge": "s2"}],
        "external": {"datapath_id": GATEWAY_DPID, "uplink_port": UPLINK, "prefix": "203.0.113.0/24",
                     "next_hop": OUTSIDE_IP, "pool": list(POOL), "arp_refresh": 5},
    }


def build_net(of_port: int) -> Any:
    from mininet.link import Link
    from mininet.net import Mininet
    from mininet.node import OVSSwitch, RemoteController

    net = Mininet(controller=None, autoSetMacs=False, autoStaticArp=False, build=False, waitConnected=False)
    net.addController(RemoteController("c0", ip="127.0.0.1", port=of_port))
    for i, s in enumerate(("s1", "s2"), 1):
        net.addSwitch(s, cls=OVSSwitch, datapath="user", protocols="OpenFlow13", failMode="secure",
                      dpid=f"{i:016x}")
    for i, (vm, (sw, _, _)) in enumerate(VMS.items(), 1):
        net.addHost(vm, ip=None, mac=f"02:00:00:00:0a:{i:02x}")
        net.addLink(vm, sw, cls=Link)
    net.addHost("out", ip=None, mac=OUTSIDE_MAC)
    net.addLink("out", "s2", cls=Link, intfName2=UPLINK)
    net.addLink("s1", "s2", cls=Link)
    start_quiet(net)
    out = net.get("out")
    out.cmd(f"ip addr add {OUTSIDE_IP}/24 dev {out.defaultIntf()}")
    out.cmd(f"ip link set {out.defaultIntf()} up")
    return net


def switch_port(net: Any, host: str) -> str:
    intf = net.get(host).defaultIntf()
    link = intf.link
    return str((link.intf2 if link.intf1 is intf else link.intf1).name)


def provision(bed: NatBed, workdir: Path) -> None:
    for name, tenant in NETWORKS.items():
        bed.networks[name] = bed.client(tenant).create_network(name, "10.0.0.0/24")
        assert bed.networks[name]["nat"], bed.networks[name]
    for vm, (sw, tenant, network) in VMS.items():
        c = bed.client(tenant)
        node = bed.host(vm)
        v = Vm(vm, tenant, network, str(node.MAC()))
        port = c.create_port(bed.networks[network]["id"], f"{vm}-port")
        vnic = c.create_vnic(v.mac, f"{vm}-eth0")
        c.plug(port["id"], vnic["id"])
        bed.admin.bind(vnic["id"], f"{int(sw[1:]):016x}", switch_port(bed.net, vm))
        v.ip, v.port_id, v.vnic_id = port["ip_address"], port["id"], vnic["id"]
        bed.vms[vm] = v
    bed.admin.wait_status([v.port_id for v in bed.vms.values()], timeout=30)
    for vm, v in bed.vms.items():
        node = bed.host(vm)
        node.cmd(f"ip link set {node.defaultIntf()} up")
        v.lease = udhcpc_lease(node.cmd, str(node.defaultIntf()), workdir / vm)
        if v.lease.get("ip") != v.ip or v.lease.get("router") != bed.networks[v.network]["gateway_ip"]:
            raise RuntimeError(f"{vm} got no lease of {v.ip} by DHCP: {v.lease}")


def wait_next_hop(bed: NatBed, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bed.gateway_report().get("next_hop_mac"):
            return
        time.sleep(0.2)
    raise TimeoutError(f"the next hop was not resolved: {bed.gateway_report()}")


def fetch(host: Any, url: str, timeout: float = 5) -> str:
    """The HTTP status of a GET from a host ("000" when nothing answered)."""
    return str(host.cmd(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time {timeout} {url}")).strip()


# A TCP stream across a restart: the server sends argv[3] chunks of 10,000 bytes, 10 ms apart; the
# client prints how many bytes it received.
STREAM_CLIENT = r'''
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
got = 0
while True:
    b = s.recv(65536)
    if not b:
        break
    got += len(b)
print(got)
'''
STREAM_SERVER = r'''
import socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2]))); srv.listen(1); srv.settimeout(30)
c, _ = srv.accept()
chunk = b"x" * 10000
for _ in range(int(sys.argv[3])):
    c.sendall(chunk); time.sleep(0.01)
c.close()
'''


# A UDP datagram to a closed port, argv[1]:argv[2], from argv[3]:argv[4] (a bound address, not the wildcard),
# on a connected socket: the ICMP port unreachable that answers is reported as ConnectionRefusedError only if
# the kernel finds this socket by the error's embedded header, i.e. that header names exactly this address and
# port as its source. Prints "refused" or "no error".
UDP_PROBE = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[3], int(sys.argv[4])))
s.connect((sys.argv[1], int(sys.argv[2])))
s.settimeout(1)
for _ in range(3):
    try:
        s.send(b"probe")
        s.recv(100)
    except ConnectionRefusedError:
        print("refused")
        break
    except TimeoutError:
        continue
else:
    print("no error")
'''


def wait_http(host: Any, url: str, timeout: float = 20.0) -> None:
    """Wait until an HTTP server answers `url` from `host`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.cmd(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 1 {url}").strip() == "200":
            return
        time.sleep(0.2)
    raise TimeoutError(f"no HTTP server at {url}")


@contextmanager
def running(workdir: Path, api_port: int, of_port: int) -> Iterator[NatBed]:
    """sdnapp with an external network, the testbed built and provisioned, every port ACTIVE, the next
    hop resolved, and an HTTP server on the outside host (stopped at the end)."""
    proc = SdnappProcess(workdir, api_port=api_port, of_ports=(of_port,), extra=config(api_port, of_port))
    proc.start()
    net = None
    server = None
    try:
        net = build_net(of_port)
        bed = NatBed(net, proc, Client(proc.url, "ops", admin=True))
        provision(bed, workdir)
        wait_next_hop(bed)
        # Its log (stderr) names each client as it saw it: the translated source.
        server = bed.host("out").popen(
            ["timeout", "600", "python3", "-m", "http.server", str(HTTP_PORT), "--bind", OUTSIDE_IP],
            cwd=str(workdir), stdout=subprocess.DEVNULL, stderr=open(workdir / "http-out.log", "ab"))
        wait_http(bed.host("out"), f"http://{OUTSIDE_IP}:{HTTP_PORT}/")
        yield bed
    finally:
        if server is not None:
            server.terminate()
            server.wait(5)
        if net is not None:
            net.stop()
        proc.stop()
