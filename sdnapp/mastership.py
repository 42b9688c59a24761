"""Which instance masters which switch, when several share a PostgreSQL store: a lease per switch.

A lease is a row (switch, holder, generation, expiry) in the store; expiries are read and written by
the DATABASE's clock, so instances' clocks never need to agree. Every instance renews its leases each
RENEW_INTERVAL, heartbeats a row of its own (how many instances are alive: each takes at most its fair
share of the switches, so N instances share them), takes leases that have expired (a dead or cut-off
holder) with generation + 1, and gives back what it holds above its share or no longer reaches.

Why rows and not advisory locks: a lock belongs to a database session, and the database frees it when
it notices the session is gone (TCP keepalives: minutes), while the cut-off holder may not know it
lost it; a lease says when it ends, to both sides. The holder counts its lease valid until the moment
it asked for the renewal (its own monotonic clock) plus TTL less MARGIN, which is before the database
lets another take it over (the renewal's time plus TTL): an instance cut from the database steps down
before another takes over, and two masters never overlap. The generation goes to the switch with
OFPT_ROLE_REQUEST master; OVS refuses a request with an older generation and demotes the old master
to slave, so a deposed master's flow-mods are refused by the switch itself.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from .engines import StoreError
from .model import Lease
from .store import Store

LOG = logging.getLogger(__name__)

TTL = 4.0  # seconds a lease lasts after its renewal, by the database's clock
RENEW_INTERVAL = 1.0
MARGIN = 1.0  # how much sooner than the database the holder gives a lease up
WATCH_INTERVAL = 0.1


@dataclass
class Plan:
    """What one instance does with the leases in one tick."""

    renew: set[int] = field(default_factory=set)
    take: set[int] = field(default_factory=set)
    release: set[int] = field(default_factory=set)


def plan(me: str, now: float, live: int, leases: dict[int, Lease], connected: Iterable[int]) -> Plan:
    """The leases `me` renews, takes and releases, given the `live` instances (itself among them), the
    leases as the database has them at its time `now`, and the switches connected to `me`.

    Its share is the switches (leased or connected here) over the live instances, rounded up; a lease it
    holds on a switch no longer connected here is released at once (another instance may reach it)."""
    here = set(connected)
    switches = set(leases) | here
    share = math.ceil(len(switches) / max(1, live))
    held = {d for d, ls in leases.items() if ls.holder == me and ls.expires_at > now}
    out = Plan(release={d for d in held if d not in here})
    mine = sorted(held & here)
    keep, extra = mine[:share], mine[share:]
    out.renew = set(keep)
    out.release |= set(extra)
    free = sorted(d for d in here - held if d not in leases or leases[d].expires_at <= now)
    out.take = set(free[:max(0, share - len(keep))])
    return out


@dataclass
class Held:
    generation: int
    valid_until: float  # this instance's monotonic clock


class Mastership:
    """The switches this instance masters and until when it may believe so (its own clock)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._held: dict[int, Held] = {}

    def is_master(self, dpid: int) -> bool:
        with self._lock:
            h = self._held.get(dpid)
            return h is not None and self.clock() < h.valid_until

    def generation(self, dpid: int) -> int | None:
        with self._lock:
            h = self._held.get(dpid)
            return h.generation if h is not None else None

    def held(self) -> set[int]:
        with self._lock:
            return set(self._held)

    def granted(self, dpid: int, generation: int, asked_at: float) -> bool:
        """The database renewed or gave this lease in a transaction begun at `asked_at`; True if new."""
        with self._lock:
            new = dpid not in self._held or self._held[dpid].generation != generation
            self._held[dpid] = Held(generation, asked_at + TTL - MARGIN)
            return new

    def drop(self, dpid: int) -> None:
        with self._lock:
            self._held.pop(dpid, None)

    def expired(self) -> set[int]:
        """Leases whose time ran out here (not renewed: the database out of reach): dropped."""
        now = self.clock()
        with self._lock:
            gone = {d for d, h in self._held.items() if now >= h.valid_until}
            for d in gone:
                del self._held[d]
        return gone


class Switches(Protocol):
    """What the keeper needs of the switch connections (SwitchChannels)."""

    def connection(self, dpid: int) -> object | None: ...

    def role(self, dpid: int, master: bool, generation: int) -> bool: ...


