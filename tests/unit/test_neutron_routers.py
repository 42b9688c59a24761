"""Neutron's routers and floating IPs over the `nat` extension (sdnapp/routerops.py, rest/neutron/routers.py,
rest/neutron/floatingips.py): the external network as configured, a router's gateway and its one
interface making a tenant subnet NATed (the store's NAT state, which the switches' flows are made from),
floating IPs on ports behind a router, and Neutron's refusals where sdnapp's model says no."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sdnapp import store as store_module
from sdnapp.routerops import EXTERNAL_NETWORK_ID, EXTERNAL_SUBNET_ID, ROUTER_MAC
from sdnapp.store import Store

from .conftest import EXTERNAL, OTHER, TENANT, Client, World, WorldFactory, make_neutron_world

V2 = "/v2.0"
GATEWAY = {"network_id": EXTERNAL_NETWORK_ID}


def _net(c: Client, name: str, cidr: str) -> tuple[dict[str, Any], dict[str, Any]]:
    n = c.ok("POST", f"{V2}/networks", {"network": {"name": name}})["network"]
    s = c.ok("POST", f"{V2}/subnets", {"subnet": {"network_id": n["id"], "cidr": cidr, "ip_version": 4}})["subnet"]
    return n, s


def _router(c: Client, gateway: bool = True, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "r", **more}
    if gateway:
        body["external_gateway_info"] = GATEWAY
    return dict(c.ok("POST", f"{V2}/routers", {"router": body})["router"])


def _nat(w: World, network_id: str) -> tuple[bool, str | None]:
    """The network's NAT state as v1 shows it: NATed or not, and its outside address."""
    n = w.client.admin().ok("GET", f"/v1/networks/{network_id}")["network"]
    return n["nat"], n["external_address"]


def _nat_segments(w: World) -> dict[int, tuple[str, str, list[tuple[str, str]]]]:
    """What the switches' NAT flows are made from."""
    with w.store.read() as tx:
        return tx.nat_segments(w.service.pool.type)


def _err(r: Any) -> tuple[int, str]:
    return r.status, r.error_type


def test_the_external_network_is_the_configured_one_for_everyone(l3world: World) -> None:
    for who in (l3world.client, l3world.client.as_(OTHER), l3world.client.admin()):
        (ext,) = who.ok("GET", f"{V2}/networks?router:external=true")["networks"]
        assert (ext["id"], ext["name"], ext["router:external"], ext["subnets"]) == (
            EXTERNAL_NETWORK_ID, "public", True, [EXTERNAL_SUBNET_ID])
        sub = who.ok("GET", f"{V2}/subnets/{EXTERNAL_SUBNET_ID}")["subnet"]
        assert (sub["cidr"], sub["gateway_ip"], sub["allocation_pools"], sub["enable_dhcp"]) == (
            EXTERNAL.prefix, EXTERNAL.next_hop, [{"start": "203.0.113.10", "end": "203.0.113.17"}], False)
        assert who.ok("GET", f"{V2}/networks/{EXTERNAL_NETWORK_ID}")["network"] == ext
    assert l3world.client.ok("GET", f"{V2}/networks?router:external=false")["networks"] == []


def test_the_external_network_is_not_made_or_changed_through_the_api(l3world: World) -> None:
    c, admin = l3world.client, l3world.client.admin()
    before = admin.ok("GET", f"{V2}/networks")
    assert _err(c.delete(f"{V2}/networks/{EXTERNAL_NETWORK_ID}")) == (403, "PolicyNotAuthorized")
    assert _err(admin.delete(f"{V2}/networks/{EXTERNAL_NETWORK_ID}")) == (409, "NetworkInUse")
    assert _err(admin.put(f"{V2}/networks/{EXTERNAL_NETWORK_ID}", {"network": {"name": "x"}})) == (
        400, "InvalidInput")
    assert _err(admin.delete(f"{V2}/subnets/{EXTERNAL_SUBNET_ID}")) == (409, "SubnetInUse")
    r = admin.post(f"{V2}/networks", {"network": {"name": "ext2", "router:external": True}})
    assert r.status == 400 and "configured" in r.json["NeutronError"]["message"]
    r = admin.post(f"{V2}/ports", {"port": {"network_id": EXTERNAL_NETWORK_ID}})
    assert r.status == 400 and "external network" in r.json["NeutronError"]["message"]
    assert admin.ok("GET", f"{V2}/networks") == before


