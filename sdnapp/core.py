"""What every part of the service shares: its collaborators, tenancy and lookups, and how a
committed change reaches the switches and the port statuses.

`NetworkService` (sdnapp/service.py) is this plus its operations, which live in modules by
resource; each operation module is a mixin over `ServiceCore`.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from topology.switches import Topology

from . import errors, validate
from .config import ExternalConfig
from .model import Caller, FloatingAddress, Network, Port, Router, Subnet, Vnic
from .status import DOWN, StatusBook
from .store import Store, Txn

_R = TypeVar("_R", Network, Port, Vnic, Subnet, FloatingAddress, Router)

# Neutron's defaults for what it counts per project; -1 is unlimited.
QUOTA_RESOURCES = ("network", "subnet", "port")
ROUTER_INTERFACE = "network:router_interface"  # the device_owner of a router's interface port
UNLIMITED = -1
# VXLAN over IPv4 adds 50 bytes to every frame (outer Ethernet, IPv4, UDP, VXLAN headers).
VXLAN_OVERHEAD = 50


def network_mtu(underlay_mtu: int, segment_type: str) -> int:
    """What a VM on a network may send: the underlay's MTU, less the tunnel's headers on VXLAN."""
    return underlay_mtu - (VXLAN_OVERHEAD if segment_type == "vxlan" else 0)


@dataclass(frozen=True)
class SegmentPool:
    type: str
    low: int
    high: int


@dataclass(frozen=True)
class HostInfo:
    """A hypervisor as Nova names it: the switch (integration bridge) of that host."""

    host: str
    datapath_id: int
    bridge: str
    datapath_type: str | None  # as read from the bridge over OVSDB; None until read


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> float:
    return time.time()


class ServiceCore:
    def __init__(
        self,
        store: Store,
        pool: SegmentPool,
        topology: Topology,
        status: StatusBook,
        extensions: tuple[str, ...] = ("ethernet-vnic", "networks"),
        on_change: Callable[[set[int]], None] | None = None,
        *,
        quotas: Mapping[str, int] | None = None,
        hosts: Callable[[str], HostInfo | None] = lambda host: None,
        on_port_deleted: Callable[[Port], None] | None = None,
        underlay_mtu: int = 1500,
        external: ExternalConfig | None = None,
    ) -> None:
        """`on_change` learns the segments whose flows may differ after each committed write (the
        reconciler); `quotas` are the default limits per project (unlimited unless given); `hosts`
        finds a hypervisor's switch by its name; `on_port_deleted` hears of every port deleted
        (Nova's notifier); `underlay_mtu` is the largest IP packet the switches' links carry; `external`, the
        outside network of the `nat` extension (offered where given)."""
        self.store = store
        self.pool = pool
        self.topology = topology
        self.status = status
        self.external = external
        self.extensions = (*extensions, "nat") if external is not None and "nat" not in extensions else extensions
        self._on_change = on_change
        self.default_quotas = {r: UNLIMITED for r in QUOTA_RESOURCES} | dict(quotas or {})
        self.host_info = hosts
        self._on_port_deleted = on_port_deleted
        self.underlay_mtu = underlay_mtu
        # Switch interfaces whose iface-id named no VNIC yet: (datapath id, interface name) -> iface-id.
        self._pending_lock = threading.Lock()
        self._pending_vifs: dict[tuple[int, str], str] = {}

    # tenancy and lookups --------------------------------------------------
    def _require_extension(self, alias: str) -> None:
        if alias not in self.extensions:
            raise errors.ExtensionNotFound(f"extension {alias} is not supported by this deployment")

    @staticmethod
    def _require_admin(caller: Caller, what: str = "this call") -> None:
        if not caller.is_admin:
            raise errors.Forbidden(f"{what} is for administrators")

    @staticmethod
    def _scope(caller: Caller, tenant_filter: str | None) -> str | None:
        if caller.is_admin:
            return tenant_filter
        return caller.project_id

    @staticmethod
    def _owner(caller: Caller, project: str | None) -> str:
        """The project a new resource belongs to: the caller's, or (admins only) the one asked for."""
        if project is None or project == caller.project_id:
            return caller.project_id
        if not caller.is_admin:
            raise errors.BadRequest(
                "specifying a project other than the authenticated project is not allowed for the current user"
            )
        return validate.project_id(project)

    @staticmethod
    def _visible(caller: Caller, kind: str, raw_id: str, fetch: Callable[[str], _R | None],
                 not_found: type[errors.NotFound]) -> _R:
        """The resource if it exists and the caller may see it; else not found, never forbidden."""
        rid = validate.resource_id(raw_id, kind, not_found)
        found = fetch(rid)
        if found is None or not caller.sees(found.tenant_id):
            raise not_found(f"{kind} {rid} not found")
        return found

    def _network(self, tx: Txn, caller: Caller, network_id: str) -> Network:
        return self._visible(caller, "network", network_id, tx.network, errors.NetworkNotFound)

    def _port(self, tx: Txn, caller: Caller, port_id: str) -> Port:
        return self._visible(caller, "port", port_id, tx.port, errors.PortNotFound)

    def _vnic(self, tx: Txn, caller: Caller, vnic_id: str) -> Vnic:
        return self._visible(caller, "vnic", vnic_id, tx.vnic, errors.VnicNotFound)

    def _subnet(self, tx: Txn, caller: Caller, subnet_id: str) -> Subnet:
        return self._visible(caller, "subnet", subnet_id, tx.subnet, errors.SubnetNotFound)

    @staticmethod
    def _router_of_port(tx: Txn, p: Port) -> str | None:
        """The router whose interface the port is (such a port changes with its router, not by port calls)."""
        r = tx.router(p.device_id) if p.device_owner == ROUTER_INTERFACE else None
        return r.id if r is not None and r.port_id == p.id else None

    def _not_router_port(self, tx: Txn, p: Port, what: str) -> None:
        if self._router_of_port(tx, p) is not None:
            raise errors.RouterPortInUse(
                f"Port {p.id} cannot be {what} directly via the port API: has device owner {ROUTER_INTERFACE}")

    def _segment_of_port(self, tx: Txn, port_id: str | None) -> int | None:
        if port_id is None:
            return None
        p = tx.port(port_id)
        n = tx.network(p.network_id) if p else None
        return n.segment_id if n else None

    @staticmethod
    def _random_mac(tx: Txn, taken: set[str] | None = None) -> str:
        # Locally administered unicast (fa: has the U/L bit set, the I/G bit clear),
        # unique across all projects so a chosen MAC never collides; `taken`: those a
        # bulk call handed out already, not yet in the store.
        for _ in range(64):
            mac = "fa:16:3e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
            if not tx.mac_in_use(mac) and mac not in (taken or ()):
                return mac
        raise errors.MacAddressInUse("could not find a free MAC address")

    def _waited_for(self, vnic_ids: set[str]) -> bool:
        """Whether a switch already has an interface naming one of these VNICs (made before them)."""
        with self._pending_lock:
            return not vnic_ids.isdisjoint(self._pending_vifs.values())

    # quotas ---------------------------------------------------------------
    def _limits(self, tx: Txn, project: str) -> dict[str, int]:
        return self.default_quotas | tx.quota_limits(project)

    def _check_quota(self, tx: Txn, created: Iterable[tuple[str, str]]) -> None:
        """Refuse the write (after its inserts, in its transaction) if it took a (project, resource) it
        created over its limit."""
        counters = {"network": tx.count_networks, "subnet": tx.count_subnets, "port": tx.count_ports}
        over = {
            resource for project, resource in set(created)
            if 0 <= self._limits(tx, project)[resource] < counters[resource](project)
        }
        if over:
            raise errors.OverQuota(f"quota exceeded for resources: {sorted(over)}")

    # after a commit -------------------------------------------------------
    def _changed(self, segments: set[int | None], ports: set[str | None]) -> None:
        self.status.touch({p for p in ports if p is not None})
        segs = {s for s in segments if s is not None}
        if segs and self._on_change is not None:
            self._on_change(segs)

    def _deleted(self, ports: list[Port]) -> None:
        for p in ports:
            self.status.forget(p.id)
            if self._on_port_deleted is not None:
                self._on_port_deleted(p)

    def port_status(self, port: Port) -> str:
        return self.status.status(port.id) if port.vnic_id else DOWN

    def network_mtu(self, n: Network) -> int:
        return network_mtu(self.underlay_mtu, n.segment_type)
