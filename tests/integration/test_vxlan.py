"""VXLAN between three hypervisors (one OVS each, in namespaces), VNICs bound from iface-id, migration."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from flows.model import GATEWAY_MAC
from testbeds import vxlan as vx
from testbeds.client import Client
from testbeds.dhcp_client import udhcpc_lease
from testbeds.hypervisors import sh

API_PORT = 19699
OF_PORT = 16656


@pytest.fixture(scope="module")
def sc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[vx.VxlanScenario]:
    base: Path = tmp_path_factory.mktemp("vx")
    scenario = vx.start(base, API_PORT, OF_PORT)
    try:
        vx.provision(scenario)
        Client(scenario.proc.url, "ops", admin=True).wait_status(list(scenario.ports.values()), timeout=30)
        scenario.bed.warm_underlay()
        yield scenario
    finally:
        print(scenario.proc.log()[-3000:])
        vx.stop(scenario)


def _admin(sc: vx.VxlanScenario) -> Client:
    return Client(sc.proc.url, "ops", admin=True)


def test_vnics_are_bound_by_iface_id_alone(sc: vx.VxlanScenario) -> None:
    for name, vm in sc.vms.items():
        vnic = sc.client(name).get(f"/v1/vnics/{vm.vnic_id}")["vnic"]
        assert vnic["binding"]["source"] == "switch"
        assert vnic["binding"]["datapath_id"] == vm.hv.dpid and vnic["binding"]["port_name"] == vm.tap
        assert vnic["status"] == "ACTIVE"


def test_tenants_with_the_same_addresses_stay_apart(sc: vx.VxlanScenario) -> None:
    names = sorted(sc.vms)
    for a in names:
        for b in names:
            if a == b or sc.vms[a].ip == sc.vms[b].ip:
                continue
            # Three tries: OVS's userspace tunnel drops a frame while it resolves an underlay neighbour.
            reached = vx.ping(sc, a, sc.vms[b].ip, count=3)
            mac = vx.neighbour_mac(sc, a, sc.vms[b].ip)
            if sc.same_network(a, b):
                assert reached and mac == sc.vms[b].mac, f"{a} -> {b}"
            else:
                # The address may exist in a's own network too; then it must be a's peer that answered.
                peers = {sc.vms[x].mac for x in names if sc.same_network(a, x)}
                assert mac is None or mac in peers, f"{a} learned {b}'s address at a foreign MAC {mac}"
    assert not vx.ping(sc, "vm4", sc.vms["vm3"].ip, count=3)  # blue has no .4: red's vm3 is out of reach


def test_broadcast_goes_only_to_hypervisors_of_its_network(sc: vx.VxlanScenario) -> None:
    hv2, hv3 = sc.bed.hvs[1], sc.bed.hvs[2]
    caps = {
        hv.index: subprocess.Popen(
            ["ip", "netns", "exec", hv.ns, "tcpdump", "-l", "-n", "-i", f"phy{hv.index}", "udp port 4789"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for hv in (hv2, hv3)
    }
    for p in caps.values():
        assert p.stderr is not None
        p.stderr.readline()  # "listening on ..."
    vm4 = sc.vms["vm4"]  # blue, on hv1; blue has a VM on hv2 and none on hv3
    out = vm4.cmd(sys.executable, "-m", "testbeds.craft", "--iface", vm4.nic, "--src", vm4.mac,
                  "--ip-src", vm4.ip, "--dst", "ff:ff:ff:ff:ff:ff", "--count", "3")
    assert "Traceback" not in out, out
    time.sleep(0.5)
    blue_vni = _admin(sc).get(f"/v1/networks/{sc.networks['blue']}")["network"]["segment"]["id"]
    seen = {}
    for i, p in caps.items():
        p.terminate()
        seen[i] = [line for line in p.communicate(timeout=5)[0].splitlines() if f"vni {blue_vni}" in line]
    assert len(seen[2]) >= 3, f"hv2 has a blue VM and must get the broadcast: {seen[2]}"
    assert seen[3] == [], f"hv3 has no blue VM but got tunnelled frames: {seen[3]}"


def test_full_size_frames_cross_the_tunnel(sc: vx.VxlanScenario) -> None:
    # 1472 bytes of ICMP payload = a 1500-byte IP packet, not fragmented (-M do).
    assert vx.ping(sc, "vm1", sc.vms["vm2"].ip, count=2, size=1472)


def test_bridges_limit_what_they_send_to_the_controller(sc: vx.VxlanScenario) -> None:
    for hv in sc.bed.hvs:
        out = hv.vsctl("--columns=controller_rate_limit,controller_burst_limit", "list", "Controller")
        assert "100" in out and "25" in out, f"hv{hv.index}: {out}"


def test_tunnel_ports_are_reported_and_repaired(sc: vx.VxlanScenario) -> None:
    switches = _admin(sc).get("/v1/switches")["switches"]
    assert [s["tunnel"]["ok"] for s in switches] == [True, True, True]
    hv2 = sc.bed.hvs[1]
    hv2.vsctl("set", "Interface", "vxlan0", "options:key=123")  # somebody breaks it
    deadline = time.monotonic() + 10
    while hv2.vsctl("get", "Interface", "vxlan0", "options:key").strip().strip('"') != "flow":
        assert time.monotonic() < deadline, "sdnapp did not repair the tunnel port"
        time.sleep(0.1)
    assert vx.ping(sc, "vm1", sc.vms["vm2"].ip, count=2)


def test_interface_removed_takes_the_port_down_and_back(sc: vx.VxlanScenario) -> None:
    vm3 = sc.vms["vm3"]
    red = sc.client("vm3")
    sc.bed.unplug_vif(vm3)
    red.wait_status([sc.ports["vm3"]], "DOWN", timeout=10)
    assert red.get(f"/v1/vnics/{vm3.vnic_id}")["vnic"]["binding"] is None
    assert not vx.ping(sc, "vm1", vm3.ip, count=2)
    sc.bed.plug_vif(vm3, vm3.hv)
    red.wait_status([sc.ports["vm3"]], "ACTIVE", timeout=10)
    assert vx.ping(sc, "vm1", vm3.ip, count=2)


def test_migration_moves_the_binding_and_traffic_follows(sc: vx.VxlanScenario) -> None:
    vm2 = sc.vms["vm2"]
    hv3 = sc.bed.hvs[2]
    red = sc.client("vm2")
    sc.bed.migrate(vm2, hv3)
    deadline = time.monotonic() + 10
    while True:
        b = red.get(f"/v1/vnics/{vm2.vnic_id}")["vnic"]["binding"]
        if b and b["datapath_id"] == hv3.dpid:
            break
        assert time.monotonic() < deadline, f"binding did not move: {b}"
        time.sleep(0.05)
    red.wait_status([sc.ports["vm2"]], "ACTIVE", timeout=10)
    assert vx.ping(sc, "vm1", vm2.ip, count=2)
    assert vx.ping(sc, "vm3", vm2.ip, count=2)  # vm3 and vm2 now share hv3


def test_unknown_iface_id_is_ignored_until_it_names_a_vnic(sc: vx.VxlanScenario) -> None:
    hv1 = sc.bed.hvs[0]
    red = sc.client("vm1")
    vnic = red.create_vnic(name="late")
    sh("ip", "link", "add", "t-late", "type", "veth", "peer", "name", "p-late")
    sh("ip", "link", "set", "t-late", "netns", hv1.ns)
    sh("ip", "link", "set", "t-late", "up", ns=hv1.ns)
    try:
        hv1.vsctl("add-port", "br-int", "t-late", "--", "set", "Interface", "t-late",
                  "external_ids:iface-id=4c0ffee0-0000-4000-8000-000000000000", "external_ids:iface-status=active")
        time.sleep(1)
        assert red.get(f"/v1/vnics/{vnic['id']}")["vnic"]["binding"] is None
        hv1.vsctl("set", "Interface", "t-late", f"external_ids:iface-id={vnic['id']}")
        deadline = time.monotonic() + 10
        while red.get(f"/v1/vnics/{vnic['id']}")["vnic"]["binding"] is None:
            assert time.monotonic() < deadline, "the VNIC was not bound once the iface-id named it"
            time.sleep(0.05)
    finally:
        hv1.vsctl("--if-exists", "del-port", "br-int", "t-late")
        sh("ip", "link", "del", "t-late", ns=hv1.ns, check=False)


def test_a_restarted_switch_is_reprogrammed_from_desired_state(sc: vx.VxlanScenario) -> None:
    hv1 = sc.bed.hvs[0]  # vm1 (red) and vm4 (blue)
    admin = _admin(sc)
    on_hv1 = [sc.ports["vm1"], sc.ports["vm4"]]
    before = sorted(ln.split(" actions=")[0].split("priority=")[1] + " " + ln.split(" actions=")[1]
                    for ln in hv1.ofctl("dump-flows").splitlines() if "cookie=0x5d4e" in ln)
    hv1.stop_vswitchd()
    try:
        admin.wait_status(on_hv1, "DOWN", timeout=10)
    finally:
        hv1.start_vswitchd()
    admin.wait_status(on_hv1, "ACTIVE", timeout=20)
    after = sorted(ln.split(" actions=")[0].split("priority=")[1] + " " + ln.split(" actions=")[1]
                   for ln in hv1.ofctl("dump-flows").splitlines() if "cookie=0x5d4e" in ln)
    assert after == before, "the switch came back with other flows than it had"
    sc.bed.warm_underlay()
    assert vx.ping(sc, "vm1", sc.vms["vm3"].ip, count=3)
    assert vx.ping(sc, "vm4", sc.vms["vm5"].ip, count=3)


def test_vms_get_their_lease_with_the_tunnels_mtu_and_ping_their_gateway(sc: vx.VxlanScenario, tmp_path: Path) -> None:
    # Last in this file: the VMs keep the MTU their lease gave them (the tunnel's headers less than 1500).
    for name in ("vm1", "vm4", "vm5"):  # red and blue, with the same prefix and addresses
        vm = sc.vms[name]
        vm.cmd("ip", "addr", "flush", "dev", vm.nic)
        got = udhcpc_lease(partial(vm.cmd, "sh", "-c"), vm.nic, tmp_path / name)
        assert (got.get("ip"), got.get("mask"), got.get("router"), got.get("mtu")) == (
            vm.ip, "24", "10.1.0.1", "1450"), got
        assert "mtu 1450" in vm.cmd("ip", "link", "show", vm.nic)
        assert vx.ping(sc, name, "10.1.0.1", count=2), f"{name} cannot ping its gateway"
        assert GATEWAY_MAC in vm.cmd("ip", "neigh", "show", "10.1.0.1")
    assert vx.ping(sc, "vm4", sc.vms["vm5"].ip, count=3)  # blue still reaches blue with its leased address
