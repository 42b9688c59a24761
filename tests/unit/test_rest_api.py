"""The REST contract (shared/API.md) over HTTP, in process: the WSGI app on a real store."""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rest.auth import TokenAuth
from rest.v1 import ROUTES
from topology.fabric import LinkEnd
from topology.switches import SwitchPort

from .conftest import MAX_BODY, OTHER, TENANT, Client, World, WorldFactory

# --- versions and extensions -----------------------------------------------------------------


def test_versions_document_has_v1_current_with_a_self_link(world: World) -> None:
    anon = world.client.as_(None)
    r = anon.get("/")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json == {
        "versions": [{"id": "v1", "status": "CURRENT", "links": [{"rel": "self", "href": "http://localhost/v1"}]}]
    }
    r = anon.get("/", headers={"Host": "net.example:9696"})
    assert r.json["versions"][0]["links"] == [{"rel": "self", "href": "http://net.example:9696/v1"}]
    assert anon.get("/v1").json["version"]["id"] == "v1"


def test_extensions_list_and_show(client: Client) -> None:
    r = client.get("/v1/extensions")
    assert r.status == 200
    exts = r.json["extensions"]
    assert {e["alias"] for e in exts} == {"ethernet-vnic", "networks"}
    for e in exts:
        assert set(e) == {"alias", "name", "description", "updated"}
        assert client.get(f"/v1/extensions/{e['alias']}").json == {"extension": e}
    r = client.get("/v1/extensions/no-such")
    assert (r.status, r.error_type) == (404, "ExtensionNotFound")


def test_calls_of_an_unsupported_extension_are_extension_not_found(make_world: WorldFactory) -> None:
    w = make_world(extensions=("ethernet-vnic",))
    c = w.client
    assert [e["alias"] for e in c.get("/v1/extensions").json["extensions"]] == ["ethernet-vnic"]
    assert c.get("/v1/extensions/networks").error_type == "ExtensionNotFound"
    some = str(uuid.uuid4())
    calls: list[tuple[str, str, Any]] = [
        ("POST", "/v1/networks", {"network": {}}),
        ("GET", "/v1/networks", None),
        ("GET", f"/v1/networks/{some}", None),
        ("DELETE", f"/v1/networks/{some}", None),
        ("POST", f"/v1/networks/{some}/ports", {"port": {}}),
        ("GET", f"/v1/networks/{some}/ports", None),
    ]
    for method, path, body in calls:
        r = c.call(method, path, body) if body is not None else c.call(method, path)
        assert (r.status, r.error_type) == (404, "ExtensionNotFound"), (method, path)
    # the core works without it
    assert c.get("/v1/ports").json == {"ports": []}
    assert c.post("/v1/vnics", {"vnic": {}}).status == 201

    w2 = make_world(extensions=("networks",), db="other.db")
    r = w2.client.post("/v1/vnics", {"vnic": {}})
    assert (r.status, r.error_type) == (404, "ExtensionNotFound")
    assert w2.client.get("/v1/vnics").json == {"vnics": []}


# --- vnics -----------------------------------------------------------------------------------


def test_vnic_create_list_show_destroy(client: Client) -> None:
    r = client.post("/v1/vnics", {"vnic": {"mac_address": "FA-16-3E-AB-CD-EF", "name": "vm1-eth0"}})
    assert r.status == 201
    v = r.json["vnic"]
    uuid.UUID(v["id"])
    assert v == {
        "id": v["id"],
        "tenant_id": TENANT,
        "name": "vm1-eth0",
        "mac_address": "fa:16:3e:ab:cd:ef",
        "port_id": None,
        "binding": None,
        "status": "DOWN",
    }
    assert client.get(f"/v1/vnics/{v['id']}").json == {"vnic": v}
    assert client.get(f"/v1/vnics/{v['id'].upper()}").json == {"vnic": v}
    assert client.get("/v1/vnics").json == {"vnics": [v]}
    r = client.delete(f"/v1/vnics/{v['id']}")
    assert (r.status, r.body) == (204, b"")
    assert client.get(f"/v1/vnics/{v['id']}").error_type == "VnicNotFound"
    assert client.delete(f"/v1/vnics/{v['id']}").error_type == "VnicNotFound"
    assert client.get("/v1/vnics").json == {"vnics": []}


def test_vnic_without_mac_gets_a_random_unique_locally_administered_unicast_one(client: Client) -> None:
    macs = set()
    for _ in range(30):
        r = client.post("/v1/vnics", {"vnic": {}})
        assert r.status == 201
        mac = r.json["vnic"]["mac_address"]
        first = int(mac[:2], 16)
        assert first & 0x01 == 0 and first & 0x02 == 2, mac
        assert mac == mac.lower() and len(mac.split(":")) == 6
        assert r.json["vnic"]["name"] == ""
        macs.add(mac)
    assert len(macs) == 30


def test_vnic_mac_is_unique_in_a_project_not_across_projects(world: World) -> None:
    a, b = world.client, world.client.as_(OTHER)
    a.vnic("fa:16:3e:00:00:01")
    before = world.snapshot()
    r = a.post("/v1/vnics", {"vnic": {"mac_address": "FA:16:3E:00:00:01"}})
    assert (r.status, r.error_type) == (409, "MacAddressInUse")
    assert world.snapshot() == before
    assert b.post("/v1/vnics", {"vnic": {"mac_address": "fa:16:3e:00:00:01"}}).status == 201


def test_destroying_a_plugged_vnic_unplugs_it(client: Client) -> None:
    net = client.network()
    port = client.port(net["id"])
    v = client.vnic()
    assert client.plug(port["id"], v["id"]).status == 200
    assert client.delete(f"/v1/vnics/{v['id']}").status == 204
    assert client.get(f"/v1/ports/{port['id']}").json["port"]["vnic_id"] is None
    assert client.get(f"/v1/ports/{port['id']}/attachment").json == {
        "attachment": {"port_id": port["id"], "vnic_id": None}
    }
    assert client.delete(f"/v1/ports/{port['id']}").status == 204


# --- networks and ports ----------------------------------------------------------------------


