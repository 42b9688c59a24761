"""Packet captures on Mininet hosts with tcpdump."""

from __future__ import annotations

import subprocess
import time
from typing import Any


class Capture:
    """tcpdump on each given host's interface, started before traffic and stopped after."""

    def __init__(self, hosts: list[Any], bpf: str) -> None:
        self.procs: dict[str, subprocess.Popen[str]] = {}
        for h in hosts:
            p = h.popen(
                ["tcpdump", "-l", "-n", "-e", "-i", str(h.defaultIntf()), bpf],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            self.procs[h.name] = p
        for name, p in self.procs.items():
            assert p.stderr is not None
            deadline = time.monotonic() + 5
            line = ""
            while "listening on" not in line and time.monotonic() < deadline:
                line = p.stderr.readline()
            if "listening on" not in line:
                raise RuntimeError(f"tcpdump on {name} did not start: {line}")

    def stop(self, settle: float = 0.5) -> dict[str, list[str]]:
        time.sleep(settle)
        out: dict[str, list[str]] = {}
        for name, p in self.procs.items():
            p.terminate()
            stdout, _ = p.communicate(timeout=5)
            out[name] = [line for line in stdout.splitlines() if line.strip()]
        return out
