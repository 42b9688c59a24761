"""Hypervisors on one machine: each its own ovsdb-server and ovs-vswitchd in its own network namespace.

Every hypervisor has `br-phy` (userspace datapath, a plain learning bridge) holding
its underlay address, joined to the others through a Linux bridge in an underlay
namespace, and `br-int` (userspace datapath, fail-mode secure) that sdnapp
programs. br-int reaches sdnapp through a unix socket in the hypervisor's run
directory, forwarded by socat to sdnapp's TCP port (a namespace's 127.0.0.1 is
its own). VMs are namespaces whose veth peer is added to br-int the way os-vif
plugs a VIF: with external_ids iface-id, attached-mac, iface-status and vm-uuid.
Underlay MTU is 1600, so VMs keep a 1500-byte MTU under VXLAN's 50 bytes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

UNDERLAY_NS = "sdnul"
UNDERLAY_MTU = 1600
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


def sh(*cmd: str, ns: str | None = None, check: bool = True, env: dict[str, str] | None = None) -> str:
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    r = subprocess.run(full, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(full)} failed: {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


def read_pid(pidfile: Path) -> int:
    return int(pidfile.read_text().strip())


def signal_pidfile(pidfile: Path, sig: int = signal.SIGTERM) -> None:
    """Signal the daemon a pidfile names, if it is there."""
    try:
        os.kill(read_pid(pidfile), sig)
    except (OSError, ValueError):
        pass


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until process `pid` has exited; False if it is still there after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.01)
    return False


@dataclass
class Hypervisor:
    index: int
    base: Path
    of_port: int | None  # sdnapp's OpenFlow port; None: br-int gets no controller (OVN's ovn-controller
    # programs it through its management socket instead)
    socat: subprocess.Popen[bytes] | None = None

    @property
    def ns(self) -> str:
        return f"sdnhv{self.index}"

    @property
    def run(self) -> Path:
        return self.base / f"hv{self.index}"

    @property
    def db(self) -> str:
        return f"unix:{self.run}/db.sock"

    @property
    def dpid(self) -> str:
        return f"{0xA00 + self.index:016x}"

    @property
    def tunnel_ip(self) -> str:
        return f"10.200.0.{self.index}"

    def env(self) -> dict[str, str]:
        r = str(self.run)
        return {"OVS_RUNDIR": r, "OVS_DBDIR": r, "OVS_LOGDIR": r, "OVS_SYSCONFDIR": r}

    def vsctl(self, *args: str) -> str:
        return sh("ovs-vsctl", f"--db={self.db}", "--timeout=10", *args)

    def ofctl(self, *args: str) -> str:
        return sh("ovs-ofctl", "-O", "OpenFlow13", *args[:1], f"unix:{self.run}/br-int.mgmt", *args[1:])

    def start(self) -> None:
        shutil.rmtree(self.run, ignore_errors=True)
        self.run.mkdir(parents=True)
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "set", "lo", "up", ns=self.ns)
        # No IPv6 on the hypervisor's own interfaces: every tap made here would otherwise send
        # router solicitations and DAD probes into br-int as it comes up (thousands of upcalls).
        sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", ns=self.ns)
        sh("ovsdb-tool", "create", f"{self.run}/conf.db", SCHEMA)
        sh("ovsdb-server", f"{self.run}/conf.db", f"--remote=punix:{self.run}/db.sock",
           f"--pidfile={self.run}/ovsdb-server.pid", "--detach", f"--log-file={self.run}/ovsdb-server.log",
           f"--unixctl={self.run}/ovsdb-server.ctl", ns=self.ns, env=self.env())
        self.vsctl("--no-wait", "init")
        self._start_vswitchd()
        # The underlay: br-phy with the hypervisor's address, its port a veth into the underlay bridge.
        phy, peer = f"phy{self.index}", f"ul{self.index}"
        sh("ip", "link", "add", phy, "mtu", str(UNDERLAY_MTU), "type", "veth", "peer", "name", peer,
           "mtu", str(UNDERLAY_MTU))
        sh("ip", "link", "set", phy, "netns", self.ns)
        sh("ip", "link", "set", peer, "netns", UNDERLAY_NS)
        sh("ip", "link", "set", peer, "master", "ul", "up", ns=UNDERLAY_NS)
        sh("ip", "link", "set", phy, "up", ns=self.ns)
        sh("ethtool", "-K", phy, "tx", "off", ns=self.ns, check=False)
        self.vsctl("add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev",
                   "fail_mode=standalone", "--", "add-port", "br-phy", phy)
        sh("ip", "link", "set", "br-phy", "mtu", str(UNDERLAY_MTU), "up", ns=self.ns)
        sh("ip", "addr", "add", f"{self.tunnel_ip}/24", "dev", "br-phy", ns=self.ns)
        if self.of_port is None:
            self.vsctl("add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev",
                       "fail_mode=secure", f"other-config:datapath-id={self.dpid}")
            return
        # br-int, with its controller set in the same transaction that makes it (OVS flushes
        # a bridge's flows when its first controller is added).
        sock = f"{self.run}/of.sock"
        self.socat = subprocess.Popen(
            ["socat", f"UNIX-LISTEN:{sock},fork,reuseaddr", f"TCP:127.0.0.1:{self.of_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(50):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        self.vsctl("add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=netdev",
                   "fail_mode=secure", "protocols=OpenFlow13", f"other-config:datapath-id={self.dpid}",
                   "--", "set-controller", "br-int", f"unix:{sock}")

    def add_internal_ports(self, names: list[str], iface_ids: dict[str, str] | None = None,
                           chunk: int = 5000) -> None:
        """OVS internal ports on br-int (real tap devices under the userspace datapath), brought up.

        Made in large transactions: OVS itself takes seconds per thousand interfaces, and one
        ovs-vsctl per port would take far longer.
        """
        for i in range(0, len(names), chunk):
            # Rows made with `create` and referenced by @name: `set Interface NAME` would look
            # every name up by scanning the table, quadratic in ovs-vsctl at thousands of ports.
            cmd: list[str] = []
            for j, name in enumerate(names[i:i + chunk]):
                ids = [f"external_ids:iface-id={iface_ids[name]}"] if iface_ids and name in iface_ids else []
                cmd += ["--", f"--id=@i{j}", "create", "Interface", f"name={name}", "type=internal", *ids,
                        "--", f"--id=@p{j}", "create", "Port", f"name={name}", f"interfaces=@i{j}",
                        "--", "add", "Bridge", "br-int", "ports", f"@p{j}"]
            sh("ovs-vsctl", f"--db={self.db}", "--timeout=900", *cmd)
        # An internal port has no carrier until its device is up.
        batch = "".join(f"link set dev {name} up\n" for name in names)
        r = subprocess.run(["ip", "netns", "exec", self.ns, "ip", "-batch", "-"], input=batch, text=True,
                           capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"bringing up ports on hv{self.index}: {r.stderr.strip()}")

    def _start_vswitchd(self) -> None:
        sh("ovs-vswitchd", self.db, f"--pidfile={self.run}/ovs-vswitchd.pid", "--detach",
           f"--log-file={self.run}/ovs-vswitchd.log", f"--unixctl={self.run}/ovs-vswitchd.ctl",
           ns=self.ns, env=self.env())

    def echo_rtt(self, count: int = 5) -> float:
        """Median OpenFlow echo round trip of br-int, in seconds: how long the switch's main loop
        takes to answer anything (it grows with the number of ports the switch polls)."""
        out = self.ofctl("ping", str(count))
        times = sorted(float(t) for t in re.findall(r"time=([\d.]+) ms", out))
        return times[len(times) // 2] / 1000 if times else float("nan")

    def vswitchd_pid(self) -> int:
        return read_pid(self.run / "ovs-vswitchd.pid")

    def stop_vswitchd(self) -> None:
        """The switch goes away (its flows with it); the database and interfaces stay."""
        pid = self.vswitchd_pid()
        os.kill(pid, signal.SIGTERM)
        if not wait_gone(pid, 5.0):
            raise RuntimeError(f"ovs-vswitchd of hv{self.index} did not stop")

    def start_vswitchd(self) -> None:
        self._start_vswitchd()

    def stop(self) -> None:
        for daemon in ("ovs-vswitchd", "ovsdb-server"):
            signal_pidfile(self.run / f"{daemon}.pid")
        if self.socat is not None:
            self.socat.terminate()
            self.socat.wait(timeout=5)
        sh("ip", "netns", "del", self.ns, check=False)


@dataclass
class Vm:
    name: str
    mac: str
    ip: str
    prefix_len: int
    vnic_id: str
    hv: Hypervisor
    vm_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    nic: str = ""  # the VM's interface name (it changes when the VM moves)

    @property
    def ns(self) -> str:
        return f"sdnvm-{self.name}"

    @property
    def tap(self) -> str:
        return f"t-{self.name}"

    def cmd(self, *args: str, check: bool = False) -> str:
        return sh(*args, ns=self.ns, check=check)


@dataclass
class HypervisorBed:
    base: Path
    of_port: int | None
    count: int = 3
    hvs: list[Hypervisor] = field(default_factory=list)
    vms: dict[str, Vm] = field(default_factory=dict)

    def start(self) -> None:
        self.cleanup_stale()
        sh("ip", "netns", "add", UNDERLAY_NS)
        sh("ip", "link", "add", "ul", "type", "bridge", ns=UNDERLAY_NS)
        sh("ip", "link", "set", "ul", "mtu", str(UNDERLAY_MTU), "up", ns=UNDERLAY_NS)
        for i in range(1, self.count + 1):
            hv = Hypervisor(i, self.base, self.of_port)
            self.hvs.append(hv)
            hv.start()
        # Let every br-phy learn its peers' neighbour entries before the first tunnelled frame.
        for hv in self.hvs:
            for other in self.hvs:
                if other is not hv:
                    sh("ping", "-c", "1", "-W", "2", other.tunnel_ip, ns=hv.ns, check=False)

    def warm_underlay(self, timeout: float = 10.0) -> None:
        """Make every hypervisor's OVS know its peers' underlay neighbours.

        OVS's userspace tunnelling learns them by snooping ARP on br-phy, and
        drops a tunnelled frame while one is unknown. Once the tunnel ports
        exist, an ARP exchange between the hypervisors' own addresses fills
        the table; wait until each shows every peer.
        """
        deadline = time.monotonic() + timeout
        for hv in self.hvs:
            ctl = f"{hv.run}/ovs-vswitchd.ctl"
            for other in self.hvs:
                if other is hv:
                    continue
                while other.tunnel_ip not in sh("ovs-appctl", "-t", ctl, "tnl/neigh/show", check=False):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"hv{hv.index}'s OVS never learned {other.tunnel_ip}")
                    sh("ip", "neigh", "flush", "dev", "br-phy", ns=hv.ns, check=False)
                    sh("ping", "-c", "1", "-W", "1", other.tunnel_ip, ns=hv.ns, check=False)

    def switches_config(self) -> list[dict[str, str]]:
        return [{"datapath_id": hv.dpid, "ovsdb": hv.db, "tunnel_ip": hv.tunnel_ip} for hv in self.hvs]

    def add_vm(self, name: str, hv: Hypervisor, mac: str, ip: str, prefix_len: int, vnic_id: str,
               vm_uuid: str | None = None) -> Vm:
        vm = Vm(name, mac, ip, prefix_len, vnic_id, hv)
        if vm_uuid is not None:
            vm.vm_uuid = vm_uuid
        sh("ip", "netns", "add", vm.ns)
        sh("ip", "link", "set", "lo", "up", ns=vm.ns)
        sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", ns=vm.ns)
        self.vms[name] = vm
        self.plug_vif(vm, hv)
        return vm

    def plug_vif(self, vm: Vm, hv: Hypervisor, iface_id: str | None = None) -> None:
        """Give the VM a NIC on `hv`, plugged into br-int as os-vif does (iface-id and friends)."""
        nic = "n-" + vm.name if vm.nic == "e-" + vm.name else "e-" + vm.name
        sh("ip", "link", "add", vm.tap, "type", "veth", "peer", "name", nic)
        sh("ip", "link", "set", nic, "netns", vm.ns)
        vm.cmd("ip", "link", "set", nic, "address", vm.mac, "up", check=True)
        vm.cmd("ethtool", "-K", nic, "tx", "off")
        vm.cmd("ip", "addr", "add", f"{vm.ip}/{vm.prefix_len}", "dev", nic, check=True)
        sh("ip", "link", "set", vm.tap, "netns", hv.ns)
        sh("ip", "link", "set", vm.tap, "up", ns=hv.ns)
        sh("ethtool", "-K", vm.tap, "tx", "off", ns=hv.ns, check=False)
        hv.vsctl("add-port", "br-int", vm.tap, "--", "set", "Interface", vm.tap,
                 f"external_ids:iface-id={iface_id or vm.vnic_id}", f"external_ids:attached-mac={vm.mac}",
                 "external_ids:iface-status=active", f"external_ids:vm-uuid={vm.vm_uuid}")
        old_nic, vm.nic, vm.hv = vm.nic, nic, hv
        if old_nic:
            vm.cmd("ip", "link", "del", old_nic)

    def unplug_vif(self, vm: Vm) -> None:
        """What the compute side does when a VIF goes away: the interface leaves br-int."""
        vm.hv.vsctl("--if-exists", "del-port", "br-int", vm.tap)
        sh("ip", "link", "del", vm.tap, ns=vm.hv.ns, check=False)
        vm.nic = ""

    def migrate(self, vm: Vm, to: Hypervisor) -> None:
        """Live migration as the network sees it: the VIF appears on `to`, then leaves the source."""
        src = vm.hv
        self.plug_vif(vm, to)  # also removes the VM's old NIC, whose peer was the source's tap
        src.vsctl("--if-exists", "del-port", "br-int", vm.tap)

    def stop(self) -> None:
        for vm in self.vms.values():
            sh("ip", "netns", "del", vm.ns, check=False)
        for hv in self.hvs:
            hv.stop()
        sh("ip", "netns", "del", UNDERLAY_NS, check=False)

    @staticmethod
    def cleanup_stale() -> None:
        """Namespaces a killed run of this testbed left behind (their daemons die with them)."""
        for line in sh("ip", "netns", "list").splitlines():
            name = line.split()[0] if line.strip() else ""
            if name == UNDERLAY_NS or name.startswith("sdnhv") or name.startswith("sdnvm-"):
                pids = sh("ip", "netns", "pids", name, check=False).split()
                for pid in pids:
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except (OSError, ValueError):
                        pass
                sh("ip", "netns", "del", name, check=False)
