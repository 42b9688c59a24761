"""Flood frames that a switch would send to the controller (LLDP, or DHCP with --dhcp), from a test host. Bounded.

Run inside a host's namespace: `python -m testbeds.flood --iface h1-eth0 --count 20000 --seconds 5`.
Every tenth frame is garbage after the Ethernet header (LLDP), or a DHCP DISCOVER cut short (DHCP,
from the interface's own MAC, which the switch sends to the controller), so the controller also
meets malformed ones.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time

LLDP_DST = bytes.fromhex("0180c200000e")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--src", default="02:00:00:00:00:99")
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=int, default=20000, help="frames per second at most")
    ap.add_argument("--dhcp", action="store_true", help="DHCP DISCOVERs from the interface's own MAC")
    args = ap.parse_args(argv)
    count = max(0, min(args.count, 1_000_000))
    limit = max(0.1, min(args.seconds, 60.0))

    if args.dhcp:
        good = _discover(open(f"/sys/class/net/{args.iface}/address").read().strip())
        bad = good[:len(good) // 2]
    else:
        src = bytes.fromhex(args.src.replace(":", ""))
        good = LLDP_DST + src + b"\x88\xcc" + b"\x02\x07\x07dpid:00" + b"\x00" * 40
        bad = LLDP_DST + src + b"\x88\xcc" + os.urandom(50)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((args.iface, 0))
    sent = 0
    start = time.monotonic()
    while sent < count and time.monotonic() - start < limit:
        frame = good if sent % 10 else bad
        try:
            s.send(frame)
        except OSError:
            time.sleep(0.001)  # the interface's queue is full
            continue
        sent += 1
        ahead = sent / max(1, args.rate) - (time.monotonic() - start)
        if ahead > 0.001:
            time.sleep(ahead)
    took = time.monotonic() - start
    print(f"sent {sent} frames in {took:.2f}s ({sent / took:.0f}/s)")
    return 0


def _discover(mac: str) -> bytes:
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    return bytes(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
                 / UDP(sport=68, dport=67) / BOOTP(op=1, chaddr=bytes.fromhex(mac.replace(":", "")), xid=7)
                 / DHCP(options=[("message-type", "discover"), "end"]))


if __name__ == "__main__":
    sys.exit(main())
