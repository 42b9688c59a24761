"""Assembling and running the process: store, service, os-ken, REST API."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import sys
import threading
from typing import Any

from flows.driver import TunnelEnd

from .config import Config, ConfigError
from .core import HostInfo
from .gateway import GatewayAgent
from .metrics import State as MetricsState

LOG = logging.getLogger("sdnapp")
# The longest a switch's database waits for the switch to be in line before it is read anyway
# (a switch that does not connect over OpenFlow still gets its VNICs bound and tunnel repaired).
OVSDB_HOLD_S = 5.0


def _listening_ports() -> set[int]:
    """TCP ports this process listens on, read from /proc (sockets it owns, in LISTEN state)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "0A" and cols[9] in inodes:  # 0A = LISTEN
                        ports.add(int(cols[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


class Server:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._configured = {sw.datapath_id: sw for sw in config.switches}
        self._stop = threading.Event()
        self.gateway: GatewayAgent | None = None

    def build(self) -> None:
        # Imported here so that `sdnapp --help` and config errors stay fast.
        from os_ken import cfg as oscfg

        from flows import vxlan
        from flows.driver import Driver
        from flows.vlan import VlanDriver
        from flows.vxlan import VxlanDriver
        from rest import neutron, v1
        from rest.app import Api
        from rest.auth import Authenticator, authenticator_for, face_authenticators
        from rest.openapi import document
        from topology.switches import Topology

        from .capabilities import CapabilityBook
        from .changefeed import ChangeFeed
        from .desired import DesiredState
        from .dhcpserver import DhcpServer
        from .dhcpserver import claims as claims_dhcp
        from .discovery import Discovery
        from .mastership import LeaseKeeper, Mastership
        from .metrics import Metrics
        from .nova import NovaNotifier
        from .ofapp import SwitchChannels
        from .ovsdb import SwitchDb, TunnelSpec, VifBinder
        from .packetin import PacketIns, is_arp, is_lldp
        from .reconciler import Reconciler
        from .remembered import RememberedTopology
        from .service import NetworkService, SegmentPool
        from .status import StatusBook
        from .store import Store
        from .trace import Tracer

        # The composition root: every collaborator is made here and handed to
        # what uses it at construction, switch side first, tenant API last.
        c = self.config
        auth: Authenticator = authenticator_for(c.auth)
        self.metrics = Metrics(enabled=c.metrics.enabled)
        self.store = Store(c.store.target, self.metrics)
        self.topology = Topology(list(c.topology.links), hold_time=c.topology.hold_time)
        for sw in c.switches:
            self.topology.expect(sw.datapath_id)
        self.status = StatusBook()
        low, high = c.isolation.segment_range
        pool = SegmentPool(c.isolation.driver, low, high)
        desired = DesiredState(self.store, self.topology, pool.type, c.external.pool if c.external else None)
        self.capabilities = CapabilityBook()
        self.channels = SwitchChannels(self.metrics, self.capabilities)
        # Shared with other instances (PostgreSQL): their changes heard, each switch mastered by one.
        source = self.store.change_feed()
        self.mastership = Mastership() if source is not None else None
        driver: Driver = VxlanDriver() if c.isolation.driver == vxlan.DRIVER else VlanDriver()
        self.reconciler = Reconciler(
            desired, self.topology, self.status, self.channels,
            driver=driver, lldp=c.topology.discovery, tunnels=self.tunnel_ends, metrics=self.metrics,
            gateway=lambda meter: self.gateway.view(meter) if self.gateway is not None else None,
            gateway_held=lambda flows: self.gateway.seed(flows) if self.gateway is not None else None,
            may_write=self.mastership.is_master if self.mastership is not None else lambda dpid: True,
        )
        self.leases = (
            LeaseKeeper(self.store, self.channels, self.topology.connected, self.reconciler.on_switch_up,
                        self.mastership)
            if self.mastership is not None else None
        )
        self.gateway = (GatewayAgent(c.external, self.topology, self.store, self.packet_out,
                                     self.reconciler.gateway_changed) if c.external is not None else None)
        self.notifier = NovaNotifier(c.nova, self.store) if c.nova.enabled else None
        if self.notifier is not None:
            self.status.watch(self.notifier.status_changed)
        self.service = NetworkService(
            self.store, pool, self.topology, self.status, on_change=self.reconciler.segments_changed,
            quotas=dataclasses.asdict(c.quotas), hosts=self.host_info, underlay_mtu=c.isolation.underlay_mtu,
            external=c.external,
            on_port_deleted=self.notifier.port_deleted if self.notifier is not None else None,
        )
        binder = VifBinder(self.service)
        self.dbs: dict[int, SwitchDb] = {}
        for sw in c.switches:
            if sw.ovsdb is None:
                continue
            tunnel = None
            if c.isolation.driver == vxlan.DRIVER and sw.tunnel_ip:
                tunnel = TunnelSpec(c.isolation.tunnel_port, sw.tunnel_ip, c.isolation.manage_tunnel_port)
            self.dbs[sw.datapath_id] = SwitchDb(
                sw, tunnel, binder.on_vifs, hold=lambda dpid: self.reconciler.wait_in_line(dpid, OVSDB_HOLD_S)
            )
        self.discovery = (
            Discovery(
                self.topology, self.reconciler, self.packet_out, desired.is_access_port,
                interval=c.topology.lldp_interval,
            )
            if c.topology.discovery
            else None
        )
        self.feed = ChangeFeed(source, self.others_changed) if source is not None else None
        self.packet_ins = PacketIns(self.metrics)
        if self.discovery is not None:
            self.packet_ins.add("lldp", is_lldp, self.discovery.on_lldp)
        dhcp_server = DhcpServer(desired, self.packet_out, c.dhcp, c.isolation.underlay_mtu, self.metrics,
                                 nat_dns=c.external.dns_servers if c.external is not None else ())
        self.packet_ins.add("dhcp", claims_dhcp, dhcp_server.handle)
        if self.gateway is not None:
            self.packet_ins.add("arp", is_arp, self.gateway.on_packet)
        self.remembered = RememberedTopology(self.store, self.topology, self.reconciler.on_links_changed)
        self.remembered.restore()
        tracer = Tracer(desired, self.topology, driver, self.tunnel_ends, c.topology.discovery,
                        self.reconciler.installed, self.reconciler.meters)
        # noauth trusts any caller on loopback: asking a scraper to claim to be an admin would protect nothing.
        opened = frozenset({"metrics"}) if c.metrics.public or c.auth.strategy == "noauth" else frozenset()
        self.api = Api(
            self.service, auth, c.api.max_body_bytes, self.openflow_ready, document, faces=(v1.FACE, neutron.FACE),
            switch_report=self.switch_report, tracer=tracer, metrics=self.metrics, open_routes=opened,
            face_auth=face_authenticators(c.auth, neutron.PREFIX),
        )
        self.metrics.watch(self.metrics_state)

        oscfg.CONF(args=[], project="os_ken")
        oscfg.CONF.set_override("ofp_listen_host", c.openflow.listen_host)
        oscfg.CONF.set_override("ofp_tcp_listen_port", c.openflow.ports[0])
        # Echo requests find a switch that vanished without closing its connection
        # (power loss, a cut cable): three unanswered, two seconds apart.
        oscfg.CONF.set_override("echo_request_interval", 2.0)
        oscfg.CONF.set_override("maximum_unreplied_echo_requests", 3)

    def packet_out(self, dpid: int, port_no: int, data: bytes) -> None:
        """A packet (LLDP, a DHCP answer, the gateway's ARP) out of a switch this instance masters: OVS
        refuses a slave's."""
        if self.mastership is None or self.mastership.is_master(dpid):
            self.channels.packet_out(dpid, port_no, data)

    def others_changed(self) -> None:
        """Another instance committed a write: what was read of the desired state is stale (the
        reconciler's snapshot keys on store.writes), and the switches are brought in line with it."""
        self.store.changed()
        self.reconciler.desired_changed()

    def host_info(self, host: str) -> HostInfo | None:
        """A hypervisor's switch, by the name Nova gives it (switches[].host), with its bridge's
        datapath type as last read over OVSDB."""
        sw = next((s for s in self.config.switches if s.host == host), None) if host else None
        if sw is None:
            return None
        db = self.dbs.get(sw.datapath_id)
        return HostInfo(host, sw.datapath_id, sw.bridge, db.state.datapath_type if db is not None else None)

    def tunnel_ends(self) -> dict[int, TunnelEnd]:
        """Each hypervisor's tunnel address, and its tunnel port's number once the switch reports the port."""
        ends = ((sw.datapath_id, self.tunnel_end(sw.datapath_id)) for sw in self.config.switches)
        return {dpid: end for dpid, end in ends if end is not None}

    def tunnel_end(self, dpid: int) -> TunnelEnd | None:
        sw = self._configured.get(dpid)
        if sw is None or sw.tunnel_ip is None:
            return None
        s = self.topology.switch(dpid)
        port = s.port_by_name(self.config.isolation.tunnel_port) if s else None
        return TunnelEnd(sw.tunnel_ip, port.port_no if port else None)

    def switch_report(self, dpid: int) -> dict[str, object]:
        """What GET /v1/switches adds: the flows reconciliation keeps there, and for a configured
        switch its OVSDB and tunnel port state."""
        out: dict[str, object] = {"flows": self.reconciler.report(dpid)}
        caps = self.capabilities.report(dpid)
        if caps is not None:
            out["capabilities"] = caps
        db = self.dbs.get(dpid)
        if db is not None:
            out["ovsdb"] = {"remote": db.config.ovsdb, "connected": db.state.connected, "error": db.state.error,
                            "vifs": len(db.state.vifs)}
        if self.gateway is not None and dpid == self.gateway.datapath_id:
            out["gateway"] = self.gateway.report()
        end = self.tunnel_end(dpid)  # this switch's alone: a listing of N switches must not cost N^2
        if end is not None:
            problem = db.state.tunnel if db is not None else None
            s = self.topology.switch(dpid)
            if problem is None and end.port_no is None and s is not None and s.connected:
                problem = f"the switch has no port named {self.config.isolation.tunnel_port}"
            out["tunnel"] = {"port_name": self.config.isolation.tunnel_port, "port_no": end.port_no,
                             "local_ip": end.ip, "ok": problem is None, "problem": problem}
        return out

    def metrics_state(self) -> MetricsState:
        """What the metrics read at each scrape: switches, ports by status, links, OVSDB connections."""
        from collections import Counter

        unsupported = set(self.capabilities.unsupported())
        switches = Counter("unsupported" if s.datapath_id in unsupported else
                           "connected" if s.connected else "disconnected" for s in self.topology.switches())
        with self.store.read() as tx:
            ports = tx.ports()
        statuses = Counter(self.service.port_status(p) for p in ports)
        links = Counter(u.source for u in self.topology.links_in_use())
        return MetricsState(
            switches=dict(switches), ports=dict(statuses), links=dict(links),
            link_problems=len(self.topology.link_problems()),
            ovsdb={f"{d:016x}": db.state.connected for d, db in self.dbs.items()},
        )

    def openflow_ready(self) -> bool:
        return set(self.config.openflow.ports) <= _listening_ports()

    def _check_ports_free(self) -> None:
        c = self.config
        for host, port in [(c.api.host, c.api.port)] + [(c.openflow.listen_host, p) for p in c.openflow.ports]:
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError as e:
                raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}") from None
            finally:
                s.close()

    def run(self) -> int:
        import waitress
        from os_ken.base.app_manager import AppManager
        from os_ken.controller.controller import OpenFlowController
        from os_ken.lib import hub

        from .ofapp import report_disconnects_on_native_threads
        from .ofmsg import keep_flow_stats_raw

        self._check_ports_free()
        self.build()
        report_disconnects_on_native_threads()
        keep_flow_stats_raw()
        mgr = AppManager.get_instance()
        mgr.load_apps(["sdnapp.ofapp"])
        contexts: dict[str, Any] = mgr.create_contexts()
        contexts["sdnapp_reconciler"] = self.reconciler
        contexts["sdnapp_channels"] = self.channels
        contexts["sdnapp_packet_ins"] = self.packet_ins
        self.reconciler.start()
        if self.feed is not None:
            self.feed.start()
        if self.gateway is not None:
            self.gateway.start()
        if self.leases is not None:
            self.leases.start()
        self.remembered.start()
        if self.discovery is not None:
            self.discovery.start()
        for db in self.dbs.values():
            db.start()
        if self.notifier is not None:
            self.notifier.start()
        mgr.instantiate_apps(**contexts)
        for port in self.config.openflow.ports[1:]:
            hub.spawn(OpenFlowController().server_loop, port, port)

        http = waitress.create_server(
            self.api,
            host=self.config.api.host,
            port=self.config.api.port,
            threads=self.config.api.threads,
            ident="sdnapp",
            clear_untrusted_proxy_headers=True,
        )
        threading.Thread(target=http.run, name="rest", daemon=True).start()
        LOG.info(
            "sdnapp running: REST API on http://%s:%d, OpenFlow on %s port %s, store %s, auth %s",
            self.config.api.host, self.config.api.port, self.config.openflow.listen_host,
            "/".join(map(str, self.config.openflow.ports)), self.store.path, self.config.auth.strategy,
        )
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, lambda *_: self._stop.set())
        self._stop.wait()
        LOG.info("stopping")
        http.close()
        if self.discovery is not None:
            self.discovery.stop()
        for db in self.dbs.values():
            db.stop()
        if self.leases is not None:
            self.leases.stop()
        if self.feed is not None:
            self.feed.stop()
        if self.gateway is not None:
            self.gateway.stop()
        self.reconciler.stop()
        self.remembered.stop()
        if self.notifier is not None:
            self.notifier.stop()
        # The switches keep their flows (fail-mode secure): stopping never
        # touches them. Closing the store after the API stops means no write
        # is cut in half.
        self.store.close()
        LOG.info("stopped")
        sys.stdout.flush()
        return 0
