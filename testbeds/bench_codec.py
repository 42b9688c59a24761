"""Benchmark: per-flow cost of writing flow-mods and reading flow stats back, os-ken against sdnapp.flowcodec.

`python -m testbeds.bench_codec --flows 20000`. The flows are what the drivers emit for a
deployment of VLAN and VXLAN networks of ten ports each (half with an address) on one switch.
Encode: `ofmsg.flow_mod` + os-ken's serialise, against `flowcodec.encode_flow_mod`, and what
SwitchChannels.send uses (`ofmsg.flow_mod_bytes`). Decode: the flow stats replies a switch
writes for those flows (entries made from os-ken's own flow-mods), parsed as os-ken's receive loop
parses them and converted to Flow values, with os-ken's flow stats parser against with the
entries kept as bytes (`ofmsg.keep_flow_stats_raw`) and read by `ofmsg.flow_from_entry`. Both
give the same flows (checked). CPU time of this process (the machine is shared: wall time would
count the others' work), best of --repeat runs. No switch, nothing asserted.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
from collections.abc import Callable

from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from flows import vlan
from flows.driver import Context, TunnelEnd
from flows.model import Flow
from flows.pipeline import CONTROLLER_METER, base_flows
from flows.state import Member
from flows.vxlan import VxlanDriver
from sdnapp import flowcodec, ofmsg
from topology.fabric import Fabric

XID = 0x80000001


class _Datapath:
    """What os-ken's message classes need of a datapath to serialise and parse."""

    ofproto = ofp
    ofproto_parser = parser
    id = 1


def deployment(n: int) -> list[Flow]:
    """`n` flows of one switch: VLAN and VXLAN networks in turn, ten ports each, every other one with an address."""
    flows = base_flows(lldp=True, meter=CONTROLLER_METER)
    tunnels = {1: TunnelEnd("192.0.2.1", 9), 2: TunnelEnd("192.0.2.2", 9)}
    ctx = Context(Fabric(set(tunnels), []), tunnels)
    driver = VxlanDriver()
    i, segment = 0, 100
    while len(flows) < n:
        members = []
        for k in range(10):
            i += 1
            mac = "fa:16:3e:" + ":".join(f"{i >> s & 0xFF:02x}" for s in (16, 8, 0))
            ip = f"10.{i >> 16 & 0xFF}.{i >> 8 & 0xFF}.{i & 0xFF}" if i % 2 else None
            members.append(Member(f"p{i}", f"v{i}", mac, 1 + k % 2, 10 + k, ip))
        if segment % 2:
            flows += vlan.segment_flows(segment, members, 1, Fabric({1}, []))
        else:
            flows += driver.segment_flows(segment, members, 1, ctx)
        segment += 1
    return flows[:n]


def os_ken_flow_mod(f: Flow) -> bytes:
    msg = ofmsg.flow_mod(_Datapath, ofmsg.ADD, f)
    msg.set_xid(XID)
    msg.serialize()
    return bytes(msg.buf)


def stats_replies(flows: list[Flow]) -> list[bytes]:
    """The flow stats replies a switch writes for these flows: each entry holds the match and instructions of
    os-ken's flow-mod for it, replies split at 64 KiB."""
    entries = []
    for f in flows:
        mod = os_ken_flow_mod(f)
        tail = mod[ofp.OFP_FLOW_MOD_SIZE - ofp.OFP_MATCH_SIZE:]
        entries.append(struct.pack(ofp.OFP_FLOW_STATS_0_PACK_STR, ofp.OFP_FLOW_STATS_0_SIZE + len(tail), f.table, 7,
                                   0, f.priority, 0, 0, 0, f.cookie, 3, 180) + tail)
    bodies, body = [], b""
    for e in entries:
        if len(body) + len(e) > 0xFFFF - ofp.OFP_MULTIPART_REPLY_SIZE:
            bodies.append(body)
            body = b""
        body += e
    bodies.append(body)
    return [struct.pack(ofp.OFP_HEADER_PACK_STR, ofp.OFP_VERSION, ofp.OFPT_MULTIPART_REPLY,
                        ofp.OFP_MULTIPART_REPLY_SIZE + len(b), XID)
            + struct.pack(ofp.OFP_MULTIPART_REPLY_PACK_STR, ofp.OFPMP_FLOW, 0) + b for b in bodies]


def read_back(replies: list[bytes]) -> list[Flow]:
    """Parse the replies as os-ken's receive loop does, then convert as SwitchChannels.read_flows does."""
    out: list[Flow] = []
    for buf in replies:
        version, msg_type, length, xid = ofproto_parser.header(buf)
        msg = ofproto_parser.msg(_Datapath, version, msg_type, length, xid, bytearray(buf))
        out.extend(f for e in msg.body if (f := ofmsg.flow_from_entry(e)) is not None)
    return out


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--flows", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if not 1 <= args.flows <= 1_000_000 or not 1 <= args.repeat <= 20:
        ap.error("--flows must be 1..1000000, --repeat 1..20")
    flows = deployment(args.flows)
    n = len(flows)
    us = 1e6 / n

    def fast() -> list[bytes]:
        return [flowcodec.encode_flow_mod(ofmsg.ADD, f, XID) for f in flows]

    if fast() != [os_ken_flow_mod(f) for f in flows]:
        print("flowcodec's bytes differ from os-ken's", file=sys.stderr)
        return 1
    print(f"{n} flows, best of {args.repeat}, CPU microseconds per flow")
    os_ken = best(lambda: [os_ken_flow_mod(f) for f in flows], args.repeat) * us
    codec = best(fast, args.repeat) * us
    glue = best(lambda: [ofmsg.flow_mod_bytes(_Datapath, ofmsg.ADD, f, XID) for f in flows], args.repeat) * us
    print(f"encode flow-mod:        os-ken {os_ken:6.1f}   flowcodec {codec:5.1f}   ofmsg.flow_mod_bytes {glue:5.1f}")

    replies = stats_replies(flows)
    ofmsg.keep_flow_stats_raw(False)
    if read_back(replies) != flows:
        print("os-ken does not read the flows back", file=sys.stderr)
        return 1
    os_ken = best(lambda: read_back(replies), args.repeat) * us
    ofmsg.keep_flow_stats_raw()
    try:
        if read_back(replies) != flows:
            print("flowcodec does not read the flows back", file=sys.stderr)
            return 1
        codec = best(lambda: read_back(replies), args.repeat) * us
    finally:
        ofmsg.keep_flow_stats_raw(False)
    print(f"parse + convert entry:  os-ken {os_ken:6.1f}   raw entries + flowcodec {codec:5.1f}"
          f"   ({len(replies)} replies)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
