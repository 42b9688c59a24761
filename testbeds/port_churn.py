"""Port churn trials: interfaces come and go while sdnapp starts or a switch reconnects (issue 16).

Three VXLAN hypervisors, sdnapp managing their tunnel ports. Each hypervisor has a
few interfaces carrying the iface-id of a plugged VNIC. A trial is one of:
- `start`: sdnapp is killed; meanwhile a hypervisor loses its tunnel port and some
  interfaces; sdnapp starts again (and puts the tunnel port back over OVSDB) while the
  interfaces are added back one by one, a few milliseconds apart;
- `reconnect`: a hypervisor's switch loses its OpenFlow connection (its connection
  to sdnapp is cut) while interfaces are deleted and added back, and its tunnel port
  with them.
After each trial every port whose interface is there must turn ACTIVE, and the ports
sdnapp reports for each switch must equal the switch's own (`ovs-ofctl dump-ports-desc`).

Run as root after scripts/setup.sh: `python -m testbeds.port_churn --trials 100`.
"""

from __future__ import annotations

import argparse
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import vxlan as vx
from .client import Client
from .hypervisors import Hypervisor, HypervisorBed, sh
from .process import SdnappProcess

API_PORT = 19760
OF_PORT = 16760
PER_HV = 10  # interfaces per hypervisor
TUNNEL = "vxlan0"
KINDS = ("start", "reconnect")


@dataclass
class Iface:
    name: str
    hv: Hypervisor
    vnic_id: str
    port_id: str
    present: bool = True


@dataclass
class Bed:
    hvs: HypervisorBed
    proc: SdnappProcess
    admin: Client
    ifaces: list[Iface] = field(default_factory=list)


def add_iface(i: Iface) -> None:
    i.hv.vsctl("--may-exist", "add-port", "br-int", i.name, "--", "set", "Interface", i.name, "type=internal",
               f"external_ids:iface-id={i.vnic_id}", "external_ids:iface-status=active")
    sh("ip", "link", "set", i.name, "up", ns=i.hv.ns)
    i.present = True


def del_iface(i: Iface) -> None:
    i.hv.vsctl("--if-exists", "del-port", "br-int", i.name)
    i.present = False


def switch_ports(hv: Hypervisor) -> dict[int, tuple[str, bool]]:
    """The switch's own port list: number -> (name, up), as `ovs-ofctl dump-ports-desc` shows it."""
    out: dict[int, tuple[str, bool]] = {}
    current: int | None = None
    config = ""
    for line in hv.ofctl("dump-ports-desc").splitlines():
        m = re.match(r"^\s*(\d+)\((.+)\): addr:", line)
        if m:
            current, name = int(m.group(1)), m.group(2)
            out[current] = (name, True)
            continue
        if re.match(r"^\s*LOCAL\(", line):
            current = None
        elif current is not None and line.strip().startswith("config:"):
            config = line
        elif current is not None and line.strip().startswith("state:"):
            out[current] = (out[current][0], "PORT_DOWN" not in config and "LINK_DOWN" not in line)
    return out


def problems(bed: Bed) -> list[str]:
    """What is not as it should be now (empty when converged)."""
    switches = bed.admin.get("/v1/switches")["switches"]
    reported = {s["datapath_id"]: {p["port_no"]: (p["name"], p["up"]) for p in s["ports"]} for s in switches}
    out = [f"{s['datapath_id']} is not connected" for s in switches if not s["connected"]]
    for hv in bed.hvs.hvs:
        own = switch_ports(hv)
        if reported.get(hv.dpid) != own:
            out.append(f"hv{hv.index}: sdnapp reports {reported.get(hv.dpid)}, the switch has {own}")
    for i in bed.ifaces:
        status = bed.admin.port(i.port_id)["status"]
        if status != ("ACTIVE" if i.present else "DOWN"):
            out.append(f"{i.name} on hv{i.hv.index} (present: {i.present}) is {status}")
    return out


def converge(bed: Bed, timeout: float) -> tuple[float, list[str]]:
    """Seconds until no problem is left, or the problems left after `timeout`."""
    start = time.monotonic()
    while True:
        left = problems(bed)
        if not left:
            return time.monotonic() - start, []
        if time.monotonic() - start > timeout:
            return time.monotonic() - start, left
        time.sleep(0.1)


