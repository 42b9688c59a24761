"""POST /v1/networks with `networks`: many networks in one call and one transaction, as one at a time."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Client, World, WorldFactory


def _bulk(c: Client, *items: dict[str, Any]) -> Any:
    return c.post("/v1/networks", {"networks": list(items)})


def test_each_item_is_a_network_as_one_at_a_time_in_the_order_asked(world: World) -> None:
    t = world.client
    r = _bulk(t, {"name": "a", "address_prefix": "10.0.1.0/24"}, {"name": "b"}, {})
    assert r.status == 201, r.body
    a, b, c = r.json["networks"]
    assert (a["name"], b["name"], c["name"]) == ("a", "b", "")
    assert a["address_prefix"] == "10.0.1.0/24" and b["address_prefix"] is None
    assert a["gateway_ip"] == "10.0.1.1"
    listed = t.get("/v1/networks").json["networks"]
    assert [n["id"] for n in listed] == [a["id"], b["id"], c["id"]]
    assert t.get(f"/v1/networks/{a['id']}").json["network"] == a
    segments = [world.client.admin().get(f"/v1/networks/{n['id']}").json["network"]["segment"] for n in (a, b, c)]
    assert len({s["id"] for s in segments}) == 3  # each its own segment
    # A port of a bulk-made network gets its first address, as a single network's would.
    assert t.port(a["id"])["ip_address"] == "10.0.1.2"


def test_nat_networks_in_bulk_take_outside_addresses(nat_world: World) -> None:
    r = _bulk(nat_world.client, {"address_prefix": "10.0.0.0/24"}, {"address_prefix": "10.0.0.0/24", "nat": False})
    assert r.status == 201, r.body
    first, second = r.json["networks"]
    assert first["nat"] and first["external_address"] and not second["nat"] and second["external_address"] is None


def test_a_bad_item_changes_nothing_and_is_named(make_world: WorldFactory) -> None:
    w = make_world(quotas={"network": 3})
    t = w.client
    t.network(name="there")
    before = w.snapshot()
    cases: list[tuple[tuple[dict[str, Any], ...], int, str, str]] = [
        (({"name": "ok"}, {"address_prefix": "10.0.0.1/24"}), 400, "BadRequest", "networks[1]"),
        (({"name": "ok"}, {"address_prefix": "nope"}), 400, "BadRequest", "networks[1]"),
        (({"name": "ok"}, {"name": "x" * 300}), 400, "BadRequest", "networks/1/name"),
        (({"name": "ok", "bogus": 1},), 400, "BadRequest", "networks/0"),
        (({},) * 3, 409, "OverQuota", "network"),
    ]
    for items, status, kind, where in cases:
        r = _bulk(t, *items)
        assert (r.status, r.error_type) == (status, kind), (items, r.body)
        assert where in r.json["error"]["message"], r.body
        assert w.snapshot() == before
    assert _bulk(t).status == 400  # none at all
    r = _bulk(t, *[{}] * 1001)
    assert r.error_type == "BadRequest" and "networks" in r.json["error"]["message"]
    r = t.post("/v1/networks", {"network": {}, "networks": [{}]})
    assert r.status == 400
    r = t.post("/v1/networks", {"network": {"bogus": 1}})  # one network: its own words, as before
    assert r.status == 400 and "network" in r.json["error"]["message"] and "bogus" in r.json["error"]["message"]
    assert w.snapshot() == before


def test_a_pool_used_up_midway_changes_nothing(tiny_world: World) -> None:
    t = tiny_world.client
    before = tiny_world.snapshot()
    r = _bulk(t, {}, {}, {})
    assert (r.status, r.error_type) == (409, "SegmentPoolExhausted"), r.body
    assert "networks[2]" in r.json["error"]["message"]
    assert tiny_world.snapshot() == before
    assert _bulk(t, {}, {}).status == 201


@pytest.mark.parametrize("project", ["tenant-a", "tenant-b"])
def test_networks_belong_to_the_caller(world: World, project: str) -> None:
    c = world.client.as_(project)
    (n,) = _bulk(c, {"name": "mine"}).json["networks"]
    assert n["tenant_id"] == project
    other = "tenant-b" if project == "tenant-a" else "tenant-a"
    assert world.client.as_(other).get(f"/v1/networks/{n['id']}").status == 404


def test_segments_are_taken_upwards_and_freed_ones_again_once_the_pool_top_is_reached(
        make_world: WorldFactory) -> None:
    from sdnapp.service import SegmentPool

    w = make_world(pool=SegmentPool("vlan", 100, 103), db="four.db")
    admin = w.client.admin()

    def seg(n: dict[str, Any]) -> int:
        return int(admin.get(f"/v1/networks/{n['id']}").json["network"]["segment"]["id"])

    a, b, c = _bulk(admin, {}, {}, {}).json["networks"]
    assert [seg(n) for n in (a, b, c)] == [100, 101, 102]
    assert admin.delete(f"/v1/networks/{b['id']}").status == 204
    d = admin.network()
    assert seg(d) == 103  # not 101 at once: the pool's unused ids first
    e = admin.network()
    assert seg(e) == 101  # then the lowest free one
    assert admin.post("/v1/networks", {"network": {}}).error_type == "SegmentPoolExhausted"