def test_network_create_list_show_destroy(client: Client, admin: Client) -> None:
    r = client.post("/v1/networks", {"network": {"name": "blue", "address_prefix": "10.1.0.0/24"}})
    assert r.status == 201
    n = r.json["network"]
    assert n == {
        "id": n["id"],
        "tenant_id": TENANT,
        "name": "blue",
        "address_prefix": "10.1.0.0/24",
        "status": "ACTIVE",
        "nat": False,
        "gateway_ip": "10.1.0.1",
        "external_address": None,
    }
    assert client.get(f"/v1/networks/{n['id']}").json == {"network": n}
    assert client.get("/v1/networks").json == {"networks": [n]}
    plain = client.post("/v1/networks", {"network": {}}).json["network"]
    assert plain["address_prefix"] is None and plain["name"] == ""
    assert client.delete(f"/v1/networks/{n['id']}").status == 204
    assert client.get(f"/v1/networks/{n['id']}").error_type == "NetworkNotFound"
    assert client.delete(f"/v1/networks/{n['id']}").error_type == "NetworkNotFound"
    assert [x["id"] for x in client.get("/v1/networks").json["networks"]] == [plain["id"]]


def test_segment_is_shown_to_admins_only(client: Client, admin: Client) -> None:
    n = client.network()
    assert "segment" not in n
    assert "segment" not in client.get(f"/v1/networks/{n['id']}").json["network"]
    assert all("segment" not in x for x in client.get("/v1/networks").json["networks"])
    seen = admin.get(f"/v1/networks/{n['id']}").json["network"]
    assert seen["segment"] == {"type": "vlan", "id": 100}
    assert admin.get("/v1/networks").json["networks"][0]["segment"] == {"type": "vlan", "id": 100}


def test_segments_are_distinct_and_run_out(tiny_world: World) -> None:
    c, admin = tiny_world.client, tiny_world.client.admin()
    n1, n2 = c.network(), c.network()
    segs = {admin.get(f"/v1/networks/{n['id']}").json["network"]["segment"]["id"] for n in (n1, n2)}
    assert segs == {100, 101}
    before = tiny_world.snapshot()
    r = c.post("/v1/networks", {"network": {"name": "third"}})
    assert (r.status, r.error_type) == (409, "SegmentPoolExhausted")
    assert tiny_world.snapshot() == before
    assert c.delete(f"/v1/networks/{n1['id']}").status == 204
    n3 = c.network()
    assert admin.get(f"/v1/networks/{n3['id']}").json["network"]["segment"]["id"] == min(segs)


def test_port_create_list_show_destroy(client: Client) -> None:
    net = client.network()
    r = client.post(f"/v1/networks/{net['id']}/ports", {"port": {"name": "p1"}})
    assert r.status == 201
    p = r.json["port"]
    assert p == {
        "id": p["id"],
        "tenant_id": TENANT,
        "network_id": net["id"],
        "name": "p1",
        "vnic_id": None,
        "ip_address": None,
        "status": "DOWN",
    }
    no_body = client.post(f"/v1/networks/{net['id']}/ports")
    assert no_body.status == 201 and no_body.json["port"]["name"] == ""
    empty = client.post(f"/v1/networks/{net['id']}/ports", {"port": {}})
    assert empty.status == 201
    ids = [p["id"], no_body.json["port"]["id"], empty.json["port"]["id"]]
    assert [x["id"] for x in client.get("/v1/ports").json["ports"]] == ids
    assert [x["id"] for x in client.get(f"/v1/networks/{net['id']}/ports").json["ports"]] == ids
    assert [x["id"] for x in client.get(f"/v1/ports?network_id={net['id']}").json["ports"]] == ids
    other = client.network()
    client.port(other["id"])
    assert [x["id"] for x in client.get(f"/v1/ports?network_id={net['id']}").json["ports"]] == ids
    assert client.get(f"/v1/ports/{p['id']}").json == {"port": p}
    assert client.delete(f"/v1/ports/{p['id']}").status == 204
    assert client.get(f"/v1/ports/{p['id']}").error_type == "PortNotFound"
    assert client.delete(f"/v1/ports/{p['id']}").error_type == "PortNotFound"
    r = client.post(f"/v1/networks/{uuid.uuid4()}/ports", {"port": {}})
    assert (r.status, r.error_type) == (404, "NetworkNotFound")
    assert client.get(f"/v1/networks/{uuid.uuid4()}/ports").error_type == "NetworkNotFound"


def test_destroy_network_takes_its_ports(client: Client) -> None:
    net = client.network("10.2.0.0/24")
    ports = [client.port(net["id"]) for _ in range(3)]
    keep = client.port(client.network()["id"])
    assert client.delete(f"/v1/networks/{net['id']}").status == 204
    for p in ports:
        assert client.get(f"/v1/ports/{p['id']}").error_type == "PortNotFound"
    assert client.get("/v1/ports").json == {"ports": [keep]}


def test_destroy_network_in_use_is_network_in_use(world: World) -> None:
    c = world.client
    net = c.network()
    port = c.port(net["id"])
    v = c.vnic()
    assert c.plug(port["id"], v["id"]).status == 200
    before = world.snapshot()
    r = c.delete(f"/v1/networks/{net['id']}")
    assert (r.status, r.error_type) == (409, "NetworkInUse")
    assert world.snapshot() == before
    assert c.delete(f"/v1/ports/{port['id']}/attachment").status == 204
    assert c.delete(f"/v1/networks/{net['id']}").status == 204


def test_destroy_port_with_a_vnic_plugged_is_port_in_use(world: World) -> None:
    c = world.client
    port = c.port(c.network()["id"])
    v = c.vnic()
    c.plug(port["id"], v["id"])
    before = world.snapshot()
    r = c.delete(f"/v1/ports/{port['id']}")
    assert (r.status, r.error_type) == (409, "PortInUse")
    assert v["id"] in r.json["error"]["message"]
    assert world.snapshot() == before


# --- addresses -------------------------------------------------------------------------------


def test_addresses_skip_network_gateway_and_broadcast(client: Client) -> None:
    net = client.network("10.3.0.0/24")
    ips = [client.port(net["id"])["ip_address"] for _ in range(3)]
    assert ips == ["10.3.0.2", "10.3.0.3", "10.3.0.4"]


