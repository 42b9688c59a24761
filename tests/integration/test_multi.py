"""Several sdnapp instances sharing one PostgreSQL store (issue 14), with Mininet's switch.

The change feed: a switch connected to instance A only is programmed for writes made through B.
Three instances, the switch given all three as controllers: one master (OFPT_ROLE_REQUEST with the
lease's generation), every port ACTIVE whichever instance is asked, writes through every instance;
the master SIGKILLed under a 20 ms ping loses no packet and another takes over within seconds, a
write made during the takeover reaching the switch afterwards; a rolling restart of all three.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testbeds import single_switch as ss
from testbeds.client import Client
from testbeds.process import SdnappProcess

from .. import pgtest

# Ports of this module's instances: apart from the other integration tests' and the demo's.
API_PORTS = (19850, 19851, 19852)
OF_PORTS = (16850, 16851, 16852)
ROLE = re.compile(rf"switch {ss.DPID}: (master|slave) \(generation (\d+)\)")


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with pgtest.database("integration_multi") as url:
        yield url


def _instance(workdir: Path, url: str, i: int) -> SdnappProcess:
    return SdnappProcess(workdir / f"i{i}", api_port=API_PORTS[i], of_ports=(OF_PORTS[i],),
                         extra={"store": {"url": url}})


def role(p: SdnappProcess) -> tuple[str, int] | None:
    """What the instance last told the switch it is, from its log."""
    found = ROLE.findall(p.log())
    return (found[-1][0], int(found[-1][1])) if found else None


def wait_master(procs: list[SdnappProcess], timeout: float = 20.0, newer_than: int = -1) -> tuple[int, float]:
    """The index of the instance that is master with a generation above `newer_than`, and when."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for i, p in enumerate(procs):
            r = role(p) if p.proc is not None else None
            if r is not None and r[0] == "master" and r[1] > newer_than:
                return i, time.monotonic()
        time.sleep(0.05)
    raise TimeoutError("no instance became master")


def test_a_change_made_through_another_instance_reaches_the_switch(database: str, tmp_path: Path) -> None:
    a, b = _instance(tmp_path, database, 0), _instance(tmp_path, database, 1)
    a.start()
    b.start()
    net = None
    try:
        net = ss.build_net(of_port=OF_PORTS[0])  # A's switch; B never sees it
        sc = ss.provision(b.url)  # every write through B
        Client(a.url, "ops", admin=True).wait_status([h.port_id for h in sc.hosts.values()], timeout=30)
        ss.configure_hosts(net, sc)
        m = ss.ping_matrix(net, sc)
        assert not ss.matrix_holds(sc, m), ss.format_matrix(sc, m)

        h2 = sc.hosts["h2"]
        assert ss.ping(net, "h1", h2.ip)
        Client(b.url, h2.tenant).unplug(h2.vnic_id)
        deadline = time.monotonic() + 10
        while ss.ping(net, "h1", h2.ip, timeout=0.5):
            assert time.monotonic() < deadline, "A never heard of B's unplug"
    finally:
        if net is not None:
            net.stop()
        for p in (a, b):
            p.stop()
        print(a.log()[-3000:])


@dataclass
class Trio:
    procs: list[SdnappProcess]
    net: Any
    sc: ss.Scenario

    def admin(self, i: int) -> Client:
        return Client(self.procs[i].url, "ops", admin=True)

    def all_active(self, timeout: float = 30.0) -> None:
        ports = [h.port_id for h in self.sc.hosts.values() if h.vnic_id]
        for i, p in enumerate(self.procs):
            if p.proc is not None:
                self.admin(i).wait_status(ports, timeout=timeout)


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trio]:
    workdir = tmp_path_factory.mktemp("multi")
    with pgtest.database("integration_trio") as url:
        yield from _trio(workdir, url)


