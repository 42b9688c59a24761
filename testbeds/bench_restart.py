"""Restart trials: sdnapp stopped (SIGTERM) or killed (SIGKILL) and started again, under a ping.

Run as root after scripts/setup.sh: `python -m testbeds.bench_restart --trials 10`. For each kind
and trial: a 20 ms ping runs between two hosts of one network across the stop and the start; the
figures are pings lost, flow-mods sent on reconnect, and time until every port is ACTIVE again.
Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import time

from . import single_switch as ss
from .client import Client


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=10)
    args = ap.parse_args(argv)
    if not 1 <= args.trials <= 200:
        ap.error("--trials must be 1..200")
    with ss.running(29698, 26655) as (proc, net, sc):
        admin = Client(proc.url, "ops", admin=True)
        ports = [h.port_id for h in sc.hosts.values()]
        for name, sig in (("SIGTERM", signal.SIGTERM), ("SIGKILL", signal.SIGKILL)):
            lost = mods = sent_total = 0
            back: list[float] = []
            for _ in range(args.trials):
                p = net.get("h1").popen(["ping", "-n", "-i", "0.02", "-c", "150", "-W", "1", sc.hosts["h2"].ip],
                                        stdout=subprocess.PIPE, text=True)
                time.sleep(0.3)
                mark = len(proc.log())
                t0 = time.monotonic()
                proc.stop(sig)
                proc.start()
                admin.wait_status(ports)
                back.append(time.monotonic() - t0)
                out, _ = p.communicate(timeout=30)
                m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
                if m:
                    sent_total += int(m.group(1))
                    lost += int(m.group(1)) - int(m.group(2))
                for f in re.finditer(r": \+(\d+) ~(\d+) -(\d+) flows", proc.log()[mark:]):
                    mods += sum(int(x) for x in f.groups())
            back.sort()
            print(f"{name}: {args.trials} restarts, {lost} of {sent_total} pings lost, {mods} flow-mods sent; "
                  f"every port ACTIVE again after median {back[len(back) // 2]:.2f}s (max {back[-1]:.2f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
