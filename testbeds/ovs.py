"""Reading a switch's flows with ovs-ofctl (tests and benchmarks only, never the product)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from flows.pipeline import COOKIE_MARK, COOKIE_MARK_MASK


@dataclass(frozen=True)
class DumpedFlow:
    cookie: int
    table: int
    priority: int
    match: str
    actions: str
    duration: float
    n_packets: int

    @property
    def ours(self) -> bool:
        return self.cookie & COOKIE_MARK_MASK == COOKIE_MARK

    @property
    def identity(self) -> tuple[int, int, int, str, str]:
        return (self.cookie, self.table, self.priority, self.match, self.actions)


_META = {"cookie", "duration", "table", "n_packets", "n_bytes", "idle_age", "hard_age", "idle_timeout",
         "hard_timeout", "importance"}


def parse_flow(line: str) -> DumpedFlow | None:
    """One line of `ovs-ofctl dump-flows` (e.g. `cookie=0x1, duration=1.5s, table=0, ..., priority=10,in_port=1
    actions=drop`)."""
    line = line.strip()
    if not line.startswith("cookie="):
        return None
    head, _, actions = line.partition(" actions=")
    meta: dict[str, str] = {}
    rule = ""
    for item in head.split(", "):
        key = item.split("=", 1)[0]
        if key in _META:
            meta[key] = item.split("=", 1)[1]
        else:
            rule = item.strip()
    priority, match = 32768, rule
    first, _, remainder = rule.partition(",")
    if first.startswith("priority="):
        priority, match = int(first.split("=", 1)[1]), remainder
    return DumpedFlow(
        cookie=int(meta["cookie"], 16),
        table=int(meta.get("table", "0")),
        priority=priority,
        match=match,
        actions=actions,
        duration=float(meta["duration"].rstrip("s")),
        n_packets=int(meta.get("n_packets", "0")),
    )


def dump_flows(bridge: str) -> list[DumpedFlow]:
    out = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", bridge], check=True, capture_output=True, text=True
    ).stdout
    return [f for f in map(parse_flow, out.splitlines()) if f is not None]