def _trio(workdir: Path, url: str) -> Iterator[Trio]:
    procs = [_instance(workdir, url, i) for i in range(3)]
    net = None
    try:
        for p in procs:
            p.start()
        net = ss.build_net(of_port=OF_PORTS[0])
        subprocess.run(["ovs-vsctl", "set-controller", "s1", *(f"tcp:127.0.0.1:{port}" for port in OF_PORTS)],
                       check=True)
        # Writes through every instance: each tenant's through another.
        sc = ss.plan()
        for i, (name, (tenant, prefix, hosts)) in enumerate(ss.LAYOUT.items()):
            c, admin = Client(procs[i % 3].url, tenant), Client(procs[(i + 1) % 3].url, "ops", admin=True)
            n = c.create_network(name, prefix)
            sc.networks[name] = n["id"]
            for h in hosts:
                hp = sc.hosts[h]
                port, vnic = c.create_port(n["id"], f"{h}-port"), c.create_vnic(hp.mac, f"{h}-eth0")
                c.plug(port["id"], vnic["id"])
                admin.bind(vnic["id"], ss.DPID, hp.switch_port)
                hp.port_id, hp.vnic_id, hp.ip = port["id"], vnic["id"], port["ip_address"]
        bed = Trio(procs, net, sc)
        bed.all_active()
        ss.configure_hosts(net, sc)
        yield bed
    finally:
        if net is not None:
            net.stop()
        for p in procs:
            p.stop()
            print(p.log()[-2000:])


def test_one_master_and_every_port_active_whichever_instance_is_asked(trio: Trio) -> None:
    master, _ = wait_master(trio.procs)
    roles = [role(p) for p in trio.procs]
    assert [r[0] if r else None for r in roles].count("master") == 1, roles
    trio.all_active()
    m = ss.ping_matrix(trio.net, trio.sc)
    assert not ss.matrix_holds(trio.sc, m), ss.format_matrix(trio.sc, m)


def _ping(net: Any, src: str, dst_ip: str, seconds: float) -> subprocess.Popen[str]:
    return net.get(src).popen(["ping", "-i", "0.02", "-w", str(seconds), dst_ip], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)


def _lost(ping: subprocess.Popen[str]) -> tuple[int, int]:
    out, _ = ping.communicate(timeout=60)
    sent, got = re.search(r"(\d+) packets transmitted, (\d+) received", out).groups()  # type: ignore[union-attr]
    return int(sent), int(sent) - int(got)


def test_the_masters_sigkill_loses_no_packet_and_writes_meanwhile_land(trio: Trio) -> None:
    sc, net = trio.sc, trio.net
    h5 = sc.hosts["h5"]
    master, _ = wait_master(trio.procs)
    generation = role(trio.procs[master])[1]  # type: ignore[index]
    survivor = (master + 1) % 3
    Client(trio.procs[survivor].url, h5.tenant).unplug(h5.vnic_id)
    deadline = time.monotonic() + 10
    while ss.ping(net, "h4", h5.ip, timeout=0.3):
        assert time.monotonic() < deadline

    ping = _ping(net, "h1", sc.hosts["h2"].ip, 10)
    time.sleep(2)
    killed = time.monotonic()
    trio.procs[master].stop(signal.SIGKILL)
    # a write during the takeover, through a survivor
    Client(trio.procs[survivor].url, h5.tenant).plug(h5.port_id, h5.vnic_id)
    new, became = wait_master(trio.procs, newer_than=generation)
    assert new != master
    assert became - killed < 10, f"takeover took {became - killed:.1f}s"
    sent, lost = _lost(ping)
    assert sent > 300 and lost == 0, f"{lost} of {sent} pings lost"
    deadline = time.monotonic() + 10
    while not ss.ping(net, "h4", h5.ip, timeout=0.3):
        assert time.monotonic() < deadline, "the write made during the takeover never reached the switch"
    trio.procs[master].start()  # back, as a slave
    trio.all_active()


def test_a_rolling_restart_of_all_three_loses_no_packet(trio: Trio) -> None:
    ping = _ping(trio.net, "h1", trio.sc.hosts["h2"].ip, 40)
    for p in trio.procs:
        p.stop()
        p.start()
        time.sleep(2)
    sent, lost = _lost(ping)
    assert lost == 0, f"{lost} of {sent} pings lost"
    trio.all_active()
    wait_master(trio.procs)
