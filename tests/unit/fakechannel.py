"""A fake switch connection: the real send path over a fake os-ken datapath.

`FakeDatapath` stands where os-ken's `Datapath` stands: it has `id`, `ofproto`,
`ofproto_parser`, `send_msg(msg) -> bool` and `send(buf) -> bool` (bytes already
serialised, one message or several back to back). Every message it is sent is
serialised to bytes as os-ken would put them on the socket and read back as a
switch would (testbeds/ofwire.py): a flow-mod through os-ken's own OFPFlowMod
parser, then applied to a `flows.sim.FakeSwitch` (ADD replaces the entry at
the same table, priority and match, cookie included; DELETE_STRICT removes it
only if its cookie matches under the mask). Flow stats requests are answered
from the switch's table, filtered by cookie and mask as Open vSwitch does, port
descriptions from its ports (and its LOCAL port, as OVS reports it), meter
features and meter mods from a meter table if the switch has one, barriers with
a barrier reply; a rejected flow-mod gets a real OFPT_ERROR. Replies are written
as bytes and parsed by os-ken's message parser, then handed to the controller
the way `SdnApp`'s handlers do (`to_channels`), in the sender's thread or on an
`EventThread` like os-ken's.

`FakeChannel` is the reconciler's Channel for tests: the real
`sdnapp.ofapp.SwitchChannels` (and so `sdnapp.ofmsg`) over one FakeDatapath per
switch, with knobs to reject flow-mods, lose barriers, disconnect and
reconnect, and a record of the flow-mods sent, named by the diff's kinds.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from flows.diff import FlowDiff
from flows.model import Action, Flow, Opaque, Output, PopVlan, PushVlan, SetField
from flows.sim import FakeSwitch
from sdnapp.ofapp import SwitchChannels
from testbeds import ofwire
from topology.switches import SwitchPort

DiffKind = Literal["add", "modify", "delete"]
MAX_METERS = 64

# The reply messages SdnApp hands to SwitchChannels.on_reply (the rest go to
# on_barrier and on_error); test_switch_channels checks SdnApp subscribes to them.
REPLY_TYPES: tuple[type, ...] = (
    parser.OFPFlowStatsReply,
    parser.OFPPortDescStatsReply,
    parser.OFPMeterFeaturesStatsReply,
)


def to_channels(channels: SwitchChannels) -> Callable[[Any], None]:
    """Hand a message from a switch to `channels` as SdnApp's event handlers do."""

    def deliver(msg: Any) -> None:
        if isinstance(msg, parser.OFPBarrierReply):
            channels.on_barrier(msg)
        elif isinstance(msg, parser.OFPErrorMsg):
            channels.on_error(msg)
        elif isinstance(msg, REPLY_TYPES):
            channels.on_reply(msg)
        else:
            raise AssertionError(f"SdnApp has no handler for {type(msg).__name__}")

    return deliver


class EventThread:
    """Runs deliveries one after another on one thread, as os-ken's application event loop runs handlers."""

    _STOP = object()

    def __init__(self, deliver: Callable[[Any], None]) -> None:
        self._deliver = deliver
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.failures: list[BaseException] = []  # a handler that raised: os-ken would log it and go on
        self._thread = threading.Thread(target=self._run, name="fake-os-ken-events", daemon=True)
        self._thread.start()

    def __call__(self, msg: Any) -> None:
        self._queue.put(msg)

    def _run(self) -> None:
        while True:
            msg = self._queue.get()
            if msg is self._STOP:
                return
            try:
                self._deliver(msg)
            except BaseException as e:  # kept for the test to see; the loop must go on like os-ken's
                self.failures.append(e)

    def stop(self) -> None:
        self._queue.put(self._STOP)
        self._thread.join(5)


@dataclass(frozen=True)
class Received:
    """One message the fake switch read off the wire."""

    dpid: int
    xid: int
    what: str  # "flow_mod", "flow_stats", "port_desc", "meter_features", "meter_mod", "barrier", "packet_out", ...
    command: int | None = None  # flow-mods and meter mods: the command on the wire
    flow: Flow | None = None  # flow-mods: the flow as the switch read it (a delete's has no instructions)
    cookie_mask: int | None = None  # flow-mods
    meter: ofwire.MeterMod | None = None  # meter mods
    rejected: bool = False  # answered with an error


