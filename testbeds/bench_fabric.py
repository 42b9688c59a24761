"""Fabric benchmarks: failover time on the ring and the leaf-spine; restarts of sdnapp on the line, the
ring and the leaf-spine under a 20 ms ping (pings lost, flows replaced and flow-mods counted until 4 LLDP
intervals after every port is ACTIVE, past rediscovery), and the time until a link lost while sdnapp was
away is routed around; cold programming of a leaf-spine with 100 networks, and flows per switch. Prints
figures; asserts nothing.

Run as root after scripts/setup.sh: `python -m testbeds.bench_fabric --trials 10 --networks 100`.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import fabric as fb
from .client import Client
from .ovs import dump_flows
from .process import SdnappProcess
from .stats import summary_ms

API_PORT, OF_PORT = 29697, 26654


def failover(spec: fb.FabricSpec, trials: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, fb.running(spec, Path(tmp), API_PORT, OF_PORT, "WARNING") as (_, bed):
        sc = bed.sc
        src, dst, link = ("h1", "h2", ("s1", "s2")) if spec.name == "ring4" else ("h1", "h3", ("s3", "s1"))
        down, up = [], []
        for _ in range(trials):
            gap, _, _ = fb.outage(bed.net.get(src), sc.hosts[dst].ip,
                                  lambda: bed.net.configLinkStatus(*link, "down"), settle=0.5, after=2.0)
            down.append(gap)
            gap, _, _ = fb.outage(bed.net.get(src), sc.hosts[dst].ip,
                                  lambda: bed.net.configLinkStatus(*link, "up"), settle=0.5, after=2.0)
            up.append(gap)
            fb.wait_links(f"http://127.0.0.1:{API_PORT}", len(spec.links))
        print(f"{spec.name}: link {link[0]}-{link[1]} down, longest gap in a 20 ms ping: {summary_ms(down)}")
        print(f"{spec.name}: link back up, longest gap:                       {summary_ms(up)}")


def restarts(spec: fb.FabricSpec, trials: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, fb.running(spec, Path(tmp), API_PORT, OF_PORT, "WARNING") as (proc, bed):
        for name, sig in (("SIGTERM", signal.SIGTERM), ("SIGKILL", signal.SIGKILL)):
            runs = [fb.restart_under_ping(proc, bed, sig) for _ in range(trials)]
            lost = sum(r.sent - r.received for r in runs)
            print(f"{spec.name}: {trials} x {name}: {lost} of {sum(r.sent for r in runs)} pings lost, "
                  f"{sum(len(r.replaced) for r in runs)} flows replaced, {sum(r.flow_mods for r in runs)} flow-mods "
                  f"(counted until {4 * fb.LLDP_INTERVAL:.0f}s after every port is ACTIVE); every port ACTIVE "
                  f"{summary_ms([r.active_after for r in runs])} after the stop")
        if spec.name == "line4":
            return
        src, dst, link = ("h1", "h2", ("s1", "s2")) if spec.name == "ring4" else ("h1", "h3", ("s3", "s1"))
        took = []
        for _ in range(trials):
            took.append(fb.reroute_after_restart(proc, bed, link, src, dst))
            bed.net.configLinkStatus(*link, "up")
            fb.wait_links(proc.url, len(spec.links))
        print(f"{spec.name}: link {link[0]}-{link[1]} lost while sdnapp was away: {src} reaches {dst} again "
              f"{summary_ms(took)} after sdnapp started")


def scale(networks: int, per_network: int) -> None:
    spec = fb.LEAF_SPINE
    leaves = ["s3", "s4", "s5", "s6"]
    with tempfile.TemporaryDirectory() as tmp:
        proc = SdnappProcess(Path(tmp), API_PORT, (OF_PORT,))
        proc.start()
        bed = None
        try:
            bed = fb.build_net(spec, OF_PORT)
            fb.wait_links(proc.url, len(spec.links))
            # The VMs' interfaces: OVS internal ports, made in one transaction per leaf
            # (interface creation is OVS's cost, kept out of the figures).
            plan: list[tuple[int, str, str]] = []  # (network index, leaf, port name)
            for n in range(networks):
                for k in range(per_network):
                    leaf = leaves[(n + k) % len(leaves)]
                    plan.append((n, leaf, f"v{n}x{k}"))
            t0 = time.monotonic()
            for leaf in leaves:
                cmd = ["ovs-vsctl"]
                for _, lf, name in plan:
                    if lf == leaf:
                        cmd += ["--", "add-port", leaf, name, "--", "set", "interface", name, "type=internal"]
                subprocess.run(cmd, check=True, capture_output=True)
            # An internal port is down until its device is up; a VNIC on a down port is not ACTIVE.
            batch = "".join(f"link set dev {name} up\n" for _, _, name in plan)
            subprocess.run(["ip", "-batch", "-"], input=batch, text=True, check=True)
            print(f"made {len(plan)} OVS interfaces in {time.monotonic() - t0:.1f}s (not counted below)")
            admin = Client(proc.url, "ops", admin=True)
            t0 = time.monotonic()
            ports: list[str] = []
            net_ids: dict[int, str] = {}
            for n, leaf, name in plan:
                c = Client(proc.url, f"t{n % 10}")
                if n not in net_ids:
                    net_ids[n] = c.create_network(f"n{n}")["id"]
                port = c.create_port(net_ids[n])
                vnic = c.create_vnic()
                c.plug(port["id"], vnic["id"])
                admin.bind(vnic["id"], spec.dpid(leaf), name)
                ports.append(port["id"])
            _wait_all_active(admin, len(ports))
            took = time.monotonic() - t0
            print(f"{networks} networks, {len(ports)} ports over REST, all ACTIVE in {took:.1f}s "
                  f"({len(ports) * 4 / took:.0f} requests/s)")
            _flows_per_switch(spec)

            # From cold: the controller stops, the switches lose every flow, the controller starts.
            proc.stop(signal.SIGKILL)
            for s in spec.switches:
                subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "del-flows", s], check=True)
            t0 = time.monotonic()
            proc.start()
            _wait_all_active(admin, len(ports))
            print(f"cold start (switches empty): every port ACTIVE {time.monotonic() - t0:.2f}s after the process "
                  "started")
            t0 = time.monotonic()
            proc.stop(signal.SIGKILL)
            mark = len(proc.log())
            proc.start()
            _wait_all_active(admin, len(ports))
            active = time.monotonic() - t0
            time.sleep(4 * 1.0)  # 4 LLDP intervals (the default): past rediscovery of every link
            print(f"restart (switches programmed): every port ACTIVE {active:.2f}s after the kill; "
                  f"flow-mods sent until 4 s later: {_flow_mods_logged(proc.log()[mark:])}")
        finally:
            if bed is not None:
                bed.net.stop()
            proc.stop()


def _wait_all_active(admin: Client, n: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            ps = admin.get("/v1/ports")["ports"]
            if len(ps) == n and all(p["status"] == "ACTIVE" for p in ps):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("ports not ACTIVE")
        time.sleep(0.05)


def _flows_per_switch(spec: fb.FabricSpec) -> None:
    counts = {s: len([f for f in dump_flows(s) if f.ours]) for s in spec.switches}
    print("flows per switch: " + ", ".join(f"{s} {n}" for s, n in counts.items()))


def _flow_mods_logged(log: str) -> int:
    """Flow-mods the reconciler reports in its log lines `switch X: +a ~b -c flows`."""
    total = 0
    for m in re.finditer(r": \+(\d+) ~(\d+) -(\d+) flows", log):
        total += sum(int(x) for x in m.groups())
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--networks", type=int, default=100)
    ap.add_argument("--ports-per-network", type=int, default=4)
    ap.add_argument("--skip-failover", action="store_true")
    ap.add_argument("--skip-restarts", action="store_true")
    args = ap.parse_args(argv)
    if not (1 <= args.trials <= 100 and 1 <= args.networks <= 1000 and 1 <= args.ports_per_network <= 20):
        ap.error("trials 1..100, networks 1..1000, ports per network 1..20")
    if not args.skip_failover:
        for spec in (fb.RING4, fb.LEAF_SPINE):
            failover(spec, args.trials)
    if not args.skip_restarts:
        for spec in (fb.LINE4, fb.RING4, fb.LEAF_SPINE):
            restarts(spec, args.trials)
    scale(args.networks, args.ports_per_network)
    return 0


if __name__ == "__main__":
    sys.exit(main())
