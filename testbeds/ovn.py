"""OVN as the peer the benchmark measures sdnapp against, run from Debian's ovn-central and ovn-host.

Everything is private to a base directory: NB and SB ovsdb-servers on unix sockets, one
ovn-northd, an `ovn-nbctl` daemon (so a call costs one small client, not a full NB sync), and
one ovn-controller per hypervisor of a `HypervisorBed` made without an OpenFlow controller,
given that hypervisor's OVS database and run directory. Nothing touches the system's OVS or OVN.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from .hypervisors import Hypervisor, read_pid, sh, signal_pidfile, wait_gone

NB_SCHEMA = "/usr/share/ovn/ovn-nb.ovsschema"
SB_SCHEMA = "/usr/share/ovn/ovn-sb.ovsschema"


@dataclass
class OvnCentral:
    base: Path
    nbctl_env: dict[str, str] = field(default_factory=dict)

    @property
    def nb(self) -> str:
        return f"unix:{self.base}/nb.sock"

    @property
    def sb(self) -> str:
        return f"unix:{self.base}/sb.sock"

    def env(self) -> dict[str, str]:
        b = str(self.base)
        return {"OVN_RUNDIR": b, "OVN_DBDIR": b, "OVN_LOGDIR": b, "OVS_RUNDIR": b}

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        for name, schema in (("nb", NB_SCHEMA), ("sb", SB_SCHEMA)):
            sh("ovsdb-tool", "create", f"{self.base}/{name}.db", schema)
            sh("ovsdb-server", f"{self.base}/{name}.db", f"--remote=punix:{self.base}/{name}.sock",
               f"--pidfile={self.base}/{name}.pid", "--detach", f"--log-file={self.base}/{name}.log",
               f"--unixctl={self.base}/{name}.ctl", env=self.env())
        sh("ovn-nbctl", f"--db={self.nb}", "--no-wait", "init")
        sh("ovn-sbctl", f"--db={self.sb}", "init")
        sh("ovn-northd", f"--ovnnb-db={self.nb}", f"--ovnsb-db={self.sb}", f"--pidfile={self.base}/northd.pid",
           "--detach", f"--log-file={self.base}/northd.log", f"--unixctl={self.base}/northd.ctl", env=self.env())
        # ovn-nbctl's daemon mode keeps one NB connection; each call then only ships its commands.
        ctl = sh("ovn-nbctl", f"--db={self.nb}", "--detach", f"--pidfile={self.base}/nbctl.pid",
                 f"--log-file={self.base}/nbctl.log", env=self.env()).strip()
        self.nbctl_env = {"OVN_NB_DAEMON": ctl}

    def nbctl(self, *args: str, timeout: int = 600) -> str:
        return sh("ovn-nbctl", f"--timeout={timeout}", *args, env=self.nbctl_env)

    def pids(self) -> dict[str, int]:
        """The central daemons whose cost counts as OVN's (the nbctl daemon stands in for a client)."""
        return {name: read_pid(self.base / f"{name}.pid") for name in ("nb", "sb", "northd")}

    def stop(self) -> None:
        for name in ("nbctl", "northd", "sb", "nb"):
            signal_pidfile(self.base / f"{name}.pid")


@dataclass
class OvnController:
    """ovn-controller for one hypervisor: its chassis settings go on that OVS's Open_vSwitch row."""

    hv: Hypervisor
    central: OvnCentral

    @property
    def pidfile(self) -> Path:
        return self.hv.run / "ovn-controller.pid"

    def configure(self) -> None:
        self.hv.vsctl("set", "Open_vSwitch", ".", f"external_ids:system-id=hv{self.hv.index}",
                      f"external_ids:ovn-remote={self.central.sb}", "external_ids:ovn-encap-type=geneve",
                      f"external_ids:ovn-encap-ip={self.hv.tunnel_ip}",
                      "external_ids:ovn-bridge-datapath-type=netdev")

    def start(self) -> None:
        # OVS_RUNDIR tells ovn-controller where br-int's management socket is.
        env = {"OVS_RUNDIR": str(self.hv.run), "OVN_RUNDIR": str(self.hv.run)}
        sh("ovn-controller", self.hv.db, f"--pidfile={self.pidfile}", "--detach",
           f"--log-file={self.hv.run}/ovn-controller.log", env=env)

    def pid(self) -> int:
        return read_pid(self.pidfile)

    def kill(self) -> None:
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid, 2.0)

    def stop(self) -> None:
        signal_pidfile(self.pidfile)

    def installed_ts(self) -> dict[str, int]:
        """Interface name -> `ovn-installed-ts` (wall clock ms when OVS confirmed the port's flows)."""
        out = self.hv.vsctl("--format=json", "--columns=name,external_ids", "list", "Interface")
        got: dict[str, int] = {}
        for name, ids in json.loads(out)["data"]:
            for k, v in ids[1]:
                if k == "ovn-installed-ts":
                    got[name] = int(v)
        return got
