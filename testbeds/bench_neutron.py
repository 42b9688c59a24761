"""Neutron-face benchmarks on one hypervisor (`compute1`, its own OVS, userspace datapath), with a fake Nova.

- bulk: N ports created in one `POST /v2.0/ports` (each for a server, bound to compute1), then all
  plugged the way os-vif plugs them (interfaces with iface-id, made in large OVSDB transactions):
  seconds to all created, to all ACTIVE, and to every network-vif-plugged received;
- plug: one port at a time, the interface added (`ovs-vsctl add-port` with iface-id and friends) ->
  network-vif-plugged received by the fake Nova (run first, on a bridge with few interfaces);
- routers (on a second bed where compute1 is also the NAT gateway, with an outside host): a VM with
  its DHCP lease; `add_router_interface` answered -> the VM's first fetch from the outside host
  answered (seen as the router's address); a floating IP's `PUT` answered -> the outside host's
  first fetch from the VM by the floating IP answered. Fetches are curl runs one after the other
  (about 10 ms each when nothing answers at once), so the figures are upper bounds by that much.

Run as root after scripts/setup.sh, under the machine's OVS lock:
`python -m testbeds.bench_neutron --ports 1000 --plugs 50 --routers 20`. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from . import neutron as nt
from .stats import summary_ms

API_PORT, OF_PORT, NOVA_PORT = 19812, 16812, 19813


class Api:
    """The Neutron face over one kept-alive connection, as noauth's default admin (as the CLI calls it)."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=300)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        self.conn.request(method, path, body=data, headers={"Content-Type": "application/json",
                                                             "X-Auth-Token": "notused"})
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {raw[:300]!r}")
        return json.loads(raw) if raw else None

    def active(self, network_id: str) -> int:
        ports = self.call("GET", f"/v2.0/ports?network_id={network_id}&status=ACTIVE&fields=id")["ports"]
        return len(ports)


def _wait(cond: Any, timeout: float, what: str) -> float:
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"{what} not done after {timeout} s")
        time.sleep(0.02)
    return time.perf_counter()


def _specs(network_id: str, n: int) -> list[dict[str, Any]]:
    return [{"network_id": network_id, "name": f"vm{i}-eth0", "device_id": str(uuid.uuid4()),
             "device_owner": "compute:nova", "binding:host_id": nt.HOST} for i in range(n)]


def bulk(nb: nt.NeutronBed, api: Api, n: int) -> None:
    net = api.call("POST", "/v2.0/networks", {"network": {"name": "bulk"}})["network"]
    api.call("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.64.0.0/16", "ip_version": 4}})
    t0 = time.perf_counter()
    ports = api.call("POST", "/v2.0/ports", {"ports": _specs(net["id"], n)})["ports"]
    created = time.perf_counter() - t0
    assert len(ports) == n
    before = len(nb.nova.events("network-vif-plugged"))
    t1 = time.perf_counter()
    nt.osvif_plug(nb.hv, ports)
    plugged = time.perf_counter()
    active = _wait(lambda: api.active(net["id"]) == n, 600, f"{n} ports ACTIVE")
    told = _wait(lambda: len(nb.nova.events("network-vif-plugged")) - before >= n, 600, f"{n} events")
    print(f"bulk: {n} ports created in one POST /v2.0/ports: {created:.2f} s")
    print(f"bulk: {n} interfaces plugged as os-vif does (OVS transactions, devices up): {plugged - t1:.2f} s")
    print(f"bulk: all {n} ACTIVE {active - t1:.2f} s after plugging began ({active - plugged:.2f} s after OVS "
          f"had the interfaces); every network-vif-plugged at the fake Nova {told - t1:.2f} s after")


def plug_latency(nb: nt.NeutronBed, api: Api, n: int) -> None:
    net = api.call("POST", "/v2.0/networks", {"network": {"name": "plug"}})["network"]
    api.call("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.65.0.0/24", "ip_version": 4}})
    before_cmd, after_cmd = [], []
    for spec in _specs(net["id"], n):
        p = api.call("POST", "/v2.0/ports", {"port": spec})["port"]
        name = nt.devname(p["id"])
        t0 = time.perf_counter()
        nb.hv.vsctl("add-port", "br-int", name, "--", "set", "Interface", name, "type=internal",
                    f"external_ids:iface-id={p['id']}", f"external_ids:attached-mac={p['mac_address']}",
                    f"external_ids:vm-uuid={p['device_id']}", "external_ids:iface-status=active")
        subprocess.run(["ip", "netns", "exec", nb.hv.ns, "ip", "link", "set", name, "up"], check=True)
        t1 = time.perf_counter()
        got = nb.nova.wait_for("network-vif-plugged", p["id"], timeout=30)
        if got is None:
            raise TimeoutError(f"no network-vif-plugged for {p['id']}")
        at = got.at - time.monotonic() + time.perf_counter()  # the fake Nova stamps arrivals on the monotonic clock
        before_cmd.append(at - t0)
        after_cmd.append(at - t1)
        time.sleep(nt.BATCH_INTERVAL + 0.05)  # the notifier gathers for batch_interval after each send
    print(f"plug: interface with iface-id added -> network-vif-plugged at the fake Nova: {summary_ms(before_cmd)}")
    print(f"plug: same, from when ovs-vsctl and ip link returned: {summary_ms(after_cmd)}")


