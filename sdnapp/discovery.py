"""Link discovery: LLDP out of every switch port, links from what comes back in.

A thread sends the frames every `interval` seconds and forgets links not seen
for `timeout` seconds while both their switches are connected; packet-ins of
LLDP arrive from the os-ken event thread.
Whenever the links in use change, the reconciler recomputes the fabric.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable

from topology import lldp
from topology.fabric import LinkEnd
from topology.switches import Topology

from .reconciler import Reconciler, SwitchGone

LOG = logging.getLogger(__name__)

Sender = Callable[[int, int, bytes], None]
IsAccessPort = Callable[[int, int, str | None], bool]  # (datapath id, port number, port name if known)


class Discovery:
    def __init__(
        self,
        topology: Topology,
        reconciler: Reconciler,
        send: Sender,
        is_access_port: IsAccessPort,
        interval: float = 1.0,
    ) -> None:
        self.topology = topology
        self.reconciler = reconciler
        self.send = send
        self.is_access_port = is_access_port
        self.interval = interval
        self.timeout = interval * 3.5
        self._key = secrets.token_bytes(32)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="discovery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.probe_all()
                gone = self.topology.expire_links(time.monotonic(), self.timeout)
                for link in gone:
                    LOG.warning("link %s lost (no LLDP for %.1fs)", link, self.timeout)
                if gone:
                    self.reconciler.on_links_changed()
            except Exception:
                LOG.exception("link discovery round failed")

    def probe_all(self) -> None:
        for s in self.topology.switches():
            if not s.connected:
                continue
            for p in s.ports.values():
                if not p.up:
                    continue
                try:
                    self.send(s.datapath_id, p.port_no, lldp.encode(self._key, s.datapath_id, p.port_no))
                except SwitchGone:
                    break

    def on_lldp(self, dpid: int, in_port: int, frame: bytes) -> None:
        """An LLDP frame arrived at (dpid, in_port)."""
        sender = lldp.decode(self._key, frame)
        if sender is None:
            return
        src, dst = LinkEnd(*sender), LinkEnd(dpid, in_port)
        if src.datapath_id == dst.datapath_id and src.port_no == dst.port_no:
            return
        # A port where a VNIC is bound is an access port: a link through it
        # would run every network's traffic through a tenant's host. A port the
        # topology does not know yet (its switch's port list is still being read)
        # cannot be checked by name: wait for the next probe rather than guess.
        for end in (src, dst):
            sw = self.topology.switch(end.datapath_id)
            port = sw.ports.get(end.port_no) if sw else None
            if port is None:
                LOG.debug("LLDP %s -> %s: port %s not known yet", src, dst, end)
                return
            if self.is_access_port(end.datapath_id, end.port_no, port.name):
                LOG.warning("ignored LLDP %s -> %s: %s is an access port", src, dst, end)
                return
        if self.topology.link_seen(src, dst, time.monotonic()):
            LOG.info("link %s <-> %s discovered", src, dst)
            self.reconciler.on_links_changed()
