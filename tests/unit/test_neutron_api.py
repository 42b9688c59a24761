"""The Neutron v2.0 face (shared/NEUTRON.md) over HTTP, in process: both faces on one real store.

Every answer is also checked against the face's OpenAPI document (conftest.Client, apidoc)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sdnapp.secgroups import group_id

from .conftest import (
    ADMIN_PROJECT,
    NEUTRON_DEFAULT_PROJECT,
    OTHER,
    TENANT,
    Client,
    World,
    WorldFactory,
    make_neutron_world,
)

V2 = "/v2.0"


def net(c: Client, name: str = "net", **more: Any) -> dict[str, Any]:
    return dict(c.ok("POST", f"{V2}/networks", {"network": {"name": name, **more}})["network"])


def subnet(c: Client, network_id: str, cidr: str = "10.0.0.0/24", **more: Any) -> dict[str, Any]:
    body = {"subnet": {"network_id": network_id, "cidr": cidr, "ip_version": 4, **more}}
    return dict(c.ok("POST", f"{V2}/subnets", body)["subnet"])


def port(c: Client, network_id: str, **more: Any) -> dict[str, Any]:
    return dict(c.ok("POST", f"{V2}/ports", {"port": {"network_id": network_id, **more}})["port"])


def err(r: Any) -> tuple[int, str]:
    return r.status, r.error_type


# --- versions, resources, extensions ------------------------------------------------------------


def test_the_root_lists_both_versions_and_v2_follows_its_self_link(nworld: World) -> None:
    anon = nworld.client.as_(None)
    r = anon.get("/", headers={"Host": "net.example:9696"})
    assert r.json == {"versions": [
        {"id": "v1", "status": "CURRENT", "links": [{"rel": "self", "href": "http://net.example:9696/v1"}]},
        {"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": "http://net.example:9696/v2.0/"}]},
    ]}
    for path in (V2, V2 + "/"):
        r = anon.get(path)
        assert [x["collection"] for x in r.json["resources"]] == ["networks", "subnets", "ports"]
        assert r.json["resources"][0]["links"] == [{"rel": "self", "href": "http://localhost/v2.0/networks"}]


def test_extensions_are_neutrons_aliases_of_what_is_implemented(nworld: World) -> None:
    c = nworld.client
    aliases = {e["alias"] for e in c.get(f"{V2}/extensions").json["extensions"]}
    assert {"binding", "port-security", "external-net", "quotas", "project-id", "standard-attr-timestamp",
            "standard-attr-revisions", "security-group", "allowed-address-pairs", "net-mtu", "provider"} <= aliases
    # routers and floating IPs wait for the NAT work; no /ports/{id}/bindings, so no binding-extended
    assert not aliases & {"router", "ext-gw-mode", "floatingip-pools", "fip-port-details", "binding-extended"}
    assert c.get(f"{V2}/extensions/binding").json["extension"]["name"] == "Port Binding"
    assert err(c.get(f"{V2}/extensions/tag-ports-during-bulk-creation")) == (404, "HTTPNotFound")
    for path in ("routers", "floatingips", "ports/x/bindings"):
        assert err(c.get(f"{V2}/{path}")) == (404, "HTTPNotFound")


# --- networks ------------------------------------------------------------------------------------


def test_a_network_has_neutrons_attributes_and_admins_see_the_provider_ones(nworld: World) -> None:
    n = net(nworld.client, "web", description="front")
    assert n["tenant_id"] == n["project_id"] == TENANT
    assert (n["name"], n["description"], n["status"], n["admin_state_up"]) == ("web", "front", "ACTIVE", True)
    assert (n["shared"], n["router:external"], n["subnets"], n["mtu"], n["port_security_enabled"]) == (
        False, False, [], 1500, True)
    assert n["revision_number"] == 1 and n["created_at"].endswith("Z") and n["updated_at"] == n["created_at"]
    assert not any(k.startswith("provider:") for k in n)
    a = nworld.client.admin().get(f"{V2}/networks/{n['id']}").json["network"]
    assert (a["provider:network_type"], a["provider:physical_network"], a["provider:segmentation_id"]) == (
        "vlan", None, 100)


def test_mtu_is_what_a_vm_may_send(make_world: WorldFactory) -> None:
    from sdnapp.core import SegmentPool

    w = make_neutron_world(make_world, pool=SegmentPool("vxlan", 1000, 1999), db="vx.db")
    assert net(w.client)["mtu"] == 1450  # 1500 less VXLAN's 50 bytes
    w2 = make_neutron_world(make_world, pool=SegmentPool("vxlan", 1000, 1999), db="vx2.db", underlay_mtu=1600)
    assert net(w2.client)["mtu"] == 1550


def test_networks_are_one_model_across_both_faces(nworld: World) -> None:
    c = nworld.client
    v1net = c.network("10.1.0.0/24", name="from-v1")
    seen = c.get(f"{V2}/networks/{v1net['id']}").json["network"]
    assert seen["name"] == "from-v1" and len(seen["subnets"]) == 1
    sub = c.get(f"{V2}/subnets/{seen['subnets'][0]}").json["subnet"]
    assert (sub["cidr"], sub["gateway_ip"], sub["allocation_pools"]) == (
        "10.1.0.0/24", "10.1.0.1", [{"start": "10.1.0.2", "end": "10.1.0.254"}])
    v2net = net(c, "from-v2")
    subnet(c, v2net["id"], "10.2.0.0/24")
    v1view = c.get(f"/v1/networks/{v2net['id']}").json["network"]
    assert (v1view["name"], v1view["address_prefix"]) == ("from-v2", "10.2.0.0/24")
    # a v1 port in it gets its address from the subnet's pool
    assert c.port(v2net["id"])["ip_address"] == "10.2.0.2"


def test_bulk_network_create_is_one_transaction(nworld: World) -> None:
    c = nworld.client
    r = c.post(f"{V2}/networks", {"networks": [{"name": "a"}, {"name": "b"}]})
    assert r.status == 201 and [n["name"] for n in r.json["networks"]] == ["a", "b"]
    before = nworld.snapshot()
    r = c.post(f"{V2}/networks", {"networks": [{"name": "c"}, {"name": "d", "shared": True}]})
    assert err(r) == (403, "PolicyNotAuthorized")
    r = c.post(f"{V2}/networks", {"networks": [{"name": "c"}, {"name": "x" * 300}]})
    assert err(r)[0] == 400
    assert nworld.snapshot() == before
    assert err(c.post(f"{V2}/networks", {"networks": []})) == (400, "HTTPBadRequest")


def test_provider_attributes_are_for_admins_and_choose_a_free_segment(nworld: World) -> None:
    c, admin = nworld.client, nworld.client.admin()
    body = {"network": {"name": "p", "provider:network_type": "vlan", "provider:segmentation_id": "321"}}
    assert err(c.post(f"{V2}/networks", body)) == (403, "PolicyNotAuthorized")
    n = admin.ok("POST", f"{V2}/networks", body)["network"]
    assert n["provider:segmentation_id"] == 321
    assert err(admin.post(f"{V2}/networks", body)) == (409, "SegmentInUse")
    vx = {"network": {"provider:network_type": "vxlan"}}
    assert err(admin.post(f"{V2}/networks", vx)) == (400, "InvalidInput")
    phys = {"network": {"provider:physical_network": "physnet1"}}
    assert err(admin.post(f"{V2}/networks", phys)) == (400, "InvalidInput")
    r = admin.put(f"{V2}/networks/{n['id']}", {"network": {"provider:segmentation_id": 322}})
    assert err(r) == (400, "InvalidInput")


def test_shared_and_external_networks_are_refused_and_false_is_fine(nworld: World) -> None:
    c, admin = nworld.client, nworld.client.admin()
    assert net(c, "x", shared=False, **{"router:external": False})["shared"] is False
    assert err(c.post(f"{V2}/networks", {"network": {"router:external": True}})) == (403, "PolicyNotAuthorized")
    assert err(admin.post(f"{V2}/networks", {"network": {"router:external": True}})) == (400, "InvalidInput")
    assert err(admin.post(f"{V2}/networks", {"network": {"shared": True}})) == (400, "InvalidInput")


def test_network_update_bumps_the_revision(nworld: World) -> None:
    c = nworld.client
    n = net(c)
    r = c.put(f"{V2}/networks/{n['id']}", {"network": {"name": "renamed", "admin_state_up": False,
                                                         "port_security_enabled": False}})
    u = r.json["network"]
    assert (u["name"], u["admin_state_up"], u["port_security_enabled"], u["revision_number"]) == (
        "renamed", False, False, 2)
    assert c.put(f"{V2}/networks/{n['id']}", {"network": {"name": "renamed"}}).json["network"]["revision_number"] == 2
    assert err(c.put(f"{V2}/networks/{n['id']}", {"network": {"mtu": 1400}})) == (400, "HTTPBadRequest")
    assert err(c.put(f"{V2}/networks/{n['id']}", {"network": {"shared": False}})) == (403, "PolicyNotAuthorized")
    # a new port takes the network's port security
    assert port(c, n["id"])["port_security_enabled"] is False


def test_network_delete_takes_ports_without_a_device_and_refuses_while_one_has_one(nworld: World) -> None:
    c = nworld.client
    n = net(c)
    subnet(c, n["id"])
    free = port(c, n["id"])
    used = port(c, n["id"], device_id=str(uuid.uuid4()), device_owner="compute:nova")
    r = c.delete(f"{V2}/networks/{n['id']}")
    assert err(r) == (409, "NetworkInUse") and used["id"] in r.json["NeutronError"]["message"]
    assert free["id"] not in r.json["NeutronError"]["message"]
    c.ok("DELETE", f"{V2}/ports/{used['id']}")
    c.ok("DELETE", f"{V2}/networks/{n['id']}")
    assert err(c.get(f"{V2}/ports/{free['id']}")) == (404, "PortNotFound")
    assert c.get(f"{V2}/subnets").json == {"subnets": []}
    assert c.get("/v1/vnics").json == {"vnics": []}  # the ports' own VNICs went with them
    # a port with a v1 VNIC plugged has a device too
    n2 = net(c)
    p = c.port(n2["id"])
    assert c.plug(p["id"], c.vnic()["id"]).status == 200
    assert err(c.delete(f"{V2}/networks/{n2['id']}")) == (409, "NetworkInUse")


# --- lists: filters, fields, sorting, pages ------------------------------------------------------


def test_filters_are_neutrons(nworld: World) -> None:
    c = nworld.client
    a, b, _ = net(c, "a"), net(c, "b"), net(c, "c", admin_state_up=False)

    def names(q: str) -> list[str]:
        r = c.get(f"{V2}/networks?{q}")
        assert r.status == 200, r.body
        return sorted(n["name"] for n in r.json["networks"])

    assert names("name=a") == ["a"]
    assert names(f"id={a['id']}&id={b['id']}") == ["a", "b"]  # repeated: any of them
    assert names("name=a&name=c&admin_state_up=False") == ["c"]  # different names: all of them
    assert names("shared=False") == ["a", "b", "c"] and names("shared=True") == []
    assert names(f"tenant_id={TENANT}") == names(f"project_id={TENANT}") == ["a", "b", "c"]
    assert names("name=") == ["a", "b", "c"]  # an empty value filters nothing
    assert err(c.get(f"{V2}/networks?foo=1")) == (400, "HTTPBadRequest")
    assert err(c.get(f"{V2}/networks?shared=maybe")) == (400, "InvalidInput")
    assert err(c.get(f"{V2}/networks?tenant_id=x&project_id=x")) == (400, "HTTPBadRequest")
    assert c.get(f"{V2}/networks?mtu=1500&fields=id").status == 200


def test_fields_give_exactly_what_is_asked(nworld: World) -> None:
    c = nworld.client
    n = net(c)
    r = c.get(f"{V2}/networks?fields=id&fields=name&fields=tags&fields=trunk_details")
    assert r.json["networks"] == [{"id": n["id"], "name": "net"}]  # unknown fields are ignored
    r = c.get(f"{V2}/networks/{n['id']}?fields=provider%3Anetwork_type&fields=provider%3Aphysical_network")
    assert r.json == {"network": {}}  # not an admin: those are not shown


def test_sorting_and_pages_with_links(nworld: World) -> None:
    c = nworld.client
    made = [net(c, name) for name in ("d", "b", "a", "c", "e")]
    r = c.get(f"{V2}/networks?sort_key=name&sort_dir=desc")
    assert [n["name"] for n in r.json["networks"]] == ["e", "d", "c", "b", "a"]
    r = c.get(f"{V2}/networks?sort_key=name&sort_dir=asc&limit=2")
    assert [n["name"] for n in r.json["networks"]] == ["a", "b"]
    links = {x["rel"]: x["href"] for x in r.json["networks_links"]}
    assert set(links) == {"next", "previous"}
    seen = ["a", "b"]
    while "next" in links:
        nxt = links["next"].replace("http://localhost", "")
        r = c.get(nxt)
        seen += [n["name"] for n in r.json["networks"]]
        links = {x["rel"]: x["href"] for x in r.json.get("networks_links", [])}
    assert seen == ["a", "b", "c", "d", "e"]
    back = c.get(f"{V2}/networks?sort_key=name&sort_dir=asc&limit=2&marker={made[1]['id']}&page_reverse=True")
    assert [n["name"] for n in back.json["networks"]] == ["a"]
    assert err(c.get(f"{V2}/networks?limit=2&marker={uuid.uuid4()}")) == (404, "NetworkNotFound")
    assert err(c.get(f"{V2}/networks?limit=x")) == (400, "HTTPBadRequest")
    assert err(c.get(f"{V2}/networks?sort_key=name")) == (400, "HTTPBadRequest")
    assert err(c.get(f"{V2}/networks?sort_key=subnets&sort_dir=asc")) == (400, "HTTPBadRequest")
    assert err(c.get(f"{V2}/networks?sort_key=name&sort_dir=up")) == (400, "HTTPBadRequest")
    assert len(c.get(f"{V2}/networks?limit=0").json["networks"]) == 5  # 0: no limit


# --- subnets -------------------------------------------------------------------------------------


def test_subnet_defaults_options_and_one_per_network(nworld: World) -> None:
    c = nworld.client
    n = net(c)
    s = subnet(c, n["id"], "10.5.0.0/24", gateway_ip="10.5.0.254", dns_nameservers=["192.0.2.53"],
               allocation_pools=[{"start": "10.5.0.10", "end": "10.5.0.20"}], enable_dhcp=False,
               host_routes=[{"destination": "10.9.0.0/16", "nexthop": "10.5.0.254"}])
    assert (s["gateway_ip"], s["dns_nameservers"], s["enable_dhcp"], s["ip_version"]) == (
        "10.5.0.254", ["192.0.2.53"], False, 4)
    assert s["host_routes"] == [{"destination": "10.9.0.0/16", "nexthop": "10.5.0.254"}]
    assert port(c, n["id"])["fixed_ips"] == [{"subnet_id": s["id"], "ip_address": "10.5.0.10"}]
    assert err(c.post(f"{V2}/subnets", {"subnet": {"network_id": n["id"], "cidr": "10.6.0.0/24",
                                                   "ip_version": 4}})) == (400, "InvalidInput")
    n2 = net(c)
    assert err(c.post(f"{V2}/subnets", {"subnet": {"network_id": n2["id"], "cidr": "fd00::/64",
                                                   "ip_version": 6}})) == (400, "InvalidInput")
    assert err(c.post(f"{V2}/subnets", {"subnet": {"network_id": n2["id"], "cidr": "10.6.0.0/24"}})) == (
        400, "HTTPBadRequest")  # ip_version is required, as in Neutron
    no_gw = subnet(c, n2["id"], "10.6.0.0/24", gateway_ip=None)
    assert no_gw["gateway_ip"] is None and no_gw["allocation_pools"] == [{"start": "10.6.0.1", "end": "10.6.0.254"}]
    n3 = net(c)
    for bad in ({"gateway_ip": "10.7.1.1"}, {"allocation_pools": [{"start": "10.7.0.9", "end": "10.7.0.2"}]},
                {"cidr": "10.7.0.5/24"}, {"dns_nameservers": ["nonsense"]}):
        body = {"subnet": {"network_id": n3["id"], "cidr": "10.7.0.0/24", "ip_version": 4, **bad}}
        assert err(c.post(f"{V2}/subnets", body)) == (400, "InvalidInput"), bad
    body = {"subnet": {"network_id": n3["id"], "cidr": "10.7.0.0/24", "ip_version": 4,
                       "allocation_pools": [{"start": "10.7.0.1", "end": "10.7.0.9"}]}}
    assert err(c.post(f"{V2}/subnets", body)) == (409, "Conflict")  # the pool holds the gateway


def test_subnet_update_and_delete(nworld: World) -> None:
    c = nworld.client
    n = net(c)
    s = subnet(c, n["id"])
    p = port(c, n["id"])
    r = c.put(f"{V2}/subnets/{s['id']}", {"subnet": {"name": "renamed", "dns_nameservers": ["192.0.2.1"]}})
    assert (r.json["subnet"]["name"], r.json["subnet"]["revision_number"]) == ("renamed", 2)
    taken = p["fixed_ips"][0]["ip_address"]
    assert err(c.put(f"{V2}/subnets/{s['id']}", {"subnet": {"gateway_ip": taken}})) == (
        409, "IpAddressAlreadyAllocated")
    assert err(c.put(f"{V2}/subnets/{s['id']}", {"subnet": {"cidr": "10.9.0.0/24"}})) == (400, "HTTPBadRequest")
    assert err(c.delete(f"{V2}/subnets/{s['id']}")) == (409, "SubnetInUse")
    c.ok("DELETE", f"{V2}/ports/{p['id']}")
    c.ok("DELETE", f"{V2}/subnets/{s['id']}")
    assert c.get(f"{V2}/networks/{n['id']}").json["network"]["subnets"] == []
    assert c.get(f"/v1/networks/{n['id']}").json["network"]["address_prefix"] is None


# --- ports ---------------------------------------------------------------------------------------


def test_a_port_is_a_v1_port_with_its_own_vnic_plugged(nworld: World) -> None:
    c = nworld.client
    n = net(c)
    s = subnet(c, n["id"])
    p = port(c, n["id"], name="p1", device_id="dev1", device_owner="compute:nova")
    assert p["mac_address"].startswith("fa:16:3e:") and p["status"] == "DOWN"
    assert p["fixed_ips"] == [{"subnet_id": s["id"], "ip_address": "10.0.0.2"}]
    assert (p["security_groups"], p["port_security_enabled"], p["allowed_address_pairs"]) == (
        [group_id(TENANT)], True, [])
    assert p["binding:vnic_type"] == "normal" and "binding:host_id" not in p  # admins only
    v1port = c.get(f"/v1/ports/{p['id']}").json["port"]
    assert (v1port["vnic_id"], v1port["ip_address"]) == (p["id"], "10.0.0.2")
    vnic = c.get(f"/v1/vnics/{p['id']}").json["vnic"]
    assert (vnic["mac_address"], vnic["port_id"]) == (p["mac_address"], p["id"])
    c.ok("DELETE", f"{V2}/ports/{p['id']}")
    assert err(c.get(f"/v1/vnics/{p['id']}")) == (404, "VnicNotFound")


def test_addresses_and_macs_asked_for(nworld: World) -> None:
    c = nworld.client
    n = net(c)
    s = subnet(c, n["id"])
    p = port(c, n["id"], mac_address="FA:16:3E:11:22:33", fixed_ips=[{"ip_address": "10.0.0.50"}])
    assert (p["mac_address"], p["fixed_ips"][0]["ip_address"]) == ("fa:16:3e:11:22:33", "10.0.0.50")
    cases: list[tuple[dict[str, Any], tuple[int, str]]] = [
        ({"fixed_ips": [{"ip_address": "10.0.0.50"}]}, (409, "IpAddressAlreadyAllocated")),
        ({"fixed_ips": [{"ip_address": "10.0.0.1"}]}, (409, "IpAddressAlreadyAllocated")),  # the gateway's
        ({"fixed_ips": [{"ip_address": "10.9.0.5"}]}, (400, "InvalidIpForNetwork")),
        ({"fixed_ips": [{"subnet_id": s["id"], "ip_address": "10.0.0.255"}]}, (400, "InvalidIpForSubnet")),
        ({"fixed_ips": [{"subnet_id": str(uuid.uuid4())}]}, (400, "InvalidInput")),
        ({"fixed_ips": [{"ip_address": "10.0.0.7"}, {"ip_address": "10.0.0.8"}]}, (400, "InvalidInput")),
        ({"mac_address": "fa:16:3e:11:22:33"}, (409, "MacAddressInUse")),
        ({"mac_address": "01:00:5e:00:00:01"}, (400, "InvalidInput")),
    ]
    for more, expected in cases:
        assert err(c.post(f"{V2}/ports", {"port": {"network_id": n["id"], **more}})) == expected, more
    assert port(c, n["id"], fixed_ips=[])["fixed_ips"] == []
    assert port(c, n["id"], fixed_ips=[{"subnet_id": s["id"]}])["fixed_ips"][0]["ip_address"] == "10.0.0.2"


def test_bulk_port_create_is_all_or_nothing(nworld: World) -> None:
    c = nworld.client
    n = net(c)
    subnet(c, n["id"], "10.0.0.0/28")  # 13 addresses for ports
    r = c.post(f"{V2}/ports", {"ports": [{"network_id": n["id"], "name": f"p{i}"} for i in range(10)]})
    assert r.status == 201 and [p["name"] for p in r.json["ports"]] == [f"p{i}" for i in range(10)]
    assert len({p["fixed_ips"][0]["ip_address"] for p in r.json["ports"]}) == 10
    before = nworld.snapshot()
    for items in (
        [{"network_id": n["id"]} for _ in range(4)],  # only 3 addresses left
        [{"network_id": n["id"]}, {"network_id": n["id"], "mac_address": "fa:16:3e:00:00:01"},
         {"network_id": n["id"], "mac_address": "fa:16:3e:00:00:01"}],
        [{"network_id": n["id"]}, {"network_id": str(uuid.uuid4())}],
        [{"network_id": n["id"]}, {"network_id": n["id"], "foo": 1}],
    ):
        r = c.post(f"{V2}/ports", {"ports": items})
        assert r.status in (400, 404, 409), r.body
        assert nworld.snapshot() == before
    assert err(c.post(f"{V2}/ports", {"ports": [{"network_id": n["id"]}] * 4})) == (
        409, "IpAddressGenerationFailure")


def test_binding_attributes_are_admin_only_and_vif_type_follows_the_host(nworld: World) -> None:
    c, admin = nworld.client, nworld.client.admin()
    n = net(c)
    p = port(c, n["id"])
    for body in ({"binding:host_id": "compute1"}, {"binding:profile": {"a": 1}}):
        assert err(c.put(f"{V2}/ports/{p['id']}", {"port": body})) == (403, "PolicyNotAuthorized")
        assert err(c.post(f"{V2}/ports", {"port": {"network_id": n["id"], **body}})) == (403, "PolicyNotAuthorized")
    assert err(c.put(f"{V2}/ports/{p['id']}", {"port": {"binding:host_id": None}})) == (403, "PolicyNotAuthorized")
    shown = admin.get(f"{V2}/ports/{p['id']}").json["port"]
    assert (shown["binding:host_id"], shown["binding:vif_type"], shown["binding:vif_details"]) == ("", "unbound", {})
    bound = admin.ok("PUT", f"{V2}/ports/{p['id']}", {"port": {"binding:host_id": "compute1"}})["port"]
    assert bound["binding:vif_type"] == "ovs"
    assert bound["binding:vif_details"] == {"connectivity": "l2", "port_filter": True, "ovs_hybrid_plug": False,
                                            "bridge_name": "br-int", "datapath_type": "netdev"}
    other = admin.ok("PUT", f"{V2}/ports/{p['id']}", {"port": {"binding:host_id": "compute2"}})["port"]
    assert (other["binding:vif_type"], other["binding:vif_details"]["datapath_type"]) == ("ovs", "system")
    early = admin.ok("PUT", f"{V2}/ports/{p['id']}", {"port": {"binding:host_id": "starting"}})["port"]
    assert (early["binding:vif_type"], early["binding:vif_details"]) == ("binding_failed", {})  # bridge not read
    failed = admin.ok("PUT", f"{V2}/ports/{p['id']}", {"port": {"binding:host_id": "nowhere"}})["port"]
    assert (failed["binding:vif_type"], failed["binding:vif_details"]) == ("binding_failed", {})
    unbound = admin.ok("PUT", f"{V2}/ports/{p['id']}", {"port": {"binding:host_id": None,
                                                                  "binding:profile": None}})["port"]
    assert (unbound["binding:host_id"], unbound["binding:vif_type"], unbound["binding:profile"]) == (
        "", "unbound", {})
    assert err(c.put(f"{V2}/ports/{p['id']}", {"port": {"binding:vnic_type": "direct"}})) == (400, "InvalidInput")
    assert len(admin.get(f"{V2}/ports?binding%3Ahost_id=nowhere").json["ports"]) == 0


def test_port_update_of_device_address_mac_and_state(nworld: World) -> None:
    c, admin = nworld.client, nworld.client.admin()
    n = net(c)
    subnet(c, n["id"])
    p = port(c, n["id"])
    u = c.ok("PUT", f"{V2}/ports/{p['id']}", {"port": {"device_id": "vm-1", "device_owner": "compute:nova",
                                                        "name": "eth0", "fixed_ips": [{"ip_address": "10.0.0.9"}],
                                                        "mac_address": "fa:16:3e:00:00:99"}})["port"]
    assert (u["device_id"], u["name"], u["fixed_ips"][0]["ip_address"], u["mac_address"], u["revision_number"]) == (
        "vm-1", "eth0", "10.0.0.9", "fa:16:3e:00:00:99", 2)
    assert c.get(f"/v1/vnics/{p['id']}").json["vnic"]["mac_address"] == "fa:16:3e:00:00:99"
    assert [x["id"] for x in c.get(f"{V2}/ports?device_id=vm-1").json["ports"]] == [p["id"]]
    assert [x["id"] for x in c.get(f"{V2}/ports?fixed_ips=ip_address%3D10.0.0.9").json["ports"]] == [p["id"]]
    assert c.get(f"{V2}/ports?fixed_ips=ip_address_substr%3D0.0.9&fields=id").json["ports"] == [{"id": p["id"]}]
    assert err(c.get(f"{V2}/ports?fixed_ips=nonsense")) == (400, "InvalidInput")
    admin.ok("PUT", f"{V2}/ports/{p['id']}", {"port": {"binding:host_id": "compute1"}})
    r = c.put(f"{V2}/ports/{p['id']}", {"port": {"mac_address": "fa:16:3e:00:00:98"}})
    assert err(r) == (409, "PortBound")
    assert err(c.put(f"{V2}/ports/{p['id']}", {"port": {"network_id": n["id"]}})) == (400, "HTTPBadRequest")
    assert err(c.put(f"{V2}/ports/{p['id']}", {"port": {"status": "ACTIVE"}})) == (400, "HTTPBadRequest")
    assert err(c.post(f"{V2}/ports", {"port": {"network_id": n["id"], "status": "ACTIVE"}})) == (
        400, "HTTPBadRequest")


def test_port_security_pairs_and_security_groups(nworld: World) -> None:
    c = nworld.client
    n = net(c)
    subnet(c, n["id"])
    p = port(c, n["id"], allowed_address_pairs=[{"ip_address": "10.0.0.100"},
                                                {"ip_address": "10.8.0.0/24", "mac_address": "fa:16:3e:aa:aa:aa"}])
    assert p["allowed_address_pairs"] == [{"ip_address": "10.0.0.100", "mac_address": p["mac_address"]},
                                          {"ip_address": "10.8.0.0/24", "mac_address": "fa:16:3e:aa:aa:aa"}]
    assert err(c.put(f"{V2}/ports/{p['id']}", {"port": {"port_security_enabled": False}})) == (409, "Conflict")
    off = c.ok("PUT", f"{V2}/ports/{p['id']}", {"port": {"port_security_enabled": False,
                                                          "allowed_address_pairs": []}})["port"]
    assert (off["port_security_enabled"], off["security_groups"]) == (False, [])
    for body, expected in (
        ({"allowed_address_pairs": [{"ip_address": "fd00::1"}]}, (400, "InvalidInput")),
        ({"allowed_address_pairs": [{"ip_address": "10.0.0.1"}] * 2}, (400, "InvalidInput")),
        ({"allowed_address_pairs": [{"ip_address": f"10.1.0.{i}"} for i in range(11)]}, (400, "InvalidInput")),
        ({"security_groups": []}, (400, "BadRequest")),  # port security with no group: Neutron drops all
        ({"security_groups": [str(uuid.uuid4())]}, (404, "SecurityGroupNotFound")),
        ({"security_groups": [group_id(OTHER)]}, (404, "SecurityGroupNotFound")),
        ({"port_security_enabled": False, "security_groups": [group_id(TENANT)]}, (400, "InvalidInput")),
    ):
        assert err(c.post(f"{V2}/ports", {"port": {"network_id": n["id"], **body}})) == expected, body
    assert port(c, n["id"], security_groups=[group_id(TENANT)])["security_groups"] == [group_id(TENANT)]
    bare = port(c, n["id"], security_groups=[], port_security_enabled=False)
    assert bare["security_groups"] == []
    # a network without a subnet: no address, so no group (as Neutron)
    assert port(c, net(c)["id"])["security_groups"] == []


def test_pairs_and_port_security_reach_the_desired_state(nworld: World) -> None:
    from sdnapp.desired import DesiredState

    c = nworld.client
    n = net(c)
    subnet(c, n["id"])
    p = port(c, n["id"], allowed_address_pairs=[{"ip_address": "10.0.0.0/28"}])
    q = port(c, n["id"], port_security_enabled=False, security_groups=[])
    nworld.service.switch_vifs_changed(1, {"tap-p": p["id"], "tap-q": q["id"]}, {})
    from topology.switches import SwitchPort

    nworld.topology.begin_port_snapshot(1)
    nworld.topology.switch_connected(1, [SwitchPort(1, "tap-p", True), SwitchPort(2, "tap-q", True)])
    state = DesiredState(nworld.store, nworld.topology, "vlan").segment_states()
    members = {m.port_id: m for s in state.values() for m in s.members}
    assert members[p["id"]].pairs == ((p["mac_address"], "10.0.0.0/28"),)
    assert members[q["id"]].port_security is False
    c.ok("PUT", f"{V2}/ports/{p['id']}", {"port": {"admin_state_up": False}})
    state = DesiredState(nworld.store, nworld.topology, "vlan").segment_states()
    assert p["id"] not in {m.port_id for s in state.values() for m in s.members}  # admin down: no flows


def test_an_admin_creates_a_port_for_another_project_as_nova_does(nworld: World) -> None:
    c = nworld.client
    n = net(c)
    subnet(c, n["id"])
    nova = nworld.client.as_(None)  # noauth without a project: an admin of the default project
    p = nova.ok("POST", f"{V2}/ports", {"port": {"network_id": n["id"], "tenant_id": TENANT, "device_id": "vm",
                                                 "admin_state_up": True}})["port"]
    assert p["tenant_id"] == TENANT and "binding:host_id" in p
    assert [x["id"] for x in c.get(f"{V2}/ports?tenant_id={TENANT}&device_id=vm").json["ports"]] == [p["id"]]
    body = {"port": {"network_id": n["id"], "tenant_id": OTHER}}
    assert err(c.post(f"{V2}/ports", body)) == (400, "InvalidInput")  # a tenant naming another project
    assert err(nova.post(f"{V2}/ports", {"port": {"network_id": n["id"], "tenant_id": "a",
                                                  "project_id": "b"}})) == (400, "HTTPBadRequest")
    own = nova.ok("POST", f"{V2}/networks", {"network": {"name": "mine"}})["network"]
    assert own["tenant_id"] == NEUTRON_DEFAULT_PROJECT


def test_another_projects_resources_are_not_found(nworld: World) -> None:
    c, b = nworld.client, nworld.client.as_(OTHER)
    n = net(c)
    s = subnet(c, n["id"])
    p = port(c, n["id"])
    for path, kind in ((f"networks/{n['id']}", "NetworkNotFound"), (f"subnets/{s['id']}", "SubnetNotFound"),
                       (f"ports/{p['id']}", "PortNotFound"), (f"security-groups/{group_id(TENANT)}",
                                                               "SecurityGroupNotFound")):
        assert err(b.get(f"{V2}/{path}")) == (404, kind), path
    assert err(b.post(f"{V2}/ports", {"port": {"network_id": n["id"]}})) == (404, "NetworkNotFound")
    assert err(b.put(f"{V2}/ports/{p['id']}", {"port": {"name": "x"}})) == (404, "PortNotFound")
    assert err(b.delete(f"{V2}/networks/{n['id']}")) == (404, "NetworkNotFound")
    assert b.get(f"{V2}/ports").json == {"ports": []}
    assert len(nworld.client.admin().get(f"{V2}/ports?tenant_id={TENANT}").json["ports"]) == 1


# --- quotas and security groups ------------------------------------------------------------------


def test_quotas_are_unlimited_unless_configured_and_enforced_on_both_faces(make_world: WorldFactory) -> None:
    w = make_neutron_world(make_world, quotas={"port": 2})
    c, admin = w.client, w.client.admin()
    assert c.get(f"{V2}/quotas/{TENANT}").json == {"quota": {"network": -1, "subnet": -1, "port": 2}}
    assert err(c.get(f"{V2}/quotas/{OTHER}")) == (403, "PolicyNotAuthorized")
    n = net(c)
    assert err(c.post(f"{V2}/ports", {"ports": [{"network_id": n["id"]}] * 3})) == (409, "OverQuota")
    port(c, n["id"])
    c.port(n["id"])  # v1 counts too
    assert err(c.post(f"{V2}/ports", {"port": {"network_id": n["id"]}})) == (409, "OverQuota")
    assert err(c.post(f"/v1/networks/{n['id']}/ports")) == (409, "OverQuota")
    details = c.get(f"{V2}/quotas/{TENANT}/details.json").json["quota"]
    assert details["port"] == {"used": 2, "limit": 2, "reserved": 0}
    assert err(c.put(f"{V2}/quotas/{TENANT}", {"quota": {"port": 5}})) == (403, "PolicyNotAuthorized")
    assert admin.ok("PUT", f"{V2}/quotas/{TENANT}", {"quota": {"port": 3}})["quota"]["port"] == 3
    assert admin.get(f"{V2}/quotas").json["quotas"][0]["project_id"] == TENANT
    port(c, n["id"])
    assert err(admin.put(f"{V2}/quotas/{TENANT}", {"quota": {"router": 3}})) == (400, "HTTPBadRequest")
    admin.ok("DELETE", f"{V2}/quotas/{TENANT}")
    assert c.get(f"{V2}/quotas/{TENANT}").json["quota"]["port"] == 2


def test_the_default_security_group_says_what_is_enforced(nworld: World) -> None:
    c = nworld.client
    groups = c.get(f"{V2}/security-groups?name=default").json["security_groups"]
    assert [g["id"] for g in groups] == [group_id(TENANT)]
    g = groups[0]
    rules = {(r["direction"], r["ethertype"]): r for r in g["security_group_rules"]}
    assert set(rules) == {(d, e) for d in ("ingress", "egress") for e in ("IPv4", "IPv6")}
    assert all(r["remote_ip_prefix"] is None and r["protocol"] is None for r in rules.values())  # allow all
    assert c.get(f"{V2}/security-groups/{g['id']}").json["security_group"] == g
    rule = next(iter(rules.values()))
    assert c.get(f"{V2}/security-group-rules/{rule['id']}").json["security_group_rule"] == rule
    assert len(c.get(f"{V2}/security-group-rules?security_group_id={g['id']}").json["security_group_rules"]) == 4
    for method, path in (("POST", "security-groups"), ("POST", "security-group-rules"),
                         ("DELETE", f"security-groups/{g['id']}"), ("DELETE", f"security-group-rules/{rule['id']}")):
        body = {"security_group": {"name": "web"}} if method == "POST" else None
        r = c.call(method, f"{V2}/{path}", body) if body else c.call(method, f"{V2}/{path}")
        assert err(r) == (405, "HTTPMethodNotAllowed"), path  # refused: never stored and ignored


# --- auth and errors -----------------------------------------------------------------------------


def test_noauth_without_a_project_is_an_admin_of_the_default_project_on_v2_only(nworld: World) -> None:
    anon = nworld.client.as_(None)
    r = anon.get(f"{V2}/networks", headers={"X-Auth-Token": "notused"})
    assert r.status == 200
    assert anon.get(f"{V2}/quotas/{ADMIN_PROJECT}").status == 200  # another project's: admins only
    assert err(anon.get("/v1/networks", headers={"X-Auth-Token": "notused"})) == (401, "Unauthorized")
    bad = nworld.client.as_("a/b")
    assert err(bad.get(f"{V2}/networks")) == (401, "HTTPUnauthorized")


def test_errors_are_neutron_error_bodies(nworld: World) -> None:
    c = nworld.client
    r = c.get(f"{V2}/networks/{uuid.uuid4()}")
    assert err(r) == (404, "NetworkNotFound")
    r = c.call("PATCH", f"{V2}/networks")
    assert err(r) == (405, "HTTPMethodNotAllowed") and r.headers["Allow"] == "GET, POST"
    assert err(c.post(f"{V2}/networks", raw=b"{nope")) == (400, "InvalidInput")
    assert err(c.post(f"{V2}/networks", {"network": "x"})) == (400, "HTTPBadRequest")
    assert err(c.post(f"{V2}/networks", {})) == (400, "HTTPBadRequest")
    assert err(c.post(f"{V2}/networks", {"network": {}, "networks": []})) == (400, "HTTPBadRequest")
    assert err(c.post(f"{V2}/networks", {"network": {}}, content_type="text/plain")) == (
        415, "HTTPUnsupportedMediaType")
    r = c.post(f"{V2}/ports", {"port": {"network_id": "x", "admin_state_up": "yes"}})
    assert err(r) == (400, "InvalidInput") and "admin_state_up" in r.json["NeutronError"]["message"]
    r = c.post(f"{V2}/ports", {"port": {"name": "x"}})
    assert r.json["NeutronError"]["message"] == "Failed to parse request. Required attribute 'network_id' not specified"
    r = c.post(f"{V2}/networks", {"networks": [{"name": "a"}, {"nonsense": 1}]})
    assert r.json["NeutronError"]["message"] == "Unrecognized attribute(s) 'nonsense'"


@pytest.mark.parametrize("path", ["/v2.0x", "/v2"])
def test_paths_beside_v2_are_v1s(nworld: World, path: str) -> None:
    assert err(nworld.client.get(path)) == (404, "NotFound")
