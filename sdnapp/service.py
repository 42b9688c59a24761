"""NetworkService: the core API and its extensions, tenancy and validation, and the bindings switches report.

Every write is one store transaction; after it commits, the segments whose flows
may change are handed to `on_change` (the reconciler), and the ports whose
traffic it affects go DOWN until their switches confirm the new flows. The
switch side reads desired state through `sdnapp.desired`, never through here.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

from topology.switches import MAX_PORT_NO, KnownLink, LinkInUse, Switch, Topology

from . import errors, validate
from .model import Binding, Caller, Network, Port, Vnic
from .status import DOWN, StatusBook
from .store import Store, Txn

LOG = logging.getLogger(__name__)
_R = TypeVar("_R", Network, Port, Vnic)

EXTENSIONS: dict[str, dict[str, str]] = {
    "ethernet-vnic": {
        "alias": "ethernet-vnic",
        "name": "Ethernet VNIC",
        "description": "Create a VNIC with an Ethernet MAC address, given or chosen by the server.",
        "updated": "2026-11-26T00:00:00Z",
    },
    "networks": {
        "alias": "networks",
        "name": "Networks",
        "description": "Logical layer-2 networks with an optional IPv4 address range, and ports in them.",
        "updated": "2026-11-26T00:00:00Z",
    },
}


MAX_BULK = 1000  # plugged ports per bulk call


@dataclass(frozen=True)
class BindingRequest:
    """Where a VNIC sits, as a caller names it: a datapath id in any accepted form, a port number or name."""

    datapath_id: object
    port_no: int | None = None
    port_name: str | None = None


@dataclass(frozen=True)
class PluggedPortRequest:
    """One item of a bulk call: a port in a network with a new VNIC plugged into it, bound where given."""

    network_id: str
    name: str = ""
    vnic_name: str = ""
    mac_address: str | None = None
    binding: BindingRequest | None = None


@dataclass(frozen=True)
class SegmentPool:
    type: str
    low: int
    high: int


def _new_id() -> str:
    return str(uuid.uuid4())


class NetworkService:
    def __init__(
        self,
        store: Store,
        pool: SegmentPool,
        topology: Topology,
        status: StatusBook,
        extensions: tuple[str, ...] = ("ethernet-vnic", "networks"),
        on_change: Callable[[set[int]], None] | None = None,
    ) -> None:
        """`on_change` learns the segments whose flows may differ after each committed write (the reconciler)."""
        self.store = store
        self.pool = pool
        self.topology = topology
        self.status = status
        self.extensions = extensions
        self._on_change = on_change
        # Switch interfaces whose iface-id named no VNIC yet: (datapath id, interface name) -> iface-id.
        self._pending_lock = threading.Lock()
        self._pending_vifs: dict[tuple[int, str], str] = {}

    # helpers ------------------------------------------------------------
    def _require_extension(self, alias: str) -> None:
        if alias not in self.extensions:
            raise errors.ExtensionNotFound(f"extension {alias} is not supported by this deployment")

    @staticmethod
    def _require_admin(caller: Caller) -> None:
        if not caller.is_admin:
            raise errors.Forbidden("this call is for administrators")

    @staticmethod
    def _scope(caller: Caller, tenant_filter: str | None) -> str | None:
        if caller.is_admin:
            return tenant_filter
        return caller.project_id

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

    def _segment_of_port(self, tx: Txn, port_id: str | None) -> int | None:
        if port_id is None:
            return None
        p = tx.port(port_id)
        n = tx.network(p.network_id) if p else None
        return n.segment_id if n else None

    def _changed(self, segments: set[int | None], ports: set[str | None]) -> None:
        self.status.touch({p for p in ports if p is not None})
        segs = {s for s in segments if s is not None}
        if segs and self._on_change is not None:
            self._on_change(segs)

    def port_status(self, port: Port) -> str:
        return self.status.status(port.id) if port.vnic_id else DOWN

    # extensions ---------------------------------------------------------
    def list_extensions(self) -> list[dict[str, str]]:
        return [EXTENSIONS[a] for a in self.extensions]

    def get_extension(self, alias: str) -> dict[str, str]:
        if alias not in self.extensions:
            raise errors.ExtensionNotFound(f"extension {alias[:64]} not found")
        return EXTENSIONS[alias]

    # networks -----------------------------------------------------------
    def create_network(self, caller: Caller, name: str = "", address_prefix: str | None = None) -> Network:
        self._require_extension("networks")
        name = validate.name(name)
        prefix = validate.ipv4_prefix(address_prefix) if address_prefix is not None else None
        with self.store.write() as tx:
            sid = tx.free_segment(self.pool.type, self.pool.low, self.pool.high)
            if sid is None:
                raise errors.SegmentPoolExhausted(
                    f"no free {self.pool.type} segment in {self.pool.low}-{self.pool.high}"
                )
            n = Network(_new_id(), caller.project_id, name, prefix, self.pool.type, sid)
            tx.insert_network(n)
        LOG.info("network %s created for %s with %s %d", n.id, n.tenant_id, n.segment_type, sid)
        return n

    def list_networks(self, caller: Caller, tenant_filter: str | None = None) -> list[Network]:
        self._require_extension("networks")
        with self.store.read() as tx:
            return tx.networks(self._scope(caller, tenant_filter))

    def get_network(self, caller: Caller, network_id: str) -> Network:
        self._require_extension("networks")
        with self.store.read() as tx:
            return self._network(tx, caller, network_id)

    def destroy_network(self, caller: Caller, network_id: str) -> None:
        self._require_extension("networks")
        with self.store.write() as tx:
            n = self._network(tx, caller, network_id)
            if tx.network_has_attachment(n.id):
                raise errors.NetworkInUse(f"network {n.id} has ports with VNICs plugged")
            ports = [p.id for p in tx.ports(network_id=n.id)]
            tx.delete_network(n.id)
        for p in ports:
            self.status.forget(p)
        LOG.info("network %s destroyed", n.id)
        self._changed({n.segment_id}, set())

    # ports --------------------------------------------------------------
    def create_port(self, caller: Caller, network_id: str, name: str = "") -> Port:
        self._require_extension("networks")
        name = validate.name(name)
        with self.store.write() as tx:
            n = self._network(tx, caller, network_id)
            ip = self._next_address(tx, n) if n.address_prefix else None
            p = Port(_new_id(), n.tenant_id, n.id, name, ip, None)
            tx.insert_port(p)
        return p

    @classmethod
    def _next_address(cls, tx: Txn, n: Network) -> str:
        addr = next(cls._free_addresses(tx, n), None)
        if addr is None:
            raise errors.AddressPoolExhausted(f"network {n.id} has no free address in {n.address_prefix}")
        return addr

    def list_ports(
        self, caller: Caller, network_id: str | None = None, tenant_filter: str | None = None
    ) -> list[Port]:
        with self.store.read() as tx:
            # A filter naming no network the caller can see matches nothing (as a
            # filter does), and tells nothing about other tenants' networks.
            return tx.ports(tenant_id=self._scope(caller, tenant_filter), network_id=network_id)

    def get_port(self, caller: Caller, port_id: str) -> Port:
        with self.store.read() as tx:
            return self._port(tx, caller, port_id)

    def destroy_port(self, caller: Caller, port_id: str) -> None:
        with self.store.write() as tx:
            p = self._port(tx, caller, port_id)
            if p.vnic_id is not None:
                raise errors.PortInUse(f"port {p.id} has vnic {p.vnic_id} attached")
            tx.delete_port(p.id)
        self.status.forget(p.id)

    # vnics --------------------------------------------------------------
    def create_vnic(self, caller: Caller, mac_address: str | None = None, name: str = "") -> Vnic:
        self._require_extension("ethernet-vnic")
        name = validate.name(name)
        mac = validate.unicast_mac(mac_address) if mac_address is not None else None
        with self.store.write() as tx:
            if mac is None:
                mac = self._random_mac(tx)
            elif tx.mac_in_use(mac, caller.project_id):
                raise errors.MacAddressInUse(f"mac_address {mac} is already used by a VNIC of this project")
            v = Vnic(_new_id(), caller.project_id, name, mac, None, None)
            tx.insert_vnic(v)
        with self._pending_lock:
            waited_for = v.id in self._pending_vifs.values()
        if waited_for:  # a switch already has its interface
            self.bind_pending_vifs()
        return v

    @staticmethod
    def _random_mac(tx: Txn, taken: set[str] | None = None) -> str:
        # Locally administered unicast (fa: has the U/L bit set, the I/G bit clear),
        # unique across all projects so a chosen MAC never collides.
        for _ in range(64):
            mac = "fa:16:3e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
            if not tx.mac_in_use(mac) and mac not in (taken or ()):
                return mac
        raise errors.MacAddressInUse("could not find a free MAC address")

    def list_vnics(self, caller: Caller, tenant_filter: str | None = None) -> list[Vnic]:
        with self.store.read() as tx:
            return tx.vnics(self._scope(caller, tenant_filter))

    def get_vnic(self, caller: Caller, vnic_id: str) -> Vnic:
        with self.store.read() as tx:
            return self._vnic(tx, caller, vnic_id)

    def destroy_vnic(self, caller: Caller, vnic_id: str) -> None:
        with self.store.write() as tx:
            v = self._vnic(tx, caller, vnic_id)
            seg = self._segment_of_port(tx, v.port_id)
            tx.set_attachment(v.id, None)
            tx.delete_vnic(v.id)
        self._changed({seg}, {v.port_id})

    def vnic_status(self, v: Vnic) -> str:
        return self.status.status(v.port_id) if v.port_id else DOWN

    def vnic_binding(self, v: Vnic) -> Binding | None:
        """The VNIC's binding as its switch has it: a binding made by port name shows the port's
        number once the switch reported the port, and one made by number shows its name."""
        b = v.binding
        if b is None:
            return None
        seen = self.topology.resolve(b.datapath_id, b.port_no, b.port_name)
        return b if seen is None else Binding(b.datapath_id, seen.port_no, seen.name, b.source)

    # attachments --------------------------------------------------------
    def plug(self, caller: Caller, port_id: str, vnic_id: str) -> Port:
        with self.store.write() as tx:
            p = self._port(tx, caller, port_id)
            v = self._vnic(tx, caller, vnic_id)
            if v.port_id == p.id:
                return p
            if p.vnic_id is not None:
                raise errors.PortInUse(f"port {p.id} has vnic {p.vnic_id} attached")
            if v.port_id is not None:
                raise errors.AlreadyAttached(f"vnic {v.id} is plugged into port {v.port_id}")
            other = tx.mac_in_network(v.mac_address, p.network_id)
            if other is not None:
                raise errors.MacAddressInUse(
                    f"network {p.network_id} already has vnic {other} with mac_address {v.mac_address}"
                )
            tx.set_attachment(v.id, p.id)
            seg = self._segment_of_port(tx, p.id)
        LOG.info("vnic %s plugged into port %s", v.id, p.id)
        self._changed({seg}, {p.id})
        return Port(p.id, p.tenant_id, p.network_id, p.name, p.ip_address, v.id)

    def get_attachment(self, caller: Caller, port_id: str) -> Port:
        return self.get_port(caller, port_id)

    def unplug_vnic(self, caller: Caller, vnic_id: str) -> None:
        with self.store.write() as tx:
            v = self._vnic(tx, caller, vnic_id)
            if v.port_id is None:
                return
            seg = self._segment_of_port(tx, v.port_id)
            tx.set_attachment(v.id, None)
        self._changed({seg}, {v.port_id})

    def unplug_port(self, caller: Caller, port_id: str) -> None:
        with self.store.write() as tx:
            p = self._port(tx, caller, port_id)
            if p.vnic_id is None:
                return
            seg = self._segment_of_port(tx, p.id)
            tx.set_attachment(p.vnic_id, None)
        self._changed({seg}, {p.id})

    # many at once -------------------------------------------------------
    def create_plugged_ports(self, caller: Caller, items: list[PluggedPortRequest]) -> list[tuple[Port, Vnic]]:
        """For each item a new port in its network, a new VNIC plugged into it, and its binding where given.

        The same rules as the calls one at a time (create_port, create_vnic, plug,
        bind), in one transaction: all or nothing. A bad item's error names its index.
        """
        self._require_extension("networks")
        self._require_extension("ethernet-vnic")
        if not 1 <= len(items) <= MAX_BULK:
            raise errors.BadRequest(f"give 1 to {MAX_BULK} plugged ports, not {len(items)}")
        if any(it.binding is not None for it in items):
            self._require_admin(caller)
        checked = [_at(i, self._checked_item, it) for i, it in enumerate(items)]
        made: list[tuple[Port, Vnic]] = []
        with self.store.write() as tx:
            first = {nid: i for i, (nid, *_) in reversed(list(enumerate(checked)))}
            networks = {nid: _at(i, self._network, tx, caller, nid) for nid, i in first.items()}
            free = {nid: self._free_addresses(tx, n) for nid, n in networks.items() if n.address_prefix}
            macs: set[str] = set()  # the MACs this call hands out: unique per project, so in it too
            in_network: set[tuple[str, str]] = set()
            claims: set[tuple[int, int | str]] = set()  # switch ports this call binds
            for i, (nid, name, vnic_name, mac, bound) in enumerate(checked):
                n = networks[nid]
                if mac is None:
                    mac = self._random_mac(tx, taken=macs)
                elif mac in macs or tx.mac_in_use(mac, caller.project_id):
                    raise _item(i, errors.MacAddressInUse(
                        f"mac_address {mac} is already used by a VNIC of this project"))
                if (nid, mac) in in_network or tx.mac_in_network(mac, nid) is not None:
                    raise _item(i, errors.MacAddressInUse(f"network {nid} already has a VNIC with mac_address {mac}"))
                macs.add(mac)
                in_network.add((nid, mac))
                binding = None
                if bound is not None:
                    binding, check_no, check_name = bound
                    dpid = binding.datapath_id
                    here = {(dpid, x) for x in (check_no, check_name) if x is not None}
                    holder = tx.binding_holder(dpid, check_no, check_name)
                    if holder is not None or here & claims:
                        where = f"{validate.format_dpid(dpid)}/{binding.port_name or binding.port_no}"
                        raise _item(i, errors.BindingInUse(f"switch port {where} is bound to another vnic"))
                    claims |= here
                ip = None
                if n.address_prefix:
                    ip = next(free[nid], None)
                    if ip is None:
                        raise _item(i, errors.AddressPoolExhausted(
                            f"network {nid} has no free address in {n.address_prefix}"))
                port_id, vnic_id = _new_id(), _new_id()
                made.append((Port(port_id, n.tenant_id, nid, name, ip, vnic_id),
                             Vnic(vnic_id, caller.project_id, vnic_name, mac, port_id, binding)))
            tx.insert_plugged(made)
        LOG.info("%d plugged ports created for %s", len(made), caller.project_id)
        self._changed({networks[p.network_id].segment_id for p, _ in made}, {p.id for p, _ in made})
        return made

    def _checked_item(
        self, it: PluggedPortRequest
    ) -> tuple[str, str, str, str | None, tuple[Binding, int | None, str | None] | None]:
        """An item's values, checked before anything is read: (network id, port name, VNIC name, MAC, binding)."""
        nid = validate.resource_id(it.network_id, "network", errors.NetworkNotFound)
        mac = validate.unicast_mac(it.mac_address) if it.mac_address is not None else None
        bound = self._binding(it.binding, "api") if it.binding is not None else None
        return nid, validate.name(it.name), validate.name(it.vnic_name), mac, bound

    @staticmethod
    def _free_addresses(tx: Txn, n: Network) -> Iterator[str]:
        """The network's free addresses in order, after the gateway's (read once for a whole bulk call)."""
        assert n.address_prefix is not None
        net = ipaddress.IPv4Network(n.address_prefix)
        used = tx.used_addresses(n.id)
        addr = net.network_address + 2
        while addr < net.broadcast_address:
            if str(addr) not in used:
                yield str(addr)
            addr += 1

    # bindings (admin) ---------------------------------------------------
    def bind(
        self,
        caller: Caller,
        vnic_id: str,
        datapath_id: object,
        port_no: int | None = None,
        port_name: str | None = None,
        source: str = "api",
    ) -> Vnic:
        """Bind by hand. `datapath_id` in any accepted form (16 hex digits, 0x-hex, decimal, int)."""
        self._require_admin(caller)
        b, check_no, check_name = self._binding(BindingRequest(datapath_id, port_no, port_name), source)
        with self.store.write() as tx:
            v = self._vnic(tx, caller, vnic_id)
            holder = tx.binding_holder(b.datapath_id, check_no, check_name)
            if holder is not None and holder != v.id:
                where = f"{validate.format_dpid(b.datapath_id)}/{port_name or port_no}"
                raise errors.BindingInUse(f"switch port {where} is bound to vnic {holder}")
            if v.binding == b:
                return v
            tx.set_binding(v.id, b)
            seg = self._segment_of_port(tx, v.port_id)
        LOG.info("vnic %s bound to %s port %s", v.id, validate.format_dpid(b.datapath_id), port_name or port_no)
        self._changed({seg}, {v.port_id})
        return Vnic(v.id, v.tenant_id, v.name, v.mac_address, v.port_id, b)

    def _binding(self, req: BindingRequest, source: str) -> tuple[Binding, int | None, str | None]:
        """The binding asked for, and the port number and name that a conflicting binding would name."""
        dpid = validate.datapath_id(req.datapath_id)
        port_no, port_name = req.port_no, req.port_name
        if (port_no is None) == (port_name is None):
            raise errors.BadRequest("give exactly one of port_no and port_name")
        if port_name is not None and (not port_name or len(port_name) > 255):
            raise errors.BadRequest("port_name must be 1 to 255 characters")
        if port_no is not None and not 1 <= port_no <= MAX_PORT_NO:
            raise errors.BadRequest(f"port_no must be a physical port number (1 to {MAX_PORT_NO})")
        # The binding keeps what was given (a port number changes when an
        # interface is re-added; its name does not). Where the switch has
        # reported the port, its other identity is known too, so a binding by
        # name and one by number of the same port are seen to conflict.
        seen = self.topology.resolve(dpid, port_no, port_name)
        check_no = seen.port_no if seen else port_no
        check_name = seen.name if seen else port_name
        return Binding(dpid, port_no, port_name, source), check_no, check_name

    def unbind(self, caller: Caller, vnic_id: str) -> None:
        self._require_admin(caller)
        with self.store.write() as tx:
            v = self._vnic(tx, caller, vnic_id)
            if v.binding is None:
                return
            tx.delete_binding(v.id)
            seg = self._segment_of_port(tx, v.port_id)
        self._changed({seg}, {v.port_id})

    # bindings from the switch (Open vSwitch external_ids:iface-id) ---------
    def switch_vifs_changed(
        self, datapath_id: int, added: Mapping[str, str], removed: Mapping[str, str], resync: bool = False
    ) -> None:
        """A switch's interfaces changed: `added` and `removed` map interface names to the iface-id they carry.

        One transaction for the whole change. An interface naming a VNIC binds it
        there (source `switch`), moving its binding from wherever it was (live
        migration) and taking the switch port from any VNIC bound to it before.
        An interface that leaves unbinds only the VNIC the switch had bound
        there, never one bound since (by the API, or by another interface). An
        iface-id naming no VNIC is remembered and bound once that VNIC exists.
        With `resync` (the first report after sdnapp started) `added` is
        everything the switch has, and switch bindings to anything else are
        dropped: those interfaces left while sdnapp was away.
        """
        segs: set[int | None] = set()
        ports: set[str | None] = set()
        with self._pending_lock:
            for name in removed:
                self._pending_vifs.pop((datapath_id, name), None)
        with self.store.write() as tx:
            if resync:
                for name, vnic_id in tx.switch_bindings(datapath_id).items():
                    if added.get(name) != vnic_id:
                        self._unbind_from_switch(tx, datapath_id, name, vnic_id, segs, ports)
            for name, vnic_id in removed.items():
                self._unbind_from_switch(tx, datapath_id, name, vnic_id, segs, ports)
            unknown = {
                name: vnic_id for name, vnic_id in added.items()
                if not self._bind_from_switch(tx, datapath_id, name, vnic_id, segs, ports)
            }
        with self._pending_lock:
            for name, vnic_id in unknown.items():
                self._pending_vifs[(datapath_id, name)] = vnic_id
        self._changed(segs, ports)

    def bind_pending_vifs(self) -> None:
        """Bind the interfaces whose iface-id named no VNIC when they appeared, where that VNIC exists now."""
        with self._pending_lock:
            pending = dict(self._pending_vifs)
        segs: set[int | None] = set()
        ports: set[str | None] = set()
        with self.store.write() as tx:
            bound = [key for key, vnic_id in pending.items() if self._bind_from_switch(tx, *key, vnic_id, segs, ports)]
        with self._pending_lock:
            for key in bound:
                if self._pending_vifs.get(key) == pending[key]:
                    del self._pending_vifs[key]
        self._changed(segs, ports)

    def _bind_from_switch(
        self, tx: Txn, datapath_id: int, port_name: str, vnic_id: str, segs: set[int | None], ports: set[str | None]
    ) -> bool:
        """Bind `vnic_id` to the switch's interface; False if there is no such VNIC (yet)."""
        try:
            vid = str(uuid.UUID(vnic_id))
        except ValueError:
            return False
        v = tx.vnic(vid)
        if v is None:
            return False
        b = Binding(datapath_id, None, port_name, "switch")
        if v.binding == b:
            return True
        segs.add(self._segment_of_port(tx, v.port_id))
        ports.add(v.port_id)
        holder = tx.binding_holder(datapath_id, None, port_name)
        if holder is not None and holder != vid:
            old = tx.vnic(holder)
            tx.delete_binding(holder)
            if old is not None:
                segs.add(self._segment_of_port(tx, old.port_id))
                ports.add(old.port_id)
        tx.set_binding(vid, b)
        LOG.info("vnic %s bound by the switch to %s port %s", vid, validate.format_dpid(datapath_id), port_name)
        return True

    def _unbind_from_switch(
        self, tx: Txn, datapath_id: int, port_name: str, vnic_id: str, segs: set[int | None], ports: set[str | None]
    ) -> None:
        holder = tx.binding_holder(datapath_id, None, port_name)
        if holder is None or holder != vnic_id:
            return
        v = tx.vnic(holder)
        if v is None or v.binding is None or v.binding.source != "switch":
            return
        tx.delete_binding(holder)
        segs.add(self._segment_of_port(tx, v.port_id))
        ports.add(v.port_id)
        LOG.info("vnic %s unbound: its interface left %s", holder, validate.format_dpid(datapath_id))

    # operations (admin) -------------------------------------------------
    def switches(self, caller: Caller) -> list[Switch]:
        self._require_admin(caller)
        return self.topology.switches()

    def links(self, caller: Caller) -> tuple[list[LinkInUse], list[str]]:
        self._require_admin(caller)
        return self.topology.links_in_use(), self.topology.link_problems()

    def known_links(self, caller: Caller) -> list[KnownLink]:
        """Links in use and those known but not in use (down, or contradicted), for the live view."""
        self._require_admin(caller)
        return self.topology.links_known()

    def healthy(self) -> bool:
        return self.store.ping()


_T = TypeVar("_T")


def _at(index: int, fn: Callable[..., _T], *args: object) -> _T:
    """`fn(*args)`, its error naming the bulk item it is about."""
    try:
        return fn(*args)
    except errors.ServiceError as e:
        raise _item(index, e) from None


def _item(index: int, e: errors.ServiceError) -> errors.ServiceError:
    return type(e)(f"plugged_ports[{index}]: {e}")
