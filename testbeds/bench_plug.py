"""Benchmark: time from a plug request to the port being ACTIVE, on the Mininet demo topology.

Run as root after scripts/setup.sh: `python -m testbeds.bench_plug --plugs 100`.
It starts its own sdnapp and Mininet (on ports 29696/26653 unless told), prints figures, asserts nothing.

`--compare-metrics` measures the cost of the Prometheus metrics in the same run, on the same switch:
sdnapp is restarted between rounds with `metrics.enabled` true and false in turn (the order
alternating, so drift hits both alike), and the median plug -> ACTIVE of each is printed, with the
time one scrape of /metrics takes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import yaml

from . import single_switch as ss
from .client import Client
from .ovs import dump_flows
from .process import SdnappProcess
from .stats import summary_ms


def plug_times(proc: SdnappProcess, sc: ss.Scenario, plugs: int) -> list[float]:
    red = Client(proc.url, "red")
    h2 = sc.hosts["h2"]
    took: list[float] = []
    for _ in range(plugs):
        red.unplug(h2.vnic_id)
        time.sleep(0.02)  # let the unplug's reconciliation finish first
        t0 = time.perf_counter()
        red.plug(h2.port_id, h2.vnic_id)
        while red.port(h2.port_id)["status"] != "ACTIVE":
            if time.perf_counter() - t0 > 10:
                raise TimeoutError("port not ACTIVE after 10 s")
        took.append(time.perf_counter() - t0)
    return took


def restart_with_metrics(proc: SdnappProcess, sc: ss.Scenario, enabled: bool) -> None:
    proc.stop()
    config = yaml.safe_load(proc.config_path.read_text())
    config["metrics"] = {"enabled": enabled}
    proc.config_path.write_text(yaml.safe_dump(config))
    proc.start()
    Client(proc.url, "ops", admin=True).wait_status([h.port_id for h in sc.hosts.values()])


def scrape_times(proc: SdnappProcess, n: int) -> list[float]:
    import urllib.request

    took = []
    for _ in range(n):
        t0 = time.perf_counter()
        with urllib.request.urlopen(proc.url + "/metrics", timeout=5) as r:
            r.read()
        took.append(time.perf_counter() - t0)
    return took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plugs", type=int, default=100, help="plugs in all (with --compare-metrics: per setting)")
    ap.add_argument("--compare-metrics", action="store_true", help="with metrics on and off, in the same run")
    ap.add_argument("--rounds", type=int, default=4, help="with --compare-metrics: rounds per setting")
    ap.add_argument("--api-port", type=int, default=29696)
    ap.add_argument("--of-port", type=int, default=26653)
    args = ap.parse_args(argv)
    if not 1 <= args.plugs <= 10000:
        ap.error("--plugs must be 1..10000")
    if not 1 <= args.rounds <= args.plugs:
        ap.error("--rounds must be 1..--plugs")

    with ss.running(args.api_port, args.of_port, log_level="WARNING") as (proc, _, sc):
        if not args.compare_metrics:
            took = plug_times(proc, sc, args.plugs)
            flows = [f for f in dump_flows("s1") if f.ours]
            print(f"plug -> ACTIVE (includes REST round trips and polling): {summary_ms(took, 2)}")
            print(f"flows on s1: {len(flows)} of ours for {len(sc.hosts)} ports in {len(ss.LAYOUT)} networks")
            return 0
        per_round = max(1, args.plugs // args.rounds)
        samples: dict[bool, list[float]] = {True: [], False: []}
        scrapes: list[float] = []
        for r in range(args.rounds):
            for enabled in (True, False) if r % 2 == 0 else (False, True):
                restart_with_metrics(proc, sc, enabled)
                samples[enabled] += plug_times(proc, sc, per_round)
                if enabled:
                    scrapes += scrape_times(proc, 10)
        on, off = statistics.median(samples[True]), statistics.median(samples[False])
        print(f"plug -> ACTIVE with metrics:    {summary_ms(samples[True], 2)}")
        print(f"plug -> ACTIVE without metrics: {summary_ms(samples[False], 2)}")
        print(f"cost of metrics on the median: {(on - off) * 1000:+.2f} ms ({(on - off) / off * 100:+.1f}%), "
              f"{args.rounds} rounds each, alternating")
        print(f"one scrape of /metrics: {summary_ms(scrapes, 2)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
