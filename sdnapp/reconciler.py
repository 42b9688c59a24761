"""Reconciliation: make each switch hold the desired flows, sending only the difference.

Work arrives as "switch D connected" (read everything it holds, then diff it
all), "the fabric changed" (diff every partition, from the cache) or "segments
S changed" (diff only those partitions). One worker thread drains it, switch by
switch, merging what piled up meanwhile. The flows a
switch holds are cached per cookie partition (like ovn-controller's installed
flow table), so an API change reads nothing back from the switch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from flows.diff import FlowDiff, diff
from flows.driver import Context, Driver, TunnelEnd
from flows.installed import InstalledTable
from flows.model import Flow
from flows.nat import Gateway, gateway_base_flows, nat_flows, with_router
from flows.pipeline import (
    BASE_PARTITION,
    CONTROLLER_BURST,
    CONTROLLER_METER,
    CONTROLLER_RATE_PPS,
    DHCP_BURST,
    DHCP_METER,
    DHCP_RATE_PPS,
    base_flows,
    cookie_for,
    partition_of,
)
from flows.state import Member, SegmentState
from flows.vlan import VlanDriver
from topology.switches import SwitchPort, Topology

from .desired import DesiredState
from .metrics import NO_METRICS, Metrics
from .status import DOWN, StatusBook

LOG = logging.getLogger(__name__)

# How soon a slave reads a switch again that does not hold the desired flows yet: its ports' status
# follows the master's work by about this much.
SLAVE_RECHECK = 0.2


class SwitchGone(Exception):
    """The switch disconnected (or stopped answering) in the middle of a job."""


class Channel(Protocol):
    """What the reconciler needs from a switch connection."""

    def port_desc(self, dpid: int) -> list[SwitchPort]: ...

    def read_flows(self, dpid: int) -> list[Flow]: ...

    def ensure_controller_meter(self, dpid: int, meter_id: int, rate_pps: int, burst: int,
                                write: bool = True) -> bool:
        """Set up the meter that limits packets to the controller; False where the switch has none.
        Without `write`, only whether it has (a slave may not set it up)."""
        ...

    def send(self, dpid: int, diff: FlowDiff) -> list[Flow]:
        """Send the difference and a barrier; return the flows the switch rejected."""
        ...


@dataclass
class Work:
    """What one switch's next job must do; work that piles up for a switch is merged into one."""

    read_back: bool = False  # read the switch's ports and flows first (it connected, or its cache is doubtful)
    every: bool = False  # every network on the switch, not only `segments` (the fabric changed)
    segments: set[int] = field(default_factory=set)

    def merge(self, other: Work) -> None:
        self.read_back |= other.read_back
        self.every |= other.every
        self.segments |= other.segments


@dataclass
class SwitchStats:
    """What reconciliation did to one switch, for GET /v1/switches."""

    flow_mods: int = 0
    rejected: int = 0
    last_read_back: float | None = None  # when its flows were last read (connect, restart)


