"""Neutron's routers and floating IPs over the `nat` extension.

The model stays v1's: a network is NATed or not, to one outside address. A router is what makes a
Neutron network NATed: its external gateway holds an outside address of the pool, its one interface
is a port of a tenant network holding the subnet's gateway address, and while it has both (and is
up) that network is NATed with the gateway address as its source. What Neutron routers do beyond
that, routing between the tenant subnets they join, sdnapp does not do (its NATed networks are
isolated from each other), so a router takes one interface and a second is refused as Neutron
refuses a router request it does not allow.

The external network is the configured one (`external:`), shown by the Neutron face under fixed ids.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import uuid

from flows.model import GATEWAY_MAC

from . import errors, validate
from .core import ROUTER_INTERFACE, new_id, now
from .model import Caller, FloatingAddress, Network, Port, Router
from .natops import NatOps
from .specs import FloatingChanges, FloatingSpec, GatewaySpec, RouterChanges, RouterSpec, Unset, given
from .store import Txn, retried

LOG = logging.getLogger(__name__)

# One external network per deployment, so its ids are constants: the same in every instance and
# across restarts, whatever its configured name.
_NS = uuid.UUID("6b1c0a52-0c43-4c43-9d0e-3f7a9e1b2d10")
EXTERNAL_NETWORK_ID = str(uuid.uuid5(_NS, "external network"))
EXTERNAL_SUBNET_ID = str(uuid.uuid5(_NS, "external subnet"))
ROUTER_MAC = GATEWAY_MAC  # what a router's interface answers as, on every network it joins


class RouterOps(NatOps):
    # lookups ----------------------------------------------------------------------------
    def _router(self, tx: Txn, caller: Caller, router_id: str) -> Router:
        return self._visible(caller, "router", router_id, tx.router, errors.RouterNotFound)

    def _outside_address(self, tx: Txn, caller: Caller, asked: str | None) -> str:
        """An outside address for a new holder: the lowest free one, or (admins only) the one asked for."""
        if asked is None:
            return self._take_external(tx)
        self._require_admin(caller, "choosing an outside address")
        assert self.external is not None
        try:
            ip = str(ipaddress.IPv4Address(asked))
        except ValueError:
            raise errors.BadRequest(f"{asked[:64]!r} is not an IPv4 address") from None
        if ip not in set(self.external.pool_addresses()):
            first, last = self.external.pool
            raise errors.InvalidIpForSubnet(f"IP address {ip} is not in the external pool {first}-{last}")
        if ip in tx.external_taken():
            raise errors.IpAddressInUse(f"IP address {ip} already allocated in subnet {EXTERNAL_SUBNET_ID}")
        return ip

    def _gateway_address(self, tx: Txn, caller: Caller, r: Router, gw: GatewaySpec) -> str:
        """The outside address a router's gateway asks for: its current one unless another is asked for."""
        if gw.network_id != EXTERNAL_NETWORK_ID:
            raise errors.BadL3Request(
                f"Bad router request: network {gw.network_id[:64]} is not an external network")
        if gw.enable_snat is False:
            raise errors.BadL3Request(
                "Bad router request: enable_snat false is not offered: sdnapp's gateways always translate "
                "(the outside has no route to tenant subnets)")
        asked = None
        if given(gw.fixed_ips):
            assert not isinstance(gw.fixed_ips, Unset)
            self._require_admin(caller, "external_fixed_ips")
            if len(gw.fixed_ips) > 1:
                raise errors.BadL3Request("Bad router request: a gateway has one external fixed IP here")
            for f in gw.fixed_ips:
                if f.subnet_id is not None and f.subnet_id != EXTERNAL_SUBNET_ID:
                    raise errors.BadL3Request(
                        f"Bad router request: subnet {f.subnet_id[:64]} is not the external network's")
                asked = f.ip_address
        if r.gateway_address is not None and asked in (None, r.gateway_address):
            return r.gateway_address
        return self._outside_address(tx, caller, asked)

    def _sync(self, tx: Txn, router_id: str) -> tuple[set[int | None], set[str | None]]:
        """Make the router's network NATed exactly while the router has a gateway, its interface and is up;
        the segment and ports whose flows that changes."""
        r = tx.router(router_id)
        assert r is not None
        if r.network_id is None:
            return set(), set()
        n = tx.network(r.network_id)
        assert n is not None
        tx.set_router_nat(r.id, r.network_id if r.nats else None)
        if n.nat != r.nats:
            tx.set_network_nat(n.id, r.nats)
        return {n.segment_id}, {p.id for p in tx.ports(network_id=n.id) if p.vnic_id is not None}

    # routers -----------------------------------------------------------------------------
    @retried
    def create_router(self, caller: Caller, spec: RouterSpec) -> Router:
        self._require_extension("nat")
        with self.store.write() as tx:
            project = self._owner(caller, None if isinstance(spec.project, Unset) else spec.project)
            t = now()
            r = Router(new_id(), project, validate.name(spec.name), validate.text(spec.description, "description"),
                       spec.admin_state_up, None, None, None, t, t, 1)
            tx.insert_router(r)
            if spec.gateway is not None:
                tx.set_router_address(r.id, r.tenant_id, self._gateway_address(tx, caller, r, spec.gateway))
            made = tx.router(r.id)
        assert made is not None
        LOG.info("router %s made for %s, gateway %s", made.id, made.tenant_id, made.gateway_address)
        return made

    def list_routers(self, caller: Caller) -> list[Router]:
        self._require_extension("nat")
        with self.store.read() as tx:
            return tx.routers(self._scope(caller, None))

    def get_router(self, caller: Caller, router_id: str) -> Router:
        self._require_extension("nat")
        with self.store.read() as tx:
            return self._router(tx, caller, router_id)

    @retried
    def update_router(self, caller: Caller, router_id: str, ch: RouterChanges) -> Router:
        self._require_extension("nat")
        with self.store.write() as tx:
            r = self._router(tx, caller, router_id)
            new = dataclasses.replace(
                r,
                name=r.name if isinstance(ch.name, Unset) else validate.name(ch.name),
                description=r.description if isinstance(ch.description, Unset)
                else validate.text(ch.description, "description"),
                admin_state_up=r.admin_state_up if isinstance(ch.admin_state_up, Unset) else ch.admin_state_up,
            )
            address = r.gateway_address
            if not isinstance(ch.gateway, Unset):
                address = None if ch.gateway is None else self._gateway_address(tx, caller, r, ch.gateway)
            if new == r and address == r.gateway_address:
                return r
            # Taken down, the router stops carrying its floating IPs too (as Neutron's); taking its
            # gateway away would leave them associated with nothing, which Neutron refuses.
            if address is None and r.gateway_address is not None and r.network_id is not None \
                    and tx.floatings_behind(r.network_id):
                raise errors.GatewayInUseByFloating(
                    f"Gateway cannot be updated for router {r.id}, since a gateway to external network "
                    f"{EXTERNAL_NETWORK_ID} is required by one or more floating IPs.")
            tx.update_router(dataclasses.replace(new, updated_at=now(), revision=r.revision + 1))
            if address != r.gateway_address:
                tx.set_router_address(r.id, r.tenant_id, address)
            segments, ports = self._sync(tx, r.id)
            made = tx.router(r.id)
        assert made is not None
        LOG.info("router %s updated: gateway %s, up %s", r.id, made.gateway_address, made.admin_state_up)
        self._changed(segments, ports)
        return made

    @retried
    def delete_router(self, caller: Caller, router_id: str) -> None:
        self._require_extension("nat")
        with self.store.write() as tx:
            r = self._router(tx, caller, router_id)
            if r.port_id is not None:
                raise errors.RouterInUse(f"Router {r.id} still has ports")
            tx.delete_router(r.id)
        LOG.info("router %s deleted", r.id)

    # interfaces ---------------------------------------------------------------------------
    @staticmethod
    def _interface_args(subnet_id: str | None, port_id: str | None) -> None:
        if subnet_id is not None and port_id is not None:
            raise errors.BadL3Request("Bad router request: Cannot specify both subnet-id and port-id")
        if subnet_id is None and port_id is None:
            raise errors.BadL3Request("Bad router request: Either subnet_id or port_id must be specified")

    @retried
    def add_router_interface(self, caller: Caller, router_id: str, subnet_id: str | None,
                             port_id: str | None) -> tuple[Router, Port, str]:
        """Join a tenant subnet to the router: a port of its network takes the subnet's gateway address.
        The router, that port, and the subnet's id."""
        self._require_extension("nat")
        self._interface_args(subnet_id, port_id)
        if subnet_id is None:
            raise errors.BadL3Request(
                "Bad router request: an interface by port_id is not offered: a router's interface takes its "
                "subnet's gateway address, so give subnet_id")
        with self.store.write() as tx:
            r = self._router(tx, caller, router_id)
            s = self._subnet(tx, caller, subnet_id)
            if r.network_id == s.network_id:
                raise errors.BadL3Request(f"Bad router request: Router already has a port on subnet {s.id}")
            if r.port_id is not None:
                raise errors.BadL3Request(
                    f"Bad router request: router {r.id} already has an interface: a router joins one tenant "
                    "subnet to the external network here, since sdnapp keeps NATed networks isolated from each "
                    "other (a second subnet needs a router of its own)")
            if s.gateway_ip is None:
                raise errors.BadL3Request("Bad router request: Subnet for router interface must have a gateway IP")
            n = tx.network(s.network_id)
            assert n is not None
            other = tx.router_of_network(n.id)
            if other is not None or tx.address_holder(n.id, s.gateway_ip) is not None:
                raise errors.IpAddressInUse(f"IP address {s.gateway_ip} already allocated in subnet {s.id}")
            if n.nat:
                raise errors.BadL3Request(
                    f"Bad router request: network {n.id} is NATed with an outside address of its own (made "
                    "through v1)")
            t = now()
            p = Port(new_id(), r.tenant_id, n.id, "", s.gateway_ip, None, device_id=r.id,
                     device_owner=ROUTER_INTERFACE, port_security=False, created_at=t, updated_at=t, revision=1)
            tx.insert_port(p)
            self._check_quota(tx, [(p.tenant_id, "port")])
            tx.update_router(dataclasses.replace(r, port_id=p.id, updated_at=t, revision=r.revision + 1))
            segments, ports = self._sync(tx, r.id)
            made = tx.router(r.id)
        assert made is not None
        LOG.info("router %s joins subnet %s (network %s), NATed: %s", r.id, s.id, n.id, made.nats)
        self._changed(segments, ports)
        return made, p, s.id

    @retried
    def remove_router_interface(self, caller: Caller, router_id: str, subnet_id: str | None,
                                port_id: str | None) -> tuple[Router, Port, str]:
        self._require_extension("nat")
        self._interface_args(subnet_id, port_id)
        with self.store.write() as tx:
            r = self._router(tx, caller, router_id)
            p = tx.port(r.port_id) if r.port_id is not None else None
            s = tx.subnet_of(p.network_id) if p is not None else None
            if port_id is not None and (p is None or p.id != port_id):
                raise errors.RouterInterfaceNotFound(
                    f"Router {r.id} does not have an interface with id {validate.text(port_id, 'port_id')[:64]}")
            if subnet_id is not None and (s is None or s.id != subnet_id):
                raise errors.RouterInterfaceNotFoundForSubnet(
                    f"Router {r.id} has no interface on subnet {validate.text(subnet_id, 'subnet_id')[:64]}")
            assert p is not None and s is not None
            if r.nats and tx.floatings_behind(p.network_id):
                raise errors.InterfaceInUseByFloating(
                    f"Router interface for subnet {s.id} on router {r.id} cannot be deleted, as it is required "
                    "by one or more floating IPs.")
            tx.set_router_nat(r.id, None)
            tx.set_network_nat(p.network_id, False)
            tx.update_router(dataclasses.replace(r, port_id=None, updated_at=now(), revision=r.revision + 1))
            tx.delete_port(p.id)
            n = tx.network(p.network_id)
            assert n is not None
            ports = {q.id for q in tx.ports(network_id=n.id) if q.vnic_id is not None}
            made = tx.router(r.id)
        assert made is not None
        LOG.info("router %s leaves subnet %s (network %s)", r.id, s.id, n.id)
        self._deleted([p])
        self._changed({n.segment_id}, set(ports))
        return made, p, s.id

    def router_port_status(self, p: Port) -> str:
        """A router's interface is ACTIVE while the router NATs its network (the gateway answers there)."""
        with self.store.read() as tx:
            n = tx.network(p.network_id)
        return "ACTIVE" if n is not None and n.nat else "DOWN"

    # floating IPs as Neutron has them ----------------------------------------------------------
    def _routed_port(self, tx: Txn, caller: Caller, port_id: str, tenant_id: str,
                     fixed_ip: str | None | Unset) -> tuple[Port, Network]:
        """A port a floating IP may carry: in a NATed network, the fixed address (if given) its own."""
        p = self._port(tx, caller, validate.resource_id(port_id, "port", errors.PortNotFound))
        n = tx.network(p.network_id)
        assert n is not None
        if p.tenant_id == tenant_id and not n.nat:
            subnet = tx.subnet_of(n.id)
            raise errors.NotRoutedOutside(
                f"External network {EXTERNAL_NETWORK_ID} is not reachable from subnet "
                f"{subnet.id if subnet else None}. Therefore, cannot associate Port {p.id} with a Floating IP.")
        if isinstance(fixed_ip, str) and fixed_ip != p.ip_address:
            raise errors.BadRequest(f"Bad floatingip request: Port {p.id} does not have fixed ip {fixed_ip[:64]}")
        return self._nat_port(tx, caller, p.id, tenant_id)

    @retried
    def create_floating_ip(self, caller: Caller, spec: FloatingSpec) -> FloatingAddress:
        self._require_extension("nat")
        with self.store.write() as tx:
            project = self._owner(caller, None if isinstance(spec.project, Unset) else spec.project)
            segments: set[int | None] = set()
            if spec.port_id is not None:
                _, n = self._routed_port(tx, caller, spec.port_id, project, spec.fixed_ip_address)
                segments.add(n.segment_id)
            elif spec.fixed_ip_address is not None:
                raise errors.BadRequest("Bad floatingip request: fixed_ip_address needs a port_id")
            t = now()
            f = FloatingAddress(new_id(), project, self._outside_address(tx, caller, spec.address), spec.port_id,
                                None, None, t, validate.text(spec.description, "description"), t, 1)
            tx.insert_floating(f)
            made = tx.floating(f.id)
        assert made is not None
        LOG.info("floating IP %s (%s) made for %s, port %s", made.id, made.address, made.tenant_id, made.port_id)
        self._changed(segments, {made.port_id})
        return made

    @retried
    def update_floating_ip(self, caller: Caller, floating_id: str, ch: FloatingChanges) -> FloatingAddress:
        self._require_extension("nat")
        with self.store.write() as tx:
            f = self._floating(tx, caller, floating_id)
            port_id = f.port_id if isinstance(ch.port_id, Unset) else ch.port_id
            segments: set[int | None] = set()
            if port_id != f.port_id:
                segments.add(self._segment_of_port(tx, f.port_id))
                if port_id is not None:
                    _, n = self._routed_port(tx, caller, port_id, f.tenant_id, ch.fixed_ip_address)
                    segments.add(n.segment_id)
            elif port_id is None and isinstance(ch.fixed_ip_address, str):
                raise errors.BadRequest("Bad floatingip request: fixed_ip_address needs a port_id")
            new = dataclasses.replace(
                f, port_id=port_id,
                description=f.description if isinstance(ch.description, Unset)
                else validate.text(ch.description, "description"))
            if new == f:
                return f
            tx.update_floating(dataclasses.replace(new, updated_at=now(), revision=f.revision + 1))
            made = tx.floating(f.id)
        assert made is not None
        LOG.info("floating IP %s associated with port %s (was %s)", f.id, made.port_id, f.port_id)
        self._changed(segments, {f.port_id, made.port_id})
        return made

    def routers_by_network(self) -> dict[str, str]:
        """Which router NATs each network that a router NATs (a floating IP's router_id)."""
        with self.store.read() as tx:
            return {r.network_id: r.id for r in tx.routers() if r.network_id is not None and r.nats}
