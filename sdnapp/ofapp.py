"""The os-ken application: owns switch connections and turns flow values into messages.

Event handlers run in os-ken's event thread and never block: each hands its
event to the reconciler in one call (which updates the topology, port status
and the work queue together). The reconciler's thread talks to
switches through `SwitchChannels`, which sends pipelined flow-mods and a
barrier and waits for the replies, matched by transaction id.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from os_ken.base import app_manager
from os_ken.controller import controller, ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_0
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from flows.diff import FlowDiff
from flows.model import Flow
from topology.switches import SwitchPort

from . import ofmsg
from .capabilities import CapabilityBook
from .metrics import NO_METRICS, Metrics
from .packetin import PacketIns
from .reconciler import Reconciler, SwitchGone

LOG = logging.getLogger(__name__)

REPLY_TIMEOUT = 30.0
SEND_CHUNK = 64 * 1024


def report_disconnects_on_native_threads() -> None:
    """Make os-ken notice a switch that closed its connection, with native threads. Call once, before starting os-ken.

    os-ken's Datapath.serve() waits for its send thread after the receive loop
    ends, and "kills" it first; with the native hub a kill does nothing, and the
    send thread sleeps on its queue forever, so the datapath never reaches
    DEAD_DISPATCHER and nobody learns the switch is gone. Waking the send
    thread with a closing no-op send when the receive loop ends lets serve()
    finish, and os-ken then reports the disconnect as usual.
    """
    original = controller.Datapath._recv_loop
    if getattr(original, "_sdnapp_wakes_sender", False):
        return

    def _recv_loop(self: Any) -> None:
        try:
            original(self)
        finally:
            if self.send_q is not None:
                self.send(b"", close_socket=True)

    _recv_loop._sdnapp_wakes_sender = True  # type: ignore[attr-defined]
    controller.Datapath._recv_loop = _recv_loop


def switch_port(p: Any) -> SwitchPort:
    name = p.name.decode("utf-8", "replace") if isinstance(p.name, bytes) else str(p.name)
    up = not (p.state & ofp.OFPPS_LINK_DOWN) and not (p.config & ofp.OFPPC_PORT_DOWN)
    return SwitchPort(int(p.port_no), name.rstrip("\x00"), bool(up))


@dataclass
class _Pending:
    """A request waiting for its replies and the barrier that closes it."""

    dpid: int
    xids: set[int]
    barrier_xid: int
    # The connection it went out on: only that one's replies count, and only its
    # end (not an older connection's of the same switch) abandons the request.
    datapath: Any
    done: threading.Event = field(default_factory=threading.Event)
    replies: list[Any] = field(default_factory=list)
    errors: dict[int, Any] = field(default_factory=dict)


class SwitchChannels:
    """Request/reply over os-ken datapaths, usable from any thread."""

    def __init__(self, metrics: Metrics = NO_METRICS, capabilities: CapabilityBook | None = None) -> None:
        self.metrics = metrics
        self.capabilities = capabilities if capabilities is not None else CapabilityBook()
        self._lock = threading.Lock()
        self._datapaths: dict[int, Any] = {}
        self._pending: dict[int, _Pending] = {}  # by every xid it owns
        # Our own xid space, apart from the one os-ken's datapath uses for
        # echoes and handshakes, so the two can never collide.
        self._xids = itertools.count(0x80000000)

    def add(self, dp: Any) -> None:
        with self._lock:
            self._datapaths[dp.id] = dp

    def remove(self, dp: Any) -> bool:
        """Forget a connection that ended; True if it was the switch's current one (not one a newer
        connection of the same switch has replaced)."""
        dpid = dp.id
        with self._lock:
            current = self._datapaths.get(dpid) is dp
            if current:
                del self._datapaths[dpid]
            gone = [req for req in self._pending.values() if req.datapath is dp]
        for req in gone:
            req.done.set()
        return current

    def is_current(self, dp: Any) -> bool:
        with self._lock:
            return self._datapaths.get(dp.id) is dp

    def _dp(self, dpid: int) -> Any:
        with self._lock:
            dp = self._datapaths.get(dpid)
        if dp is None:
            raise SwitchGone(f"{dpid:016x}")
        return dp

    def _xid(self) -> int:
        with self._lock:
            return next(self._xids) & 0xFFFFFFFF

    def request(self, dpid: int, msgs: list[Any]) -> _Pending:
        """Send `msgs` and a barrier; wait for the barrier reply (which follows every reply)."""
        dp = self._dp(dpid)
        for m in msgs:
            m.set_xid(self._xid())
        return self._exchange(dpid, dp, [m.xid for m in msgs], lambda: all(dp.send_msg(m) for m in msgs))

    def _exchange(self, dpid: int, dp: Any, xids: list[int], send: Callable[[], bool]) -> _Pending:
        """Register `xids` and a barrier, `send()` the messages they number (False: the connection is
        closing), send the barrier and wait for its reply."""
        barrier = parser.OFPBarrierRequest(dp)
        barrier.set_xid(self._xid())
        pending = _Pending(dpid, set(xids), barrier.xid, dp)
        owned = pending.xids | {barrier.xid}
        with self._lock:
            # Removed since it was looked up: remove() cannot have woken this request.
            if dpid not in self._datapaths or self._datapaths[dpid] is not dp:
                raise SwitchGone(f"{dpid:016x}")
            for x in owned:
                self._pending[x] = pending
        outcome, sent = "gone", time.perf_counter()
        try:
            if not send():
                raise SwitchGone(f"{dpid:016x}")
            if not dp.send_msg(barrier):
                raise SwitchGone(f"{dpid:016x}")
            if not pending.done.wait(REPLY_TIMEOUT):
                outcome = "timeout"
                raise SwitchGone(f"{dpid:016x}: no barrier reply in {REPLY_TIMEOUT:.0f}s")
            with self._lock:
                if self._datapaths.get(dpid) is not dp:
                    raise SwitchGone(f"{dpid:016x}")
            outcome = "ok"
            return pending
        finally:
            self.metrics.barrier(dpid, outcome, time.perf_counter() - sent if outcome == "ok" else None)
            with self._lock:
                for x in owned:
                    self._pending.pop(x, None)

    # called from the os-ken event thread
    def _open(self, msg: Any) -> _Pending | None:
        """The open request `msg` answers: sent on the connection it came from, not closed by its barrier yet.

        xids are sequential, so another switch could name one of this switch's; and
        a reply after the barrier reply must not change what the caller is reading.
        """
        with self._lock:
            p = self._pending.get(msg.xid)
        if p is None or p.datapath is not msg.datapath or p.done.is_set():
            return None
        return p

    def on_reply(self, msg: Any) -> None:
        p = self._open(msg)
        if p is not None:
            p.replies.append(msg)

    def on_error(self, msg: Any) -> None:
        p = self._open(msg)
        if p is not None:
            p.errors[msg.xid] = msg
        else:
            LOG.warning("switch %016x sent an error: type=%s code=%s", msg.datapath.id, msg.type, msg.code)

    def on_barrier(self, msg: Any) -> None:
        p = self._open(msg)
        if p is not None and p.barrier_xid == msg.xid:
            p.done.set()

    def packet_out(self, dpid: int, port_no: int, data: bytes) -> None:
        dp = self._dp(dpid)
        msg = parser.OFPPacketOut(
            dp, buffer_id=ofp.OFP_NO_BUFFER, in_port=ofp.OFPP_CONTROLLER,
            actions=[parser.OFPActionOutput(port_no, 0)], data=data,
        )
        msg.set_xid(self._xid())
        if not dp.send_msg(msg):
            raise SwitchGone(f"{dpid:016x}")

    def ensure_controller_meter(self, dpid: int, meter_id: int, rate_pps: int, burst: int,
                                write: bool = True) -> bool:
        """Set up the meter that limits packets to the controller; False if the switch has no meters.
        Without `write` (a slave may not), only whether the switch has meters for it."""
        dp = self._dp(dpid)
        features = self.request(dpid, [ofmsg.meter_features_request(dp)])
        meters = 0 if features.errors else ofmsg.drop_meters(features.replies)
        self.capabilities.meters(dpid, meters)
        if not meters or not write:
            return bool(meters)
        mod = ofmsg.meter_mod(dp, ofmsg.MODIFY, meter_id, rate_pps, burst)
        if self.request(dpid, [mod]).errors:  # no such meter yet
            add = ofmsg.meter_mod(dp, ofmsg.ADD, meter_id, rate_pps, burst)
            if self.request(dpid, [add]).errors:
                LOG.warning("switch %016x refused meter %d: packets to the controller are not limited",
                            dpid, meter_id)
                return False
        return True

    def connection(self, dpid: int) -> object | None:
        """The switch's current connection (a new one after a reconnect: its role is to be told again)."""
        with self._lock:
            return self._datapaths.get(dpid)

    def role(self, dpid: int, master: bool, generation: int) -> bool:
        """OFPT_ROLE_REQUEST master or slave with `generation`; False if the switch refused it (stale)."""
        dp = self._dp(dpid)
        role = ofp.OFPCR_ROLE_MASTER if master else ofp.OFPCR_ROLE_SLAVE
        p = self.request(dpid, [parser.OFPRoleRequest(dp, role, generation)])
        for err in p.errors.values():
            LOG.warning("switch %016x refused role %s with generation %d: type=%s code=%s", dpid,
                        "master" if master else "slave", generation, err.type, err.code)
        return not p.errors

    # the reconciler's Channel
    def port_desc(self, dpid: int) -> list[SwitchPort]:
        dp = self._dp(dpid)
        p = self.request(dpid, [parser.OFPPortDescStatsRequest(dp, 0)])
        ports = [switch_port(x) for r in p.replies for x in r.body]
        physical = [x for x in ports if x.port_no <= ofp.OFPP_MAX]
        self.capabilities.ports(dpid, len(physical))
        return physical

    def read_flows(self, dpid: int) -> list[Flow]:
        dp = self._dp(dpid)
        p = self.request(dpid, [ofmsg.flow_stats_request(dp)])
        if p.errors:
            raise SwitchGone(f"{dpid:016x} refused the flow stats request")
        return [f for r in p.replies for e in r.body if (f := ofmsg.flow_from_entry(e)) is not None]

    def send(self, dpid: int, d: FlowDiff) -> list[Flow]:
        dp = self._dp(dpid)
        # Deletions first, so a moved flow never briefly exists twice and a
        # removed member loses access before anything else changes.
        ordered = (
            [(ofmsg.DELETE, f) for f in d.delete]
            + [(ofmsg.MODIFY, f) for f in d.modify]
            + [(ofmsg.ADD, f) for f in d.add]
        )
        xids = [self._xid() for _ in ordered]
        # Flow-mods go out back to back in a few large buffers: one os-ken send (a slot of its
        # send queue, a sendall) per SEND_CHUNK bytes rather than per flow-mod.
        chunks: list[bytes] = []
        chunk = bytearray()
        for (kind, f), xid in zip(ordered, xids, strict=True):
            chunk += ofmsg.flow_mod_bytes(dp, kind, f, xid)
            if len(chunk) >= SEND_CHUNK:
                chunks.append(bytes(chunk))
                chunk.clear()
        if chunk:
            chunks.append(bytes(chunk))
        counts = {ofmsg.ADD: len(d.add), ofmsg.MODIFY: len(d.modify), ofmsg.DELETE: len(d.delete)}
        self.metrics.flow_mods(dpid, counts, 0)
        p = self._exchange(dpid, dp, xids, lambda: all(dp.send(c) for c in chunks))
        rejected = []
        for xid, (_, f) in zip(xids, ordered, strict=True):
            err = p.errors.get(xid)
            if err is not None:
                LOG.error("switch %016x rejected %s: type=%s code=%s", dpid, f, err.type, err.code)
                rejected.append(f)
        self.metrics.flow_mods(dpid, {}, len(rejected))
        return rejected


