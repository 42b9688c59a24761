"""One OVS switch (userspace datapath) in Mininet, six hosts, two tenants with two networks each.

Every host's address is in one /16, so a host of one network does try to reach
(ARP for) hosts of other networks: only the flows keep them apart.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import Client
from .process import SdnappProcess

DPID = "0000000000000001"
PREFIX_LEN = 16

# network name -> (tenant, address range, hosts)
LAYOUT: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "red-a": ("red", "10.0.1.0/24", ("h1", "h2")),
    "red-b": ("red", "10.0.2.0/24", ("h3",)),
    "blue-a": ("blue", "10.0.3.0/24", ("h4", "h5")),
    "blue-b": ("blue", "10.0.4.0/24", ("h6",)),
}


@dataclass
class HostPlan:
    name: str
    tenant: str
    network: str
    mac: str
    switch_port: str
    port_id: str = ""
    vnic_id: str = ""
    ip: str = ""


@dataclass
class Scenario:
    hosts: dict[str, HostPlan] = field(default_factory=dict)
    networks: dict[str, str] = field(default_factory=dict)  # name -> id

    def same_network(self, a: str, b: str) -> bool:
        return self.hosts[a].network == self.hosts[b].network


def plan() -> Scenario:
    sc = Scenario()
    n = itertools.count(1)
    for net, (tenant, _prefix, hosts) in LAYOUT.items():
        for h in hosts:
            i = int(h[1:])
            sc.hosts[h] = HostPlan(h, tenant, net, f"02:00:00:00:00:{i:02x}", f"s1-eth{i}")
            next(n)
    return sc


def build_net(of_port: int) -> Any:
    """A started Mininet: s1 (netdev, OpenFlow 1.3, fail-mode secure) and h1..h6 on s1-eth1..6."""
    from mininet.link import Link
    from mininet.net import Mininet
    from mininet.node import OVSSwitch, RemoteController

    sc = plan()
    _remove_stale_links(len(sc.hosts))
    net = Mininet(controller=None, autoSetMacs=False, autoStaticArp=False, build=False, waitConnected=False)
    net.addController(RemoteController("c0", ip="127.0.0.1", port=of_port))
    s1 = net.addSwitch("s1", cls=OVSSwitch, datapath="user", protocols="OpenFlow13", failMode="secure", dpid=DPID)
    for name in sorted(sc.hosts, key=lambda h: int(h[1:])):
        h = net.addHost(name, ip=None, mac=sc.hosts[name].mac)
        net.addLink(h, s1, cls=Link)
    net.build()
    net.start()
    for h in net.hosts:
        intf = h.defaultIntf()
        # Userspace datapath and veth checksum offload do not mix (see notes).
        h.cmd(f"ethtool -K {intf} tx off rx off >/dev/null 2>&1")
        h.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1")
    return net


def _remove_stale_links(n: int) -> None:
    """Links this testbed left behind if a run was killed before it could stop Mininet."""
    import subprocess

    for i in range(1, n + 1):
        subprocess.run(["ip", "link", "del", f"s1-eth{i}"], capture_output=True)


def provision(api_url: str, sc: Scenario | None = None) -> Scenario:
    """Create the tenants' networks, ports and VNICs over REST, plug and bind them."""
    sc = sc or plan()
    admin = Client(api_url, "ops", admin=True)
    for net_name, (tenant, prefix, hosts) in LAYOUT.items():
        c = Client(api_url, tenant)
        net = c.create_network(net_name, prefix)
        sc.networks[net_name] = net["id"]
        for h in hosts:
            hp = sc.hosts[h]
            port = c.create_port(net["id"], f"{h}-port")
            vnic = c.create_vnic(hp.mac, f"{h}-eth0")
            c.plug(port["id"], vnic["id"])
            admin.bind(vnic["id"], DPID, hp.switch_port)
            hp.port_id, hp.vnic_id, hp.ip = port["id"], vnic["id"], port["ip_address"]
    return sc


def configure_hosts(net: Any, sc: Scenario) -> None:
    for h in net.hosts:
        hp = sc.hosts[h.name]
        intf = h.defaultIntf()
        h.cmd(f"ip addr flush dev {intf}")
        h.cmd(f"ip addr add {hp.ip}/{PREFIX_LEN} dev {intf}")
        h.cmd(f"ip link set {intf} up")


def ping(net: Any, src: str, dst_ip: str, count: int = 1, timeout: float = 1.0) -> bool:
    out = net.get(src).cmd(f"ping -c {count} -W {timeout} -i 0.2 {dst_ip}")
    return " received" in out and " 0 received" not in out


def ping_matrix(net: Any, sc: Scenario) -> dict[tuple[str, str], bool]:
    """Every host pings every other host once; each host's pings run in parallel."""
    names = sorted(sc.hosts, key=lambda h: int(h[1:]))
    out: dict[tuple[str, str], bool] = {}
    for a in names:
        targets = " ".join(f"{b}={sc.hosts[b].ip}" for b in names if b != a)
        script = (
            f"for t in {targets}; do (ping -c 1 -W 1 ${{t#*=}} >/dev/null 2>&1 "
            "&& echo \"OK ${t%%=*}\" || echo \"NO ${t%%=*}\") & done; wait"
        )
        result = net.get(a).cmd(script)
        for line in result.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] in ("OK", "NO"):
                out[(a, parts[1])] = parts[0] == "OK"
    missing = [(a, b) for a in names for b in names if a != b and (a, b) not in out]
    if missing:
        raise RuntimeError(f"no ping result for {missing}")
    return out


def format_matrix(sc: Scenario, m: dict[tuple[str, str], bool]) -> str:
    names = sorted(sc.hosts, key=lambda h: int(h[1:]))
    lines = ["      " + " ".join(f"{n:>4}" for n in names) + "   network"]
    for a in names:
        cells = [" -- " if a == b else ("  ok" if m[(a, b)] else "   x") for b in names]
        lines.append(f"{a:>4}  " + " ".join(cells) + f"   {sc.hosts[a].tenant}/{sc.hosts[a].network}")
    return "\n".join(lines)


def matrix_holds(sc: Scenario, m: dict[tuple[str, str], bool]) -> list[str]:
    """The pairs whose reachability is not what their networks say."""
    return [
        f"{a}->{b}: {'reached' if ok else 'did not reach'} ({'same' if sc.same_network(a, b) else 'other'} network)"
        for (a, b), ok in sorted(m.items())
        if ok != sc.same_network(a, b)
    ]


@contextmanager
def running(api_port: int, of_port: int, log_level: str = "INFO") -> Iterator[tuple[SdnappProcess, Any, Scenario]]:
    """sdnapp and the demo bed, provisioned, every port ACTIVE, hosts addressed; all stopped after."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = SdnappProcess(Path(tmp), api_port=api_port, of_ports=(of_port,), extra={"logging": {"level": log_level}})
        proc.start()
        net = None
        try:
            net = build_net(of_port=of_port)
            sc = provision(proc.url)
            Client(proc.url, "ops", admin=True).wait_status([h.port_id for h in sc.hosts.values()])
            configure_hosts(net, sc)
            yield proc, net, sc
        finally:
            if net is not None:
                net.stop()
            proc.stop()
