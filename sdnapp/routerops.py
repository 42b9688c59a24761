"""Neutron's routers over the `nat` extension (floating addresses, for both faces, are in natops).

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
import logging

from flows.model import GATEWAY_MAC

from . import errors, validate
from .core import ROUTER_INTERFACE, new_id, now
from .model import Caller, Port, Router
from .natops import EXTERNAL_NETWORK_ID, EXTERNAL_SUBNET_ID, NatOps
from .specs import GatewaySpec, RouterChanges, RouterSpec, Unset, given
from .store import Txn, retried

LOG = logging.getLogger(__name__)

ROUTER_MAC = GATEWAY_MAC  # what a router's interface answers as, on every network it joins


class RouterOps(NatOps):
    # lookups ----------------------------------------------------------------------------
    def _router(self, tx: Txn, caller: Caller, router_id: str) -> Router:
        return self._visible(caller, "router", router_id, tx.router, errors.RouterNotFound)

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

    def _sync(self, tx: Txn, router_id: str,
              network_id: str | None = None) -> tuple[set[int | None], set[str | None]]:
        """Make the router's network (or `network_id`, one it has just left) NATed exactly while the router
        has a gateway, its interface there and is up; the segment and ports whose flows that changes."""
        r = tx.router(router_id)
        assert r is not None
        nid = network_id or r.network_id
        n = tx.network(nid) if nid is not None else None
        if n is None:
            return set(), set()
        nats = r.nats and r.network_id == n.id
        tx.set_router_nat(r.id, n.id if nats else None)
        if n.nat != nats:
            tx.set_network_nat(n.id, nats)
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
            tx.update_router(dataclasses.replace(r, port_id=None, updated_at=now(), revision=r.revision + 1))
            segments, ports = self._sync(tx, r.id, p.network_id)
            tx.delete_port(p.id)
            made = tx.router(r.id)
        assert made is not None
        LOG.info("router %s leaves subnet %s (network %s)", r.id, s.id, p.network_id)
        self._deleted([p])
        self._changed(segments, ports)
        return made, p, s.id

    def router_port_status(self, p: Port) -> str:
        """A router's interface is ACTIVE while the router NATs its network (the gateway answers there)."""
        with self.store.read() as tx:
            n = tx.network(p.network_id)
        return "ACTIVE" if n is not None and n.nat else "DOWN"

    def routers_by_network(self) -> dict[str, str]:
        """Which router NATs each network that a router NATs (a floating IP's router_id)."""
        with self.store.read() as tx:
            return {r.network_id: r.id for r in tx.routers() if r.network_id is not None and r.nats}
