"""The benchmark: sdnapp beside OVN at growing sizes, on the same machine, one after the other.

Run as root after scripts/setup.sh:

    .venv/bin/python -m testbeds.bench --sizes 100,1000,10000 --switches 1 --product both

For each size N (ports, over N/10 networks, spread over the switches) and each product:
- bulk: every network and port created and bound as fast as the API takes them; time until all
  are ready (sdnapp: 4 REST calls per port from 4 concurrent clients, or with --sdnapp-batch N
  one POST /v1/plugged-ports per N ports; OVN: one NB transaction per logical port with addresses
  and port security, or N per transaction with --ovn-batch N);
- one more port with N present (median, p90, p99 of --samples trials): the call that makes the
  port live (sdnapp: plug, the VNIC already bound; OVN: lsp-add, its interface already there)
  until the switch confirmed its flows; for OVN also until `ovn-nbctl --wait=hv` returned;
- cost: flows per switch, resident memory (sdnapp: its process; OVN: NB and SB ovsdb-servers,
  northd, ovn-controllers), CPU seconds per 1,000 ports spent in the bulk scenario;
- restart: the controller SIGKILLed (sdnapp, or every ovn-controller) and started again; time
  until every switch is reconciled, flows re-added (flows younger than the kill, counted on the
  switches), how long any switch held fewer flows than before, and flow-mods sdnapp says it sent.
Interfaces are made before anything is timed (OVS takes seconds per thousand; see
testbeds/hypervisors.py). A benchmark: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from .bench_peers import Layout, OvnPeer, Peer, SdnappPeer
from .hypervisors import Hypervisor, HypervisorBed
from .procstat import FlowWatch, cpu_seconds, durations, flow_count, rss_mib, wait_idle
from .stats import percentile

API_PORT, OF_PORT = 29701, 26701


@dataclass
class Figures:
    ready: list[float] = field(default_factory=list)  # one more port, seconds
    wait_hv: list[float] = field(default_factory=list)
    bulk_api: float = 0.0
    bulk_ready: float = 0.0
    bulk_calls: int = 0
    flows: list[int] = field(default_factory=list)
    rss: float = 0.0
    cpu_per_1000: float = 0.0
    restart: float | None = 0.0
    restart_timeout: float | None = None  # set when the restart was not done within it
    restart_flow_mods: int | None = None
    restart_readded: int = 0
    restart_short: float = 0.0
    echo_rtt: float = 0.0  # the switches' own OpenFlow echo round trip, median over them


def run(peer: Peer, layout: Layout, base: Path, restart_timeout: float) -> Figures:
    fig = Figures()
    try:
        peer.setup(base, layout)
        hvs = peer.hypervisors
        wait_idle(peer.pids() + [hv.vswitchd_pid() for hv in hvs])
        cpu0 = cpu_seconds(peer.pids())
        bulk = peer.bulk()
        fig.cpu_per_1000 = (cpu_seconds(peer.pids()) - cpu0) / (layout.ports / 1000)
        fig.bulk_api, fig.bulk_ready, fig.bulk_calls = bulk.api_seconds, bulk.ready_seconds, bulk.calls
        for k in range(layout.samples):
            ready, waited = peer.one_more(k)
            fig.ready.append(ready)
            if waited is not None:
                fig.wait_hv.append(waited)
        fig.flows = [switch_flows(hv) for hv in hvs]
        fig.echo_rtt = statistics.median(hv.echo_rtt() for hv in hvs)
        fig.rss = rss_mib(peer.pids())
        watch = FlowWatch([partial(switch_flows, hv) for hv in hvs], list(fig.flows)).start()
        t0 = time.monotonic()
        try:
            fig.restart, fig.restart_flow_mods = peer.restart(watch, restart_timeout)
        except TimeoutError:
            fig.restart = None  # printed as "not done in N s": a figure too
            fig.restart_timeout = restart_timeout
        watch.stop()
        fig.restart_short = max(watch.short_for)
        for hv in hvs:
            since_kill = time.monotonic() - t0
            fig.restart_readded += sum(d < since_kill for d in durations(hv.ofctl("dump-flows")))
    finally:
        peer.teardown()
    return fig


def switch_flows(hv: Hypervisor) -> int:
    return flow_count(hv.ofctl("dump-aggregate"))


def ms(xs: list[float], p: float | None = None) -> float | None:
    if not xs:
        return None
    return 1000 * (statistics.median(xs) if p is None else percentile(xs, p))


def rows(f: Figures, layout: Layout) -> list[tuple[str, float | None, str, bool | None]]:
    """(label, value, unit, higher is better (None: not a merit)) of every figure, in print order."""
    per_port = (statistics.mean(f.flows) * layout.switches) / (layout.ports or 1)
    return [
        ("one more port -> ready, median", ms(f.ready), "ms", False),
        ("one more port -> ready, p90", ms(f.ready, 90), "ms", False),
        ("one more port -> ready, p99", ms(f.ready, 99), "ms", False),
        ("one more port -> --wait=hv returned, median", ms(f.wait_hv), "ms", False),
        ("the switch's own OpenFlow echo round trip", ms([f.echo_rtt]), "ms", None),
        (f"bulk: {layout.ports:,} ports, last call answered", f.bulk_api, "s", False),
        (f"bulk: {layout.ports:,} ports, all ready", f.bulk_ready, "s", False),
        ("bulk: ports ready per second", layout.ports / f.bulk_ready if f.bulk_ready else None, "/s", True),
        ("bulk: API calls (transactions)", f.bulk_calls, "", None),
        ("flows per switch (mean)", statistics.mean(f.flows) if f.flows else None, "", False),
        ("flows per port (all switches)", per_port, "", False),
        ("resident memory", f.rss, "MiB", False),
        ("CPU seconds per 1,000 ports (bulk)", f.cpu_per_1000, "s", False),
        ("restart (SIGKILL): all switches reconciled", f.restart if f.restart_timeout is None
         else NotDone(f.restart_timeout), "s", False),
        ("restart: flows re-added on the switches", f.restart_readded, "", False),
        ("restart: longest a switch was short of flows", f.restart_short, "s", False),
        ("restart: flow-mods the controller reports", f.restart_flow_mods, "", False),
    ]


class NotDone(float):
    """A time that ran out: shown as "> N s, not done"; ranks worse than any figure."""


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, NotDone):
        return f"> {v:.0f} {unit}, not done"
    if isinstance(v, int) or unit == "":
        return f"{v:,.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:.1f}"
    return f"{v:.1f} {unit}" if abs(v) >= 10 or unit == "ms" else f"{v:.2f} {unit}"


def table(layout: Layout, results: dict[str, Figures]) -> str:
    names = list(results)
    head = f"| {layout.ports:,} ports, {layout.networks:,} networks, {layout.switches} switch(es) | " + \
        " | ".join(names) + (" | better |" if len(names) == 2 else " |")
    out = [head, "|---" * (len(names) + 1 + (len(names) == 2)) + "|"]
    per = {n: rows(f, layout) for n, f in results.items()}
    for i, (label, _, unit, higher_better) in enumerate(per[names[0]]):
        vals = [per[n][i][1] for n in names]
        line = f"| {label} | " + " | ".join(fmt(v, unit) for v in vals)
        if len(names) == 2:
            line += f" | {better(names, vals, higher_better)}"
        out.append(line + " |")
    return "\n".join(out)


def better(names: list[str], vals: list[float | None], higher_better: bool | None) -> str:
    """Which product did better on this figure, and by what factor ("sdnapp 3.2x")."""
    a, b = vals
    if a is None or b is None or higher_better is None:
        return "-"
    if isinstance(a, NotDone) != isinstance(b, NotDone):
        return names[1] if isinstance(a, NotDone) else names[0]
    if a == b:
        return "same"
    winner = names[0] if (a > b) == higher_better else names[1]
    lo, hi = sorted((a, b))
    return f"{winner} {hi / lo:.1f}x" if lo > 0 else f"{winner} (other 0)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000", help="port counts, comma separated (10..20000)")
    ap.add_argument("--switches", type=int, default=1, help="switches (hypervisors) the ports spread over")
    ap.add_argument("--samples", type=int, default=50, help="'one more port' trials per size")
    ap.add_argument("--product", choices=("sdnapp", "ovn", "both"), default="both")
    ap.add_argument("--restart-timeout", type=float, default=600,
                    help="seconds a restarted controller gets to reconcile every switch")
    ap.add_argument("--api-port", type=int, default=API_PORT, help="sdnapp's REST port for the run")
    ap.add_argument("--of-port", type=int, default=OF_PORT, help="sdnapp's OpenFlow port for the run")
    ap.add_argument("--ovn-batch", type=int, default=1,
                    help="OVN's bulk: logical ports per NB transaction (1: one per port, as a cloud API "
                         "call makes; e.g. 500 for OVN's best case)")
    ap.add_argument("--sdnapp-batch", type=int, default=1,
                    help="sdnapp's bulk: ports per POST /v1/plugged-ports (1: create, plug and bind one call "
                         "at a time, 4 calls per port; e.g. 500)")
    args = ap.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        ap.error("--sizes: comma separated integers")
    if not all(10 <= s <= 20000 for s in sizes):
        ap.error("--sizes: each 10..20000")
    if not (1 <= args.switches <= 8 and 1 <= args.samples <= 1000 and 1 <= args.ovn_batch <= 20000
            and 1 <= args.sdnapp_batch <= 1000):
        ap.error("--switches 1..8, --samples 1..1000, --ovn-batch 1..20000, --sdnapp-batch 1..1000")
    if not 10 <= args.restart_timeout <= 3600:
        ap.error("--restart-timeout: 10..3600")
    if not all(1024 <= p <= 65535 for p in (args.api_port, args.of_port)):
        ap.error("--api-port, --of-port: 1024..65535")
    # A stopped run still tears down its daemons and namespaces (the `finally`s run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    peers: list[Peer] = []
    if args.product in ("sdnapp", "both"):
        peers.append(SdnappPeer(args.of_port, args.api_port, batch=args.sdnapp_batch))
    if args.product in ("ovn", "both"):
        peers.append(OvnPeer(batch=args.ovn_batch))
    print(f"# sdnapp vs OVN, {time.strftime('%Y-%m-%d %H:%M')}, {cpu_model()}")
    for size in sizes:
        layout = Layout(size, args.switches, args.samples)
        results: dict[str, Figures] = {}
        for peer in peers:
            with tempfile.TemporaryDirectory(dir="/tmp", prefix="sdnbench-") as tmp:
                t0 = time.monotonic()
                results[peer.name] = run(peer, layout, Path(tmp), args.restart_timeout)
                print(f"  ({peer.name} at {size} ports: {time.monotonic() - t0:.0f} s with setup)", flush=True)
                if len(peers) > 1:  # its figures now, in case the other product's run fails
                    print(table(layout, {peer.name: results[peer.name]}), flush=True)
            HypervisorBed.cleanup_stale()
        print(table(layout, results), flush=True)
        print()
    return 0


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{os.cpu_count()} x {line.split(':', 1)[1].strip()}"
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
