"""SwitchChannels' request / reply / error / barrier bookkeeping, against a fake os-ken datapath.

Each test wires a real `SwitchChannels` to one or two `FakeDatapath`s
(tests/unit/fakechannel.py): every message goes out as bytes, a FakeSwitch
answers it, and the replies come back parsed by os-ken and handed over as
SdnApp's handlers hand them, in the requesting thread, on an event thread, or
held back and released when a test says so.
"""

from __future__ import annotations

import inspect
import logging
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from os_ken.controller import ofp_event
from os_ken.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from flows.diff import FlowDiff
from flows.model import Flow, Output, SetField, match
from flows.pipeline import CONTROLLER_METER, base_flows, cookie_for, partition_of
from flows.sim import FakeSwitch
from sdnapp import flowcodec, ofapp, ofmsg
from sdnapp.ofapp import SdnApp, SwitchChannels
from sdnapp.reconciler import SwitchGone
from testbeds import ofwire
from tests.unit.fakechannel import (
    FOREIGN_ACTIONS,
    REPLY_TYPES,
    EventThread,
    FakeDatapath,
    Received,
    foreign_action,
    stats_entry,
    to_channels,
)
from tests.unit.test_ofmsg import catalogue
from topology.switches import SwitchPort

# Flow stats entries reach SwitchChannels as bytes, as in `sdnapp run`.
pytestmark = pytest.mark.usefixtures("raw_flow_stats")

DPID, OTHER = 0x1, 0x2
PORTS = (1, 2, 3, 4)
OUR_XIDS = 0x80000000  # SwitchChannels' xids start here; os-ken's Datapath counts its own


def ours(n: int, port: int = 1) -> Flow:
    return Flow(0, 100 + n, match(in_port=port), (Output(2),), cookie=cookie_for(n))


def foreign(n: int) -> Flow:
    return Flow(0, 100 + n, match(in_port=3), (Output(4),), cookie=(0x1234 << 48) | n)


class Held:
    """A deliverer that keeps what the switch answered until `release()`: a slow event thread."""

    def __init__(self, channels: SwitchChannels) -> None:
        self.route = to_channels(channels)
        self.msgs: list[Any] = []

    def __call__(self, msg: Any) -> None:
        self.msgs.append(msg)

    def release(self) -> None:
        msgs, self.msgs = self.msgs, []
        for m in msgs:
            self.route(m)


def connect(ch: SwitchChannels, sw: FakeSwitch, deliver: Callable[[Any], None] | None = None,
            meters: dict[int, ofwire.MeterMod] | None = None) -> FakeDatapath:
    dp = FakeDatapath(sw, deliver or to_channels(ch), meters=meters)
    ch.add(dp)
    return dp


@pytest.fixture
def ch() -> SwitchChannels:
    return SwitchChannels()


@pytest.fixture
def sw() -> FakeSwitch:
    s = FakeSwitch(DPID, PORTS)
    s.install(base_flows() + [ours(7), foreign(8)])
    return s


@pytest.fixture
def dp(ch: SwitchChannels, sw: FakeSwitch) -> FakeDatapath:
    return connect(ch, sw)


@pytest.fixture
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(ofapp, "REPLY_TIMEOUT", 0.3)
    return 0.3


def logged(dp: FakeDatapath, what: str) -> list[Received]:
    return [r for r in dp.log if r.what == what]


def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


