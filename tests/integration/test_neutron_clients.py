"""The Neutron face driven by the real clients: openstacksdk and the `openstack` CLI against the real
sdnapp process, a hypervisor (`compute1`: its own OVS, userspace datapath) and a fake Nova.

A port made for a server, bound to compute1 and plugged the way os-vif plugs it (an interface with
external_ids iface-id=<port id>, attached-mac, vm-uuid, iface-status=active) goes ACTIVE, traffic
flows between two such VMs, and Nova hears network-vif-plugged, -unplugged and -deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack import exceptions as osexc

from testbeds import neutron as nt

API_PORT = 19810
OF_PORT = 16810
NOVA_PORT = 19811
OPENSTACK = str(Path(sys.executable).parent / "openstack")


@pytest.fixture(scope="module")
def nb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nt.NeutronBed]:
    bed = nt.start(tmp_path_factory.mktemp("neutron"), API_PORT, OF_PORT, NOVA_PORT)
    try:
        yield bed
    finally:
        print(bed.proc.log()[-4000:])
        nt.stop(bed)


@pytest.fixture(scope="module")
def conn(nb: nt.NeutronBed, tmp_path_factory: pytest.TempPathFactory) -> openstack.connection.Connection:
    """openstacksdk as the contract says to point it at sdnapp: no auth, the unversioned endpoint."""
    return openstack.connect(auth_type="none", network_endpoint_override=nb.url, load_yaml_config=False,
                             load_envvars=False)


def cli(nb: nt.NeutronBed, home: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "LANG": "C.UTF-8"}
    r = subprocess.run([OPENSTACK, "--os-auth-type", "none", "--os-endpoint", nb.url, *args],
                       capture_output=True, text=True, env=env, timeout=60)
    if ok:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def wait_status(conn: Any, port_id: str, status: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        p = conn.network.get_port(port_id)
        if p.status == status or time.monotonic() > deadline:
            return p
        time.sleep(0.1)


def test_openstacksdk(conn: Any) -> None:
    net = conn.network.create_network(name="sdk-net")
    assert net.mtu == 1500 and net.is_admin_state_up and net.project_id == "admin"  # noauth: the default project
    sub = conn.network.create_subnet(network_id=net.id, cidr="10.20.0.0/24", ip_version=4, name="sdk-sub")
    assert (sub.gateway_ip, sub.allocation_pools) == ("10.20.0.1", [{"start": "10.20.0.2", "end": "10.20.0.254"}])
    assert conn.network.find_network("sdk-net").id == net.id  # by name: GET /networks/sdk-net 404, then ?name=
    assert conn.network.find_network(net.id).id == net.id
    assert conn.network.find_network("no-such-net") is None
    ports = list(conn.network.create_ports([{"network_id": net.id, "name": n} for n in ("a", "b")]))  # one POST
    assert [p.name for p in ports] == ["a", "b"]
    assert [p.fixed_ips[0]["ip_address"] for p in ports] == ["10.20.0.2", "10.20.0.3"]
    server = str(uuid.uuid4())
    p = conn.network.update_port(ports[0], binding_host_id="compute1", device_id=server, device_owner="compute:nova")
    assert (p.binding_host_id, p.binding_vif_type) == ("compute1", "ovs")
    assert p.binding_vif_details["datapath_type"] == "netdev" and p.binding_vif_details["bridge_name"] == "br-int"
    assert [x.id for x in conn.network.ports(device_id=server)] == [p.id]
    assert {x.id for x in conn.network.ports(network_id=net.id)} == {ports[0].id, ports[1].id}
    assert conn.network.get_quota("admin").ports == -1
    assert "binding" in {e.alias for e in conn.network.extensions()}
    assert conn.network.find_extension("router") is None
    with pytest.raises(osexc.ConflictException):
        conn.network.delete_network(net)  # a port has a device
    with pytest.raises(osexc.NotFoundException):
        conn.network.get_network(str(uuid.uuid4()))
    with pytest.raises(osexc.BadRequestException):
        conn.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": "10.99.0.1"}])
    conn.network.delete_port(p)
    conn.network.delete_network(net)  # its other port has no device: it goes with it
    conn.network.delete_network(str(uuid.uuid4()))  # ignore_missing


def test_openstack_cli(nb: nt.NeutronBed, tmp_path: Path) -> None:
    def js(*args: str) -> Any:
        return json.loads(cli(nb, tmp_path, *args, "-f", "json").stdout)

    net = js("network", "create", "cli-net")
    assert net["name"] == "cli-net" and net["status"] == "ACTIVE"
    sub = js("subnet", "create", "--network", "cli-net", "--subnet-range", "10.30.0.0/24", "cli-sub")
    assert sub["cidr"] == "10.30.0.0/24"
    port = js("port", "create", "--network", "cli-net", "p1")
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.30.0.2"}]
    cli(nb, tmp_path, "port", "set", "--host", "compute1", "--device", "dev1", "--device-owner", "compute:nova",
        "p1")
    listed = js("port", "list", "--device-id", "dev1")
    assert [p["ID"] for p in listed] == [port["id"]] and listed[0]["Status"] == "DOWN"
    shown = js("port", "show", "p1")
    assert (shown["binding_host_id"], shown["binding_vif_type"]) == ("compute1", "ovs")
    r = cli(nb, tmp_path, "network", "delete", "cli-net", ok=False)
    assert r.returncode == 1 and "409" in r.stderr and "still in use" in r.stderr, r.stderr
    cli(nb, tmp_path, "port", "delete", "p1")
    cli(nb, tmp_path, "network", "delete", "cli-net")
    assert "cli-net" not in cli(nb, tmp_path, "network", "list").stdout


def test_an_os_vif_plug_goes_active_and_nova_hears_of_it(nb: nt.NeutronBed, conn: Any) -> None:
    net = conn.network.create_network(name="vm-net")
    conn.network.create_subnet(network_id=net.id, cidr="10.40.0.0/24", ip_version=4)
    servers = [str(uuid.uuid4()), str(uuid.uuid4())]
    # Nova's boot: the user's client creates the port, the admin client binds it to the host
    ports = [conn.network.create_port(network_id=net.id, device_id=s, tenant_id="admin") for s in servers]
    ports = [conn.network.update_port(p, device_owner="compute:nova", binding_host_id="compute1") for p in ports]
    assert all(p.status == "DOWN" for p in ports)
    vms = [nb.bed.add_vm(f"n{i}", nb.hv, p.mac_address, p.fixed_ips[0]["ip_address"], 24, p.id, vm_uuid=s)
           for i, (p, s) in enumerate(zip(ports, servers, strict=True))]
    for p, s in zip(ports, servers, strict=True):
        assert wait_status(conn, p.id, "ACTIVE").status == "ACTIVE"
        got = nb.nova.wait_for("network-vif-plugged", p.id)
        assert got is not None and got.event == {"name": "network-vif-plugged", "server_uuid": s, "tag": p.id,
                                                 "status": "completed"}
    out = vms[0].cmd("ping", "-c", "3", "-W", "1", "-i", "0.2", vms[1].ip)
    assert " 0 received" not in out and " received" in out, out
    nb.bed.unplug_vif(vms[0])  # the VM stops: os-vif deletes its interface
    assert wait_status(conn, ports[0].id, "DOWN").status == "DOWN"
    assert nb.nova.wait_for("network-vif-unplugged", ports[0].id) is not None
    conn.network.delete_port(ports[1])
    got = nb.nova.wait_for("network-vif-deleted", ports[1].id)
    assert got is not None and got.event["server_uuid"] == servers[1]
    assert got.headers["X-Auth-Token"] == nt.NOVA_TOKEN
