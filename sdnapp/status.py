"""Port status, kept in memory: it describes the switches now, not durable state.

Every change that can affect a port's traffic gives the port a new generation
(the book's clock, which only moves forward) and makes it DOWN. The reconciler
reads the clock before it reads the desired state and, after the switch's
barrier reply, confirms a port ACTIVE (or ERROR) only if the port's generation
is not newer than that: nothing changed meanwhile. Reading the clock is O(1),
whatever the number of ports. A restarted controller starts with every port
DOWN until its switch is reconciled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

ACTIVE = "ACTIVE"
DOWN = "DOWN"
ERROR = "ERROR"

# (port id, status before, status now)
Transition = tuple[str, str, str]


class StatusBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clock = 0
        self._gen: dict[str, int] = {}
        self._status: dict[str, str] = {}
        self._confirmed: dict[str, tuple[int, set[int]]] = {}
        self._watchers: list[Callable[[list[Transition]], None]] = []

    def watch(self, watcher: Callable[[list[Transition]], None]) -> None:
        """Hear of every change of a port's status (Nova's notifier). Called outside the book's lock,
        on the thread that made the change: a watcher must return at once."""
        self._watchers.append(watcher)

    def _tell(self, changes: list[Transition]) -> None:
        if changes:
            for w in self._watchers:
                w(changes)

    def touch(self, port_ids: set[str] | list[str]) -> None:
        changes: list[Transition] = []
        with self._lock:
            if port_ids:
                self._clock += 1
            for p in port_ids:
                self._gen[p] = self._clock
                before = self._status.pop(p, DOWN)
                self._confirmed.pop(p, None)
                if before != DOWN:
                    changes.append((p, before, DOWN))
        self._tell(changes)

    def now(self) -> int:
        """The clock: flows computed from state read after this reflect every change up to it."""
        with self._lock:
            return self._clock

    def confirm_on(
        self, port_id: str, as_of: int, dpid: int, required: frozenset[int], usable: bool, error: bool
    ) -> None:
        """Switch `dpid` holds flows computed from state read after `as_of`; ACTIVE once all `required` do."""
        with self._lock:
            generation = self._gen.get(port_id, 0)
            if generation > as_of:
                return  # the port changed after the flows were computed
            gen, seen = self._confirmed.get(port_id, (generation, set()))
            if gen != generation:
                seen = set()
            seen.add(dpid)
            self._confirmed[port_id] = (generation, seen)
            before = self._status.get(port_id, DOWN)
            if error:
                self._status[port_id] = ERROR
            elif usable and required <= seen:
                self._status[port_id] = ACTIVE
            now = self._status.get(port_id, DOWN)
        if now != before:
            self._tell([(port_id, before, now)])

    def unconfirm(self, port_ids: set[str] | list[str], dpid: int) -> None:
        """Switch `dpid` is gone: it no longer confirms these ports' flows (the other switches still do).

        Not a new generation: nothing about the ports changed, so the other switches'
        confirmations stand and the switch's own, once it is back, makes them ACTIVE.
        """
        changes: list[Transition] = []
        with self._lock:
            for p in port_ids:
                confirmed = self._confirmed.get(p)
                if confirmed is not None:
                    confirmed[1].discard(dpid)
                if self._status.get(p) == ACTIVE:
                    del self._status[p]
                    changes.append((p, ACTIVE, DOWN))
        self._tell(changes)

    def status(self, port_id: str) -> str:
        with self._lock:
            return self._status.get(port_id, DOWN)

    def forget(self, port_id: str) -> None:
        """A deleted port: no transition is told (its deletion is an event of its own)."""
        with self._lock:
            # A destroyed port's id never comes back (UUIDs), so nothing is lost.
            self._gen.pop(port_id, None)
            self._status.pop(port_id, None)
            self._confirmed.pop(port_id, None)
