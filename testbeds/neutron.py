"""The Neutron scenario: sdnapp with a hypervisor that Nova would call `compute1` (one ovsdb-server and
ovs-vswitchd in a network namespace, its br-int on the userspace datapath), a fake Nova for its
events, and VIFs plugged the way os-vif plugs them: an interface on br-int named `tap` + the port
id's first 11 characters, with external_ids iface-id (the port id), attached-mac, vm-uuid and
iface-status=active.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import Client
from .fake_nova import FakeNova
from .hypervisors import Hypervisor, HypervisorBed
from .process import SdnappProcess

HOST = "compute1"
NOVA_TOKEN = "nova-secret"
BATCH_INTERVAL = 0.2  # the notifier's nova.batch_interval here (sdnapp's default is Neutron's 2 s)


@dataclass
class NeutronBed:
    bed: HypervisorBed
    proc: SdnappProcess
    nova: FakeNova

    @property
    def hv(self) -> Hypervisor:
        return self.bed.hvs[0]

    @property
    def url(self) -> str:
        return self.proc.url


def start(base: Path, api_port: int, of_port: int, nova_port: int, max_body_bytes: int = 65536) -> NeutronBed:
    nova = FakeNova(nova_port, token=NOVA_TOKEN).start()
    bed = HypervisorBed(base / "hv", of_port, count=1)
    try:
        bed.start()
        hv = bed.hvs[0]
        config: dict[str, object] = {
            "api": {"host": "127.0.0.1", "port": api_port, "max_body_bytes": max_body_bytes},
            "topology": {"discovery": False},
            "switches": [{"datapath_id": hv.dpid, "ovsdb": hv.db, "host": HOST}],
            "nova": {"url": nova.url, "token": NOVA_TOKEN, "batch_interval": BATCH_INTERVAL},
        }
        proc = SdnappProcess(base / "sdnapp", api_port=api_port, of_ports=(of_port,), extra=config)
        proc.start()
        _wait_switch(proc.url, hv.dpid)
    except Exception:
        bed.stop()
        nova.stop()
        raise
    return NeutronBed(bed, proc, nova)


def _wait_switch(url: str, dpid: str, timeout: float = 20.0) -> None:
    """Until the hypervisor's switch is connected and its bridge read over OVSDB (before that, a port
    bound to it is binding_failed: its datapath type is not known yet)."""
    admin = Client(url, "ops", admin=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sw = next((s for s in admin.get("/v1/switches")["switches"] if s["datapath_id"] == dpid), None)
        if sw is not None and sw["connected"] and sw.get("ovsdb", {}).get("connected"):
            return
        time.sleep(0.1)
    raise TimeoutError(f"switch {dpid} not connected with its OVSDB read after {timeout} s")


def stop(nb: NeutronBed) -> None:
    try:
        nb.proc.stop()
    finally:
        nb.bed.stop()
        nb.nova.stop()


def devname(port_id: str) -> str:
    """os-vif's name for a VIF's device (nova.network.model: 'tap' + port id, 14 characters)."""
    return ("tap" + port_id)[:14]


def osvif_plug(hv: Hypervisor, ports: list[dict[str, Any]], chunk: int = 2000) -> list[str]:
    """Plug VIFs into br-int as os-vif does, in large OVSDB transactions: OVS internal interfaces (real
    devices under the userspace datapath), brought up. Returns their names."""
    names = [devname(p["id"]) for p in ports]
    for i in range(0, len(ports), chunk):
        cmd: list[str] = []
        for j, p in enumerate(ports[i:i + chunk]):
            name = devname(p["id"])
            cmd += ["--", f"--id=@i{j}", "create", "Interface", f"name={name}", "type=internal",
                    f"external_ids:iface-id={p['id']}", f"external_ids:attached-mac={p['mac_address']}",
                    f"external_ids:vm-uuid={p['device_id']}", "external_ids:iface-status=active",
                    "--", f"--id=@p{j}", "create", "Port", f"name={name}", f"interfaces=@i{j}",
                    "--", "add", "Bridge", "br-int", "ports", f"@p{j}"]
        subprocess.run(["ovs-vsctl", f"--db={hv.db}", "--timeout=900", *cmd], check=True, capture_output=True)
    batch = "".join(f"link set dev {n} up\n" for n in names)
    subprocess.run(["ip", "netns", "exec", hv.ns, "ip", "-batch", "-"], input=batch, text=True, check=True,
                   capture_output=True)
    return names


def osvif_unplug(hv: Hypervisor, names: list[str]) -> None:
    cmd: list[str] = []
    for n in names:
        cmd += ["--", "--if-exists", "del-port", "br-int", n]
    subprocess.run(["ovs-vsctl", f"--db={hv.db}", "--timeout=900", *cmd], check=True, capture_output=True)
