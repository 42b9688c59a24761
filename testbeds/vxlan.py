"""The VXLAN scenario: three hypervisors, two tenants whose networks use the same addresses.

red:  vm1 (hv1), vm2 (hv2), vm3 (hv3) in 10.1.0.0/24
blue: vm4 (hv1), vm5 (hv2)            in 10.1.0.0/24 too: the same addresses as red's first VMs
VNICs are bound only by the interfaces' iface-id, never by a binding call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .client import Client
from .hypervisors import HypervisorBed, Vm
from .process import SdnappProcess

LAYOUT: dict[str, tuple[str, list[tuple[str, int]]]] = {
    "red": ("red", [("vm1", 1), ("vm2", 2), ("vm3", 3)]),
    "blue": ("blue", [("vm4", 1), ("vm5", 2)]),
}
PREFIX = "10.1.0.0/24"


@dataclass
class VxlanScenario:
    bed: HypervisorBed
    proc: SdnappProcess
    networks: dict[str, str] = field(default_factory=dict)
    ports: dict[str, str] = field(default_factory=dict)  # vm -> port id
    tenant: dict[str, str] = field(default_factory=dict)  # vm -> tenant

    @property
    def vms(self) -> dict[str, Vm]:
        return self.bed.vms

    def client(self, vm: str) -> Client:
        return Client(self.proc.url, self.tenant[vm])

    def same_network(self, a: str, b: str) -> bool:
        return self.tenant[a] == self.tenant[b]


def sdnapp_config(bed: HypervisorBed) -> dict[str, object]:
    return {
        "isolation": {"driver": "vxlan", "vni_range": [5000, 5999]},
        "topology": {"discovery": False},
        "switches": bed.switches_config(),
    }


def start(base: Path, api_port: int, of_port: int) -> VxlanScenario:
    bed = HypervisorBed(base / "hv", of_port)
    bed.start()
    proc = SdnappProcess(base / "sdnapp", api_port=api_port, of_ports=(of_port,), extra=sdnapp_config(bed))
    try:
        proc.start()
    except Exception:
        bed.stop()
        raise
    return VxlanScenario(bed, proc)


def provision(sc: VxlanScenario) -> None:
    """Networks, ports and VNICs over REST; the VMs' interfaces plugged with iface-id; no binding call."""
    for net_name, (tenant, vms) in LAYOUT.items():
        c = Client(sc.proc.url, tenant)
        net = c.create_network(net_name, PREFIX)
        sc.networks[net_name] = net["id"]
        for vm_name, hv_index in vms:
            port = c.create_port(net["id"], f"{vm_name}-port")
            vnic = c.create_vnic(name=f"{vm_name}-eth0")
            c.plug(port["id"], vnic["id"])
            sc.ports[vm_name], sc.tenant[vm_name] = port["id"], tenant
            sc.bed.add_vm(vm_name, sc.bed.hvs[hv_index - 1], vnic["mac_address"], port["ip_address"], 24,
                          vnic["id"])


def ping(sc: VxlanScenario, src: str, dst_ip: str, count: int = 1, size: int | None = None) -> bool:
    args = ["ping", "-c", str(count), "-W", "1", "-i", "0.2"]
    if size is not None:
        args += ["-s", str(size), "-M", "do"]
    out = sc.vms[src].cmd(*args, dst_ip)
    return " received" in out and " 0 received" not in out


def neighbour_mac(sc: VxlanScenario, src: str, ip: str) -> str | None:
    out = sc.vms[src].cmd("ip", "neigh", "show", ip)
    parts = out.split()
    return parts[parts.index("lladdr") + 1] if "lladdr" in parts else None


def stop(sc: VxlanScenario) -> None:
    try:
        sc.proc.stop()
    finally:
        sc.bed.stop()
