"""Several sdnapp instances sharing one PostgreSQL store (issue 14).

The change feed: the switch is connected to instance A only, every API call goes through instance B,
and A hears of each change and programs the switch (hosts reach their own network and no other; an
unplug through B cuts the host off on A's switch within seconds).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbeds import single_switch as ss
from testbeds.client import Client
from testbeds.process import SdnappProcess

from .. import pgtest

# Ports of this module's instances: apart from the other integration tests' and the demo's.
API_PORTS = (19850, 19851, 19852)
OF_PORTS = (16850, 16851, 16852)


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with pgtest.database("integration_multi") as url:
        yield url


def _instance(workdir: Path, url: str, i: int) -> SdnappProcess:
    return SdnappProcess(workdir / f"i{i}", api_port=API_PORTS[i], of_ports=(OF_PORTS[i],),
                         extra={"store": {"url": url}})


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
