"""What each switch offers, as it said when it connected, against what the pipeline needs.

The OpenFlow glue records what a switch tells: the version and the number of
tables (its handshake), its meters (the meter features reply) and its ports (the
port description reply). A switch that lacks something the pipeline needs
(`flows.pipeline.unmet_needs`) is refused before anything is sent to it, so it is
never half-programmed; GET /v1/switches and the page show what it lacks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

from flows.pipeline import OPENFLOW_NAMES, unmet_needs


@dataclass(frozen=True)
class Offer:
    openflow_version: int
    n_tables: int
    meters: int | None = None  # meters with a drop band; None until asked (only switches in use are)
    ports: int | None = None  # physical ports described
    missing: tuple[str, ...] = field(default=())


class CapabilityBook:
    """Thread-safe: written from os-ken's event thread and the reconciler's, read by the API."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offers: dict[int, Offer] = {}

    def handshake(self, dpid: int, openflow_version: int, n_tables: int) -> list[str]:
        """A switch's features reply; returns what it lacks ([]: it may be programmed)."""
        missing = unmet_needs(openflow_version, n_tables)
        with self._lock:
            self._offers[dpid] = Offer(openflow_version, n_tables, missing=tuple(missing))
        return missing

    def missing(self, dpid: int) -> list[str] | None:
        """What the switch lacks; None if it never connected."""
        with self._lock:
            offer = self._offers.get(dpid)
        return None if offer is None else list(offer.missing)

    def meters(self, dpid: int, count: int) -> None:
        self._update(dpid, meters=count)

    def ports(self, dpid: int, count: int) -> None:
        self._update(dpid, ports=count)

    def _update(self, dpid: int, **changes: Any) -> None:
        with self._lock:
            offer = self._offers.get(dpid)
            if offer is not None:
                self._offers[dpid] = replace(offer, **changes)

    def unsupported(self) -> list[int]:
        with self._lock:
            return sorted(d for d, o in self._offers.items() if o.missing)

    def report(self, dpid: int) -> dict[str, Any] | None:
        """What GET /v1/switches shows of it: what it offers, and what it lacks."""
        with self._lock:
            o = self._offers.get(dpid)
        if o is None:
            return None
        warnings = []
        if o.meters == 0:
            warnings.append("no meters: LLDP to the controller is not limited in the switch "
                            "(give the bridge a controller_rate_limit)")
        return {
            "openflow_version": OPENFLOW_NAMES.get(o.openflow_version, f"{o.openflow_version:#x}"),
            "tables": o.n_tables,
            "meters": o.meters,
            "ports": o.ports,
            "supported": not o.missing,
            "missing": list(o.missing),
            "warnings": warnings,
        }