class Call(threading.Thread):
    """Runs one channel call on a thread of its own, as the reconciler's worker does; keeps its outcome."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.fn = fn
        self.result: Any = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as e:  # handed to the test
            self.error = e

    def outcome(self, timeout: float = 5.0) -> Any:
        self.join(timeout)
        assert not self.is_alive(), "the call did not return"
        if self.error is not None:
            raise self.error
        return self.result


# -- xids -------------------------------------------------------------------------------------------------


def test_every_message_carries_an_xid_of_the_channels_own_never_reused(ch: SwitchChannels, sw: FakeSwitch,
                                                                         dp: FakeDatapath) -> None:
    other = connect(ch, FakeSwitch(OTHER, PORTS))
    for dpid in (DPID, OTHER):
        ch.port_desc(dpid)
        ch.read_flows(dpid)
        ch.send(dpid, FlowDiff(add=[ours(1), ours(2)], delete=[ours(3)]))
        ch.ensure_controller_meter(dpid, CONTROLLER_METER, 100, 25)
        ch.packet_out(dpid, 1, b"\x00" * 60)
    # to_wire refuses a message without an xid: os-ken's Datapath would have numbered it from its own counter.
    xids = [r.xid for r in dp.log + other.log]
    assert len(xids) == 2 * 11
    assert len(set(xids)) == len(xids)  # unique across requests and across switches
    assert all(OUR_XIDS <= x <= 0xFFFFFFFF for x in xids)
    assert ch._pending == {}


def test_messages_with_xids_the_channels_never_sent_are_ignored_and_errors_logged(
    ch: SwitchChannels, dp: FakeDatapath, caplog: pytest.LogCaptureFixture
) -> None:
    stray = 0x00001234  # e.g. an answer to one of os-ken's own echo requests
    with caplog.at_level(logging.WARNING, logger="sdnapp.ofapp"):
        ch.on_error(ofwire.parse(dp, ofwire.error(stray, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_TYPE, b"")))
        ch.on_barrier(ofwire.parse(dp, ofwire.barrier_reply(stray)))
        (reply,) = [ofwire.parse(dp, b) for b in ofwire.multipart_replies(stray, ofp.OFPMP_FLOW, [])]
        ch.on_reply(reply)
    assert [r.getMessage() for r in caplog.records] == [
        f"switch {DPID:016x} sent an error: type={ofp.OFPET_BAD_REQUEST} code={ofp.OFPBRC_BAD_TYPE}"
    ]
    assert ch._pending == {}
    assert ch.read_flows(DPID)  # and the channel works as before


def test_sdnapp_hands_every_message_the_channels_wait_for_to_them() -> None:
    # The fakes route replies as to_channels does; SdnApp must subscribe to the same events in MAIN_DISPATCHER.
    subscribed: dict[type, list[str]] = {}
    for _, fn in inspect.getmembers(SdnApp, inspect.isfunction):
        for ev_cls, caller in getattr(fn, "callers", {}).items():
            subscribed.setdefault(ev_cls, []).extend(caller.dispatchers)
    for msg_cls in (*REPLY_TYPES, parser.OFPBarrierReply, parser.OFPErrorMsg):
        ev_cls = ofp_event.ofp_msg_to_ev_cls(msg_cls)
        assert MAIN_DISPATCHER in subscribed.get(ev_cls, []), ev_cls.__name__


# -- replies, errors, the barrier ------------------------------------------------------------------------------


def test_replies_are_collected_by_xid_across_a_split_reply(ch: SwitchChannels, sw: FakeSwitch,
                                                          dp: FakeDatapath) -> None:
    sw.install([ours(n, port=1 + n % 4) for n in range(10, 60)])
    dp.max_reply = 400  # a few flows per message, as a switch splits a long reply
    got = ch.read_flows(DPID)
    assert got == [f for f in sw.all_flows() if f.cookie >> 48 == 0x5D4E]  # ours only, as the switch filters
    assert foreign(8) not in got
    (req,) = logged(dp, "flow_stats")
    assert ch._pending == {}
    assert req.xid >= OUR_XIDS


def test_an_error_for_one_flow_mod_rejects_that_flow_and_no_other(
    ch: SwitchChannels, sw: FakeSwitch, dp: FakeDatapath, caplog: pytest.LogCaptureFixture
) -> None:
    bad = ours(2)
    dp.reject = lambda f: f == bad
    d = FlowDiff(add=[ours(1), bad, ours(3)], modify=[Flow(0, 107, match(in_port=1), cookie=cookie_for(7))],
                 delete=[base_flows()[1]])
    with caplog.at_level(logging.ERROR, logger="sdnapp.ofapp"):
        assert ch.send(DPID, d) == [bad]
    assert [r.getMessage() for r in caplog.records] == [
        f"switch {DPID:016x} rejected {bad}: type={ofp.OFPET_FLOW_MOD_FAILED} code={ofp.OFPFMFC_EPERM}"
    ]
    held = set(sw.all_flows())
    assert {ours(1), ours(3), d.modify[0]} <= held and bad not in held and base_flows()[1] not in held
    assert [r.rejected for r in logged(dp, "flow_mod")] == [False, False, False, True, False]
    assert ch._pending == {}


def test_a_reply_after_the_barrier_is_not_part_of_the_request(ch: SwitchChannels, sw: FakeSwitch) -> None:
    # The barrier reply says everything asked before it is answered: the request is closed. A reply
    # a misbehaving switch sends after it is dropped, not slipped into what the caller is reading.
    route = to_channels(ch)
    late = ours(99)

    def deliver(msg: Any) -> None:
        route(msg)
        if isinstance(msg, parser.OFPBarrierReply):
            (req,) = logged(conn, "flow_stats")
            for b in ofwire.multipart_replies(req.xid, ofp.OFPMP_FLOW, [stats_entry(late)]):
                route(ofwire.parse(conn, b))

    conn = connect(ch, sw, deliver)
    got = ch.read_flows(DPID)
    assert late not in got and ours(7) in got
    assert ch._pending == {}


def test_a_reply_after_the_request_returned_is_ignored(ch: SwitchChannels, sw: FakeSwitch) -> None:
    held = Held(ch)
    dp = connect(ch, sw, held)
    call = Call(lambda: ch.read_flows(DPID))
    wait_for(lambda: bool(logged(dp, "barrier")))
    held.release()
    first = call.outcome()
    (req,) = logged(dp, "flow_stats")
    for b in ofwire.multipart_replies(req.xid, ofp.OFPMP_FLOW, [stats_entry(ours(99))]):
        held.route(ofwire.parse(dp, b))
    held.route(ofwire.parse(dp, ofwire.barrier_reply(logged(dp, "barrier")[0].xid)))
    assert ours(99) not in first and ch._pending == {}
    dp.deliver = held.route
    assert ch.read_flows(DPID) == first


# -- when the switch goes away -----------------------------------------------------------------------------------


def test_a_barrier_that_never_comes_is_switch_gone_after_the_timeout(
    ch: SwitchChannels, sw: FakeSwitch, dp: FakeDatapath, short_timeout: float
) -> None:
    dp.loses_barrier = lambda: True
    start = time.monotonic()
    with pytest.raises(SwitchGone, match="no barrier reply"):
        ch.send(DPID, FlowDiff(add=[ours(1)]))
    assert time.monotonic() - start >= short_timeout
    assert ours(1) in sw.all_flows()  # it did apply it: what it holds is unknown to the controller
    assert ch._pending == {}


@pytest.mark.parametrize("when", ["as the barrier goes out", "while waiting for the reply"])
def test_a_datapath_removed_mid_request_is_switch_gone_at_once(
    ch: SwitchChannels, dp: FakeDatapath, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    monkeypatch.setattr(ofapp, "REPLY_TIMEOUT", 10.0)
    dp.loses_barrier = lambda: True  # a connection that died answers nothing
    if when == "as the barrier goes out":
        def end_at_barrier(h: Any) -> None:
            if h.msg_type == ofp.OFPT_BARRIER_REQUEST:
                ch.remove(dp)

        dp.on_receive = end_at_barrier
    else:
        threading.Timer(0.1, ch.remove, (dp,)).start()  # os-ken's event thread reports DEAD_DISPATCHER
    start = time.monotonic()
    with pytest.raises(SwitchGone):
        ch.read_flows(DPID)
    assert time.monotonic() - start < 2.0
    assert ch._pending == {}
    with pytest.raises(SwitchGone):
        ch.port_desc(DPID)


def test_a_datapath_removed_before_the_request_is_registered_is_switch_gone_at_once(
    ch: SwitchChannels, dp: FakeDatapath, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The event thread may report the switch dead between the request looking its datapath up and
    # registering its xids: nothing would wake the request, which would wait the whole timeout while
    # os-ken still queues what it is sent.
    monkeypatch.setattr(ofapp, "REPLY_TIMEOUT", 5.0)
    dp.loses_barrier = lambda: True
    real_xid = ch._xid
    removed: list[bool] = []

    def xid_then_remove() -> int:
        if not removed:
            removed.append(True)
            ch.remove(dp)
        return real_xid()

    monkeypatch.setattr(ch, "_xid", xid_then_remove)
    start = time.monotonic()
    with pytest.raises(SwitchGone):
        ch.read_flows(DPID)
    assert time.monotonic() - start < 1.0
    assert ch._pending == {}


@pytest.mark.parametrize("fails_at", [0, 2])
def test_send_msg_false_is_switch_gone(ch: SwitchChannels, sw: FakeSwitch, dp: FakeDatapath, fails_at: int) -> None:
    # os-ken's send_msg returns False once the connection's send queue is closed, which can be
    # before SdnApp has heard the switch is dead.
    mods = 0

    def count(h: ofwire.Header) -> None:
        nonlocal mods
        if h.msg_type == ofp.OFPT_FLOW_MOD:
            mods += 1
            if mods == fails_at:
                dp.connected = False

    dp.on_receive = count
    dp.connected = fails_at != 0
    with pytest.raises(SwitchGone):
        ch.send(DPID, FlowDiff(add=[ours(1), ours(2), ours(3)]))
    assert len(logged(dp, "flow_mod")) == fails_at and not logged(dp, "barrier")
    assert ch._pending == {}
    for call in (lambda: ch.read_flows(DPID), lambda: ch.port_desc(DPID), lambda: ch.packet_out(DPID, 1, b"x"),
                 lambda: ch.ensure_controller_meter(DPID, CONTROLLER_METER, 100, 25)):
        with pytest.raises(SwitchGone):
            call()
    assert ch._pending == {}


def test_a_switch_never_added_or_removed_is_switch_gone(ch: SwitchChannels, dp: FakeDatapath) -> None:
    with pytest.raises(SwitchGone):
        ch.read_flows(OTHER)
    ch.remove(dp)
    with pytest.raises(SwitchGone):
        ch.send(DPID, FlowDiff(add=[ours(1)]))
    assert dp.log == []


def test_the_old_connections_removal_does_not_touch_the_new_ones_requests(ch: SwitchChannels,
                                                                          sw: FakeSwitch) -> None:
    # A switch reconnects before its old, half-open connection is declared dead (os-ken makes a new
    # Datapath per connection and reports the old one's DEAD_DISPATCHER when its echoes time out).
    old = connect(ch, sw)
    old.loses_barrier = lambda: True
    on_old = Call(lambda: ch.read_flows(DPID))
    wait_for(lambda: bool(logged(old, "barrier")))

    held = Held(ch)
    new = connect(ch, sw, held)
    on_new = Call(lambda: ch.read_flows(DPID))
    wait_for(lambda: bool(logged(new, "barrier")))

    ch.remove(old)
    with pytest.raises(SwitchGone):
        on_old.outcome()
    time.sleep(0.1)
    assert on_new.is_alive()  # still waiting for its own barrier
    held.release()
    assert on_new.outcome() == [f for f in sw.all_flows() if f != foreign(8)]
    new.deliver = held.route
    assert ch.port_desc(DPID) and logged(new, "port_desc") and not logged(old, "port_desc")
    assert ch._pending == {}


def test_a_reply_from_another_switch_with_a_pending_xid_is_ignored(ch: SwitchChannels, sw: FakeSwitch) -> None:
    # xids are sequential: another switch (buggy or hostile) may answer one that was sent to this one.
    # Its barrier reply must not confirm this switch's flow-mods, nor its error reject them.
    held = Held(ch)
    dp = connect(ch, sw, held)
    other = connect(ch, FakeSwitch(OTHER, PORTS))
    call = Call(lambda: ch.send(DPID, FlowDiff(add=[ours(1), ours(2)])))
    wait_for(lambda: bool(logged(dp, "barrier")))
    first_mod, barrier = logged(dp, "flow_mod")[0], logged(dp, "barrier")[0]
    route = to_channels(ch)
    route(ofwire.parse(other, ofwire.error(first_mod.xid, ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_EPERM, b"")))
    route(ofwire.parse(other, ofwire.barrier_reply(barrier.xid)))
    time.sleep(0.1)
    assert call.is_alive()  # not confirmed by someone else's barrier
    held.release()
    assert call.outcome() == []


# -- port descriptions ---------------------------------------------------------------------------------


def test_port_desc_keeps_the_switchs_ports_and_drops_reserved_ones(ch: SwitchChannels, sw: FakeSwitch) -> None:
    dp = FakeDatapath(sw, to_channels(ch), ports={
        1: SwitchPort(1, "tap-a", True),
        2: SwitchPort(2, "eth2", False),
        ofp.OFPP_MAX: SwitchPort(ofp.OFPP_MAX, "last", True),
        ofp.OFPP_CONTROLLER: SwitchPort(ofp.OFPP_CONTROLLER, "weird", True),
    })
    ch.add(dp)
    # The fake also lists the bridge's LOCAL port, as OVS does.
    assert ch.port_desc(DPID) == [SwitchPort(1, "tap-a", True), SwitchPort(2, "eth2", False),
                                  SwitchPort(ofp.OFPP_MAX, "last", True)]


# -- the controller meter ---------------------------------------------------------------------------------


def meter_commands(dp: FakeDatapath) -> list[tuple[int, bool]]:
    return [(r.command, r.rejected) for r in logged(dp, "meter_mod") if r.command is not None]


def test_no_meter_support_means_no_meter(ch: SwitchChannels, dp: FakeDatapath) -> None:
    assert ch.ensure_controller_meter(DPID, CONTROLLER_METER, 100, 25) is False
    assert [r.what for r in dp.log] == ["meter_features", "barrier"]


def test_a_switch_refusing_the_meter_features_request_has_no_meter(ch: SwitchChannels, sw: FakeSwitch) -> None:
    class NoMeterStats(FakeDatapath):
        def answer(self, buf: bytes) -> list[bytes]:
            h = ofwire.header(buf)
            if h.msg_type == ofp.OFPT_MULTIPART_REQUEST and ofwire.multipart_type(buf) == ofp.OFPMP_METER_FEATURES:
                return [ofwire.error(h.xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_MULTIPART, buf)]
            return super().answer(buf)

    dp = NoMeterStats(sw, to_channels(ch), meters={})
    ch.add(dp)
    assert ch.ensure_controller_meter(DPID, CONTROLLER_METER, 100, 25) is False
    assert meter_commands(dp) == []


def test_an_existing_meter_is_modified(ch: SwitchChannels, sw: FakeSwitch) -> None:
    old = ofwire.MeterMod(ofp.OFPMC_ADD, 0, CONTROLLER_METER, ())
    dp = connect(ch, sw, meters={CONTROLLER_METER: old})
    assert ch.ensure_controller_meter(DPID, CONTROLLER_METER, 100, 25) is True
    assert meter_commands(dp) == [(ofp.OFPMC_MODIFY, False)]
    assert dp.meters is not None
    (band,) = dp.meters[CONTROLLER_METER].bands
    assert (band.rate, band.burst_size) == (100, 25)


def test_a_missing_meter_is_added_after_the_modify_fails(ch: SwitchChannels, sw: FakeSwitch) -> None:
    dp = connect(ch, sw, meters={})
    assert ch.ensure_controller_meter(DPID, CONTROLLER_METER, 100, 25) is True
    assert meter_commands(dp) == [(ofp.OFPMC_MODIFY, True), (ofp.OFPMC_ADD, False)]
    assert dp.meters is not None and set(dp.meters) == {CONTROLLER_METER}
    # and the LLDP flow that uses it is accepted now
    (lldp,) = [f for f in base_flows(lldp=True, meter=CONTROLLER_METER) if f.actions]
    assert ch.send(DPID, FlowDiff(add=[lldp])) == []


def test_a_refused_meter_means_no_meter_and_a_warning(ch: SwitchChannels, sw: FakeSwitch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    dp = connect(ch, sw, meters={})
    dp.refuse_meters = True
    with caplog.at_level(logging.WARNING, logger="sdnapp.ofapp"):
        assert ch.ensure_controller_meter(DPID, CONTROLLER_METER, 100, 25) is False
    assert meter_commands(dp) == [(ofp.OFPMC_MODIFY, True), (ofp.OFPMC_ADD, True)]
    assert any("refused meter" in r.getMessage() for r in caplog.records)
    # a flow using the meter the switch does not have is refused by it
    (lldp,) = [f for f in base_flows(lldp=True, meter=CONTROLLER_METER) if f.actions]
    assert ch.send(DPID, FlowDiff(add=[lldp])) == [lldp]
    assert ch._pending == {}


# -- replies from os-ken's event thread -------------------------------------------------------------------


@pytest.fixture
def events(ch: SwitchChannels) -> Iterator[EventThread]:
    ev = EventThread(to_channels(ch))
    yield ev
    ev.stop()
    assert ev.failures == []


def test_replies_from_an_event_thread_reach_concurrent_requests(ch: SwitchChannels, events: EventThread) -> None:
    switches = [FakeSwitch(d, PORTS) for d in (DPID, OTHER, 3)]
    for s in switches:
        dp = connect(ch, s, events)
        dp.max_reply = 300
        dp.reject = lambda f: partition_of(f.cookie) % 1000 >= 500
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            for i in range(15):
                s = switches[(t + i) % len(switches)]
                n = 1000 * t + i
                bad = ours(n + 500)
                assert ch.send(s.datapath_id, FlowDiff(add=[ours(n), bad])) == [bad]
                assert ours(n) in ch.read_flows(s.datapath_id)
                assert len(ch.port_desc(s.datapath_id)) == len(PORTS)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert not any(th.is_alive() for th in threads)
    assert errors == []
    assert ch._pending == {}


def test_an_error_from_the_event_thread_rejects_the_flow(ch: SwitchChannels, sw: FakeSwitch,
                                                         events: EventThread) -> None:
    dp = connect(ch, sw, events)
    dp.reject = lambda f: f == ours(2)
    assert ch.send(DPID, FlowDiff(add=[ours(1), ours(2)])) == [ours(2)]
    assert ch.read_flows(DPID) == [f for f in sw.all_flows() if f != foreign(8)]


def test_an_older_connections_end_after_a_reconnect_leaves_the_switch_up(ch: SwitchChannels, sw: FakeSwitch) -> None:
    # Found with the port-churn trials: os-ken reported the cut connection's DEAD_DISPATCHER 0.6 s
    # after the switch's new connection was up; the switch was then taken for gone for good.
    calls: list[tuple[str, int]] = []

    class Recorder:
        def on_switch_up(self, dpid: int) -> None:
            calls.append(("up", dpid))

        def on_switch_down(self, dpid: int) -> None:
            calls.append(("down", dpid))

        def on_port_status(self, dpid: int, port: object, deleted: bool = False) -> None:
            calls.append(("port", dpid))

    app = SdnApp.__new__(SdnApp)  # the handlers only, without os-ken's application manager
    app.reconciler, app.channels, app.discovery = Recorder(), ch, None  # type: ignore[assignment]
    old, new = FakeDatapath(sw, lambda m: None), FakeDatapath(sw, lambda m: None)

    def state(dp: FakeDatapath, s: str) -> Any:
        return type("Ev", (), {"datapath": dp, "state": s})()

    def port_status(dp: FakeDatapath) -> Any:
        desc = parser.OFPPort(3, "02:00:00:00:00:03", b"tap3", 0, 0, 0, 0, 0, 0, 0, 0)
        return type("Ev", (), {"msg": parser.OFPPortStatus(dp, ofp.OFPPR_MODIFY, desc)})()

    app._state_change(state(old, MAIN_DISPATCHER))
    app._state_change(state(new, MAIN_DISPATCHER))
    app._port_status(port_status(old))  # news from the replaced connection: not the switch's state now
    app._port_status(port_status(new))
    app._state_change(state(old, DEAD_DISPATCHER))
    assert calls == [("up", DPID), ("up", DPID), ("port", DPID)]
    assert ch.is_current(new)
    app._state_change(state(new, DEAD_DISPATCHER))
    assert calls[-1] == ("down", DPID) and not ch.is_current(new)


# -- the fast codec and os-ken ------------------------------------------------------------------------------

METER = {CONTROLLER_METER: ofwire.MeterMod(ofp.OFPMC_ADD, 0, CONTROLLER_METER, ())}


def held_by_us(sw: FakeSwitch) -> set[Flow]:
    return {f for f in sw.all_flows() if f.cookie >> 48 == 0x5D4E}


def os_ken_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make os-ken's flow-mod building and flow stats entry parsing fail, so only flowcodec can do the work."""
    def refuse(*args: Any, **kw: Any) -> Any:
        raise AssertionError("os-ken was asked")

    monkeypatch.setattr(ofmsg, "flow_mod", refuse)
    monkeypatch.setattr(parser.OFPFlowStats, "parser", refuse)


