"""The fleet's switches on real TCP connections (testbeds/fleet.py), against a controller played by the test:
the handshake, framing of messages split across reads, echo, and a reconnect that keeps the table."""

from __future__ import annotations

import asyncio
import itertools
import struct
from typing import Any

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from testbeds import ofwire
from testbeds.fleet import FleetSpec, dpid_of, port_name, serve

DP = ofwire.WireDatapath()
_xids = itertools.count(1)
Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def wire(msg: Any) -> bytes:
    msg.set_xid(next(_xids))
    return ofwire.to_wire(msg)


async def read(reader: asyncio.StreamReader) -> Any:
    head = await asyncio.wait_for(reader.readexactly(ofp.OFP_HEADER_SIZE), 5)
    _, _, length, _ = struct.unpack(ofp.OFP_HEADER_PACK_STR, head)
    return ofwire.parse(DP, head + await asyncio.wait_for(reader.readexactly(length - len(head)), 5))


async def handshake(conns: asyncio.Queue[Conn]) -> tuple[int, Conn]:
    """What os-ken does with a new switch: HELLOs both ways, features; returns the datapath id."""
    reader, writer = await asyncio.wait_for(conns.get(), 5)
    assert isinstance(await read(reader), parser.OFPHello)
    writer.write(wire(parser.OFPHello(DP)) + wire(parser.OFPFeaturesRequest(DP)))
    features = await read(reader)
    assert isinstance(features, parser.OFPSwitchFeatures)
    return int(features.datapath_id), (reader, writer)


def flow_mod(port: int) -> Any:
    return parser.OFPFlowMod(DP, cookie=5, table_id=0, command=ofp.OFPFC_ADD, priority=10,
                             buffer_id=ofp.OFP_NO_BUFFER, match=parser.OFPMatch(in_port=port),
                             instructions=[parser.OFPInstructionGotoTable(1)])


async def scenario() -> None:
    conns: asyncio.Queue[Conn] = asyncio.Queue()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await conns.put((reader, writer))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    spec = FleetSpec("127.0.0.1", server.sockets[0].getsockname()[1], switches=2, ports=3, tunnel_port="vxlan0",
                     max_backoff=0.2, probe_interval=0.3)
    stop = asyncio.Event()
    fleet = asyncio.create_task(serve(spec, [0, 1], None, stop))
    try:
        first = dict([await handshake(conns), await handshake(conns)])
        assert sorted(first) == [dpid_of(0), dpid_of(1)]
        reader, writer = first[dpid_of(1)]

        # Many messages in one write, and one message cut in two writes: framed all the same.
        mods = b"".join(wire(flow_mod(p)) for p in (1, 2, 3))
        barrier = wire(parser.OFPBarrierRequest(DP))
        writer.write(mods + barrier[:5])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(barrier[5:] + wire(parser.OFPPortDescStatsRequest(DP, 0)))
        assert isinstance(await read(reader), parser.OFPBarrierReply)
        ports = await read(reader)
        assert [p.name.decode() for p in ports.body] == [port_name(1, k) for k in (1, 2, 3)] + ["vxlan0", "br2"]

        # Idle past the probe interval: the switch asks whether the controller is alive.
        echo = await read(reader)
        assert isinstance(echo, parser.OFPEchoRequest)
        reply = parser.OFPEchoReply(DP, data=echo.data)
        reply.xid = echo.xid
        writer.write(ofwire.to_wire(reply))

        # The controller goes away: the switch reconnects by itself, its flows kept. The other switch, whose
        # echo request is never answered, gives up on its connection after twice the probe interval and
        # reconnects too.
        writer.close()
        again: dict[int, Conn] = {}
        while len(again) < 2:
            dpid, conn = await handshake(conns)
            again[dpid] = conn
        reader, writer = again[dpid_of(1)]
        writer.write(wire(parser.OFPFlowStatsRequest(DP, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY, 0, 0,
                                                     parser.OFPMatch())))
        stats = await read(reader)
        assert sorted(s.match["in_port"] for s in stats.body) == [1, 2, 3]
        unanswered, _ = first[dpid_of(0)]
        assert isinstance(await read(unanswered), parser.OFPEchoRequest)
        assert await asyncio.wait_for(unanswered.read(), 5) == b""  # closed by the switch
    finally:
        stop.set()
        await asyncio.wait_for(fleet, 5)
        server.close()


def test_switches_connect_frame_probe_and_reconnect_keeping_their_flows() -> None:
    asyncio.run(scenario())
