"""Send crafted frames from a test host (scapy): spoofed sources, VLAN tags, ARP, DHCP.

Run inside a host's namespace: `python -m testbeds.craft --iface h1-eth0 --src MAC --dst MAC [...]`.
Each frame carries a marker so a capture elsewhere can find it: UDP port 4242 with the marker as
payload, or for `--arp` an ARP request for 10.0.250.250, or for `--dhcp` UDP 67/68.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--src", required=True, help="source MAC")
    ap.add_argument("--dst", default="ff:ff:ff:ff:ff:ff")
    ap.add_argument("--vlan", type=int, default=None)
    ap.add_argument("--ip-src", default="10.0.250.1")
    ap.add_argument("--ip-dst", default="10.0.250.2")
    ap.add_argument("--arp", action="store_true", help="an ARP request (sender: --ip-src, --arp-sha)")
    ap.add_argument("--arp-sha", default=None, help="ARP sender hardware address (default: --src)")
    ap.add_argument("--dhcp", choices=["discover", "offer"], default=None)
    ap.add_argument("--marker", default="SDNAPP-PROBE")
    ap.add_argument("--count", type=int, default=5)
    args = ap.parse_args(argv)

    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import ARP, Dot1Q, Ether
    from scapy.packet import Packet, Raw
    from scapy.sendrecv import sendp

    frame: Packet = Ether(src=args.src, dst=args.dst)
    if args.vlan is not None:
        frame = frame / Dot1Q(vlan=args.vlan)
    if args.arp:
        frame = frame / ARP(op=1, hwsrc=args.arp_sha or args.src, psrc=args.ip_src, pdst="10.0.250.250")
    elif args.dhcp == "discover":
        chaddr = bytes.fromhex(args.src.replace(":", ""))
        frame = (frame / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
                 / BOOTP(chaddr=chaddr) / DHCP(options=[("message-type", "discover"), "end"]))
    elif args.dhcp == "offer":
        frame = (frame / IP(src=args.ip_src, dst="255.255.255.255") / UDP(sport=67, dport=68)
                 / BOOTP(op=2, yiaddr="10.0.250.9") / DHCP(options=[("message-type", "offer"), "end"]))
    else:
        frame = frame / IP(src=args.ip_src, dst=args.ip_dst) / UDP(sport=4242, dport=4242) / Raw(args.marker.encode())
    sendp(frame, iface=args.iface, count=min(args.count, 100), inter=0.05, verbose=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
