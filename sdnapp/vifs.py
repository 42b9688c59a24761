"""Bindings the switches report: an Open vSwitch interface whose external_ids:iface-id names a VNIC
binds it there (a Neutron port's VNIC has the port's id, so its iface-id is the port id)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from . import validate
from .core import ServiceCore
from .model import Binding
from .store import Txn, retried

LOG = logging.getLogger(__name__)


class SwitchBindingOps(ServiceCore):
    @retried
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

    @retried
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

