"""The network service on a real OVS switch in Mininet, driven over HTTP against the real process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from testbeds import single_switch as ss
from testbeds.ovs import dump_flows

from .capture import Capture
from .conftest import Bed

ALL = ["h1", "h2", "h3", "h4", "h5", "h6"]


def test_ping_matrix_same_network_only(bed: Bed) -> None:
    m = ss.ping_matrix(bed.net, bed.sc)
    assert ss.matrix_holds(bed.sc, m) == [], ss.format_matrix(bed.sc, m)
    assert any(m.values()), "nothing reached anything: the matrix proves nothing"


def test_only_lldp_and_the_vnics_dhcp_go_to_the_controller_each_through_its_meter(bed: Bed) -> None:
    to_controller = [f for f in dump_flows("s1") if "CONTROLLER" in f.actions]
    lldp = [f for f in to_controller if "dl_type=0x88cc" in f.match]
    assert len(lldp) == 1 and "meter:1" in lldp[0].actions, to_controller  # link discovery
    dhcp = [f for f in to_controller if f not in lldp]
    # DHCP from each VNIC's own port and MAC (every network here serves DHCP), through the DHCP meter.
    assert sorted(f.match.split("in_port=")[1].split(",")[0] for f in dhcp) == [str(i) for i in range(1, 7)], dhcp
    assert all("tp_src=68" in f.match and "tp_dst=67" in f.match and "meter:2" in f.actions for f in dhcp), dhcp


def test_arp_broadcast_is_seen_only_in_its_network(bed: Bed) -> None:
    cap = Capture([bed.host(h) for h in ALL if h != "h1"], "arp and host 10.0.99.99")
    bed.host("h1").cmd("ping -c 2 -W 1 10.0.99.99")  # nobody has it: ARP requests go out as broadcast
    seen = cap.stop()
    assert len(seen["h2"]) >= 1, "h2 shares h1's network and must see its ARP request"
    for h in ("h3", "h4", "h5", "h6"):
        assert seen[h] == [], f"{h} is in another network but saw: {seen[h]}"


def test_spoofed_and_tagged_frames_get_nothing_through(bed: Bed) -> None:
    blue_a = bed.admin.get(f"/v1/networks/{bed.sc.networks['blue-a']}")["network"]["segment"]["id"]
    h = bed.sc.hosts
    others = [bed.host(x) for x in ALL if x != "h1"]

    def send(sender: str, src: str, dst: str, vlan: int | None = None) -> None:
        node = bed.host(sender)
        cmd = (f"{sys.executable} -m testbeds.craft --iface {node.defaultIntf()} --src {src} --dst {dst} "
               f"--ip-src {h[sender].ip} --count 3")
        if vlan is not None:
            cmd += f" --vlan {vlan}"
        out = node.cmd(cmd)
        assert "Traceback" not in out, out

    # Control: a frame with the sender's own MAC reaches its network's other host.
    cap = Capture([bed.host("h2")], "udp port 4242")
    send("h1", h["h1"].mac, "ff:ff:ff:ff:ff:ff")
    assert len(cap.stop()["h2"]) >= 1, "the control frame was not delivered: the capture proves nothing"

    # h1 has a peer (h2) in its network, so any frame the pipeline admitted would reach h2.
    cap = Capture(others, "udp port 4242 or (vlan and udp port 4242)")
    send("h1", h["h3"].mac, h["h2"].mac)  # another VNIC's MAC, to its own peer
    send("h1", h["h4"].mac, "ff:ff:ff:ff:ff:ff")  # another tenant's MAC, broadcast
    send("h1", "02:00:00:00:00:99", h["h2"].mac)  # a MAC nobody has
    send("h1", "01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff")  # a multicast source
    send("h1", h["h1"].mac, h["h4"].mac, vlan=blue_a)  # own MAC, tagged with blue-a's VLAN
    send("h1", h["h1"].mac, "ff:ff:ff:ff:ff:ff", vlan=blue_a)
    send("h1", h["h1"].mac, h["h2"].mac, vlan=0)  # priority-tagged
    seen = cap.stop()
    for name, lines in seen.items():
        assert lines == [], f"{name} received a crafted frame from h1: {lines}"


def test_port_security_ip_arp_and_dhcp(bed: Bed) -> None:
    h = bed.sc.hosts
    node = bed.host("h1")

    def send(*extra: str) -> None:
        out = node.cmd(f"{sys.executable} -m testbeds.craft --iface {node.defaultIntf()} --src {h['h1'].mac} "
                       + " ".join(extra) + " --count 3")
        assert "Traceback" not in out, out

    # Control: its own address reaches the peer h2; a DHCP request from 0.0.0.0 does not (sdnapp answers it).
    cap = Capture([bed.host("h2")], "udp port 4242 or udp port 67")
    send("--dst", h["h2"].mac, "--ip-src", h["h1"].ip)
    send("--dhcp", "discover")
    seen = cap.stop()["h2"]
    assert sum("4242" in x for x in seen) >= 1 and not any(".67:" in x or ".67 " in x for x in seen), seen

    cap = Capture([bed.host("h2")], "udp port 4242 or udp port 68 or (arp and host 10.0.250.250)")
    send("--dst", h["h2"].mac, "--ip-src", h["h2"].ip)  # h2's own address, spoofed
    send("--dst", h["h2"].mac, "--ip-src", "10.0.1.99")  # an address nobody has
    send("--arp", "--ip-src", h["h2"].ip)  # ARP claiming h2's address
    send("--arp", "--ip-src", h["h1"].ip, "--arp-sha", "02:00:00:00:00:99")  # own address, another MAC
    send("--dhcp", "offer", "--ip-src", h["h1"].ip)  # answering as a DHCP server
    seen = cap.stop()["h2"]
    assert seen == [], f"spoofed frames from h1 reached h2: {seen}"


def test_a_flood_towards_the_controller_is_limited_in_the_switch(bed: Bed) -> None:
    lldp = [f for f in dump_flows("s1") if "CONTROLLER" in f.actions and "dl_type=0x88cc" in f.match]
    assert lldp and "meter:1" in lldp[0].actions, f"the LLDP flow is not metered: {lldp}"
    node = bed.host("h3")
    flood = node.popen([sys.executable, "-m", "testbeds.flood", "--iface", str(node.defaultIntf()),
                        "--count", "100000", "--seconds", "6", "--rate", "20000"], stdout=subprocess.PIPE, text=True)
    red = bed.admin.as_project("red")
    worst = 0.0
    while flood.poll() is None:
        t0 = time.monotonic()
        red.get("/v1/ports")
        worst = max(worst, time.monotonic() - t0)
        time.sleep(0.05)
    out, _ = flood.communicate()
    assert "sent" in out, out
    assert worst < 1.0, f"the REST API took {worst:.2f}s to answer during the flood"
    stats = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "meter-stats", "s1", "meter=1"], capture_output=True,
                           text=True).stdout
    dropped = [int(x.split(":")[1].split()[0]) for x in stats.split() if x.startswith("packet_count:")]
    assert dropped and dropped[-1] > 0, f"the switch dropped nothing: {stats}"
    assert bed.admin.get("/healthz")["status"] == "ok"
    assert ss.ping(bed.net, "h1", bed.sc.hosts["h2"].ip)
    print(f"flood: {out.strip()}; worst REST answer {worst * 1000:.0f} ms; meter: {' '.join(stats.split())}")


def test_malformed_openflow_from_a_switch_does_not_hurt(bed: Bed) -> None:
    import os
    import socket
    import struct

    from .conftest import OF_PORT

    junk = [
        os.urandom(64),  # not OpenFlow at all
        struct.pack("!BBHI", 4, 0, 8, 1),  # a HELLO of OpenFlow 1.3, then nonsense
        struct.pack("!BBHI", 4, 0, 8, 1) + struct.pack("!BBHI", 4, 6, 4, 2),  # FEATURES_REPLY, length too short
        struct.pack("!BBHI", 4, 0, 8, 1) + struct.pack("!BBHI", 4, 10, 0xFFFF, 3) + b"\x00" * 64,  # PACKET_IN, cut
        struct.pack("!BBHI", 4, 0, 8, 1) + struct.pack("!BBHI", 4, 99, 8, 4),  # unknown message type
    ]
    for payload in junk:
        with socket.create_connection(("127.0.0.1", OF_PORT), timeout=2) as c:
            c.sendall(payload)
            time.sleep(0.2)
    assert bed.admin.get("/healthz")["status"] == "ok"
    switches = bed.admin.get("/v1/switches")["switches"]
    assert [s["datapath_id"] for s in switches] == [ss.DPID] and switches[0]["connected"]
    assert ss.ping(bed.net, "h1", bed.sc.hosts["h2"].ip)


def _our_flows() -> dict[tuple[int, int, int, str, str], float]:
    return {f.identity: f.duration for f in dump_flows("s1") if f.ours}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_controller_restart_keeps_traffic_and_flows(bed: Bed, sig: int) -> None:
    before = _our_flows()
    assert before
    # A ping every 20 ms across the whole stop and start: not one may be lost.
    pinger = bed.host("h4").popen(["ping", "-n", "-i", "0.02", "-c", "400", "-W", "1", bed.sc.hosts["h5"].ip],
                                  stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    code = bed.proc.stop(sig)
    if sig == signal.SIGTERM:
        assert code == 0, "SIGTERM must stop sdnapp cleanly"
    # fail-mode secure: the installed flows carry traffic while the controller is away.
    assert ss.ping(bed.net, "h1", bed.sc.hosts["h2"].ip)
    assert not ss.ping(bed.net, "h1", bed.sc.hosts["h4"].ip)
    log_mark = len(bed.proc.log())
    bed.proc.start()
    bed.admin.wait_status([x.port_id for x in bed.sc.hosts.values()], "ACTIVE", timeout=30)
    after = _our_flows()
    assert set(after) == set(before), "the restart changed the flows"
    for ident, duration in before.items():
        # A flow deleted and added again would have started its duration anew.
        assert after[ident] >= duration, f"flow re-added on reconnect: {ident}"
    new_log = bed.proc.log()[log_mark:]
    assert "switch 0000000000000001 connected" in new_log
    [sw] = bed.admin.get("/v1/switches")["switches"]
    assert sw["flows"]["flow_mods_sent"] == 0 and sw["flows"]["installed"] == len(after), sw["flows"]
    assert " flows" not in new_log.split("connected", 1)[1], f"flow-mods sent on reconnect:\n{new_log}"
    out, _ = pinger.communicate(timeout=30)
    assert " 400 received" in out and " 0% packet loss" in out, f"pings lost across the restart: {out[-300:]}"
    m = ss.ping_matrix(bed.net, bed.sc)
    assert ss.matrix_holds(bed.sc, m) == [], ss.format_matrix(bed.sc, m)


def test_restart_removes_stale_flows_and_adds_missing_ones(bed: Bed) -> None:
    from flows.pipeline import cookie_for

    before = _our_flows()
    bed.proc.stop(signal.SIGKILL)
    # While sdnapp is away the switch drifts: a flow of ours vanishes, a stale one of ours
    # appears (a network that no longer exists), and another application adds its own.
    victim = next(f for f in dump_flows("s1") if f.ours and f.priority == 10)
    subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "--strict", "del-flows", "s1",
                    f"table={victim.table},priority={victim.priority},{victim.match}"], check=True)
    stale = f"cookie={cookie_for(3999):#x},table=1,priority=10,dl_vlan=3999,actions=drop"
    foreign = "cookie=0x1234,table=0,priority=5,dl_type=0x88b5,actions=drop"
    for flow in (stale, foreign):
        subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "add-flow", "s1", flow], check=True)
    bed.proc.start()
    bed.admin.wait_status([x.port_id for x in bed.sc.hosts.values()], "ACTIVE", timeout=30)
    deadline = time.monotonic() + 10
    while set(_our_flows()) != set(before):
        assert time.monotonic() < deadline, "the switch was not brought back to the desired flows"
        time.sleep(0.1)
    assert any(f.cookie == 0x1234 for f in dump_flows("s1")), "another application's flow was touched"
    subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "del-flows", "s1", "cookie=0x1234/-1"], check=True)


def test_concurrent_clients_leave_a_consistent_state(bed: Bed) -> None:
    import threading

    tenant = bed.admin.as_project("storm")
    net = tenant.create_network("storm", "10.9.0.0/24")
    errors: list[str] = []

    def worker(i: int) -> None:
        c = bed.admin.as_project("storm")
        try:
            for k in range(5):
                port = c.create_port(net["id"])
                vnic = c.create_vnic()
                c.plug(port["id"], vnic["id"])
                bed.admin.bind(vnic["id"], ss.DPID, f"storm-{i}-{k}")  # no such switch port: no flows yet
                if k % 2:
                    c.unplug(vnic["id"])
                    c.delete(f"/v1/vnics/{vnic['id']}")
                    c.delete(f"/v1/ports/{port['id']}")
        except Exception as e:  # collected, asserted below
            errors.append(f"worker {i}: {e}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    ports = tenant.get(f"/v1/networks/{net['id']}/ports")["ports"]
    vnics = {v["id"]: v for v in tenant.get("/v1/vnics")["vnics"]}
    assert len(ports) == 20 * 3
    assert len({p["ip_address"] for p in ports}) == len(ports), "an address was given twice"
    assert len({v["mac_address"] for v in vnics.values()}) == len(vnics), "a MAC was given twice"
    for p in ports:
        assert vnics[p["vnic_id"]]["port_id"] == p["id"], "attachment not the same from both sides"
    # The switch holds exactly what the state says: a restart finds nothing to send.
    log_mark = len(bed.proc.log())
    bed.proc.stop(signal.SIGKILL)
    bed.proc.start()
    bed.admin.wait_status([x.port_id for x in bed.sc.hosts.values()], "ACTIVE", timeout=30)
    assert " flows" not in bed.proc.log()[log_mark:].split("connected", 1)[-1]
    for v in vnics.values():
        tenant.unplug(v["id"])
    tenant.delete(f"/v1/networks/{net['id']}")


def test_unplug_plug_and_destroy_cut_and_restore(bed: Bed) -> None:
    h1, h2 = bed.sc.hosts["h1"], bed.sc.hosts["h2"]
    red = bed.admin.as_project("red")
    assert ss.ping(bed.net, "h1", h2.ip)

    red.unplug(h2.vnic_id)
    assert red.port(h2.port_id)["status"] == "DOWN"
    _wait_unreachable(bed, "h1", h2.ip)

    red.plug(h2.port_id, h2.vnic_id)
    red.wait_status([h2.port_id], "ACTIVE")
    assert ss.ping(bed.net, "h1", h2.ip, count=3)

    red.delete(f"/v1/vnics/{h2.vnic_id}")
    assert red.port(h2.port_id)["vnic_id"] is None
    _wait_unreachable(bed, "h1", h2.ip)
    assert ss.ping(bed.net, "h1", bed.sc.hosts["h1"].ip)  # h1 itself is fine

    # A new VNIC with the same MAC, plugged and bound again, restores the path.
    vnic = red.create_vnic(h2.mac, "h2-eth0")
    red.plug(h2.port_id, vnic["id"])
    bed.admin.bind(vnic["id"], ss.DPID, h2.switch_port)
    h2.vnic_id = vnic["id"]
    red.wait_status([h2.port_id], "ACTIVE")
    assert ss.ping(bed.net, "h1", h2.ip, count=3)
    assert h1.port_id


def _wait_unreachable(bed: Bed, src: str, ip: str, timeout: float = 5.0) -> None:
    # The flows go when the reconciler has run; the port went DOWN at once.
    deadline = time.monotonic() + timeout
    while ss.ping(bed.net, src, ip):
        assert time.monotonic() < deadline, f"{src} still reaches {ip}"
        time.sleep(0.1)


def test_switch_port_down_makes_the_port_down_and_back(bed: Bed) -> None:
    h2 = bed.sc.hosts["h2"]
    red = bed.admin.as_project("red")
    node = bed.host("h2")
    intf = node.defaultIntf()
    node.cmd(f"ip link set {intf} down")  # the switch sees its veth peer lose carrier
    try:
        red.wait_status([h2.port_id], "DOWN", timeout=10)
        switch = bed.admin.get("/v1/switches")["switches"][0]
        assert {p["name"]: p["up"] for p in switch["ports"]}[h2.switch_port] is False
    finally:
        node.cmd(f"ip link set {intf} up")
    red.wait_status([h2.port_id], "ACTIVE", timeout=10)
    assert ss.ping(bed.net, "h1", h2.ip, count=3)
