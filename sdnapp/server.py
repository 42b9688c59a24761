"""Assembling and running the process: store, service, os-ken, REST API."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from typing import Any

from .config import Config, ConfigError

LOG = logging.getLogger("sdnapp")


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
        self._stop = threading.Event()

    def build(self) -> None:
        # Imported here so that `sdnapp --help` and config errors stay fast.
        from os_ken import cfg as oscfg

        from rest.app import Api
        from rest.auth import Authenticator, NoAuth, TokenAuth
        from rest.openapi import document
        from topology.switches import Topology

        from .discovery import Discovery
        from .ofapp import SwitchChannels
        from .reconciler import Reconciler
        from .service import NetworkService, SegmentPool
        from .status import StatusBook
        from .store import Store

        c = self.config
        auth: Authenticator = NoAuth() if c.auth.strategy == "noauth" else TokenAuth.from_file(c.auth.tokens_file or "")
        self.store = Store(c.store.path)
        self.topology = Topology(list(c.topology.links))
        self.status = StatusBook()
        low, high = c.isolation.vlan_range
        self.service = NetworkService(self.store, SegmentPool("vlan", low, high), self.topology, self.status)
        self.channels = SwitchChannels()
        self.reconciler = Reconciler(
            self.service, self.topology, self.status, self.channels, lldp=c.topology.discovery
        )
        self.discovery = (
            Discovery(
                self.topology, self.reconciler, self.channels.packet_out, self.service.is_access_port,
                interval=c.topology.lldp_interval,
            )
            if c.topology.discovery
            else None
        )
        self.service.on_change = self.reconciler.segments_changed
        self.api = Api(self.service, auth, c.api.max_body_bytes, self.openflow_ready, document)

        oscfg.CONF(args=[], project="os_ken")
        oscfg.CONF.set_override("ofp_listen_host", c.openflow.listen_host)
        oscfg.CONF.set_override("ofp_tcp_listen_port", c.openflow.ports[0])

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

        self._check_ports_free()
        self.build()
        mgr = AppManager.get_instance()
        mgr.load_apps(["sdnapp.ofapp"])
        contexts: dict[str, Any] = mgr.create_contexts()
        contexts["sdnapp_reconciler"] = self.reconciler
        contexts["sdnapp_channels"] = self.channels
        contexts["sdnapp_discovery"] = self.discovery
        self.reconciler.start()
        if self.discovery is not None:
            self.discovery.start()
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
        self.reconciler.stop()
        # The switches keep their flows (fail-mode secure): stopping never
        # touches them. Closing the store after the API stops means no write
        # is cut in half.
        self.store.close()
        LOG.info("stopped")
        sys.stdout.flush()
        return 0