class Reconciler:
    def __init__(
        self,
        desired: DesiredState,
        topology: Topology,
        status: StatusBook,
        channel: Channel,
        driver: Driver | None = None,
        lldp: bool = False,
        tunnels: Callable[[], Mapping[int, TunnelEnd]] = dict,
        workers: int = 4,
        metrics: Metrics = NO_METRICS,
        gateway: Callable[[int | None], Gateway | None] = lambda meter: None,
        gateway_held: Callable[[list[Flow]], None] = lambda flows: None,
        may_write: Callable[[int], bool] = lambda dpid: True,
    ) -> None:
        """`workers` threads reconcile different switches at once: one switch's barrier round trip
        does not hold up another's job. `gateway(meter)` is the NAT gateway as it is now (None
        without the `nat` extension), its ARP to the controller through `meter`; `gateway_held` learns
        what the gateway switch holds when it is read back. `may_write(dpid)`: whether this instance
        masters the switch (always, alone on a store); a slave reads the switch back at every job, sends
        nothing, and confirms ports only where the switch already holds their flows (its master sent them)."""
        self.desired = desired
        self.topology = topology
        self.status = status
        self.channel = channel
        self.driver: Driver = driver or VlanDriver()
        self.lldp = lldp
        self.tunnels = tunnels
        self.workers = workers
        self.metrics = metrics
        self.gateway = gateway
        self.gateway_held = gateway_held
        self.may_write = may_write
        self.retry_delay = 2.0
        # Guarded by _cond: what the worker thread and the event handlers share.
        self._cond = threading.Condition()
        self._metered: dict[int, tuple[bool, bool]] = {}  # per switch: its (LLDP, DHCP) meters are in place
        self._tunnel_ends: dict[int, TunnelEnd] = {}
        self._stats: dict[int, SwitchStats] = {}
        self._installed: dict[int, InstalledTable] = {}
        self._in_line: dict[int, threading.Event] = {}  # set once a switch's first full job is done
        self._pending: dict[int, Work] = {}
        self._busy: set[int] = set()  # switches a worker is reconciling (one worker per switch at a time)
        self._stopping = False
        self._threads: list[threading.Thread] = []
        # What was read of the desired state since the store and the port lists last changed,
        # shared by every switch's job: a change read once, not once per switch.
        self._snapshot: _Snapshot | None = None
        self._snapshot_lock = threading.Lock()
        self._forgets_lock = threading.Lock()  # guards _to_forget, which is never waited on behind a read
        self._to_forget: set[int] = set()

    # scheduling (any thread) ---------------------------------------------
    def start(self) -> None:
        for n in range(self.workers):
            t = threading.Thread(target=self._run, name=f"reconciler-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=5)

    def wait_in_line(self, dpid: int, timeout: float) -> bool:
        """Wait until the switch has been reconciled once since this process started (False:
        not within `timeout` seconds, e.g. it has not connected)."""
        with self._cond:
            event = self._in_line.setdefault(dpid, threading.Event())
        return event.wait(timeout)

    def _mark_in_line(self, dpid: int) -> None:
        """The switch has had its first full job (a slave's too: its database may be read now)."""
        with self._cond:
            self._in_line.setdefault(dpid, threading.Event()).set()

    # switch events (os-ken's event thread, link discovery): each one call ------
    def on_switch_up(self, dpid: int) -> None:
        """A switch connected: read it back and bring everything on it in line."""
        self._schedule(dpid, Work(read_back=True))

    def on_switch_down(self, dpid: int) -> None:
        """A switch disconnected: what it holds is unknown from now on, and its ports are not ACTIVE."""
        self.topology.switch_disconnected(dpid, time.monotonic())
        with self._cond:
            self._pending.pop(dpid, None)
            self._installed.pop(dpid, None)
        _, ports = self.desired.ports_bound_on(dpid)
        self.status.unconfirm(ports, dpid)
        self.on_links_changed()

    def on_port_status(self, dpid: int, port: SwitchPort, deleted: bool = False) -> None:
        """A switch reported a port added, changed or deleted."""
        self.topology.port_changed(dpid, port, deleted=deleted)
        self._ports_changed(dpid, [(port, deleted)])
        self.on_links_changed()
        gw = self.gateway(None)
        if gw is not None and dpid == gw.datapath_id:  # its uplink may have come or gone
            self._schedule(dpid, Work(every=True))

    def gateway_changed(self) -> None:
        """The NAT gateway's own flows differ (its next hop's MAC): recompute the gateway switch."""
        gw = self.gateway(None)
        if gw is not None and gw.datapath_id in self.topology.connected():
            self._schedule(gw.datapath_id, Work(every=True))

    def _ports_changed(self, dpid: int, changes: list[tuple[SwitchPort, bool]], here: bool = True) -> None:
        """VNICs bound to these switch ports may now resolve otherwise: their networks are recomputed
        (on this switch too unless `here` is False: its running job computes them anew anyway)."""
        segs: set[int] = set()
        ports: set[str] = set()
        if len(changes) > 16:  # a switch seen for the first time: one query for the whole switch
            segs, ports = self.desired.ports_bound_on(dpid)
        for port, _ in changes if len(changes) <= 16 else ():
            s, p = self.desired.ports_bound_on(dpid, port)
            segs |= s
            ports |= p
        self.status.touch(ports)
        if segs:
            # The ports' new generation must be confirmed by every switch their
            # networks span, not only by this one.
            self.segments_changed(segs, exclude=None if here else dpid)

    def on_links_changed(self, exclude: int | None = None) -> None:
        """Links, connected switches or tunnel ports may have changed.

        If the fabric did, every switch is recomputed; if a hypervisor's tunnel end
        did (its tunnel port appeared, went or was renumbered), that hypervisor is.
        """
        connected = self.topology.connected()
        fabric_changed = self.topology.take_fabric_change()
        targets = set(connected) if fabric_changed and self.driver.uses_fabric else set()
        targets |= self._take_tunnel_changes() & set(connected)
        for dpid in sorted(targets - {exclude}):
            self._schedule(dpid, Work(every=True))

    def _take_tunnel_changes(self) -> set[int]:
        """Switches whose tunnel end differs from the last time this was asked."""
        ends = dict(self.tunnels())
        with self._cond:
            before, self._tunnel_ends = self._tunnel_ends, ends
        return {d for d in ends.keys() | before.keys() if ends.get(d) != before.get(d)}

    def segments_changed(self, segments: set[int], exclude: int | None = None) -> None:
        """Networks changed in the store (the service's writes): recompute them on the connected
        switches whose flows they may change.

        Where the driver's flows depend on the fabric, a network's traffic may cross any switch:
        all of them. Otherwise the switches with a member of these networks now, and those that
        hold flows of them from before; the networks' state read for that is the jobs' own (shared).
        A job on every switch for every change was most of the cost of a plug among 1,000 switches.
        """
        self._forget(segments)
        connected = set(self.topology.connected())
        # The caller (an API request, a switch event) does not wait for another thread's read of
        # the desired state: while one runs, every switch is told.
        got = None if self.driver.uses_fabric else self._try_read_states(set(segments))
        if got is None:
            targets = connected
        else:
            states = got
            targets = {m.datapath_id for st in states.values() for m in st.members}
            gw = self.gateway(None)
            if gw is not None and any(st.nat is not None for st in states.values()):
                targets.add(gw.datapath_id)  # NATed networks are routed there
            with self._cond:
                targets |= {d for d, table in self._installed.items() if any(table.holds(s) for s in segments)}
            targets &= connected  # a switch not read back yet gets everything from its connect job
        for dpid in sorted(targets - {exclude}):
            self._schedule(dpid, Work(segments=set(segments)))

    def desired_changed(self) -> None:
        """Another instance changed the store (which networks, it does not say): every network is
        recomputed on every connected switch, from the store read again, and only differences sent."""
        for dpid in self.topology.connected():
            self._schedule(dpid, Work(every=True))

    def _retry_later(self, dpid: int, delay: float | None = None) -> None:
        t = threading.Timer(self.retry_delay if delay is None else delay, self._schedule, (dpid, Work(read_back=True)))
        t.daemon = True
        t.start()

    def _schedule(self, dpid: int, work: Work) -> None:
        with self._cond:
            pending = self._pending.get(dpid)
            if pending is None:
                self._pending[dpid] = work
            else:
                pending.merge(work)
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

    # the workers -------------------------------------------------------------
    def _next(self) -> tuple[int, Work] | None:
        """Wait for a switch with work that no other worker is busy with; None when stopping."""
        with self._cond:
            while not self._stopping:
                dpid = next((d for d in self._pending if d not in self._busy), None)
                if dpid is not None:
                    self._busy.add(dpid)
                    return dpid, self._pending.pop(dpid)
                self._cond.wait()
            return None

    def _run(self) -> None:
        while (job := self._next()) is not None:
            dpid, work = job
            kind = "connect" if work.read_back else "fabric" if work.every else "segments"
            outcome = "error"
            t0 = time.perf_counter()
            try:
                self.run_job(dpid, work)
                outcome = "ok"
            except SwitchGone as e:
                outcome = "switch_gone"
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
                self.metrics.reconcile_job(kind, outcome, time.perf_counter() - t0)
                with self._cond:
                    self._busy.discard(dpid)
                    self._cond.notify_all()

    def run_job(self, dpid: int, work: Work) -> FlowDiff:
        """Bring one switch in line for `work`. Returns what was sent."""
        started = time.monotonic()
        master = self.may_write(dpid)
        with self._cond:
            full = work.read_back or dpid not in self._installed or not master
        if full:
            self.topology.begin_port_snapshot(dpid)
            changes = self.topology.switch_connected(dpid, self.channel.port_desc(dpid), time.monotonic())
            if changes is None:
                raise SwitchGone(f"{dpid:016x} disconnected while its ports were read")
            # Ports that differ from what was known (added or removed while the switch was
            # away): the networks of VNICs bound to them change on the other switches too.
            self._ports_changed(dpid, changes, here=False)
            metered = (
                self.lldp and self.channel.ensure_controller_meter(
                    dpid, CONTROLLER_METER, CONTROLLER_RATE_PPS, CONTROLLER_BURST, write=master),
                self.channel.ensure_controller_meter(dpid, DHCP_METER, DHCP_RATE_PPS, DHCP_BURST, write=master),
            )
            read = self.channel.read_flows(dpid)
            gw = self.gateway(None)
            if gw is not None and dpid == gw.datapath_id:
                self.gateway_held(read)
            fresh = InstalledTable(read)
            with self._cond:
                self._installed[dpid] = fresh
                self._metered[dpid] = metered
            self.on_links_changed(exclude=dpid)
        every = full or work.every
        as_of, states, index = self._read_states(None if every else work.segments,
                                                 index=every and not self.driver.uses_fabric)
        with self._cond:
            table = self._installed.get(dpid)
        if table is None:  # disconnected meanwhile
            raise SwitchGone(f"{dpid:016x}")
        lldp_meter, dhcp_meter = self.meters(dpid)
        ctx = Context(self.topology.fabric(), self.tunnels(), dhcp_meter)

        gw = self.gateway(lldp_meter)
        desired: list[Flow] = []
        installed: list[Flow] = []
        if every:
            desired.extend(base_flows(lldp=self.lldp, meter=lldp_meter))
            if gw is not None and dpid == gw.datapath_id:
                desired.extend(gateway_base_flows(gw, cookie_for(BASE_PARTITION)))
            # Where the flows depend on the fabric any network's traffic may cross this switch;
            # otherwise only networks with a member bound on it need flows here (the index: every
            # switch visiting every network made a restart of S switches cost S x networks).
            partitions = table.partitions() | {BASE_PARTITION} | (
                set(states) if index is None else index.get(dpid, set()))
            if gw is not None and dpid == gw.datapath_id:  # every NATed network is routed here
                partitions |= {s for s, st in states.items() if st.nat is not None}
        else:
            partitions = set(states)
        confirmations: list[tuple[int, Member, frozenset[int]]] = []
        for part in partitions:
            installed.extend(table.partition(part))
            state = states.get(part)
            if state is None:
                continue
            members = with_router(state, gw)
            desired.extend(self.driver.segment_flows(part, members, dpid, ctx))
            desired.extend(nat_flows(state, dpid, gw, self.driver, ctx, cookie_for(part)))
            footprint = self.driver.segment_switches(members, ctx)
            if dpid in footprint:
                confirmations.extend((part, m, footprint) for m in state.members)
        d = diff(desired, installed)
        rejected: list[Flow] = []
        if d and not master:
            # The master has yet to send these (or there is none yet): look again soon, confirming nothing,
            # and the ports of networks the switch is not in line for are not ACTIVE here meanwhile (one
            # this instance saw ACTIVE before another instance's change would otherwise stay so).
            differ = {partition_of(f.cookie) for f in (*d.add, *d.modify, *d.delete)}
            self.status.touch({m.port_id for part, m, _ in confirmations
                               if part in differ and self.status.status(m.port_id) != DOWN})
            self._forget(differ - {BASE_PARTITION})  # read again after the ports' new generation, or never confirmed
            self._retry_later(dpid, SLAVE_RECHECK)
            if full:
                self._mark_in_line(dpid)
            return FlowDiff()
        if d:
            rejected = self.channel.send(dpid, d)
            with self._cond:
                st = self._stats.setdefault(dpid, SwitchStats())
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
                self._stats.setdefault(dpid, SwitchStats()).last_read_back = time.time()

        # A port is ACTIVE once every switch that carries its network's traffic
        # has confirmed the flows computed with the port's latest change.
        bad_parts = {partition_of(f.cookie) for f in rejected}
        for part, m, footprint in confirmations:
            self.status.confirm_on(
                m.port_id,
                as_of[part],
                dpid,
                required=footprint,
                usable=self.topology.port_usable(m.datapath_id, m.port_no),
                error=part in bad_parts or BASE_PARTITION in bad_parts,
            )
        if full:
            self._mark_in_line(dpid)
        if full and master:
            # Progress of a (re)start: each switch says when it is in line, and how many are (a slave's
            # every job reads the switch: it would say so at every change).
            with self._cond:
                done, held = len(self._installed), len(table)
            LOG.info("switch %016x reconciled after connecting, in %.2fs: %d of ours held, %d flow-mods sent, "
                     "%d ports confirmed; %d of %d connected switches reconciled", dpid, time.monotonic() - started,
                     held, len(d), len(confirmations), done, len(self.topology.connected()))
        return d

    def _read_states(
        self, segments: set[int] | None, index: bool = False
    ) -> tuple[dict[int, int], dict[int, SegmentState], dict[int, set[int]] | None]:
        """The desired state of these networks (None: of every network), each with the status clock
        read before it (a change committed after a network was read can never be confirmed by flows
        computed without it), and with `index`, per switch the networks with a member bound on it.

        Shared by the jobs of every switch while the store is unchanged: one worker reads what is
        missing while the others that need it wait (after a change every switch needs the same
        networks; after a restart every switch needs them all). Networks whose switch ports or
        ports' status changed are forgotten alone (`_forget`): a switch connecting made every
        other switch's next full job read every network again (S x N in a fleet's cold start)."""
        with self._snapshot_lock:
            return self._read_states_locked(segments, index)

    def _try_read_states(self, segments: set[int]) -> dict[int, SegmentState] | None:
        """The state of these networks, or None if another thread is reading the desired state."""
        if not self._snapshot_lock.acquire(blocking=False):
            return None
        try:
            return self._read_states_locked(segments, False)[1]
        finally:
            self._snapshot_lock.release()

    def _read_states_locked(
        self, segments: set[int] | None, index: bool
    ) -> tuple[dict[int, int], dict[int, SegmentState], dict[int, set[int]] | None]:
        with self._forgets_lock:
            forget, self._to_forget = self._to_forget, set()
        snap = self._snapshot
        if snap is None or snap.writes != self.desired.store.writes:
            snap = self._snapshot = _Snapshot(self.desired.store.writes)
        elif forget:
            snap.forget(forget)
        if segments is None:
            if not snap.complete:
                snap.add(self.status.now(), self.desired.segment_states(None))
                snap.complete, snap.stale = True, set()
            elif snap.stale:
                snap.add(self.status.now(), self.desired.segment_states(set(snap.stale)))
            if index and snap.by_switch is None:
                snap.by_switch = _by_switch(snap.states)
            return dict(snap.as_of), dict(snap.states), snap.by_switch if index else None
        missing = {s for s in segments if s not in snap.states}
        if missing:
            snap.add(self.status.now(), self.desired.segment_states(missing))
        return ({s: snap.as_of[s] for s in segments if s in snap.states},
                {s: snap.states[s] for s in segments if s in snap.states}, None)

    def _forget(self, segments: set[int]) -> None:
        """These networks' state must be read again (their members' switch ports or status changed).

        Whoever gives ports a new generation (`StatusBook.touch`) forgets their networks: a state
        read before it can never confirm them. Applied by the next read (never waited for: a read
        in progress adds what it read, and the next read drops it before anyone uses it)."""
        with self._forgets_lock:
            self._to_forget |= segments

    def report(self, dpid: int) -> dict[str, object]:
        with self._cond:
            st = self._stats.get(dpid, SwitchStats())
            flow_mods, rejected, last = st.flow_mods, st.rejected, st.last_read_back
            table = self._installed.get(dpid)
            installed = len(table) if table is not None else None
        return {
            "installed": installed,
            "flow_mods_sent": flow_mods,
            "rejected": rejected,
            "last_read_back": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last)) if last else None,
        }

    def meters(self, dpid: int) -> tuple[int | None, int | None]:
        """The meters the switch's flows to the controller pass (LLDP's, DHCP's); None where it has none."""
        with self._cond:
            lldp, dhcp = self._metered.get(dpid, (False, False))
        return (CONTROLLER_METER if lldp else None), (DHCP_METER if dhcp else None)

    def installed(self, dpid: int) -> list[Flow]:
        with self._cond:
            table = self._installed.get(dpid)
            return table.flows() if table else []


@dataclass
class _Snapshot:
    """What was read of the desired state since the store's `writes` counter was at `writes`."""

    writes: int
    states: dict[int, SegmentState] = field(default_factory=dict)
    as_of: dict[int, int] = field(default_factory=dict)  # per network, the status clock before it was read
    complete: bool = False  # every network was read (but those in `stale`, forgotten since)
    stale: set[int] = field(default_factory=set)
    by_switch: dict[int, set[int]] | None = None  # per switch, networks with a member bound on it (when asked)

    def add(self, as_of: int, states: dict[int, SegmentState]) -> None:
        for seg, state in states.items():
            self.states[seg] = state
            self.as_of[seg] = as_of
        self.stale -= states.keys()
        self.by_switch = None

    def forget(self, segments: set[int]) -> None:
        for seg in segments:
            self.states.pop(seg, None)
            self.as_of.pop(seg, None)
        if self.complete:
            self.stale |= segments
        self.by_switch = None


def _by_switch(states: dict[int, SegmentState]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for seg, state in states.items():
        for m in state.members:
            out.setdefault(m.datapath_id, set()).add(seg)
    return out
