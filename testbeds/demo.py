"""The demo: sdnapp, one Mininet switch, six hosts, two tenants with two networks each; then NATed
networks (testbeds/nat.py): two tenants with the same 10.0.0.0/24, DHCP leases, a ping and an HTTP
fetch to an outside host that sees each tenant as its own external address, and a floating address
reached from outside.

Run as root: `python -m testbeds.demo` (the README's first command does the setup).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import nat
from . import single_switch as ss
from .client import Client
from .process import SdnappProcess


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", default="sdnapp-demo", help="where the demo keeps its store and log")
    ap.add_argument("--keep", action="store_true", help="keep everything running until Ctrl-C")
    ap.add_argument("--no-nat", action="store_true", help="leave out the NAT part")
    ap.add_argument("--api-port", type=int, default=9696, help="sdnapp's REST API port (default 9696)")
    ap.add_argument("--of-port", type=int, default=0, help="one OpenFlow port instead of 6653 and 6633")
    args = ap.parse_args(argv)
    code = isolation_demo(args)
    if code == 0 and not args.no_nat:
        code = nat_demo(Path(args.workdir).resolve() / "nat", args.api_port, args.of_port or 6653)
    return code


def isolation_demo(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir).resolve()
    shutil.rmtree(workdir, ignore_errors=True)  # a fresh Mininet needs fresh state
    of_ports = (args.of_port,) if args.of_port else (6653, 6633)
    proc = SdnappProcess(workdir, api_port=args.api_port, of_ports=of_ports)
    print(f"starting sdnapp (REST API {proc.url}, OpenFlow {'/'.join(map(str, of_ports))}, "
          f"store {workdir}/sdnapp.db)")
    proc.start()
    net = None
    try:
        net = ss.build_net(of_port=of_ports[0])
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


def nat_demo(workdir: Path, api_port: int, of_port: int) -> int:
    print("\nNATed networks: a gateway switch (s2) with an uplink to an outside host (203.0.113.1)")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    with nat.running(workdir, api_port=api_port, of_port=of_port) as bed:
        for name, n in bed.networks.items():
            print(f"  {name}: {n['address_prefix']}, gateway {n['gateway_ip']}, external address "
                  f"{n['external_address']}")
        for v in bed.vms.values():
            lease = v.lease
            print(f"  {v.name} ({v.network}) DHCP lease: {lease.get('ip')}/{lease.get('mask')} router "
                  f"{lease.get('router')} dns {lease.get('dns', '-')} lease {lease.get('lease')} s "
                  f"mtu {lease.get('mtu')}")
        out = bed.host("vm1").cmd(f"ping -c 2 -W 2 {nat.OUTSIDE_IP}")
        print(f"  vm1 pings the outside host: {'ok' if ' 0% packet loss' in out else 'FAILED'}")
        url = f"http://{nat.OUTSIDE_IP}:{nat.HTTP_PORT}/"
        for vm in ("vm1", "vm3"):
            status = nat.fetch(bed.host(vm), url)
            time.sleep(0.3)
            seen = (workdir / "http-out.log").read_text().strip().splitlines()[-1].split(" ")[0]
            print(f"  {vm} fetches {url}: HTTP {status}; the outside host saw it come from {seen}")
        fa = bed.client("red").ok("POST", "/v1/floating-addresses",
                                  {"floating_address": {"port_id": bed.vms["vm2"].port_id}})["floating_address"]
        server = bed.host("vm2").popen(["timeout", "60", sys.executable, "-m", "http.server", "8080"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            nat.wait_http(bed.host("vm2"), f"http://{bed.vms['vm2'].ip}:8080/")
            time.sleep(1)
            status = nat.fetch(bed.host("out"), f"http://{fa['address']}:8080/")
            print(f"  floating address {fa['address']} -> vm2 ({fa['fixed_address']}): the outside host fetches "
                  f"http://{fa['address']}:8080/: HTTP {status}")
        finally:
            server.terminate()
            server.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
