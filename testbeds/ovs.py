"""Reading a switch's flows with ovs-ofctl (tests and benchmarks only, never the product)."""

from __future__ import annotations

import re
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


_FIELD = re.compile(r"(\w+)=([^,\s]+)")


def dump_flows(bridge: str) -> list[DumpedFlow]:
    out = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", bridge], check=True, capture_output=True, text=True
    ).stdout
    flows = []
    for line in out.splitlines():
        line = line.strip()
        if not line.startswith("cookie="):
            continue
        head, _, actions = line.partition(" actions=")
        parts = head.split(", ")
        meta = dict(_FIELD.findall(", ".join(parts[:-1]) + ", " + parts[-1].split(" ")[0]))
        rest = parts[-1].split(" ", 1)[1] if " " in parts[-1] else ""
        prio_match = rest.split(",", 1)
        priority = int(prio_match[0].split("=")[1]) if prio_match[0].startswith("priority=") else 32768
        flows.append(
            DumpedFlow(
                cookie=int(meta["cookie"], 16),
                table=int(meta.get("table", "0")),
                priority=priority,
                match=prio_match[1] if len(prio_match) > 1 else "",
                actions=actions,
                duration=float(meta["duration"].rstrip("s")),
                n_packets=int(meta.get("n_packets", "0")),
            )
        )
    return flows
