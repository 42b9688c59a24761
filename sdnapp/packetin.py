"""Packets the switches send to the controller, each to the handler that claims it.

The os-ken glue decodes a packet-in as far as (switch, port it came in on, frame) and calls
`dispatch`; every kind of packet the pipeline punts (LLDP for discovery, DHCP for sdnapp's DHCP,
whatever an extension adds) is one `add`: a cheap test on the frame's bytes and a handler. A
handler runs in os-ken's event thread, so it must be quick; the meters in the pipeline bound how
often it runs. Whatever a handler raises is logged and the packet dropped: a frame from a switch
is outside input, and must never stop the application.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .metrics import NO_METRICS, Metrics

LOG = logging.getLogger(__name__)

Claims = Callable[[bytes], bool]
Handler = Callable[[int, int, bytes], object]  # (datapath id, in_port, frame); what it returns is ignored


class PacketIns:
    def __init__(self, metrics: Metrics = NO_METRICS) -> None:
        self.metrics = metrics
        self._handlers: list[tuple[str, Claims, Handler]] = []

    def add(self, kind: str, claims: Claims, handle: Handler) -> None:
        """Give frames that `claims` to `handle`; `kind` names them in the packet-in counter. The first
        handler added that claims a frame gets it."""
        self._handlers.append((kind, claims, handle))

    def dispatch(self, dpid: int, in_port: int, data: bytes, reason: str = "action") -> str:
        """Hand one frame to its handler; the kind it was counted as ("other": nobody claimed it)."""
        for kind, claims, handle in self._handlers:
            if claims(data):
                self.metrics.packet_in(reason, kind)
                try:
                    handle(dpid, in_port, data)
                except Exception:
                    LOG.exception("handling a %s packet from switch %016x port %d failed; dropped", kind, dpid,
                                  in_port)
                return kind
        self.metrics.packet_in(reason, "other")
        return "other"


def is_lldp(data: bytes) -> bool:
    return len(data) >= 14 and data[12:14] == b"\x88\xcc"


def is_arp(data: bytes) -> bool:
    """An untagged ARP frame (the gateway's uplink: its next hop, and requests for the pool's addresses)."""
    return len(data) >= 14 and data[12:14] == b"\x08\x06"
