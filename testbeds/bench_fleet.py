"""sdnapp at fleet scale: the real process and emulated switches (testbeds/fleet.py), 10 to 1,000 switches.

    .venv/bin/python -m testbeds.bench_fleet --switches 10,100,1000 --ports 100
    .venv/bin/python -m testbeds.bench_fleet --switches 10,100 --ports 100 --profile   # and where the time goes

For each size S: S switches of P ports each, every port bound to a VNIC
(N = S x P ports) in networks of 10 ports that span --spread switches (with
--driver vlan, fewer and larger networks where VLAN ids would run out), 10
tenants. VXLAN (the default): every switch a hypervisor with a tunnel address
and a `vxlan0` port, no OVSDB; VLAN: switches without links. No LLDP. The
phases, in order:
- populate: the networks, then every port created with a new VNIC plugged in
  and bound to its switch port, through the REST API (--clients concurrent
  kept-alive clients; `POST /v1/plugged-ports` in batches of --batch ports,
  as an admin, where sdnapp has it, else a call per operation: create port,
  create VNIC, plug, the admin binding call), while no switch is connected;
- connect from cold: the switches connect, empty; until every switch is
  reconciled (`GET /v1/switches` shows `flows.last_read_back`) and every port
  is ACTIVE; flow-mods the switches received;
- restart: sdnapp SIGKILLed and started again, the switches keeping their
  flows and reconnecting; until every switch is reconciled again, and every
  port ACTIVE; flow-mods sent (sdnapp's count and the switches'; 0 expected);
- one more port: a port added to a switch (port status), a VNIC bound to it,
  then the plug timed until the port is ACTIVE (--samples times);
- bulk: --bulk more ports on new switch ports, created, plugged and bound
  through the API as in populate, until all are ACTIVE;
- sdnapp's resident memory (all switches in sync, before the restart) and the
  CPU seconds sdnapp and the emulator spent in each phase.
Then how each figure grew from size to size, and with --profile the functions
py-spy saw most in sdnapp during the cold connect, the restart and the bulk.
A benchmark: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import math
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sdnapp.config import IsolationConfig
from sdnapp.service import MAX_BULK

from . import pyspy
from .client import ApiError, Client, create_networks_by_tenant
from .fleet import Fleet, FleetSpec, dpid_of, port_name
from .growth import Figure, fmt, growth_table, profile_table, size_table
from .process import SdnappProcess
from .procstat import cpu_seconds, rss_mib, wait_idle
from .stats import percentile

API_PORT, OF_PORT = 19830, 16830
TENANTS = 10
PORTS_PER_NETWORK = 10
VLANS = IsolationConfig().vlan_range[1] - IsolationConfig().vlan_range[0] + 1  # the default range, all the run has
TUNNEL_PORT = "vxlan0"
TUNNEL_BASE = ipaddress.IPv4Address("198.18.0.1")  # RFC 2544's benchmarking range; nothing is ever sent there
PROFILED = ("connect from cold", "restart", "bulk")
BATCH_ROUTE = "/v1/plugged-ports"
SLOW_CALL_TIMEOUT = 120.0  # seconds a batch or a listing of everything may take a busy sdnapp
PROJECT = ("sdnapp/", "flows/", "topology/", "rest/")  # the code a profile's inclusive table shows


@dataclass(frozen=True)
class Layout:
    """Which network each switch port belongs to: networks of `per_network` ports over `spread` switches."""

    switches: int
    ports: int
    spread: int
    driver: str

    @property
    def total(self) -> int:
        return self.switches * self.ports

    @property
    def per_network(self) -> int:
        if self.driver == "vlan":  # as many ports per network as it takes for the networks to fit the VLAN ids
            per_block = VLANS // math.ceil(self.switches / self.spread)
            return max(PORTS_PER_NETWORK, math.ceil(self.spread * self.ports / max(1, per_block)))
        return PORTS_PER_NETWORK

    def assignment(self) -> list[list[int]]:
        """network[i][k - 1]: the network of switch i's port k. Switches go in blocks of `spread`; a block's
        ports are dealt round the block's switches, `per_network` at a time to a network."""
        out = [[0] * self.ports for _ in range(self.switches)]
        first = 0
        for b in range(0, self.switches, self.spread):
            width = min(self.spread, self.switches - b)
            for i in range(b, b + width):
                for k in range(self.ports):
                    out[i][k] = first + (k * width + i - b) // self.per_network
            first += math.ceil(width * self.ports / self.per_network)
        return out


