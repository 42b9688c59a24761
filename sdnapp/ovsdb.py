"""Open vSwitch databases: VIF bindings from `external_ids:iface-id`, and the tunnel port.

One thread per switch monitors its database (OVSDB over the `ovs` library's
JSON-RPC session; the rows kept are in `ovsdbrows`). An interface that appears with an iface-id
binds that VNIC to it (source `switch`), moving the binding from wherever it
was (live migration); an interface that goes away unbinds it. An iface-id of
no known VNIC is kept pending and bound once the VNIC exists. With the vxlan
driver the same connection creates or repairs the switch's tunnel port.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flows.pipeline import CONTROLLER_BURST, CONTROLLER_RATE_PPS

from .config import SwitchConfig
from .ovsdbrows import MONITORED, BadUpdate, Tables
from .service import NetworkService

LOG = logging.getLogger(__name__)

DB = "Open_vSwitch"
RETRY = 2.0
PROBE_MS = 5000  # a server silent this long is probed; no answer to the probe: disconnected


@dataclass(frozen=True)
class Vif:
    name: str
    vnic_id: str
    attached_mac: str | None


@dataclass
class TunnelSpec:
    port_name: str
    local_ip: str
    manage: bool


@dataclass
class DbState:
    """What sdnapp last saw of one switch's database, for GET /v1/switches."""

    connected: bool = False
    error: str | None = None
    tunnel: str | None = None  # None: fine or not wanted; else what is wrong
    vifs: dict[str, Vif] = field(default_factory=dict)
    datapath_type: str | None = None  # the bridge's, once read: "system" or "netdev" (Nova's vif_details)


def wanted_tunnel_options(spec: TunnelSpec) -> dict[str, str]:
    return {"key": "flow", "remote_ip": "flow", "local_ip": spec.local_ip}


def tunnel_problem(row: dict[str, Any] | None, spec: TunnelSpec) -> str | None:
    """What is wrong with the tunnel interface row, if anything."""
    if row is None:
        return f"no interface {spec.port_name} on the bridge"
    if row["type"] != "vxlan":
        return f"{spec.port_name} has type {row['type'] or 'system'}, not vxlan"
    want = wanted_tunnel_options(spec)
    got = {k: row["options"].get(k) for k in want}
    if got != want:
        return f"{spec.port_name} options are {got}, want {want}"
    return None


def vifs_of(interfaces: list[dict[str, Any]]) -> dict[str, Vif]:
    """The interfaces the compute side plugged: iface-id set and not marked inactive."""
    out = {}
    for row in interfaces:
        ext = row["external_ids"]
        vid = ext.get("iface-id")
        if not vid or ext.get("iface-status", "active") != "active":
            continue
        out[row["name"]] = Vif(row["name"], vid, ext.get("attached-mac"))
    return out


