"""A VM's side of DHCP: a lease with a standard client (busybox udhcpc), and timed exchanges.

`udhcpc_lease(run, iface, workdir)` runs udhcpc on a test host's interface (through `run`, which
runs a command in the host's namespace and gives its output) with a script that configures what
the lease says (address, mask, MTU, default route) and writes it down; it returns the lease as
udhcpc's script saw it (ip, mask, router, dns, mtu, lease, serverid, ...).

Run inside a host's namespace, this module times DISCOVER -> OFFER, REQUEST -> ACK exchanges as the
VM sees them (from sending the DISCOVER to receiving the ACK, on a raw socket):
`python -m testbeds.dhcp_client --iface h1-eth0 --count 50` prints one JSON line of the times.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

UDHCPC = "udhcpc"
_SCRIPT = """#!/bin/sh
# Called by udhcpc with deconfig, bound, renew, leasefail or nak; its options are in the environment.
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
    env | grep -E '^(ip|mask|subnet|router|dns|lease|serverid|mtu|broadcast|staticroutes)=' \\
      > "$(dirname "$0")/lease-$interface"
    ;;
esac
exit 0
"""


def udhcpc_lease(run: Callable[[str], str], iface: str, workdir: Path, tries: int = 5) -> dict[str, str]:
    """Obtain a lease on `iface` with udhcpc; {} if none came. `workdir` must be visible to the host."""
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "udhcpc.script"
    script.write_text(_SCRIPT)
    script.chmod(0o755)
    out_file = workdir / f"lease-{iface}"
    out_file.unlink(missing_ok=True)
    # -q: quit once bound; -n: give up when no lease comes; -O: ask for the MTU and static routes too.
    out = run(f"{UDHCPC} -i {iface} -s {script} -q -n -f -t {tries} -T 1 -A 1 -O mtu -O staticroutes 2>&1")
    if not out_file.exists():
        return {"output": out}
    lease = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line)
    return lease | {"output": out}


# -- timed exchanges, as the VM sees them ------------------------------------------------------------------------


def _exchange(s: socket.socket, mac: str, xid: int, timeout: float) -> float | None:
    """One DISCOVER/OFFER/REQUEST/ACK; seconds from sending the DISCOVER to the ACK, None on a timeout."""
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    hw = bytes.fromhex(mac.replace(":", ""))

    def frame(kind: str, *opts: tuple[str, str]) -> bytes:
        return bytes(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
                     / UDP(sport=68, dport=67) / BOOTP(op=1, chaddr=hw, xid=xid)
                     / DHCP(options=[("message-type", kind), *opts, "end"]))

    def wait_for(kind: int, deadline: float) -> Ether | None:
        while (left := deadline - time.perf_counter()) > 0:
            s.settimeout(left)
            try:
                data = s.recv(2048)
            except TimeoutError:
                return None
            if len(data) < 282 or data[12:14] != b"\x08\x00" or data[36:38] != b"\x00\x44":
                continue  # not IPv4 UDP to port 68 (no IP options in an answer)
            f = Ether(data)
            if BOOTP in f and f[BOOTP].xid == xid and DHCP in f and ("message-type", kind) in f[DHCP].options:
                return f
        return None

    t0 = time.perf_counter()
    s.send(frame("discover"))
    offer = wait_for(2, t0 + timeout)
    if offer is None:
        return None
    s.send(frame("request", ("server_id", offer[IP].src), ("requested_addr", offer[BOOTP].yiaddr)))
    ack = wait_for(5, t0 + timeout)
    return None if ack is None else time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--gap", type=float, default=0.05, help="seconds between exchanges (the switch meters DHCP)")
    args = ap.parse_args(argv)
    mac = Path(f"/sys/class/net/{args.iface}/address").read_text().strip()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((args.iface, 0))
    times: list[float] = []
    lost = 0
    for _ in range(max(1, min(args.count, 10_000))):
        took = _exchange(s, mac, random.getrandbits(32), args.timeout)
        if took is None:
            lost += 1
        else:
            times.append(took * 1000)
        time.sleep(args.gap)
    print(json.dumps({
        "count": len(times), "lost": lost,
        "median_ms": statistics.median(times) if times else None,
        "p90_ms": statistics.quantiles(times, n=10)[-1] if len(times) >= 10 else None,
        "min_ms": min(times, default=None), "max_ms": max(times, default=None),
    }))
    return 0 if times else 1


if __name__ == "__main__":
    sys.exit(main())
