"""Several sdnapp instances on one PostgreSQL store and the Mininet demo switch given all of them as
controllers (issue 14): the bed the integration tests and bench_multi share.

Each instance runs with its own API and OpenFlow port; every write of the demo's provisioning goes
through another instance in turn. Which instance masters the switch is read from the instances' logs
(the line each writes when it tells the switch its role).
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from . import single_switch as ss
from .client import Client
from .process import SdnappProcess

# The role and database scripts/setup.sh makes; it may create databases.
ADMIN_URL = "postgresql://sdnapp:sdnapp@127.0.0.1:5432/sdnapp"
ROLE = re.compile(rf"switch {ss.DPID}: (master|slave) \(generation (\d+)\)")


@contextmanager
def database(admin_url: str = ADMIN_URL, label: str = "bed") -> Iterator[str]:
    """A new database for one bed, dropped afterwards."""
    name = f"sdnapp_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 LC_COLLATE \'C\' LC_CTYPE \'C\'')
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def instance(workdir: Path, url: str, api_port: int, of_port: int) -> SdnappProcess:
    return SdnappProcess(workdir, api_port=api_port, of_ports=(of_port,), extra={"store": {"url": url}})


def role(p: SdnappProcess) -> tuple[str, int] | None:
    """What the instance last told the switch it is (master or slave, with the generation), from the log
    of its current run."""
    found = ROLE.findall(p.log_of_this_run())
    return (found[-1][0], int(found[-1][1])) if found else None


def wait_role(p: SdnappProcess, timeout: float = 20.0) -> tuple[str, int]:
    """The instance's first role told (a bridge that retried an absent controller may take seconds)."""
    deadline = time.monotonic() + timeout
    while (r := role(p)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the instance told the switch no role")
        time.sleep(0.05)
    return r


def wait_master(procs: list[SdnappProcess], timeout: float = 20.0, newer_than: int = -1) -> tuple[int, float]:
    """The index of the running instance that is master with a generation above `newer_than`, and when
    (time.monotonic()) it was first seen so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for i, p in enumerate(procs):
            r = role(p) if p.proc is not None else None
            if r is not None and r[0] == "master" and r[1] > newer_than:
                return i, time.monotonic()
        time.sleep(0.02)
    raise TimeoutError("no instance became master")


@dataclass
class Bed:
    procs: list[SdnappProcess]
    net: Any
    sc: ss.Scenario

    def admin(self, i: int) -> Client:
        return Client(self.procs[i].url, "ops", admin=True)

    def all_active(self, timeout: float = 30.0) -> None:
        """Every plugged port ACTIVE as each running instance tells it."""
        ports = [h.port_id for h in self.sc.hosts.values() if h.vnic_id]
        for i, p in enumerate(self.procs):
            if p.proc is not None:
                self.admin(i).wait_status(ports, timeout=timeout)


@contextmanager
def bed(workdir: Path, url: str, api_ports: tuple[int, ...], of_ports: tuple[int, ...]) -> Iterator[Bed]:
    """The instances started, the switch given all of them, the demo provisioned (each tenant's
    writes through another instance), every port ACTIVE on every instance, hosts addressed."""
    procs = [instance(workdir / f"i{i}", url, a, o) for i, (a, o) in enumerate(zip(api_ports, of_ports, strict=True))]
    net = None
    try:
        for p in procs:
            p.start()
        net = ss.build_net(of_port=of_ports[0])
        subprocess.run(["ovs-vsctl", "set-controller", "s1", *(f"tcp:127.0.0.1:{port}" for port in of_ports)],
                       check=True)
        sc = ss.plan()
        n = len(procs)
        for i, (name, (tenant, prefix, hosts)) in enumerate(ss.LAYOUT.items()):
            c, admin = Client(procs[i % n].url, tenant), Client(procs[(i + 1) % n].url, "ops", admin=True)
            made = c.create_network(name, prefix)
            sc.networks[name] = made["id"]
            for h in hosts:
                hp = sc.hosts[h]
                port, vnic = c.create_port(made["id"], f"{h}-port"), c.create_vnic(hp.mac, f"{h}-eth0")
                c.plug(port["id"], vnic["id"])
                admin.bind(vnic["id"], ss.DPID, hp.switch_port)
                hp.port_id, hp.vnic_id, hp.ip = port["id"], vnic["id"], port["ip_address"]
        b = Bed(procs, net, sc)
        b.all_active()
        ss.configure_hosts(net, sc)
        yield b
    finally:
        if net is not None:
            net.stop()
        for p in procs:
            p.stop()


def ping(net: Any, src: str, dst_ip: str, seconds: float) -> subprocess.Popen[str]:
    """A ping every 20 ms for `seconds`, in the background."""
    return net.get(src).popen(["ping", "-i", "0.02", "-w", str(seconds), dst_ip], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)


def ping_lost(p: subprocess.Popen[str]) -> tuple[int, int]:
    """(sent, lost) of a finished ping."""
    out, _ = p.communicate(timeout=120)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    if m is None:
        raise RuntimeError(f"ping said: {out[-500:]}")
    return int(m[1]), int(m[1]) - int(m[2])
