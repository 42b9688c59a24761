"""VXLAN benchmarks on three hypervisors: iface-id -> ACTIVE, migration outage, flows with 100 networks.

Run as root after scripts/setup.sh: `python -m testbeds.bench_vxlan --plugs 50 --migrations 10 --networks 100`.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import vxlan as vx
from .client import Client
from .hypervisors import sh
from .stats import summary_ms

API_PORT, OF_PORT = 29699, 26656


def iface_to_active(sc: vx.VxlanScenario, n: int) -> None:
    hv = sc.bed.hvs[0]
    red = Client(sc.proc.url, "red")
    port = red.create_port(sc.networks["red"], "bench")
    vnic = red.create_vnic(name="bench")
    red.plug(port["id"], vnic["id"])
    took = []
    for _ in range(n):
        sh("ip", "link", "add", "t-bench", "type", "veth", "peer", "name", "p-bench")
        sh("ip", "link", "set", "p-bench", "up")  # a VM whose NIC is up: the port has carrier
        sh("ip", "link", "set", "t-bench", "netns", hv.ns)
        sh("ip", "link", "set", "t-bench", "up", ns=hv.ns)
        t0 = time.perf_counter()
        hv.vsctl("add-port", "br-int", "t-bench", "--", "set", "Interface", "t-bench",
                 f"external_ids:iface-id={vnic['id']}", "external_ids:iface-status=active",
                 f"external_ids:attached-mac={vnic['mac_address']}")
        while red.port(port["id"])["status"] != "ACTIVE":
            if time.perf_counter() - t0 > 10:
                raise TimeoutError("not ACTIVE after 10 s")
        took.append(time.perf_counter() - t0)
        hv.vsctl("del-port", "br-int", "t-bench")
        sh("ip", "link", "del", "t-bench", ns=hv.ns, check=False)
        red.wait_status([port["id"]], "DOWN", timeout=10)
    print(f"iface-id on the bridge -> port ACTIVE (ovs-vsctl add-port returned to ACTIVE seen over REST): "
          f"{summary_ms(took)}")


def migration(sc: vx.VxlanScenario, n: int) -> None:
    vm1, vm2 = sc.vms["vm1"], sc.vms["vm2"]
    gaps = []
    for _ in range(n):
        to = sc.bed.hvs[2] if vm2.hv is sc.bed.hvs[1] else sc.bed.hvs[1]
        p = subprocess.Popen(["ip", "netns", "exec", vm1.ns, "ping", "-D", "-n", "-i", "0.01", "-W", "1",
                              "-c", "300", vm2.ip], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        sc.bed.migrate(vm2, to)
        out, _ = p.communicate(timeout=30)
        stamps = [float(line.split("]")[0][1:]) for line in out.splitlines()
                  if line.startswith("[") and "bytes from" in line]
        gaps.append(max(b - a for a, b in zip(stamps, stamps[1:], strict=False)))
    print(f"migration hv2<->hv3, longest gap in a 10 ms ping from vm1: {summary_ms(gaps)} "
          "(includes the VM's NIC being replaced and ARP)")


def scale(sc: vx.VxlanScenario, networks: int) -> None:
    """`networks` networks, each with one VNIC on every hypervisor (OVS internal ports as the VMs' taps)."""
    admin = Client(sc.proc.url, "ops", admin=True)
    per_hv: dict[int, list[tuple[str, str]]] = {hv.index: [] for hv in sc.bed.hvs}
    ports = []
    t0 = time.monotonic()
    for n in range(networks):
        c = Client(sc.proc.url, f"t{n % 10}")
        net = c.create_network(f"s{n}")
        for hv in sc.bed.hvs:
            port = c.create_port(net["id"])
            vnic = c.create_vnic()
            c.plug(port["id"], vnic["id"])
            per_hv[hv.index].append((f"s{n}h{hv.index}", vnic["id"]))
            ports.append(port["id"])
    api = time.monotonic() - t0
    t0 = time.monotonic()
    for hv in sc.bed.hvs:
        cmd = []
        for name, vid in per_hv[hv.index]:
            cmd += ["--", "add-port", "br-int", name, "--", "set", "Interface", name, "type=internal",
                    f"external_ids:iface-id={vid}", "external_ids:iface-status=active"]
        hv.vsctl(*cmd)
        batch = "".join(f"link set dev {name} up\n" for name, _ in per_hv[hv.index])
        subprocess.run(["ip", "netns", "exec", hv.ns, "ip", "-batch", "-"], input=batch, text=True, check=True)
    deadline = time.monotonic() + 120
    while True:
        ps = {p["id"]: p["status"] for p in admin.get("/v1/ports")["ports"]}
        if all(ps.get(p) == "ACTIVE" for p in ports):
            break
        if time.monotonic() > deadline:
            raise TimeoutError("ports not ACTIVE")
        time.sleep(0.1)
    print(f"{networks} networks x {len(sc.bed.hvs)} hypervisors: {len(ports)} ports over REST in {api:.1f}s; "
          f"interfaces plugged to all ACTIVE in {time.monotonic() - t0:.1f}s")
    for hv in sc.bed.hvs:
        flows = [ln for ln in hv.ofctl("dump-flows").splitlines() if "cookie=0x5d4e" in ln]
        print(f"  hypervisor {hv.index}: {len(flows)} flows")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plugs", type=int, default=50)
    ap.add_argument("--migrations", type=int, default=10)
    ap.add_argument("--networks", type=int, default=100)
    args = ap.parse_args(argv)
    if not (1 <= args.plugs <= 1000 and 1 <= args.migrations <= 100 and 1 <= args.networks <= 1000):
        ap.error("plugs 1..1000, migrations 1..100, networks 1..1000")
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        sc = vx.start(Path(tmp), API_PORT, OF_PORT)
        try:
            vx.provision(sc)
            Client(sc.proc.url, "ops", admin=True).wait_status(list(sc.ports.values()), timeout=30)
            sc.bed.warm_underlay()
            iface_to_active(sc, args.plugs)
            migration(sc, args.migrations)
            scale(sc, args.networks)
        finally:
            vx.stop(sc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