def test_without_an_external_network_routers_and_floating_ips_are_not_offered(nworld: World) -> None:
    c = nworld.client
    aliases = {e["alias"] for e in c.ok("GET", f"{V2}/extensions")["extensions"]}
    assert not aliases & {"router", "ext-gw-mode"}
    assert c.get(f"{V2}/routers").status == 404
    assert c.get(f"{V2}/floatingips").status == 404
    assert c.ok("GET", f"{V2}/networks?router:external=true")["networks"] == []
    assert {r["collection"] for r in c.ok("GET", V2)["resources"]} == {"networks", "subnets", "ports"}


def test_with_one_they_are_listed(l3world: World) -> None:
    c = l3world.client
    aliases = {e["alias"] for e in c.ok("GET", f"{V2}/extensions")["extensions"]}
    assert {"router", "ext-gw-mode", "external-net"} <= aliases
    assert c.ok("GET", f"{V2}/extensions/router")["extension"]["alias"] == "router"
    assert {"routers", "floatingips"} <= {r["collection"] for r in c.ok("GET", V2)["resources"]}


def test_a_router_with_a_gateway_and_an_interface_nats_its_subnet_and_only_then(l3world: World) -> None:
    c = l3world.client
    n, s = _net(c, "web", "10.0.0.0/24")
    r = _router(c, gateway=False)
    assert r["external_gateway_info"] is None and r["status"] == "ACTIVE"
    added = c.ok("PUT", f"{V2}/routers/{r['id']}/add_router_interface", {"subnet_id": s["id"]})
    assert (added["id"], added["subnet_id"], added["subnet_ids"], added["network_id"]) == (
        r["id"], s["id"], [s["id"]], n["id"])
    assert _nat(l3world, n["id"]) == (False, None)  # an interface alone: no way out
    (iface,) = c.ok("GET", f"{V2}/ports?device_id={r['id']}")["ports"]
    assert (iface["id"], iface["device_owner"], iface["fixed_ips"], iface["mac_address"], iface["status"]) == (
        added["port_id"], "network:router_interface", [{"subnet_id": s["id"], "ip_address": "10.0.0.1"}],
        ROUTER_MAC, "DOWN")

    r = c.ok("PUT", f"{V2}/routers/{r['id']}", {"router": {"external_gateway_info": GATEWAY}})["router"]
    gw = r["external_gateway_info"]
    (fixed,) = gw["external_fixed_ips"]
    assert (gw["network_id"], gw["enable_snat"], fixed["subnet_id"]) == (EXTERNAL_NETWORK_ID, True, EXTERNAL_SUBNET_ID)
    assert _nat(l3world, n["id"]) == (True, fixed["ip_address"])
    (seg,) = _nat_segments(l3world).values()
    assert seg[:2] == ("10.0.0.0/24", fixed["ip_address"])
    assert c.ok("GET", f"{V2}/ports/{iface['id']}")["port"]["status"] == "ACTIVE"

    c.ok("PUT", f"{V2}/routers/{r['id']}", {"router": {"admin_state_up": False}})
    assert _nat(l3world, n["id"]) == (False, None) and _nat_segments(l3world) == {}
    c.ok("PUT", f"{V2}/routers/{r['id']}", {"router": {"admin_state_up": True}})
    assert _nat(l3world, n["id"]) == (True, fixed["ip_address"])

    # the gateway away (`{}` is how the CLI says it): the network is no longer NATed, its address back in the pool
    assert _err(c.put(f"{V2}/routers/{r['id']}", {"router": {"external_gateway_info": {"enable_snat": True}}})) == (
        400, "BadRequest")
    r = c.ok("PUT", f"{V2}/routers/{r['id']}", {"router": {"external_gateway_info": {}}})["router"]
    assert r["external_gateway_info"] is None and _nat(l3world, n["id"]) == (False, None)
    again = _router(c)
    assert again["external_gateway_info"]["external_fixed_ips"][0]["ip_address"] == fixed["ip_address"]