def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count os-ken's flow-mods built and flow stats entries parsed."""
    calls = {"flow_mod": 0, "stats": 0}
    build, parse = ofmsg.flow_mod, parser.OFPFlowStats.parser

    def flow_mod(*args: Any) -> Any:
        calls["flow_mod"] += 1
        return build(*args)

    def stats(buf: Any, offset: int) -> Any:
        calls["stats"] += 1
        return parse(buf, offset)

    monkeypatch.setattr(ofmsg, "flow_mod", flow_mod)
    monkeypatch.setattr(parser.OFPFlowStats, "parser", stats)
    return calls


def test_every_flow_the_drivers_emit_is_sent_and_read_back_without_os_ken(
    ch: SwitchChannels, sw: FakeSwitch, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(ch, sw, meters=dict(METER)).max_reply = 500
    flows = list({f.key: f for f in catalogue()}.values())  # one switch holds one flow per identity
    os_ken_refuses(monkeypatch)
    assert ch.send(DPID, FlowDiff(add=flows, delete=[ours(7)])) == []
    assert set(flows) <= held_by_us(sw) and ours(7) not in held_by_us(sw)
    got = ch.read_flows(DPID)
    assert len(got) == len(set(got)) and set(got) == held_by_us(sw)


def test_a_flow_outside_the_fast_codec_goes_through_os_ken_both_ways(
    ch: SwitchChannels, sw: FakeSwitch, dp: FakeDatapath, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = Flow(1, 100, match(vlan_vid=0x1005), (SetField("vlan_pcp", 3), Output(2)), cookie=cookie_for(5))
    with pytest.raises(flowcodec.NotInSubset):
        flowcodec.encode_flow_mod(ofmsg.ADD, f, OUR_XIDS)
    calls = counted(monkeypatch)
    assert ch.send(DPID, FlowDiff(add=[f, ours(1)])) == []
    assert calls == {"flow_mod": 1, "stats": 0}
    assert {f, ours(1)} <= set(sw.all_flows())
    assert set(ch.read_flows(DPID)) == held_by_us(sw)
    assert calls == {"flow_mod": 1, "stats": 1}  # the one entry the codec leaves to os-ken


def test_a_flow_holding_actions_sdnapp_never_writes_reads_back_through_os_ken_and_can_be_deleted(
    ch: SwitchChannels, sw: FakeSwitch, dp: FakeDatapath, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another application or an operator put them into flows carrying our cookie mark.
    group, queue = (foreign_action(a) for a in FOREIGN_ACTIONS.values())
    altered = Flow(0, 107, match(in_port=1), (Output(2), group), cookie=cookie_for(7))  # ours(7), altered
    stray = Flow(0, 300, match(in_port=3), (queue,), cookie=cookie_for(9))
    sw.install([altered, stray])
    calls = counted(monkeypatch)
    got = ch.read_flows(DPID)
    assert {altered, stray} <= set(got) and calls["stats"] == 2
    assert ch.send(DPID, FlowDiff(modify=[ours(7)], delete=[stray])) == []
    assert calls["flow_mod"] == 0  # a delete names no actions: flowcodec writes it
    assert ours(7) in sw.all_flows() and stray not in sw.all_flows()


def test_entries_neither_codec_can_read_are_left_out_and_logged(
    ch: SwitchChannels, sw: FakeSwitch, dp: FakeDatapath, caplog: pytest.LogCaptureFixture
) -> None:
    good = stats_entry(ours(20))
    mlen = struct.unpack_from("!H", good, 50)[0]
    inst = 48 + mlen + -mlen % 8  # its apply-actions instruction
    no_length = good[:inst + 2] + b"\x00\x00" + good[inst + 4:]  # os-ken's own parser would never return
    unknown = good + struct.pack("!HH4x", 7, 8)  # an instruction type OpenFlow 1.3 does not have
    unknown = struct.pack("!H", len(unknown)) + unknown[2:]
    dp.extra_stats = [no_length, unknown, stats_entry(ours(21))]
    with caplog.at_level(logging.WARNING, logger="sdnapp.ofmsg"):
        got = ch.read_flows(DPID)
    assert set(got) == held_by_us(sw) | {ours(21)}
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        f"left out a malformed flow stats entry (instruction 4 of 0 bytes at byte {inst} of {len(good)})",
        "left out a flow stats entry os-ken cannot parse",
    ]


def test_read_flows_reads_the_same_when_os_ken_parses_the_entries(ch: SwitchChannels, sw: FakeSwitch) -> None:
    dp = connect(ch, sw, meters=dict(METER))
    dp.max_reply = 700
    group, _ = (foreign_action(a) for a in FOREIGN_ACTIONS.values())
    stray = Flow(0, 300, match(in_port=3), (group,), cookie=cookie_for(9))
    sw.install(list({f.key: f for f in catalogue()}.values()) + [stray])
    raw = ch.read_flows(DPID)
    ofmsg.keep_flow_stats_raw(False)
    assert ch.read_flows(DPID) == raw
    assert set(raw) == held_by_us(sw)


def test_many_flow_mods_go_out_in_a_few_sends_and_each_error_names_its_flow(
    ch: SwitchChannels, sw: FakeSwitch, dp: FakeDatapath
) -> None:
    flows = [ours(n, port=1 + n % 4) for n in range(10, 3010)]
    bad = {flows[0], flows[1234], flows[-1]}
    dp.reject = lambda f: f in bad
    sends: list[int] = []
    real = dp.send

    def send(buf: bytes, close_socket: bool = False) -> bool:
        sends.append(len(buf))
        return real(buf, close_socket)

    dp.send = send  # type: ignore[method-assign]
    assert set(ch.send(DPID, FlowDiff(add=flows))) == bad
    mods = logged(dp, "flow_mod")
    assert len(mods) == len(flows) and len({m.xid for m in mods}) == len(flows)
    assert set(flows) - bad <= set(sw.all_flows())
    assert 1 < len(sends) - 1 <= sum(sends) // ofapp.SEND_CHUNK + 2  # the flow-mods' sends, then the barrier's
    assert ch._pending == {}
