"""The topology remembered across restarts: restored from the store at start, its changes written back.

A restarted controller that forgot the fabric would compute each switch's flows
from the switches that happened to reconnect first and the links it had
rediscovered so far, replace the fabric's flows, and put them back a moment later
(issue 17). Starting from what it knew, held until the switches are back, every
switch's first job finds nothing to change.

The switches' port lists and the discovered links are written by a thread that
coalesces changes: the topology is a cache of what the switches say (they tell
it again on connect), so losing its last fraction of a second to a crash costs
nothing but a few flows recomputed. The same thread takes out of the fabric the
disconnected switches held past their time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from topology.switches import Topology

from .store import Store, retried
from .validate import format_dpid

LOG = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.2  # seconds between writes of the topology's changes


class RememberedTopology:
    def __init__(self, store: Store, topology: Topology, on_fabric_change: Callable[[], None]) -> None:
        self.store = store
        self.topology = topology
        self.on_fabric_change = on_fabric_change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def restore(self) -> None:
        """Put what the store remembers into the topology (before any switch connects)."""
        with self.store.read() as tx:
            switches, links = tx.remembered_switches(), tx.remembered_links()
        self.topology.restore(switches, links, time.monotonic())
        if switches:
            LOG.info("remembered %d switches and %d links; holding them for %.0fs until they reconnect",
                     len(switches), len(links), self.topology.hold_time)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="topology-store", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.tick()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL):
            try:
                self.tick()
            except Exception:
                LOG.exception("remembering the topology failed; trying again")

    @retried
    def tick(self) -> None:
        """Release switches held past their time, then write what changed."""
        released = self.topology.release_held(time.monotonic())
        for dpid in released:
            LOG.warning("switch %s stayed away for %.0fs: taken out of the fabric", format_dpid(dpid),
                        self.topology.hold_time)
        if released:
            self.on_fabric_change()
        changes = self.topology.take_changes()
        if changes is None:
            return
        with self.store.write(announce=False) as tx:
            for dpid, ports in changes.ports.items():
                tx.remember_ports(dpid, ports)
            if changes.links is not None:
                tx.remember_links(changes.links)
