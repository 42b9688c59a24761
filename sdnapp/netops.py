"""Networks and subnets as the Neutron face asks for them: bulk creates in one transaction,
updates, deletes, and a network's one IPv4 subnet (its address range)."""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from collections.abc import Iterable

from flows import vlan, vxlan

from . import errors, ipam, validate
from .core import ServiceCore, new_id, now
from .model import Caller, Network, Subnet
from .specs import NetworkChanges, NetworkSpec, SubnetChanges, SubnetSpec, Unset, given
from .store import Txn, retried

LOG = logging.getLogger(__name__)

MAX_DNS_NAMESERVERS = 5  # Neutron's max_dns_nameservers
MAX_HOST_ROUTES = 20  # Neutron's max_subnet_host_routes
_NO_EXTERNAL = "external networks are not offered: no external network is configured (external:)"
_ONE_EXTERNAL = "the external network is the configured one (external:): no other is made through the API"
SEGMENT_LIMITS = {vlan.DRIVER: (vlan.VLAN_MIN, vlan.VLAN_MAX), vxlan.DRIVER: (vxlan.VNI_MIN, vxlan.VNI_MAX)}


def _admin_only(caller: Caller, what: str, value: object, default: object) -> None:
    """Neutron's policy for an admin-only attribute: others may give it only at its default."""
    if value != default and not caller.is_admin:
        raise errors.Forbidden(f"setting {what} is for administrators")


