"""Integration fixtures: the real sdnapp process and a Mininet switch with six hosts.

Ports differ from the defaults so a running demo does not collide with a test run.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testbeds import single_switch as ss
from testbeds.client import Client
from testbeds.process import SdnappProcess

API_PORT = 19696
OF_PORT = 16653


@dataclass
class Bed:
    net: Any
    sc: ss.Scenario
    proc: SdnappProcess
    admin: Client

    def host(self, name: str) -> Any:
        return self.net.get(name)


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    if shutil.which("ovs-vsctl") is None or subprocess.run(["ovs-vsctl", "show"], capture_output=True).returncode:
        pytest.fail("Open vSwitch is not running: run scripts/setup.sh (as root) first")
    workdir: Path = tmp_path_factory.mktemp("sdnapp")
    proc = SdnappProcess(workdir, api_port=API_PORT, of_ports=(OF_PORT,))
    proc.start()
    net = None
    try:
        net = ss.build_net(of_port=OF_PORT)
        sc = ss.provision(proc.url)
        admin = Client(proc.url, "ops", admin=True)
        admin.wait_status([h.port_id for h in sc.hosts.values()], "ACTIVE", timeout=30)
        ss.configure_hosts(net, sc)
        yield Bed(net, sc, proc, admin)
    finally:
        if net is not None:
            net.stop()
        proc.stop()
        print(proc.log()[-4000:])
