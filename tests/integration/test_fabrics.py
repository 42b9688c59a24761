"""Networks spanning fabrics of real OVS switches in Mininet: a line, a ring (a loop), a leaf-spine.

Links are discovered by sdnapp's LLDP; the real sdnapp process is driven over HTTP.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testbeds import fabric as fb
from testbeds import single_switch as ss
from testbeds.client import Client
from testbeds.process import SdnappProcess

from .capture import Capture

API_PORT = 19697
OF_PORT = 16654


@dataclass
class Fab:
    bed: fb.FabricBed
    proc: SdnappProcess
    admin: Client


@pytest.fixture(scope="module", params=["line4", "ring4", "leafspine"])
def fab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fab]:
    if shutil.which("ovs-vsctl") is None or subprocess.run(["ovs-vsctl", "show"], capture_output=True).returncode:
        pytest.fail("Open vSwitch is not running: run scripts/setup.sh (as root) first")
    spec = fb.SPECS[request.param]
    workdir: Path = tmp_path_factory.mktemp(spec.name)
    with fb.running(spec, workdir, API_PORT, OF_PORT) as (proc, bed):
        try:
            yield Fab(bed, proc, Client(proc.url, "ops", admin=True))
        finally:
            print(proc.log()[-3000:])


def test_ping_matrix_same_network_only(fab: Fab) -> None:
    sc = fab.bed.sc
    m = ss.ping_matrix(fab.bed.net, sc)
    assert ss.matrix_holds(sc, m) == [], ss.format_matrix(sc, m)
    assert any(m.values())


def test_links_are_discovered_and_shown(fab: Fab) -> None:
    links = fab.admin.get("/v1/links")
    assert len(links["links"]) == len(fab.bed.spec.links)
    assert {x["source"] for x in links["links"]} == {"discovered"}
    assert links["problems"] == []
    switches = fab.admin.get("/v1/switches")["switches"]
    assert len(switches) == len(fab.bed.spec.switches) and all(s["connected"] for s in switches)


def test_broadcast_reaches_each_host_of_its_network_once(fab: Fab) -> None:
    sc, net = fab.bed.sc, fab.bed.net
    for sender, hp in sorted(sc.hosts.items()):
        others = [h for h in sc.hosts if h != sender]
        marker = f"BCAST-{sender}"
        cap = Capture([net.get(h) for h in others], f"udp port 4242 and ether src {hp.mac}")
        node = net.get(sender)
        out = node.cmd(
            f"{sys.executable} -m testbeds.craft --iface {node.defaultIntf()} --src {hp.mac} "
            f"--ip-src {hp.ip} --dst ff:ff:ff:ff:ff:ff --count 1 --marker {marker}"
        )
        assert "Traceback" not in out, out
        seen = cap.stop()
        for h in others:
            want = 1 if sc.same_network(sender, h) else 0
            assert len(seen[h]) == want, f"{sender}'s broadcast seen {len(seen[h])} times on {h}: {seen[h]}"


def _ring_or_leafspine(fab: Fab) -> None:
    if fab.bed.spec.name == "line4":
        pytest.skip("a line has no second path")


def test_traffic_moves_to_another_path_when_a_link_fails(fab: Fab) -> None:
    _ring_or_leafspine(fab)
    sc, net = fab.bed.sc, fab.bed.net
    # Two hosts of one network on switches joined directly (ring) or through spine s1 (leaf-spine).
    src, dst, link = ("h1", "h2", ("s1", "s2")) if fab.bed.spec.name == "ring4" else ("h1", "h3", ("s3", "s1"))
    assert sc.same_network(src, dst)
    before = len(fab.admin.get("/v1/links")["links"])
    try:
        gap, sent, received = fb.outage(net.get(src), sc.hosts[dst].ip, lambda: net.configLinkStatus(*link, "down"))
        assert received > sent / 2, f"only {received} of {sent} pings answered: traffic did not resume"
        assert gap < 3.0, f"traffic stopped for {gap:.2f}s"
        assert len(fab.admin.get("/v1/links")["links"]) == before - 1
        m = ss.ping_matrix(net, sc)
        assert ss.matrix_holds(sc, m) == [], ss.format_matrix(sc, m)
    finally:
        net.configLinkStatus(*link, "up")
    fb.wait_links(fab.proc.url, before)
    assert ss.ping(net, src, sc.hosts[dst].ip, count=3)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_restart_loses_no_ping_and_keeps_every_flow(fab: Fab, sig: int) -> None:
    # Watched for 4 LLDP intervals after every port is ACTIVE: past rediscovery of the links, where
    # a restart that forgot the fabric replaced its trunk and remote-VNIC flows.
    r = fb.restart_under_ping(fab.proc, fab.bed, sig)
    assert r.sent > 100 and r.received == r.sent, f"{r.sent - r.received} of {r.sent} pings lost across the restart"
    assert r.replaced == [], "flows replaced by the restart:\n" + "\n".join(r.replaced)
    assert r.flow_mods == 0
    assert len(fab.admin.get("/v1/links")["links"]) == len(fab.bed.spec.links)


def test_a_link_lost_while_sdnapp_was_away_is_routed_around(fab: Fab) -> None:
    _ring_or_leafspine(fab)
    src, dst, link = ("h1", "h2", ("s1", "s2")) if fab.bed.spec.name == "ring4" else ("h1", "h3", ("s3", "s1"))
    before = len(fab.admin.get("/v1/links")["links"])
    try:
        took = fb.reroute_after_restart(fab.proc, fab.bed, link, src, dst)
        print(f"{fab.bed.spec.name}: {src} reaches {dst} again {took:.2f}s after sdnapp started without {link}")
        assert len(fab.admin.get("/v1/links")["links"]) == before - 1
        m = ss.ping_matrix(fab.bed.net, fab.bed.sc)
        assert ss.matrix_holds(fab.bed.sc, m) == [], ss.format_matrix(fab.bed.sc, m)
    finally:
        fab.bed.net.configLinkStatus(*link, "up")
    fb.wait_links(fab.proc.url, before)
    assert ss.ping(fab.bed.net, src, fab.bed.sc.hosts[dst].ip, count=3)
