"""Neutron routers and floating IPs driven by the real clients (openstacksdk and the `openstack` CLI)
against the real sdnapp process, with compute1 also the NAT gateway (testbeds/neutron.py with
`external`: an uplink to an outside host whose HTTP server answers with the client's address).

The configured external network is `public`. A VM on a Neutron network, plugged as os-vif plugs it,
takes its address by DHCP; it reaches the outside host only once a router with a gateway has an
interface on its subnet (seen there as the router's gateway address), and the outside host reaches
it by a floating IP while one is associated (its own traffic then leaves from that address).
"""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack import exceptions as osexc

from testbeds import neutron as nt
from testbeds.dhcp_client import udhcpc_lease
from testbeds.hypervisors import Vm
from testbeds.nat import OUTSIDE_IP, POOL
from testbeds.vxlan_nat import OUTSIDE_NS

from .test_neutron_clients import cli, wait_status

API_PORT, OF_PORT, NOVA_PORT = 19840, 16840, 19841
OUTSIDE_URL = f"http://{OUTSIDE_IP}:{nt.WHOAMI_PORT}/"
VM_HTTP_PORT = 8080


@pytest.fixture(scope="module")
def nb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nt.NeutronBed]:
    bed = nt.start(tmp_path_factory.mktemp("routers"), API_PORT, OF_PORT, NOVA_PORT, external=True)
    try:
        yield bed
    finally:
        print(bed.proc.log()[-4000:])
        nt.stop(bed)


@pytest.fixture(scope="module")
def conn(nb: nt.NeutronBed) -> openstack.connection.Connection:
    return openstack.connect(auth_type="none", network_endpoint_override=nb.url, load_yaml_config=False,
                             load_envvars=False)


@pytest.fixture(scope="module")
def public(conn: Any) -> Any:
    net = conn.network.find_network("public")
    assert net is not None, [n.name for n in conn.network.networks()]
    return net


def in_pool(address: str) -> bool:
    first, last = (ipaddress.IPv4Address(a) for a in POOL)
    return first <= ipaddress.IPv4Address(address) <= last


def gateway_address(router: Any) -> str:
    ips = router.external_gateway_info["external_fixed_ips"]
    assert len(ips) == 1 and in_pool(ips[0]["ip_address"]), router.external_gateway_info
    return str(ips[0]["ip_address"])


def eventually(get: Callable[[], str], want: str, timeout: float = 10.0) -> str:
    """What `get` gives once it gives `want`, or at the deadline (flows follow the API a little later)."""
    deadline = time.monotonic() + timeout
    while (got := get()) != want and time.monotonic() < deadline:
        time.sleep(0.2)
    return got