def test_a_29_has_five_addresses_then_address_pool_exhausted(world: World) -> None:
    c = world.client
    net = c.network("192.168.7.0/29")
    ports = [c.port(net["id"]) for _ in range(5)]
    given = [p["ip_address"] for p in ports]
    assert given == [f"192.168.7.{i}" for i in range(2, 7)]
    prefix = ipaddress.ip_network("192.168.7.0/29")
    never = {str(prefix.network_address), str(prefix.network_address + 1), str(prefix.broadcast_address)}
    assert never.isdisjoint(given)
    before = world.snapshot()
    r = c.post(f"/v1/networks/{net['id']}/ports", {"port": {}})
    assert (r.status, r.error_type) == (409, "AddressPoolExhausted")
    assert world.snapshot() == before
    # a destroyed port's address is given again
    assert c.delete(f"/v1/ports/{ports[2]['id']}").status == 204
    assert c.port(net["id"])["ip_address"] == "192.168.7.4"
    assert c.post(f"/v1/networks/{net['id']}/ports").error_type == "AddressPoolExhausted"


def test_addresses_are_per_network(client: Client) -> None:
    a, b = client.network("10.4.0.0/29"), client.network("10.4.0.0/29")
    assert client.port(a["id"])["ip_address"] == client.port(b["id"])["ip_address"] == "10.4.0.2"


def test_cidr_is_normalised(client: Client) -> None:
    assert client.network("10.5.0.0/16")["address_prefix"] == "10.5.0.0/16"
    r = client.post("/v1/networks", {"network": {"address_prefix": "10.6.0.0/255.255.255.0"}})
    assert (r.status, r.error_type) == (400, "BadRequest")  # CIDR form only


# --- attachments -----------------------------------------------------------------------------


def test_plug_show_unplug_and_repeat(client: Client) -> None:
    net = client.network("10.7.0.0/24")
    port = client.port(net["id"])
    v = client.vnic()
    r = client.plug(port["id"], v["id"])
    assert (r.status, r.json) == (200, {"attachment": {"port_id": port["id"], "vnic_id": v["id"]}})
    again = client.plug(port["id"], v["id"])
    assert (again.status, again.json) == (200, r.json)
    assert client.get(f"/v1/ports/{port['id']}/attachment").json == r.json
    assert client.get(f"/v1/ports/{port['id']}").json["port"]["vnic_id"] == v["id"]
    assert client.get(f"/v1/vnics/{v['id']}").json["vnic"]["port_id"] == port["id"]
    # unplug by VNIC
    assert client.delete(f"/v1/vnics/{v['id']}/attachment").status == 204
    assert client.get(f"/v1/ports/{port['id']}/attachment").json["attachment"]["vnic_id"] is None
    assert client.get(f"/v1/vnics/{v['id']}").json["vnic"]["port_id"] is None
    assert client.delete(f"/v1/vnics/{v['id']}/attachment").status == 204  # not plugged: still 204
    # unplug by port
    assert client.plug(port["id"], v["id"]).status == 200
    assert client.delete(f"/v1/ports/{port['id']}/attachment").status == 204
    assert client.get(f"/v1/vnics/{v['id']}").json["vnic"]["port_id"] is None
    assert client.delete(f"/v1/ports/{port['id']}/attachment").status == 204
    assert client.delete(f"/v1/ports/{uuid.uuid4()}/attachment").error_type == "PortNotFound"
    assert client.delete(f"/v1/vnics/{uuid.uuid4()}/attachment").error_type == "VnicNotFound"
    assert client.get(f"/v1/ports/{uuid.uuid4()}/attachment").error_type == "PortNotFound"


def test_plug_conflicts(world: World) -> None:
    c, admin = world.client, world.client.admin()
    net = c.network()
    p1, p2 = c.port(net["id"]), c.port(net["id"])
    v1, v2 = c.vnic("fa:16:3e:00:00:01"), c.vnic("fa:16:3e:00:00:02")
    assert c.plug(p1["id"], v1["id"]).status == 200
    before = world.snapshot()
    r = c.plug(p1["id"], v2["id"])
    assert (r.status, r.error_type) == (409, "PortInUse")
    r = c.plug(p2["id"], v1["id"])
    assert (r.status, r.error_type) == (409, "AlreadyAttached")
    # the network already has a VNIC with that MAC (one of another project, plugged by an admin)
    twin = admin.vnic("fa:16:3e:00:00:01")
    before = world.snapshot()
    r = admin.plug(p2["id"], twin["id"])
    assert (r.status, r.error_type) == (409, "MacAddressInUse")
    assert world.snapshot() == before
    # in another network the same MAC is fine
    p3 = c.port(c.network()["id"])
    assert admin.plug(p3["id"], twin["id"]).status == 200
    r = c.plug(p2["id"], str(uuid.uuid4()))
    assert (r.status, r.error_type) == (404, "VnicNotFound")
    r = c.plug(str(uuid.uuid4()), v2["id"])
    assert (r.status, r.error_type) == (404, "PortNotFound")


# --- bindings --------------------------------------------------------------------------------


def _bind(c: Client, vnic_id: str, **binding: Any) -> Any:
    return c.put(f"/v1/vnics/{vnic_id}/binding", {"binding": binding})


def test_binding_is_admin_only(world: World) -> None:
    c = world.client
    v = c.vnic()
    before = world.snapshot()
    r = _bind(c, v["id"], datapath_id="0000000000000001", port_name="s1-eth1")
    assert (r.status, r.error_type) == (403, "Forbidden")
    r = c.delete(f"/v1/vnics/{v['id']}/binding")
    assert (r.status, r.error_type) == (403, "Forbidden")
    assert world.snapshot() == before
    assert c.as_(TENANT, "member,reader").get("/v1/switches").error_type == "Forbidden"
    assert c.get("/v1/links").error_type == "Forbidden"