def test_taking_the_interface_off_ends_the_nat_and_frees_the_gateway_address(l3world: World) -> None:
    c = l3world.client
    n, s = _net(c, "web", "10.0.0.0/24")
    r = _router(c)
    c.ok("PUT", f"{V2}/routers/{r['id']}/add_router_interface", {"subnet_id": s["id"]})
    assert _nat(l3world, n["id"])[0]
    assert _err(c.delete(f"{V2}/routers/{r['id']}")) == (409, "RouterInUse")
    assert _err(c.delete(f"{V2}/subnets/{s['id']}")) == (409, "SubnetInUse")
    assert _err(c.delete(f"{V2}/networks/{n['id']}")) == (409, "NetworkInUse")
    gone = c.ok("PUT", f"{V2}/routers/{r['id']}/remove_router_interface", {"subnet_id": s["id"]})
    assert _nat(l3world, n["id"]) == (False, None) and _nat_segments(l3world) == {}
    assert c.ok("GET", f"{V2}/ports?device_id={r['id']}")["ports"] == []
    assert c.get(f"{V2}/ports/{gone['port_id']}").status == 404
    r2 = c.put(f"{V2}/routers/{r['id']}/remove_router_interface", {"subnet_id": s["id"]})
    assert _err(r2) == (404, "RouterInterfaceNotFoundForSubnet")
    r2 = c.put(f"{V2}/routers/{r['id']}/remove_router_interface", {"port_id": gone["port_id"]})
    assert _err(r2) == (404, "RouterInterfaceNotFound")
    c.ok("DELETE", f"{V2}/routers/{r['id']}", status=204)
    c.ok("DELETE", f"{V2}/networks/{n['id']}", status=204)


def test_a_router_joins_one_subnet_and_a_subnet_one_router(l3world: World) -> None:
    c = l3world.client
    _, s1 = _net(c, "a", "10.0.0.0/24")
    _, s2 = _net(c, "b", "10.0.1.0/24")
    r = _router(c)
    c.ok("PUT", f"{V2}/routers/{r['id']}/add_router_interface", {"subnet_id": s1["id"]})
    before = l3world.snapshot()
    second = c.put(f"{V2}/routers/{r['id']}/add_router_interface", {"subnet_id": s2["id"]})
    assert _err(second) == (400, "BadRequest") and "isolated" in second.json["NeutronError"]["message"]
    same = c.put(f"{V2}/routers/{r['id']}/add_router_interface", {"subnet_id": s1["id"]})
    assert _err(same) == (400, "BadRequest")
    other = _router(c)
    assert _err(c.put(f"{V2}/routers/{other['id']}/add_router_interface", {"subnet_id": s1["id"]})) == (
        409, "IpAddressAlreadyAllocated")
    by_port = c.put(f"{V2}/routers/{other['id']}/add_router_interface", {"port_id": s2["id"]})
    assert _err(by_port) == (400, "BadRequest")
    for body in ({}, {"subnet_id": s2["id"], "port_id": s2["id"]}):
        assert _err(c.put(f"{V2}/routers/{other['id']}/add_router_interface", body)) == (400, "BadRequest")
    assert l3world.snapshot() == before


def test_gateways_are_as_neutron_refuses_them(l3world: World) -> None:
    c, admin = l3world.client, l3world.client.admin()
    tenant_net, _ = _net(c, "t", "10.0.0.0/24")
    before = l3world.snapshot()
    cases = [
        ({"network_id": tenant_net["id"]}, (400, "BadRequest")),
        ({"network_id": EXTERNAL_NETWORK_ID, "enable_snat": False}, (400, "BadRequest")),
        ({"network_id": EXTERNAL_NETWORK_ID, "external_fixed_ips": [{"ip_address": "203.0.113.12"}]},
         (403, "PolicyNotAuthorized")),
        ({"network_id": EXTERNAL_NETWORK_ID, "bogus": 1}, (400, "InvalidInput")),
    ]
    for gw, expected in cases:
        assert _err(c.post(f"{V2}/routers", {"router": {"external_gateway_info": gw}})) == expected, gw
    for ip, expected in (("203.0.113.99", (400, "InvalidIpForSubnet")), ("nonsense", (400, "InvalidInput"))):
        gw = {"network_id": EXTERNAL_NETWORK_ID, "external_fixed_ips": [{"ip_address": ip}]}
        assert _err(admin.post(f"{V2}/routers", {"router": {"external_gateway_info": gw}})) == expected, ip
    assert l3world.snapshot() == before
    assert admin.ok("GET", f"{V2}/routers")["routers"] == []
    # an administrator's choice of address
    gw = {"network_id": EXTERNAL_NETWORK_ID, "external_fixed_ips": [{"subnet_id": EXTERNAL_SUBNET_ID,
                                                                      "ip_address": "203.0.113.12"}]}
    r = admin.ok("POST", f"{V2}/routers", {"router": {"external_gateway_info": gw}})["router"]
    assert r["external_gateway_info"]["external_fixed_ips"][0]["ip_address"] == "203.0.113.12"
    taken = admin.post(f"{V2}/floatingips", {"floatingip": {"floating_network_id": EXTERNAL_NETWORK_ID,
                                                             "floating_ip_address": "203.0.113.12"}})
    assert _err(taken) == (409, "IpAddressAlreadyAllocated")


