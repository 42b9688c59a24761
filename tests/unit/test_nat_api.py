"""The `nat` extension's API (shared/API.md, "Extension `nat`"): NATed networks get an external address
from the pool, floating addresses are taken, (dis)associated and released; bad input changes nothing."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import psycopg
import pytest

from sdnapp.engines import StoreConflict
from sdnapp.store import Store

from .conftest import OTHER, TENANT, Client, StoreTarget, World

# What the database says to a second holder: SQLite's error, or PostgreSQL's (a unique violation as the
# conflict the store retries, a failed check as itself).
REFUSED = (sqlite3.IntegrityError, StoreConflict, psycopg.IntegrityError)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_engine(request: pytest.FixtureRequest) -> str:
    """This module's tests run on both engines."""
    return str(request.param)

FA = "/v1/floating-addresses"


def _fa(c: Client, port_id: str | None = None) -> dict[str, Any]:
    body = {} if port_id is None else {"port_id": port_id}
    return dict(c.ok("POST", FA, {"floating_address": body})["floating_address"])


def test_the_extension_is_listed_only_where_an_external_network_is_configured(world: World,
                                                                            nat_world: World) -> None:
    assert "nat" not in [e["alias"] for e in world.client.get("/v1/extensions").json["extensions"]]
    assert world.client.get("/v1/extensions/nat").error_type == "ExtensionNotFound"
    assert world.client.get(FA).error_type == "ExtensionNotFound"
    assert "nat" in [e["alias"] for e in nat_world.client.get("/v1/extensions").json["extensions"]]
    assert nat_world.client.get("/v1/extensions/nat").json["extension"]["alias"] == "nat"


def test_a_network_with_a_prefix_is_nated_by_default_with_an_address_from_the_pool(nat_world: World) -> None:
    c = nat_world.client
    n = c.network("10.0.0.0/24")
    assert (n["nat"], n["gateway_ip"], n["external_address"]) == (True, "10.0.0.1", "203.0.113.10")
    # Another tenant, the same prefix: its own external address.
    m = c.as_(OTHER).network("10.0.0.0/24")
    assert (m["nat"], m["external_address"]) == (True, "203.0.113.11")
    plain = c.network(None)
    assert (plain["nat"], plain["gateway_ip"], plain["external_address"]) == (False, None, None)
    opted_out = c.ok("POST", "/v1/networks", {"network": {"address_prefix": "10.1.0.0/24", "nat": False}})["network"]
    assert (opted_out["nat"], opted_out["external_address"]) == (False, None)
    assert c.get(f"/v1/networks/{n['id']}").json["network"] == n
    # Destroying a network gives its address back to the pool.
    assert c.delete(f"/v1/networks/{n['id']}").status == 204
    assert c.network("10.0.0.0/24")["external_address"] == "203.0.113.10"


def test_nat_is_refused_without_a_prefix_or_without_the_extension(world: World, nat_world: World) -> None:
    for w in (world, nat_world):
        before = w.snapshot()
        r = w.client.post("/v1/networks", {"network": {"nat": True}})
        assert (r.status, r.error_type) == (400, "BadRequest") and "nat" in r.json["error"]["message"]
        assert w.snapshot() == before
    before = world.snapshot()
    r = world.client.post("/v1/networks", {"network": {"address_prefix": "10.0.0.0/24", "nat": True}})
    assert r.status == 400 and "not offered" in r.json["error"]["message"]
    assert world.snapshot() == before
    assert world.client.network("10.0.0.0/24")["nat"] is False
    r = nat_world.client.post("/v1/networks", {"network": {"address_prefix": "10.0.0.0/24", "nat": "yes"}})
    assert r.status == 400


