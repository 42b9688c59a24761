"""Fabrics of OVS switches in Mininet: a line of 4, a ring of 4, a leaf-spine of 2 spines and 4 leaves.

Hosts sit on the edge switches; tenants' networks span several switches. All
hosts share one /16, so every host does try to reach every other: only the
flows keep networks apart. Links are found by sdnapp's LLDP discovery.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import Client
from .ovs import dump_flows
from .process import SdnappProcess
from .single_switch import PREFIX_LEN, HostPlan, Scenario


@dataclass(frozen=True)
class FabricSpec:
    name: str
    switches: tuple[str, ...]
    links: tuple[tuple[str, str], ...]
    hosts: dict[str, str]  # host -> switch
    networks: dict[str, tuple[str, str, tuple[str, ...]]]  # name -> (tenant, prefix, hosts)

    def dpid(self, switch: str) -> str:
        return f"{int(switch[1:]):016x}"


LINE4 = FabricSpec(
    "line4",
    ("s1", "s2", "s3", "s4"),
    (("s1", "s2"), ("s2", "s3"), ("s3", "s4")),
    {"h1": "s1", "h2": "s2", "h3": "s3", "h4": "s4", "h5": "s1", "h6": "s4"},
    {
        "red-a": ("red", "10.0.1.0/24", ("h1", "h4")),
        "red-b": ("red", "10.0.2.0/24", ("h5", "h3")),
        "blue-a": ("blue", "10.0.3.0/24", ("h2", "h6")),
    },
)

RING4 = FabricSpec(
    "ring4",
    ("s1", "s2", "s3", "s4"),
    (("s1", "s2"), ("s2", "s3"), ("s3", "s4"), ("s4", "s1")),
    {"h1": "s1", "h2": "s2", "h3": "s3", "h4": "s4", "h5": "s1", "h6": "s3"},
    {
        "red-a": ("red", "10.0.1.0/24", ("h1", "h2", "h3")),
        "red-b": ("red", "10.0.2.0/24", ("h5", "h4")),
        "blue-a": ("blue", "10.0.3.0/24", ("h6",)),
    },
)

LEAF_SPINE = FabricSpec(
    "leafspine",
    ("s1", "s2", "s3", "s4", "s5", "s6"),
    tuple((spine, leaf) for spine in ("s1", "s2") for leaf in ("s3", "s4", "s5", "s6")),
    {"h1": "s3", "h2": "s3", "h3": "s4", "h4": "s4", "h5": "s5", "h6": "s5", "h7": "s6", "h8": "s6"},
    {
        "red-a": ("red", "10.0.1.0/24", ("h1", "h3", "h7")),
        "red-b": ("red", "10.0.2.0/24", ("h2", "h5")),
        "blue-a": ("blue", "10.0.3.0/24", ("h4", "h6", "h8")),
    },
)

SPECS = {s.name: s for s in (LINE4, RING4, LEAF_SPINE)}


@dataclass
class FabricBed:
    spec: FabricSpec
    net: Any
    sc: Scenario = field(default_factory=Scenario)

    def switch_port(self, host: str) -> str:
        """The switch-side interface name of a host's link."""
        intf = self.net.get(host).defaultIntf()
        link = intf.link
        other = link.intf2 if link.intf1 is intf else link.intf1
        return str(other.name)


    def link_config(self) -> list[list[str]]:
        """The fabric's links as sdnapp's `topology.links` config: ends by datapath id and port name."""
        out = []
        for a, b in self.spec.links:
            [link] = self.net.linksBetween(self.net.get(a), self.net.get(b))
            ends = []
            for intf in (link.intf1, link.intf2):
                ends.append(f"{self.spec.dpid(intf.node.name)}/{intf.name}")
            out.append(ends)
        return out


def _host_mac(host: str) -> str:
    return f"02:00:00:00:01:{int(host[1:]):02x}"


def start_quiet(net: Any) -> None:
    """Build and start a Mininet network with checksum offloads off on every interface (with them on,
    TCP and UDP through the userspace datapath arrive with bad checksums and are dropped, while ping
    works) and no IPv6 chatter from the hosts."""
    net.build()
    net.start()
    for node in net.hosts + net.switches:
        for intf in node.intfList():
            if intf.name != "lo":
                node.cmd(f"ethtool -K {intf} tx off rx off >/dev/null 2>&1")
    for h in net.hosts:
        h.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1")


