"""Metrics where the events happen (reconciler jobs, flow-mods, barriers, packet-ins, store transactions), the state
read at scrape time, and switch capabilities: a switch that lacks what the pipeline needs is never programmed.

The switch side is the real reconciler and SwitchChannels over fake datapaths that read OpenFlow bytes
(tests/unit/fakechannel.py), as in test_reconciler.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from os_ken.ofproto import ofproto_v1_0, ofproto_v1_3
from prometheus_client.parser import text_string_to_metric_families

from flows.pipeline import unmet_needs
from flows.sim import FakeSwitch
from sdnapp import ofapp
from sdnapp.capabilities import CapabilityBook
from sdnapp.logs import JsonFormatter, configure
from sdnapp.metrics import Metrics, State
from sdnapp.packetin import PacketIns
from sdnapp.reconciler import Reconciler

from .test_reconciler import DPID, MAC_A1, MAC_A2, PORTS, World, make_world

os.environ.setdefault("OSKEN_HUB_TYPE", "native")


def samples(m: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by (name, sorted labels)."""
    _, body = m.exposition()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(body.decode())
        for s in fam.samples
    }


def value(m: Metrics, name: str, **labels: str) -> float:
    return samples(m).get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def w(tmp_path: Path) -> Any:
    m = Metrics()
    world = make_world(str(tmp_path / "store.db"), FakeSwitch(DPID, PORTS))
    world.channel.channels.metrics = m
    world.rec.metrics = m
    world.store._metrics = m
    yield world, m
    world.rec.stop()
    world.store.close()


def test_a_reconciliation_counts_its_job_flow_mods_barriers_and_transactions(w: tuple[World, Metrics]) -> None:
    world, m = w
    net = world.network()
    world.attach(net, MAC_A1, 1)
    world.attach(net, MAC_A2, 2)
    world.rec.start()
    world.rec.on_switch_up(DPID)
    assert world.rec.idle(10)
    dp = f"{DPID:016x}"
    sent = len(world.channel.sent())
    assert sent > 0
    assert value(m, "sdnapp_flow_mods_total", datapath_id=dp, command="add") == sent
    assert value(m, "sdnapp_reconcile_jobs_total", kind="connect", outcome="ok") == 1
    assert value(m, "sdnapp_reconcile_job_seconds_count", kind="connect") == 1
    # port description, meter features? (no: LLDP is off), flow stats, flow-mods: each request its barrier
    assert value(m, "sdnapp_barriers_total", datapath_id=dp, outcome="ok") >= 3
    assert value(m, "sdnapp_barrier_round_trip_seconds_count", datapath_id=dp) >= 3
    assert value(m, "sdnapp_store_transaction_seconds_count", kind="write") >= 6
    assert value(m, "sdnapp_flow_mod_errors_total", datapath_id=dp) == 0


def test_rejected_flow_mods_and_lost_barriers_are_counted(w: tuple[World, Metrics]) -> None:
    world, m = w
    world.full()
    world.channel.reject = lambda f: f.table == 1
    net = world.network()
    world.attach(net, MAC_A1, 1)
    world.job(net.segment_id)
    dp = f"{DPID:016x}"
    assert value(m, "sdnapp_flow_mod_errors_total", datapath_id=dp) >= 1
    world.channel.reject = lambda f: False
    world.channel.lose_barrier.add(DPID)
    with mock.patch.object(ofapp, "REPLY_TIMEOUT", 0.05), pytest.raises(Exception, match="no barrier reply"):
        world.channel.channels.read_flows(DPID)
    assert value(m, "sdnapp_barriers_total", datapath_id=dp, outcome="timeout") == 1


def test_state_is_read_at_each_scrape() -> None:
    m = Metrics()
    state = State(switches={"connected": 2}, ports={"ACTIVE": 3, "DOWN": 1}, links={"discovered": 1},
                  link_problems=1, ovsdb={"0000000000000001": True, "0000000000000002": False})
    reads: list[int] = []

    def read() -> State:
        reads.append(1)
        return state

    m.watch(read)
    assert reads == []
    got = samples(m)
    assert len(reads) == 1
    assert got[("sdnapp_switches", (("state", "connected"),))] == 2
    assert got[("sdnapp_switches", (("state", "unsupported"),))] == 0
    assert got[("sdnapp_ports", (("status", "DOWN"),))] == 1
    assert got[("sdnapp_links", (("source", "discovered"),))] == 1
    assert got[("sdnapp_link_problems", ())] == 1
    assert got[("sdnapp_ovsdb_connected", (("datapath_id", "0000000000000002"),))] == 0
    assert ("process_cpu_seconds_total", ()) in got


def test_disabled_metrics_count_nothing() -> None:
    m = Metrics(enabled=False)
    m.api_request("/v1/ports", "GET", 200, 0.1)
    m.flow_mods(1, {"add": 3}, 1)
    m.barrier(1, "ok", 0.01)
    m.packet_in("action", "lldp")
    m.dhcp("ack")
    m.reconcile_job("connect", "ok", 1.0)
    with m.store_transaction("read"):
        pass
    m.watch(lambda: State(switches={"connected": 1}))
    assert {name for name, _ in samples(m)} == set()


def test_each_metric_has_help_and_a_bounded_set_of_labels() -> None:
    m = Metrics()
    m.api_request("/v1/ports/{port_id}", "GET", 200, 0.01)
    m.packet_in("no_match", "other")
    m.dhcp("refused")
    _, body = m.exposition()
    text = body.decode()
    for name in re.findall(r"^# TYPE (sdnapp_\w+)", text, re.M):
        assert re.search(rf"^# HELP {name} \S", text, re.M), name
    assert 'sdnapp_packet_ins_total{kind="other",reason="no_match"} 1.0' in text
    assert 'sdnapp_dhcp_packets_total{outcome="refused"} 1.0' in text