def test_a_routers_interface_changes_only_through_the_router(l3world: World) -> None:
    c = l3world.client
    n, s = _net(c, "web", "10.0.0.0/24")
    r = _router(c)
    port_id = c.ok("PUT", f"{V2}/routers/{r['id']}/add_router_interface", {"subnet_id": s["id"]})["port_id"]
    before = l3world.snapshot()
    assert _err(c.delete(f"{V2}/ports/{port_id}")) == (409, "ServicePortInUse")
    assert _err(c.put(f"{V2}/ports/{port_id}", {"port": {"fixed_ips": []}})) == (409, "ServicePortInUse")
    assert _err(c.put(f"{V2}/ports/{port_id}", {"port": {"device_id": ""}})) == (409, "ServicePortInUse")
    assert c.delete(f"/v1/ports/{port_id}").status == 409
    assert c.delete(f"/v1/networks/{n['id']}").status == 409
    vnic = c.vnic()
    assert c.plug(port_id, vnic["id"]).status == 409
    assert _err(c.put(f"{V2}/subnets/{s['id']}", {"subnet": {"gateway_ip": "10.0.0.254"}})) == (409, "SubnetInUse")
    after = l3world.snapshot()
    assert after["networks"] == before["networks"] and after["ports"] == before["ports"]
    assert c.ok("PUT", f"{V2}/ports/{port_id}", {"port": {"name": "gw"}})["port"]["name"] == "gw"
    # a port a tenant made with that device_owner is an ordinary port
    own = c.ok("POST", f"{V2}/ports", {"port": {"network_id": n["id"], "device_owner": "network:router_interface",
                                                "device_id": r["id"]}})["port"]
    c.ok("DELETE", f"{V2}/ports/{own['id']}", status=204)


def test_a_floating_ip_needs_a_router_behind_its_port(l3world: World) -> None:
    c = l3world.client
    n, s = _net(c, "web", "10.0.0.0/24")
    p = c.ok("POST", f"{V2}/ports", {"port": {"network_id": n["id"]}})["port"]
    body = {"floatingip": {"floating_network_id": EXTERNAL_NETWORK_ID, "port_id": p["id"]}}
    r = c.post(f"{V2}/floatingips", body)
    assert _err(r) == (404, "ExternalGatewayForFloatingIPNotFound")
    assert s["id"] in r.json["NeutronError"]["message"]
    assert c.ok("GET", f"{V2}/floatingips")["floatingips"] == []

    router = _router(c)
    c.ok("PUT", f"{V2}/routers/{router['id']}/add_router_interface", {"subnet_id": s["id"]})
    f = c.ok("POST", f"{V2}/floatingips", {"floatingip": {**body["floatingip"], "description": "web"}})["floatingip"]
    ip = p["fixed_ips"][0]["ip_address"]
    assert (f["port_id"], f["fixed_ip_address"], f["router_id"], f["floating_network_id"], f["status"],
            f["description"], f["revision_number"]) == (
        p["id"], ip, router["id"], EXTERNAL_NETWORK_ID, "DOWN", "web", 1)
    (seg,) = _nat_segments(l3world).values()
    assert seg[2] == [(ip, f["floating_ip_address"])]
    assert c.ok("GET", f"{V2}/floatingips?port_id={p['id']}&fixed_ip_address={ip}")["floatingips"] == [f]
    assert _err(c.post(f"{V2}/floatingips", body)) == (409, "FloatingIPPortAlreadyAssociated")

    # what it rides on cannot go while it is there
    assert _err(c.put(f"{V2}/routers/{router['id']}/remove_router_interface", {"subnet_id": s["id"]})) == (
        409, "RouterInterfaceInUseByFloatingIP")
    assert _err(c.put(f"{V2}/routers/{router['id']}", {"router": {"external_gateway_info": None}})) == (
        409, "RouterExternalGatewayInUseByFloatingIp")
    assert _nat(l3world, n["id"])[0]
    # down, the router carries nothing, its floating IPs included; up again, all is back
    c.ok("PUT", f"{V2}/routers/{router['id']}", {"router": {"admin_state_up": False}})
    assert _nat_segments(l3world) == {}
    assert c.ok("GET", f"{V2}/floatingips/{f['id']}")["floatingip"]["router_id"] is None
    c.ok("PUT", f"{V2}/routers/{router['id']}", {"router": {"admin_state_up": True}})
    assert _nat_segments(l3world)[next(iter(_nat_segments(l3world)))][2] == [(ip, f["floating_ip_address"])]

    off = c.ok("PUT", f"{V2}/floatingips/{f['id']}", {"floatingip": {"port_id": None}})["floatingip"]
    assert (off["port_id"], off["fixed_ip_address"], off["router_id"], off["status"], off["revision_number"]) == (
        None, None, None, "DOWN", 2)
    assert _nat_segments(l3world)[next(iter(_nat_segments(l3world)))][2] == []
    wrong = c.put(f"{V2}/floatingips/{f['id']}", {"floatingip": {"port_id": p["id"], "fixed_ip_address": "10.0.0.99"}})
    assert _err(wrong) == (400, "InvalidInput")
    c.ok("PUT", f"{V2}/routers/{router['id']}/remove_router_interface", {"subnet_id": s["id"]})
    c.ok("DELETE", f"{V2}/floatingips/{f['id']}", status=204)
    assert _err(c.get(f"{V2}/floatingips/{f['id']}")) == (404, "FloatingIPNotFound")