@dataclass
class Run:
    layout: Layout
    proc: SdnappProcess
    fleet: Fleet
    clients: int
    batch: int  # ports per POST /v1/plugged-ports; 0: one call per operation
    timeout: float
    profile_dir: Path | None
    admin: Client = field(init=False)
    lister: Client = field(init=False)  # the polls' listings, each on a connection of its own
    tenants: list[Client] = field(init=False)
    net_ids: list[str] = field(default_factory=list)
    network_of: list[list[int]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    profiles: dict[str, pyspy.Profile] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.new_clients()

    def new_clients(self) -> None:
        """Clients with connections of their own (a restarted sdnapp closed the old ones); one connection
        per worker thread whatever the project, as one compute service's session."""
        self.admin = Client(self.proc.url, "ops", admin=True, keep_alive=True)
        self.tenants = [self.admin.as_project(f"t{k}") for k in range(TENANTS)]
        # A batch, or a listing of every switch or port, takes a busy sdnapp a while (over 10 s at 1,000
        # switches); a kept-alive connection keeps the timeout it was opened with.
        for c in [self.admin, *self.tenants]:
            c.timeout = SLOW_CALL_TIMEOUT
        self.lister = Client(self.proc.url, "ops", admin=True)
        self.lister.timeout = SLOW_CALL_TIMEOUT

    def network(self, i: int, k: int) -> tuple[Client, str]:
        """The tenant and id of the network of switch i's port k (1-based)."""
        n = self.network_of[i][k - 1]
        return self.tenants[n % TENANTS], self.net_ids[n]

    def add(self, label: str, value: float | None, unit: str = "", note: str = "") -> None:
        figure = Figure(label, value, unit, note)
        self.figures.append(figure)
        print(f"  [{self.layout.switches:,} switches] {label}: {fmt(figure)}", file=sys.stderr, flush=True)

    def sdnapp_pid(self) -> int:
        assert self.proc.proc is not None
        return self.proc.proc.pid

    def record(self, phase: str) -> pyspy.Recorder | None:
        if self.profile_dir is None:
            return None
        return pyspy.Recorder(self.sdnapp_pid(), self.profile_dir / f"{phase.replace(' ', '-')}.txt").start()

    def stop_recording(self, phase: str, rec: pyspy.Recorder | None) -> None:
        if rec is not None:
            self.profiles[phase] = rec.stop()


def poll_until(check: Callable[[], bool], t0: float, timeout: float, floor: float = 0.02) -> float | None:
    """Seconds from `t0` until `check()` was true (None after `timeout`). Waits between checks three times
    as long as a check took, so asking costs sdnapp at most about a quarter of a thread however big the
    answer (a listing of 100,000 ports takes it a while)."""
    while True:
        t = time.monotonic()
        if check():
            return time.monotonic() - t0
        took = time.monotonic() - t
        if time.monotonic() - t0 > timeout:
            return None
        time.sleep(min(2.0, max(floor, 3 * took)))


@dataclass
class Progress:
    """A check for `poll_until` that remembers how far things got: `count()` reaching `want`."""

    count: Callable[[], int]
    want: int
    what: str
    seen: int = 0

    def __call__(self) -> bool:
        try:
            self.seen = self.count()
        except (OSError, http.client.HTTPException, ApiError):
            # An sdnapp too busy to answer in time is not done yet: ask again (until the phase's timeout).
            return False
        return self.seen >= self.want


def all_reconciled(run: Run) -> Progress:
    def count() -> int:
        switches = run.lister.get("/v1/switches")["switches"]
        return sum(bool(s["connected"] and s["flows"]["last_read_back"]) for s in switches)
    return Progress(count, run.layout.switches, "switches reconciled")


def active(run: Run, want: set[str] | None, count: int) -> Progress:
    def active_count() -> int:
        ports = run.lister.get("/v1/ports")["ports"]
        return sum(p["status"] == "ACTIVE" and (want is None or p["id"] in want) for p in ports)
    return Progress(active_count, count, "ports ACTIVE")


def port_seen(admin: Client, vnic: str) -> bool:
    return admin.get(f"/v1/vnics/{vnic}")["vnic"]["binding"]["port_no"] is not None


def busy_for(run: Run, label: str, t0: float) -> None:
    """Seconds from `t0` until sdnapp went idle (under a tenth of a core for a second; to about a second): the
    work a phase left behind after its last figure, queued jobs included."""
    waited = wait_idle([run.sdnapp_pid()], below=0.1, window=1.0, timeout=run.timeout)
    if waited >= run.timeout:
        run.add(label, None, note=f"> {time.monotonic() - t0:.0f} s, still busy")
    else:
        run.add(label, time.monotonic() - 1.0 - t0, "s")


def wait_for(run: Run, label: str, progress: Progress, t0: float, note: str = "") -> bool:
    """Poll until `progress` is complete; its seconds from `t0` as a figure, or how far it got. Done or not."""
    took = poll_until(progress, t0, run.timeout)
    if took is None:
        note = f"> {run.timeout:.0f} s, not done: {progress.seen:,} of {progress.want:,} {progress.what}"
    run.add(label, took, "s", note)
    return took is not None


# -- the phases ----------------------------------------------------------------------------------------


PortItem = tuple[int, str, int]  # switch index, the switch port's name, the network's index


def create_plugged(run: Run, items: list[PortItem]) -> tuple[list[str], int]:
    """For each item a port in the network with a new VNIC plugged in and bound to the switch port, through the
    API with --clients concurrent clients: `POST /v1/plugged-ports` in batches of --batch where sdnapp has it,
    else four calls per port. Returns the ports' ids and the calls made."""
    if run.batch:
        chunks = [items[a:a + run.batch] for a in range(0, len(items), run.batch)]

        def call(chunk: list[PortItem]) -> list[str]:
            body = [{"network_id": run.net_ids[n], "name": name, "vnic": {"name": name},
                     "binding": {"datapath_id": f"{dpid_of(i):016x}", "port_name": name}} for i, name, n in chunk]
            return [str(made["port"]["id"]) for made in run.admin.plugged_ports(body)]

        with ThreadPoolExecutor(run.clients) as ex:
            return [p for part in ex.map(call, chunks) for p in part], len(chunks)

    def one(item: PortItem) -> str:
        i, name, n = item
        c = run.tenants[n % TENANTS]
        p = c.create_port(run.net_ids[n], name)["id"]
        v = c.create_vnic(name=name)["id"]
        c.plug(p, v)
        run.admin.bind(v, f"{dpid_of(i):016x}", name)
        return str(p)

    with ThreadPoolExecutor(run.clients) as ex:
        return list(ex.map(one, items)), 4 * len(items)


def api_mode(run: Run, calls: int) -> str:
    return f"{calls:,} calls" + (f" of up to {run.batch} ports" if run.batch else ", one per operation")


def populate(run: Run) -> None:
    lay = run.layout
    run.network_of = lay.assignment()
    count = max(max(row) for row in run.network_of) + 1
    t0 = time.monotonic()
    cpu0 = cpu_seconds([run.sdnapp_pid()])
    if run.batch:  # each tenant's networks in calls of up to MAX_BULK (POST /v1/networks with `networks`)
        run.net_ids = create_networks_by_tenant(run.tenants, count, MAX_BULK)
    else:
        with ThreadPoolExecutor(run.clients) as ex:
            run.net_ids = list(ex.map(lambda n: str(run.tenants[n % TENANTS].create_network(f"n{n}")["id"]),
                                      range(count)))
    items = [(i, port_name(i, k), run.network_of[i][k - 1]) for k in range(1, lay.ports + 1)
             for i in range(lay.switches)]
    _, calls = create_plugged(run, items)
    took = time.monotonic() - t0
    run.add("populate: every port through the API, no switch connected", took, "s",
            f"{lay.total:,} ports, {count:,} networks, {api_mode(run, calls)}, {lay.total / took:,.0f} ports/s")
    run.add("populate: sdnapp CPU per 1,000 ports", (cpu_seconds([run.sdnapp_pid()]) - cpu0) / lay.total * 1000, "s")


def connect_from_cold(run: Run) -> None:
    lay = run.layout
    pids = [run.sdnapp_pid()]
    wait_idle(pids, below=0.1, timeout=60)
    cpu0, fleet_cpu0 = cpu_seconds(pids), cpu_seconds(run.fleet.pids())
    rec = run.record("connect from cold")
    t0 = time.monotonic()
    run.fleet.connect()
    in_sync = wait_for(run, "connect from cold: every switch reconciled", all_reconciled(run), t0) and \
        wait_for(run, "connect from cold: every port ACTIVE", active(run, None, lay.total), t0)
    if in_sync:
        busy_for(run, "connect from cold: until sdnapp idle again", t0)
    run.stop_recording("connect from cold", rec)
    reports = run.fleet.reports()
    run.add("connect from cold: flow-mods the switches received", sum(r.counters.flow_mods for r in reports))
    run.add("connect from cold: connections the switches made (one each is ideal)", sum(r.connects for r in reports))
    run.add("connect from cold: connections dropped by the switches, controller silent",
            sum(r.silent_drops for r in reports))
    run.add("flows on the switches, per switch (mean)", statistics.mean(r.flows for r in reports))
    run.add("connect from cold: sdnapp CPU", cpu_seconds(pids) - cpu0, "s")
    run.add("connect from cold: emulator CPU", cpu_seconds(run.fleet.pids()) - fleet_cpu0, "s")
    run.add("sdnapp resident memory, every switch in sync", rss_mib(pids), "MiB", "" if in_sync else "NOT in sync")


def restart(run: Run) -> None:
    lay = run.layout
    before = run.fleet.reports()
    mods0, connects0 = sum(r.counters.flow_mods for r in before), sum(r.connects for r in before)
    drops0 = sum(r.silent_drops for r in before)
    fleet_cpu0 = cpu_seconds(run.fleet.pids())
    t0 = time.monotonic()
    run.proc.stop(signal.SIGKILL)
    run.proc.start(timeout=120)
    run.new_clients()
    rec = run.record("restart")
    reconciled = wait_for(run, "restart (SIGKILL): every switch reconciled", all_reconciled(run), t0)
    sent: int | None = None
    try:
        switches = run.lister.get("/v1/switches")["switches"]
        sent = sum(int(s["flows"]["flow_mods_sent"]) for s in switches)
    except (OSError, http.client.HTTPException, ApiError):
        pass  # too busy to say: shown as "-"
    if reconciled and wait_for(run, "restart: every port ACTIVE", active(run, None, lay.total), t0):
        busy_for(run, "restart: until sdnapp idle again", t0)
    run.stop_recording("restart", rec)
    after = run.fleet.reports()
    run.add("restart: flow-mods sdnapp reports", sent)
    run.add("restart: flow-mods the switches received", sum(r.counters.flow_mods for r in after) - mods0)
    run.add("restart: connections the switches made (one each is ideal)", sum(r.connects for r in after) - connects0)
    run.add("restart: connections dropped by the switches, controller silent",
            sum(r.silent_drops for r in after) - drops0)
    run.add("restart: sdnapp CPU (its whole new life)", cpu_seconds([run.sdnapp_pid()]), "s")
    run.add("restart: emulator CPU", cpu_seconds(run.fleet.pids()) - fleet_cpu0, "s")


def one_more(run: Run, samples: int) -> None:
    wait_idle([run.sdnapp_pid()], below=0.1, timeout=run.timeout)  # nothing left over from the restart
    run.new_clients()  # after a long wait sdnapp may have closed the kept-alive connections
    lay, admin = run.layout, run.admin
    i = lay.switches // 2
    c, net = run.network(i, 1)
    took: list[float] = []
    for k in range(samples):
        name = f"sw{i + 1}-x{k}"
        run.fleet.add_port(i, name)
        port = c.create_port(net, name)["id"]
        vnic = c.create_vnic(name=name)["id"]
        admin.bind(vnic, f"{dpid_of(i):016x}", name)
        # Bound to a port sdnapp has seen (its port status arrived): only the plug is timed.
        if poll_until(partial(port_seen, admin, vnic), time.monotonic(), 60, floor=0.005) is None:
            raise TimeoutError(f"sdnapp never saw port {name}")
        t0 = time.perf_counter()
        c.plug(port, vnic)
        while c.port(port)["status"] != "ACTIVE":
            if time.perf_counter() - t0 > 60:
                raise TimeoutError(f"port {name} not ACTIVE after 60 s")
            time.sleep(0.001)
        took.append(time.perf_counter() - t0)
        c.unplug(vnic)
        c.wait_status([port], "DOWN")
        c.delete(f"/v1/ports/{port}")
        c.delete(f"/v1/vnics/{vnic}")
        run.fleet.remove_port(i, name)
    ms = [t * 1000 for t in took]
    run.add("one more port: plug -> ACTIVE, median", statistics.median(ms), "ms")
    run.add("one more port: plug -> ACTIVE, p90", percentile(ms, 90), "ms", f"over {samples}")


def bulk(run: Run, count: int) -> None:
    lay = run.layout
    where = [(j % lay.switches, f"sw{j % lay.switches + 1}-b{j}") for j in range(count)]
    for i, name in where:
        run.fleet.add_port(i, name)
    pids = [run.sdnapp_pid()]
    wait_idle(pids, below=0.1, timeout=run.timeout)  # the port statuses digested before the clock starts
    run.new_clients()
    cpu0, fleet_cpu0 = cpu_seconds(pids), cpu_seconds(run.fleet.pids())
    rec = run.record("bulk")
    t0 = time.monotonic()
    items = [(i, name, run.network_of[i][j // lay.switches % lay.ports]) for j, (i, name) in enumerate(where)]
    ids, calls = create_plugged(run, items)
    api = time.monotonic() - t0
    progress = active(run, set(ids), count)
    done = wait_for(run, "bulk: more ports created, plugged, bound -> all ACTIVE", progress, t0, f"{count:,} ports")
    took = time.monotonic() - t0
    run.stop_recording("bulk", rec)
    run.add("bulk: ports ACTIVE per second", progress.seen / took, "/s",
            f"last call answered at {api:.1f} s, {api_mode(run, calls)}" + ("" if done else ", not done"))
    run.add("bulk: sdnapp CPU per 1,000 ports", (cpu_seconds(pids) - cpu0) / count * 1000, "s")
    run.add("bulk: emulator CPU per 1,000 ports", (cpu_seconds(run.fleet.pids()) - fleet_cpu0) / count * 1000, "s")


# -- one size ------------------------------------------------------------------------------------------


def sdnapp_config(lay: Layout) -> dict[str, Any]:
    if lay.driver == "vxlan":
        switches: list[dict[str, Any]] = [
            {"datapath_id": f"{dpid_of(i):016x}", "tunnel_ip": str(TUNNEL_BASE + i)} for i in range(lay.switches)]
        isolation: dict[str, Any] = {"driver": "vxlan", "tunnel_port": TUNNEL_PORT, "manage_tunnel_port": False}
    else:
        switches = [{"datapath_id": f"{dpid_of(i):016x}"} for i in range(lay.switches)]
        isolation = {"driver": "vlan"}
    return {"isolation": isolation, "switches": switches, "topology": {"discovery": False}}


@dataclass(frozen=True)
class Options:
    ports: int
    procs: int
    driver: str
    spread: int
    samples: int
    bulk: int
    clients: int
    batch: int
    timeout: float
    api_port: int
    of_port: int
    profile: bool


def run_size(switches: int, opt: Options, base: Path) -> Run:
    lay = Layout(switches, opt.ports, opt.spread, opt.driver)
    proc = SdnappProcess(base / "sdnapp", api_port=opt.api_port, of_ports=(opt.of_port,), extra=sdnapp_config(lay))
    spec = FleetSpec("127.0.0.1", opt.of_port, switches, opt.ports,
                     tunnel_port=TUNNEL_PORT if opt.driver == "vxlan" else None)
    fleet = Fleet(spec, opt.procs)
    proc.start()
    try:
        fleet.start()
        profile_dir = base / "profiles" if opt.profile else None
        if profile_dir is not None:
            profile_dir.mkdir()
        # The batch call where this sdnapp has it (issue 13's bulk path), else one call per operation.
        batch = opt.batch if BATCH_ROUTE in Client(proc.url).get("/v1/openapi.json")["paths"] else 0
        run = Run(lay, proc, fleet, opt.clients, batch, opt.timeout, profile_dir)
        populate(run)  # without it nothing else means anything: a failure ends the size
        phases: list[tuple[str, Callable[[], None]]] = [
            ("connect from cold", partial(connect_from_cold, run)),
            ("restart", partial(restart, run)),
            ("one more port", partial(one_more, run, opt.samples)),
            ("bulk", partial(bulk, run, opt.bulk)),
        ]
        for name, phase in phases:
            try:
                phase()
            except (OSError, TimeoutError, RuntimeError, ApiError, ValueError) as e:
                # The figures so far still count; the next phase starts from wherever this one left it.
                run.add(f"{name}: FAILED", None, note=f"{type(e).__name__}: {str(e)[:150]}")
        reports = fleet.reports()
        run.add("errors the switches sent", sum(r.counters.errors for r in reports))
        return run
    finally:
        fleet.stop()
        proc.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--switches", default="10,100,1000", help="fleet sizes, comma separated (1..2000 each)")
    ap.add_argument("--ports", type=int, default=100, help="ports per switch, each bound to a VNIC")
    ap.add_argument("--procs", type=int, default=2, help="emulator processes")
    ap.add_argument("--driver", choices=("vxlan", "vlan"), default="vxlan")
    ap.add_argument("--spread", type=int, default=2, help="switches a network spans")
    ap.add_argument("--samples", type=int, default=20, help="'one more port' trials per size")
    ap.add_argument("--bulk", type=int, default=1000, help="ports in the bulk phase")
    ap.add_argument("--clients", type=int, default=4, help="concurrent API clients (populate, bulk)")
    ap.add_argument("--batch", type=int, default=250,
                    help=f"ports per {BATCH_ROUTE} call (populate, bulk); 0: four calls per port")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds any one wait may take")
    ap.add_argument("--api-port", type=int, default=API_PORT)
    ap.add_argument("--of-port", type=int, default=OF_PORT)
    ap.add_argument("--profile", action="store_true", help="sample sdnapp with py-spy and print the top")
    args = ap.parse_args(argv)
    try:
        sizes = [int(s) for s in args.switches.split(",")]
    except ValueError:
        ap.error("--switches: comma separated integers")
    if not all(1 <= s <= 2000 for s in sizes) or sizes != sorted(sizes):
        ap.error("--switches: increasing, each 1..2000")
    if not (1 <= args.ports <= 1000 and 1 <= args.procs <= 16 and 1 <= args.spread <= 100):
        ap.error("--ports 1..1000, --procs 1..16, --spread 1..100")
    if not (1 <= args.samples <= 1000 and 1 <= args.bulk <= 100_000 and 1 <= args.clients <= 32):
        ap.error("--samples 1..1000, --bulk 1..100000, --clients 1..32")
    if not 0 <= args.batch <= MAX_BULK:
        ap.error(f"--batch 0..{MAX_BULK}")
    if not 10 <= args.timeout <= 7200 or not all(1024 <= p <= 65535 for p in (args.api_port, args.of_port)):
        ap.error("--timeout 10..7200, --api-port and --of-port 1024..65535")
    if args.profile and (reason := pyspy.why_not()) is not None:
        print(f"# --profile: {reason}; running without it")
        args.profile = False
    opt = Options(args.ports, args.procs, args.driver, args.spread, args.samples, args.bulk, args.clients, args.batch,
                  args.timeout, args.api_port, args.of_port, args.profile)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the `finally`s stop sdnapp and the fleet
    print(f"# sdnapp with an emulated fleet, {time.strftime('%Y-%m-%d %H:%M')}: {args.ports} ports per switch, "
          f"{args.driver}, networks over {args.spread} switches, {args.procs} emulator processes, "
          f"{args.clients} API clients" + (f", {BATCH_ROUTE} in batches of {args.batch}" if args.batch else "")
          + (", sampled by py-spy (figures perturbed)" if args.profile else ""),
          flush=True)
    runs: list[Run] = []
    for s in sizes:
        with tempfile.TemporaryDirectory(dir="/tmp", prefix="sdnfleet-") as tmp:
            t0 = time.monotonic()
            run = run_size(s, opt, Path(tmp))
            runs.append(run)
            print(f"\n{size_table(f'{s:,} switches x {args.ports} ports = {run.layout.total:,} ports', run.figures)}")
            print(f"  ({time.monotonic() - t0:.0f} s with setup)", flush=True)
    if len(runs) > 1:
        print("\n## Growth (a figure that scales with the fleet should grow by about the size's factor)\n")
        print(growth_table(sizes, "switches", [r.figures for r in runs]))
    if args.profile:
        print("\n## Where sdnapp spent its time (py-spy; seconds summed over threads)\n")
        print("With hundreds of threads in sdnapp py-spy takes fewer samples than it is asked for: the shares "
              "and how each function grew count, not the totals (compare with the CPU figures above).")
        for phase in PROFILED:
            profiles = [r.profiles.get(phase, pyspy.Profile(100)) for r in runs]
            print(f"\n{profile_table(phase, sizes, 'switches', profiles, only=PROJECT)}")
            print(f"\n{profile_table(phase, sizes, 'switches', profiles, top=12, own=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
