"""NAT over VXLAN: the three-hypervisor testbed (testbeds/hypervisors.py) plus a fourth hypervisor as the
gateway, whose br-int has an uplink (gw-up) to an outside host in its own namespace (203.0.113.1, the
next hop, a small HTTP server).

red:  vm1 (hv1), vm2 (hv2)  in 10.1.0.0/24
blue: vm3 (hv1)             in 10.1.0.0/24 too (vm3 has vm1's address)
VNICs are bound by iface-id; each VM's default route is its network's gateway, whose ARP its own
hypervisor answers.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .client import Client
from .hypervisors import HypervisorBed, Vm, sh
from .nat import HTTP_PORT, OUTSIDE_IP, OUTSIDE_MAC, POOL, wait_http
from .process import SdnappProcess
from .vxlan import sdnapp_config

OUTSIDE_NS = "sdnout"
UPLINK = "gw-up"
PREFIX = "10.1.0.0/24"
LAYOUT = {"vm1": ("red", 1), "vm2": ("red", 2), "vm3": ("blue", 1)}


@dataclass
class VxlanNat:
    bed: HypervisorBed
    proc: SdnappProcess
    workdir: Path
    networks: dict[str, dict[str, object]] = field(default_factory=dict)
    ports: dict[str, str] = field(default_factory=dict)
    server: subprocess.Popen[bytes] | None = None

    @property
    def vms(self) -> dict[str, Vm]:
        return self.bed.vms

    def outside(self, *args: str) -> str:
        return sh(*args, ns=OUTSIDE_NS, check=False)

    def fetch(self, vm: str, url: str, timeout: float = 5) -> str:
        return self.vms[vm].cmd("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", str(timeout),
                                url).strip()


def outside_host(bed: HypervisorBed) -> None:
    """The outside host (OUTSIDE_NS, OUTSIDE_IP) on the last hypervisor's br-int port UPLINK."""
    gw = bed.hvs[-1]
    sh("ip", "netns", "del", OUTSIDE_NS, check=False)
    sh("ip", "netns", "add", OUTSIDE_NS)
    sh("ip", "link", "set", "lo", "up", ns=OUTSIDE_NS)
    sh("ip", "link", "add", UPLINK, "type", "veth", "peer", "name", "out0")
    sh("ip", "link", "set", "out0", "netns", OUTSIDE_NS)
    sh("ip", "link", "set", "out0", "address", OUTSIDE_MAC, "up", ns=OUTSIDE_NS)
    sh("ethtool", "-K", "out0", "tx", "off", ns=OUTSIDE_NS, check=False)
    sh("ip", "addr", "add", f"{OUTSIDE_IP}/24", "dev", "out0", ns=OUTSIDE_NS)
    sh("ip", "link", "set", UPLINK, "netns", gw.ns)
    sh("ip", "link", "set", UPLINK, "up", ns=gw.ns)
    sh("ethtool", "-K", UPLINK, "tx", "off", ns=gw.ns, check=False)
    gw.vsctl("add-port", "br-int", UPLINK)


def start(base: Path, api_port: int, of_port: int) -> VxlanNat:
    bed = HypervisorBed(base / "hv", of_port, count=4)
    bed.start()
    try:
        outside_host(bed)
        gw = bed.hvs[-1]
        config = {**sdnapp_config(bed), "external": {
            "datapath_id": gw.dpid, "uplink_port": UPLINK, "prefix": "203.0.113.0/24", "next_hop": OUTSIDE_IP,
            "pool": list(POOL), "arp_refresh": 5}}
        proc = SdnappProcess(base / "sdnapp", api_port=api_port, of_ports=(of_port,), extra=config)
        proc.start()
    except Exception:
        stop_bed(bed)
        raise
    return VxlanNat(bed, proc, base)


def provision(sc: VxlanNat) -> None:
    clients = {t: Client(sc.proc.url, t) for t in ("red", "blue")}
    for tenant, c in clients.items():
        sc.networks[tenant] = c.create_network(tenant, PREFIX)
    for vm, (tenant, hv) in LAYOUT.items():
        c = clients[tenant]
        port = c.create_port(str(sc.networks[tenant]["id"]), f"{vm}-port")
        vnic = c.create_vnic(name=f"{vm}-eth0")
        c.plug(port["id"], vnic["id"])
        sc.ports[vm] = port["id"]
        v = sc.bed.add_vm(vm, sc.bed.hvs[hv - 1], vnic["mac_address"], port["ip_address"], 24, vnic["id"])
        v.cmd("ip", "route", "add", "default", "via", str(sc.networks[tenant]["gateway_ip"]))
    Client(sc.proc.url, "ops", admin=True).wait_status(list(sc.ports.values()), timeout=30)
    sc.bed.warm_underlay()
    sc.server = subprocess.Popen(
        ["ip", "netns", "exec", OUTSIDE_NS, "timeout", "600", "python3", "-m", "http.server", str(HTTP_PORT),
         "--bind", OUTSIDE_IP], cwd=str(sc.workdir), stdout=subprocess.DEVNULL,
        stderr=open(sc.workdir / "http-out.log", "ab"))


def wait_ready(sc: VxlanNat) -> None:
    class _Out:
        def cmd(self, command: str) -> str:
            return sh("sh", "-c", command, ns=OUTSIDE_NS, check=False)

    wait_http(_Out(), f"http://{OUTSIDE_IP}:{HTTP_PORT}/")


def stop_bed(bed: HypervisorBed) -> None:
    sh("ip", "netns", "del", OUTSIDE_NS, check=False)
    bed.stop()


def stop(sc: VxlanNat) -> None:
    try:
        if sc.server is not None:
            sc.server.terminate()
            sc.server.wait(5)
        sc.proc.stop()
    finally:
        stop_bed(sc.bed)
