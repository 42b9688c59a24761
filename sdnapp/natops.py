"""The `nat` extension's operations: a NATed network's external address, and floating addresses.

Every outside address comes from the configured pool (`external.pool`) and is one row of the store's
`external_addresses`, whose primary key keeps two holders off one address whatever the writers do.
The gateway's flows for a network are in that network's partition, so a change here is handed to
the reconciler as a change of the network's segment.
"""

from __future__ import annotations

import dataclasses
import logging

from . import errors, validate
from .core import ServiceCore, new_id, now
from .model import Caller, FloatingAddress, Network, Port
from .status import ACTIVE, DOWN
from .store import Txn, retried

LOG = logging.getLogger(__name__)


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

    @retried
    def create_floating_address(self, caller: Caller, port_id: str | None = None) -> FloatingAddress:
        self._require_extension("nat")
        segments: set[int | None] = set()
        with self.store.write() as tx:
            if port_id is not None:
                _, n = self._nat_port(tx, caller, port_id, caller.project_id)
                segments.add(n.segment_id)
            t = now()
            f = FloatingAddress(new_id(), caller.project_id, self._take_external(tx), port_id, None, None, t,
                                updated_at=t, revision=1)
            tx.insert_floating(f)
            made = tx.floating(f.id)
        assert made is not None
        LOG.info("floating address %s (%s) made for %s, port %s", made.id, made.address, made.tenant_id, port_id)
        self._changed(segments, {port_id})
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
    def associate_floating_address(self, caller: Caller, floating_id: str, port_id: str | None) -> FloatingAddress:
        self._require_extension("nat")
        with self.store.write() as tx:
            f = self._floating(tx, caller, floating_id)
            if port_id is not None:
                port_id = validate.resource_id(port_id, "port", errors.PortNotFound)
            if port_id == f.port_id:
                return f
            segments = {self._segment_of_port(tx, f.port_id)}
            if port_id is not None:
                _, n = self._nat_port(tx, caller, port_id, f.tenant_id)
                segments.add(n.segment_id)
            tx.update_floating(dataclasses.replace(f, port_id=port_id, updated_at=now(), revision=f.revision + 1))
            made = tx.floating(f.id)
        assert made is not None
        LOG.info("floating address %s associated with port %s (was %s)", f.id, port_id, f.port_id)
        self._changed(segments, {f.port_id, port_id})
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
