"""Send crafted Ethernet frames from a test host (scapy): spoofed sources, VLAN tags.

Run inside a host's namespace: `python -m testbeds.craft --iface h1-eth0 --src MAC --dst MAC`.
Each frame carries a marker in its payload so a capture elsewhere can find it.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", default="ff:ff:ff:ff:ff:ff")
    ap.add_argument("--vlan", type=int, default=None)
    ap.add_argument("--marker", default="SDNAPP-PROBE")
    ap.add_argument("--count", type=int, default=5)
    args = ap.parse_args(argv)

    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Dot1Q, Ether
    from scapy.packet import Raw
    from scapy.sendrecv import sendp

    frame = Ether(src=args.src, dst=args.dst)
    if args.vlan is not None:
        frame = frame / Dot1Q(vlan=args.vlan)
    frame = frame / IP(src="10.0.250.1", dst="10.0.250.2") / UDP(sport=4242, dport=4242) / Raw(args.marker.encode())
    sendp(frame, iface=args.iface, count=min(args.count, 100), inter=0.05, verbose=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
