"""A fleet of emulated OpenFlow 1.3 switches: real TCP connections to a controller, many switches per process.

    .venv/bin/python -m testbeds.fleet --controller 127.0.0.1:16830 --switches 100 --ports 10 --procs 2

Switch i (0-based) has datapath id i + 1 and ports 1..P named `sw{i+1}-p{k}`
(with `--tunnel-port vxlan0`, also a port of that name, number P + 1, as a
hypervisor's tunnel port). Each switch (testbeds/fleet_switch.py) connects on
its own TCP connection, keeps its flows across controller restarts (as Open
vSwitch in fail-mode secure) and reconnects with exponential backoff when the
controller goes away; like OVS's inactivity probe it sends an echo request
after `probe_interval` seconds without a message and drops the connection after
twice that. A worker process runs its share of the switches on one asyncio
loop; `Fleet` starts the workers and is the benchmark's hand on them (add or
remove a port, which sends a port status; read what each switch holds).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from os_ken.ofproto import ofproto_v1_3 as ofp

from .fleet_switch import Counters, EmulatedSwitch, Port

FIRST_BACKOFF = 0.1  # seconds before the first reconnect; doubled up to max_backoff


def dpid_of(index: int) -> int:
    return index + 1


def port_name(index: int, k: int) -> str:
    return f"sw{index + 1}-p{k}"


@dataclass(frozen=True)
class FleetSpec:
    host: str
    port: int
    switches: int
    ports: int  # per switch
    tunnel_port: str | None = None  # a port of this name on every switch (VXLAN hypervisors)
    max_backoff: float = 1.0
    probe_interval: float = 5.0
    max_meters: int = 0

    def make_switch(self, index: int) -> EmulatedSwitch:
        ports = [Port(k, port_name(index, k)) for k in range(1, self.ports + 1)]
        if self.tunnel_port is not None:
            ports.append(Port(self.ports + 1, self.tunnel_port))
        return EmulatedSwitch(dpid_of(index), ports, max_meters=self.max_meters)


@dataclass(frozen=True)
class SwitchReport:
    """One switch as the fleet sees it."""

    datapath_id: int
    connected: bool
    flows: int
    connects: int  # TCP connections made so far
    silent_drops: int  # connections the switch gave up because the controller said nothing for too long
    counters: Counters


# -- one switch's connection ---------------------------------------------------------------------------


class _Wire(asyncio.Protocol):
    """One TCP connection of one switch: frames messages, hands them to the switch, writes its replies."""

    def __init__(self, agent: SwitchAgent) -> None:
        self.agent = agent
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.agent.last_rx = time.monotonic()
        transport.write(self.agent.switch.hello())

    def data_received(self, data: bytes) -> None:
        self.agent.last_rx = time.monotonic()
        buf = self.buf
        buf += data
        out: list[bytes] = []
        at, end = 0, len(buf)
        while end - at >= ofp.OFP_HEADER_SIZE:
            _, _, length, _ = struct.unpack_from(ofp.OFP_HEADER_PACK_STR, buf, at)
            if length < ofp.OFP_HEADER_SIZE:  # cannot be framed: what OVS does is drop the connection
                assert self.transport is not None
                self.transport.abort()
                return
            if end - at < length:
                break
            out.extend(self.agent.switch.handle(bytes(buf[at:at + length])))
            at += length
        del buf[:at]
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)


class SwitchAgent:
    """Keeps one switch connected: connect, serve until the connection ends, back off, again."""

    def __init__(self, switch: EmulatedSwitch, spec: FleetSpec) -> None:
        self.switch = switch
        self.spec = spec
        self.wire: _Wire | None = None
        self.last_rx = 0.0
        self.echo_sent = 0.0
        self.connects = 0
        self.silent_drops = 0

    @property
    def connected(self) -> bool:
        return self.wire is not None and self.wire.transport is not None

    def send(self, msg: bytes) -> None:
        """Send `msg` if connected; a message the controller missed is made up for by what it reads on connect."""
        if self.wire is not None and self.wire.transport is not None:
            self.wire.transport.write(msg)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = FIRST_BACKOFF
        while True:
            try:
                _, wire = await loop.create_connection(lambda: _Wire(self), self.spec.host, self.spec.port)
            except OSError:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.spec.max_backoff)
                continue
            self.connects += 1
            backoff = FIRST_BACKOFF
            self.wire = wire
            try:
                await wire.closed
            finally:
                self.wire = None
            await asyncio.sleep(backoff)

    def probe(self, now: float) -> None:
        """The inactivity probe: an echo request after `probe_interval` idle seconds, give up after twice that."""
        if self.wire is None or self.wire.transport is None:
            return
        idle = now - self.last_rx
        if idle > 2 * self.spec.probe_interval:
            self.silent_drops += 1
            self.wire.transport.abort()
        elif idle > self.spec.probe_interval and now - self.echo_sent > self.spec.probe_interval:
            self.echo_sent = now
            self.wire.transport.write(self.switch.echo_request())

    def report(self) -> SwitchReport:
        c = self.switch.counters
        return SwitchReport(self.switch.datapath_id, self.connected, self.switch.flow_count(), self.connects,
                            self.silent_drops,
                            Counters(c.flow_mods, c.flows_added, c.flows_removed, c.flow_stats, c.errors))


# -- a worker process: its switches on one loop, commands from the Fleet ----------------------------------


async def serve(spec: FleetSpec, indexes: list[int], commands: Connection | None, stop: asyncio.Event) -> None:
    """Run the switches `indexes` until `stop` is set (or the command pipe says so or closes).

    With a command pipe the switches connect when told ("connect"), so that a benchmark's clock can
    start after the processes are up; without one, at once."""
    agents = {i: SwitchAgent(spec.make_switch(i), spec) for i in indexes}
    tasks: list[asyncio.Task[None]] = []

    def connect() -> None:
        if not tasks:
            tasks.extend(asyncio.create_task(a.run()) for a in agents.values())

    loop = asyncio.get_running_loop()
    if commands is not None:
        loop.add_reader(commands.fileno(), _command, agents, commands, stop, connect)
    else:
        connect()
    try:
        while not stop.is_set():
            now = time.monotonic()
            for a in agents.values():
                a.probe(now)
            try:  # often enough that a probe goes out before the connection is given up
                await asyncio.wait_for(stop.wait(), min(1.0, spec.probe_interval / 3))
            except TimeoutError:
                pass
    finally:
        if commands is not None:
            loop.remove_reader(commands.fileno())
        for t in tasks:
            t.cancel()
        for a in agents.values():
            if a.wire is not None and a.wire.transport is not None:
                a.wire.transport.abort()
        await asyncio.gather(*tasks, return_exceptions=True)


def _command(
    agents: dict[int, SwitchAgent], commands: Connection, stop: asyncio.Event, connect: Callable[[], None]
) -> None:
    try:
        what, *args = commands.recv()
    except (EOFError, OSError):  # the Fleet went away: so does this worker
        stop.set()
        return
    try:
        result: Any = None
        if what == "stop":
            stop.set()
        elif what == "connect":
            connect()
        elif what == "reports":
            result = [a.report() for a in agents.values()]
        elif what == "add_port":
            agent = agents[args[0]]
            port, status = agent.switch.add_port(args[1])
            agent.send(status)
            result = port.port_no
        elif what == "remove_port":
            agent = agents[args[0]]
            agent.send(agent.switch.remove_port(args[1]))
        else:
            raise ValueError(f"unknown command {what!r}")
        commands.send(("ok", result))
    except (KeyError, ValueError) as e:
        commands.send(("error", str(e)))


def _worker(spec: FleetSpec, indexes: list[int], commands: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the Fleet stops its workers; Ctrl-C goes to it
    asyncio.run(serve(spec, indexes, commands, asyncio.Event()))


class Fleet:
    """The switches of `spec` spread over `procs` worker processes (switch i in worker i % procs)."""

    def __init__(self, spec: FleetSpec, procs: int = 2) -> None:
        self.spec = spec
        self.procs = max(1, min(procs, spec.switches))
        self._workers: list[tuple[BaseProcess, Connection]] = []

    def start(self) -> Fleet:
        """Start the worker processes, their switches not connecting yet (see `connect`)."""
        ctx = multiprocessing.get_context("spawn")  # no inherited threads or sockets of the benchmark
        for w in range(self.procs):
            ours, theirs = ctx.Pipe()
            indexes = list(range(w, self.spec.switches, self.procs))
            proc = ctx.Process(target=_worker, args=(self.spec, indexes, theirs), name=f"fleet-{w}", daemon=True)
            proc.start()
            theirs.close()
            self._workers.append((proc, ours))
        self.reports()  # every worker is up and answering
        return self

    def connect(self) -> None:
        """Every switch starts connecting to the controller (and keeps doing so until stopped)."""
        for w in range(len(self._workers)):
            self._call(w, "connect")

    def pids(self) -> list[int]:
        return [p.pid for p, _ in self._workers if p.pid is not None]

    def _call(self, worker: int, *cmd: Any) -> Any:
        _, conn = self._workers[worker]
        conn.send(cmd)
        status, result = conn.recv()
        if status != "ok":
            raise ValueError(result)
        return result

    def reports(self) -> list[SwitchReport]:
        out: list[SwitchReport] = []
        for w in range(len(self._workers)):
            out.extend(self._call(w, "reports"))
        return sorted(out, key=lambda r: r.datapath_id)

    def add_port(self, index: int, name: str) -> int:
        """A new port on switch `index` (its port status goes to the controller); its number."""
        return int(self._call(index % self.procs, "add_port", index, name))

    def remove_port(self, index: int, name: str) -> None:
        self._call(index % self.procs, "remove_port", index, name)

    def stop(self) -> None:
        for proc, conn in self._workers:
            try:
                conn.send(("stop",))
                conn.recv()
            except (OSError, EOFError):
                pass
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()
        self._workers = []

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def totals(reports: list[SwitchReport]) -> Iterator[tuple[str, int]]:
    yield "connected", sum(r.connected for r in reports)
    yield "flows", sum(r.flows for r in reports)
    yield "flow_mods", sum(r.counters.flow_mods for r in reports)
    yield "errors", sum(r.counters.errors for r in reports)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--controller", default="127.0.0.1:6653", help="HOST:PORT of the controller's OpenFlow port")
    ap.add_argument("--switches", type=int, default=10)
    ap.add_argument("--ports", type=int, default=10, help="ports per switch")
    ap.add_argument("--procs", type=int, default=2, help="worker processes")
    ap.add_argument("--tunnel-port", default=None, help="also give every switch a port of this name")
    ap.add_argument("--max-backoff", type=float, default=1.0, help="longest wait between reconnects, seconds")
    args = ap.parse_args(argv)
    host, _, port = args.controller.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        ap.error("--controller: HOST:PORT")
    if not (1 <= args.switches <= 100_000 and 0 <= args.ports <= 10_000 and 1 <= args.procs <= 64):
        ap.error("--switches 1..100000, --ports 0..10000, --procs 1..64")
    if not 0.1 <= args.max_backoff <= 60:
        ap.error("--max-backoff: 0.1..60")
    spec = FleetSpec(host, int(port), args.switches, args.ports, args.tunnel_port, args.max_backoff)
    with Fleet(spec, args.procs) as fleet:
        fleet.connect()
        try:
            while True:
                print(", ".join(f"{k} {v:,}" for k, v in totals(fleet.reports())), flush=True)
                time.sleep(5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
