"""Figures of the NAT (the `nat` extension) on the NAT testbed (testbeds/nat.py): run as root, under the
OVS lock on a shared machine: `flock /work/ovs.lock .venv/bin/python -m testbeds.bench_nat`.

- plug -> first packet to the outside host answered, and plug -> ACTIVE (vm1 unplugged and plugged
  again while it pings the outside host every 10 ms, its gateway's MAC fixed; the median over --plugs);
- a TCP stream (iperf3, --seconds) from vm1 through the NAT to the outside host, against the same
  stream from vm1 to vm2 of its own network without the NAT (both cross the s1-s2 link): the ratio;
- flows per NATed network on the gateway switch (its partition), with and without a floating address;
- a SIGKILL restart of sdnapp with an open TCP connection through the NAT: bytes sent and received,
  and the flow-mods the restart sent.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flows.model import GATEWAY_MAC
from flows.pipeline import partition_of

from . import nat
from .ovs import dump_flows

OF_PORT, API_PORT = 16756, 19756


def plug_to_first_packet(bed: nat.NatBed, plugs: int) -> tuple[list[float], list[float]]:
    vm = bed.vms["vm1"]
    red = bed.client("red")
    # What is measured is the network, not the VM's ARP: while unplugged, its gateway's neighbour entry
    # would fail, and Linux retries it at its own pace. The gateway's MAC is fixed (GATEWAY_MAC).
    node = bed.host("vm1")
    node.cmd(f"ip neigh replace {bed.networks['red']['gateway_ip']} lladdr {GATEWAY_MAC} "
             f"dev {node.defaultIntf()} nud permanent")
    first, active = [], []
    for _ in range(plugs):
        red.unplug(vm.vnic_id)
        bed.admin.wait_status([vm.port_id], "DOWN", timeout=10)
        time.sleep(0.3)
        pinger = bed.host("vm1").popen(["ping", "-D", "-n", "-i", "0.01", "-W", "1", "-c", "1000", nat.OUTSIDE_IP],
                                       stdout=subprocess.PIPE, text=True)
        time.sleep(0.2)
        t0 = time.time()
        red.plug(vm.port_id, vm.vnic_id)
        active.append(bed.admin.wait_status([vm.port_id], timeout=30))
        time.sleep(0.5)
        pinger.send_signal(signal.SIGINT)  # ping flushes what it printed on SIGINT, not on SIGTERM
        out, _ = pinger.communicate(timeout=10)
        stamps = [float(line.split("]")[0][1:]) for line in out.splitlines()
                  if line.startswith("[") and "bytes from" in line]
        after = [s for s in stamps if s >= t0]
        if after:
            first.append(after[0] - t0)
        else:
            print(f"  no answer after a plug; ping said: {out[-200:]!r}", file=sys.stderr)
    return first, active


def stream(bed: nat.NatBed, server: str, server_ip: str, seconds: int) -> float:
    """Bits per second of an iperf3 TCP stream from vm1 to `server`."""
    srv = bed.host(server).popen(["timeout", str(seconds + 20), "iperf3", "-s", "-1", "-B", server_ip],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    out = bed.host("vm1").cmd(f"timeout {seconds + 15} iperf3 -c {server_ip} -t {seconds} -J")
    srv.wait(seconds + 25)
    return float(json.loads(out)["end"]["sum_received"]["bits_per_second"])


def flows_per_network(bed: nat.NatBed) -> dict[str, int]:
    out = {}
    for name, n in bed.networks.items():
        seg = bed.admin.get(f"/v1/networks/{n['id']}")["network"]["segment"]["id"]
        out[name] = sum(1 for f in dump_flows("s2") if f.ours and partition_of(f.cookie) == seg and f.table >= 10)
    return out


def restart_with_open_connection(bed: nat.NatBed, seconds: float) -> tuple[int, int, int]:
    """(bytes sent, bytes received, flow-mods the restart sent) of a stream across a SIGKILL restart."""
    chunks = int(seconds * 100)
    server = bed.host("out").popen(["timeout", "120", sys.executable, "-c", nat.STREAM_SERVER, nat.OUTSIDE_IP, "9001",
                                    str(chunks)])
    time.sleep(0.5)
    client = bed.host("vm1").popen(["timeout", "120", sys.executable, "-c", nat.STREAM_CLIENT, nat.OUTSIDE_IP,
                                    "9001"], stdout=subprocess.PIPE, text=True)
    time.sleep(seconds / 3)
    bed.proc.stop(signal.SIGKILL)
    bed.proc.start()
    bed.admin.wait_status([v.port_id for v in bed.vms.values()], timeout=30)
    got, _ = client.communicate(timeout=120)
    server.wait(30)
    mods = sum(int(s["flows"]["flow_mods_sent"]) for s in bed.admin.get("/v1/switches")["switches"])
    return chunks * 10000, int(got.strip() or 0), mods


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plugs", type=int, default=10, help="replugs for plug -> first packet (default 10)")
    ap.add_argument("--seconds", type=int, default=5, help="length of each TCP stream (default 5)")
    args = ap.parse_args(argv)
    if shutil.which("iperf3") is None:
        print("iperf3 is missing: run scripts/setup.sh", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="bench-nat-", dir="/work/tmp-nat" if Path("/work/tmp-nat").is_dir()
                                    else None))
    with nat.running(workdir, API_PORT, OF_PORT) as bed:
        first, active = plug_to_first_packet(bed, args.plugs)
        print(f"plug -> ACTIVE: median {statistics.median(active) * 1000:.0f} ms over {len(active)}")
        if first:
            print(f"plug -> first ping to the outside host answered: median {statistics.median(first) * 1000:.0f} "
                  f"ms over {len(first)} of {args.plugs} (ping every 10 ms)")
        else:
            print("plug -> first ping to the outside host answered: no ping answered after a plug")
        through = stream(bed, "out", nat.OUTSIDE_IP, args.seconds)
        direct = stream(bed, "vm2", bed.vms["vm2"].ip, args.seconds)
        print(f"TCP stream vm1 -> outside host through the NAT: {through / 1e6:.0f} Mbit/s; vm1 -> vm2 without it: "
              f"{direct / 1e6:.0f} Mbit/s; ratio {through / direct:.2f}")
        print(f"flows per NATed network on the gateway (NAT tables): {flows_per_network(bed)}")
        red = bed.client("red")
        red.ok("POST", "/v1/floating-addresses", {"floating_address": {"port_id": bed.vms["vm2"].port_id}})
        time.sleep(2)
        print(f"  with a floating address on one red port: {flows_per_network(bed)}")
        sent, received, mods = restart_with_open_connection(bed, 6.0)
        print(f"SIGKILL restart with an open TCP connection through the NAT: {sent} bytes sent, {received} received "
              f"({sent - received} lost), {mods} flow-mods sent by the restarted sdnapp")
    return 0


if __name__ == "__main__":
    sys.exit(main())