def test_bind_by_name_or_number_and_unbind(world: World) -> None:
    c, admin = world.client, world.client.admin()
    v = c.vnic()
    r = _bind(admin, v["id"], datapath_id="0000000000000001", port_name="s1-eth1")
    assert r.status == 200
    expected = {"datapath_id": "0000000000000001", "port_no": None, "port_name": "s1-eth1", "source": "api"}
    assert r.json == {"binding": expected}
    assert c.get(f"/v1/vnics/{v['id']}").json["vnic"]["binding"] == expected
    # once the switch reports the port, both its number and name show
    world.topology.begin_port_snapshot(1)
    world.topology.switch_connected(1, [SwitchPort(7, "s1-eth1", True)])
    assert c.get(f"/v1/vnics/{v['id']}").json["vnic"]["binding"]["port_no"] == 7
    r = _bind(admin, v["id"], datapath_id="0x2", port_no=3)
    assert r.json == {"binding": {"datapath_id": "0000000000000002", "port_no": 3, "port_name": None, "source": "api"}}
    assert admin.delete(f"/v1/vnics/{v['id']}/binding").status == 204
    assert c.get(f"/v1/vnics/{v['id']}").json["vnic"]["binding"] is None
    assert admin.delete(f"/v1/vnics/{v['id']}/binding").status == 204
    assert _bind(admin, str(uuid.uuid4()), datapath_id="1", port_no=1).error_type == "VnicNotFound"


def test_a_switch_port_is_bound_to_one_vnic(world: World) -> None:
    admin = world.client.admin()
    v1, v2 = world.client.vnic(), world.client.vnic()
    assert _bind(admin, v1["id"], datapath_id="1", port_no=5).status == 200
    before = world.snapshot()
    r = _bind(admin, v2["id"], datapath_id="0000000000000001", port_no=5)
    assert (r.status, r.error_type) == (409, "BindingInUse")
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "given",
    ["0000000000000001", "0x1", "0X0000000000000001", "1", 1, "00000000000000ff", "0xff", "255"],
)
def test_datapath_id_forms_are_accepted(world: World, given: object) -> None:
    admin = world.client.admin()
    v = world.client.vnic()
    r = _bind(admin, v["id"], datapath_id=given, port_no=1)
    assert r.status == 200, r.body
    one = given in ("0000000000000001", "0x1", "0X0000000000000001", "1", 1)
    assert r.json["binding"]["datapath_id"] == ("0000000000000001" if one else "00000000000000ff")


@pytest.mark.parametrize(
    "given",
    ["", " ", "xyz", "0x", "0xg", "-1", "0x-1", "g000000000000001", "00:00:00:00:00:00:00:01",
     "0x10000000000000000", "18446744073709551616", "1.5", 2**64, -1, 1.5, True, None, [], {}],
)
def test_bad_datapath_ids_are_bad_request(world: World, given: object) -> None:
    admin = world.client.admin()
    v = world.client.vnic()
    before = world.snapshot()
    r = _bind(admin, v["id"], datapath_id=given, port_no=1)
    assert (r.status, r.error_type) == (400, "BadRequest")
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "binding",
    [
        {"datapath_id": "1", "port_no": 1, "port_name": "s1-eth1"},
        {"datapath_id": "1"},
        {"port_no": 1},
        {"datapath_id": "1", "port_no": 0},
        {"datapath_id": "1", "port_no": 0xFFFFFF01},
        {"datapath_id": "1", "port_no": "1"},
        {"datapath_id": "1", "port_name": ""},
        {"datapath_id": "1", "port_name": "x" * 256},
        {"datapath_id": "1", "port_no": None},
    ],
)
def test_bind_needs_exactly_one_valid_port_name_or_port_no(world: World, binding: dict[str, Any]) -> None:
    admin = world.client.admin()
    v = world.client.vnic()
    before = world.snapshot()
    r = admin.put(f"/v1/vnics/{v['id']}/binding", {"binding": binding})
    assert (r.status, r.error_type) == (400, "BadRequest")
    assert world.snapshot() == before


# --- tenancy ---------------------------------------------------------------------------------


@pytest.fixture
def two_tenants(world: World) -> dict[str, Any]:
    a = world.client
    net = a.network("10.8.0.0/24")
    port = a.port(net["id"])
    vnic = a.vnic()
    a.plug(port["id"], vnic["id"])
    b = world.client.as_(OTHER)
    bnet = b.network()
    bport = b.port(bnet["id"])
    bvnic = b.vnic()
    return {"net": net, "port": port, "vnic": vnic, "bnet": bnet, "bport": bport, "bvnic": bvnic}


ID_ROUTES = [r for r in ROUTES if set(r.regex.groupindex) & {"network_id", "port_id", "vnic_id"}]


