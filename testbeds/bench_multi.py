"""Benchmark of several instances on one PostgreSQL store (issue 14), on the Mininet demo switch.

Run as root after scripts/setup.sh: `python -m testbeds.bench_multi --trials 10`. Prints, asserts nothing:
- takeover after the master's SIGKILL (median and max over the trials): from the kill to another
  instance telling the switch it is master; pings lost meanwhile (h1 -> h2 every 20 ms); writes lost
  (acknowledged by a survivor during the takeover, then missing);
- plug -> ACTIVE (median), the plug made and the status read through the instances in turn, with
  three instances and with one;
- bulk plugs (POST /v1/plugged-ports) spread over the instances by as many clients, three instances
  against one: the ratio of their throughputs, in the same run.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path

from . import multi
from .client import ApiError, Client
from .stats import summary_ms

API_PORTS = (29850, 29851, 29852)
OF_PORTS = (26850, 26851, 26852)


def _writer(url: str, made: list[str], stop: threading.Event) -> None:
    """A stream of writes through one instance until `stop`: the ids it acknowledged, in `made`."""
    c = Client(url, "bench")
    while not stop.is_set():
        try:
            made.append(c.create_vnic()["id"])
        except (ApiError, OSError):
            pass
        time.sleep(0.05)


def kill_trials(b: multi.Bed, trials: int) -> None:
    sc, net = b.sc, b.net
    takeovers: list[float] = []
    lost_pings = sent_pings = lost_writes = acked = 0
    for t in range(trials):
        master, _ = multi.wait_master(b.procs)
        generation = (multi.role(b.procs[master]) or ("", 0))[1]
        survivor = (master + 1) % len(b.procs)
        ping = multi.ping(net, "h1", sc.hosts["h2"].ip, 8)
        time.sleep(1)
        made: list[str] = []
        stop = threading.Event()
        w = threading.Thread(target=_writer, args=(b.procs[survivor].url, made, stop))
        w.start()
        killed = time.monotonic()
        b.procs[master].stop(signal.SIGKILL)
        _, became = multi.wait_master(b.procs, newer_than=generation)
        takeovers.append(became - killed)
        time.sleep(1)
        stop.set()
        w.join()
        sent, lost = multi.ping_lost(ping)
        sent_pings, lost_pings = sent_pings + sent, lost_pings + lost
        ids = {v["id"] for v in Client(b.procs[survivor].url, "bench").ok("GET", "/v1/vnics")["vnics"]}
        acked += len(made)
        lost_writes += len(set(made) - ids)
        b.procs[master].start()
        multi.wait_role(b.procs[master])  # back, as a slave, before the next trial looks for the master
        print(f"trial {t + 1}: takeover {takeovers[-1]:.2f}s, {lost} of {sent} pings lost, "
              f"{len(made)} writes acknowledged", flush=True)
    print(f"takeover after the master's SIGKILL: median {statistics.median(takeovers):.2f}s, "
          f"max {max(takeovers):.2f}s over {trials} trials")
    print(f"pings lost: {lost_pings} of {sent_pings}; writes lost: {lost_writes} of {acked} acknowledged")


def plug_active(b: multi.Bed, plugs: int) -> list[float]:
    """Unplug and plug h2 again `plugs` times, through each running instance in turn; seconds to ACTIVE."""
    h2 = b.sc.hosts["h2"]
    running = [p for p in b.procs if p.proc is not None]
    took: list[float] = []
    for i in range(plugs):
        c = Client(running[i % len(running)].url, h2.tenant)
        c.unplug(h2.vnic_id)
        time.sleep(0.05)
        t0 = time.perf_counter()
        c.plug(h2.port_id, h2.vnic_id)
        while c.port(h2.port_id)["status"] != "ACTIVE":
            if time.perf_counter() - t0 > 20:
                raise TimeoutError("port not ACTIVE after 20 s")
            time.sleep(0.002)
        took.append(time.perf_counter() - t0)
    return took


def bulk(b: multi.Bed, clients: int, calls: int, batch: int) -> float:
    """Plugged ports per second: `clients` threads, client i through instance i, each making `calls`
    calls of `batch` ports bound to switch ports that do not exist (the API and the store's work)."""
    net_id = Client(b.procs[0].url, "bulk").create_network("bulk")["id"]
    errors: list[Exception] = []

    def client(i: int) -> None:
        c = Client(b.procs[i % len(b.procs)].url, "bulk", admin=True, keep_alive=True)  # bindings: admins
        for k in range(calls):
            items = [{"network_id": net_id, "binding": {"datapath_id": "00000000000000ff",
                                                        "port_name": f"b{i}-{k}-{j}"}} for j in range(batch)]
            try:
                c.plugged_ports(items)
            except (ApiError, OSError) as e:
                errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    if errors:
        print(f"  {len(errors)} bulk calls failed, e.g. {errors[0]}")
    return clients * calls * batch / took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--plugs", type=int, default=30)
    ap.add_argument("--calls", type=int, default=20, help="bulk calls per client")
    ap.add_argument("--batch", type=int, default=25, help="ports per bulk call")
    ap.add_argument("--postgres", default=multi.ADMIN_URL, help="a role that may create databases")
    args = ap.parse_args()
    rates: dict[int, float] = {}
    for n in (3, 1):
        with tempfile.TemporaryDirectory() as tmp, multi.database(args.postgres, "bench") as url, \
                multi.bed(Path(tmp), url, API_PORTS[:n], OF_PORTS[:n]) as b:
            print(f"== {n} instance{'s' if n > 1 else ''}", flush=True)
            if n > 1 and args.trials:
                kill_trials(b, args.trials)
                b.all_active()
            print(f"plug -> ACTIVE, {n} instance(s): {summary_ms(plug_active(b, args.plugs))}", flush=True)
            rates[n] = bulk(b, 3, args.calls, args.batch)
            print(f"bulk plugs, 3 clients over {n} instance(s): {rates[n]:.0f} ports/s", flush=True)
    print(f"bulk plug throughput, three instances against one: x{rates[3] / rates[1]:.2f}")


if __name__ == "__main__":
    main()