# Actions sdnapp never writes that a switch may hold (another application, an operator): the fake
# switch holds and reports them as what sdnapp reads them back as, Opaque(repr(action)).
FOREIGN_ACTIONS: dict[str, Any] = {repr(a): a for a in (parser.OFPActionGroup(7), parser.OFPActionSetQueue(1))}


def foreign_action(a: Any) -> Opaque:
    """The value of one of FOREIGN_ACTIONS, as read back from a switch."""
    assert FOREIGN_ACTIONS[repr(a)] is a
    return Opaque(repr(a))


def _switch_action(a: Any) -> Action:
    """An action as the switch reads it; anything the simulator cannot run fails the test."""
    if repr(a) in FOREIGN_ACTIONS:
        return Opaque(repr(a))
    if isinstance(a, parser.OFPActionOutput):
        return Output(a.port)
    if isinstance(a, parser.OFPActionPushVlan):
        return PushVlan(a.ethertype)
    if isinstance(a, parser.OFPActionPopVlan):
        return PopVlan()
    if isinstance(a, parser.OFPActionSetField):
        return SetField(a.key, a.value)
    raise NotImplementedError(f"the fake switch cannot run action {a}")


def switch_flow(table_id: int, priority: int, cookie: int, match: Any, instructions: list[Any]) -> Flow:
    """The entry a switch would hold for a flow-mod's fields: what flows.sim runs."""
    actions: tuple[Action, ...] = ()
    goto: int | None = None
    meter: int | None = None
    seen: set[int] = set()
    for inst in instructions:
        # OpenFlow 1.3 allows each instruction type once (else OFPBIC_DUP_INST).
        assert inst.type not in seen, f"instruction type {inst.type} twice"
        seen.add(inst.type)
        if isinstance(inst, parser.OFPInstructionActions) and inst.type == ofp.OFPIT_APPLY_ACTIONS:
            actions = tuple(_switch_action(a) for a in inst.actions)
        elif isinstance(inst, parser.OFPInstructionGotoTable):
            goto = inst.table_id
        elif isinstance(inst, parser.OFPInstructionMeter):
            meter = inst.meter_id
        else:
            raise NotImplementedError(f"the fake switch cannot run instruction {inst}")
    fields = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in match.items()))
    return Flow(table_id, priority, fields, actions, goto, cookie, meter=meter)


def _wire_action(a: Action) -> Any:
    if isinstance(a, Output):
        # What OVS reports: the whole packet to the controller, max_len 0 elsewhere.
        return parser.OFPActionOutput(a.port, ofp.OFPCML_NO_BUFFER if a.port == ofp.OFPP_CONTROLLER else 0)
    if isinstance(a, PushVlan):
        return parser.OFPActionPushVlan(a.ethertype)
    if isinstance(a, PopVlan):
        return parser.OFPActionPopVlan()
    if isinstance(a, SetField):
        return parser.OFPActionSetField(**{a.name: a.value})
    if isinstance(a, Opaque) and a.text in FOREIGN_ACTIONS:
        return FOREIGN_ACTIONS[a.text]
    raise NotImplementedError(f"the fake switch cannot report {a}")


def stats_entry(f: Flow) -> bytes:
    """The flow stats entry a switch writes for a flow it holds (instructions in the spec's order)."""
    if f.extra:
        raise NotImplementedError(f"the fake switch cannot report instructions {f.extra}")
    inst: list[Any] = []
    if f.meter is not None:
        inst.append(parser.OFPInstructionMeter(f.meter, ofp.OFPIT_METER))
    if f.actions:
        inst.append(parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [_wire_action(a) for a in f.actions]))
    if f.goto is not None:
        inst.append(parser.OFPInstructionGotoTable(f.goto))
    return ofwire.flow_stats_entry(f.table, f.priority, f.cookie, parser.OFPMatch(**dict(f.match)), inst)