@pytest.mark.parametrize("route", ID_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_another_tenants_ids_are_not_found(world: World, two_tenants: dict[str, Any], route: Any) -> None:
    b = world.client.as_(OTHER)
    ids = {"network_id": two_tenants["net"]["id"], "port_id": two_tenants["port"]["id"],
           "vnic_id": two_tenants["vnic"]["id"]}
    bodies = {
        "plug": {"attachment": {"vnic_id": two_tenants["bvnic"]["id"]}},
        "bind": {"binding": {"datapath_id": "1", "port_no": 1}},
        "create_port": {"port": {}},
    }
    before = world.snapshot()
    body = bodies.get(route.name)
    path = route.path.format(**ids)
    r = b.call(route.method, path, body) if body is not None else b.call(route.method, path)
    if route.admin:
        assert (r.status, r.error_type) == (403, "Forbidden")  # admin-only whatever the id
    else:
        kind = route.path.split("/")[2][:-1]  # vnics -> vnic, ports -> port, networks -> network
        want = {"vnic": "VnicNotFound", "port": "PortNotFound", "network": "NetworkNotFound"}[kind]
        assert (r.status, r.error_type) == (404, want)
        assert "forbidden" not in r.body.decode().lower()  # nothing hints that it exists
    assert world.snapshot() == before


def test_plugging_another_tenants_vnic_is_vnic_not_found(world: World, two_tenants: dict[str, Any]) -> None:
    b = world.client.as_(OTHER)
    before = world.snapshot()
    r = b.plug(two_tenants["bport"]["id"], two_tenants["vnic"]["id"])
    assert (r.status, r.error_type) == (404, "VnicNotFound")
    assert world.snapshot() == before


def test_another_tenants_network_as_port_filter_matches_nothing(world: World, two_tenants: dict[str, Any]) -> None:
    b = world.client.as_(OTHER)
    r = b.get(f"/v1/ports?network_id={two_tenants['net']['id']}")
    assert r.status == 200 and r.json == {"ports": []}
    r = b.get(f"/v1/ports?network_id={uuid.uuid4()}")
    assert r.status == 200 and r.json == {"ports": []}


def test_lists_show_own_resources_and_admins_see_all(world: World, two_tenants: dict[str, Any]) -> None:
    a, b, admin = world.client, world.client.as_(OTHER), world.client.admin()
    for what in ("networks", "ports", "vnics"):
        mine = {x["id"] for x in a.get(f"/v1/{what}").json[what]}
        theirs = {x["id"] for x in b.get(f"/v1/{what}").json[what]}
        everything = admin.get(f"/v1/{what}").json[what]
        assert mine and theirs and not mine & theirs
        assert {x["id"] for x in everything} == mine | theirs
        assert {x["tenant_id"] for x in everything} == {TENANT, OTHER}
        only_b = admin.get(f"/v1/{what}?tenant_id={OTHER}").json[what]
        assert {x["id"] for x in only_b} == theirs
        assert admin.get(f"/v1/{what}?tenant_id=nobody").json[what] == []
        # a non-admin's tenant_id filter cannot widen what it sees
        assert {x["id"] for x in b.get(f"/v1/{what}?tenant_id={TENANT}").json[what]} == theirs
    # an admin reaches any project's resources by id
    assert admin.get(f"/v1/ports/{two_tenants['port']['id']}").status == 200
    assert admin.get(f"/v1/networks/{two_tenants['bnet']['id']}/ports").status == 200


def test_admin_role_comes_from_x_roles(world: World) -> None:
    c = world.client
    assert c.as_(TENANT, "Admin").get("/v1/switches").status == 200
    assert c.as_(TENANT, "member, admin ").get("/v1/switches").status == 200
    assert c.as_(TENANT, "administrator").get("/v1/switches").status == 403


# --- authentication --------------------------------------------------------------------------


NON_PUBLIC = [r for r in ROUTES if not r.public]


@pytest.mark.parametrize("route", NON_PUBLIC, ids=lambda r: f"{r.method} {r.path}")
def test_noauth_without_project_is_unauthorized(world: World, route: Any) -> None:
    anon = world.client.as_(None)
    path = route.path.format(vnic_id=uuid.uuid4(), port_id=uuid.uuid4(), network_id=uuid.uuid4(), alias="networks",
                             floating_id=uuid.uuid4())
    r = anon.call(route.method, path)
    assert (r.status, r.error_type) == (401, "Unauthorized")


@pytest.mark.parametrize("project", ["", "has space", "x" * 65, "a/b", "t\u00e9"])
def test_noauth_with_a_bad_project_is_unauthorized(world: World, project: str) -> None:
    r = world.client.get("/v1/vnics", headers={"X-Project-Id": project})
    assert (r.status, r.error_type) == (401, "Unauthorized")


def test_public_routes_need_no_project(world: World) -> None:
    anon = world.client.as_(None)
    for r in ROUTES:
        if r.public:
            path = r.path.format(asset="index.html")
            assert anon.get(path).status == 200, r.path


def test_noauth_ignores_a_token(world: World) -> None:
    r = world.client.as_(None).get("/v1/vnics", headers={"X-Auth-Token": "secret"})
    assert r.status == 401


def _token_world(make_world: WorldFactory, tmp_path: Path) -> World:
    tokens = {
        "tokens": [
            {"sha256": hashlib.sha256(b"tenant-secret").hexdigest(), "project_id": "proj-1", "roles": ["member"]},
            {"sha256": hashlib.sha256(b"admin-secret").hexdigest(), "project_id": "ops", "roles": ["admin"]},
        ]
    }
    path = tmp_path / "tokens.yaml"
    path.write_text(yaml.safe_dump(tokens))
    return make_world(auth=TokenAuth.from_file(str(path)), db="token.db")


def test_token_auth_accepts_the_right_token(make_world: WorldFactory, tmp_path: Path) -> None:
    w = _token_world(make_world, tmp_path)
    tenant = w.client.as_(None)
    r = tenant.post("/v1/vnics", {"vnic": {}}, headers={"X-Auth-Token": "tenant-secret"})
    assert r.status == 201 and r.json["vnic"]["tenant_id"] == "proj-1"
    assert tenant.get("/v1/switches", headers={"X-Auth-Token": "tenant-secret"}).status == 403
    assert tenant.get("/v1/switches", headers={"X-Auth-Token": "admin-secret"}).status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Auth-Token": ""},
        {"X-Auth-Token": "wrong"},
        {"X-Auth-Token": "tenant-secret "},
        {"X-Auth-Token": hashlib.sha256(b"tenant-secret").hexdigest()},  # the digest is not the token
        {"X-Project-Id": "proj-1", "X-Roles": "admin"},  # noauth headers mean nothing here
    ],
)
def test_token_auth_refuses_missing_and_wrong_tokens(
    make_world: WorldFactory, tmp_path: Path, headers: dict[str, str]
) -> None:
    w = _token_world(make_world, tmp_path)
    anon = w.client.as_(None)
    calls: list[tuple[str, str, Any]] = [("GET", "/v1/vnics", None), ("POST", "/v1/networks", {"network": {}})]
    for method, path, body in calls:
        r = anon.call(method, path, body, headers=headers) if body else anon.call(method, path, headers=headers)
        assert (r.status, r.error_type) == (401, "Unauthorized")
    assert anon.get("/v1/vnics", headers={"X-Auth-Token": "admin-secret"}).json == {"vnics": []}


# --- bad input: the documented 4xx, the error shape, and nothing changed ---------------------


@pytest.fixture
def seeded(world: World) -> dict[str, str]:
    c = world.client
    net = c.network("10.10.0.0/24")
    port = c.port(net["id"])
    vnic = c.vnic("fa:16:3e:00:00:aa")
    free_vnic = c.vnic()
    c.plug(port["id"], vnic["id"])
    return {"net": net["id"], "port": port["id"], "vnic": vnic["id"], "free": free_vnic["id"]}


def _deep(n: int) -> bytes:
    return b'{"network": ' + b"[" * n + b"]" * n + b"}"


BAD_JSON = [
    b'{"network": {',
    b'{"network": {}}}',
    b"{'network': {}}",
    b'{"network": {"name": "a",}}',
    b"\xff\xfe{}",
    b'\xef\xbb\xbf{"network": {}}',
    b'{"network": {"name": NaN}}',
    b'{"network": {"name": Infinity}}',
    b'{"network": {"name": "\\ud800"}}',
    b'{"network": {"name": "\xed\xa0\x80"}}',
    b'{"network": {"name": "\\x41"}}',
    b"null",
    _deep(50_000)[:MAX_BODY - 10] + b"}",
    _deep(20_000),
]


