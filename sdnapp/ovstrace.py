"""Asking a local Open vSwitch what it does with a frame (`ovs-appctl ofproto/trace`), for `sdnapp trace --compare`.

sdnapp's trace says what the flows it wants do, hop by hop. For each hop on a bridge of
the Open vSwitch on this machine (found by its datapath id), the same frame, as it
arrived there, is traced by the switch itself; the tables it went through (with the
priority and cookie of the flow that matched) and the ports it sent to are compared
with sdnapp's. A difference means the switch does not hold what sdnapp wants (or does
something else with it): a flow missing, a stale one, another application's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

OFPP_CONTROLLER = 0xFFFFFFFD
TIMEOUT = 5.0

_TABLE = re.compile(r"^ (\d+)\. (?:.*, )?priority (\d+)(?:, cookie (0x[0-9a-f]+))?$")
_NO_MATCH = re.compile(r"^ (\d+)\. No match")
_OUTPUT = re.compile(r"^\s+output:(\S+)$")
_BRIDGE = re.compile(r'^bridge\("(.+)"\)$')


class OvsUnavailable(Exception):
    """No Open vSwitch to ask here (its tools are missing, or its daemon does not answer)."""


@dataclass(frozen=True)
class SwitchTrace:
    """What the switch itself did: (table, priority, cookie) of each lookup (priority None: no flow
    matched), and the ports it sent to."""

    lookups: tuple[tuple[int, int | None, int | None], ...]
    outputs: tuple[str, ...]


@dataclass
class HopComparison:
    hop: int
    datapath_id: str
    bridge: str | None  # None: no bridge of this Open vSwitch has that datapath id
    spec: str = ""
    differences: list[str] = field(default_factory=list)
    switch: SwitchTrace | None = None


def parse(text: str, bridge: str) -> SwitchTrace:
    """The lookups and outputs of `ofproto/trace` output, on `bridge` only (what a tunnel leads to is another's)."""
    lookups: list[tuple[int, int | None, int | None]] = []
    outputs: list[str] = []
    current = None
    for line in text.splitlines():
        m = _BRIDGE.match(line.strip())
        if m:
            current = m.group(1)
            continue
        if current != bridge:
            continue
        if (t := _TABLE.match(line)) is not None:
            lookups.append((int(t.group(1)), int(t.group(2)), int(t.group(3), 16) if t.group(3) else None))
        elif (n := _NO_MATCH.match(line)) is not None:
            lookups.append((int(n.group(1)), None, None))
        elif (o := _OUTPUT.match(line)) is not None:
            outputs.append(o.group(1).strip('"'))
        elif ">> skipping output to input port" in line and outputs:
            outputs.pop()  # OpenFlow never sends a frame back out of its ingress port
    return SwitchTrace(tuple(lookups), tuple(outputs))


def flow_spec(frame: dict[str, Any]) -> str:
    """The frame of a hop (as GET /v1/trace gives it) in ofproto/trace's flow syntax."""
    parts = [f"in_port={int(frame['in_port'])}", f"dl_src={frame['eth_src']}", f"dl_dst={frame['eth_dst']}"]
    if "vlan_vid" in frame:
        parts.append(f"dl_vlan={int(frame['vlan_vid'])}")
    eth_type = int(str(frame.get("eth_type", "0")), 16)
    parts.append(f"dl_type={eth_type:#06x}")
    fields = {"ipv4_src": "nw_src", "ipv4_dst": "nw_dst", "ip_proto": "nw_proto", "udp_src": "tp_src",
              "udp_dst": "tp_dst", "arp_spa": "arp_spa", "arp_tpa": "arp_tpa", "arp_sha": "arp_sha",
              "tunnel_id": "tun_id", "tun_ipv4_src": "tun_src"}
    for ours, theirs in fields.items():
        if ours in frame:
            parts.append(f"{theirs}={frame[ours]}")
    if eth_type == 0x0806:
        parts.append("arp_op=1")
    return ",".join(parts)


def _run(args: list[str]) -> str:
    if shutil.which(args[0]) is None:
        raise OvsUnavailable(f"--compare needs Open vSwitch's {args[0]} on this machine")
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise OvsUnavailable(f"{args[0]} did not answer in {TIMEOUT:.0f}s") from None
    if out.returncode != 0:
        raise OvsUnavailable(f"{' '.join(args[:2])} failed: {(out.stderr or out.stdout).strip()[:300]}")
    return out.stdout


def bridge_of(datapath_id: str) -> str | None:
    """The local bridge with that datapath id, if there is one."""
    names = _run(["ovs-vsctl", "--timeout=5", "--bare", "--columns=name", "find", "Bridge",
                  f"datapath_id={datapath_id}"]).split()
    return names[0] if names else None


def _port_numbers(bridge: str, names: set[str]) -> dict[str, str]:
    out = {}
    for name in names:
        if not name.isdigit():
            out[name] = _run(["ovs-vsctl", "--timeout=5", "get", "Interface", name, "ofport"]).strip()
    return out


def compare_hop(hop: dict[str, Any], bridge: str, text: str) -> HopComparison:
    """sdnapp's hop against the switch's own trace of the same frame."""
    switch = parse(text, bridge)
    cmp = HopComparison(hop["hop"], hop["datapath_id"], bridge, flow_spec(hop["frame"]), switch=switch)
    ours = []
    for t in hop["tables"]:
        f = t["flow"]
        ours.append((t["table"], f["priority"], int(f["cookie"], 16)) if f else (t["table"], None, None))
    theirs = [(t, p, c) for t, p, c in switch.lookups]
    if ours != theirs:
        cmp.differences.append(f"tables: sdnapp means {_lookups(ours)}, the switch does {_lookups(theirs)}")
    names = _port_numbers(bridge, {o for o in switch.outputs if o != "CONTROLLER"})
    sent = Counter(str(OFPP_CONTROLLER) if o == "CONTROLLER" else names.get(o, o) for o in switch.outputs)
    meant = Counter(str(o["port"]) for o in hop["outputs"])
    if sent != meant:
        cmp.differences.append(f"outputs: sdnapp means ports {_ports(meant)}, the switch sends to {_ports(sent)}")
    return cmp


def _lookups(xs: Sequence[tuple[int, int | None, int | None]]) -> str:
    return " then ".join(f"table {t} (no match)" if p is None else f"table {t} prio {p} cookie {c:#x}"
                         if c is not None else f"table {t} prio {p}" for t, p, c in xs) or "nothing"


def _ports(c: Counter[str]) -> str:
    return ", ".join(sorted(c.elements(), key=lambda p: (len(p), p))) or "none"


def compare(trace: dict[str, Any]) -> list[HopComparison]:
    """Each hop of sdnapp's trace (GET /v1/trace's `trace`) against the local switch's own trace."""
    out = []
    bridges: dict[str, str | None] = {}
    for hop in trace["hops"]:
        dpid = hop["datapath_id"]
        if dpid not in bridges:
            bridges[dpid] = bridge_of(dpid)
        bridge = bridges[dpid]
        if bridge is None:
            out.append(HopComparison(hop["hop"], dpid, None))
            continue
        spec = flow_spec(hop["frame"])
        out.append(compare_hop(hop, bridge, _run(["ovs-appctl", "--timeout=5", "ofproto/trace", bridge, spec])))
    return out
