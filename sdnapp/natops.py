"""The `nat` extension's operations: a NATed network's external address, and floating addresses.

Every outside address comes from the configured pool (`external.pool`) and is one row of the store's
`external_addresses`, whose primary key keeps two holders off one address whatever the writers do.
The gateway's flows for a network are in that network's partition, so a change here is handed to
the reconciler as a change of the network's segment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import uuid

from . import errors, validate
from .core import ServiceCore, new_id, now
from .model import Caller, FloatingAddress, Network, Port
from .specs import FloatingChanges, FloatingSpec, Unset
from .status import ACTIVE, DOWN
from .store import Txn, retried

LOG = logging.getLogger(__name__)

# One external network per deployment (the Neutron face shows the configured outside as a network),
# so its ids are constants: the same in every instance and across restarts, whatever its name.
_NS = uuid.UUID("6b1c0a52-0c43-4c43-9d0e-3f7a9e1b2d10")
EXTERNAL_NETWORK_ID = str(uuid.uuid5(_NS, "external network"))
EXTERNAL_SUBNET_ID = str(uuid.uuid5(_NS, "external subnet"))


class NatOps(ServiceCore):
    def _take_external(self, tx: Txn) -> str:
        """The lowest free address of the pool (the caller inserts it in the same transaction)."""
        assert self.external is not None
        taken = tx.external_taken()
        for address in self.external.pool_addresses():
            if address not in taken:
                return address
        first, last = self.external.pool
        raise errors.ExternalPoolExhausted(f"every outside address of the pool {first}-{last} is held")

    def _nat_choice(self, nat: bool | None, prefix: str | None) -> bool:
        """Whether a new network is NATed: as asked, else whenever the extension is offered and a prefix given."""
        if nat is None:
            return "nat" in self.extensions and prefix is not None
        if nat and "nat" not in self.extensions:
            raise errors.BadRequest("nat: NATed networks are not offered here (no external network is configured)")
        if nat and prefix is None:
            raise errors.BadRequest("nat: a NATed network needs an address_prefix")
        return nat

    def _make_nat(self, tx: Txn, n: Network) -> None:
        tx.set_external_address(n.id, n.tenant_id, self._take_external(tx))

    # floating addresses ------------------------------------------------
    def _floating(self, tx: Txn, caller: Caller, floating_id: str) -> FloatingAddress:
        return self._visible(caller, "floating address", floating_id, tx.floating, errors.FloatingAddressNotFound)

    def _nat_port(self, tx: Txn, caller: Caller, port_id: str, tenant_id: str) -> tuple[Port, Network]:
        """A port a floating address of `tenant_id` may be associated with."""
        p = self._port(tx, caller, port_id)
        if p.tenant_id != tenant_id:  # another project's port is not there for this address
            raise errors.PortNotFound(f"port {p.id} not found")
        n = tx.network(p.network_id)
        assert n is not None
        if not n.nat:
            raise errors.BadRequest(f"port {p.id} is in network {n.id}, which is not NATed")
        if p.ip_address is None:
            raise errors.BadRequest(f"port {p.id} has no address")
        held = tx.floating_of_port(p.id)
        if held is not None:
            raise errors.FloatingAddressInUse(f"port {p.id} already has floating address {held}")
        return p, n

    def _carrier(self, tx: Txn, caller: Caller, port_id: str, tenant_id: str, fixed_ip: str | None | Unset,
                 neutron: bool) -> Network:
        """The network of a port a floating address of `tenant_id` may carry: `_nat_port`'s rules, and on
        the Neutron face its words for a port no router joins to the outside, and the fixed address (if
        given) the port's own."""
        p = self._port(tx, caller, validate.resource_id(port_id, "port", errors.PortNotFound))
        n = tx.network(p.network_id)
        assert n is not None
        if neutron and p.tenant_id == tenant_id and not n.nat:
            subnet = tx.subnet_of(n.id)
            raise errors.NotRoutedOutside(
                f"External network {EXTERNAL_NETWORK_ID} is not reachable from subnet "
                f"{subnet.id if subnet else None}. Therefore, cannot associate Port {p.id} with a Floating IP.")
        if isinstance(fixed_ip, str) and fixed_ip != p.ip_address:
            raise errors.BadRequest(f"Bad floatingip request: Port {p.id} does not have fixed ip {fixed_ip[:64]}")
        return self._nat_port(tx, caller, p.id, tenant_id)[1]

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

    @retried
    def create_floating_address(self, caller: Caller, spec: FloatingSpec, neutron: bool = False) -> FloatingAddress:
        """A floating address, for a port or for later (`neutron`: as the Neutron face asks, on its external
        network and in its words)."""
        self._require_extension("nat")
        if spec.network_id not in (None, EXTERNAL_NETWORK_ID):
            raise errors.BadL3Request(
                f"Bad floatingip request: Network {str(spec.network_id)[:64]} is not a valid external network")
        if spec.subnet_id not in (None, EXTERNAL_SUBNET_ID):
            raise errors.BadL3Request(f"Bad floatingip request: subnet {str(spec.subnet_id)[:64]} is not the "
                                      "external network's")
        with self.store.write() as tx:
            project = self._owner(caller, None if isinstance(spec.project, Unset) else spec.project)
            segments: set[int | None] = set()
            if spec.port_id is not None:
                segments.add(self._carrier(tx, caller, spec.port_id, project, spec.fixed_ip_address,
                                           neutron).segment_id)
            elif spec.fixed_ip_address is not None:
                raise errors.BadRequest("Bad floatingip request: fixed_ip_address needs a port_id")
            t = now()
            f = FloatingAddress(new_id(), project, self._outside_address(tx, caller, spec.address), spec.port_id,
                                None, None, t, validate.text(spec.description, "description"), t, 1)
            tx.insert_floating(f)
            made = tx.floating(f.id)
        assert made is not None
        LOG.info("floating address %s (%s) made for %s, port %s", made.id, made.address, made.tenant_id,
                 made.port_id)
        self._changed(segments, {made.port_id})
        return made

    def list_floating_addresses(self, caller: Caller) -> list[FloatingAddress]:
        self._require_extension("nat")
        with self.store.read() as tx:
            return tx.floatings(self._scope(caller, None))

    def get_floating_address(self, caller: Caller, floating_id: str) -> FloatingAddress:
        self._require_extension("nat")
        with self.store.read() as tx:
            return self._floating(tx, caller, floating_id)

    @retried
    def update_floating_address(self, caller: Caller, floating_id: str, ch: FloatingChanges,
                                neutron: bool = False) -> FloatingAddress:
        """(Dis)associate a floating address (port_id None: with none), or change its description."""
        self._require_extension("nat")
        with self.store.write() as tx:
            f = self._floating(tx, caller, floating_id)
            port_id = f.port_id if isinstance(ch.port_id, Unset) else ch.port_id
            if port_id is not None:
                port_id = validate.resource_id(port_id, "port", errors.PortNotFound)
            segments: set[int | None] = set()
            if port_id != f.port_id:
                segments.add(self._segment_of_port(tx, f.port_id))
                if port_id is not None:
                    segments.add(self._carrier(tx, caller, port_id, f.tenant_id, ch.fixed_ip_address,
                                               neutron).segment_id)
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
        LOG.info("floating address %s associated with port %s (was %s)", f.id, made.port_id, f.port_id)
        self._changed(segments, {f.port_id, made.port_id})
        return made

    def floating_status(self, f: FloatingAddress) -> str:
        """ACTIVE once its port is (the port's network's flows, the gateway's included, are confirmed) while
        that network is NATed (a Neutron router taken down stops carrying it)."""
        if f.port_id is None or f.network_id is None or self.status.status(f.port_id) != ACTIVE:
            return DOWN
        with self.store.read() as tx:
            n = tx.network(f.network_id)
        return ACTIVE if n is not None and n.nat and n.admin_state_up else DOWN

    @retried
    def release_floating_address(self, caller: Caller, floating_id: str) -> None:
        self._require_extension("nat")
        with self.store.write() as tx:
            f = self._floating(tx, caller, floating_id)
            segment = self._segment_of_port(tx, f.port_id)
            tx.delete_floating(f.id)
        LOG.info("floating address %s (%s) released", f.id, f.address)
        self._changed({segment}, {f.port_id})
