"""Prometheus metrics: every metric sdnapp exports, and the one hook per event that feeds it.

Made once by the composition root and handed to what reports events: the REST
dispatcher (requests), the reconciler (jobs), the OpenFlow glue (flow-mods,
barriers, packet-ins), the store (transactions). State that is already kept
elsewhere (switches, ports by status, links, OVSDB connections) is not copied
here: `watch` registers a reader that is asked when Prometheus scrapes, so it
costs nothing between scrapes. The pure core (`flows/`, `topology/`) knows
nothing of this.

Each `Metrics` has its own registry (no global state: a test makes as many as it
likes). `Metrics(enabled=False)` keeps the same hooks doing nothing, for the
configuration `metrics.enabled: false`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector

# Latencies from a tenth of a millisecond (a store read) to half a minute (a switch's first reconciliation).
_FAST = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_SLOW = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class State:
    """What the switch side knows now, read at each scrape."""

    switches: dict[str, int] = field(default_factory=dict)  # connected / disconnected / unsupported -> count
    ports: dict[str, int] = field(default_factory=dict)  # ACTIVE / DOWN / ERROR -> count of ports
    links: dict[str, int] = field(default_factory=dict)  # discovered / configured / both -> links in use
    link_problems: int = 0
    ovsdb: dict[str, bool] = field(default_factory=dict)  # datapath id -> connected


class _StateCollector:
    def __init__(self, read: Callable[[], State]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        s = self._read()
        switches = GaugeMetricFamily("sdnapp_switches", "Switches known, by state.", labels=["state"])
        for k in ("connected", "disconnected", "unsupported"):
            switches.add_metric([k], s.switches.get(k, 0))
        ports = GaugeMetricFamily("sdnapp_ports", "Ports of the API, by status.", labels=["status"])
        for k in ("ACTIVE", "DOWN", "ERROR"):
            ports.add_metric([k], s.ports.get(k, 0))
        links = GaugeMetricFamily("sdnapp_links", "Inter-switch links in use, by how they are known (LLDP "
                                  "discovery, configuration, both).", labels=["source"])
        for k in ("discovered", "configured", "both"):
            links.add_metric([k], s.links.get(k, 0))
        problems = GaugeMetricFamily("sdnapp_link_problems", "Configured links set aside (contradicted by "
                                     "discovery).", value=s.link_problems)
        ovsdb = GaugeMetricFamily("sdnapp_ovsdb_connected", "1 while the switch's OVSDB connection is up.",
                                  labels=["datapath_id"])
        for dpid, up in sorted(s.ovsdb.items()):
            ovsdb.add_metric([dpid], 1 if up else 0)
        yield from (switches, ports, links, problems, ovsdb)


class Metrics:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        r = self.registry = CollectorRegistry()
        if enabled:
            # No `_created` twin of every counter and histogram: half the series, for no figure anyone graphs.
            disable_created_metrics()
            ProcessCollector(registry=r)  # CPU seconds, resident memory, open files of this process
        self._requests = Counter("sdnapp_api_requests", "REST requests answered, by route, method and status.",
                                 ["route", "method", "status"], registry=r)
        self._request_seconds = Histogram("sdnapp_api_request_seconds", "Time to answer a REST request.",
                                          ["route", "method"], buckets=_SLOW, registry=r)
        self._jobs = Counter("sdnapp_reconcile_jobs", "Reconciliation jobs, by kind (connect: read the switch back; "
                             "fabric: every network; segments: some networks) and outcome.",
                             ["kind", "outcome"], registry=r)
        self._job_seconds = Histogram("sdnapp_reconcile_job_seconds", "Time of one switch's reconciliation job.",
                                      ["kind"], buckets=_SLOW, registry=r)
        self._flow_mods = Counter("sdnapp_flow_mods", "Flow-mods sent, by switch and command.",
                                  ["datapath_id", "command"], registry=r)
        self._flow_mod_errors = Counter("sdnapp_flow_mod_errors", "Flow-mods a switch rejected.",
                                        ["datapath_id"], registry=r)
        self._barriers = Counter("sdnapp_barriers", "Barrier requests, by switch and outcome (ok, timeout, gone).",
                                 ["datapath_id", "outcome"], registry=r)
        self._barrier_seconds = Histogram("sdnapp_barrier_round_trip_seconds", "From sending a request to its "
                                          "barrier reply.", ["datapath_id"], buckets=_SLOW, registry=r)
        self._packet_ins = Counter("sdnapp_packet_ins", "Packets a switch sent to the controller, by OpenFlow reason "
                                   "and kind (lldp, dhcp, other, malformed).", ["reason", "kind"], registry=r)
        self._store_seconds = Histogram("sdnapp_store_transaction_seconds", "Time a store transaction held the "
                                        "store, by kind (read, write).", ["kind"], buckets=_FAST, registry=r)
        self._dhcp = Counter("sdnapp_dhcp_packets", "DHCP requests from VNICs, by outcome: the answer sent (offer, "
                             "ack, nak), release and decline (nothing to answer), other_server (the client chose "
                             "another), refused (malformed, hostile, or from a port sdnapp gives no lease), "
                             "store_down (the store did not answer).", ["outcome"], registry=r)
        # NAT (the `nat` extension) adds its counters here, next to the others, with one hook each where
        # the event happens: NAT sessions and translations.

    # hooks: one per event, each cheap and a no-op when disabled ---------------------------------------
    def api_request(self, route: str, method: str, status: int, seconds: float) -> None:
        if self.enabled:
            self._requests.labels(route, method, str(status)).inc()
            self._request_seconds.labels(route, method).observe(seconds)

    def reconcile_job(self, kind: str, outcome: str, seconds: float) -> None:
        if self.enabled:
            self._jobs.labels(kind, outcome).inc()
            self._job_seconds.labels(kind).observe(seconds)

    def flow_mods(self, dpid: int, counts: dict[str, int], rejected: int) -> None:
        if self.enabled:
            d = f"{dpid:016x}"
            for command, n in counts.items():
                if n:
                    self._flow_mods.labels(d, command).inc(n)
            if rejected:
                self._flow_mod_errors.labels(d).inc(rejected)

    def barrier(self, dpid: int, outcome: str, seconds: float | None = None) -> None:
        if self.enabled:
            d = f"{dpid:016x}"
            self._barriers.labels(d, outcome).inc()
            if seconds is not None:
                self._barrier_seconds.labels(d).observe(seconds)

    def packet_in(self, reason: str, kind: str) -> None:
        if self.enabled:
            self._packet_ins.labels(reason, kind).inc()

    def dhcp(self, outcome: str) -> None:
        if self.enabled:
            self._dhcp.labels(outcome).inc()

    @contextmanager
    def store_transaction(self, kind: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._store_seconds.labels(kind).observe(time.perf_counter() - t0)

    # state and scraping -------------------------------------------------------------------------------
    def watch(self, read: Callable[[], State]) -> None:
        """Export `read()`'s state, asked at each scrape."""
        if self.enabled:
            self.registry.register(_StateCollector(read))

    def exposition(self, accept: str = "") -> tuple[str, bytes]:
        """(content type, body) of a scrape, in the format the scraper's Accept header asks for."""
        encoder, content_type = choose_encoder(accept)
        return content_type, encoder(self.registry)


NO_METRICS = Metrics(enabled=False)
