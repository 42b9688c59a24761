"""POST /v1/plugged-ports: many ports, each with a new VNIC plugged in (and bound), in one transaction."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Client, World, WorldFactory


@pytest.fixture(params=["sqlite", "postgresql"])
def store_engine(request: pytest.FixtureRequest) -> str:
    """This module's tests run on both engines."""
    return str(request.param)



def _item(network_id: str, **more: Any) -> dict[str, Any]:
    return {"network_id": network_id, **more}


def _bulk(c: Client, *items: dict[str, Any]) -> Any:
    return c.post("/v1/plugged-ports", {"plugged_ports": list(items)})


def test_each_item_is_a_port_with_a_new_vnic_plugged_in_and_bound(world: World) -> None:
    t, admin = world.client, world.client.admin()
    net = t.network("10.0.0.0/24")
    r = _bulk(admin, _item(net["id"], name="p1", vnic={"name": "v1", "mac_address": "FA:16:3E:00:00:01"},
                           binding={"datapath_id": "0x1", "port_name": "tap1"}),
              _item(net["id"], name="p2"))
    assert r.status == 201, r.body
    (a, b) = r.json["plugged_ports"]
    assert (a["port"]["name"], a["port"]["ip_address"], b["port"]["ip_address"]) == ("p1", "10.0.0.2", "10.0.0.3")
    assert a["port"]["vnic_id"] == a["vnic"]["id"] and a["vnic"]["port_id"] == a["port"]["id"]
    assert a["vnic"]["mac_address"] == "fa:16:3e:00:00:01" and b["vnic"]["mac_address"].startswith("fa:16:3e:")
    assert a["vnic"]["binding"] == {"datapath_id": "0000000000000001", "port_no": None, "port_name": "tap1",
                                    "source": "api"}
    assert b["vnic"]["binding"] is None
    # Visible through the calls one at a time, as if made by them, in the order given.
    ports = t.get(f"/v1/networks/{net['id']}/ports").json["ports"]
    assert [p["id"] for p in ports] == [a["port"]["id"], b["port"]["id"]]
    assert t.get(f"/v1/ports/{a['port']['id']}/attachment").json["attachment"]["vnic_id"] == a["vnic"]["id"]
    # The next single port takes the next address.
    assert t.port(net["id"])["ip_address"] == "10.0.0.4"


def test_a_bad_item_changes_nothing_and_is_named(world: World) -> None:
    t, admin = world.client, world.client.admin()
    net = t.network("10.0.0.0/29")  # room for 5 ports
    t.plug(t.port(net["id"])["id"], t.vnic("fa:16:3e:00:00:07")["id"])
    before = world.snapshot()
    cases = [
        ((_item(net["id"]), _item("not-an-id")), 404, "NetworkNotFound", "plugged_ports[1]"),
        ((_item(net["id"], vnic={"mac_address": "01:00:5e:00:00:01"}),), 400, "BadRequest", "plugged_ports[0]"),
        ((_item(net["id"]),) * 5, 409, "AddressPoolExhausted", "plugged_ports[4]"),
        ((_item(net["id"], vnic={"mac_address": "fa:16:3e:00:00:07"}),), 409, "MacAddressInUse", "plugged_ports[0]"),
        ((_item(net["id"], vnic={"mac_address": "fa:16:3e:00:00:08"}),) * 2, 409, "MacAddressInUse",
         "plugged_ports[1]"),
        ((_item(net["id"], binding={"datapath_id": "1", "port_no": 3}),) * 2, 409, "BindingInUse",
         "plugged_ports[1]"),
        ((_item(net["id"], binding={"datapath_id": "zz", "port_no": 3}),), 400, "BadRequest", "plugged_ports[0]"),
    ]
    for items, status, kind, where in cases:
        r = _bulk(admin, *items)
        assert (r.status, r.error_type) == (status, kind), (items, r.body)
        assert where in r.json["error"]["message"], r.body
        assert world.snapshot() == before
    assert _bulk(admin).status == 400  # none at all
    assert _bulk(admin, *[_item(net["id"])] * 1001).error_type == "BadRequest"  # more than one call takes
    assert world.snapshot() == before


def test_tenancy_and_bindings_are_as_one_call_at_a_time(world: World) -> None:
    t, other, admin = world.client, world.client.as_("tenant-b"), world.client.admin()
    net = t.network()
    before = world.snapshot()
    r = _bulk(other, _item(net["id"]))
    assert (r.status, r.error_type) == (404, "NetworkNotFound")  # another tenant's network is not there
    r = _bulk(t, _item(net["id"]), _item(net["id"], binding={"datapath_id": "1", "port_no": 2}))
    assert (r.status, r.error_type) == (403, "Forbidden")  # only an admin binds
    assert world.snapshot() == before
    r = _bulk(admin, _item(net["id"]))
    assert r.status == 201
    [made] = r.json["plugged_ports"]
    assert made["port"]["tenant_id"] == "tenant-a"  # the network's tenant owns the port


def test_the_networks_changed_are_reported_once(make_world: WorldFactory) -> None:
    changed: list[set[int]] = []
    t = make_world(on_change=changed.append).client
    a, b = t.network(), t.network()
    assert _bulk(t, *[_item(a["id"])] * 3, _item(b["id"])).status == 201
    assert changed == [{100, 101}]
