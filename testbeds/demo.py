"""The demo: sdnapp, one Mininet switch, six hosts, two tenants with two networks each.

Run as root: `python -m testbeds.demo` (the README's first command does the setup).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from . import single_switch as ss
from .client import Client
from .process import SdnappProcess


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", default="sdnapp-demo", help="where the demo keeps its store and log")
    ap.add_argument("--keep", action="store_true", help="keep everything running until Ctrl-C")
    args = ap.parse_args(argv)

    workdir = Path(args.workdir).resolve()
    shutil.rmtree(workdir, ignore_errors=True)  # a fresh Mininet needs fresh state
    proc = SdnappProcess(workdir)
    print(f"starting sdnapp (REST API {proc.url}, OpenFlow 6653/6633, store {workdir}/sdnapp.db)")
    proc.start()
    net = None
    try:
        net = ss.build_net(of_port=6653)
        t0 = time.monotonic()
        sc = ss.provision(proc.url)
        ports = [h.port_id for h in sc.hosts.values()]
        took = Client(proc.url, "ops", admin=True).wait_status(ports, "ACTIVE", timeout=30)
        print(f"created 2 tenants, 4 networks, 6 ports over REST; all ACTIVE {time.monotonic() - t0:.2f}s "
              f"after the first call ({took:.2f}s of polling)")
        ss.configure_hosts(net, sc)
        for name, hp in sorted(sc.hosts.items()):
            print(f"  {name}: {hp.tenant}/{hp.network} mac {hp.mac} ip {hp.ip}/{ss.PREFIX_LEN} port {hp.port_id}")
        m = ss.ping_matrix(net, sc)
        print("\nping matrix (ok = reached, x = no reply):")
        print(ss.format_matrix(sc, m))
        wrong = ss.matrix_holds(sc, m)
        if wrong:
            print("\nISOLATION OR DELIVERY BROKEN:\n  " + "\n  ".join(wrong))
            return 1
        print("\nhosts reach exactly the hosts of their own network.")
        if args.keep:
            print(f"\nrunning; try: curl -H 'X-Project-Id: red' {proc.url}/v1/networks   (Ctrl-C to stop)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return 0
    finally:
        if net is not None:
            net.stop()
        proc.stop()


if __name__ == "__main__":
    sys.exit(main())