def test_the_pool_runs_out_and_nothing_is_made(nat_world: World) -> None:
    c = nat_world.client
    nets = [c.network(f"10.{i}.0.0/24") for i in range(7)]
    fa = _fa(c)
    assert sorted([n["external_address"] for n in nets] + [fa["address"]]) == [f"203.0.113.{i}" for i in range(10, 18)]
    before = nat_world.snapshot()
    r = c.post("/v1/networks", {"network": {"address_prefix": "10.9.0.0/24"}})
    assert (r.status, r.error_type) == (409, "ExternalPoolExhausted")
    assert (c.post(FA, {"floating_address": {}}).error_type) == "ExternalPoolExhausted"
    assert nat_world.snapshot() == before
    # A network without NAT needs no outside address.
    assert c.network(None)["nat"] is False
    assert c.delete(f"{FA}/{fa['id']}").status == 204
    assert _fa(c)["address"] == fa["address"]


def test_floating_address_lifecycle(nat_world: World) -> None:
    c = nat_world.client
    n = c.network("10.0.0.0/24")
    p1, p2 = c.port(n["id"]), c.port(n["id"])
    fa = _fa(c)
    assert fa == {"id": fa["id"], "tenant_id": TENANT, "address": "203.0.113.11", "port_id": None,
                  "fixed_address": None, "status": "DOWN"}
    put = c.ok("PUT", f"{FA}/{fa['id']}", {"floating_address": {"port_id": p1["id"]}})["floating_address"]
    assert (put["port_id"], put["fixed_address"], put["status"]) == (p1["id"], p1["ip_address"], "DOWN")
    assert c.ok("PUT", f"{FA}/{fa['id']}", {"floating_address": {"port_id": p1["id"]}})["floating_address"] == put
    moved = c.ok("PUT", f"{FA}/{fa['id']}", {"floating_address": {"port_id": p2["id"]}})["floating_address"]
    assert (moved["port_id"], moved["fixed_address"]) == (p2["id"], p2["ip_address"])
    assert c.get(FA).json == {"floating_addresses": [moved]}
    assert c.get(f"{FA}/{fa['id']}").json == {"floating_address": moved}
    with_port = _fa(c, p1["id"])
    assert (with_port["port_id"], with_port["fixed_address"]) == (p1["id"], p1["ip_address"])
    off = c.ok("PUT", f"{FA}/{fa['id']}", {"floating_address": {"port_id": None}})["floating_address"]
    assert (off["port_id"], off["fixed_address"]) == (None, None)
    # A deleted port leaves its floating address unassociated.
    assert c.delete(f"/v1/ports/{p1['id']}").status == 204
    assert c.get(f"{FA}/{with_port['id']}").json["floating_address"]["port_id"] is None
    assert c.delete(f"{FA}/{fa['id']}").status == 204
    assert c.get(f"{FA}/{fa['id']}").error_type == "FloatingAddressNotFound"
    assert c.delete(f"{FA}/{fa['id']}").error_type == "FloatingAddressNotFound"


