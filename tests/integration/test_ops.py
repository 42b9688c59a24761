"""For the people who run it, against the real process and a ring of four real OVS switches in Mininet:
the trace's verdicts agree with real packets (and with each switch's own ofproto/trace), the CLI, the
metrics, the live page in a real browser (headless Chromium driven by Selenium), and a switch that lacks
what the pipeline needs.

`SDNAPP_SCREENSHOT=docs/ui.png` keeps the page's screenshot there (the README shows it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testbeds import fabric as fb
from testbeds.client import Client
from testbeds.process import SdnappProcess

from .capture import Capture

API_PORT = 19820
OF_PORT = 16820
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SDNAPP = str(Path(sys.executable).with_name("sdnapp"))


@dataclass
class Ops:
    bed: fb.FabricBed
    proc: SdnappProcess
    admin: Client

    def at(self) -> dict[tuple[str, int], str]:
        """(datapath id, switch port number) -> the host bound there."""
        by_vnic = {h.vnic_id: name for name, h in self.bed.sc.hosts.items()}
        return {(v["binding"]["datapath_id"], v["binding"]["port_no"]): by_vnic[v["id"]]
                for v in self.admin.get("/v1/vnics")["vnics"] if v["id"] in by_vnic and v["binding"]}

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SDNAPP, *argv, "--url", self.proc.url], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    if shutil.which("ovs-vsctl") is None or subprocess.run(["ovs-vsctl", "show"], capture_output=True).returncode:
        pytest.fail("Open vSwitch is not running: run scripts/setup.sh (as root) first")
    workdir: Path = tmp_path_factory.mktemp("ops")
    with fb.running(fb.RING4, workdir, API_PORT, OF_PORT) as (proc, bed):
        try:
            yield Ops(bed, proc, Client(proc.url, "ops", admin=True))
        finally:
            print(proc.log()[-3000:])


def wait_for(what: str, check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout}s")
        time.sleep(0.1)


# the trace against real packets ---------------------------------------------------------------------------

CASES = {
    # name: (sender, receiver, spoofed source MAC of, expected outcome, rule)
    "delivered": ("h1", "h3", None, "delivered", None),  # red-a, s1 -> s3: two links of the ring
    "isolated": ("h1", "h6", None, "dropped", "isolation"),  # blue-a's VNIC on s3
    "spoofed": ("h1", "h3", "h5", "dropped", "anti-spoofing"),  # h5's MAC (red-b, on s1 too)
}


@pytest.mark.parametrize("case", CASES)
def test_the_trace_agrees_with_real_packets_and_with_the_switches(ops: Ops, case: str) -> None:
    sender, receiver, spoof, outcome, rule = CASES[case]
    hosts, net = ops.bed.sc.hosts, ops.bed.net
    src, dst = hosts[sender], hosts[receiver]
    src_mac = hosts[spoof].mac if spoof else src.mac
    q = f"?from={src.port_id}&to={dst.mac}" + (f"&eth_src={src_mac}" if spoof else "")
    trace = ops.admin.get("/v1/trace" + q)["trace"]
    assert (trace["verdict"]["outcome"], trace["verdict"]["rule"]) == (outcome, rule), trace["verdict"]
    at = ops.at()
    meant = {at[(h["datapath_id"], o["port"])] for h in trace["hops"] for o in h["outputs"] if o["kind"] == "port"}

    # The same frame, for real: who receives it is who the trace says.
    others = [name for name in hosts if name != sender]
    cap = Capture([net.get(h) for h in others], "udp port 4242")
    node = net.get(sender)
    out = node.cmd(f"{sys.executable} -m testbeds.craft --iface {node.defaultIntf()} --src {src_mac} "
                   f"--dst {dst.mac} --ip-src {src.ip} --ip-dst {dst.ip} --count 2 --marker TRACE-{case}")
    assert "Traceback" not in out, out
    seen = {h for h, lines in cap.stop().items() if lines}
    assert seen == meant, f"{case}: the trace says {sorted(meant)}, the real frame reached {sorted(seen)}"
    assert (receiver in seen) == (outcome == "delivered")

    # And each switch, asked itself (ofproto/trace), does what sdnapp means at every hop.
    got = ops.cli("trace", "--from", src.port_id, "--to", dst.mac, "--compare", "-f", "json",
                  *(["--src-mac", src_mac] if spoof else []))
    assert got.returncode == 0, got.stderr + got.stdout
    compared = json.loads(got.stdout)["compare"]
    assert len(compared) == len(trace["hops"]) and all(c["bridge"] for c in compared), compared
    assert [c["differences"] for c in compared] == [[]] * len(compared), compared


# the CLI and the metrics ----------------------------------------------------------------------------------


def test_the_cli_against_the_running_process(ops: Ops) -> None:
    sc = ops.bed.sc
    got = ops.cli("status")
    assert got.returncode == 0 and "4 of 4 connected" in got.stdout and "4 of 4 up" in got.stdout, got.stdout
    got = ops.cli("switches", "-f", "json")
    assert got.returncode == 0
    switches = json.loads(got.stdout)["switches"]
    assert [s["capabilities"]["openflow_version"] for s in switches] == ["1.3"] * 4
    assert all(s["capabilities"]["supported"] and s["capabilities"]["meters"] for s in switches)
    got = ops.cli("ports", "--network", sc.networks["red-a"])
    assert got.returncode == 0 and got.stdout.count("ACTIVE") == 3, got.stdout
    got = ops.cli("flows", "--port", sc.hosts["h1"].port_id)
    assert got.returncode == 0 and "admit untagged IPv4" in got.stdout and "MISSING" not in got.stdout, got.stdout
    # A port unplugged and plugged again, waiting for ACTIVE with progress.
    h2 = sc.hosts["h2"]
    assert ops.cli("port", "unplug", h2.port_id).returncode == 0
    got = ops.cli("port", "plug", h2.port_id, "--vnic", h2.vnic_id, "--wait", "--timeout", "20")
    assert got.returncode == 0 and "ACTIVE" in got.stdout, got.stdout + got.stderr
    got = ops.cli("port", "show", "3f1e0c56-0000-4000-8000-000000000000")
    assert got.returncode == 1 and "404 PortNotFound" in got.stderr


def test_metrics_scrape(ops: Ops) -> None:
    import urllib.request

    with urllib.request.urlopen(ops.proc.url + "/metrics", timeout=5) as r:  # noauth: no credentials asked
        text = r.read().decode()

    def value(pattern: str) -> float:
        m = re.search(pattern + r" ([0-9.e+]+)$", text, re.M)
        assert m is not None, pattern
        return float(m.group(1))

    assert value(r'sdnapp_switches\{state="connected"\}') == 4
    assert value(r'sdnapp_links\{source="discovered"\}') == 4
    assert value(r'sdnapp_ports\{status="ACTIVE"\}') == len(ops.bed.sc.hosts)
    assert value(r'sdnapp_flow_mods_total\{command="add",datapath_id="0000000000000001"\}') > 0
    assert value(r'sdnapp_barrier_round_trip_seconds_count\{datapath_id="0000000000000003"\}') > 0
    assert value(r'sdnapp_packet_ins_total\{kind="lldp",reason="action"\}') > 0
    assert value(r'sdnapp_reconcile_jobs_total\{kind="connect",outcome="ok"\}') >= 4
    assert value(r'sdnapp_api_requests_total\{method="PUT",route="/v1/ports/\{port_id\}/attachment",'
                 r'status="200"\}') > 0
    assert value(r'sdnapp_store_transaction_seconds_count\{kind="write"\}') > 0


def test_compare_finds_a_flow_the_switch_lost(ops: Ops) -> None:
    h1, h3 = ops.bed.sc.hosts["h1"], ops.bed.sc.hosts["h3"]
    dump = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "s3", f"dl_dst={h3.mac}"],
                          capture_output=True, text=True, check=True).stdout
    victim = next(line for line in dump.splitlines() if "table=1" in line and "priority=100" in line)
    match = re.search(r"priority=100,([^ ]+)", victim)
    assert match is not None, victim
    subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "--strict", "del-flows", "s3", f"table=1,priority=100,"
                    f"{match.group(1)}"], check=True)
    try:
        got = ops.cli("trace", "--from", h1.port_id, "--to", h3.ip, "--compare")
        assert got.returncode == 1, got.stdout + got.stderr
        assert "the switch does" in got.stdout and "0000000000000003" in got.stdout, got.stdout
    finally:
        # A restart reads each switch back and puts the lost flow back.
        ops.proc.stop()
        ops.proc.start()
        ops.admin.wait_status([h.port_id for h in ops.bed.sc.hosts.values()], timeout=30)
        fb.wait_links(ops.proc.url, len(ops.bed.spec.links))
    assert ops.cli("trace", "--from", h1.port_id, "--to", h3.ip, "--compare").returncode == 0


# the live page in a real browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.fail("Debian's chromium and chromium-driver are not installed: run scripts/setup.sh first")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="sdnapp-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # The machine's network is closed: no background fetches, no updates, a fresh profile.
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,900", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    # The driver's path is given: Selenium Manager (which would download one) is never asked.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _page(driver: Any) -> dict[str, Any]:
    """What the page shows: switches, links by key with state, port circles by port id with status and colour."""
    return dict(driver.execute_script("""
        const q = (s) => [...document.querySelectorAll(s)];
        return {
          switches: q('g.switch').map((g) => g.dataset.dpid),
          links: Object.fromEntries(q('line.link').map((l) => [l.dataset.link, l.dataset.state])),
          linkColours: Object.fromEntries(q('line.link').map((l) => [l.dataset.link, getComputedStyle(l).stroke])),
          ports: Object.fromEntries(q('circle.port').map((c) => [c.dataset.portId,
                                                                [c.dataset.status, getComputedStyle(c).fill]])),
          pwned: window.__pwned === undefined ? null : window.__pwned,
          text: document.body.innerText,
        };"""))


RED = "rgb(214, 39, 40)"


def test_the_live_page_in_a_real_browser(ops: Ops, browser: Any) -> None:
    sc, net = ops.bed.sc, ops.bed.net
    hostile = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">"
    ops.admin.as_project("mallory").create_network(hostile)
    browser.get(ops.proc.url + "/ui/")
    page = wait_for("every switch, link and port on the page", lambda: (
        p if len((p := _page(browser))["switches"]) == 4 and len(p["links"]) == 4 and len(p["ports"]) == len(sc.hosts)
        else None))
    assert sorted(page["switches"]) == [ops.bed.spec.dpid(s) for s in ops.bed.spec.switches]
    assert set(page["links"].values()) == {"up"}
    assert {status for status, _ in page["ports"].values()} == {"ACTIVE"}
    assert hostile in page["text"] and page["pwned"] is None  # a name is text, never markup

    # A port goes DOWN: its host's interface loses carrier; the page turns it red within seconds.
    h2 = sc.hosts["h2"]
    node = net.get("h2")
    node.cmd(f"ip link set {node.defaultIntf()} down")
    try:
        started = time.monotonic()
        wait_for("h2's port DOWN on the page", lambda: _page(browser)["ports"][h2.port_id] == ["DOWN", RED], 5)
        print(f"port DOWN shown after {time.monotonic() - started:.2f}s")
        # A link taken down shows as down (and stays drawn, red, once LLDP stops seeing it).
        key = _link_key(ops, "s1", "s2")
        net.configLinkStatus("s1", "s2", "down")
        started = time.monotonic()
        wait_for("the s1-s2 link down on the page", lambda: _page(browser)["links"].get(key) == "down", 5)
        print(f"link down shown after {time.monotonic() - started:.2f}s")
        time.sleep(2.5)  # past LLDP's expiry: the link is no longer reported, and still shown as down
        page = _page(browser)
        assert page["links"][key] == "down" and page["linkColours"][key] == RED
        _screenshot(browser)
    finally:
        net.configLinkStatus("s1", "s2", "up")
        node.cmd(f"ip link set {node.defaultIntf()} up")
    ops.admin.wait_status([h2.port_id], timeout=15)
    fb.wait_links(ops.proc.url, len(ops.bed.spec.links))
    wait_for("everything up again on the page", lambda: set(_page(browser)["links"].values()) == {"up"}
             and _page(browser)["ports"][h2.port_id][0] == "ACTIVE", 10)


def _link_key(ops: Ops, a: str, b: str) -> str:
    dp = {ops.bed.spec.dpid(a), ops.bed.spec.dpid(b)}
    for lk in ops.admin.get("/v1/links")["links"]:
        if {lk["src"]["datapath_id"], lk["dst"]["datapath_id"]} == dp:
            s, d = lk["src"], lk["dst"]
            return f"{s['datapath_id']}/{s['port_no']}|{d['datapath_id']}/{d['port_no']}"
    raise AssertionError(f"no link {a}-{b}")


def _screenshot(browser: Any) -> None:
    keep = os.environ.get("SDNAPP_SCREENSHOT")
    path = Path(keep) if keep else Path(tempfile.gettempdir()) / "sdnapp-ui.png"
    assert browser.save_screenshot(str(path)), path
    print(f"screenshot: {path}")


# a switch that lacks what the pipeline needs -------------------------------------------------------------


def test_a_switch_speaking_only_openflow_1_0_is_reported_and_left_alone(ops: Ops) -> None:
    bridge, dpid = "opsof10", "00000000000000f0"
    subprocess.run(["ovs-vsctl", "--may-exist", "add-br", bridge, "--", "set", "bridge", bridge,
                    "datapath_type=netdev", "fail-mode=secure", "protocols=OpenFlow10",
                    f"other-config:datapath-id={dpid}", "--", "set-controller", bridge,
                    f"tcp:127.0.0.1:{OF_PORT}"], check=True)
    try:
        def reported() -> dict[str, Any] | None:
            s = next((s for s in ops.admin.get("/v1/switches")["switches"] if s["datapath_id"] == dpid), None)
            return s if s and "capabilities" in s else None

        s = wait_for("the OpenFlow 1.0 switch in /v1/switches", reported, 15)
        caps = s["capabilities"]
        assert (s["connected"], caps["supported"], caps["openflow_version"]) == (False, False, "1.0")
        assert "OpenFlow 1.3" in caps["missing"][0]
        time.sleep(1.5)  # what a controller would have sent by now
        flows = subprocess.run(["ovs-ofctl", "-O", "OpenFlow10", "dump-flows", bridge], capture_output=True,
                               text=True, check=True).stdout
        assert "cookie=0x5d4e" not in flows and "actions=" not in flows, flows
        got = ops.cli("status")
        assert "lacks OpenFlow 1.3" in got.stdout, got.stdout
    finally:
        subprocess.run(["ovs-vsctl", "--if-exists", "del-br", bridge], check=True)
