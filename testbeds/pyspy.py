"""Sampling a running process with py-spy (PyPI's `py-spy`, installed with the test tools) and the top of it.

A benchmark attaches a `Recorder` to sdnapp's pid for one phase and gets a
`Profile`: per function, the seconds it was on a stack (inclusive) and at the
top of one (own), from py-spy's collapsed stacks (`--format raw`). Sampling is
`--nonblocking` (the process is not paused), so it perturbs what it measures
little; idle threads are not sampled, so the seconds are roughly CPU seconds
summed over threads.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::\d+)?\)$")


def executable() -> str | None:
    """py-spy beside this interpreter (the virtualenv's) or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def why_not() -> str | None:
    """None if py-spy can sample a process here, else why not."""
    exe = executable()
    if exe is None:
        return "py-spy is not installed (pip install py-spy)"
    probe = subprocess.run([exe, "dump", "--pid", str(os.getpid())], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"py-spy cannot read processes here: {(probe.stderr or probe.stdout).strip()[:200]}"
    return None


@dataclass
class Profile:
    rate: int
    samples: int = 0
    inclusive: Counter[str] = field(default_factory=Counter)  # function -> samples with it anywhere on the stack
    own: Counter[str] = field(default_factory=Counter)  # function -> samples with it on top

    def seconds(self, func: str, own: bool = False) -> float:
        return (self.own if own else self.inclusive)[func] / self.rate

    def top(self, n: int, own: bool = False, only: tuple[str, ...] = ()) -> list[tuple[str, float]]:
        """The `n` functions seen most; with `only`, those in files under these folders ("sdnapp/")."""
        seen = (self.own if own else self.inclusive).most_common()
        return [(f, c / self.rate) for f, c in seen if not only or any(f"({o}" in f for o in only)][:n]


def frame_name(frame: str) -> str:
    """'func (path/file.py:123)' -> 'func (path/file.py)': a function, whatever line it was at."""
    m = _FRAME.match(frame)
    return f"{m['func']} ({m['file']})" if m else frame


def parse_collapsed(text: str, rate: int) -> Profile:
    prof = Profile(rate)
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_name(f) for f in stack.split(";")]
        prof.samples += n
        prof.own[frames[-1]] += n
        for f in set(frames):
            prof.inclusive[f] += n
    return prof


class Recorder:
    """`py-spy record` attached to `pid` from `start()` until `stop()`."""

    def __init__(self, pid: int, out: Path, rate: int = 100) -> None:
        self.pid = pid
        self.out = out
        self.rate = rate
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> Recorder:
        exe = executable()
        if exe is None:
            raise RuntimeError("py-spy is not installed")
        self._log = open(self.out.with_suffix(".log"), "wb")
        self.proc = subprocess.Popen(
            [exe, "record", "--pid", str(self.pid), "--rate", str(self.rate), "--format", "raw",
             "--output", str(self.out), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=self._log,
        )
        return self

    def stop(self) -> Profile:
        """Stop sampling (py-spy writes its file on SIGINT, or when the process it samples ends)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        text = self.out.read_text(errors="replace") if self.out.exists() else ""
        return parse_collapsed(text, self.rate)
