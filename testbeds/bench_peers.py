"""The two products the benchmark drives, behind one interface: sdnapp over its REST API, OVN over its NB.

Both run on the same kind of switches: `HypervisorBed` hypervisors, each a private ovsdb-server and
ovs-vswitchd (userspace datapath) in a namespace, with the ports' interfaces made as OVS internal
ports (real tap devices) before anything is timed. sdnapp binds a VNIC to its interface by the
admin binding call; OVN finds a logical port's interface by its `iface-id`, set when the interface
was made, as a compute service plugging VIFs would.

"Ready" means the switch confirmed the port's flows: for sdnapp the port's `ACTIVE` status seen
over REST (the status follows a barrier reply); for OVN the interface's `ovn-installed-ts`, which
ovn-controller writes after the barrier for the port's flows, read as OVN's own timestamp.
"""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .client import Client, create_networks_by_tenant
from .hypervisors import Hypervisor, HypervisorBed, sh
from .ovn import OvnCentral, OvnController
from .process import SdnappProcess
from .procstat import FlowWatch

PORTS_PER_NETWORK = 10
TENANTS = 10


@dataclass(frozen=True)
class Layout:
    """N ports spread round-robin over the networks and over the switches."""

    ports: int
    switches: int
    samples: int  # "one more port" trials; their interfaces are made up front too

    @property
    def networks(self) -> int:
        return max(1, self.ports // PORTS_PER_NETWORK)

    def network_of(self, i: int) -> int:
        return i % self.networks

    def switch_of(self, i: int) -> int:
        return i % self.switches

    @staticmethod
    def mac(i: int, extra: bool = False) -> str:
        return ":".join(f"{b:02x}" for b in (0x0A, int(extra), *i.to_bytes(4, "big")))

    def interfaces(self, switch: int) -> list[str]:
        return ([f"p{i}" for i in range(self.ports) if self.switch_of(i) == switch]
                + [f"x{k}" for k in range(self.samples) if self.switch_of(k) == switch])


@dataclass
class Bulk:
    api_seconds: float  # until the last call returned
    ready_seconds: float  # until every port was ready
    calls: int


class Peer(Protocol):
    name: str

    @property
    def hypervisors(self) -> list[Hypervisor]: ...

    def setup(self, base: Path, layout: Layout) -> None: ...

    def pids(self) -> list[int]: ...

    def bulk(self) -> Bulk: ...

    def one_more(self, k: int) -> tuple[float, float | None]:
        """Seconds until ready, and (OVN) until `--wait=hv` returned."""
        ...

    def restart(self, watch: FlowWatch, timeout: float) -> tuple[float, int | None]:
        """Kill the controller (SIGKILL), start it; once every switch is reconciled, return the
        seconds that took and the flow-mods it says it sent (where it says). TimeoutError after
        `timeout` seconds."""
        ...

    def teardown(self) -> None: ...


@dataclass
class SdnappPeer:
    of_port: int
    api_port: int
    clients: int = 4  # concurrent API clients in the bulk scenario, as a compute service's workers
    batch: int = 1  # ports per bulk call (POST /v1/plugged-ports); 1: one call per operation
    name: str = "sdnapp"
    bed: HypervisorBed | None = None
    proc: SdnappProcess | None = None
    layout: Layout | None = None
    networks: list[tuple[Client, str]] = field(default_factory=list)
    admin: Client | None = None

    @property
    def hypervisors(self) -> list[Hypervisor]:
        return self.bed.hvs if self.bed else []

    def setup(self, base: Path, layout: Layout) -> None:
        self.layout = layout
        self.bed = HypervisorBed(base / "hv", self.of_port, count=layout.switches)
        self.bed.start()
        switches = self.bed.switches_config()
        if layout.switches == 1:
            isolation: dict[str, object] = {"driver": "vlan", "vlan_range": [100, 3999]}
            switches = [{"datapath_id": s["datapath_id"], "ovsdb": s["ovsdb"]} for s in switches]
        else:
            isolation = {"driver": "vxlan"}
        self.admin = None
        self.proc = SdnappProcess(base / "sdnapp", api_port=self.api_port, of_ports=(self.of_port,), extra={
            "isolation": isolation, "topology": {"discovery": False}, "switches": switches,
        })
        self.proc.start()
        for s, hv in enumerate(self.bed.hvs):
            hv.add_internal_ports(layout.interfaces(s))

    def _admin(self) -> Client:
        assert self.proc is not None
        if self.admin is None:
            self.admin = Client(self.proc.url, "ops", admin=True, keep_alive=True)
        return self.admin

    def pids(self) -> list[int]:
        assert self.proc is not None and self.proc.proc is not None
        return [self.proc.proc.pid]

    def bulk(self) -> Bulk:
        assert self.proc is not None and self.bed is not None and self.layout is not None
        lay, admin, hvs = self.layout, self._admin(), self.bed.hvs
        # One connection per worker thread, whatever the project, as one compute service's session.
        tenants = [admin.as_project(f"t{k}") for k in range(TENANTS)]
        t0 = time.monotonic()
        self.networks = []
        if self.batch == 1:
            for n in range(lay.networks):
                c = tenants[n % TENANTS]
                self.networks.append((c, c.create_network(f"n{n}")["id"]))
        else:  # each tenant's networks in calls of up to `batch` (POST /v1/networks with `networks`)
            ids = create_networks_by_tenant(tenants, lay.networks, self.batch)
            self.networks = [(tenants[n % TENANTS], ids[n]) for n in range(lay.networks)]

        def one(i: int) -> None:
            c, net = self.networks[lay.network_of(i)]
            port = c.create_port(net, f"p{i}")
            vnic = c.create_vnic(name=f"p{i}")
            c.plug(port["id"], vnic["id"])
            admin.bind(vnic["id"], hvs[lay.switch_of(i)].dpid, f"p{i}")

        def many(first: int) -> None:
            # An admin's call: the ports belong to their networks' tenants, as one at a time.
            admin.plugged_ports([
                {"network_id": self.networks[lay.network_of(i)][1], "name": f"p{i}", "vnic": {"name": f"p{i}"},
                 "binding": {"datapath_id": hvs[lay.switch_of(i)].dpid, "port_name": f"p{i}"}}
                for i in range(first, min(first + self.batch, lay.ports))
            ])

        with ThreadPoolExecutor(self.clients) as ex:
            if self.batch == 1:
                list(ex.map(one, range(lay.ports)))
                calls = 4 * lay.ports
            else:
                starts = range(0, lay.ports, self.batch)
                list(ex.map(many, starts))
                calls = len(starts)
        api = time.monotonic() - t0
        self._wait_all_active(lay.ports, timeout=600)
        network_calls = lay.networks if self.batch == 1 else sum(
            -(-len(range(k, lay.networks, TENANTS)) // self.batch) for k in range(len(tenants)))
        return Bulk(api, time.monotonic() - t0, network_calls + calls)

    def _wait_all_active(self, n: int, timeout: float) -> None:
        admin = self._admin()
        deadline = time.monotonic() + timeout
        while sum(p["status"] == "ACTIVE" for p in admin.get("/v1/ports")["ports"]) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"not all {n} ports ACTIVE after {timeout}s")
            time.sleep(0.05 if n <= 1000 else 0.25)  # a listing costs sdnapp milliseconds per 1,000 ports

    def one_more(self, k: int) -> tuple[float, float | None]:
        assert self.bed is not None and self.layout is not None
        c, net = self.networks[self.layout.network_of(k)]
        port = c.create_port(net, f"x{k}")["id"]
        vnic = c.create_vnic(name=f"x{k}")["id"]
        self._admin().bind(vnic, self.bed.hvs[self.layout.switch_of(k)].dpid, f"x{k}")
        t0 = time.perf_counter()
        c.plug(port, vnic)
        while c.port(port)["status"] != "ACTIVE":
            if time.perf_counter() - t0 > 30:
                raise TimeoutError(f"port x{k} not ACTIVE after 30 s")
            time.sleep(0.001)
        took = time.perf_counter() - t0
        # Back to N ports, settled, before the next trial.
        c.unplug(vnic)
        c.wait_status([port], "DOWN")
        c.delete(f"/v1/ports/{port}")
        c.delete(f"/v1/vnics/{vnic}")
        return took, None

    def restart(self, watch: FlowWatch, timeout: float) -> tuple[float, int | None]:
        assert self.proc is not None and self.layout is not None
        t0 = time.monotonic()
        self.proc.stop(signal.SIGKILL)
        self.admin = None  # its connections died with the process
        self.proc.start(timeout=120)
        admin = self._admin()
        deadline = t0 + timeout
        while True:  # a switch is reconciled when its read back, diff and confirmation are done
            switches = [s for s in admin.get("/v1/switches")["switches"]
                        if s["connected"] and s["flows"]["last_read_back"]]
            if len(switches) == self.layout.switches:
                took = time.monotonic() - t0
                break
            if time.monotonic() > deadline:
                raise TimeoutError("switches not reconciled after a restart")
            # GET /v1/switches lists every port: asked every 20 ms at 10,000 ports it took a fifth
            # of sdnapp's CPU during the restart it measured (py-spy).
            time.sleep(0.02 if self.layout.ports <= 1000 else 0.25)
        self._wait_all_active(self.layout.ports, timeout=600)  # and every port shows it
        return took, sum(int(s["flows"]["flow_mods_sent"]) for s in switches)

    def teardown(self) -> None:
        if self.proc is not None:
            self.proc.stop()
        if self.bed is not None:
            self.bed.stop()


@dataclass
class OvnPeer:
    name: str = "OVN"
    bed: HypervisorBed | None = None
    central: OvnCentral | None = None
    controllers: list[OvnController] = field(default_factory=list)
    layout: Layout | None = None
    batch: int = 1  # logical ports per NB transaction in the bulk scenario (1: one per API call)

    @property
    def hypervisors(self) -> list[Hypervisor]:
        return self.bed.hvs if self.bed else []

    def setup(self, base: Path, layout: Layout) -> None:
        self.layout = layout
        self.bed = HypervisorBed(base / "hv", None, count=layout.switches)
        self.bed.start()
        self.central = OvnCentral(base / "ovn")
        self.central.start()
        self.controllers = [OvnController(hv, self.central) for hv in self.bed.hvs]
        for c in self.controllers:
            c.configure()
            c.start()
        deadline = time.monotonic() + 30
        while len(sh("ovn-sbctl", f"--db={self.central.sb}", "--bare", "--columns=name", "list",
                     "Chassis").split()) < layout.switches:
            if time.monotonic() > deadline:
                raise TimeoutError("ovn-controllers did not register their chassis")
            time.sleep(0.1)
        for s, hv in enumerate(self.bed.hvs):
            names = layout.interfaces(s)
            hv.add_internal_ports(names, {n: n for n in names})

    def pids(self) -> list[int]:
        assert self.central is not None
        return list(self.central.pids().values()) + [c.pid() for c in self.controllers]

    def bulk(self) -> Bulk:
        assert self.central is not None and self.layout is not None
        lay, central = self.layout, self.central
        by_net: dict[int, list[int]] = {}
        for i in range(lay.ports):
            by_net.setdefault(lay.network_of(i), []).append(i)
        t0w, t0 = time.time(), time.monotonic()
        calls = 0
        if self.batch == 1:
            # As a cloud's API drives it: a transaction per network and per port, 4 clients at once.
            for n in range(lay.networks):
                self.central.nbctl("ls-add", f"n{n}")
            with ThreadPoolExecutor(4) as ex:
                list(ex.map(lambda i: central.nbctl(*self._lsp_add(i)), range(lay.ports)))
            calls = lay.networks + lay.ports
        else:
            cmd: list[str] = []
            pending = 0
            for n in range(lay.networks):
                cmd += ["--", "ls-add", f"n{n}"]
                for i in by_net.get(n, []):
                    cmd += ["--", *self._lsp_add(i)]
                    pending += 1
                if pending >= self.batch or n == lay.networks - 1:
                    self.central.nbctl(*cmd[1:])
                    calls, cmd, pending = calls + 1, [], 0
        api = time.monotonic() - t0
        want = {f"p{i}" for i in range(lay.ports)}
        deadline = time.monotonic() + 600
        while True:
            stamps: dict[str, int] = {}
            for c in self.controllers:
                stamps.update(c.installed_ts())
            if want <= stamps.keys():
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(want - stamps.keys())} ports never got ovn-installed-ts")
            time.sleep(0.1 if lay.ports <= 1000 else 0.5)
        ready = max(stamps[p] for p in want) / 1000 - t0w
        return Bulk(api, ready, calls)

    def _lsp_add(self, i: int) -> list[str]:
        """A logical port with its MAC as address and as port security (sdnapp's VNICs have both)."""
        assert self.layout is not None
        name, mac = f"p{i}", self.layout.mac(i)
        return ["lsp-add", f"n{self.layout.network_of(i)}", name, "--", "lsp-set-addresses", name, mac,
                "--", "lsp-set-port-security", name, mac]

    def one_more(self, k: int) -> tuple[float, float | None]:
        assert self.central is not None and self.layout is not None
        lay, name, mac = self.layout, f"x{k}", self.layout.mac(k, extra=True)
        hv = self.controllers[lay.switch_of(k)].hv
        t0 = time.time()
        self.central.nbctl("--wait=hv", "lsp-add", f"n{lay.network_of(k)}", name, "--", "lsp-set-addresses",
                           name, mac, "--", "lsp-set-port-security", name, mac)
        waited = time.time() - t0
        while True:
            ts = hv.vsctl("--if-exists", "get", "Interface", name, "external_ids:ovn-installed-ts").strip()
            if ts:
                break
            if time.time() - t0 > 30:
                raise TimeoutError(f"{name} never got ovn-installed-ts")
            time.sleep(0.001)
        installed = int(ts.strip('"')) / 1000 - t0
        self.central.nbctl("--wait=hv", "lsp-del", name)
        return installed, waited

    def restart(self, watch: FlowWatch, timeout: float) -> tuple[float, int | None]:
        assert self.central is not None
        t0 = time.monotonic()
        for c in self.controllers:
            c.kill()
        for c in self.controllers:
            c.start()
        # `--wait=hv sync` returns once every chassis reports the current NB config, which an
        # ovn-controller does only after OVS confirmed the flows it computed for it.
        try:
            self.central.nbctl("--wait=hv", "sync", timeout=int(timeout))
        except RuntimeError as e:
            raise TimeoutError(str(e)) from None
        deadline = t0 + timeout
        while not watch.recovered():
            if time.monotonic() > deadline:
                raise TimeoutError("switches never got their flows back")
            time.sleep(0.01)
        return time.monotonic() - t0, None

    def teardown(self) -> None:
        for c in self.controllers:
            c.stop()
        if self.central is not None:
            self.central.stop()
        if self.bed is not None:
            self.bed.stop()
