"""Several sdnapp instances sharing one PostgreSQL store (issue 14), with Mininet's switch.

The change feed: a switch connected to instance A only is programmed for writes made through B.
Three instances, the switch given all three as controllers: one master (OFPT_ROLE_REQUEST with the
lease's generation), every port ACTIVE whichever instance is asked, writes through every instance;
the master SIGKILLed under a 20 ms ping loses no packet and another takes over within seconds, a
write made during the takeover reaching the switch afterwards; a rolling restart of all three.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbeds import multi
from testbeds import single_switch as ss
from testbeds.client import ApiError, Client
from testbeds.process import SdnappProcess

from .. import pgtest

# Ports of this module's instances: apart from the other integration tests' and the demo's.
# The trio's are the first three; the partition test's the last two. The trio lives from its first
# test to the module's end: the tests before it have the switch to themselves.
API_PORTS = (19850, 19851, 19852, 19853, 19854)
OF_PORTS = (16850, 16851, 16852, 16853, 16854)


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with pgtest.database("integration_multi") as url:
        yield url


def _instance(workdir: Path, url: str, i: int) -> SdnappProcess:
    return multi.instance(workdir / f"i{i}", url, API_PORTS[i], OF_PORTS[i])


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


def test_an_instance_cut_from_the_database_steps_down_before_another_takes_over(
    database: str, tmp_path: Path
) -> None:
    proxy = pgtest.CuttableProxy(database)
    a, b = _instance(tmp_path, proxy.url, 3), _instance(tmp_path, database, 4)
    net = None
    try:
        a.start()
        net = ss.build_net(of_port=OF_PORTS[3])
        subprocess.run(["ovs-vsctl", "set-controller", "s1", *(f"tcp:127.0.0.1:{p}" for p in OF_PORTS[3:])],
                       check=True)
        multi.wait_master([a])
        b.start()
        assert multi.wait_role(b)[0] == "slave"
        proxy.cut()
        cut = time.monotonic()
        a_down = b_up = None
        while b_up is None and time.monotonic() - cut < 20:
            if a_down is None and "stepping down" in a.log():
                a_down = time.monotonic()
            r = multi.role(b)
            if r is not None and r[0] == "master":
                b_up = time.monotonic()
            time.sleep(0.02)
        assert a_down is not None and b_up is not None, (a_down, b_up)
        assert a_down < b_up, "two masters at once"
        with pytest.raises(ApiError) as refused:
            Client(a.url, "t").create_vnic()
        assert refused.value.status == 503
        Client(b.url, "t").create_vnic()
        proxy.mend()  # a is back, without a restart, as a slave
        deadline = time.monotonic() + 20
        while True:
            try:
                Client(a.url, "t").create_vnic()
                break
            except ApiError:
                assert time.monotonic() < deadline, "a did not find its database again"
        assert (multi.role(b) or ("",))[0] == "master"  # still b: no flapping back
    finally:
        if net is not None:
            net.stop()
        for p in (a, b):
            p.stop()
        proxy.close()
        print(a.log()[-3000:])


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[multi.Bed]:
    workdir = tmp_path_factory.mktemp("multi")
    with pgtest.database("integration_trio") as url, multi.bed(workdir, url, API_PORTS[:3], OF_PORTS[:3]) as b:
        try:
            yield b
        finally:
            for p in b.procs:
                print(p.log()[-2000:])


def test_one_master_and_every_port_active_whichever_instance_is_asked(trio: multi.Bed) -> None:
    master, _ = multi.wait_master(trio.procs)
    roles = [multi.role(p) for p in trio.procs]
    assert [r[0] if r else None for r in roles].count("master") == 1, roles
    trio.all_active()
    m = ss.ping_matrix(trio.net, trio.sc)
    assert not ss.matrix_holds(trio.sc, m), ss.format_matrix(trio.sc, m)


def test_the_masters_sigkill_loses_no_packet_and_writes_meanwhile_land(trio: multi.Bed) -> None:
    sc, net = trio.sc, trio.net
    h5 = sc.hosts["h5"]
    master, _ = multi.wait_master(trio.procs)
    generation = multi.role(trio.procs[master])[1]  # type: ignore[index]
    survivor = (master + 1) % 3
    Client(trio.procs[survivor].url, h5.tenant).unplug(h5.vnic_id)
    deadline = time.monotonic() + 10
    while ss.ping(net, "h4", h5.ip, timeout=0.3):
        assert time.monotonic() < deadline

    ping = multi.ping(net, "h1", sc.hosts["h2"].ip, 10)
    time.sleep(2)
    killed = time.monotonic()
    trio.procs[master].stop(signal.SIGKILL)
    # a write during the takeover, through a survivor
    Client(trio.procs[survivor].url, h5.tenant).plug(h5.port_id, h5.vnic_id)
    new, became = multi.wait_master(trio.procs, newer_than=generation)
    assert new != master
    assert became - killed < 10, f"takeover took {became - killed:.1f}s"
    sent, lost = multi.ping_lost(ping)
    assert sent > 300 and lost == 0, f"{lost} of {sent} pings lost"
    deadline = time.monotonic() + 10
    while not ss.ping(net, "h4", h5.ip, timeout=0.3):
        assert time.monotonic() < deadline, "the write made during the takeover never reached the switch"
    trio.procs[master].start()  # back, as a slave
    assert multi.wait_role(trio.procs[master])[0] == "slave"
    trio.all_active()


def test_a_rolling_restart_of_all_three_loses_no_packet(trio: multi.Bed) -> None:
    ping = multi.ping(trio.net, "h1", trio.sc.hosts["h2"].ip, 40)
    for p in trio.procs:
        p.stop()
        p.start()
        multi.wait_role(p)
    sent, lost = multi.ping_lost(ping)
    assert lost == 0, f"{lost} of {sent} pings lost"
    trio.all_active()
    multi.wait_master(trio.procs)

