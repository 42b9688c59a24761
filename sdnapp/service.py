"""NetworkService: the core API and its extensions, tenancy and validation, and the bindings switches report.

Every write is one store transaction; after it commits, the segments whose flows
may change are handed to `on_change` (the reconciler), and the ports whose
traffic it affects go DOWN until their switches confirm the new flows. The
switch side reads desired state through `sdnapp.desired`, never through here.

The operations the Neutron face adds (bulk creates, updates, subnets, quotas, security groups)
live in modules by resource, mixed in here; the v1 operations are below.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from topology.switches import MAX_PORT_NO, KnownLink, LinkInUse, Switch

from . import errors, ipam, validate
from .core import HostInfo, SegmentPool, ServiceCore, new_id, now
from .model import Binding, Caller, Network, Port, Vnic
from .netops import NetworkOps
from .portops import PortOps
from .quotas import QuotaOps
from .routerops import RouterOps
from .specs import UNSET, NetworkSpec, SubnetSpec
from .status import DOWN
from .store import retried

LOG = logging.getLogger(__name__)
__all__ = ["EXTENSIONS", "HostInfo", "NetworkService", "SegmentPool"]

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
    "nat": {
        "alias": "nat",
        "name": "NATed IPv4 networks",
        "description": "Networks with an address range reach the outside through a gateway that translates their "
                       "source to the network's external address; floating addresses reach a port from outside.",
        "updated": "2026-12-02T00:00:00Z",
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
class NetworkRequest:
    """One network as v1 asks for it: a name, an IPv4 prefix (its subnet), NATed or not (None: the default)."""

    name: str = ""
    address_prefix: str | None = None
    nat: bool | None = None


@dataclass(frozen=True)
class PluggedPortRequest:
    """One item of a bulk call: a port in a network with a new VNIC plugged into it, bound where given."""

    network_id: str
    name: str = ""
    vnic_name: str = ""
    mac_address: str | None = None
    binding: BindingRequest | None = None


class NetworkService(RouterOps, NetworkOps, PortOps, QuotaOps, ServiceCore):
    # extensions ---------------------------------------------------------
    def list_extensions(self) -> list[dict[str, str]]:
        return [EXTENSIONS[a] for a in self.extensions]

    def get_extension(self, alias: str) -> dict[str, str]:
        if alias not in self.extensions:
            raise errors.ExtensionNotFound(f"extension {alias[:64]} not found")
        return EXTENSIONS[alias]

    # networks -----------------------------------------------------------
    def create_network(
        self, caller: Caller, name: str = "", address_prefix: str | None = None, nat: bool | None = None
    ) -> Network:
        """A network; with `nat` (by default whenever the extension is offered and a prefix given), NATed:
        it gets an external address from the pool."""
        return self._create_v1_networks(caller, [NetworkRequest(name, address_prefix, nat)], what=None)[0]

    def create_v1_networks(self, caller: Caller, items: list[NetworkRequest]) -> list[Network]:
        """Networks as create_network makes them, every one or none (one transaction). A bad item's
        error names its index."""
        if not 1 <= len(items) <= MAX_BULK:
            raise errors.BadRequest(f"give 1 to {MAX_BULK} networks, not {len(items)}")
        return self._create_v1_networks(caller, items, what="networks")

    @retried
    def _create_v1_networks(self, caller: Caller, items: list[NetworkRequest], what: str | None) -> list[Network]:
        self._require_extension("networks")

        def checked(it: NetworkRequest) -> tuple[str, str | None, bool]:
            prefix = validate.ipv4_prefix(it.address_prefix) if it.address_prefix is not None else None
            return validate.name(it.name), prefix, self._nat_choice(it.nat, prefix)

        asked = [_at(i, what, checked, it) for i, it in enumerate(items)]
        with self.store.write() as tx:
            ids: list[str] = []
            quota: list[tuple[str, str]] = []
            for i, (name, prefix, nat) in enumerate(asked):
                n = _at(i, what, self._new_network, tx, caller, NetworkSpec(name=name), nat)
                if prefix is not None:
                    _at(i, what, self._new_subnet, tx, caller, SubnetSpec(n.id, prefix))
                    quota.append((n.tenant_id, "subnet"))
                if nat:
                    _at(i, what, self._make_nat, tx, n)
                quota.append((n.tenant_id, "network"))
                ids.append(n.id)
            self._check_quota(tx, quota)
            made = tx.networks(None, ids=ids)
        by_id = {n.id: n for n in made}
        for n in made:
            LOG.info("network %s created for %s with %s %d", n.id, n.tenant_id, n.segment_type, n.segment_id)
        return [by_id[i] for i in ids]

    def list_networks(
        self, caller: Caller, tenant_filter: str | None = None, *, ids: list[str] | None = None
    ) -> list[Network]:
        self._require_extension("networks")
        with self.store.read() as tx:
            return tx.networks(self._scope(caller, tenant_filter), ids=ids)

    def get_network(self, caller: Caller, network_id: str) -> Network:
        self._require_extension("networks")
        with self.store.read() as tx:
            return self._network(tx, caller, network_id)

    @retried
    def destroy_network(self, caller: Caller, network_id: str) -> None:
        self._require_extension("networks")
        with self.store.write() as tx:
            n = self._network(tx, caller, network_id)
            if tx.network_has_attachment(n.id):
                raise errors.NetworkInUse(f"network {n.id} has ports with VNICs plugged")
            router = tx.router_of_network(n.id)
            if router is not None:
                raise errors.NetworkInUse(f"network {n.id} has router {router}'s interface")
            ports = tx.ports(network_id=n.id)
            tx.delete_network(n.id)
        self._deleted(ports)
        LOG.info("network %s destroyed", n.id)
        self._changed({n.segment_id}, set())

    # ports --------------------------------------------------------------
    @retried
    def create_port(self, caller: Caller, network_id: str, name: str = "") -> Port:
        self._require_extension("networks")
        name = validate.name(name)
        with self.store.write() as tx:
            n = self._network(tx, caller, network_id)
            allocator = self._allocator(tx, tx.subnet_of(n.id) if n.address_prefix else None, {})
            ip = allocator.take(f"network {n.id}") if allocator is not None else None
            t = now()
            p = Port(new_id(), n.tenant_id, n.id, name, ip, None, port_security=n.port_security, created_at=t,
                     updated_at=t, revision=1)
            tx.insert_port(p)
            self._check_groups(tx, p.tenant_id, UNSET, p.port_security, ip is not None, p.device_owner)
            self._check_quota(tx, [(p.tenant_id, "port")])
        return p

    def list_ports(
        self,
        caller: Caller,
        network_id: str | None = None,
        tenant_filter: str | None = None,
        *,
        ids: list[str] | None = None,
        device_ids: list[str] | None = None,
        network_ids: list[str] | None = None,
    ) -> list[Port]:
        with self.store.read() as tx:
            # A filter naming no network the caller can see matches nothing (as a
            # filter does), and tells nothing about other tenants' networks.
            return tx.ports(tenant_id=self._scope(caller, tenant_filter), network_id=network_id, ids=ids,
                            device_ids=device_ids, network_ids=network_ids)

    def get_port(self, caller: Caller, port_id: str) -> Port:
        with self.store.read() as tx:
            return self._port(tx, caller, port_id)

    @retried
    def destroy_port(self, caller: Caller, port_id: str) -> None:
        with self.store.write() as tx:
            p = self._port(tx, caller, port_id)
            if p.vnic_id is not None:
                raise errors.PortInUse(f"port {p.id} has vnic {p.vnic_id} attached")
            router = self._router_of_port(tx, p)
            if router is not None:
                raise errors.PortInUse(f"port {p.id} is router {router}'s interface")
            tx.delete_port(p.id)
        self._deleted([p])

    # vnics --------------------------------------------------------------
    @retried
    def create_vnic(self, caller: Caller, mac_address: str | None = None, name: str = "") -> Vnic:
        self._require_extension("ethernet-vnic")
        name = validate.name(name)
        mac = validate.vnic_mac(mac_address) if mac_address is not None else None
        with self.store.write() as tx:
            if mac is None:
                mac = self._random_mac(tx)
            elif tx.mac_in_use(mac, caller.project_id):
                raise errors.MacAddressInUse(f"mac_address {mac} is already used by a VNIC of this project")
            v = Vnic(new_id(), caller.project_id, name, mac, None, None)
            tx.insert_vnic(v)
        if self._waited_for({v.id}):  # a switch already has its interface
            self.bind_pending_vifs()
        return v

    def list_vnics(self, caller: Caller, tenant_filter: str | None = None) -> list[Vnic]:
        with self.store.read() as tx:
            return tx.vnics(self._scope(caller, tenant_filter))

    def get_vnic(self, caller: Caller, vnic_id: str) -> Vnic:
        with self.store.read() as tx:
            return self._vnic(tx, caller, vnic_id)

    @retried
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
    @retried
    def plug(self, caller: Caller, port_id: str, vnic_id: str) -> Port:
        with self.store.write() as tx:
            p = self._port(tx, caller, port_id)
            v = self._vnic(tx, caller, vnic_id)
            if v.port_id == p.id:
                return p
            if p.vnic_id is not None:
                raise errors.PortInUse(f"port {p.id} has vnic {p.vnic_id} attached")
            router = self._router_of_port(tx, p)
            if router is not None:
                raise errors.PortInUse(f"port {p.id} is router {router}'s interface")
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
        return dataclasses.replace(p, vnic_id=v.id, mac_address=v.mac_address)

    def get_attachment(self, caller: Caller, port_id: str) -> Port:
        return self.get_port(caller, port_id)

    @retried
    def unplug_vnic(self, caller: Caller, vnic_id: str) -> None:
        with self.store.write() as tx:
            v = self._vnic(tx, caller, vnic_id)
            if v.port_id is None:
                return
            seg = self._segment_of_port(tx, v.port_id)
            tx.set_attachment(v.id, None)
        self._changed({seg}, {v.port_id})

    @retried
    def unplug_port(self, caller: Caller, port_id: str) -> None:
        with self.store.write() as tx:
            p = self._port(tx, caller, port_id)
            if p.vnic_id is None:
                return
            seg = self._segment_of_port(tx, p.id)
            tx.set_attachment(p.vnic_id, None)
        self._changed({seg}, {p.id})

    # many at once -------------------------------------------------------
    @retried
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
        checked = [_at(i, "plugged_ports", self._checked_item, it) for i, it in enumerate(items)]
        made: list[tuple[Port, Vnic]] = []
        with self.store.write() as tx:
            first = {nid: i for i, (nid, *_) in reversed(list(enumerate(checked)))}
            networks = {nid: _at(i, "plugged_ports", self._network, tx, caller, nid) for nid, i in first.items()}
            allocators: dict[str, ipam.Allocator] = {}
            macs: set[str] = set()  # the MACs this call hands out: unique per project, so in it too
            in_network: set[tuple[str, str]] = set()
            claims: set[tuple[int, int | str]] = set()  # switch ports this call binds
            for i, (nid, name, vnic_name, mac, bound) in enumerate(checked):
                n = networks[nid]
                if mac is None:
                    mac = self._random_mac(tx, taken=macs)
                elif mac in macs or tx.mac_in_use(mac, caller.project_id):
                    raise _plugged(i, errors.MacAddressInUse(
                        f"mac_address {mac} is already used by a VNIC of this project"))
                if (nid, mac) in in_network or tx.mac_in_network(mac, nid) is not None:
                    raise _plugged(i, errors.MacAddressInUse(
                        f"network {nid} already has a VNIC with mac_address {mac}"))
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
                        raise _plugged(i, errors.BindingInUse(f"switch port {where} is bound to another vnic"))
                    claims |= here
                allocator = self._allocator(tx, tx.subnet_of(nid) if n.address_prefix else None, allocators)
                ip = _at(i, "plugged_ports", allocator.take, f"network {nid}") if allocator is not None else None
                port_id, vnic_id = new_id(), new_id()
                made.append((Port(port_id, n.tenant_id, nid, name, ip, vnic_id, mac, port_security=n.port_security,
                                  revision=1),
                             Vnic(vnic_id, caller.project_id, vnic_name, mac, port_id, binding)))
            tx.insert_plugged(made)
            self._check_quota(tx, ((p.tenant_id, "port") for p, _ in made))
            for p, _ in made:
                self._check_groups(tx, p.tenant_id, UNSET, p.port_security, p.ip_address is not None, "")
        LOG.info("%d plugged ports created for %s", len(made), caller.project_id)
        self._changed({networks[p.network_id].segment_id for p, _ in made}, {p.id for p, _ in made})
        return made

    def _checked_item(
        self, it: PluggedPortRequest
    ) -> tuple[str, str, str, str | None, tuple[Binding, int | None, str | None] | None]:
        """An item's values, checked before anything is read: (network id, port name, VNIC name, MAC, binding)."""
        nid = validate.resource_id(it.network_id, "network", errors.NetworkNotFound)
        mac = validate.vnic_mac(it.mac_address) if it.mac_address is not None else None
        bound = self._binding(it.binding, "api") if it.binding is not None else None
        return nid, validate.name(it.name), validate.name(it.vnic_name), mac, bound

    # bindings (admin) ---------------------------------------------------
    @retried
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

    @retried
    def unbind(self, caller: Caller, vnic_id: str) -> None:
        self._require_admin(caller)
        with self.store.write() as tx:
            v = self._vnic(tx, caller, vnic_id)
            if v.binding is None:
                return
            tx.delete_binding(v.id)
            seg = self._segment_of_port(tx, v.port_id)
        self._changed({seg}, {v.port_id})

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


def _at(index: int, what: str | None, fn: Callable[..., _T], *args: object) -> _T:
    """`fn(*args)`, its error naming the item `what[index]` of a bulk call it is about (None: not a bulk call)."""
    try:
        return fn(*args)
    except errors.ServiceError as e:
        if what is None:
            raise
        raise type(e)(f"{what}[{index}]: {e}") from None


def _plugged(index: int, e: errors.ServiceError) -> errors.ServiceError:
    return type(e)(f"plugged_ports[{index}]: {e}")
