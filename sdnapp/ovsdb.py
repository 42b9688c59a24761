"""Open vSwitch databases: VIF bindings from `external_ids:iface-id`, and the tunnel port.

One thread per switch keeps an OVSDB IDL (the `ovs` library of the Open vSwitch
project) of its Interface table. An interface that appears with an iface-id
binds that VNIC to it (source `switch`), moving the binding from wherever it
was (live migration); an interface that goes away unbinds it. An iface-id of
no known VNIC is kept pending and bound once the VNIC exists. With the vxlan
driver the same connection creates or repairs the switch's tunnel port.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flows.pipeline import CONTROLLER_BURST, CONTROLLER_RATE_PPS

from .config import SwitchConfig
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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ovsdb-{config.datapath_id:016x}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _schema(self) -> dict[str, Any]:
        import ovs.jsonrpc
        import ovs.stream

        remote = self.config.ovsdb
        err, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(remote), timeout=5000)
        if err:
            raise OSError(err, f"cannot connect to {remote}")
        rpc = ovs.jsonrpc.Connection(stream)
        try:
            err, reply = rpc.transact_block(ovs.jsonrpc.Message.create_request("get_schema", [DB]))
            if err or reply.error:
                raise OSError(f"get_schema from {remote} failed: {err or reply.error}")
            result: dict[str, Any] = reply.result
            return result
        finally:
            rpc.close()

    def _run(self) -> None:
        # The first read of a large bridge (the Python IDL: about 0.2 s of CPU per 1,000
        # interfaces) competed for the interpreter with the switch's own reconciliation
        # after a restart, which needs nothing from here: the VNICs' bindings are in the
        # store. So the switch is brought in line first, and its database read after.
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
        import ovs.db.idl
        import ovs.jsonrpc
        import ovs.poller

        helper = ovs.db.idl.SchemaHelper(schema_json=self._schema())
        helper.register_columns("Interface", ["name", "type", "options", "external_ids"])
        helper.register_columns("Port", ["name", "interfaces"])
        helper.register_columns("Bridge", ["name", "ports", "controller", "datapath_type"])
        helper.register_columns("Controller", ["target", "controller_rate_limit", "controller_burst_limit"])
        # The IDL reconnects and reloads by itself, but does not say whether it is
        # connected; a second, idle JSON-RPC session to the same server (it probes
        # the peer with echoes) tells, for GET /v1/switches.
        idl = ovs.db.idl.Idl(self.config.ovsdb, helper)
        probe = ovs.jsonrpc.Session.open(self.config.ovsdb, probe_interval=PROBE_MS)
        seen = -1
        try:
            while not self._stop.is_set():
                idl.run()
                probe.run()
                while probe.recv() is not None:
                    pass  # nothing is asked on it; echoes are answered inside the session
                if idl.has_ever_connected() and idl.change_seqno != seen:
                    seen = idl.change_seqno
                    self._changed(idl)
                if idl.has_ever_connected():
                    self.state.connected = probe.is_connected()
                    self.state.error = None if self.state.connected else "connection lost; reconnecting"
                poller = ovs.poller.Poller()
                idl.wait(poller)
                probe.wait(poller)
                probe.recv_wait(poller)
                poller.timer_wait(500)
                poller.block()
        finally:
            probe.close()
            idl.close()

    def _changed(self, idl: Any) -> None:
        interfaces = [
            {"name": r.name, "type": r.type, "options": dict(r.options), "external_ids": dict(r.external_ids)}
            for r in idl.tables["Interface"].rows.values()
        ]
        if self.tunnel is not None:
            self._check_tunnel(idl, interfaces)
        bridge = next((b for b in idl.tables["Bridge"].rows.values() if b.name == self.config.bridge), None)
        if bridge is not None:
            # OVS's empty datapath_type is its default, the kernel datapath, which os-vif calls "system".
            self.state.datapath_type = bridge.datapath_type or "system"
        self._tune_controllers(idl)
        vifs = vifs_of(interfaces)
        self.state.vifs = vifs
        self.on_vifs(self.config.datapath_id, vifs)

    def _tune_controllers(self, idl: Any) -> None:
        """Set what the bridge's controller connections should be, where they differ.

        Its rate to the controllers is capped, for switches whose meters cannot (the
        OpenFlow meter on the LLDP flow does it where the switch has meters; the
        bridge's own limit is the second line, and the only one without them). Changing
        these settings neither drops the connection nor flushes flows. (The controller's
        `max_backoff` is left alone: Open vSwitch 3.1 was seen to back off 1, 2, 4, 8 s
        whatever it says.)
        """
        import ovs.db.idl

        bridge = next((b for b in idl.tables["Bridge"].rows.values() if b.name == self.config.bridge), None)
        if bridge is None:
            return
        todo = [c for c in bridge.controller
                if list(c.controller_rate_limit) != [CONTROLLER_RATE_PPS]]
        if not todo:
            return
        txn = ovs.db.idl.Transaction(idl)
        for c in todo:
            c.controller_rate_limit = CONTROLLER_RATE_PPS
            c.controller_burst_limit = CONTROLLER_BURST
        status = txn.commit_block()
        if status not in (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED):
            LOG.warning("switch %016x: could not tune its controller connections: %s", self.config.datapath_id, status)

    def _check_tunnel(self, idl: Any, interfaces: list[dict[str, Any]]) -> None:
        assert self.tunnel is not None
        spec = self.tunnel
        row = next((i for i in interfaces if i["name"] == spec.port_name), None)
        problem = tunnel_problem(row, spec)
        if problem is not None and spec.manage:
            problem = self._repair_tunnel(idl, spec, exists=row is not None) or None
        self.state.tunnel = problem
        if problem:
            LOG.warning("switch %016x: %s", self.config.datapath_id, problem)

    def _repair_tunnel(self, idl: Any, spec: TunnelSpec, exists: bool) -> str:
        """Create the tunnel port, or set its type and options. Returns what is still wrong ('' if nothing)."""
        import ovs.db.idl

        bridge = next((b for b in idl.tables["Bridge"].rows.values() if b.name == self.config.bridge), None)
        if bridge is None:
            return f"no bridge {self.config.bridge} to add {spec.port_name} to"
        txn = ovs.db.idl.Transaction(idl)
        if exists:
            iface = next(r for r in idl.tables["Interface"].rows.values() if r.name == spec.port_name)
        else:
            iface = txn.insert(idl.tables["Interface"])
            iface.name = spec.port_name
            port = txn.insert(idl.tables["Port"])
            port.name = spec.port_name
            port.interfaces = [iface]
            bridge.addvalue("ports", port.uuid)
        iface.type = "vxlan"
        iface.options = wanted_tunnel_options(spec)
        status = txn.commit_block()
        if status not in (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED):
            return f"could not set up {spec.port_name}: {status} {txn.get_error()}"
        LOG.info("switch %016x: tunnel port %s set up (local_ip %s)", self.config.datapath_id,
                 spec.port_name, spec.local_ip)
        return ""


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
