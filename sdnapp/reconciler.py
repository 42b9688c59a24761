"""Reconciliation: make each switch hold the desired flows, sending only the difference.

Work arrives as "switch D connected" (read everything it holds, then diff it
all) or "segments S changed" (diff only those partitions). One worker thread
drains it, switch by switch, coalescing what piled up meanwhile. The flows a
switch holds are cached per cookie partition (like ovn-controller's installed
flow table), so an API change reads nothing back from the switch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from flows.diff import FlowDiff, diff
from flows.driver import Context, Driver, TunnelEnd
from flows.installed import InstalledTable
from flows.model import Flow
from flows.pipeline import BASE_PARTITION, CONTROLLER_METER, base_flows, partition_of
from flows.state import Member
from flows.vlan import VlanDriver
from topology.switches import SwitchPort, Topology

from .service import NetworkService
from .status import StatusBook

LOG = logging.getLogger(__name__)

FULL = -1  # a work item meaning "read the switch back, then everything on it"
ALL = -2  # "every network on this switch" (the fabric changed), from the cache


class SwitchGone(Exception):
    """The switch disconnected (or stopped answering) in the middle of a job."""


class Channel(Protocol):
    """What the reconciler needs from a switch connection."""

    def port_desc(self, dpid: int) -> list[SwitchPort]: ...

    def read_flows(self, dpid: int) -> list[Flow]: ...

    def ensure_controller_meter(self, dpid: int, meter_id: int, rate_pps: int, burst: int) -> bool:
        """Set up the meter that limits packets to the controller; False where the switch has none."""
        ...

    def send(self, dpid: int, diff: FlowDiff) -> list[Flow]:
        """Send the difference and a barrier; return the flows the switch rejected."""
        ...


@dataclass
class SwitchStats:
    """What reconciliation did to one switch, for GET /v1/switches."""

    flow_mods: int = 0
    rejected: int = 0
    last_read_back: float | None = None  # when its flows were last read (connect, restart)


class Reconciler:
    def __init__(
        self,
        service: NetworkService,
        topology: Topology,
        status: StatusBook,
        channel: Channel,
        driver: Driver | None = None,
        lldp: bool = False,
        tunnels: Callable[[], Mapping[int, TunnelEnd]] = dict,
    ) -> None:
        self.svc = service
        self.topology = topology
        self.status = status
        self.channel = channel
        self.driver: Driver = driver or VlanDriver()
        self.lldp = lldp
        self.controller_rate_pps = 100  # LLDP needs a few per port per second
        self._metered: dict[int, bool] = {}
        self.tunnels = tunnels
        self.stats: dict[int, SwitchStats] = {}
        self.retry_delay = 2.0
        self._installed: dict[int, InstalledTable] = {}
        self._pending: dict[int, set[int]] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    # scheduling (any thread) ---------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="reconciler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def switch_connected(self, dpid: int) -> None:
        self._schedule(dpid, {FULL})

    def switch_disconnected(self, dpid: int) -> None:
        with self._cond:
            self._pending.pop(dpid, None)
            self._installed.pop(dpid, None)
        _, ports = self.svc.ports_bound_on(dpid)
        self.status.touch(ports)

    def port_changed(self, dpid: int, port: SwitchPort) -> None:
        segs, ports = self.svc.ports_bound_on(dpid, port)
        self.status.touch(ports)
        if segs:
            # The ports' new generation must be confirmed by every switch their
            # networks span, not only by this one.
            self.segments_changed(segs)

    def topology_changed(self, exclude: int | None = None) -> None:
        """Links or connected switches may have changed: if the fabric did, every switch is recomputed."""
        if self.topology.take_fabric_change():
            for dpid in self.topology.connected():
                if dpid != exclude:
                    self._schedule(dpid, {ALL})

    def segments_changed(self, segments: set[int]) -> None:
        for dpid in self.topology.connected():
            self._schedule(dpid, segments)

    def _retry_later(self, dpid: int) -> None:
        t = threading.Timer(self.retry_delay, self._schedule, (dpid, {FULL}))
        t.daemon = True
        t.start()

    def _schedule(self, dpid: int, work: set[int]) -> None:
        with self._cond:
            self._pending.setdefault(dpid, set()).update(work)
            self._cond.notify_all()

    def idle(self, timeout: float) -> bool:
        """Wait until nothing is pending or running (for tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # the worker -------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                dpid = next(iter(self._pending))
                work = self._pending.pop(dpid)
                self._busy = True
            try:
                self.run_job(dpid, work)
            except SwitchGone as e:
                # What the switch applied is unknown now: forget the cache so the
                # next job reads the switch back, and retry soon if it is still here.
                LOG.warning("switch %016x did not complete reconciliation: %s", dpid, e)
                with self._cond:
                    self._installed.pop(dpid, None)
                if dpid in self.topology.connected():
                    self._retry_later(dpid)
            except Exception:
                # A bug must not stop reconciliation of every other switch;
                # the switch is read back in full next time.
                LOG.exception("reconciling switch %016x failed", dpid)
                with self._cond:
                    self._installed.pop(dpid, None)
                if dpid in self.topology.connected():
                    self._retry_later(dpid)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def run_job(self, dpid: int, work: set[int]) -> FlowDiff:
        """Bring one switch in line for `work` (segment ids, ALL or FULL). Returns what was sent."""
        full = FULL in work or dpid not in self._installed
        if full:
            ports = self.channel.port_desc(dpid)
            self.topology.switch_connected(dpid, ports)
            metered = self.lldp and self.channel.ensure_controller_meter(
                dpid, CONTROLLER_METER, self.controller_rate_pps, max(1, self.controller_rate_pps // 4)
            )
            fresh = InstalledTable(self.channel.read_flows(dpid))
            with self._cond:
                self._installed[dpid] = fresh
                self._metered[dpid] = metered
            self.topology_changed(exclude=dpid)
        every = full or ALL in work
        # Generations are read before the state, so a change committed after the
        # state was read can never be confirmed by flows computed without it.
        generations = self.status.snapshot()
        states = self.svc.segment_states(None if every else work)
        ctx = Context(self.topology.fabric(), self.tunnels())
        with self._cond:
            table = self._installed.get(dpid)
        if table is None:  # disconnected meanwhile
            raise SwitchGone(f"{dpid:016x}")

        desired: list[Flow] = []
        installed: list[Flow] = []
        if every:
            desired.extend(base_flows(lldp=self.lldp, meter=CONTROLLER_METER if self._metered.get(dpid) else None))
            partitions = table.partitions() | {BASE_PARTITION} | set(states)
        else:
            partitions = set(states)
        confirmations: list[tuple[int, Member, frozenset[int]]] = []
        for part in partitions:
            installed.extend(table.partition(part))
            state = states.get(part)
            if state is None:
                continue
            desired.extend(self.driver.segment_flows(part, state.members, dpid, ctx))
            footprint = self.driver.segment_switches(state.members, ctx)
            if dpid in footprint:
                confirmations.extend((part, m, footprint) for m in state.members)
        d = diff(desired, installed)
        rejected: list[Flow] = []
        if d:
            rejected = self.channel.send(dpid, d)
            st = self.stats.setdefault(dpid, SwitchStats())
            st.flow_mods += len(d)
            st.rejected += len(rejected)
            LOG.info(
                "switch %016x: +%d ~%d -%d flows%s",
                dpid, len(d.add), len(d.modify), len(d.delete),
                f", {len(rejected)} rejected" if rejected else "",
            )
        with self._cond:
            table.apply(d, rejected)
        if full:
            self.stats.setdefault(dpid, SwitchStats()).last_read_back = time.time()

        # A port is ACTIVE once every switch that carries its network's traffic
        # has confirmed the flows computed with the port's latest change.
        bad_parts = {partition_of(f.cookie) for f in rejected}
        for part, m, footprint in confirmations:
            self.status.confirm_on(
                m.port_id,
                generations.get(m.port_id, 0),
                dpid,
                required=footprint,
                usable=self.topology.port_usable(m.datapath_id, m.port_no),
                error=part in bad_parts or BASE_PARTITION in bad_parts,
            )
        return d

    def report(self, dpid: int) -> dict[str, object]:
        st = self.stats.get(dpid, SwitchStats())
        with self._cond:
            table = self._installed.get(dpid)
            installed = len(table) if table is not None else None
        last = st.last_read_back
        return {
            "installed": installed,
            "flow_mods_sent": st.flow_mods,
            "rejected": st.rejected,
            "last_read_back": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last)) if last else None,
        }

    def installed(self, dpid: int) -> list[Flow]:
        with self._cond:
            table = self._installed.get(dpid)
            return table.flows() if table else []
