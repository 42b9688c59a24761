"""Benchmark: time from a plug request to the port being ACTIVE, on the Mininet demo topology.

Run as root after scripts/setup.sh: `python -m testbeds.bench_plug --plugs 100`.
It starts its own sdnapp and Mininet (on ports 29696/26653), prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time

from . import single_switch as ss
from .client import Client
from .ovs import dump_flows
from .stats import summary_ms


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plugs", type=int, default=100)
    args = ap.parse_args(argv)
    if not 1 <= args.plugs <= 10000:
        ap.error("--plugs must be 1..10000")

    with ss.running(29696, 26653, log_level="WARNING") as (proc, _, sc):
        red = Client(proc.url, "red")
        h2 = sc.hosts["h2"]
        took: list[float] = []
        for _ in range(args.plugs):
            red.unplug(h2.vnic_id)
            time.sleep(0.02)  # let the unplug's reconciliation finish first
            t0 = time.perf_counter()
            red.plug(h2.port_id, h2.vnic_id)
            while red.port(h2.port_id)["status"] != "ACTIVE":
                if time.perf_counter() - t0 > 10:
                    raise TimeoutError("port not ACTIVE after 10 s")
            took.append(time.perf_counter() - t0)
        flows = [f for f in dump_flows("s1") if f.ours]
        print(f"plug -> ACTIVE (includes REST round trips and polling): {summary_ms(took, 2)}")
        print(f"flows on s1: {len(flows)} of ours for {len(sc.hosts)} ports in {len(ss.LAYOUT)} networks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
