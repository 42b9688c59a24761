"""Ports as the Neutron face asks for them: a port with its own VNIC plugged (the VNIC takes the
port's id, so the iface-id Open vSwitch reports for it is the port id), bulk creates in one
transaction, updates of every attribute Neutron lets change, deletes that take the VNIC along.

The rules are the service's, for both faces: MAC addresses unique in a network (and, as v1 has it,
in a project), addresses from the subnet's pools, admin-only host bindings, port security with
allowed address pairs, and the security groups this deployment really enforces.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
from typing import Any

from . import errors, ipam, validate
from .core import HostInfo, new_id, now
from .model import AddressPair, Caller, Network, Port, Subnet, Vnic
from .natops import EXTERNAL_NETWORK_ID
from .secgroups import SecurityGroupOps
from .specs import FixedIp, PairSpec, PortChanges, PortSpec, Unset, given
from .store import Txn, retried
from .vifs import SwitchBindingOps

LOG = logging.getLogger(__name__)

MAX_ADDRESS_PAIRS = 10  # Neutron's max_allowed_address_pair
MAX_PROFILE_CHARS = 4095  # what Neutron's column for binding:profile holds
VNIC_TYPES = ("normal",)  # a VM's tap on the host's Open vSwitch bridge: the only kind sdnapp binds

# vif_type as Neutron's ML2 says it: bound by the Open vSwitch driver, not asked, or not bindable.
VIF_OVS, VIF_UNBOUND, VIF_FAILED = "ovs", "unbound", "binding_failed"


class PortOps(SecurityGroupOps, SwitchBindingOps):
    # parts of a port --------------------------------------------------------
    def _allocator(
        self, tx: Txn, subnet: Subnet | None, allocators: dict[str, ipam.Allocator]
    ) -> ipam.Allocator | None:
        """One allocator per network for a whole request, so a bulk create reads the used addresses once."""
        if subnet is None:
            return None
        a = allocators.get(subnet.network_id)
        if a is None:
            a = allocators[subnet.network_id] = ipam.Allocator(subnet.allocation_pools,
                                                               tx.used_addresses(subnet.network_id))
        return a

    @staticmethod
    def _address(n: Network, subnet: Subnet | None, asked: tuple[FixedIp, ...] | Unset,
                 allocator: ipam.Allocator | None, current: str | None = None) -> str | None:
        """The port's address: the next free one, the one asked for, or none."""
        if isinstance(asked, Unset):
            return allocator.take(f"network {n.id}") if allocator is not None else None
        if not asked:
            return None
        if len(asked) > 1:
            raise errors.BadRequest("exceeded maximum amount of fixed ips per port: a port has one here")
        want = asked[0]
        if want.subnet_id is not None and (subnet is None or want.subnet_id != subnet.id):
            raise errors.BadRequest(
                f"failed to create port on network {n.id}, because fixed_ips included invalid subnet {want.subnet_id}"
            )
        if subnet is None or allocator is None:
            raise errors.InvalidIpForNetwork(f"network {n.id} has no subnet to take {want.ip_address} from")
        if want.ip_address is None:
            return current if current is not None else allocator.take(f"network {n.id}")
        ip = ipam.parse_ip(want.ip_address, "ip_address")
        if want.subnet_id is None and ip not in ipaddress.IPv4Network(subnet.cidr):
            raise errors.InvalidIpForNetwork(
                f"IP address {ip} is not a valid IP for any of the subnets on the specified network"
            )
        address = ipam.check_address(subnet.cidr, subnet.gateway_ip, str(ip))
        if address != current and not allocator.claim(address):
            raise errors.IpAddressInUse(f"IP address {address} already allocated in subnet {subnet.id}")
        return address

    def _mac(self, tx: Txn, project: str, network_id: str, asked: str | None) -> str:
        if asked is None:
            return self._random_mac(tx)
        mac = validate.vnic_mac(asked)
        if tx.mac_in_network(mac, network_id) is not None:
            raise errors.MacAddressInUse(
                f"unable to complete operation for network {network_id}: the mac address {mac} is in use"
            )
        if tx.mac_in_use(mac, project):
            raise errors.MacAddressInUse(f"the mac address {mac} is in use by another port of project {project}")
        return mac

    @staticmethod
    def _host(caller: Caller, host: str) -> str:
        if host and not caller.is_admin:
            raise errors.Forbidden("binding:host_id is for administrators")
        return validate.text(host, "binding:host_id")

    @staticmethod
    def _profile(caller: Caller, profile: dict[str, Any]) -> str:
        if profile and not caller.is_admin:
            raise errors.Forbidden("binding:profile is for administrators")
        text = json.dumps(profile, sort_keys=True)
        if len(text) > MAX_PROFILE_CHARS:
            raise errors.BadRequest(f"binding:profile is longer than {MAX_PROFILE_CHARS} characters as JSON")
        return text

    @staticmethod
    def _vnic_type(value: str) -> str:
        if value not in VNIC_TYPES:
            raise errors.BadRequest(f"binding:vnic_type {value[:64]!r} is not offered: sdnapp binds {VNIC_TYPES}")
        return value

    @staticmethod
    def _pairs(asked: tuple[PairSpec, ...], mac: str | None, port_security: bool) -> tuple[AddressPair, ...]:
        if asked and not port_security:
            raise errors.Conflict("port security must be enabled in order to have allowed address pairs on a port")
        if len(asked) > MAX_ADDRESS_PAIRS:
            raise errors.BadRequest(f"the number of allowed address pairs exceeds the maximum {MAX_ADDRESS_PAIRS}")
        out: list[AddressPair] = []
        for a in asked:
            try:
                net = ipaddress.ip_network(a.ip_address, strict=False)
            except ValueError:
                raise errors.BadRequest(f"allowed address pair {a.ip_address[:64]!r} is not an IP address") from None
            if net.version != 4:
                raise errors.BadRequest("allowed address pairs are IPv4 here, as every address sdnapp gives")
            pair_mac = validate.vnic_mac(a.mac_address) if a.mac_address is not None else mac
            if pair_mac is None:
                raise errors.BadRequest("an allowed address pair of a port without a MAC address needs a mac_address")
            ip = str(net.network_address) if net.prefixlen == 32 else str(net)
            pair = AddressPair(ip, pair_mac)
            if pair in out:
                raise errors.BadRequest(f"request contains duplicate address pair: {ip} {pair_mac}")
            out.append(pair)
        return tuple(out)

    # creates ---------------------------------------------------------------------
    def _new_port(self, tx: Txn, caller: Caller, spec: PortSpec, allocators: dict[str, ipam.Allocator]) -> Port:
        if self.external is not None and spec.network_id == EXTERNAL_NETWORK_ID:
            raise errors.BadRequest("the external network takes no ports through the API: its addresses are "
                                    "routers' gateways and floating IPs")
        n = self._network(tx, caller, spec.network_id)
        project = self._owner(caller, None if isinstance(spec.project, Unset) else spec.project)
        host = self._host(caller, "" if isinstance(spec.host, Unset) else spec.host)
        profile = self._profile(caller, {} if isinstance(spec.profile, Unset) else spec.profile)
        subnet = tx.subnet_of(n.id) if n.address_prefix is not None else None
        ip = self._address(n, subnet, spec.fixed_ips, self._allocator(tx, subnet, allocators))
        port_security = n.port_security if isinstance(spec.port_security, Unset) else spec.port_security
        mac = self._mac(tx, project, n.id, spec.mac_address)
        self._check_groups(tx, project, spec.security_groups, port_security, ip is not None, spec.device_owner)
        t = now()
        p = Port(
            new_id(), project, n.id, validate.name(spec.name), ip, None, mac, spec.admin_state_up,
            validate.text(spec.device_id, "device_id"), validate.text(spec.device_owner, "device_owner"),
            port_security, self._pairs(spec.address_pairs, mac, port_security), host,
            self._vnic_type(spec.vnic_type), profile, validate.text(spec.description, "description"), t, t, 1,
        )
        tx.insert_port(p)
        tx.insert_vnic(Vnic(p.id, project, "", mac, None, None))
        tx.set_attachment(p.id, p.id)
        return dataclasses.replace(p, vnic_id=p.id)

    @retried
    def create_ports(self, caller: Caller, specs: list[PortSpec]) -> list[Port]:
        """Create every port (each with its VNIC plugged) or none: one transaction."""
        self._require_extension("networks")
        with self.store.write() as tx:
            allocators: dict[str, ipam.Allocator] = {}
            made = [self._new_port(tx, caller, s, allocators) for s in specs]
            self._check_quota(tx, ((p.tenant_id, "port") for p in made))
        LOG.info("%d port(s) created with their VNICs", len(made))
        if self._waited_for({p.id for p in made}):  # a switch already has their interfaces
            self.bind_pending_vifs()
        return made

    # updates ---------------------------------------------------------------------
    @retried
    def update_port(self, caller: Caller, port_id: str, ch: PortChanges) -> Port:
        with self.store.write() as tx:
            p = self._port(tx, caller, port_id)
            if any(given(getattr(ch, f.name)) for f in dataclasses.fields(ch) if f.name not in ("name", "description")):
                self._not_router_port(tx, p, "changed (but for its name and description)")
            n = tx.network(p.network_id)
            assert n is not None
            host = p.host if isinstance(ch.host, Unset) else self._host_change(caller, ch.host)
            profile = p.profile if isinstance(ch.profile, Unset) else self._profile_change(caller, ch.profile)
            mac = p.mac_address
            if given(ch.mac_address) and validate.vnic_mac(str(ch.mac_address)) != p.mac_address:
                mac = self._new_mac(tx, p, host, str(ch.mac_address))
            ip = p.ip_address
            if not isinstance(ch.fixed_ips, Unset):
                subnet = tx.subnet_of(n.id) if n.address_prefix is not None else None
                ip = self._address(n, subnet, ch.fixed_ips, self._allocator(tx, subnet, {}), current=p.ip_address)
            port_security = p.port_security if isinstance(ch.port_security, Unset) else ch.port_security
            if isinstance(ch.address_pairs, Unset):
                pairs = p.address_pairs
                if pairs and not port_security:
                    raise errors.Conflict("port security must be enabled in order to have allowed address pairs")
            else:
                pairs = self._pairs(ch.address_pairs, mac, port_security)
            owner = p.device_owner if isinstance(ch.device_owner, Unset) else ch.device_owner
            self._check_groups(tx, p.tenant_id, ch.security_groups, port_security, ip is not None, owner)
            new = dataclasses.replace(
                p,
                name=p.name if isinstance(ch.name, Unset) else validate.name(ch.name),
                description=p.description if isinstance(ch.description, Unset)
                else validate.text(ch.description, "description"),
                admin_state_up=p.admin_state_up if isinstance(ch.admin_state_up, Unset) else ch.admin_state_up,
                mac_address=mac,
                ip_address=ip,
                device_id=p.device_id if isinstance(ch.device_id, Unset) else validate.text(ch.device_id, "device_id"),
                device_owner=validate.text(owner, "device_owner"),
                port_security=port_security,
                address_pairs=pairs,
                host=host,
                vnic_type=p.vnic_type if isinstance(ch.vnic_type, Unset) else self._vnic_type(ch.vnic_type),
                profile=profile,
            )
            if new == p:
                return p
            new = dataclasses.replace(new, updated_at=now(), revision=p.revision + 1)
            tx.update_port(new)
        wiring = ("mac_address", "ip_address", "admin_state_up", "port_security", "address_pairs")
        if any(getattr(new, f) != getattr(p, f) for f in wiring):
            self._changed({n.segment_id}, {p.id})
        return new

    def _host_change(self, caller: Caller, host: str) -> str:
        """Neutron's policy for an update: giving binding:host_id at all is for administrators."""
        self._require_admin(caller, "binding:host_id")
        return validate.text(host, "binding:host_id")

    def _profile_change(self, caller: Caller, profile: dict[str, Any]) -> str:
        self._require_admin(caller, "binding:profile")
        return self._profile(caller, profile)

    def _new_mac(self, tx: Txn, p: Port, host: str, asked: str) -> str:
        if p.vnic_id is None:
            raise errors.BadRequest(f"port {p.id} has no VNIC plugged, so no MAC address to change")
        vnic = tx.vnic(p.vnic_id)
        if host or (vnic is not None and vnic.binding is not None):
            raise errors.PortBound(
                f"unable to complete operation on port {p.id}: port is already bound, its MAC address cannot change"
            )
        mac = self._mac(tx, p.tenant_id, p.network_id, asked)
        tx.set_vnic_mac(p.vnic_id, mac)
        return mac

    # deletes ----------------------------------------------------------------------
    @retried
    def delete_port(self, caller: Caller, port_id: str) -> None:
        """Delete a port whatever is plugged: its own VNIC goes with it, another is unplugged (Neutron's
        face; v1's `destroy_port` refuses while a VNIC is plugged)."""
        with self.store.write() as tx:
            p = self._port(tx, caller, port_id)
            self._not_router_port(tx, p, "deleted")
            seg = self._segment_of_port(tx, p.id)
            if p.vnic_id is not None:
                tx.set_attachment(p.vnic_id, None)
                if p.vnic_id == p.id:
                    tx.delete_vnic(p.vnic_id)
            tx.delete_port(p.id)
        self._deleted([p])
        if p.vnic_id is not None:
            self._changed({seg}, set())

    # what a port's binding is ----------------------------------------------------
    def vif_binding(self, p: Port) -> tuple[str, HostInfo | None]:
        """vif_type and the host's switch: `ovs` on a host a configured switch names, `unbound`
        without a host, `binding_failed` for a host no switch belongs to, and also while that
        switch's bridge has not been read over OVSDB yet (just after a start): os-vif would make a
        bridge of a binding without its datapath type the kernel's ("system"), and Neutron fails a
        binding to a host whose agent has not reported either."""
        if not p.host:
            return VIF_UNBOUND, None
        info = self.host_info(p.host)
        return (VIF_OVS, info) if info is not None and info.datapath_type is not None else (VIF_FAILED, None)
