"""Port status, kept in memory: it describes the switches now, not durable state.

Every change that can affect a port's traffic bumps the port's generation and
makes it DOWN. The reconciler notes the generation when it computes flows and,
after the switch's barrier reply, confirms the port ACTIVE (or ERROR) only if
nothing changed meanwhile. A restarted controller starts with every port DOWN
until its switch is reconciled.
"""

from __future__ import annotations

import threading

ACTIVE = "ACTIVE"
DOWN = "DOWN"
ERROR = "ERROR"


class StatusBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gen: dict[str, int] = {}
        self._status: dict[str, str] = {}
        self._confirmed: dict[str, tuple[int, set[int]]] = {}

    def touch(self, port_ids: set[str] | list[str]) -> None:
        with self._lock:
            for p in port_ids:
                self._gen[p] = self._gen.get(p, 0) + 1
                self._status.pop(p, None)
                self._confirmed.pop(p, None)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._gen)

    def confirm_on(
        self, port_id: str, generation: int, dpid: int, required: frozenset[int], usable: bool, error: bool
    ) -> None:
        """Switch `dpid` holds the flows computed at `generation`; ACTIVE once all `required` switches do."""
        with self._lock:
            if self._gen.get(port_id, 0) != generation:
                return
            gen, seen = self._confirmed.get(port_id, (generation, set()))
            if gen != generation:
                seen = set()
            seen.add(dpid)
            self._confirmed[port_id] = (generation, seen)
            if error:
                self._status[port_id] = ERROR
            elif usable and required <= seen:
                self._status[port_id] = ACTIVE

    def unconfirm(self, port_ids: set[str] | list[str], dpid: int) -> None:
        """Switch `dpid` is gone: it no longer confirms these ports' flows (the other switches still do).

        Not a new generation: nothing about the ports changed, so the other switches'
        confirmations stand and the switch's own, once it is back, makes them ACTIVE.
        """
        with self._lock:
            for p in port_ids:
                confirmed = self._confirmed.get(p)
                if confirmed is not None:
                    confirmed[1].discard(dpid)
                if self._status.get(p) == ACTIVE:
                    del self._status[p]

    def status(self, port_id: str) -> str:
        with self._lock:
            return self._status.get(port_id, DOWN)

    def forget(self, port_id: str) -> None:
        with self._lock:
            # A destroyed port's id never comes back (UUIDs), so nothing is lost.
            self._gen.pop(port_id, None)
            self._status.pop(port_id, None)
            self._confirmed.pop(port_id, None)