class FakeDatapath:
    """os-ken's Datapath as SwitchChannels uses it, in front of a FakeSwitch."""

    ofproto = ofp
    ofproto_parser = parser

    def __init__(
        self,
        switch: FakeSwitch,
        deliver: Callable[[Any], None],
        ports: dict[int, SwitchPort] | None = None,
        meters: dict[int, ofwire.MeterMod] | None = None,
        log: list[Received] | None = None,
    ) -> None:
        self.id = switch.datapath_id
        self.switch = switch
        self.deliver = deliver  # gets every reply, parsed by os-ken, with this datapath as its `datapath`
        self.ports = ports if ports is not None else {
            p: SwitchPort(p, f"port{p}", True) for p in sorted(switch.port_nos)
        }
        self.meters = meters  # None: a switch without OpenFlow meters
        self.log: list[Received] = log if log is not None else []
        self.connected = True  # False: send_msg returns False, as os-ken's does once the connection closed
        self.reject: Callable[[Flow], bool] = lambda f: False
        self.loses_barrier: Callable[[], bool] = lambda: False  # True: barriers are never answered
        self.refuse_meters = False  # meter mods fail (out of meters)
        self.max_reply = ofwire.MAX_MESSAGE  # split multipart replies at this length
        self.extra_stats: list[bytes] = []  # flow stats entries written after the table's, as given (a buggy switch)
        self.on_receive: Callable[[ofwire.Header], None] | None = None  # runs before a message is handled

    def send_msg(self, msg: Any) -> bool:
        if not self.connected:
            return False
        return self.send(ofwire.to_wire(msg))

    def send(self, buf: bytes, close_socket: bool = False) -> bool:
        if not self.connected:
            return False
        for one in ofwire.split(buf):
            if not self.connected:
                break  # the connection closed: the switch reads nothing more of what was queued
            for reply in self.answer(one):
                self.deliver(ofwire.parse(self, reply))
        return True

    # the switch --------------------------------------------------------------
    def answer(self, buf: bytes) -> list[bytes]:
        """Handle one message as the switch; return the replies it writes."""
        h = ofwire.header(buf)
        if self.on_receive is not None:
            self.on_receive(h)
        if h.msg_type == ofp.OFPT_FLOW_MOD:
            return self._flow_mod(buf, h)
        if h.msg_type == ofp.OFPT_MULTIPART_REQUEST:
            return self._multipart(buf, h)
        if h.msg_type == ofp.OFPT_BARRIER_REQUEST:
            self._record(h, "barrier")
            return [] if self.loses_barrier() else [ofwire.barrier_reply(h.xid)]
        if h.msg_type == ofp.OFPT_METER_MOD:
            return self._meter_mod(buf, h)
        if h.msg_type == ofp.OFPT_PACKET_OUT:
            self._record(h, "packet_out")
            return []
        self._record(h, f"type {h.msg_type}", rejected=True)
        return [ofwire.error(h.xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_TYPE, buf)]

    def _record(self, h: ofwire.Header, what: str, **kw: Any) -> None:
        self.log.append(Received(self.id, h.xid, what, **kw))

    def _flow_mod(self, buf: bytes, h: ofwire.Header) -> list[bytes]:
        fm = ofwire.parse(self, buf)
        if fm.command not in (ofp.OFPFC_ADD, ofp.OFPFC_DELETE_STRICT):
            raise NotImplementedError(f"the fake switch does not implement flow-mod command {fm.command}")
        # Nothing here expires or waits for a buffered packet; this application never asks for it.
        assert (fm.idle_timeout, fm.hard_timeout, fm.flags, fm.buffer_id) == (0, 0, 0, ofp.OFP_NO_BUFFER), fm
        flow = switch_flow(fm.table_id, fm.priority, fm.cookie, fm.match, fm.instructions)
        failure: tuple[int, int] | None = None
        if self.reject(flow):
            failure = (ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_EPERM)
        elif fm.command == ofp.OFPFC_ADD and flow.meter is not None and flow.meter not in (self.meters or {}):
            failure = (ofp.OFPET_METER_MOD_FAILED, ofp.OFPMMFC_UNKNOWN_METER)  # as OVS answers
        self._record(h, "flow_mod", command=fm.command, flow=flow, cookie_mask=fm.cookie_mask,
                     rejected=failure is not None)
        if failure is not None:
            return [ofwire.error(h.xid, *failure, buf)]
        if fm.command == ofp.OFPFC_ADD:
            self.switch.apply("add", flow)  # replaces an entry of the same identity, its cookie too
            return []
        assert (fm.out_port, fm.out_group) == (ofp.OFPP_ANY, ofp.OFPG_ANY), fm
        held = self.switch.flows.get(flow.table, {}).get(flow.key)
        if held is not None and held.cookie & fm.cookie_mask == fm.cookie & fm.cookie_mask:
            self.switch.apply("delete", held)
        return []

    def _multipart(self, buf: bytes, h: ofwire.Header) -> list[bytes]:
        mp_type = ofwire.multipart_type(buf)
        entries: list[bytes]
        if mp_type == ofp.OFPMP_FLOW:
            req = ofwire.flow_stats_request(buf)
            if list(req.match.items()) or (req.out_port, req.out_group) != (ofp.OFPP_ANY, ofp.OFPG_ANY):
                raise NotImplementedError(f"the fake switch filters flow stats by cookie and table only: {req}")
            self._record(h, "flow_stats")
            mask = req.cookie_mask
            entries = [
                stats_entry(f) for f in self.switch.all_flows()
                if req.table_id in (ofp.OFPTT_ALL, f.table) and f.cookie & mask == req.cookie & mask
            ] + self.extra_stats
        elif mp_type == ofp.OFPMP_PORT_DESC:
            self._record(h, "port_desc")
            entries = [ofwire.port_entry(p.port_no, p.name, p.up) for p in self.ports.values()]
            entries.append(ofwire.port_entry(ofp.OFPP_LOCAL, f"br{self.id}", True))  # OVS lists the bridge's own port
        elif mp_type == ofp.OFPMP_METER_FEATURES:
            self._record(h, "meter_features")
            has = self.meters is not None
            entries = [ofwire.meter_features_entry(MAX_METERS if has else 0, 1 << ofp.OFPMBT_DROP if has else 0)]
        else:
            self._record(h, f"multipart {mp_type}", rejected=True)
            return [ofwire.error(h.xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_MULTIPART, buf)]
        return ofwire.multipart_replies(h.xid, mp_type, entries, self.max_reply)

    def _meter_mod(self, buf: bytes, h: ofwire.Header) -> list[bytes]:
        mod = ofwire.meter_mod(buf)
        code: int | None = None
        if self.meters is None:
            err = ofwire.error(h.xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_TYPE, buf)
            self._record(h, "meter_mod", command=mod.command, meter=mod, rejected=True)
            return [err]
        if self.refuse_meters:
            code = ofp.OFPMMFC_OUT_OF_METERS
        elif mod.command == ofp.OFPMC_ADD and mod.meter_id in self.meters:
            code = ofp.OFPMMFC_METER_EXISTS
        elif mod.command == ofp.OFPMC_MODIFY and mod.meter_id not in self.meters:
            code = ofp.OFPMMFC_UNKNOWN_METER
        elif mod.command not in (ofp.OFPMC_ADD, ofp.OFPMC_MODIFY):
            code = ofp.OFPMMFC_BAD_COMMAND
        self._record(h, "meter_mod", command=mod.command, meter=mod, rejected=code is not None)
        if code is not None:
            return [ofwire.error(h.xid, ofp.OFPET_METER_MOD_FAILED, code, buf)]
        self.meters[mod.meter_id] = mod
        return []


