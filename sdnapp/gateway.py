"""The gateway switch's outside (the `nat` extension): its uplink, the next hop's MAC found by ARP, and
ARP answered for the pool's addresses in use.

The flows (flows.nat) send every ARP frame of the uplink to the controller (through the controller
meter). Here: an ARP frame from the next hop's address teaches its MAC (a change has the gateway's
flows recomputed); an ARP request for an outside address a network or a floating address holds is
answered with GATEWAY_MAC, by a packet-out through the uplink. A thread asks for the next hop every
second until it answers, then every `external.arp_refresh` seconds. Packets and answers are built
and parsed with os-ken's packet library; anything malformed is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flows.model import GATEWAY_MAC, Flow, SetField
from flows.nat import TABLE_EGRESS, Gateway
from topology.switches import Topology

from .config import ExternalConfig
from .store import Store

LOG = logging.getLogger(__name__)
ARP_REQUEST, ARP_REPLY = 1, 2
UNRESOLVED_INTERVAL = 1.0


class GatewayAgent:
    def __init__(
        self,
        config: ExternalConfig,
        topology: Topology,
        store: Store,
        packet_out: Callable[[int, int, bytes], None],
        on_change: Callable[[], None],
    ) -> None:
        """`packet_out(dpid, port, frame)` sends a frame; `on_change` hears that the gateway's own flows
        differ (the next hop's MAC)."""
        self.config = config
        self.topology = topology
        self.store = store
        self._packet_out = packet_out
        self._on_change = on_change
        self._lock = threading.Lock()
        self._mac: str | None = None
        self._seen: float | None = None  # when the next hop last spoke (monotonic)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def datapath_id(self) -> int:
        return self.config.datapath_id

    def uplink(self) -> int | None:
        s = self.topology.switch(self.config.datapath_id)
        port = s.port_by_name(self.config.uplink_port) if s is not None else None
        return port.port_no if port is not None else None

    def next_hop_mac(self) -> str | None:
        with self._lock:
            return self._mac

    def seed(self, held: list[Flow]) -> None:
        """What the gateway switch holds, read back as it connects: until ARP answers (again), the next
        hop's MAC is the one its way out already uses, so a restart changes nothing on the switch."""
        with self._lock:
            if self._mac is not None:
                return
            for f in held:
                if f.table == TABLE_EGRESS:
                    found = [a.value for a in f.actions if isinstance(a, SetField) and a.name == "eth_dst"]
                    if found and isinstance(found[0], str):
                        self._mac = found[0]
                        LOG.info("next hop %s taken as %s, as the gateway's flows have it", self.config.next_hop,
                                 self._mac)

    def view(self, meter: int | None = None) -> Gateway:
        return Gateway(self.config.datapath_id, self.uplink(), self.config.next_hop, self.next_hop_mac(), meter)

    # ARP ------------------------------------------------------------------
    def on_packet(self, dpid: int, in_port: int, data: bytes) -> bool:
        """A packet-in; True if it was the uplink's ARP (handled here)."""
        if dpid != self.config.datapath_id or in_port != self.uplink():
            return False
        arp = _parse_arp(data)
        if arp is None:
            return False
        if arp.src_ip == self.config.next_hop and arp.src_mac != GATEWAY_MAC:
            self._learn(arp.src_mac.lower())
        if arp.opcode == ARP_REQUEST and self._holds(arp.dst_ip):
            self._send(in_port, _arp_frame(ARP_REPLY, GATEWAY_MAC, arp.dst_ip, arp.src_mac, arp.src_ip))
        return True

    def _learn(self, mac: str) -> None:
        with self._lock:
            changed = mac != self._mac
            self._mac, self._seen = mac, time.monotonic()
        if changed:
            LOG.info("next hop %s is at %s", self.config.next_hop, mac)
            self._on_change()

    def _holds(self, address: str) -> bool:
        with self.store.read() as tx:
            return address in tx.external_taken()

    def _send(self, port: int, frame: bytes) -> None:
        try:
            self._packet_out(self.config.datapath_id, port, frame)
        except Exception as e:  # the switch went away meanwhile: the next round asks again
            LOG.debug("gateway packet-out failed: %s", e)

    def ask(self) -> bool:
        """Send an ARP request for the next hop through the uplink; False while there is no uplink."""
        port = self.uplink()
        s = self.topology.switch(self.config.datapath_id)
        if port is None or s is None or not s.connected:
            return False
        self._send(port, _arp_frame(ARP_REQUEST, GATEWAY_MAC, self.config.pool[0], "00:00:00:00:00:00",
                                    self.config.next_hop, eth_dst="ff:ff:ff:ff:ff:ff"))
        return True

    # the refresh thread ---------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gateway-arp", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.ask()
            self._stop.wait(UNRESOLVED_INTERVAL if self.next_hop_mac() is None else self.config.arp_refresh)

    # GET /v1/switches -------------------------------------------------------
    def report(self) -> dict[str, object]:
        uplink = self.uplink()
        mac = self.next_hop_mac()
        with self._lock:
            seen = self._seen
        problem = None
        if uplink is None:
            problem = f"the gateway switch has no port named {self.config.uplink_port}"
        elif mac is None:
            problem = f"the next hop {self.config.next_hop} has not answered ARP"
        return {
            "uplink_port": self.config.uplink_port,
            "uplink_port_no": uplink,
            "next_hop": self.config.next_hop,
            "next_hop_mac": mac,
            "next_hop_seen_ago": None if seen is None else round(time.monotonic() - seen, 1),
            "ok": problem is None,
            "problem": problem,
        }


def _parse_arp(data: bytes) -> Any:
    """The ARP header of an Ethernet frame, or None (not ARP, malformed)."""
    from os_ken.lib.packet import arp, packet

    try:
        pkt = packet.Packet(data)
        found = pkt.get_protocol(arp.arp)
    except Exception:  # anything the parser raises on a hostile frame
        return None
    if found is None or found.opcode not in (ARP_REQUEST, ARP_REPLY):
        return None
    return found


def _arp_frame(opcode: int, src_mac: str, src_ip: str, dst_mac: str, dst_ip: str, eth_dst: str | None = None) -> bytes:
    """An ARP request or reply from the gateway, as an Ethernet frame."""
    from os_ken.lib.packet import arp, ether_types, ethernet, packet

    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(eth_dst or dst_mac, src_mac, ether_types.ETH_TYPE_ARP))
    pkt.add_protocol(arp.arp(opcode=opcode, src_mac=src_mac, src_ip=src_ip, dst_mac=dst_mac, dst_ip=dst_ip))
    pkt.serialize()
    return bytes(pkt.data)