def wait_fip_status(conn: Any, fip_id: str, status: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while (fip := conn.network.get_ip(fip_id)).status != status and time.monotonic() < deadline:
        time.sleep(0.1)
    return fip


@dataclass
class Guest:
    vm: Vm
    port: Any
    subnet: Any
    lease: dict[str, str]


@pytest.fixture(scope="module")
def guest(nb: nt.NeutronBed, conn: Any, tmp_path_factory: pytest.TempPathFactory) -> Guest:
    """A VM booted as Nova boots one (port made, bound to compute1, plugged by os-vif), with its
    address from DHCP."""
    net = conn.network.create_network(name="vm-net")
    sub = conn.network.create_subnet(network_id=net.id, cidr="10.50.0.0/24", ip_version=4, name="vm-sub")
    server = str(uuid.uuid4())
    port = conn.network.create_port(network_id=net.id, device_id=server)
    port = conn.network.update_port(port, device_owner="compute:nova", binding_host_id=nt.HOST)
    vm = nb.bed.add_vm("rt1", nb.hv, port.mac_address, port.fixed_ips[0]["ip_address"], 24, port.id,
                       vm_uuid=server)
    assert wait_status(conn, port.id, "ACTIVE").status == "ACTIVE"
    vm.cmd("ip", "addr", "flush", "dev", vm.nic, check=True)  # add_vm's static address: DHCP's instead
    lease = udhcpc_lease(lambda c: vm.cmd("sh", "-c", c), vm.nic, tmp_path_factory.mktemp("dhcp"))
    return Guest(vm, port, sub, lease)


def test_the_external_network_is_listed(conn: Any, public: Any) -> None:
    assert public.is_router_external and public.status == "ACTIVE"
    assert [n.id for n in conn.network.networks(is_router_external=True)] == [public.id]
    [sub] = [conn.network.get_subnet(s) for s in public.subnet_ids]
    assert (sub.cidr, sub.gateway_ip, sub.is_dhcp_enabled) == (nt.EXTERNAL_PREFIX, OUTSIDE_IP, False)
    assert sub.allocation_pools == [{"start": POOL[0], "end": POOL[1]}]
    with pytest.raises(osexc.HttpException):  # not made or removed through the API
        conn.network.delete_network(public)
    assert conn.network.get_network(public.id).name == "public"


def test_openstack_cli(nb: nt.NeutronBed, conn: Any, public: Any, tmp_path: Path) -> None:
    """The router and floating IP commands (the network, and what is gone, through openstacksdk: each
    CLI call costs about a second)."""
    def js(*args: str) -> Any:
        return json.loads(cli(nb, tmp_path, *args, "-f", "json").stdout)

    net = conn.network.create_network(name="cli-net")
    sub = conn.network.create_subnet(network_id=net.id, cidr="10.60.0.0/24", ip_version=4, name="cli-sub")
    port = conn.network.create_port(network_id=net.id, name="cli-port")
    router = js("router", "create", "r1")
    assert router["name"] == "r1" and not router["external_gateway_info"], router
    cli(nb, tmp_path, "router", "set", "--external-gateway", "public", "r1")
    cli(nb, tmp_path, "router", "add", "subnet", "r1", "cli-sub")
    shown = js("router", "show", "r1")
    gw = shown["external_gateway_info"]
    assert gw["network_id"] == public.id and len(gw["external_fixed_ips"]) == 1, shown
    assert in_pool(gw["external_fixed_ips"][0]["ip_address"]), shown
    [interface] = shown["interfaces_info"]  # `router show` lists the router's ports (device_id)
    assert (interface["subnet_id"], interface["ip_address"]) == (sub.id, "10.60.0.1"), shown

    fip = js("floating", "ip", "create", "public")
    address = fip["floating_ip_address"]
    assert in_pool(address) and address != gw["external_fixed_ips"][0]["ip_address"], fip
    assert fip["floating_network_id"] == public.id and fip["port_id"] is None and fip["status"] == "DOWN", fip
    cli(nb, tmp_path, "floating", "ip", "set", "--port", "cli-port", address)  # named by its address
    [row] = [f for f in js("floating", "ip", "list") if f["ID"] == fip["id"]]
    assert (row["Floating IP Address"], row["Fixed IP Address"], row["Port"]) == (address, "10.60.0.2", port.id)
    shown = js("floating", "ip", "show", fip["id"])
    assert shown["router_id"] == router["id"] and shown["status"] == "DOWN", shown  # the port is not bound
    cli(nb, tmp_path, "floating", "ip", "unset", "--port", fip["id"])
    got = conn.network.get_ip(fip["id"])
    assert (got.port_id, got.fixed_ip_address, got.router_id) == (None, None, None), got
    cli(nb, tmp_path, "floating", "ip", "delete", fip["id"])
    assert conn.network.find_ip(fip["id"]) is None

    cli(nb, tmp_path, "router", "remove", "subnet", "r1", "cli-sub")
    cli(nb, tmp_path, "router", "unset", "--external-gateway", "r1")  # sends external_gateway_info {}
    got = conn.network.get_router(router["id"])
    assert not got.external_gateway_info, got
    assert list(conn.network.ports(device_id=router["id"])) == []
    cli(nb, tmp_path, "router", "delete", "r1")
    assert conn.network.find_router("r1") is None
    conn.network.delete_network(net)


def test_openstacksdk_and_its_refusals(conn: Any, public: Any) -> None:
    nets = [conn.network.create_network(name=f"sdk-{i}") for i in (1, 2)]
    subs = [conn.network.create_subnet(network_id=n.id, cidr=f"10.7{i}.0.0/24", ip_version=4)
            for i, n in enumerate(nets)]
    ports = [conn.network.create_port(network_id=n.id) for n in nets]
    router = conn.network.create_router(name="sdk-router", external_gateway_info={"network_id": public.id})
    assert router.is_admin_state_up and router.external_gateway_info["network_id"] == public.id
    gateway_address(router)
    conn.network.add_interface_to_router(router, subnet_id=subs[0].id)
    [interface] = conn.network.ports(device_id=router.id, device_owner="network:router_interface")
    assert interface.network_id == nets[0].id
    assert interface.fixed_ips == [{"subnet_id": subs[0].id, "ip_address": subs[0].gateway_ip}]
    with pytest.raises(osexc.BadRequestException):  # one interface per router: NATed networks stay apart
        conn.network.add_interface_to_router(router, subnet_id=subs[1].id)
    with pytest.raises(osexc.NotFoundException) as e:  # sdk-2 has no router
        conn.network.create_ip(floating_network_id=public.id, port_id=ports[1].id)
    assert e.value.response is not None
    assert e.value.response.json()["NeutronError"]["type"] == "ExternalGatewayForFloatingIPNotFound"

    fip = conn.network.create_ip(floating_network_id=public.id, port_id=ports[0].id)
    assert in_pool(fip.floating_ip_address) and fip.floating_network_id == public.id
    assert (fip.port_id, fip.fixed_ip_address, fip.router_id) == (ports[0].id, "10.70.0.2", router.id)
    assert fip.status == "DOWN"  # its port is not bound: not ACTIVE
    with pytest.raises(osexc.NotFoundException):
        conn.network.update_ip(fip, port_id=ports[1].id)
    with pytest.raises(osexc.ConflictException):  # the floating IP needs the interface
        conn.network.remove_interface_from_router(router, subnet_id=subs[0].id)
    with pytest.raises(osexc.ConflictException):  # and the gateway
        conn.network.update_router(router, external_gateway_info=None)
    with pytest.raises(osexc.ConflictException):  # a router with an interface is in use
        conn.network.delete_router(router)
    with pytest.raises(osexc.ConflictException):  # so is a network with a router's interface
        conn.network.delete_network(nets[0])
    assert conn.network.get_router(router.id).external_gateway_info["network_id"] == public.id

    fip = conn.network.update_ip(fip, port_id=None)
    assert (fip.port_id, fip.fixed_ip_address, fip.router_id, fip.status) == (None, None, None, "DOWN")
    conn.network.delete_ip(fip)
    conn.network.remove_interface_from_router(router, subnet_id=subs[0].id)
    assert list(conn.network.ports(device_id=router.id, device_owner="network:router_interface")) == []
    router = conn.network.update_router(router, external_gateway_info=None)
    assert not router.external_gateway_info
    conn.network.delete_router(router)
    with pytest.raises(osexc.NotFoundException):
        conn.network.get_router(router.id)
    for n in nets:
        conn.network.delete_network(n)


def test_a_vm_reaches_the_outside_through_a_router_and_is_reached_by_its_floating_ip(
        conn: Any, public: Any, guest: Guest) -> None:
    vm, port, sub = guest.vm, guest.port, guest.subnet
    assert guest.lease.get("ip") == port.fixed_ips[0]["ip_address"], guest.lease
    assert guest.lease.get("router") == sub.gateway_ip, guest.lease
    server = nt.serve_whoami(vm.ns, "0.0.0.0", VM_HTTP_PORT)
    try:
        assert nt.whoami(vm.ns, OUTSIDE_URL) == ""  # no router: the network is not NATed
        router = conn.network.create_router(name="vm-router", external_gateway_info={"network_id": public.id})
        gw = gateway_address(router)
        conn.network.add_interface_to_router(router, subnet_id=sub.id)
        assert eventually(lambda: nt.whoami(vm.ns, OUTSIDE_URL), gw) == gw  # the outside sees the router

        fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
        assert wait_fip_status(conn, fip.id, "ACTIVE").status == "ACTIVE"
        vm_url = f"http://{fip.floating_ip_address}:{VM_HTTP_PORT}/"
        # The outside reaches the VM by its floating IP (only the destination is translated) ...
        assert eventually(lambda: nt.whoami(OUTSIDE_NS, vm_url), OUTSIDE_IP) == OUTSIDE_IP
        # ... and the VM's own traffic leaves from it.
        assert nt.whoami(vm.ns, OUTSIDE_URL) == fip.floating_ip_address

        fip = conn.network.update_ip(fip, port_id=None)
        assert fip.status == "DOWN"
        assert eventually(lambda: nt.whoami(OUTSIDE_NS, vm_url), "") == ""
        assert eventually(lambda: nt.whoami(vm.ns, OUTSIDE_URL), gw) == gw
        conn.network.delete_ip(fip)

        conn.network.remove_interface_from_router(router, subnet_id=sub.id)
        assert eventually(lambda: nt.whoami(vm.ns, OUTSIDE_URL), "") == ""
        conn.network.delete_router(router)
    finally:
        server.terminate()
        server.wait(5)
