"""A switch's OVSDB session against a real ovsdb-server (a private one, no ovs-vswitchd): VIFs from
iface-ids as interfaces come and go, the tunnel port made and repaired, the controllers' rate
limit set, and a fresh view after the server restarts."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sdnapp.config import SwitchConfig
from sdnapp.ovsdb import SwitchDb, TunnelSpec, Vif

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


class Server:
    def __init__(self, run: Path) -> None:
        self.run = run
        self.sock = run / "db.sock"
        self.db = run / "conf.db"
        subprocess.run(["ovsdb-tool", "create", str(self.db), SCHEMA], check=True)
        self.start()
        self.vsctl("init")

    def start(self) -> None:
        subprocess.run(["ovsdb-server", str(self.db), f"--remote=punix:{self.sock}", f"--pidfile={self.run}/pid",
                        f"--log-file={self.run}/log", "--detach"], check=True)

    def stop(self) -> None:
        subprocess.run(["ovs-appctl", "-t", f"{self.run}/ovsdb-server.ctl", "exit"], check=False,
                       capture_output=True)
        pid = self.run / "pid"
        if pid.exists():
            subprocess.run(["kill", pid.read_text().strip()], check=False, capture_output=True)
        deadline = time.monotonic() + 5
        while pid.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def vsctl(self, *args: str) -> str:
        return subprocess.run(["ovs-vsctl", "--no-wait", f"--db=unix:{self.sock}", *args],
                              check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path)
    s.vsctl("add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev",
            "--", "set-controller", "br-int", "tcp:127.0.0.1:1")
    yield s
    s.stop()


def _wait(what: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)


def _add_vm(s: Server, name: str, vnic: str, mac: str) -> None:
    s.vsctl("add-port", "br-int", name, "--", "set", "Interface", name, "type=internal",
            f"external_ids:iface-id={vnic}", f"external_ids:attached-mac={mac}", "external_ids:vm-uuid=vm-1",
            "external_ids:iface-status=active")


def test_vifs_tunnel_and_controllers_through_a_server_restart(server: Server) -> None:
    reports: list[dict[str, Vif]] = []
    got = threading.Condition()

    def on_vifs(dpid: int, vifs: dict[str, Vif]) -> None:
        with got:
            reports.append(dict(vifs))

    _add_vm(server, "tap1", "v1", "fa:16:3e:00:00:01")
    held = threading.Event()
    db = SwitchDb(SwitchConfig(1, f"unix:{server.sock}"), TunnelSpec("vxlan0", "10.9.0.1", manage=True), on_vifs,
                  hold=lambda dpid: held.wait(10))
    db.start()
    try:
        time.sleep(0.3)
        assert not reports and not db.state.connected  # held until the switch is in line
        held.set()
        _wait(lambda: bool(reports) and db.state.connected)
        assert reports[-1] == {"tap1": Vif("tap1", "v1", "fa:16:3e:00:00:01")}
        assert db.state.datapath_type == "netdev"
        # The tunnel port is made, with the options the VXLAN pipeline needs.
        _wait(lambda: "vxlan0" in server.vsctl("list-ports", "br-int"))
        assert server.vsctl("get", "Interface", "vxlan0", "type") == "vxlan"
        assert server.vsctl("get", "Interface", "vxlan0", "options:local_ip") == '"10.9.0.1"'
        _wait(lambda: db.state.tunnel is None)
        # The bridge's controllers are rate-limited.
        _wait(lambda: server.vsctl("get", "Controller", ".", "controller_rate_limit") == "100")
        # Interfaces come and go; an inactive one is not a VIF.
        _add_vm(server, "tap2", "v2", "fa:16:3e:00:00:02")
        _wait(lambda: set(reports[-1]) == {"tap1", "tap2"})
        server.vsctl("set", "Interface", "tap2", "external_ids:iface-status=inactive")
        _wait(lambda: set(reports[-1]) == {"tap1"})
        server.vsctl("del-port", "br-int", "tap1")
        _wait(lambda: reports[-1] == {})
        # Somebody breaks the tunnel port: repaired.
        server.vsctl("set", "Interface", "vxlan0", "options:key=123")
        _wait(lambda: server.vsctl("get", "Interface", "vxlan0", "options:key") == "flow")
        # The server goes away: reported; while it is away a VM is plugged; back, the view is fresh.
        server.stop()
        _wait(lambda: not db.state.connected)
        assert db.state.error
        server.start()
        _add_vm(server, "tap3", "v3", "fa:16:3e:00:00:03")
        _wait(lambda: db.state.connected and set(reports[-1]) == {"tap3"}, timeout=20)
        assert db.state.error is None
    finally:
        db.stop()