# capabilities -------------------------------------------------------------------------------------------


def test_what_the_pipeline_needs() -> None:
    assert unmet_needs(0x04, 254) == []
    assert unmet_needs(0x01, 255) == ["OpenFlow 1.3 (the switch speaks OpenFlow 1.0)"]
    assert unmet_needs(0x04, 1) == ["2 flow tables (the switch has 1)"]


def _app(rec: Reconciler, book: CapabilityBook) -> Any:
    return ofapp.SdnApp(sdnapp_reconciler=rec, sdnapp_channels=ofapp.SwitchChannels(capabilities=book),
                        sdnapp_packet_ins=PacketIns())


def _dp(dpid: int, ofproto: Any) -> Any:
    return SimpleNamespace(id=dpid, ofproto=ofproto, address=("127.0.0.1", 1))


@pytest.mark.parametrize(("ofproto", "tables", "refused"),
                         [(ofproto_v1_0, 255, True), (ofproto_v1_3, 1, True), (ofproto_v1_3, 254, False)])
def test_a_switch_that_lacks_something_is_listed_and_never_programmed(
    w: tuple[World, Metrics], ofproto: Any, tables: int, refused: bool
) -> None:
    from os_ken.controller.handler import MAIN_DISPATCHER

    world, _ = w
    book = CapabilityBook()
    app = _app(world.rec, book)
    up = mock.patch.object(world.rec, "on_switch_up").start()
    port = mock.patch.object(world.rec, "on_port_status").start()
    try:
        dp = _dp(DPID, ofproto)
        app._features(SimpleNamespace(msg=SimpleNamespace(datapath=dp, datapath_id=DPID, n_tables=tables)))
        app._state_change(SimpleNamespace(datapath=dp, state=MAIN_DISPATCHER))
        if ofproto is ofproto_v1_0:  # its port news is not read with OpenFlow 1.3's parser
            app._port_status(SimpleNamespace(msg=SimpleNamespace(datapath=dp, desc=None)))
            assert not port.called
    finally:
        mock.patch.stopall()
    report = book.report(DPID)
    assert report is not None and report["supported"] is not refused and report["tables"] == tables
    assert up.called is not refused
    assert (DPID in book.unsupported()) is refused
    if refused:
        assert report["missing"] and world.topo.switch(DPID) is not None  # listed, not connected
        assert not world.topo.switch(DPID).connected  # type: ignore[union-attr]


def test_meters_and_ports_are_recorded_when_asked(tmp_path: Path) -> None:
    world = make_world(str(tmp_path / "s.db"), FakeSwitch(DPID, PORTS))
    try:
        book = world.channel.channels.capabilities
        book.handshake(DPID, 0x04, 254)
        world.channel.channels.port_desc(DPID)
        assert world.channel.channels.ensure_controller_meter(DPID, 1, 100, 25) is False  # this fake has none
        report = book.report(DPID)
        assert report is not None and (report["ports"], report["meters"]) == (len(PORTS), 0)
        assert "no meters" in report["warnings"][0]
    finally:
        world.store.close()


# logs ---------------------------------------------------------------------------------------------------


def test_json_logs_are_one_object_per_line() -> None:
    rec = logging.LogRecord("sdnapp.reconciler", logging.WARNING, __file__, 1, "switch %016x: %s", (1, "gone \"x\""),
                            None)
    out = json.loads(JsonFormatter().format(rec))
    assert out["level"] == "WARNING" and out["logger"] == "sdnapp.reconciler"
    assert out["message"] == 'switch 0000000000000001: gone "x"'
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", out["ts"])
    try:
        raise ValueError("boom")
    except ValueError:
        rec.exc_info = sys.exc_info()
    assert "ValueError: boom" in json.loads(JsonFormatter().format(rec))["exception"]


def test_configure_sets_the_format(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    # The root logger itself: a logger made by name now would be Mininet's class when an integration
    # test imported Mininet earlier in the run (it sets the logging module's logger class).
    try:
        configure("INFO", "json")
        root.info("hello %s", "there")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert json.loads(line)["message"] == "hello there"
        configure("INFO", "text")
        root.info("plain")
        assert capsys.readouterr().err.strip().endswith("INFO root: plain")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_startup_logs_progress_per_switch(w: tuple[World, Metrics], caplog: pytest.LogCaptureFixture) -> None:
    world, _ = w
    with caplog.at_level(logging.INFO, logger="sdnapp.reconciler"):
        world.full()
    [line] = [r.getMessage() for r in caplog.records if "reconciled after connecting" in r.getMessage()]
    assert f"switch {DPID:016x}" in line and "1 of 1 connected switches reconciled" in line
    assert " flows" not in line  # the restart tests look for flow-mod reports after a reconnect


def test_the_grafana_dashboard_uses_only_metrics_sdnapp_exports() -> None:
    """docs/grafana-dashboard.json is built on these metrics: every series it asks for exists."""
    m = Metrics()
    m.api_request("/", "GET", 200, 0.001)
    m.reconcile_job("connect", "ok", 0.1)
    m.flow_mods(1, {"add": 1}, 1)
    m.barrier(1, "ok", 0.001)
    m.packet_in("action", "lldp")
    with m.store_transaction("read"):
        pass
    m.watch(lambda: State(ovsdb={"0000000000000001": True}))
    exported = {name for name, _ in samples(m)}
    dashboard = json.loads((Path(__file__).parents[2] / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    asked = {name for e in exprs for name in re.findall(r"\b((?:sdnapp|process)_[a-z_]+)\b", e)}
    assert len(exprs) >= 15 and asked and asked <= exported, sorted(asked - exported)