def churn(ifaces: list[Iface], rng: random.Random, start: float, end: float) -> threading.Thread:
    """A thread that adds each of `ifaces` back at a random moment between `start` and `end` seconds from now.

    The moments are spread so that some interface's last event is likely to fall while a
    switch's port list is being read and installed.
    """
    t0 = time.monotonic()
    plan = sorted((rng.uniform(start, end), n) for n in range(len(ifaces)))

    def run() -> None:
        for at, n in plan:
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            add_iface(ifaces[n])

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def cut_openflow(hv: Hypervisor) -> None:
    """Drop the switch's OpenFlow connection: its forwarder's per-connection children die, the
    switch reconnects through the listener that stays (the flows stay: fail-mode secure)."""
    assert hv.socat is not None
    subprocess.run(["pkill", "-KILL", "-P", str(hv.socat.pid)], check=False)


def trial(bed: Bed, kind: str, rng: random.Random) -> list[str]:
    if kind == "start":
        # As in the field: sdnapp comes back and puts every tunnel port back over OVSDB while the
        # switches connect; the compute side plugs interfaces meanwhile.
        bed.proc.stop(signal.SIGKILL)
        gone = [i for hv in bed.hvs.hvs for i in rng.sample(_on(bed, hv), k=PER_HV // 2)]
        for hv in bed.hvs.hvs:
            hv.vsctl("--if-exists", "del-port", "br-int", TUNNEL)
        for i in gone:
            del_iface(i)
        adder = churn(gone, rng, 0.0, 3.0)  # OVS retries its controller 1 to 2 s after sdnapp went
        bed.proc.start()
    else:
        hv = rng.choice(bed.hvs.hvs)
        gone = rng.sample(_on(bed, hv), k=PER_HV // 2)
        for i in gone:
            del_iface(i)
        hv.vsctl("--if-exists", "del-port", "br-int", TUNNEL)  # sdnapp puts it back over OVSDB
        cut_openflow(hv)
        adder = churn(gone, rng, 0.3, 2.5)  # the switch reconnects about 1 s after the cut
    adder.join(30)
    _, left = converge(bed, timeout=20)
    return left


def _on(bed: Bed, hv: Hypervisor) -> list[Iface]:
    return [i for i in bed.ifaces if i.hv is hv]


def setup(base: Path, api_port: int = API_PORT, of_port: int = OF_PORT) -> Bed:
    hvs = HypervisorBed(base / "hv", of_port)
    hvs.start()
    proc = SdnappProcess(base / "sdnapp", api_port=api_port, of_ports=(of_port,), extra=vx.sdnapp_config(hvs))
    bed = Bed(hvs, proc, Client(proc.url, "ops", admin=True))
    try:
        proc.start()
        c = Client(proc.url, "churn")
        net = c.create_network("churn", "10.9.0.0/24")
        for hv in hvs.hvs:
            for n in range(PER_HV):
                port, vnic = c.create_port(net["id"]), c.create_vnic()
                c.plug(port["id"], vnic["id"])
                i = Iface(f"c{hv.index}x{n}", hv, vnic["id"], port["id"])
                add_iface(i)
                bed.ifaces.append(i)
        waited, left = converge(bed, timeout=30)
        if left:
            raise RuntimeError(f"the churn bed did not settle: {left}")
        return bed
    except Exception:
        teardown(bed)
        raise


def teardown(bed: Bed) -> None:
    try:
        bed.proc.stop()
    finally:
        bed.hvs.stop()


def run_trials(base: Path, trials: int, seed: int, kinds: tuple[str, ...] = KINDS) -> dict[str, list[list[str]]]:
    """Per kind, the problems each trial left (an empty list: that trial converged)."""
    rng = random.Random(seed)
    bed = setup(base)
    results: dict[str, list[list[str]]] = {k: [] for k in kinds}
    try:
        for n in range(trials):
            kind = kinds[n % len(kinds)]
            results[kind].append(trial(bed, kind, rng))
    finally:
        print(bed.proc.log()[-2000:], file=sys.stderr)
        teardown(bed)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not 1 <= args.trials <= 10000:
        ap.error("--trials must be 1 to 10000")
    with tempfile.TemporaryDirectory(prefix="sdnapp-churn-") as tmp:
        results = run_trials(Path(tmp), args.trials, args.seed)
    bad = 0
    for kind, runs in results.items():
        lost = [r for r in runs if r]
        bad += len(lost)
        print(f"{kind}: {len(runs)} trials, {len(lost)} left a port lost or misreported")
        for r in lost[:5]:
            print("  " + "; ".join(r)[:500])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
