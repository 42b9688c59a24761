"""The operations views over REST: the live view, the trace, a port's flows explained, the metrics, the page's files.

A fabric of two switches joined by a link is put in the topology; tenants' VNICs are bound to its ports
through the API, as an admin does; every answer is also checked against the OpenAPI document (conftest).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
import yaml

from rest.auth import TokenAuth
from sdnapp.config import AuthConfig
from topology.fabric import LinkEnd
from topology.switches import SwitchPort, Topology

from .conftest import Client, World, WorldFactory

S1, S2 = 0x1, 0x2
DP1, DP2 = f"{S1:016x}", f"{S2:016x}"
TRUNK = 9  # port 9 of each switch: the link


def fabric(w: World) -> None:
    for dpid in (S1, S2):
        w.topology.begin_port_snapshot(dpid)
        ports = [SwitchPort(p, f"s{dpid}-eth{p}", True) for p in (1, 2, 3)] + [SwitchPort(TRUNK, "trunk", True)]
        assert w.topology.switch_connected(dpid, ports)
    w.topology.link_seen(LinkEnd(S1, TRUNK), LinkEnd(S2, TRUNK), now=1.0)


def member(w: World, tenant: Client, net: dict[str, Any], mac: str, dp: str, port_no: int) -> dict[str, Any]:
    port = tenant.port(net["id"], f"p-{mac[-2:]}")
    vnic = tenant.vnic(mac)
    assert tenant.plug(port["id"], vnic["id"]).status == 200
    tenant.admin().ok("PUT", f"/v1/vnics/{vnic['id']}/binding", {"binding": {"datapath_id": dp, "port_no": port_no}})
    return {"port": tenant.get(f"/v1/ports/{port['id']}").json["port"], "vnic": vnic}


@pytest.fixture
def bed(world: World) -> dict[str, Any]:
    fabric(world)
    red, blue = world.client, world.client.as_("tenant-b")
    rnet = red.network("10.1.0.0/24", name="red")
    bnet = blue.network("10.1.0.0/24", name="blue")  # the same range: tenants may reuse one
    return {
        "r1": member(world, red, rnet, "02:00:00:00:00:01", DP1, 1),
        "r2": member(world, red, rnet, "02:00:00:00:00:02", DP2, 1),
        "b1": member(world, blue, bnet, "02:00:00:00:00:03", DP2, 2),
        "rnet": rnet, "bnet": bnet,
    }


def trace(admin: Client, **q: str) -> dict[str, Any]:
    r = admin.get("/v1/trace?" + "&".join(f"{k}={v}" for k, v in q.items()))
    assert r.status == 200, r.body
    return dict(r.json["trace"])


def test_a_frame_to_a_vnic_of_its_network_is_delivered_across_the_link(world: World, bed: dict[str, Any]) -> None:
    t = trace(world.client.admin(), **{"from": bed["r1"]["port"]["id"], "to": bed["r2"]["port"]["ip_address"]})
    assert t["from"]["datapath_id"] == DP1 and t["from"]["port_no"] == 1
    assert t["to"]["port_id"] == bed["r2"]["port"]["id"]
    assert t["frame"]["eth_dst"] == "02:00:00:00:00:02" and t["frame"]["eth_type"] == "0x0800"
    assert [h["datapath_id"] for h in t["hops"]] == [DP1, DP2]
    first = t["hops"][0]
    assert [x["flow"]["role"] for x in first["tables"]] == ["admit", "forward"]
    assert first["outputs"] == [{"port": TRUNK, "kind": "link", "next_hop": 1, "frame": first["outputs"][0]["frame"],
                                 "to": {"datapath_id": DP2, "port_no": TRUNK}}]
    assert first["outputs"][0]["frame"]["vlan_vid"] == 100
    assert t["verdict"]["outcome"] == "delivered" and (t["verdict"]["datapath_id"], t["verdict"]["port_no"]) == (DP2, 1)


def test_another_networks_vnic_is_isolation(world: World, bed: dict[str, Any]) -> None:
    admin = world.client.admin()
    t = trace(admin, **{"from": bed["r1"]["port"]["id"], "to": "02:00:00:00:00:03"})
    assert (t["verdict"]["outcome"], t["verdict"]["rule"]) == ("dropped", "isolation"), t["verdict"]
    assert t["to"]["port_id"] == bed["b1"]["port"]["id"]
    # Both networks use 10.1.0.0/24: an address is looked up in the source's own network first.
    assert bed["b1"]["port"]["ip_address"] == bed["r1"]["port"]["ip_address"]
    t = trace(admin, **{"from": bed["r2"]["port"]["id"], "to": bed["b1"]["port"]["ip_address"]})
    assert t["to"]["port_id"] == bed["r1"]["port"]["id"] and t["verdict"]["outcome"] == "delivered"


@pytest.mark.parametrize("spoof", ["eth_src=02:00:00:00:00:02", "ipv4_src=10.1.0.77", "vlan=101"])
def test_spoofed_frames_are_dropped_by_anti_spoofing(world: World, bed: dict[str, Any], spoof: str) -> None:
    k, v = spoof.split("=")
    t = trace(world.client.admin(), **{"from": bed["r1"]["port"]["id"], "to": "02:00:00:00:00:02", k: v})
    assert (t["verdict"]["outcome"], t["verdict"]["rule"]) == ("dropped", "anti-spoofing"), t["verdict"]
    assert t["verdict"]["flow"]["role"] == "miss" and len(t["hops"]) == 1


def test_no_binding_is_told_with_its_reason(world: World, bed: dict[str, Any]) -> None:
    admin, red = world.client.admin(), world.client
    free = red.port(bed["rnet"]["id"])
    t = trace(admin, **{"from": free["id"], "to": "02:00:00:00:00:02"})
    assert (t["verdict"]["rule"], t["hops"]) == ("no binding", [])
    assert "no VNIC plugged" in t["verdict"]["reason"]
    # From a switch port with nobody bound: the frame's source MAC must be said.
    r = admin.get(f"/v1/trace?from={DP1}/3&to=02:00:00:00:00:02")
    assert r.status == 400 and "eth_src" in r.json["error"]["message"]
    t = trace(admin, **{"from": f"{DP1}/s1-eth3", "to": "02:00:00:00:00:02", "eth_src": "02:00:00:00:00:09"})
    assert (t["verdict"]["rule"], t["from"]["port_no"]) == ("no binding", 3)
    # An address nobody has: an ARP request, answered by nobody.
    t = trace(admin, **{"from": bed["r1"]["port"]["id"], "to": "10.1.0.200"})
    assert t["frame"]["eth_type"] == "0x0806" and t["verdict"]["rule"] == "no binding"


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("to=02:00:00:00:00:02", 400, "'from' is required"),
        ("from=x&to=02:00:00:00:00:02", 400, "from must be a port id or DATAPATH_ID/PORT"),
        ("from=0000000000000001/77&to=02:00:00:00:00:02", 400, "has reported no port '77'"),
        ("from=zz/1&to=02:00:00:00:00:02", 400, "datapath_id"),
        ("from={r1}&to=nowhere", 400, "to must be a MAC address"),
        ("from={r1}&to=10.1.0.3&vlan=4096", 400, "'vlan' must be an integer from 0 to 4095"),
        ("from={r1}&to=10.1.0.3&arp=yes", 400, "'arp' must be true or false"),
        ("from={r1}&to=02:00:00:00:00:02&arp=true", 400, "ARP request for an IPv4 address"),
        ("from={r1}&to=10.1.0.3&eth_src=01:00:5e:00:00:01", 400, "not unicast"),
        ("from={r1}&to=10.1.0.3&ipv4_src=10.1.0", 400, "ipv4_src must be an IPv4 address"),
        ("from=3f1e0c56-0000-4000-8000-000000000000&to=10.1.0.3", 404, "not found"),
    ],
)
def test_trace_arguments_are_checked(world: World, bed: dict[str, Any], query: str, status: int, message: str) -> None:
    r = world.client.admin().get("/v1/trace?" + query.format(r1=bed["r1"]["port"]["id"]))
    assert r.status == status and message in r.json["error"]["message"], r.body


def test_a_ports_flows_are_explained_and_marked(world: World, bed: dict[str, Any]) -> None:
    r = world.client.admin().get(f"/v1/ports/{bed['r1']['port']['id']}/flows")
    assert r.status == 200
    flows = r.json["flows"]
    roles = {(f["datapath_id"], f["role"]) for f in flows}
    # Its admission (IPv4, ARP), the gateway's answers, DHCP to the controller and its guard on its port,
    # its delivery and flood on its switch, and the flow towards it on the other switch.
    assert {(DP1, "admit"), (DP1, "guard"), (DP1, "gateway"), (DP1, "dhcp"), (DP1, "deliver"), (DP1, "flood"),
            (DP2, "forward")} <= roles
    admit = [f for f in flows if f["role"] == "admit"]
    assert len(admit) == 2 and any("IPv4 from 10.1.0.2" in f["explanation"] for f in admit)
    assert sorted(f["explanation"].split(" for ")[0] for f in flows if f["role"] == "gateway") == [
        "answer ARP", "answer ping"]
    # Nothing was sent to any switch here: the reconciler's cache is empty, so each is missing.
    assert {f["installed"] for f in flows} == {False}
    assert world.client.get(f"/v1/ports/{bed['r1']['port']['id']}/flows").status == 403


def test_the_live_view_shows_links_that_are_down_and_each_networks_ports(world: World, bed: dict[str, Any]) -> None:
    admin = world.client.admin()
    view = admin.get("/v1/topology").json
    assert [s["datapath_id"] for s in view["switches"]] == [DP1, DP2]
    [link] = view["links"]
    assert (link["state"], link["source"]) == ("up", "discovered")
    names = {n["name"]: n for n in view["networks"]}
    assert set(names) == {"red", "blue"}
    r1 = next(p for p in names["red"]["ports"] if p["id"] == bed["r1"]["port"]["id"])
    assert r1["mac_address"] == "02:00:00:00:00:01"
    assert r1["binding"] == {"datapath_id": DP1, "port_no": 1, "port_name": "s1-eth1"}
    # The trunk port goes down: the link is still known, and down; /v1/links no longer lists it.
    world.topology.port_changed(S2, SwitchPort(TRUNK, "trunk", False))
    [link] = admin.get("/v1/topology").json["links"]
    assert link["state"] == "down"
    assert admin.get("/v1/links").json["links"] == []


def test_a_configured_link_contradicted_by_discovery_is_a_problem() -> None:
    t = Topology([((S1, TRUNK), (S2, 3))])
    for dpid in (S1, S2):
        t.begin_port_snapshot(dpid)
        t.switch_connected(dpid, [SwitchPort(p, f"p{p}", True) for p in (3, TRUNK)])
    t.link_seen(LinkEnd(S1, TRUNK), LinkEnd(S2, TRUNK), now=1.0)
    states = {(str(k.link), k.source, k.state) for k in t.links_known()}
    assert states == {(f"{DP1}/{TRUNK}<->{DP2}/3", "configured", "problem"),
                      (f"{DP1}/{TRUNK}<->{DP2}/{TRUNK}", "discovered", "up")}


def test_metrics_count_requests_by_route_and_show_state(world: World, bed: dict[str, Any]) -> None:
    admin = world.client.admin()
    admin.get("/v1/networks")
    admin.get(f"/v1/ports/{bed['r1']['port']['id']}")
    admin.get("/v1/no/such/thing")
    r = admin.get("/metrics")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = r.body.decode()
    assert 'sdnapp_api_requests_total{method="GET",route="/v1/networks",status="200"} 1.0' in text
    assert 'route="/v1/ports/{port_id}",status="200"' in text  # the template, never the id
    assert bed["r1"]["port"]["id"] not in text
    assert 'sdnapp_api_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert re.search(r'sdnapp_store_transaction_seconds_count\{kind="write"\} [1-9]', text)
    openmetrics = admin.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text")
    assert world.client.get("/metrics").status == 403
    assert world.client.as_(None).get("/metrics").status == 401


def test_metrics_can_be_open_or_off(make_world: WorldFactory, tmp_path: Any) -> None:
    w = make_world(db="open.db")
    w.api.open_routes = frozenset({"metrics"})
    assert w.client.as_(None).get("/metrics").status == 200
    off = make_world(metrics=False, db="off.db")
    r = off.client.admin().get("/metrics")
    assert (r.status, r.error_type) == (404, "NotFound") and "metrics.enabled" in r.json["error"]["message"]


def test_the_page_is_served_with_a_content_security_policy(world: World) -> None:
    anon = world.client.as_(None)
    page = anon.get("/ui/")
    assert page.status == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert b'src="/ui/app.js"' in page.body
    for name, media in (("app.js", "text/javascript"), ("style.css", "text/css"), ("d3.min.js", "text/javascript"),
                        ("d3-LICENSE.txt", "text/plain")):
        r = anon.get(f"/ui/{name}")
        assert r.status == 200 and r.headers["Content-Type"].startswith(media), name
    for bad in ("..%2fapp.py", "..%2f..%2fsdnapp%2fconfig.py", "%2e%2e", "nope.js", "app.js%00", "index.html%20"):
        r = anon.get(f"/ui/{bad}")
        assert r.status == 404 and r.error_type in ("AssetNotFound", "NotFound"), bad  # a path elsewhere: no route
    assert anon.get("/ui/static/app.js").status == 404


def test_the_page_sets_names_only_as_text() -> None:
    from rest.static import ASSETS

    js = ASSETS["app.js"].data.decode()
    assert "innerHTML" not in js and ".html(" not in js and "insertAdjacentHTML" not in js


def test_admin_routes_are_refused_by_the_dispatcher_before_the_handler(make_world: WorldFactory,
                                                                       tmp_path: Any) -> None:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({"tokens": [
        {"sha256": hashlib.sha256(b"t").hexdigest(), "project_id": "p", "roles": ["member"]}]}))
    w = make_world(auth=TokenAuth.from_config(AuthConfig("token", str(tokens))), db="tok.db")
    c = Client(w.api, None, "", {"X-Auth-Token": "t"})
    for path in ("/v1/topology", "/v1/trace", "/metrics", "/v1/switches"):
        r = c.get(path)
        assert (r.status, r.error_type) == (403, "Forbidden"), path