@dataclass(frozen=True)
class Message:
    """One flow-mod as sent. `kind` and `flow` are the diff's: a "modify" goes on the wire as an ADD, a
    delete without instructions; FakeChannel checked that what the switch read is that flow."""

    dpid: int
    kind: DiffKind
    flow: Flow
    rejected: bool = False


class FakeChannel:
    """The reconciler's Channel over simulated switches: the real SwitchChannels, a FakeDatapath each."""

    def __init__(self, *switches: FakeSwitch, meters: bool = False, threaded: bool = False) -> None:
        self.channels = SwitchChannels()
        self.switches: dict[int, FakeSwitch] = {sw.datapath_id: sw for sw in switches}
        self.ports: dict[int, dict[int, SwitchPort]] = {
            sw.datapath_id: {p: SwitchPort(p, f"port{p}", True) for p in sorted(sw.port_nos)} for sw in switches
        }
        # A switch's meters outlive its connections, like its flows.
        self.meters: dict[int, dict[int, ofwire.MeterMod] | None] = {
            sw.datapath_id: {} if meters else None for sw in switches
        }
        self.log: list[Received] = []  # every message any of the switches read, in order
        self.messages: list[Message] = []
        self.lose_barrier: set[int] = set()  # dpids whose barriers are never answered (requests time out)
        self.reject: Callable[[Flow], bool] = lambda f: False
        self.on_send: Callable[[int, FlowDiff], None] | None = None  # runs before the flow-mods go out
        # Runs after a port list is read and before it is returned: what the switch does while
        # its reply is on the way (port-status events the controller receives meanwhile).
        self.after_port_desc: Callable[[int], None] | None = None
        route = to_channels(self.channels)
        self.events = EventThread(route) if threaded else None
        self._deliver: Callable[[Any], None] = self.events if self.events is not None else route
        self.datapaths: dict[int, FakeDatapath] = {}
        for dpid in self.switches:
            self._connect(dpid)

    def _connect(self, dpid: int) -> FakeDatapath:
        dp = FakeDatapath(self.switches[dpid], self._deliver, self.ports[dpid], self.meters[dpid], self.log)
        dp.reject = lambda f: self.reject(f)
        dp.loses_barrier = lambda: dpid in self.lose_barrier
        self.datapaths[dpid] = dp
        self.channels.add(dp)  # as SdnApp does when the datapath reaches MAIN_DISPATCHER
        return dp

    # configuration ---------------------------------------------------------
    def set_port(self, dpid: int, port_no: int, name: str | None = None, up: bool | None = None) -> SwitchPort:
        old = self.ports[dpid].get(port_no, SwitchPort(port_no, f"port{port_no}", True))
        new = SwitchPort(port_no, old.name if name is None else name, old.up if up is None else up)
        self.ports[dpid][port_no] = new
        return new

    def delete_port(self, dpid: int, port_no: int) -> SwitchPort:
        return self.ports[dpid].pop(port_no)

    def disconnect(self, dpid: int) -> None:
        """The connection closes: sends fail, and os-ken reports DEAD_DISPATCHER (SdnApp removes the datapath)."""
        dp = self.datapaths[dpid]
        dp.connected = False
        self.channels.remove(dp)

    def reconnect(self, dpid: int) -> None:
        """A new connection from the same switch: a new datapath object, as os-ken makes one per connection.

        If the old connection was not seen to close, its death is reported after the new one is up, as
        os-ken may (an echo timeout on a half-open connection): that must not drop the new datapath.
        """
        old = self.datapaths[dpid]
        self._connect(dpid)
        if old.connected:
            old.connected = False
            self.channels.remove(old)

    @property
    def gone(self) -> set[int]:
        return {dpid for dpid, dp in self.datapaths.items() if not dp.connected}

    @property
    def reads(self) -> list[int]:
        """The dpids whose flows were read (flow stats requests), in order."""
        return [r.dpid for r in self.log if r.what == "flow_stats"]

    @property
    def port_descs(self) -> list[int]:
        return [r.dpid for r in self.log if r.what == "port_desc"]

    def clear(self) -> None:
        """Forget what was recorded so far."""
        self.messages.clear()
        self.log.clear()

    def sent(self, dpid: int | None = None) -> list[Message]:
        return [m for m in self.messages if dpid is None or m.dpid == dpid]

    def close(self) -> None:
        if self.events is not None:
            self.events.stop()

    # the Channel protocol -----------------------------------------------------
    def port_desc(self, dpid: int) -> list[SwitchPort]:
        reply = self.channels.port_desc(dpid)
        if self.after_port_desc is not None:
            self.after_port_desc(dpid)
        return reply

    def read_flows(self, dpid: int) -> list[Flow]:
        return self.channels.read_flows(dpid)

    def ensure_controller_meter(self, dpid: int, meter_id: int, rate_pps: int, burst: int,
                                write: bool = True) -> bool:
        return self.channels.ensure_controller_meter(dpid, meter_id, rate_pps, burst, write)

    def send(self, dpid: int, diff: FlowDiff) -> list[Flow]:
        if self.on_send is not None:
            self.on_send(dpid, diff)
        start = len(self.log)
        try:
            return self.channels.send(dpid, diff)
        finally:
            self._name(dpid, diff, [r for r in self.log[start:] if r.what == "flow_mod"])

    def _name(self, dpid: int, diff: FlowDiff, wire: list[Received]) -> None:
        """Record the flow-mods that went out as the diff's entries, checking each is what the switch read."""
        ordered: list[tuple[DiffKind, Flow]] = (
            [("delete", f) for f in diff.delete] + [("modify", f) for f in diff.modify] + [("add", f) for f in diff.add]
        )
        assert len(wire) <= len(ordered), (wire, ordered)
        for r, (kind, f) in zip(wire, ordered, strict=False):
            assert r.dpid == dpid and r.flow is not None
            if kind == "delete":
                assert r.command == ofp.OFPFC_DELETE_STRICT and r.cookie_mask == 0xFFFFFFFFFFFFFFFF, r
                assert (r.flow.key, r.flow.cookie, r.flow.actions, r.flow.goto) == (f.key, f.cookie, (), None), (r, f)
            else:
                assert r.command == ofp.OFPFC_ADD and r.cookie_mask == 0, r
                assert r.flow == f, (r.flow, f)
            self.messages.append(Message(dpid, kind, f, rejected=r.rejected))