def test_floating_ips_are_the_projects_own_and_run_out(l3world: World) -> None:
    c, other = l3world.client, l3world.client.as_(OTHER)
    n, s = _net(c, "web", "10.0.0.0/24")
    p = c.ok("POST", f"{V2}/ports", {"port": {"network_id": n["id"]}})["port"]
    router = _router(c)
    c.ok("PUT", f"{V2}/routers/{router['id']}/add_router_interface", {"subnet_id": s["id"]})
    theirs = other.ok("POST", f"{V2}/floatingips", {"floatingip": {"floating_network_id": EXTERNAL_NETWORK_ID}})
    fid = theirs["floatingip"]["id"]
    assert _err(other.put(f"{V2}/floatingips/{fid}", {"floatingip": {"port_id": p["id"]}})) == (404, "PortNotFound")
    assert _err(c.get(f"{V2}/floatingips/{fid}")) == (404, "FloatingIPNotFound")
    assert c.ok("GET", f"{V2}/floatingips")["floatingips"] == []
    assert _err(c.get(f"{V2}/routers/{router['id']}".replace(router["id"], fid))) == (404, "RouterNotFound")
    assert _err(other.get(f"{V2}/routers/{router['id']}")) == (404, "RouterNotFound")
    bad = c.post(f"{V2}/floatingips", {"floatingip": {"floating_network_id": n["id"]}})
    assert _err(bad) == (400, "BadRequest")
    # the pool of eight: one router's gateway, one floating IP of the other project, six more
    for _ in range(6):
        c.ok("POST", f"{V2}/floatingips", {"floatingip": {"floating_network_id": EXTERNAL_NETWORK_ID}})
    full = c.post(f"{V2}/floatingips", {"floatingip": {"floating_network_id": EXTERNAL_NETWORK_ID}})
    assert _err(full) == (409, "IpAddressGenerationFailure")
    assert _err(c.post(f"{V2}/routers", {"router": {"external_gateway_info": GATEWAY}})) == (
        409, "IpAddressGenerationFailure")


