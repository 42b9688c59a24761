"""Benchmark: DHCP DISCOVER -> ACK as the VM sees it, answered by sdnapp through a real OVS switch.

Run as root after scripts/setup.sh: `python -m testbeds.bench_dhcp --exchanges 50`.
It starts its own sdnapp and the Mininet demo topology (ports 19700/16700 unless told), has host h1
run whole DISCOVER/OFFER/REQUEST/ACK exchanges on a raw socket (testbeds.dhcp_client, timed from
sending the DISCOVER to receiving the ACK), prints the figures, asserts nothing. The exchanges are
spaced (--gap) so that the switch's DHCP meter (50 a second) never drops one.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import single_switch as ss


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--exchanges", type=int, default=50)
    ap.add_argument("--gap", type=float, default=0.05, help="seconds between exchanges")
    ap.add_argument("--api-port", type=int, default=19700)
    ap.add_argument("--of-port", type=int, default=16700)
    args = ap.parse_args(argv)
    with ss.running(args.api_port, args.of_port, log_level="WARNING") as (_, net, sc):
        h1 = net.get("h1")
        out = h1.cmd(f"{sys.executable} -m testbeds.dhcp_client --iface {h1.defaultIntf()} "
                     f"--count {args.exchanges} --gap {args.gap}")
        line = out.strip().splitlines()[-1] if out.strip() else ""
        try:
            got = json.loads(line)
        except ValueError:
            print(f"the client printed no figures:\n{out}")
            return 1
    print(f"DHCP DISCOVER -> ACK as h1 sees it (port {sc.hosts['h1'].ip}), {got['count']} exchanges, "
          f"{got['lost']} lost: median {got['median_ms']:.2f} ms, p90 {got['p90_ms']:.2f} ms, "
          f"min {got['min_ms']:.2f} ms, max {got['max_ms']:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