def build_net(spec: FabricSpec, of_port: int) -> FabricBed:
    from mininet.link import Link
    from mininet.net import Mininet
    from mininet.node import OVSSwitch, RemoteController

    _remove_stale_links(spec)
    net = Mininet(controller=None, autoSetMacs=False, autoStaticArp=False, build=False, waitConnected=False)
    net.addController(RemoteController("c0", ip="127.0.0.1", port=of_port))
    for s in spec.switches:
        net.addSwitch(s, cls=OVSSwitch, datapath="user", protocols="OpenFlow13", failMode="secure",
                      dpid=spec.dpid(s))
    for h, s in sorted(spec.hosts.items(), key=lambda x: int(x[0][1:])):
        net.addHost(h, ip=None, mac=_host_mac(h))
        net.addLink(h, s, cls=Link)
    for a, b in spec.links:
        net.addLink(a, b, cls=Link)
    start_quiet(net)
    return FabricBed(spec, net)


def _remove_stale_links(spec: FabricSpec) -> None:
    """Interfaces a killed run left behind: they would make Mininet fail to build."""
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    names = {line.split(": ")[1].split("@")[0] for line in out.splitlines() if ": " in line}
    for name in names:
        if any(name.startswith(f"{s}-eth") for s in spec.switches):
            subprocess.run(["ip", "link", "del", name], capture_output=True)


def wait_links(api_url: str, count: int, timeout: float = 30.0) -> float:
    """Wait until sdnapp uses `count` inter-switch links; returns the seconds it took."""
    admin = Client(api_url, "ops", admin=True)
    start = time.monotonic()
    while True:
        n = len(admin.get("/v1/links")["links"])
        if n == count:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{n} links in use after {timeout}s, expected {count}")
        time.sleep(0.1)


def provision(bed: FabricBed, api_url: str) -> Scenario:
    sc = bed.sc
    admin = Client(api_url, "ops", admin=True)
    for net_name, (tenant, prefix, hosts) in bed.spec.networks.items():
        c = Client(api_url, tenant)
        net = c.create_network(net_name, prefix)
        sc.networks[net_name] = net["id"]
        for h in hosts:
            hp = HostPlan(h, tenant, net_name, _host_mac(h), bed.switch_port(h))
            port = c.create_port(net["id"], f"{h}-port")
            vnic = c.create_vnic(hp.mac, f"{h}-eth0")
            c.plug(port["id"], vnic["id"])
            admin.bind(vnic["id"], bed.spec.dpid(bed.spec.hosts[h]), hp.switch_port)
            hp.port_id, hp.vnic_id, hp.ip = port["id"], vnic["id"], port["ip_address"]
            sc.hosts[h] = hp
    for h in bed.net.hosts:
        hp = sc.hosts[h.name]
        intf = h.defaultIntf()
        h.cmd(f"ip addr flush dev {intf}")
        h.cmd(f"ip addr add {hp.ip}/{PREFIX_LEN} dev {intf}")
        h.cmd(f"ip link set {intf} up")
    return sc