@pytest.mark.parametrize("raw", BAD_JSON, ids=range(len(BAD_JSON)))
def test_malformed_json_is_bad_request(world: World, raw: bytes) -> None:
    before = world.snapshot()
    r = world.client.post("/v1/networks", raw=raw)
    assert (r.status, r.error_type) == (400, "BadRequest")
    assert world.snapshot() == before


BAD_BODIES: list[tuple[str, str, Any]] = [
    # wrong JSON types
    ("POST", "/v1/networks", []),
    ("POST", "/v1/networks", "network"),
    ("POST", "/v1/networks", 1),
    ("POST", "/v1/networks", {}),
    ("POST", "/v1/networks", {"network": None}),
    ("POST", "/v1/networks", {"network": []}),
    ("POST", "/v1/networks", {"network": {"name": 5}}),
    ("POST", "/v1/networks", {"network": {"name": None}}),
    ("POST", "/v1/networks", {"network": {"name": "x" * 256}}),
    ("POST", "/v1/networks", {"network": {"name": "bad\nname"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": 10}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": ["10.0.0.0/24"]}}),
    ("POST", "/v1/vnics", {"vnic": "fa:16:3e:00:00:01"}),
    ("POST", "/v1/vnics", {"vnic": {"mac_address": 0xFA163E000001}}),
    ("POST", "/v1/vnics", {"vnic": {"name": True}}),
    ("POST", "/v1/networks/{net}/ports", {"port": {"name": ["p"]}}),
    ("POST", "/v1/networks/{net}/ports", {"port": None}),
    ("POST", "/v1/networks/{net}/ports", {}),
    ("PUT", "/v1/ports/{port}/attachment", {"attachment": {"vnic_id": 5}}),
    ("PUT", "/v1/ports/{port}/attachment", {"attachment": {}}),
    ("PUT", "/v1/ports/{port}/attachment", {"attachment": None}),
    ("PUT", "/v1/ports/{port}/attachment", {"vnic_id": "{free}"}),
    # unknown fields
    ("POST", "/v1/networks", {"network": {}, "extra": 1}),
    ("POST", "/v1/networks", {"network": {"segment": {"type": "vlan", "id": 7}}}),
    ("POST", "/v1/networks", {"network": {"tenant_id": "tenant-b"}}),
    ("POST", "/v1/networks", {"network": {"id": "0d4b5a14-6c0e-4f0a-8a43-8f6f1d3c1c11"}}),
    ("POST", "/v1/vnics", {"vnic": {"port_id": "{port}"}}),
    ("POST", "/v1/vnics", {"vnic": {"mac": "fa:16:3e:00:00:01"}}),
    ("POST", "/v1/networks/{net}/ports", {"port": {"ip_address": "10.10.0.9"}}),
    ("POST", "/v1/networks/{net}/ports", {"port": {}, "network_id": "{net}"}),
    ("PUT", "/v1/ports/{port}/attachment", {"attachment": {"vnic_id": "{free}", "port_id": "{port}"}}),
    # bad MACs
    ("POST", "/v1/vnics", {"vnic": {"mac_address": "01:00:5e:00:00:01"}}),
    ("POST", "/v1/vnics", {"vnic": {"mac_address": "33:33:00:00:00:01"}}),
    ("POST", "/v1/vnics", {"vnic": {"mac_address": "ff:ff:ff:ff:ff:ff"}}),
    ("POST", "/v1/vnics", {"vnic": {"mac_address": "00:00:00:00:00:00"}}),
    ("POST", "/v1/vnics", {"vnic": {"mac_address": "zz:zz:zz:zz:zz:zz"}}),
    ("POST", "/v1/vnics", {"vnic": {"mac_address": "fa:16:3e:00:00"}}),
    ("POST", "/v1/vnics", {"vnic": {"mac_address": "fa:16:3e:00:00:01:02"}}),
    ("POST", "/v1/vnics", {"vnic": {"mac_address": "fa:16:3e-00:00:01"}}),
    ("POST", "/v1/vnics", {"vnic": {"mac_address": "fa16.3e00.0001"}}),
    ("POST", "/v1/vnics", {"vnic": {"mac_address": "fa:16:3e:0:0:1"}}),
    ("POST", "/v1/vnics", {"vnic": {"mac_address": "fa:16:3e:00:00:01\n"}}),
    ("POST", "/v1/vnics", {"vnic": {"mac_address": ""}}),
    ("POST", "/v1/vnics", {"vnic": {"mac_address": None}}),
    # bad CIDRs
    ("POST", "/v1/networks", {"network": {"address_prefix": "10.0.0.1/24"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": "10.0.0.0"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": "fd00::/64"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": "10.0.0.0/30"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": "10.0.0.0/31"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": "10.0.0.0/32"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": "10.0.0.0/33"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": "10.0.0.0/-1"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": "256.0.0.0/8"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": "010.0.0.0/8"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": " 10.0.0.0/24"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": "10.0.0.0/24\n"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": "garbage"}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": ""}}),
    ("POST", "/v1/networks", {"network": {"address_prefix": "10.0.0.0/8/8"}}),
]


def _fill(template: str, ids: dict[str, str]) -> str:
    return template.format(**ids) if "{" in template else template


def _fill_body(body: Any, ids: dict[str, str]) -> Any:
    if isinstance(body, dict):
        return {_fill(k, ids): _fill_body(v, ids) for k, v in body.items()}
    if isinstance(body, str) and body.startswith("{") and body.endswith("}") and body[1:-1] in ids:
        return ids[body[1:-1]]
    return body


@pytest.mark.parametrize("case", BAD_BODIES, ids=[f"{m} {p} {b!r}"[:90] for m, p, b in BAD_BODIES])
def test_bad_bodies_are_bad_request_and_change_nothing(
    world: World, seeded: dict[str, str], case: tuple[str, str, Any]
) -> None:
    method, template, body = case
    before = world.snapshot()
    r = world.client.call(method, _fill(template, seeded), _fill_body(body, seeded))
    assert (r.status, r.error_type) == (400, "BadRequest"), r.body
    assert world.snapshot() == before


BODY_ROUTES = [
    ("POST", "/v1/networks", {"network": {}}),
    ("POST", "/v1/vnics", {"vnic": {}}),
    ("POST", "/v1/networks/{net}/ports", {"port": {}}),
    ("PUT", "/v1/ports/{port}/attachment", {"attachment": {"vnic_id": "{free}"}}),
    ("PUT", "/v1/vnics/{free}/binding", {"binding": {"datapath_id": "1", "port_no": 1}}),
]


@pytest.mark.parametrize("case", BODY_ROUTES, ids=[f"{m} {p}" for m, p, _ in BODY_ROUTES])
def test_oversized_body_is_request_too_large(world: World, seeded: dict[str, str], case: Any) -> None:
    method, template, _ = case
    admin = world.client.admin()
    before = world.snapshot()
    big = b'{"network": {"name": "' + b"a" * MAX_BODY + b'"}}'
    r = admin.call(method, _fill(template, seeded), raw=big)
    assert (r.status, r.error_type) == (413, "RequestTooLarge")
    # exactly at the limit is read (and then judged on its content)
    at_limit = b" " * (MAX_BODY - 2) + b"{}"
    assert admin.call(method, _fill(template, seeded), raw=at_limit).status == 400
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "application/json; charset=latin-1",
     "application/json-patch+json", None],
)
@pytest.mark.parametrize("case", BODY_ROUTES, ids=[f"{m} {p}" for m, p, _ in BODY_ROUTES])
def test_wrong_content_type_is_unsupported_media_type(
    world: World, seeded: dict[str, str], case: Any, content_type: str | None
) -> None:
    method, template, body = case
    admin = world.client.admin()
    before = world.snapshot()
    r = admin.call(method, _fill(template, seeded), _fill_body(body, seeded), content_type=content_type)
    assert (r.status, r.error_type) == (415, "UnsupportedMediaType")
    assert world.snapshot() == before