class NetworkOps(ServiceCore):
    # networks -----------------------------------------------------------
    def _new_network(self, tx: Txn, caller: Caller, spec: NetworkSpec, nat: bool = False) -> Network:
        project = self._owner(caller, None if isinstance(spec.project, Unset) else spec.project)
        _admin_only(caller, "shared", spec.shared, False)
        _admin_only(caller, "router:external", spec.external, False)
        if spec.shared:
            raise errors.BadRequest("shared networks are not offered: a network belongs to one project")
        if spec.external:
            raise errors.BadRequest(_NO_EXTERNAL if "nat" not in self.extensions else _ONE_EXTERNAL)
        if given(spec.segment_type) or given(spec.segment_id) or spec.physical_network is not None:
            self._require_admin(caller, "choosing a network's segment (provider attributes)")
        if spec.physical_network is not None:
            raise errors.BadRequest("provider:physical_network: sdnapp's networks are on no physical network")
        if given(spec.segment_type) and spec.segment_type != self.pool.type:
            raise errors.BadRequest(
                f"provider:network_type {spec.segment_type!r} is not offered: networks here are {self.pool.type}"
            )
        if isinstance(spec.segment_id, int):
            low, high = SEGMENT_LIMITS[self.pool.type]
            if not low <= spec.segment_id <= high:
                raise errors.BadRequest(f"provider:segmentation_id must be {low} to {high} for {self.pool.type}")
            if tx.segment_taken(self.pool.type, spec.segment_id):
                raise errors.SegmentInUse(f"the {self.pool.type} segment {spec.segment_id} is another network's")
            sid = spec.segment_id
        else:
            found = tx.free_segment(self.pool.type, self.pool.low, self.pool.high)
            if found is None:
                raise errors.SegmentPoolExhausted(
                    f"no free {self.pool.type} segment in {self.pool.low}-{self.pool.high}"
                )
            sid = found
        t = now()
        n = Network(
            new_id(), project, validate.name(spec.name), None, self.pool.type, sid, spec.admin_state_up,
            spec.port_security, validate.text(spec.description, "description"), t, t, 1, nat,
        )
        tx.insert_network(n)
        return n

    @retried
    def create_networks(self, caller: Caller, specs: list[NetworkSpec]) -> list[Network]:
        """Create every network or none (one transaction)."""
        self._require_extension("networks")
        with self.store.write() as tx:
            made = [self._new_network(tx, caller, s) for s in specs]
            self._check_quota(tx, ((n.tenant_id, "network") for n in made))
        for n in made:
            LOG.info("network %s created for %s with %s %d", n.id, n.tenant_id, n.segment_type, n.segment_id)
        return made

    @retried
    def update_network(self, caller: Caller, network_id: str, ch: NetworkChanges) -> Network:
        with self.store.write() as tx:
            n = self._network(tx, caller, network_id)
            if ch.segment:
                raise errors.BadRequest("a network's provider attributes cannot be updated")
            for what, value in (("shared", ch.shared), ("router:external", ch.external)):
                if given(value):
                    self._require_admin(caller, f"setting {what}")
                    if value:
                        raise errors.BadRequest(f"{what} networks are not offered" if what == "shared"
                                                else _ONE_EXTERNAL)
            new = dataclasses.replace(
                n,
                name=n.name if isinstance(ch.name, Unset) else validate.name(ch.name),
                description=n.description if isinstance(ch.description, Unset)
                else validate.text(ch.description, "description"),
                admin_state_up=n.admin_state_up if isinstance(ch.admin_state_up, Unset) else ch.admin_state_up,
                port_security=n.port_security if isinstance(ch.port_security, Unset) else ch.port_security,
            )
            if new == n:
                return n
            new = dataclasses.replace(new, updated_at=now(), revision=n.revision + 1)
            tx.update_network(new)
            ports = [p.id for p in tx.ports(network_id=n.id)] if new.admin_state_up != n.admin_state_up else []
        if ports:
            self._changed({n.segment_id}, set(ports))
        return new

    @retried
    def delete_network(self, caller: Caller, network_id: str) -> None:
        """Delete a network with its subnet and its ports, unless a port has a device (Neutron's face:
        v1's `destroy_network` keeps its own rule, any VNIC plugged)."""
        self._require_extension("networks")
        with self.store.write() as tx:
            n = self._network(tx, caller, network_id)
            ports = tx.ports(network_id=n.id)
            busy = [p.id for p in ports if p.device_id or (p.vnic_id is not None and p.vnic_id != p.id)]
            if busy:
                raise errors.NetworkInUse(
                    f"unable to complete operation on network {n.id}: there are one or more ports still in use "
                    f"on the network, id for these ports is: {', '.join(busy[:20])}"
                )
            for p in ports:
                if p.vnic_id is not None:
                    tx.set_attachment(p.vnic_id, None)
                    tx.delete_vnic(p.vnic_id)
            tx.delete_network(n.id)
        self._deleted(ports)
        LOG.info("network %s deleted with %d ports", n.id, len(ports))
        self._changed({n.segment_id}, set())

    # subnets -----------------------------------------------------------
    def _new_subnet(self, tx: Txn, caller: Caller, spec: SubnetSpec) -> Subnet:
        n = self._network(tx, caller, spec.network_id)
        if spec.ip_version != 4:
            raise errors.BadRequest("only IPv4 subnets are offered (ip_version 4)")
        if not isinstance(spec.project, Unset) and spec.project != n.tenant_id:
            raise errors.BadRequest("a subnet belongs to its network's project")
        if n.address_prefix is not None:
            raise errors.BadRequest(f"network {n.id} already has a subnet: a network has one IPv4 subnet here")
        cidr = validate.ipv4_prefix(spec.cidr)
        if isinstance(spec.gateway_ip, Unset):
            gateway: str | None = ipam.default_gateway(cidr)
        else:
            gateway = None if spec.gateway_ip is None else ipam.check_gateway(cidr, spec.gateway_ip)
        pools = (ipam.default_pools(cidr, gateway) if isinstance(spec.allocation_pools, Unset)
                 else ipam.check_pools(cidr, gateway, spec.allocation_pools))
        t = now()
        s = Subnet(
            new_id(), n.id, n.tenant_id, validate.name(spec.name), cidr, gateway, tuple(pools), spec.enable_dhcp,
            _dns(spec.dns_nameservers), _routes(cidr, spec.host_routes),
            validate.text(spec.description, "description"), t, t, 1,
        )
        tx.update_network(dataclasses.replace(n, address_prefix=cidr, updated_at=t, revision=n.revision + 1))
        tx.insert_subnet(s)
        return s

    @retried
    def create_subnets(self, caller: Caller, specs: list[SubnetSpec]) -> list[Subnet]:
        self._require_extension("networks")
        with self.store.write() as tx:
            made = [self._new_subnet(tx, caller, s) for s in specs]
            self._check_quota(tx, ((s.tenant_id, "subnet") for s in made))
        return made

    def list_subnets(self, caller: Caller, tenant_filter: str | None = None) -> list[Subnet]:
        with self.store.read() as tx:
            return tx.subnets(self._scope(caller, tenant_filter))

    def get_subnet(self, caller: Caller, subnet_id: str) -> Subnet:
        with self.store.read() as tx:
            return self._subnet(tx, caller, subnet_id)

    @retried
    def update_subnet(self, caller: Caller, subnet_id: str, ch: SubnetChanges) -> Subnet:
        with self.store.write() as tx:
            s = self._subnet(tx, caller, subnet_id)
            gateway = s.gateway_ip
            if not isinstance(ch.gateway_ip, Unset) and ch.gateway_ip != s.gateway_ip:
                router = tx.router_of_network(s.network_id)
                if router is not None:
                    raise errors.SubnetInUse(f"the gateway address of subnet {s.id} is router {router}'s interface")
                gateway = None if ch.gateway_ip is None else ipam.check_gateway(s.cidr, ch.gateway_ip)
                holder = tx.address_holder(s.network_id, gateway) if gateway is not None else None
                if holder is not None:
                    raise errors.IpAddressInUse(f"the gateway address {gateway} is port {holder}'s")
            pools = s.allocation_pools if isinstance(ch.allocation_pools, Unset) else ch.allocation_pools
            new = dataclasses.replace(
                s,
                name=s.name if isinstance(ch.name, Unset) else validate.name(ch.name),
                description=s.description if isinstance(ch.description, Unset)
                else validate.text(ch.description, "description"),
                gateway_ip=gateway,
                allocation_pools=tuple(ipam.check_pools(s.cidr, gateway, pools)),
                enable_dhcp=s.enable_dhcp if isinstance(ch.enable_dhcp, Unset) else ch.enable_dhcp,
                dns_nameservers=s.dns_nameservers if isinstance(ch.dns_nameservers, Unset)
                else _dns(ch.dns_nameservers),
                host_routes=s.host_routes if isinstance(ch.host_routes, Unset) else _routes(s.cidr, ch.host_routes),
            )
            if new == s:
                return s
            new = dataclasses.replace(new, updated_at=now(), revision=s.revision + 1)
            tx.update_subnet(new)
            n = tx.network(s.network_id)
        if n is not None and (new.gateway_ip, new.enable_dhcp) != (s.gateway_ip, s.enable_dhcp):
            self._changed({n.segment_id}, set())  # the gateway's answers and DHCP are flows on the VNICs' ports
        return new

    @retried
    def delete_subnet(self, caller: Caller, subnet_id: str) -> None:
        with self.store.write() as tx:
            s = self._subnet(tx, caller, subnet_id)
            if tx.used_addresses(s.network_id):
                raise errors.SubnetInUse(
                    f"unable to complete operation on subnet {s.id}: one or more ports have an IP allocation "
                    "from this subnet"
                )
            n = tx.network(s.network_id)
            assert n is not None
            if n.nat:
                raise errors.SubnetInUse(f"unable to complete operation on subnet {s.id}: its network is NATed")
            tx.delete_subnet(s.id)
            tx.update_network(dataclasses.replace(n, address_prefix=None, updated_at=now(), revision=n.revision + 1))

    def network_subnets(self, network_ids: Iterable[str]) -> dict[str, Subnet]:
        """The subnets of these networks, by network id (for showing networks and ports' fixed IPs)."""
        with self.store.read() as tx:
            return {s.network_id: s for s in tx.subnets(network_ids=network_ids)}


def _dns(servers: tuple[str, ...]) -> tuple[str, ...]:
    if len(servers) > MAX_DNS_NAMESERVERS:
        raise errors.BadRequest(f"a subnet has at most {MAX_DNS_NAMESERVERS} DNS name servers")
    out = tuple(str(ipam.parse_ip(s, "dns_nameservers")) for s in servers)
    if len(set(out)) != len(out):
        raise errors.BadRequest("duplicate DNS name server")
    return out


def _routes(cidr: str, routes: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    if len(routes) > MAX_HOST_ROUTES:
        raise errors.BadRequest(f"a subnet has at most {MAX_HOST_ROUTES} host routes")
    out = []
    for dest, hop in routes:
        try:
            d = ipaddress.IPv4Network(dest, strict=True)
        except ValueError:
            raise errors.BadRequest(f"host route destination {dest[:64]!r} is not an IPv4 network") from None
        out.append((str(d), str(ipam.parse_ip(hop, "host route nexthop"))))
    if len(set(out)) != len(out):
        raise errors.BadRequest("duplicate host route")
    return tuple(out)