class SwitchDb:
    """The OVSDB connection of one switch, run in its own thread."""

    def __init__(
        self,
        config: SwitchConfig,
        tunnel: TunnelSpec | None,
        on_vifs: Callable[[int, dict[str, Vif]], None],
        hold: Callable[[int], object] | None = None,
    ) -> None:
        """`hold(datapath_id)` is called once before the first session and returns when the
        database may be read: sdnapp puts the switch's flows in line first (see `_run`)."""
        assert config.ovsdb is not None
        self.config = config
        self.tunnel = tunnel
        self.on_vifs = on_vifs
        self.hold = hold
        self.state = DbState()
        self.tables = Tables()
        self._rpc: _Rpc | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ovsdb-{config.datapath_id:016x}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        # The first read of a large bridge (about 0.1 s of CPU per 1,000 interfaces)
        # competed for the interpreter with the switch's own reconciliation after a
        # restart, which needs nothing from here: the VNICs' bindings are in the store.
        # So the switch is brought in line first, and its database read after.
        if self.hold is not None:
            self.hold(self.config.datapath_id)
        while not self._stop.is_set():
            try:
                self._session()
            except Exception as e:
                self.state.connected = False
                self.state.error = str(e)
                LOG.warning("ovsdb %s of switch %016x: %s", self.config.ovsdb, self.config.datapath_id, e)
            self._stop.wait(RETRY)

    def _session(self) -> None:
        """Monitor the few columns sdnapp reads, over a JSON-RPC session that reconnects (and
        probes the server) by itself; each (re)connection starts from a fresh monitor reply."""
        import ovs.jsonrpc
        import ovs.poller

        session = ovs.jsonrpc.Session.open(self.config.ovsdb, probe_interval=PROBE_MS)
        self._rpc = _Rpc(session)
        seqno = -1
        try:
            while not self._stop.is_set():
                session.run()
                if not session.is_connected():
                    self._rpc.monitoring = False
                elif session.get_seqno() != seqno:
                    seqno = session.get_seqno()
                    self._rpc.start_monitor()
                dirty, _ = self._rpc.pump(self.tables)
                dirty |= self._rpc.changed_meanwhile
                self._rpc.changed_meanwhile = False
                connected = session.is_connected() and self._rpc.monitoring
                self.state.connected = connected
                self.state.error = None if connected or seqno < 0 else "connection lost; reconnecting"
                if dirty and self._rpc.monitoring:
                    self._changed()
                poller = ovs.poller.Poller()
                session.wait(poller)
                session.recv_wait(poller)
                poller.timer_wait(500)
                poller.block()
        finally:
            session.close()

    def _changed(self) -> None:
        interfaces = [i.row() for i in self.tables.interfaces.values()]
        if self.tunnel is not None:
            self._check_tunnel(interfaces)
        found = self.tables.bridge(self.config.bridge)
        if found is not None:
            # OVS's empty datapath_type is its default, the kernel datapath, which os-vif calls "system".
            self.state.datapath_type = found[1].datapath_type or "system"
        self._tune_controllers()
        vifs = vifs_of(interfaces)
        self.state.vifs = vifs
        self.on_vifs(self.config.datapath_id, vifs)

    def _tune_controllers(self) -> None:
        """Set what the bridge's controller connections should be, where they differ.

        Its rate to the controllers is capped, for switches whose meters cannot (the
        OpenFlow meter on the LLDP flow does it where the switch has meters; the
        bridge's own limit is the second line, and the only one without them). Changing
        these settings neither drops the connection nor flushes flows. (The controller's
        `max_backoff` is left alone: Open vSwitch 3.1 was seen to back off 1, 2, 4, 8 s
        whatever it says.)
        """
        found = self.tables.bridge(self.config.bridge)
        if found is None:
            return
        todo = [u for u in found[1].controllers
                if (c := self.tables.controllers.get(u)) is not None and c.rate_limit != CONTROLLER_RATE_PPS]
        if not todo:
            return
        assert self._rpc is not None
        error = self._rpc.transact([
            {"op": "update", "table": "Controller", "where": [["_uuid", "==", ["uuid", u]]],
             "row": {"controller_rate_limit": CONTROLLER_RATE_PPS, "controller_burst_limit": CONTROLLER_BURST}}
            for u in todo
        ], self.tables)
        if error:
            LOG.warning("switch %016x: could not tune its controller connections: %s", self.config.datapath_id, error)

    def _check_tunnel(self, interfaces: list[dict[str, Any]]) -> None:
        assert self.tunnel is not None
        spec = self.tunnel
        row = next((i for i in interfaces if i["name"] == spec.port_name), None)
        problem = tunnel_problem(row, spec)
        if problem is not None and spec.manage:
            problem = self._repair_tunnel(spec) or None
        self.state.tunnel = problem
        if problem:
            LOG.warning("switch %016x: %s", self.config.datapath_id, problem)

    def _repair_tunnel(self, spec: TunnelSpec) -> str:
        """Create the tunnel port, or set its type and options. Returns what is still wrong ('' if nothing)."""
        found = self.tables.bridge(self.config.bridge)
        if found is None:
            return f"no bridge {self.config.bridge} to add {spec.port_name} to"
        options = ["map", sorted([k, v] for k, v in wanted_tunnel_options(spec).items())]
        iface = self.tables.interface(spec.port_name)
        if iface is not None:
            ops: list[dict[str, Any]] = [
                {"op": "update", "table": "Interface", "where": [["_uuid", "==", ["uuid", iface[0]]]],
                 "row": {"type": "vxlan", "options": options}},
            ]
        else:
            ops = [
                {"op": "insert", "table": "Interface", "uuid-name": "tun",
                 "row": {"name": spec.port_name, "type": "vxlan", "options": options}},
                {"op": "insert", "table": "Port", "uuid-name": "tunport",
                 "row": {"name": spec.port_name, "interfaces": ["named-uuid", "tun"]}},
                {"op": "mutate", "table": "Bridge", "where": [["_uuid", "==", ["uuid", found[0]]]],
                 "mutations": [["ports", "insert", ["set", [["named-uuid", "tunport"]]]]]},
            ]
        assert self._rpc is not None
        error = self._rpc.transact(ops, self.tables)
        if error:
            return f"could not set up {spec.port_name}: {error}"
        LOG.info("switch %016x: tunnel port %s set up (local_ip %s)", self.config.datapath_id,
                 spec.port_name, spec.local_ip)
        return ""