class LeaseKeeper:
    """The thread that keeps this instance's leases and tells each switch its role."""

    def __init__(
        self,
        store: Store,
        switches: Switches,
        connected: Callable[[], Iterable[int]],
        took_over: Callable[[int], None],
        mastership: Mastership | None = None,
    ) -> None:
        """`took_over(dpid)`: this instance became the switch's master (read it back, send the difference)."""
        self.store = store
        self.switches = switches
        self.connected = connected
        self.took_over = took_over
        self.mastership = mastership or Mastership()
        self.generations: dict[int, int] = {}  # every lease's generation as last read (what a slave sends)
        # The role each switch's connection was told: (connection, master, generation).
        self._told: dict[int, tuple[object, bool, int]] = {}
        self._told_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for target, name in ((self._run, "leases"), (self._watch, "lease-watch")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        try:
            self._give_up(self.mastership.held())
        except StoreError:
            pass  # they expire by themselves

    def _run(self) -> None:
        while not self._stop.wait(RENEW_INTERVAL):
            try:
                self.tick()
            except Exception:
                LOG.exception("keeping the leases failed; trying again")

    def _watch(self) -> None:
        """Apart from the ticks, which a database out of reach may hold up for seconds: a lease whose
        time ran out here is given up at once (the reconciler already stopped writing: it asks
        is_master), and the switch told this instance is a slave."""
        while not self._stop.wait(WATCH_INTERVAL):
            self.step_down_expired()

    def step_down_expired(self) -> None:
        for dpid in self.mastership.expired():
            LOG.warning("switch %016x: lease not renewed in time, stepping down", dpid)
            with self._told_lock:
                self._told.pop(dpid, None)
            try:
                self.switches.role(dpid, False, self.generations.get(dpid, 0))
            except Exception as e:  # the next tick tells it again
                LOG.warning("switch %016x: role not told: %s", dpid, e)

    def tick(self) -> None:
        self.step_down_expired()
        connected = set(self.connected())
        asked_at = self.mastership.clock()
        try:
            granted, released = self._exchange(connected)
        except StoreError as e:
            LOG.warning("leases not renewed: %s", e)
        else:
            for dpid in released:
                LOG.info("switch %016x: lease given back", dpid)
            for dpid, generation in granted.items():
                if self.mastership.granted(dpid, generation, asked_at):
                    LOG.info("switch %016x: lease taken with generation %d", dpid, generation)
        self._tell_roles(connected)

    def _tell_roles(self, connected: set[int]) -> None:
        """Each connected switch told its role once per connection: master with the lease's generation,
        else slave; a new master reads the switch back and sends the difference."""
        with self._told_lock:
            for dpid in set(self._told) - connected:
                del self._told[dpid]
        for dpid in sorted(connected):
            conn = self.switches.connection(dpid)
            if conn is None:
                continue
            master = self.mastership.is_master(dpid)
            generation = self.mastership.generation(dpid) if master else None
            want = (conn, master, generation if generation is not None else self.generations.get(dpid, 0))
            with self._told_lock:
                if self._told.get(dpid) == want:
                    continue
            try:
                ok = self.switches.role(dpid, want[1], want[2])
            except Exception as e:  # the switch went away meanwhile: told again on its next connection
                LOG.warning("switch %016x: role not told: %s", dpid, e)
                continue
            if ok:
                with self._told_lock:
                    self._told[dpid] = want
                LOG.info("switch %016x: %s (generation %d)", dpid, "master" if master else "slave", want[2])
                if master:
                    self.took_over(dpid)
            elif master:
                # A newer generation is the switch's: this lease is not really ours.
                self.mastership.drop(dpid)

    def _exchange(self, connected: set[int]) -> tuple[dict[int, int], set[int]]:
        """One transaction: heartbeat, read the leases, renew, take and release. Returns the leases
        held after it (switch -> generation) and those given up."""
        me = self.store.instance
        with self.store.write(announce=False) as tx:
            now = tx.clock()
            live = tx.heartbeat(me, now, TTL)
            leases = tx.leases()
            p = plan(me, now, live, leases, connected)
            # Given up here before the database frees them: never master here after it says not.
            for dpid in p.release:
                self.mastership.drop(dpid)
            tx.release_leases(me, p.release, now)
            tx.renew_leases(me, p.renew, now + TTL)
            taken = {d: tx.take_lease(me, d, now, now + TTL) for d in sorted(p.take)}
        self.generations = {d: ls.generation for d, ls in leases.items()}
        granted = {d: leases[d].generation for d in p.renew}
        for d, generation in taken.items():
            if generation is not None:
                granted[d] = generation
                self.generations[d] = generation
        return granted, p.release

    def _give_up(self, dpids: set[int]) -> None:
        """On a clean stop: leases released, so another instance takes the switches at once."""
        for dpid in dpids:
            self.mastership.drop(dpid)
        with self.store.write(announce=False) as tx:
            tx.release_leases(self.store.instance, dpids, tx.clock())
            tx.heartbeat(self.store.instance, tx.clock(), 0.0)