def test_json_content_type_with_utf8_charset_is_fine(client: Client) -> None:
    r = client.post("/v1/networks", {"network": {}}, content_type="application/json; charset=utf-8")
    assert r.status == 201


QUERIES = [
    ("GET", "/v1/vnics?foo=1"),
    ("GET", "/v1/networks?name=x"),
    ("GET", "/v1/ports?limit=10"),
    ("GET", "/v1/ports?network_id={net}&network_id={net}"),
    ("GET", "/v1/vnics?tenant_id="),
    ("GET", "/v1/vnics/{vnic}?fields=id"),
    ("GET", "/v1/networks/{net}/ports?network_id={net}"),
    ("GET", "/v1/extensions?alias=networks"),
    ("GET", "/?x=1"),
    ("GET", "/v1/vnics?tenant_id=%ff"),
    ("POST", "/v1/networks?name=x"),
    ("POST", "/v1/vnics?mac_address=fa:16:3e:00:00:01"),
    ("DELETE", "/v1/ports/{port}/attachment?force=1"),
    ("DELETE", "/v1/networks/{net}?cascade=true"),
]


@pytest.mark.parametrize("case", QUERIES, ids=[f"{m} {p}" for m, p in QUERIES])
def test_unknown_query_parameters_are_bad_request(world: World, seeded: dict[str, str], case: Any) -> None:
    method, template = case
    before = world.snapshot()
    body: Any = None
    if method == "POST":
        body = {"network": {}} if "networks" in template else {"vnic": {}}
    path = _fill(template, seeded)
    r = world.client.call(method, path, body) if body is not None else world.client.call(method, path)
    assert (r.status, r.error_type) == (400, "BadRequest")
    assert world.snapshot() == before


def test_a_body_where_none_is_taken_is_bad_request(world: World, seeded: dict[str, str]) -> None:
    before = world.snapshot()
    r = world.client.delete(f"/v1/networks/{seeded['net']}", raw=b'{"force": true}')
    assert (r.status, r.error_type) == (400, "BadRequest")
    r = world.client.get("/v1/vnics", raw=b"{}")
    assert (r.status, r.error_type) == (400, "BadRequest")
    assert world.snapshot() == before


NOT_UUIDS = ["abc", "1", "0" * 32, "{%s}" % ("0" * 8 + "-0000-0000-0000-" + "0" * 12), "x" * 300,
             "0d4b5a14-6c0e-4f0a-8a43-8f6f1d3c1c1g", "%ff", "..", "null"]


