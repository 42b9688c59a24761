"""The desired state as the switch side reads it: read-only, over the store and the topology.

The reconciler, the VIF binder and link discovery need to know which VNICs sit
where, but never change tenant state; reading through this narrow class keeps
them independent of the tenant API (`NetworkService`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flows.nat import zone_of
from flows.state import Member, NatState, SegmentState
from topology.switches import SwitchPort, Topology

from .model import Binding, Network, Port, Subnet, Vnic
from .store import Store
from .validate import format_dpid

LOG = logging.getLogger(__name__)


class DesiredState:
    def __init__(self, store: Store, topology: Topology, segment_type: str,
                 pool: tuple[str, str] | None = None) -> None:
        """`pool`: the outside addresses of the `nat` extension, where it is offered."""
        self.store = store
        self.topology = topology
        self.segment_type = segment_type
        self.pool = pool

    def segment_states(self, segment_ids: Iterable[int] | None = None) -> dict[int, SegmentState]:
        """Desired state per segment, read in one transaction: members whose switch port is known.

        With `segment_ids`, those segments (each present, possibly with no members).
        A switch port belongs to the VNIC bound to it first: a later binding that
        turns out to name the same port (one by name, one by number, made before
        the switch reported its ports) stays without flows rather than clash.
        """
        with self.store.read() as tx:
            rows = tx.attached_vnics(self.segment_type, segment_ids)
            segments = list(segment_ids) if segment_ids is not None else tx.segments(self.segment_type)
            subnets = {s.network_id: s for s in tx.subnets(network_ids={p.network_id for _, p, _ in rows})}
            nat = tx.nat_segments(self.segment_type, segment_ids) if self.pool is not None else {}
            if segment_ids is None:
                claims = tx.bindings_on({v.binding.datapath_id for _, _, v in rows if v.binding})
            else:
                # Only bindings that could name the same switch ports as these members:
                # reading every binding of a large switch per change made cost grow with it.
                claims = tx.bindings_naming(self._switch_ports_of(rows))
        owner: dict[tuple[int, int], str] = {}
        for vnic_id, claim in claims:
            sp = self._resolve(claim)
            if sp is not None:
                owner.setdefault((claim.datapath_id, sp.port_no), vnic_id)
        members: dict[int, list[Member]] = {s: [] for s in segments}
        for seg, port, vnic in rows:
            b = vnic.binding
            assert b is not None
            sp = self._resolve(b)
            if sp is None:
                continue
            holder = owner.get((b.datapath_id, sp.port_no))
            if holder != vnic.id:
                LOG.warning(
                    "vnic %s and vnic %s are bound to one switch port %s/%d; the first binding keeps it",
                    holder, vnic.id, format_dpid(b.datapath_id), sp.port_no,
                )
                continue
            subnet = subnets.get(port.network_id)
            members.setdefault(seg, []).append(
                Member(port.id, vnic.id, vnic.mac_address, b.datapath_id, sp.port_no, port.ip_address,
                       port.port_security, tuple((a.mac_address, a.ip_address) for a in port.address_pairs),
                       subnet.gateway_ip if subnet else None, bool(subnet and subnet.enable_dhcp))
            )
        return {s: SegmentState(s, tuple(ms), self._nat(nat.get(s))) for s, ms in members.items()}

    def _nat(self, found: tuple[str, str, list[tuple[str, str]]] | None) -> NatState | None:
        if found is None or self.pool is None:
            return None
        prefix, external, floating = found
        return NatState(zone_of(external, self.pool), prefix, external, tuple(floating))

    def _resolve(self, b: Binding) -> SwitchPort | None:
        return self.topology.resolve(b.datapath_id, b.port_no, b.port_name)

    def _switch_ports_of(self, rows: list[tuple[int, Port, Vnic]]) -> dict[int, tuple[set[int], set[str]]]:
        """Per switch, the port numbers and names the members' bindings resolve to (or give)."""
        out: dict[int, tuple[set[int], set[str]]] = {}
        for _, _, v in rows:
            b = v.binding
            if b is None:
                continue
            nos, names = out.setdefault(b.datapath_id, (set(), set()))
            sp = self._resolve(b)
            for no, name in ((b.port_no, b.port_name), (sp.port_no, sp.name) if sp else (None, None)):
                if no is not None:
                    nos.add(no)
                if name is not None:
                    names.add(name)
        return out

    def ports_bound_on(self, datapath_id: int, switch_port: SwitchPort | None = None) -> tuple[set[int], set[str]]:
        """Segments and port ids of plugged VNICs bound to a switch, or to one of its ports.

        The switch port is matched by number or by name, so it works for a port
        the switch has just deleted (and the topology no longer knows).
        """
        with self.store.read() as tx:
            if switch_port is None:
                rows = tx.attached_on(self.segment_type, datapath_id)
            else:
                rows = tx.attached_on(self.segment_type, datapath_id, switch_port.port_no, switch_port.name)
        return {seg for seg, _ in rows}, {port_id for _, port_id in rows}

    def addressed_vnic(self, datapath_id: int, port_no: int) -> tuple[Vnic, Port, Network, Subnet] | None:
        """The VNIC bound to this switch port, its port, network and subnet, where it carries traffic
        (plugged, port and network up) and its port has an address; else None."""
        sp = self.topology.resolve(datapath_id, port_no, None)
        with self.store.read() as tx:
            vnic_id = tx.binding_holder(datapath_id, port_no, sp.name if sp else None)
            vnic = tx.vnic(vnic_id) if vnic_id is not None else None
            port = tx.port(vnic.port_id) if vnic is not None and vnic.port_id is not None else None
            if vnic is None or port is None or port.ip_address is None or not port.admin_state_up:
                return None
            net = tx.network(port.network_id)
            if net is None or not net.admin_state_up or net.segment_type != self.segment_type:
                return None
            subnet = tx.subnet_of(net.id)
        return None if subnet is None else (vnic, port, net, subnet)

    def is_access_port(self, datapath_id: int, port_no: int, name: str | None = None) -> bool:
        """Whether a VNIC is bound to this switch port (by its number, or its name where known)."""
        with self.store.read() as tx:
            return tx.binding_holder(datapath_id, port_no, name) is not None
