"""Benchmark: time from a plug request to the port being ACTIVE, on the Mininet demo topology.

Run as root after scripts/setup.sh: `python -m testbeds.bench_plug --plugs 100`.
It starts its own sdnapp and Mininet (on ports 29696/26653), prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from . import single_switch as ss
from .client import Client
from .ovs import dump_flows
from .process import SdnappProcess


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plugs", type=int, default=100)
    args = ap.parse_args(argv)
    if not 1 <= args.plugs <= 10000:
        ap.error("--plugs must be 1..10000")

    with tempfile.TemporaryDirectory() as tmp:
        proc = SdnappProcess(Path(tmp), api_port=29696, of_ports=(26653,), extra={"logging": {"level": "WARNING"}})
        proc.start()
        net = None
        try:
            net = ss.build_net(of_port=26653)
            sc = ss.provision(proc.url)
            admin = Client(proc.url, "ops", admin=True)
            admin.wait_status([h.port_id for h in sc.hosts.values()], "ACTIVE")
            red = Client(proc.url, "red")
            h2 = sc.hosts["h2"]
            lat: list[float] = []
            for _ in range(args.plugs):
                red.unplug(h2.vnic_id)
                time.sleep(0.02)  # let the unplug's reconciliation finish first
                t0 = time.perf_counter()
                red.plug(h2.port_id, h2.vnic_id)
                while red.port(h2.port_id)["status"] != "ACTIVE":
                    if time.perf_counter() - t0 > 10:
                        raise TimeoutError("port not ACTIVE after 10 s")
                lat.append((time.perf_counter() - t0) * 1000)
            flows = [f for f in dump_flows("s1") if f.ours]
            print(f"plug -> ACTIVE over {len(lat)} plugs (ms, includes REST round trips and polling):")
            print(f"  median {statistics.median(lat):.2f}  p90 {_pct(lat, 90):.2f}  "
                  f"p99 {_pct(lat, 99):.2f}  min {min(lat):.2f}  max {max(lat):.2f}")
            ports = len(sc.hosts)
            nets = len(ss.LAYOUT)
            print(f"flows on s1: {len(flows)} of ours for {ports} ports in {nets} networks "
                  f"= 2 per port + 1 flood per network + 2 table-miss drops")
        finally:
            if net is not None:
                net.stop()
            proc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