class _Rpc:
    """One OVSDB session's requests: the monitor, and transactions waited for while updates keep coming."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.monitoring = False
        self.changed_meanwhile = False  # rows changed while a transaction was waited for
        self._monitor_id: Any = None
        self._fresh = False  # the monitor's reply replaces every row

    def start_monitor(self) -> None:
        import ovs.jsonrpc

        msg = ovs.jsonrpc.Message.create_request(
            "monitor", [DB, None, {t: {"columns": cols} for t, cols in MONITORED.items()}])
        self._monitor_id = msg.id
        self.monitoring = False
        self.session.send(msg)

    def pump(self, tables: Tables, until: Any = None) -> tuple[bool, Any]:
        """Handle what has arrived: whether rows changed, and the reply to request `until` if it came."""
        import ovs.jsonrpc

        dirty = False
        while (msg := self.session.recv()) is not None:
            try:
                if msg.type == ovs.jsonrpc.Message.T_NOTIFY and msg.method == "update":
                    if self.monitoring and isinstance(msg.params, list) and len(msg.params) == 2:
                        tables.apply(msg.params[1])
                        dirty = True
                elif msg.type in (ovs.jsonrpc.Message.T_REPLY, ovs.jsonrpc.Message.T_ERROR):
                    if msg.id == self._monitor_id:
                        if msg.type == ovs.jsonrpc.Message.T_ERROR:
                            raise BadUpdate(f"monitor refused: {msg.error}")
                        fresh = Tables()
                        fresh.apply(msg.result)
                        tables.interfaces, tables.bridges, tables.controllers = (
                            fresh.interfaces, fresh.bridges, fresh.controllers)
                        self.monitoring = dirty = True
                    elif until is not None and msg.id == until:
                        self.changed_meanwhile |= dirty
                        return dirty, msg
            except BadUpdate as e:
                # The server sent what RFC 7047 does not allow: start again from a new monitor.
                LOG.warning("ovsdb: %s; monitoring again", e)
                self.session.force_reconnect()
                self.monitoring = False
                return False, None
        return dirty, None

    def transact(self, ops: list[dict[str, Any]], tables: Tables, timeout: float = 5.0) -> str:
        """Run one transaction; '' if it committed, else what went wrong. Updates that arrive
        meanwhile are applied (and seen by the next round of the session's loop)."""
        import ovs.jsonrpc
        import ovs.poller

        msg = ovs.jsonrpc.Message.create_request("transact", [DB, *ops])
        self.session.send(msg)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.session.run()
            changed, reply = self.pump(tables, until=msg.id)
            self.changed_meanwhile |= changed
            if reply is not None:
                if reply.type == ovs.jsonrpc.Message.T_ERROR:
                    return str(reply.error)
                errors = [r for r in reply.result or [] if isinstance(r, dict) and "error" in r]
                return "; ".join(f"{r['error']}: {r.get('details', '')}" for r in errors)
            if not self.session.is_connected():
                return "connection lost"
            poller = ovs.poller.Poller()
            self.session.wait(poller)
            self.session.recv_wait(poller)
            poller.timer_wait(100)
            poller.block()
        return f"no answer within {timeout:.0f} s"


class VifBinder:
    """Turns each switch's VIF reports into one service call per change."""

    def __init__(self, service: NetworkService) -> None:
        self.svc = service
        self._lock = threading.Lock()
        self._last: dict[int, dict[str, Vif]] = {}

    def on_vifs(self, dpid: int, vifs: dict[str, Vif]) -> None:
        with self._lock:
            first = dpid not in self._last
            before = self._last.get(dpid, {})
            self._last[dpid] = dict(vifs)
        added = {n: v.vnic_id for n, v in vifs.items() if before.get(n) != v}
        removed = {n: v.vnic_id for n, v in before.items() if vifs.get(n) != v}
        if added or removed or first:
            self.svc.switch_vifs_changed(dpid, added, removed, resync=first)
