"""One emulated OpenFlow 1.3 switch, without I/O: a message from the controller in, the switch's replies out.

What a hypervisor's Open vSwitch shows a controller, cheaply enough that a few
processes hold a thousand of them (testbeds/fleet.py runs them over TCP):
- HELLO, FEATURES_REPLY with its datapath id (no buffers, 254 tables as OVS);
  echo replies; barrier replies, after everything before them (messages are
  handled in order and replies written in order);
- a flow table: ADD replaces the entry of the same table, priority and match
  (the match compared as a set of fields, whatever order they came in), cookie
  included; MODIFY(_STRICT) replaces the instructions of the entries it selects
  and keeps their cookies; DELETE_STRICT removes the entry of that table,
  priority and match only when its cookie matches under the mask; DELETE removes
  the entries whose match includes the given fields, cookie under the mask, in
  one table or all;
- flow stats from the table, filtered by table and by cookie under the mask as
  OVS does (and by match fields included), split into several replies when
  large; port descriptions (its ports and its LOCAL port, as OVS lists the
  bridge's own); meter features (none by default) and meter mods where it has
  meters;
- port status messages when a port is added, removed or goes up or down
  (`add_port`, `remove_port`, `set_port`), for the connection to send.
The table keeps the flows' bytes as they came (match and instructions are not
parsed into objects); flow stats put them back together. What it does not
emulate is answered with an OpenFlow error, never ignored: other multipart
types, filtering flow stats or strict deletes by out port or group, buffered
packets, overlap checks, other message types. Timeouts are kept and reported,
never run; instructions are stored, not checked (a real switch would refuse
some).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_v1_3 as ofp

from . import ofwire

N_TABLES = 254  # as Open vSwitch offers
CAPABILITIES = ofp.OFPC_FLOW_STATS | ofp.OFPC_TABLE_STATS | ofp.OFPC_PORT_STATS
FlowKey = tuple[int, int, tuple[bytes, ...]]  # table, priority, the match's OXM fields sorted


@dataclass(slots=True)
class Entry:
    cookie: int
    match_raw: bytes  # the ofp_match as the flow-mod carried it
    instructions: bytes
    added_ns: int
    idle_timeout: int = 0
    hard_timeout: int = 0
    flags: int = 0


@dataclass(frozen=True, slots=True)
class Port:
    port_no: int
    name: str
    up: bool = True


@dataclass
class Counters:
    """What the switch read and did, for a benchmark to read (the switch's side of the story)."""

    flow_mods: int = 0  # flow-mods read (any command, refused ones too)
    flows_added: int = 0  # entries added or replaced by ADD
    flows_removed: int = 0
    flow_stats: int = 0  # flow stats requests answered
    errors: int = 0  # errors sent


def _cookie_matches(cookie: int, want: int, mask: int) -> bool:
    return cookie & mask == want & mask


class EmulatedSwitch:
    def __init__(
        self,
        datapath_id: int,
        ports: Iterable[Port],
        max_meters: int = 0,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.datapath_id = datapath_id
        self.ports: dict[int, Port] = {p.port_no: p for p in ports}
        self.table: dict[FlowKey, Entry] = {}
        self.max_meters = max_meters  # 0: a switch without OpenFlow meters
        self.meters: dict[int, bytes] = {}
        self.counters = Counters()
        self._clock = clock
        self._next_port = max(self.ports, default=0) + 1
        self._xid = 0  # of the requests the switch makes (echo)
        self._handlers: dict[int, Callable[[bytes, int], list[bytes]]] = {
            ofp.OFPT_HELLO: self._hello,
            ofp.OFPT_FEATURES_REQUEST: lambda buf, xid: [
                ofwire.features_reply(xid, self.datapath_id, N_TABLES, CAPABILITIES)],
            ofp.OFPT_ECHO_REQUEST: lambda buf, xid: [ofwire.echo_reply(xid, buf[ofp.OFP_HEADER_SIZE:])],
            ofp.OFPT_ECHO_REPLY: lambda buf, xid: [],
            ofp.OFPT_BARRIER_REQUEST: lambda buf, xid: [ofwire.barrier_reply(xid)],
            ofp.OFPT_FLOW_MOD: self._flow_mod,
            ofp.OFPT_MULTIPART_REQUEST: self._multipart,
            ofp.OFPT_METER_MOD: self._meter_mod,
            ofp.OFPT_PACKET_OUT: lambda buf, xid: [],  # sent nowhere: there are no hosts behind the ports
            ofp.OFPT_SET_CONFIG: lambda buf, xid: [],
            ofp.OFPT_ERROR: lambda buf, xid: [],
        }

    # the controller's messages ---------------------------------------------------------------
    def handle(self, buf: bytes) -> list[bytes]:
        """Handle one whole message (the connection frames them); return the replies, in order."""
        if len(buf) < ofp.OFP_HEADER_SIZE:
            raise ValueError("shorter than an OpenFlow header: the connection frames whole messages")
        version, msg_type, length, xid = ofproto_parser.header(buf)
        if length != len(buf):
            return [self._error(xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_LEN, buf)]
        if version != ofp.OFP_VERSION and msg_type != ofp.OFPT_HELLO:
            return [self._error(xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_VERSION, buf)]
        handler = self._handlers.get(msg_type)
        if handler is None:
            return [self._error(xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_TYPE, buf)]
        try:
            return handler(buf, xid)
        except (ValueError, struct.error, AssertionError, IndexError, KeyError):
            # A malformed body (os-ken's parsers assert on some): what a switch says of a bad length.
            return [self._error(xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_LEN, buf)]

    def hello(self, xid: int = 0) -> bytes:
        """What the switch sends first on a new connection."""
        return ofwire.hello(xid)

    def echo_request(self) -> bytes:
        self._xid = (self._xid + 1) & 0xFFFFFFFF
        return ofwire.echo_request(self._xid)

    def _hello(self, buf: bytes, xid: int) -> list[bytes]:
        # The controller offers its highest version; below 1.3 there is nothing in common.
        if buf[0] < ofp.OFP_VERSION:
            return [self._error(xid, ofp.OFPET_HELLO_FAILED, ofp.OFPHFC_INCOMPATIBLE, buf)]
        return []

    def _error(self, xid: int, type_: int, code: int, buf: bytes) -> bytes:
        self.counters.errors += 1
        return ofwire.error(xid, type_, code, buf)

    # flow table --------------------------------------------------------------------------------
    def _flow_mod(self, buf: bytes, xid: int) -> list[bytes]:
        self.counters.flow_mods += 1
        fm = ofwire.raw_flow_mod(buf)
        if fm.buffer_id != ofp.OFP_NO_BUFFER:
            return [self._error(xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BUFFER_UNKNOWN, buf)]
        if fm.command in (ofp.OFPFC_ADD, ofp.OFPFC_MODIFY, ofp.OFPFC_MODIFY_STRICT, ofp.OFPFC_DELETE_STRICT) \
                and fm.table_id >= N_TABLES:
            return [self._error(xid, ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_BAD_TABLE_ID, buf)]
        if fm.command == ofp.OFPFC_ADD:
            if fm.flags & ofp.OFPFF_CHECK_OVERLAP:
                return [self._error(xid, ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_BAD_FLAGS, buf)]
            key = (fm.table_id, fm.priority, fm.match)
            self.table[key] = Entry(fm.cookie, fm.match_raw, fm.instructions, self._clock(),
                                    fm.idle_timeout, fm.hard_timeout, fm.flags)
            self.counters.flows_added += 1
            return []
        if fm.command not in (ofp.OFPFC_MODIFY, ofp.OFPFC_MODIFY_STRICT, ofp.OFPFC_DELETE, ofp.OFPFC_DELETE_STRICT):
            return [self._error(xid, ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_BAD_COMMAND, buf)]
        deleting = fm.command in (ofp.OFPFC_DELETE, ofp.OFPFC_DELETE_STRICT)
        if deleting and (fm.out_port, fm.out_group) != (ofp.OFPP_ANY, ofp.OFPG_ANY):
            return [self._error(xid, ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_UNKNOWN, buf)]  # not emulated
        if fm.command in (ofp.OFPFC_MODIFY_STRICT, ofp.OFPFC_DELETE_STRICT):
            key = (fm.table_id, fm.priority, fm.match)
            held = self.table.get(key)
            keys = [key] if held is not None and _cookie_matches(held.cookie, fm.cookie, fm.cookie_mask) else []
        else:
            keys = self._select(fm.table_id, fm.match, fm.cookie, fm.cookie_mask)
        for key in keys:
            if deleting:
                del self.table[key]
                self.counters.flows_removed += 1
            else:
                self.table[key].instructions = fm.instructions
        return []

    def _select(self, table_id: int, fields: tuple[bytes, ...], cookie: int, mask: int) -> list[FlowKey]:
        """Non-strict selection: entries of the table (or all) whose match includes `fields`, cookie under mask."""
        want = set(fields)
        return [k for k, e in self.table.items()
                if (table_id == ofp.OFPTT_ALL or k[0] == table_id) and want.issubset(k[2])
                and _cookie_matches(e.cookie, cookie, mask)]

    def flow_count(self) -> int:
        return len(self.table)

    # multipart ---------------------------------------------------------------------------------
    def _multipart(self, buf: bytes, xid: int) -> list[bytes]:
        mp_type = ofwire.multipart_type(buf)
        if ofwire.multipart_flags(buf) & ofp.OFPMPF_REQ_MORE:
            return [self._error(xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_MULTIPART, buf)]
        entries: list[bytes]
        if mp_type == ofp.OFPMP_FLOW:
            req = ofwire.flow_stats_request(buf)
            if (req.out_port, req.out_group) != (ofp.OFPP_ANY, ofp.OFPG_ANY):
                return [self._error(xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_EPERM, buf)]  # not emulated
            self.counters.flow_stats += 1
            entries = self._flow_stats(req)
        elif mp_type == ofp.OFPMP_PORT_DESC:
            entries = [ofwire.port_entry(p.port_no, p.name, p.up, self._hw_addr(p.port_no))
                       for p in self.ports.values()]
            entries.append(ofwire.port_entry(ofp.OFPP_LOCAL, f"br{self.datapath_id:x}", True,
                                             self._hw_addr(0)))
        elif mp_type == ofp.OFPMP_METER_FEATURES:
            drop = 1 << ofp.OFPMBT_DROP if self.max_meters else 0
            entries = [ofwire.meter_features_entry(self.max_meters, drop)]
        else:
            return [self._error(xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_MULTIPART, buf)]
        return ofwire.multipart_replies(xid, mp_type, entries)

    def _flow_stats(self, req: ofwire.FlowStatsRequest) -> list[bytes]:
        now = self._clock()
        want = set(req.fields)
        mask, cookie = req.cookie_mask, req.cookie & req.cookie_mask
        selected = [(k, e) for k, e in self.table.items()
                    if e.cookie & mask == cookie
                    and (req.table_id == ofp.OFPTT_ALL or k[0] == req.table_id)
                    and (not want or want.issubset(k[2]))]
        selected.sort(key=lambda ke: ke[0][0])  # by table, as OVS lists them
        return [
            ofwire.raw_flow_stats_entry(k[0], k[1], e.cookie, e.match_raw, e.instructions,
                                        duration_ns=now - e.added_ns, idle_timeout=e.idle_timeout,
                                        hard_timeout=e.hard_timeout, flags=e.flags)
            for k, e in selected
        ]

    # meters ------------------------------------------------------------------------------------
    def _meter_mod(self, buf: bytes, xid: int) -> list[bytes]:
        mod = ofwire.meter_mod(buf)
        code: int | None = None
        if not self.max_meters:
            return [self._error(xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_TYPE, buf)]
        if mod.command == ofp.OFPMC_ADD:
            if mod.meter_id in self.meters:
                code = ofp.OFPMMFC_METER_EXISTS
            elif len(self.meters) >= self.max_meters:
                code = ofp.OFPMMFC_OUT_OF_METERS
        elif mod.command == ofp.OFPMC_MODIFY:
            if mod.meter_id not in self.meters:
                code = ofp.OFPMMFC_UNKNOWN_METER
        elif mod.command == ofp.OFPMC_DELETE:
            self.meters.pop(mod.meter_id, None)
            return []
        else:
            code = ofp.OFPMMFC_BAD_COMMAND
        if code is not None:
            return [self._error(xid, ofp.OFPET_METER_MOD_FAILED, code, buf)]
        self.meters[mod.meter_id] = bytes(buf)
        return []

    # ports (the benchmark's hand) ------------------------------------------------------------------
    def _hw_addr(self, port_no: int) -> bytes:
        return b"\x02" + (self.datapath_id & 0xFFFFFF).to_bytes(3, "big") + (port_no & 0xFFFF).to_bytes(2, "big")

    def _status(self, reason: int, p: Port) -> bytes:
        return ofwire.port_status(reason, p.port_no, p.name, p.up, self._hw_addr(p.port_no))

    def port_named(self, name: str) -> Port | None:
        return next((p for p in self.ports.values() if p.name == name), None)

    def add_port(self, name: str, up: bool = True) -> tuple[Port, bytes]:
        """A new port (the next unused number, as OVS numbers them); its port status message."""
        if self.port_named(name) is not None:
            raise ValueError(f"switch {self.datapath_id:016x} already has a port {name}")
        port = Port(self._next_port, name, up)
        self._next_port += 1
        self.ports[port.port_no] = port
        return port, self._status(ofp.OFPPR_ADD, port)

    def remove_port(self, name: str) -> bytes:
        port = self.port_named(name)
        if port is None:
            raise ValueError(f"switch {self.datapath_id:016x} has no port {name}")
        del self.ports[port.port_no]
        return self._status(ofp.OFPPR_DELETE, port)

    def set_port(self, name: str, up: bool) -> bytes:
        port = self.port_named(name)
        if port is None:
            raise ValueError(f"switch {self.datapath_id:016x} has no port {name}")
        self.ports[port.port_no] = Port(port.port_no, name, up)
        return self._status(ofp.OFPPR_MODIFY, self.ports[port.port_no])