def test_bad_floating_address_requests_change_nothing(nat_world: World) -> None:
    c = nat_world.client
    nated = c.network("10.0.0.0/24")
    plain = c.ok("POST", "/v1/networks", {"network": {"address_prefix": "10.1.0.0/24", "nat": False}})["network"]
    no_prefix = c.network(None)
    p, p_plain, p_none = c.port(nated["id"]), c.port(plain["id"]), c.port(no_prefix["id"])
    held = _fa(c, p["id"])
    free = _fa(c)
    theirs = c.as_(OTHER).port(c.as_(OTHER).network("10.0.0.0/24")["id"])
    before = nat_world.snapshot()
    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", FA, {"floating_address": {"port_id": p_plain["id"]}}, 400, "BadRequest"),  # not NATed
        ("POST", FA, {"floating_address": {"port_id": p_none["id"]}}, 400, "BadRequest"),  # no address
        ("POST", FA, {"floating_address": {"port_id": p["id"]}}, 409, "FloatingAddressInUse"),
        ("POST", FA, {"floating_address": {"port_id": theirs["id"]}}, 404, "PortNotFound"),
        ("POST", FA, {"floating_address": {"port_id": str(uuid.uuid4())}}, 404, "PortNotFound"),
        ("POST", FA, {"floating_address": {"port_id": 7}}, 400, "BadRequest"),
        ("POST", FA, {"floating_address": {"address": "203.0.113.99"}}, 400, "BadRequest"),
        ("POST", FA, {}, 400, "BadRequest"),
        ("PUT", f"{FA}/{free['id']}", {"floating_address": {"port_id": p["id"]}}, 409, "FloatingAddressInUse"),
        ("PUT", f"{FA}/{free['id']}", {"floating_address": {"port_id": theirs["id"]}}, 404, "PortNotFound"),
        ("PUT", f"{FA}/{free['id']}", {"floating_address": {"port_id": p_plain["id"]}}, 400, "BadRequest"),
        ("PUT", f"{FA}/{free['id']}", {"floating_address": {}}, 400, "BadRequest"),
        ("PUT", f"{FA}/{uuid.uuid4()}", {"floating_address": {"port_id": None}}, 404, "FloatingAddressNotFound"),
        ("PUT", f"{FA}/not-an-id", {"floating_address": {"port_id": None}}, 404, "FloatingAddressNotFound"),
    ]
    for method, path, body, status, kind in cases:
        r = c.call(method, path, body)
        assert (r.status, r.error_type) == (status, kind), (method, path, body, r.body)
        assert nat_world.snapshot() == before, (method, path, body)
    # Another tenant sees none of them, and cannot touch them.
    b = c.as_(OTHER)
    assert b.get(FA).json == {"floating_addresses": []}
    for method in ("GET", "DELETE"):
        assert b.call(method, f"{FA}/{held['id']}").error_type == "FloatingAddressNotFound"
    r = b.put(f"{FA}/{held['id']}", {"floating_address": {"port_id": None}})
    assert r.error_type == "FloatingAddressNotFound"
    assert nat_world.snapshot() == before
    # An admin sees them all.
    assert {f["id"] for f in c.admin().get(FA).json["floating_addresses"]} == {held["id"], free["id"]}


def test_the_store_never_lets_two_holders_share_an_address(store_target: StoreTarget) -> None:
    """Allocation is race-free because the database refuses a second holder of an address, a second address
    of a network and a second floating address of a port, whatever a writer computed."""
    store = Store(store_target("s.db"))
    with store.write() as tx:
        tx.db.execute("INSERT INTO networks (id, tenant_id, name, segment_type, segment_id, created_at, nat) "
                      "VALUES ('n1', 't', '', 'vlan', 100, 0, 1)")
        tx.db.execute("INSERT INTO ports (id, tenant_id, network_id, name, ip_address, created_at) "
                      "VALUES ('p1', 't', 'n1', '', '10.0.0.2', 0)")
        tx.set_external_address("n1", "t", "203.0.113.10")
    insert = "INSERT INTO external_addresses (address, tenant_id, created_at, "
    for sql in (
        insert + "floating_id) VALUES ('203.0.113.10', 't', 0, 'f')",  # the network's address
        insert + "network_id) VALUES ('203.0.113.11', 't', 0, 'n1')",  # a second one for the network
        insert + "network_id) VALUES ('203.0.113.12', 't', 0, NULL)",  # neither a network's nor floating
        insert + "network_id, port_id) VALUES ('203.0.113.13', 't', 0, 'n1', 'p1')",  # a network's, with a port
    ):
        with pytest.raises(REFUSED), store.write() as tx:
            tx.db.execute(sql)
    with store.write() as tx:
        tx.db.execute("INSERT INTO external_addresses (address, tenant_id, floating_id, port_id, created_at) "
                      "VALUES ('203.0.113.14', 't', 'f1', 'p1', 0)")
    with pytest.raises(REFUSED), store.write() as tx:
        tx.db.execute("INSERT INTO external_addresses (address, tenant_id, floating_id, port_id, created_at) "
                      "VALUES ('203.0.113.15', 't', 'f2', 'p1', 0)")
    with store.read() as tx:
        assert tx.external_taken() == {"203.0.113.10", "203.0.113.14"}
    store.close()