def _until(fetch: Any, want: str, timeout: float = 20.0) -> float:
    """Seconds until `fetch()` (a whoami over curl) answers `want`."""
    t0 = time.perf_counter()
    while fetch() != want:
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"no answer {want!r} after {timeout} s")
    return time.perf_counter() - t0


def routers(base: Path, n: int) -> None:
    from .dhcp_client import udhcpc_lease
    from .nat import OUTSIDE_IP
    from .vxlan_nat import OUTSIDE_NS

    nb = nt.start(base / "routers", API_PORT, OF_PORT, NOVA_PORT, external=True)
    server = None
    try:
        api = Api(nb.url)
        public = api.call("GET", "/v2.0/networks?router:external=true")["networks"][0]["id"]
        net = api.call("POST", "/v2.0/networks", {"network": {"name": "routed"}})["network"]
        sub = api.call("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.66.0.0/24",
                                                             "ip_version": 4}})["subnet"]
        (spec,) = _specs(net["id"], 1)
        port = api.call("POST", "/v2.0/ports", {"port": spec})["port"]
        vm = nb.bed.add_vm("bench-rt", nb.hv, port["mac_address"], port["fixed_ips"][0]["ip_address"], 24,
                           port["id"], vm_uuid=port["device_id"])
        _wait(lambda: api.call("GET", f"/v2.0/ports/{port['id']}")["port"]["status"] == "ACTIVE", 30, "port ACTIVE")
        vm.cmd("ip", "addr", "flush", "dev", vm.nic, check=True)
        if not udhcpc_lease(lambda c: vm.cmd("sh", "-c", c), vm.nic, base / "dhcp"):
            raise RuntimeError("the VM took no DHCP lease")
        server = nt.serve_whoami(vm.ns, "0.0.0.0", 8080)
        router = api.call("POST", "/v2.0/routers", {"router": {"external_gateway_info": {"network_id": public}}})
        rid = router["router"]["id"]
        gw = router["router"]["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        fip = api.call("POST", "/v2.0/floatingips", {"floatingip": {"floating_network_id": public}})["floatingip"]
        outside = f"http://{OUTSIDE_IP}:{nt.WHOAMI_PORT}/"
        inside = f"http://{fip['floating_ip_address']}:8080/"
        joined, floated = [], []
        for _ in range(n):
            api.call("PUT", f"/v2.0/routers/{rid}/add_router_interface", {"subnet_id": sub["id"]})
            joined.append(_until(lambda: nt.whoami(vm.ns, outside, timeout=0.3), gw))
            api.call("PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": port["id"]}})
            floated.append(_until(lambda: nt.whoami(OUTSIDE_NS, inside, timeout=0.3), OUTSIDE_IP))
            api.call("PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
            api.call("PUT", f"/v2.0/routers/{rid}/remove_router_interface", {"subnet_id": sub["id"]})
            _until(lambda: nt.whoami(vm.ns, outside, timeout=0.3), "")
        print(f"routers: add_router_interface answered -> the VM's first fetch from outside answered: "
              f"{summary_ms(joined)}")
        print(f"routers: floating IP associated -> the outside's first fetch from the VM by it answered: "
              f"{summary_ms(floated)}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(5)
        nt.stop(nb)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ports", type=int, default=1000, help="ports in the bulk create")
    ap.add_argument("--plugs", type=int, default=50, help="single plugs timed")
    ap.add_argument("--routers", type=int, default=0, help="router interfaces and floating IPs timed")
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="bench-neutron-"))
    nb = nt.start(base, API_PORT, OF_PORT, NOVA_PORT, max_body_bytes=16 << 20)
    try:
        api = Api(nb.url)
        # Single plugs first: OVS itself slows down as its bridge grows (add-port takes ~0.2 s with
        # 1,000 interfaces on br-int), which would be counted in the plug figure.
        if args.plugs:
            plug_latency(nb, api, args.plugs)
        if args.ports:
            bulk(nb, api, args.ports)
    finally:
        nt.stop(nb)
    if args.routers:
        routers(base, args.routers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