@pytest.mark.parametrize("bad", NOT_UUIDS)
def test_non_uuid_ids_are_not_found(world: World, seeded: dict[str, str], bad: str) -> None:
    c = world.client
    before = world.snapshot()
    expect = {
        ("GET", f"/v1/vnics/{bad}"): "VnicNotFound",
        ("DELETE", f"/v1/vnics/{bad}"): "VnicNotFound",
        ("DELETE", f"/v1/vnics/{bad}/attachment"): "VnicNotFound",
        ("GET", f"/v1/ports/{bad}"): "PortNotFound",
        ("DELETE", f"/v1/ports/{bad}"): "PortNotFound",
        ("GET", f"/v1/ports/{bad}/attachment"): "PortNotFound",
        ("DELETE", f"/v1/ports/{bad}/attachment"): "PortNotFound",
        ("GET", f"/v1/networks/{bad}"): "NetworkNotFound",
        ("DELETE", f"/v1/networks/{bad}"): "NetworkNotFound",
        ("GET", f"/v1/networks/{bad}/ports"): "NetworkNotFound",
    }
    for (method, path), want in expect.items():
        r = c.call(method, path)
        assert r.status == 404 and r.error_type in (want, "NotFound"), (method, path, r.body)
    r = c.plug(bad, seeded["free"])
    assert r.status == 404 and r.error_type in ("PortNotFound", "NotFound")
    r = c.put(f"/v1/ports/{seeded['port']}/attachment", {"attachment": {"vnic_id": bad[:64]}})
    assert (r.status, r.error_type) in ((404, "VnicNotFound"), (400, "BadRequest"))
    r = c.post(f"/v1/networks/{bad}/ports", {"port": {}})
    assert r.status == 404 and r.error_type in ("NetworkNotFound", "NotFound")
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "path",
    ["/v2", "/v2/networks", "/v1/foo", "/v1/vnic", "/v1/vnics/{vnic}/ports", "/v1/networks/{net}/ports/{port}",
     "/v1/ports/{port}/attachment/x", "/V1/networks", "/v1/openapi.yaml", "//", "/v1//networks", "/%ff"],
)
def test_unknown_routes_are_not_found(world: World, seeded: dict[str, str], path: str) -> None:
    before = world.snapshot()
    for method in ("GET", "DELETE"):
        r = world.client.call(method, _fill(path, seeded))
        assert (r.status, r.error_type) == (404, "NotFound"), (method, path)
    r = world.client.post(_fill(path, seeded), {"network": {}})
    assert (r.status, r.error_type) == (404, "NotFound")
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "method, path, allow",
    [
        ("PATCH", "/v1/vnics", {"GET", "POST"}),
        ("PATCH", "/v1/vnics/", {"GET", "POST"}),
        ("PUT", "/v1/networks/{net}/", {"GET", "DELETE"}),
        ("DELETE", "/v1/vnics", {"GET", "POST"}),
        ("PUT", "/v1/networks", {"GET", "POST"}),
        ("POST", "/v1/ports", {"GET"}),
        ("PUT", "/v1/vnics/{vnic}", {"GET", "DELETE"}),
        ("POST", "/v1/networks/{net}", {"GET", "DELETE"}),
        ("POST", "/v1/ports/{port}/attachment", {"GET", "PUT", "DELETE"}),
        ("GET", "/v1/vnics/{vnic}/attachment", {"DELETE"}),
        ("GET", "/v1/vnics/{vnic}/binding", {"PUT", "DELETE"}),
        ("DELETE", "/v1/networks/{net}/ports", {"GET", "POST"}),
        ("POST", "/", {"GET"}),
        ("DELETE", "/v1/extensions/networks", {"GET"}),
        ("OPTIONS", "/v1/switches", {"GET"}),
    ],
)
def test_wrong_method_is_method_not_allowed_with_allow(
    world: World, seeded: dict[str, str], method: str, path: str, allow: set[str]
) -> None:
    before = world.snapshot()
    r = world.client.admin().call(method, _fill(path, seeded), {"network": {}})
    assert (r.status, r.error_type) == (405, "MethodNotAllowed")
    assert {m.strip() for m in r.headers["Allow"].split(",")} == allow
    assert world.snapshot() == before


def test_trailing_slash_is_the_same_resource(client: Client) -> None:
    n = client.network()
    assert client.get("/v1/networks/").json == {"networks": [n]}
    assert client.get(f"/v1/networks/{n['id']}/").json == {"network": n}


def test_health_check(make_world: WorldFactory) -> None:
    up = make_world()
    r = up.client.as_(None).get("/healthz")
    assert (r.status, r.json) == (200, {"status": "ok", "store": "ok", "openflow": "listening"})
    down = make_world(ready=lambda: False, db="down.db")
    r = down.client.as_(None).get("/healthz")
    assert (r.status, r.error_type) == (503, "ServiceUnavailable")


def test_operations_lists_for_admins(world: World) -> None:
    admin = world.client.admin()
    assert admin.get("/v1/switches").json == {"switches": []}
    world.topology.begin_port_snapshot(0xAB)
    world.topology.switch_connected(0xAB, [SwitchPort(2, "eth2", False), SwitchPort(1, "eth1", True)])
    assert admin.get("/v1/switches").json == {
        "switches": [
            {
                "datapath_id": "00000000000000ab",
                "connected": True,
                "ports": [{"port_no": 1, "name": "eth1", "up": True}, {"port_no": 2, "name": "eth2", "up": False}],
            }
        ]
    }
    assert admin.get("/v1/links").json == {"links": [], "problems": []}
    # A second switch and a link between them: discovered, both ports up, so in use.
    world.topology.begin_port_snapshot(0xCD)
    world.topology.switch_connected(0xCD, [SwitchPort(1, "eth1", True)])
    world.topology.link_seen(LinkEnd(0xAB, 1), LinkEnd(0xCD, 1), now=1.0)
    assert admin.get("/v1/links").json == {
        "links": [
            {
                "src": {"datapath_id": "00000000000000ab", "port_no": 1},
                "dst": {"datapath_id": "00000000000000cd", "port_no": 1},
                "source": "discovered",
            }
        ],
        "problems": [],
    }
    # A link over a port that is down is not in use.
    assert admin.get("/v1/links").json["links"]
    world.topology.port_changed(0xCD, SwitchPort(1, "eth1", False))
    assert admin.get("/v1/links").json["links"] == []


# --- no request, however malformed, gets a 5xx ------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_NEAR_VALID = st.one_of(
    st.fixed_dictionaries({"network": st.fixed_dictionaries({}, optional={"name": _JSON, "address_prefix": _JSON})}),
    st.fixed_dictionaries({"network": st.fixed_dictionaries({"address_prefix": st.text(max_size=20)})}),
    st.fixed_dictionaries({"vnic": st.fixed_dictionaries({}, optional={"mac_address": st.text(max_size=17)})}),
    st.fixed_dictionaries({"port": st.fixed_dictionaries({}, optional={"name": st.text(max_size=300)})}),
    st.fixed_dictionaries({"attachment": st.fixed_dictionaries({"vnic_id": _JSON})}),
    st.fixed_dictionaries(
        {"binding": st.fixed_dictionaries({"datapath_id": _JSON}, optional={"port_no": _JSON, "port_name": _JSON})}
    ),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(_JSON, _NEAR_VALID), route=st.sampled_from(BODY_ROUTES))
def test_no_body_gets_a_server_error(world: World, seeded: dict[str, str], body: Any, route: Any) -> None:
    method, template, _ = route
    r = world.client.admin().call(method, _fill(template, seeded), body)  # Client fails on any 5xx
    if r.status >= 400:
        assert r.status in (400, 404, 409), r.body
        r.error_type  # noqa: B018 - checks the error body's shape


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200), path=st.text(max_size=30), query=st.text(max_size=30))
def test_no_bytes_get_a_server_error(world: World, raw: bytes, path: str, query: str) -> None:
    from urllib.parse import quote

    admin = world.client.admin()
    admin.post("/v1/networks", raw=raw)
    admin.get("/v1/ports?" + quote(query, safe="=&%"))
    admin.get("/v1/vnics/" + quote(path, safe="%"))
