"""Nova's calls to Neutron, replayed as python-neutronclient sends them (query strings included), with
what Nova reads from each answer. Each call is named after the function of nova/network/neutron.py
(openstack/nova at 00a0304) that makes it.

Nova's user client carries the user's token (here: the project's X-Project-Id, as Keystone's
middleware would give it); its admin client, an admin's. Under noauth both carry no project and act
as an admin of the default project (test_nova_under_noauth)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import TENANT, Client, World, WorldFactory, make_neutron_world

V2 = "/v2.0"
SERVER = "3f2a8a6e-2b1c-4a55-9a0e-6d3c1f2b7a90"


def _ok(c: Client, method: str, path: str, body: Any = None) -> Any:
    r = c.call(method, path, body) if body is not None else c.call(method, path)
    assert r.status < 300, (method, path, r.status, r.body)
    return r.json


@pytest.fixture
def net(nworld: World) -> dict[str, Any]:
    c = nworld.client
    n = _ok(c, "POST", f"{V2}/networks", {"network": {"name": "private"}})["network"]
    s = _ok(c, "POST", f"{V2}/subnets", {"subnet": {"network_id": n["id"], "cidr": "10.0.0.0/24", "ip_version": 4,
                                                    "dns_nameservers": ["192.0.2.53"]}})["subnet"]
    return {"network": n, "subnet": s}


def test_boot_a_server_on_a_network(nworld: World, net: dict[str, Any]) -> None:
    user, admin = nworld.client, nworld.client.admin()
    nid, sid = net["network"]["id"], net["subnet"]["id"]

    # _refresh_neutron_extensions_cache: GET /extensions, keyed by alias
    aliases = {e["alias"] for e in _ok(admin, "GET", f"{V2}/extensions")["extensions"]}
    # has_port_binding_extension False: the legacy migration flow; no dns_name, no segments lookups
    assert not aliases & {"binding-extended", "dns-integration", "multi-provider", "segment",
                          "port-resource-request-groups", "security-groups-shared-filtering"}
    # _get_physnet_tunneled_info (admin): provider fields; vlan is not "tunneled"
    got = _ok(admin, "GET", f"{V2}/networks/{nid}?fields=provider%3Aphysical_network&fields=provider%3Anetwork_type")
    assert got == {"network": {"provider:physical_network": None, "provider:network_type": "vlan"}}
    # _get_available_networks with net_ids: subnets non-empty, all ids back; then port security, MTU...
    nets = _ok(user, "GET", f"{V2}/networks?id={nid}")["networks"]
    assert [n["id"] for n in nets] == [nid]
    n = nets[0]
    assert n["subnets"] == [sid] and n["port_security_enabled"] is True and n["router:external"] is False
    assert (n["shared"], n["tenant_id"], n["mtu"], n["name"]) == (False, TENANT, 1500, "private")
    # _get_available_networks without net_ids: the project's own, then the shared ones
    assert [x["id"] for x in _ok(user, "GET", f"{V2}/networks?tenant_id={TENANT}&shared=False")["networks"]] == [nid]
    assert _ok(user, "GET", f"{V2}/networks?shared=True")["networks"] == []
    # validate_networks with a fixed IP: is the address free?
    free = _ok(user, "GET", f"{V2}/ports?network_id={nid}&fixed_ips=ip_address%3D10.0.0.5&fields=device_id")
    assert free == {"ports": []}
    # validate_networks: the quota (-1: unlimited, Nova stops there)
    assert _ok(user, "GET", f"{V2}/quotas/{TENANT}")["quota"]["port"] == -1
    # _create_port_minimal (user client)
    port = _ok(user, "POST", f"{V2}/ports", {"port": {"device_id": SERVER, "network_id": nid, "admin_state_up": True,
                                                      "tenant_id": TENANT}})["port"]
    assert port["binding:vnic_type"] == "normal" and "resource_request" not in port
    # _update_ports_for_instance -> _populate_neutron_extension_values, _update_port (admin client)
    up = _ok(admin, "PUT", f"{V2}/ports/{port['id']}", {"port": {"device_id": SERVER, "device_owner": "compute:nova",
                                                                 "binding:host_id": "compute1"}})["port"]
    assert up["binding:vif_type"] == "ovs" and up["mac_address"] == port["mac_address"]
    # _build_network_info_model (admin): the server's ports and what makes the VIF
    (p,) = _ok(admin, "GET", f"{V2}/ports?tenant_id={TENANT}&device_id={SERVER}")["ports"]
    assert (p["id"], p["network_id"], p["admin_state_up"], p["status"], p["tenant_id"]) == (
        port["id"], nid, True, "DOWN", TENANT)  # not ACTIVE: Nova waits for network-vif-plugged
    assert p["fixed_ips"] == [{"subnet_id": sid, "ip_address": "10.0.0.2"}]
    assert p["binding:vif_details"] == {"connectivity": "l2", "port_filter": True, "ovs_hybrid_plug": False,
                                        "bridge_name": "br-int", "datapath_type": "netdev"}
    assert p["binding:profile"] == {} and p["binding:vnic_type"] == "normal"
    # _safe_get_floating_ips: no L3 here, a 404 that Nova takes as "none"
    r = user.get(f"{V2}/floatingips?fixed_ip_address=10.0.0.2&port_id={port['id']}")
    assert (r.status, r.error_type) == (404, "HTTPNotFound")
    # _get_subnets_from_port: the subnet, and a DHCP port (none: nothing to find)
    (s,) = _ok(user, "GET", f"{V2}/subnets?id={sid}")["subnets"]
    assert (s["cidr"], s["gateway_ip"], s["enable_dhcp"], s["ipv6_address_mode"], s["network_id"]) == (
        "10.0.0.0/24", "10.0.0.1", True, None, nid)
    assert (s["dns_nameservers"], s["host_routes"]) == (["192.0.2.53"], [])
    assert _ok(user, "GET", f"{V2}/ports?network_id={nid}&device_owner=network%3Adhcp") == {"ports": []}
    # validate_networks for a second server asking the same address: now in use, by this server
    taken = _ok(user, "GET", f"{V2}/ports?network_id={nid}&fixed_ips=ip_address%3D10.0.0.2&fields=device_id")
    assert taken == {"ports": [{"device_id": SERVER}]}


def test_live_migration_unbind_and_delete(nworld: World, net: dict[str, Any]) -> None:
    user, admin = nworld.client, nworld.client.admin()
    nid = net["network"]["id"]
    port = _ok(user, "POST", f"{V2}/ports", {"port": {"device_id": SERVER, "network_id": nid,
                                                      "admin_state_up": True, "tenant_id": TENANT}})["port"]
    pid = port["id"]
    _ok(admin, "PUT", f"{V2}/ports/{pid}", {"port": {"device_owner": "compute:nova", "binding:host_id": "compute1"}})
    # setup_networks_on_host (legacy live migration): the ports still bound to the source, marked migrating
    # (the user's client: it filters by binding:host_id, an attribute it is not shown, as in Neutron)
    found = _ok(user, "GET", f"{V2}/ports?device_id={SERVER}&tenant_id={TENANT}&binding%3Ahost_id=compute1")
    assert [p["id"] for p in found["ports"]] == [pid] and "binding:host_id" not in found["ports"][0]
    assert _ok(user, "GET", f"{V2}/ports?device_id={SERVER}&binding%3Ahost_id=compute2") == {"ports": []}
    _ok(admin, "PUT", f"{V2}/ports/{pid}", {"port": {"binding:profile": {"migrating_to": "compute2"}}})
    # _update_port_binding_for_instance: the destination host, the profile without migrating_to
    done = _ok(admin, "PUT", f"{V2}/ports/{pid}", {"port": {"binding:host_id": "compute2",
                                                            "device_owner": "compute:nova", "binding:profile": {}}})
    assert (done["port"]["binding:host_id"], done["port"]["binding:vif_type"]) == ("compute2", "ovs")
    # _unbind_ports: read the profile, then unbind and detach
    got = _ok(user, "GET", f"{V2}/ports/{pid}?fields=binding%3Aprofile&fields=network_id")
    assert got == {"port": {"network_id": nid}}  # binding:profile is an admin's to see
    assert _ok(user, "GET", f"{V2}/networks/{nid}?fields=dns_domain") == {"network": {}}
    unbound = _ok(admin, "PUT", f"{V2}/ports/{pid}", {"port": {"binding:host_id": None, "binding:profile": {},
                                                               "device_id": "", "device_owner": ""}})["port"]
    assert (unbound["binding:vif_type"], unbound["device_id"]) == ("unbound", "")
    # deallocate_for_instance: the server's ports, each deleted; a second delete is a 404 Nova tolerates
    _ok(admin, "PUT", f"{V2}/ports/{pid}", {"port": {"device_id": SERVER}})
    assert [p["id"] for p in _ok(user, "GET", f"{V2}/ports?device_id={SERVER}")["ports"]] == [pid]
    user.ok("DELETE", f"{V2}/ports/{pid}")
    r = user.delete(f"{V2}/ports/{pid}")
    assert (r.status, r.error_type) == (404, "PortNotFound")  # _show_port: PortNotFound by type


def test_the_errors_nova_tells_apart(make_world: WorldFactory) -> None:
    w = make_neutron_world(make_world, quotas={"port": 3})
    user, admin = w.client, w.client.admin()
    n = _ok(user, "POST", f"{V2}/networks", {"network": {"name": "tiny"}})["network"]
    _ok(user, "POST", f"{V2}/subnets", {"subnet": {"network_id": n["id"], "cidr": "10.0.0.0/29", "ip_version": 4,
                                                   "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.3"}]}})

    def create(**more: Any) -> Any:
        return user.post(f"{V2}/ports", {"port": {"device_id": str(uuid.uuid4()), "network_id": n["id"],
                                                  "admin_state_up": True, "tenant_id": TENANT, **more}})

    first = create(fixed_ips=[{"ip_address": "10.0.0.2"}]).json["port"]
    # _create_port_minimal's mapping: FixedIpAlreadyInUse, InvalidInput, NoMoreFixedIps, PortLimitExceeded
    assert create(fixed_ips=[{"ip_address": "10.0.0.2"}]).error_type == "IpAddressAlreadyAllocated"
    assert create(fixed_ips=[{"ip_address": "192.0.2.1"}]).error_type == "InvalidIpForNetwork"
    create()
    assert create().error_type == "IpAddressGenerationFailure"  # the pool is used up
    create(fixed_ips=[{"ip_address": "10.0.0.6"}])  # outside the pool, inside the subnet: allowed, as Neutron
    assert create(fixed_ips=[]).error_type == "OverQuota"
    # validate_networks with a port quota: the project's port count
    assert len(_ok(user, "GET", f"{V2}/ports?tenant_id={TENANT}&fields=id")["ports"]) == 3
    # _update_port: MacAddressInUse becomes PortInUse in Nova
    _ok(admin, "PUT", f"{V2}/quotas/{TENANT}", {"quota": {"port": -1}})
    other = create(fixed_ips=[]).json["port"]
    r = admin.put(f"{V2}/ports/{other['id']}", {"port": {"mac_address": first["mac_address"]}})
    assert (r.status, r.error_type) == (409, "MacAddressInUse")
    # _show_port of a port that is not there
    r = user.get(f"{V2}/ports/{uuid.uuid4()}")
    assert (r.status, r.error_type) == (404, "PortNotFound")
    # _process_security_groups for a named group other than default (Nova skips `default` itself)
    groups = _ok(user, "GET", f"{V2}/security-groups?fields=id&fields=name&tenant_id={TENANT}")["security_groups"]
    assert [g["name"] for g in groups] == ["default"] and set(groups[0]) == {"id", "name"}


def test_nova_under_noauth(nworld: World, net: dict[str, Any]) -> None:
    """noauth: Nova's user and admin clients both come without a project (a Keystone token sdnapp does not
    read), so both act as an admin of the default project; the port belongs to the body's tenant_id."""
    nova = nworld.client.as_(None)
    nid = net["network"]["id"]
    port = _ok(nova, "POST", f"{V2}/ports", {"port": {"device_id": SERVER, "network_id": nid, "admin_state_up": True,
                                                      "tenant_id": TENANT}})["port"]
    assert port["tenant_id"] == TENANT
    (p,) = _ok(nova, "GET", f"{V2}/ports?tenant_id={TENANT}&device_id={SERVER}",
               )["ports"]
    assert p["id"] == port["id"]
    assert [x["id"] for x in _ok(nova, "GET", f"{V2}/networks?tenant_id={TENANT}&shared=False")["networks"]] == [nid]
