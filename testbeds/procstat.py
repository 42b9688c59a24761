"""What a benchmark reads about processes and switches: CPU time, resident memory, flow counts."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Iterable[int]) -> float:
    """User plus system CPU time the processes have used so far."""
    total = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            # The command name (field 2) may hold spaces; the fields after its ')' are fixed.
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def wait_idle(pids: list[int], below: float = 0.35, window: float = 1.0, timeout: float = 300.0) -> float:
    """Wait until the processes together use less than `below` of a core over `window` seconds
    (OVS takes seconds to digest thousands of new interfaces; nothing should be timed meanwhile).
    Not 0: a userspace ovs-vswitchd polling 10,000 idle taps keeps about a fifth of a core busy.
    Returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        c0 = cpu_seconds(pids)
        time.sleep(window)
        if cpu_seconds(pids) - c0 < below * window:
            break
    return time.monotonic() - start


def rss_mib(pids: Iterable[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
        total += int(m.group(1)) if m else 0
    return total / 1024


def flow_count(aggregate_output: str) -> int:
    """The flow_count of `ovs-ofctl dump-aggregate` output."""
    m = re.search(r"flow_count=(\d+)", aggregate_output)
    if not m:
        raise ValueError(f"no flow_count in {aggregate_output!r}")
    return int(m.group(1))


def durations(dump_flows_output: str) -> list[float]:
    return [float(x) for x in re.findall(r"duration=([\d.]+)s", dump_flows_output)]


@dataclass
class FlowWatch:
    """Polls each switch's flow count in a thread, to see whether a restart left switches short of flows.

    `counts` are callables returning one switch's current flow count; `baseline` is what each held
    before. Records, per switch, the lowest count seen and how long it stayed below its baseline.
    """

    counts: list[Callable[[], int]]
    baseline: list[int]
    interval: float = 0.02
    lowest: list[int] = field(default_factory=list)
    short_for: list[float] = field(default_factory=list)
    _since: list[float | None] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.lowest = list(self.baseline)
        self.short_for = [0.0] * len(self.counts)
        self._since = [None] * len(self.counts)

    def start(self) -> FlowWatch:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def recovered(self) -> bool:
        """Every switch that went short of flows is back to its baseline."""
        return all(s is None for s in self._since)

    def dropped(self) -> bool:
        return any(low < base for low, base in zip(self.lowest, self.baseline, strict=True))

    def _run(self) -> None:
        while not self._stop.is_set():
            for i, count in enumerate(self.counts):
                try:
                    n = count()
                except (RuntimeError, ValueError):
                    continue
                now = time.monotonic()
                self.lowest[i] = min(self.lowest[i], n)
                since = self._since[i]
                if n < self.baseline[i] and since is None:
                    self._since[i] = now
                elif n >= self.baseline[i] and since is not None:
                    self.short_for[i] += now - since
                    self._since[i] = None
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        now = time.monotonic()
        for i, since in enumerate(self._since):
            if since is not None:
                self.short_for[i] += now - since