def test_routers_and_floating_ips_are_in_the_store(make_world: WorldFactory, tmp_path: Path) -> None:
    w = make_neutron_world(make_world, external=EXTERNAL, db="l3.db")
    c = w.client
    n, s = _net(c, "web", "10.0.0.0/24")
    p = c.ok("POST", f"{V2}/ports", {"port": {"network_id": n["id"]}})["port"]
    r = _router(c, name="edge")
    c.ok("PUT", f"{V2}/routers/{r['id']}/add_router_interface", {"subnet_id": s["id"]})
    f = c.ok("POST", f"{V2}/floatingips", {"floatingip": {"floating_network_id": EXTERNAL_NETWORK_ID,
                                                           "port_id": p["id"]}})["floatingip"]
    r = c.ok("GET", f"{V2}/routers/{r['id']}")["router"]
    again = make_neutron_world(make_world, external=EXTERNAL, db="l3.db")
    assert again.client.ok("GET", f"{V2}/routers/{r['id']}")["router"] == r
    assert again.client.ok("GET", f"{V2}/floatingips/{f['id']}")["floatingip"] == f
    assert _nat_segments(again) == _nat_segments(w)


def test_a_store_of_schema_7_keeps_its_outside_addresses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    monkeypatch.setattr(store_module, "_STEPS", store_module._STEPS[:7])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 7)
    Store(str(path)).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO networks (id, tenant_id, name, address_prefix, segment_type, segment_id, created_at, nat) "
               "VALUES ('n1', 't', 'web', '10.0.0.0/24', 'vlan', 100, 1.0, 1)")
    db.execute("INSERT INTO ports (id, tenant_id, network_id, name, ip_address, created_at) "
               "VALUES ('p1', 't', 'n1', '', '10.0.0.2', 2.0)")
    db.execute("INSERT INTO external_addresses (address, tenant_id, network_id, created_at) "
               "VALUES ('203.0.113.10', 't', 'n1', 3.0)")
    db.execute("INSERT INTO external_addresses (address, tenant_id, floating_id, port_id, created_at) "
               "VALUES ('203.0.113.11', 't', 'f1', 'p1', 4.0)")
    db.commit()
    db.close()
    monkeypatch.undo()
    s = Store(str(path))
    with s.read() as tx:
        n, f = tx.network("n1"), tx.floating("f1")
        assert tx.nat_segments("vlan") == {100: ("10.0.0.0/24", "203.0.113.10", [("10.0.0.2", "203.0.113.11")])}
    s.close()
    assert n is not None and (n.nat, n.external_address) == (True, "203.0.113.10")
    assert f is not None and (f.port_id, f.fixed_address, f.description, f.updated_at, f.revision) == (
        "p1", "10.0.0.2", "", 4.0, 0)


def test_a_v1_nated_network_takes_no_router(l3world: World) -> None:
    c = l3world.client
    n = c.network("10.5.0.0/24")  # NATed through v1, with an address of its own
    (s,) = [x for x in c.ok("GET", f"{V2}/subnets")["subnets"] if x["network_id"] == n["id"]]
    r = _router(c)
    got = c.put(f"{V2}/routers/{r['id']}/add_router_interface", {"subnet_id": s["id"]})
    assert _err(got) == (400, "BadRequest") and "v1" in got.json["NeutronError"]["message"]
    assert _nat(l3world, n["id"]) == (True, n["external_address"])


def test_nova_asks_for_floating_ips_and_gets_a_list(l3world: World) -> None:
    """nova/network/neutron.py _safe_get_floating_ips (from _build_network_info_model): `GET
    /floatingips?fixed_ip_address=&port_id=`, the floating_ip_address of each answer put in the VIF's
    network info. Where L3 is offered, a list (where it is not, the 404 test_nova_calls replays)."""
    c = l3world.client.as_(TENANT)
    got = c.get(f"{V2}/floatingips?fixed_ip_address=10.0.0.5&port_id=0c1b7c44-1d54-4c9a-9b2e-0e2f6a3c1f00")
    assert got.status == 200 and got.json == {"floatingips": []}
    n, s = _net(c, "web", "10.0.0.0/24")
    p = c.ok("POST", f"{V2}/ports", {"port": {"network_id": n["id"], "device_id": "server-1",
                                              "device_owner": "compute:nova"}})["port"]
    r = _router(c)
    c.ok("PUT", f"{V2}/routers/{r['id']}/add_router_interface", {"subnet_id": s["id"]})
    f = c.ok("POST", f"{V2}/floatingips", {"floatingip": {"floating_network_id": EXTERNAL_NETWORK_ID,
                                                           "port_id": p["id"]}})["floatingip"]
    ip = p["fixed_ips"][0]["ip_address"]
    (found,) = c.ok("GET", f"{V2}/floatingips?fixed_ip_address={ip}&port_id={p['id']}")["floatingips"]
    assert found["floating_ip_address"] == f["floating_ip_address"]
