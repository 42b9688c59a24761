"""The operator's CLI against the real WSGI app served over HTTP on loopback (waitress, a free port): tables and
JSON, every argument checked before anything is sent, the API's errors printed with a non-zero exit,
where the API is from flags, environment or a client config file, and --wait's progress.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import waitress

from sdnapp import cli, opscli
from sdnapp.status import ACTIVE
from topology.fabric import LinkEnd
from topology.switches import SwitchPort

from .conftest import World

S1, S2 = 1, 2


@pytest.fixture
def served(world: World) -> Iterator[str]:
    server = waitress.create_server(world.api, host="127.0.0.1", port=0, threads=2)
    port = server.effective_port
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{port}"
    server.close()
    t.join(timeout=5)


@pytest.fixture(autouse=True)
def no_client_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for k in ("SDNAPP_URL", "SDNAPP_TOKEN", "SDNAPP_PROJECT", "SDNAPP_ROLES", "SDNAPP_CLIENT_CONFIG"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/sdnapp/client.yaml of the machine's


def sdnapp(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as e:  # argparse's refusals
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def as_json(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> Any:
    code, out, err = sdnapp(capsys, *argv, "--url", url, "-f", "json")
    assert code == 0, err
    return json.loads(out)


def test_resources_are_created_listed_and_shown(served: str, capsys: pytest.CaptureFixture[str]) -> None:
    net = as_json(capsys, served, "network", "create", "--name", "web", "--prefix", "10.1.0.0/24")["network"]
    port = as_json(capsys, served, "port", "create", "--network", net["id"], "--name", "p1")["port"]
    vnic = as_json(capsys, served, "vnic", "create", "--mac", "FA-16-3E-00-00-01")["vnic"]
    assert vnic["mac_address"] == "fa:16:3e:00:00:01"
    as_json(capsys, served, "port", "plug", port["id"], "--vnic", vnic["id"])
    assert as_json(capsys, served, "ports", "--network", net["id"])["ports"][0]["vnic_id"] == vnic["id"]
    code, out, _ = sdnapp(capsys, "networks", "--url", served)
    assert code == 0 and "web" in out and "10.1.0.0/24" in out and "vlan 100" in out
    code, out, _ = sdnapp(capsys, "port", "show", port["id"], "--url", served)
    assert code == 0 and "10.1.0.2" in out and "DOWN" in out
    code, out, _ = sdnapp(capsys, "vnic", "bind", vnic["id"], "--datapath-id", "0x1", "--port-name", "s1-eth1",
                          "--url", served)
    assert code == 0 and "0000000000000001" in out
    assert as_json(capsys, served, "vnics")["vnics"][0]["binding"]["port_name"] == "s1-eth1"
    assert as_json(capsys, served, "extensions")["extensions"][0]["alias"] == "ethernet-vnic"
    code, out, _ = sdnapp(capsys, "port", "unplug", port["id"], "--url", served)
    assert code == 0 and "unplugged" in out
    assert as_json(capsys, served, "port", "attachment", port["id"])["attachment"]["vnic_id"] is None


def test_the_apis_errors_are_printed_and_exit_non_zero(served: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = sdnapp(capsys, "port", "show", "3f1e0c56-0000-4000-8000-000000000000", "--url", served)
    assert (code, out) == (1, "") and "404 PortNotFound: port 3f1e0c56-0000-4000-8000-000000000000 not found" in err
    code, _, err = sdnapp(capsys, "switches", "--url", served, "--roles", "member")
    assert code == 1 and "403 Forbidden" in err
    code, _, err = sdnapp(capsys, "switches", "--url", "http://127.0.0.1:1")
    assert code == 1 and "cannot reach the API at http://127.0.0.1:1" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["port", "show", "42"], "a port id is a UUID, not '42'"),
        (["network", "create", "--prefix", "10.1.0.1/24"], "host bits set"),
        (["vnic", "create", "--mac", "01:00:5e:00:00:01"], "not unicast"),
        (["vnic", "bind", "3f1e0c56-0000-4000-8000-000000000000", "--datapath-id", "xyz", "--port-no", "1"],
         "datapath_id 'xyz'"),
        (["vnic", "bind", "3f1e0c56-0000-4000-8000-000000000000", "--datapath-id", "1", "--port-no", "0"],
         "a switch port number is 1 to"),
        (["vnic", "bind", "3f1e0c56-0000-4000-8000-000000000000", "--datapath-id", "1"],
         "one of the arguments --port-name --port-no is required"),
        (["trace", "--from", "x", "--to", "10.0.0.1"], "--from is a port id or DATAPATH_ID/PORT"),
        (["trace", "--from", "1/2", "--to", "nowhere"], "--to is a MAC address or an IPv4 address"),
        (["trace", "--from", "1/2", "--to", "10.0.0.1", "--vlan", "5000"], "a VLAN id is 0 to 4095"),
        (["port", "plug", "3f1e0c56-0000-4000-8000-000000000000", "--vnic", "3f1e0c56-0000-4000-8000-000000000000",
          "--wait", "--timeout", "-1"], "a timeout is seconds"),
        (["switches", "-f", "yaml"], "invalid choice: 'yaml'"),
    ],
)
def test_arguments_are_checked_before_anything_is_sent(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                       message: str) -> None:
    code, out, err = sdnapp(capsys, *argv, "--url", "http://127.0.0.1:1")  # nothing listens there
    assert code == 2 and message in err and "cannot reach" not in err, err


def test_where_the_api_is_flags_then_environment_then_file(served: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "client.yaml"
    cfg.write_text(f"url: {served}\nproject: from-file\nroles: admin\n")
    monkeypatch.setenv("SDNAPP_CLIENT_CONFIG", str(cfg))
    net = as_json(capsys, served, "network", "create")["network"]
    assert net["tenant_id"] == "from-file"
    monkeypatch.setenv("SDNAPP_PROJECT", "from-env")
    code, out, _ = sdnapp(capsys, "network", "create", "-f", "json")  # the url from the file
    assert code == 0 and json.loads(out)["network"]["tenant_id"] == "from-env"
    code, out, _ = sdnapp(capsys, "network", "create", "-f", "json", "--project", "from-flag")
    assert json.loads(out)["network"]["tenant_id"] == "from-flag"
    cfg.write_text("url: x\nsecret: 1\n")
    code, _, err = sdnapp(capsys, "networks")
    assert code == 2 and "unknown key 'secret'" in err
    cfg.write_text("url: ftp://host\n")
    code, _, err = sdnapp(capsys, "networks")
    assert code == 2 and "must be http(s)://HOST[:PORT]" in err
    monkeypatch.setenv("SDNAPP_CLIENT_CONFIG", str(tmp_path / "missing.yaml"))
    code, _, err = sdnapp(capsys, "networks")
    assert code == 2 and "cannot read the client config" in err


def test_wait_shows_progress_until_active_or_time_is_up(world: World, served: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    net = as_json(capsys, served, "network", "create")["network"]
    port = as_json(capsys, served, "port", "create", "--network", net["id"])["port"]
    vnic = as_json(capsys, served, "vnic", "create")["vnic"]
    code, out, err = sdnapp(capsys, "port", "plug", port["id"], "--vnic", vnic["id"], "--wait", "--timeout", "0.3",
                            "--url", served)
    assert code == 1 and "not ACTIVE after" in err and "DOWN" in out
    # The switch side confirms the port a little later: --wait sees it.
    sdnapp(capsys, "port", "unplug", port["id"], "--url", served)

    def confirm() -> None:
        import time

        time.sleep(0.3)
        world.status.confirm_on(port["id"], world.status.now(), 1, frozenset({1}), usable=True, error=False)

    threading.Thread(target=confirm).start()
    got = as_json(capsys, served, "port", "plug", port["id"], "--vnic", vnic["id"], "--wait")
    assert got["waited"]["ports"] == {port["id"]: ACTIVE} and got["attachment"]["vnic_id"] == vnic["id"]


def test_operations_views(world: World, served: str, capsys: pytest.CaptureFixture[str]) -> None:
    for dpid in (S1, S2):
        world.topology.begin_port_snapshot(dpid)
        world.topology.switch_connected(dpid, [SwitchPort(p, f"s{dpid}-eth{p}", True) for p in (1, 9)])
    world.topology.link_seen(LinkEnd(S1, 9), LinkEnd(S2, 9), now=1.0)
    net = as_json(capsys, served, "network", "create", "--prefix", "10.1.0.0/24")["network"]
    ports = []
    for dpid, mac in ((S1, "02:00:00:00:00:01"), (S2, "02:00:00:00:00:02")):
        port = as_json(capsys, served, "port", "create", "--network", net["id"])["port"]
        vnic = as_json(capsys, served, "vnic", "create", "--mac", mac)["vnic"]
        as_json(capsys, served, "port", "plug", port["id"], "--vnic", vnic["id"])
        as_json(capsys, served, "vnic", "bind", vnic["id"], "--datapath-id", str(dpid), "--port-no", "1")
        ports.append(port)
    code, out, _ = sdnapp(capsys, "switches", "--url", served)
    assert code == 0 and "0000000000000001" in out and "0000000000000002" in out
    code, out, _ = sdnapp(capsys, "links", "--url", served)
    assert code == 0 and "0000000000000001/9" in out and "discovered" in out
    code, out, _ = sdnapp(capsys, "status", "--url", served)
    assert code == 0 and "2 of 2 connected" in out and "1 of 1 up" in out
    code, out, _ = sdnapp(capsys, "flows", "--port", ports[0]["id"], "--url", served)
    assert code == 0 and "admit untagged IPv4 from 10.1.0.2" in out and "MISSING" in out
    t = as_json(capsys, served, "trace", "--from", ports[0]["id"], "--to", "10.1.0.3")["trace"]
    assert t["verdict"]["outcome"] == "delivered" and len(t["hops"]) == 2
    code, out, _ = sdnapp(capsys, "trace", "--from", ports[0]["id"], "--to", "10.1.0.3", "--src-mac",
                          "02:00:00:00:00:02", "--url", served)
    assert code == 0 and "dropped by anti-spoofing" in out
    code, _, err = sdnapp(capsys, "trace", "--from", ports[0]["id"], "--to", "02:00:00:00:00:02", "--arp",
                          "--url", served)
    assert code == 2 and "--arp traces an ARP request" in err
    world.topology.port_changed(S2, SwitchPort(9, "s2-eth9", False))
    code, out, _ = sdnapp(capsys, "status", "--url", served)
    assert code == 0 and "is down" in out and "1 of 2 connected" not in out


def test_run_check_config_and_config_schema_stay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "sdnapp.yaml"
    cfg.write_text("logging: {format: json}\n")
    assert sdnapp(capsys, "check-config", "--config", str(cfg))[0] == 0
    code, out, _ = sdnapp(capsys, "config-schema")
    assert code == 0 and json.loads(out)["properties"]["metrics"]["properties"]["public"]["default"] is False
    assert opscli.DEFAULT_URL == "http://127.0.0.1:9696"