def outage(host: Any, ip: str, action: Any, interval: float = 0.02, settle: float = 1.0,
           after: float = 4.0) -> tuple[float, int, int]:
    """Ping `ip` fast from `host` while `action()` runs; (longest gap between replies in s, sent, received)."""
    count = int((settle + after) / interval)
    p = host.popen(["ping", "-D", "-n", "-i", str(interval), "-W", "1", "-c", str(count), ip],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(settle)
    action()
    out, _ = p.communicate(timeout=settle + after + 10)
    stamps = [
        float(line.split("]")[0][1:]) for line in out.splitlines() if line.startswith("[") and "bytes from" in line
    ]
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return (max(gaps) if gaps else float("inf")), count, len(stamps)


@contextmanager
def running(spec: FabricSpec, workdir: Path, api_port: int, of_port: int,
            log_level: str = "INFO") -> Iterator[tuple[SdnappProcess, FabricBed]]:
    """sdnapp (LLDP every 0.5 s) and the fabric, links discovered, provisioned, every port ACTIVE."""
    proc = SdnappProcess(workdir, api_port=api_port, of_ports=(of_port,),
                         extra={"topology": {"lldp_interval": 0.5}, "logging": {"level": log_level}})
    proc.start()
    bed = None
    try:
        bed = build_net(spec, of_port)
        wait_links(proc.url, len(spec.links))
        sc = provision(bed, proc.url)
        Client(proc.url, "ops", admin=True).wait_status([h.port_id for h in sc.hosts.values()], timeout=30)
        yield proc, bed
    finally:
        if bed is not None:
            bed.net.stop()
        proc.stop()


LLDP_INTERVAL = 0.5  # what `running` configures


def far_pair(spec: FabricSpec) -> tuple[str, str]:
    """Two hosts of one network whose switches are furthest apart: their traffic crosses the most links."""
    adj: dict[str, set[str]] = {s: set() for s in spec.switches}
    for a, b in spec.links:
        adj[a].add(b)
        adj[b].add(a)

    def hops(a: str, b: str) -> int:
        seen, frontier, n = {a}, {a}, 0
        while b not in frontier:
            frontier = {y for x in frontier for y in adj[x]} - seen
            seen |= frontier
            n += 1
        return n

    pairs = [(x, y) for _, _, hosts in spec.networks.values() for x in hosts for y in hosts if x < y]
    return max(pairs, key=lambda p: (hops(spec.hosts[p[0]], spec.hosts[p[1]]), p))


def our_flows(spec: FabricSpec) -> dict[tuple[str, tuple[int, int, int, str, str]], float]:
    """Every flow of sdnapp's on the fabric's switches -> its age in seconds."""
    return {(s, f.identity): f.duration for s in spec.switches for f in dump_flows(s) if f.ours}


@dataclass
class Restart:
    """What one restart of sdnapp did to a fabric under a 20 ms ping."""

    sent: int
    received: int
    replaced: list[str]  # flows of ours removed, added, or younger than the restart
    flow_mods: int  # what the restarted process reports having sent to the switches
    active_after: float  # seconds from the stop until every port was ACTIVE again


def restart_under_ping(proc: SdnappProcess, bed: FabricBed, sig: int, watch: float = 4 * LLDP_INTERVAL) -> Restart:
    """Stop sdnapp with `sig`, start it again, and watch until `watch` seconds after every port is ACTIVE:
    past rediscovery of the links, where a restart that forgot the fabric would rewrite its flows."""
    src, dst = far_pair(bed.spec)
    admin = Client(proc.url, "ops", admin=True)
    before = our_flows(bed.spec)
    pinger = bed.net.get(src).popen(["ping", "-n", "-i", "0.02", "-W", "1", bed.sc.hosts[dst].ip],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.stop(sig)
        proc.start()
        admin.wait_status([h.port_id for h in bed.sc.hosts.values()], timeout=60)
        active_after = time.monotonic() - t0
        time.sleep(watch)
        after = our_flows(bed.spec)
    finally:
        pinger.send_signal(signal.SIGINT)  # ping prints its statistics and exits
        out, _ = pinger.communicate(timeout=10)
    sent, received = ping_counts(out)
    replaced = sorted(
        f"{sw}: {ident}" for (sw, ident) in set(before) ^ set(after)
    ) + sorted(f"{sw}: {ident} is younger" for (sw, ident), age in after.items()
               if (sw, ident) in before and age < before[(sw, ident)])
    flow_mods = sum(s["flows"]["flow_mods_sent"] for s in admin.get("/v1/switches")["switches"])
    return Restart(sent, received, replaced, flow_mods, active_after)


def ping_counts(out: str) -> tuple[int, int]:
    """(sent, answered) of an interrupted `ping`: the one request in flight when it was interrupted
    is not counted as lost (ping counts it as sent), any other missing reply is."""
    m = re.search(r"(\d+) packets transmitted", out)
    seqs = {int(x) for x in re.findall(r"icmp_seq=(\d+)", out)}
    if m is None or not seqs:
        return (int(m.group(1)) if m else 0), 0
    transmitted, last = int(m.group(1)), max(seqs)
    sent = transmitted - 1 if transmitted == last + 1 else transmitted
    return sent, len(seqs)


def reroute_after_restart(proc: SdnappProcess, bed: FabricBed, link: tuple[str, str], src: str, dst: str) -> float:
    """sdnapp is killed, `link` (on the path from `src` to `dst`) goes down while it is away, sdnapp starts:
    seconds from the start until `src` reaches `dst` again (the switches kept the path through the link)."""
    proc.stop(signal.SIGKILL)
    bed.net.configLinkStatus(*link, "down")
    t0 = time.monotonic()
    proc.start()
    host, ip = bed.net.get(src), bed.sc.hosts[dst].ip
    while "1 received" not in host.cmd(f"ping -n -c 1 -W 0.2 {ip}"):
        if time.monotonic() - t0 > 30:
            raise TimeoutError(f"{src} does not reach {dst} 30 s after sdnapp restarted without link {link}")
    return time.monotonic() - t0
