"""NAT over VXLAN (testbeds/vxlan_nat.py): three hypervisors and a gateway hypervisor with an outside host,
the real sdnapp process, real packets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbeds import vxlan_nat as vn
from testbeds.client import Client
from testbeds.nat import HTTP_PORT, OUTSIDE_IP

API_PORT = 19698
OF_PORT = 16655


@pytest.fixture(scope="module")
def sc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[vn.VxlanNat]:
    base: Path = tmp_path_factory.mktemp("vxnat")
    scenario = vn.start(base, API_PORT, OF_PORT)
    try:
        vn.provision(scenario)
        vn.wait_ready(scenario)
        admin = Client(scenario.proc.url, "ops", admin=True)
        deadline = time.monotonic() + 20
        while not any(s.get("gateway", {}).get("next_hop_mac") for s in admin.get("/v1/switches")["switches"]):
            assert time.monotonic() < deadline, "the next hop was never resolved"
            time.sleep(0.2)
        yield scenario
    finally:
        print(scenario.proc.log()[-3000:])
        vn.stop(scenario)


def _last_client(sc: vn.VxlanNat) -> str:
    return (sc.workdir / "http-out.log").read_text().strip().splitlines()[-1].split(" ")[0]


def test_tenants_with_the_same_address_reach_the_outside_each_as_its_own(sc: vn.VxlanNat) -> None:
    url = f"http://{OUTSIDE_IP}:{HTTP_PORT}/"
    for vm, tenant in (("vm1", "red"), ("vm3", "blue"), ("vm2", "red")):
        assert sc.fetch(vm, url) == "200", vm
        time.sleep(0.2)
        assert _last_client(sc) == sc.networks[tenant]["external_address"], vm


def test_a_floating_address_is_reached_from_outside_only_on_its_port(sc: vn.VxlanNat) -> None:
    red = Client(sc.proc.url, "red")
    fa = red.ok("POST", "/v1/floating-addresses", {"floating_address": {"port_id": sc.ports["vm2"]}})
    address = fa["floating_address"]["address"]
    deadline = time.monotonic() + 20
    while red.get(f"/v1/floating-addresses/{fa['floating_address']['id']}")["floating_address"]["status"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)
    out = sc.outside("ping", "-c", "3", "-W", "1", address)
    assert " 0% packet loss" in out, out
    # Hairpin across tunnels: blue's vm3 (hv1) reaches red's vm2 (hv2) by its floating address.
    assert " 0% packet loss" in sc.vms["vm3"].cmd("ping", "-c", "2", "-W", "2", address)


def test_the_outside_never_reaches_a_private_address(sc: vn.VxlanNat) -> None:
    red = str(sc.networks["red"]["external_address"])
    sc.outside("ip", "route", "replace", "10.1.0.0/24", "via", red)
    try:
        assert " 100% packet loss" in sc.outside("ping", "-c", "2", "-W", "1", "10.1.0.2")
        assert " 100% packet loss" in sc.outside("ping", "-c", "2", "-W", "1", red)
    finally:
        sc.outside("ip", "route", "del", "10.1.0.0/24")
