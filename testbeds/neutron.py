"""The Neutron scenario: sdnapp with a hypervisor that Nova would call `compute1` (one ovsdb-server and
ovs-vswitchd in a network namespace, its br-int on the userspace datapath), a fake Nova for its
events, and VIFs plugged the way os-vif plugs them: an interface on br-int named `tap` + the port
id's first 11 characters, with external_ids iface-id (the port id), attached-mac, vm-uuid and
iface-status=active.

With `external`, compute1 is also the gateway of the `nat` extension: its br-int has an uplink to an
outside host (its own namespace, 203.0.113.1, the next hop) that runs a "who am I" HTTP server, which
answers each GET with the client's address as it saw it (a translated source shows as itself).
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import Client
from .fake_nova import FakeNova
from .hypervisors import Hypervisor, HypervisorBed, sh
from .nat import OUTSIDE_IP, POOL
from .process import SdnappProcess
from .vxlan_nat import OUTSIDE_NS, UPLINK, outside_host

HOST = "compute1"
NOVA_TOKEN = "nova-secret"
BATCH_INTERVAL = 0.2  # the notifier's nova.batch_interval here (sdnapp's default is Neutron's 2 s)
EXTERNAL_PREFIX = "203.0.113.0/24"
WHOAMI_PORT = 8000
# An HTTP server answering every GET with the client's address: argv[1] address, argv[2] port.
WHOAMI = r'''
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.client_address[0].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
'''


@dataclass
class NeutronBed:
    bed: HypervisorBed
    proc: SdnappProcess
    nova: FakeNova
    outside_server: subprocess.Popen[bytes] | None = None  # with `external`: the outside host's whoami

    @property
    def hv(self) -> Hypervisor:
        return self.bed.hvs[0]

    @property
    def url(self) -> str:
        return self.proc.url


def start(base: Path, api_port: int, of_port: int, nova_port: int, max_body_bytes: int = 65536,
          external: bool = False) -> NeutronBed:
    """sdnapp, compute1 and the fake Nova; with `external`, the outside host too, its next hop resolved
    by the gateway and its whoami server answering."""
    nova = FakeNova(nova_port, token=NOVA_TOKEN).start()
    bed = HypervisorBed(base / "hv", of_port, count=1)
    server = None
    try:
        bed.start()
        hv = bed.hvs[0]
        config: dict[str, object] = {
            "api": {"host": "127.0.0.1", "port": api_port, "max_body_bytes": max_body_bytes},
            "topology": {"discovery": False},
            "switches": [{"datapath_id": hv.dpid, "ovsdb": hv.db, "host": HOST}],
            "nova": {"url": nova.url, "token": NOVA_TOKEN, "batch_interval": BATCH_INTERVAL},
        }
        if external:
            outside_host(bed)
            config["external"] = {"datapath_id": hv.dpid, "uplink_port": UPLINK, "prefix": EXTERNAL_PREFIX,
                                  "next_hop": OUTSIDE_IP, "pool": list(POOL), "arp_refresh": 5}
            server = serve_whoami(OUTSIDE_NS, OUTSIDE_IP, WHOAMI_PORT)
        proc = SdnappProcess(base / "sdnapp", api_port=api_port, of_ports=(of_port,), extra=config)
        proc.start()
        _wait_switch(proc.url, hv.dpid, gateway=external)
        if server is not None:
            whoami(OUTSIDE_NS, f"http://{OUTSIDE_IP}:{WHOAMI_PORT}/", wait=20.0)
    except Exception:
        if external:
            _stop_outside(server)
        bed.stop()
        nova.stop()
        raise
    return NeutronBed(bed, proc, nova, server)


def _wait_switch(url: str, dpid: str, timeout: float = 20.0, gateway: bool = False) -> None:
    """Until the hypervisor's switch is connected and its bridge read over OVSDB (before that, a port
    bound to it is binding_failed: its datapath type is not known yet); with `gateway`, until it has
    found the next hop's MAC too (before that, nothing leaves by the uplink)."""
    admin = Client(url, "ops", admin=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sw = next((s for s in admin.get("/v1/switches")["switches"] if s["datapath_id"] == dpid), None)
        if (sw is not None and sw["connected"] and sw.get("ovsdb", {}).get("connected")
                and (not gateway or sw.get("gateway", {}).get("next_hop_mac"))):
            return
        time.sleep(0.1)
    raise TimeoutError(f"switch {dpid} not connected with its OVSDB read (and its next hop, with a gateway) "
                       f"after {timeout} s")


def serve_whoami(ns: str, address: str, port: int) -> subprocess.Popen[bytes]:
    """The whoami HTTP server in namespace `ns` (it stops by itself after ten minutes at the latest)."""
    return subprocess.Popen(["ip", "netns", "exec", ns, "timeout", "600", sys.executable, "-c", WHOAMI, address,
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def whoami(ns: str, url: str, timeout: float = 2.0, wait: float = 0.0) -> str:
    """What a whoami server at `url` answers a GET from namespace `ns`: the address it saw the request
    from ("" when nothing answered within `timeout` seconds). With `wait`, tried again until an answer
    comes or `wait` seconds have passed."""
    deadline = time.monotonic() + wait
    while True:
        got = sh("curl", "-s", "--max-time", str(timeout), url, ns=ns, check=False).strip()
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(0.2)


def _stop_outside(server: subprocess.Popen[bytes] | None) -> None:
    if server is not None:
        server.terminate()
        server.wait(5)
    sh("ip", "netns", "del", OUTSIDE_NS, check=False)


def stop(nb: NeutronBed) -> None:
    try:
        nb.proc.stop()
    finally:
        if nb.outside_server is not None:
            _stop_outside(nb.outside_server)
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