class SdnApp(app_manager.OSKenApp):
    # OpenFlow 1.3 is what the pipeline needs; a switch that speaks only 1.0 is let in as far as the
    # handshake, so that it is reported with what it lacks instead of failing to connect in silence.
    OFP_VERSIONS = [ofproto_v1_0.OFP_VERSION, ofp.OFP_VERSION]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.reconciler: Reconciler = kwargs.pop("sdnapp_reconciler")
        self.channels: SwitchChannels = kwargs.pop("sdnapp_channels")
        self.packet_ins: PacketIns = kwargs.pop("sdnapp_packet_ins")
        super().__init__(*args, **kwargs)
        self.name = "sdnapp"

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _features(self, ev: Any) -> None:
        msg = ev.msg
        dp = msg.datapath
        LOG.info("switch %016x connecting from %s", msg.datapath_id, dp.address)
        missing = self.channels.capabilities.handshake(msg.datapath_id, dp.ofproto.OFP_VERSION, msg.n_tables)
        if missing:
            LOG.error("switch %016x lacks what the pipeline needs: %s; it is left alone", msg.datapath_id,
                      "; ".join(missing))

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def _state_change(self, ev: Any) -> None:
        dp = ev.datapath
        if dp.id is None:
            return
        if ev.state == MAIN_DISPATCHER:
            if self.channels.capabilities.missing(dp.id):
                # Never programmed, not even in part: listed (as not in use) with what it lacks.
                self.reconciler.topology.expect(dp.id)
                return
            self.channels.add(dp)
            LOG.info("switch %016x connected", dp.id)
            self.reconciler.on_switch_up(dp.id)
        elif ev.state == DEAD_DISPATCHER:
            # os-ken may report an old connection's end after the switch's new one is up
            # (a half-open connection found dead by echoes): that switch is not gone.
            if self.channels.remove(dp):
                LOG.info("switch %016x disconnected", dp.id)
                self.reconciler.on_switch_down(dp.id)
            else:
                LOG.info("switch %016x: an older connection ended", dp.id)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _port_status(self, ev: Any) -> None:
        msg = ev.msg
        if msg.datapath.ofproto.OFP_VERSION != ofp.OFP_VERSION:
            return  # a switch refused at its handshake
        port = switch_port(msg.desc)
        if port.port_no > ofp.OFPP_MAX or not self.channels.is_current(msg.datapath):
            return  # a reserved port, or news from a connection a newer one replaced
        deleted = msg.reason == ofp.OFPPR_DELETE
        LOG.info("switch %016x port %d (%s) %s", msg.datapath.id, port.port_no, port.name,
                 "deleted" if deleted else ("up" if port.up else "down"))
        self.reconciler.on_port_status(msg.datapath.id, port, deleted=deleted)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def _flow_stats(self, ev: Any) -> None:
        self.channels.on_reply(ev.msg)

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    def _port_desc(self, ev: Any) -> None:
        self.channels.on_reply(ev.msg)

    @set_ev_cls(ofp_event.EventOFPMeterFeaturesStatsReply, MAIN_DISPATCHER)
    def _meter_features(self, ev: Any) -> None:
        self.channels.on_reply(ev.msg)

    @set_ev_cls(ofp_event.EventOFPRoleReply, MAIN_DISPATCHER)
    def _role_reply(self, ev: Any) -> None:
        self.channels.on_reply(ev.msg)

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def _barrier(self, ev: Any) -> None:
        self.channels.on_barrier(ev.msg)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def _error(self, ev: Any) -> None:
        self.channels.on_error(ev.msg)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev: Any) -> None:
        # What the pipeline punts (LLDP, DHCP) goes to its handler. Anything from a switch is
        # untrusted input: a malformed packet-in is logged and dropped.
        msg = ev.msg
        reason = _PACKET_IN_REASONS.get(getattr(msg, "reason", None), "other")
        try:
            in_port = int(msg.match["in_port"])
            data = bytes(msg.data)
        except (KeyError, TypeError, ValueError, AttributeError):
            LOG.debug("malformed packet-in from %016x", msg.datapath.id)
            self.channels.metrics.packet_in(reason, "malformed")
            return
        self.packet_ins.dispatch(msg.datapath.id, in_port, data, reason)


_PACKET_IN_REASONS = {ofp.OFPR_NO_MATCH: "no_match", ofp.OFPR_ACTION: "action", ofp.OFPR_INVALID_TTL: "invalid_ttl"}
