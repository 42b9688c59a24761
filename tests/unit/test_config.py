"""sdnapp.config: defaults, and a bad file stops the start with a message naming the key."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from sdnapp.cli import main
from sdnapp.config import (
    SCHEMA,
    ApiConfig,
    AuthConfig,
    Config,
    ConfigError,
    IsolationConfig,
    OpenFlowConfig,
    StoreConfig,
    SwitchConfig,
    TopologyConfig,
    load,
    parse,
)


def test_no_file_and_an_empty_file_give_the_defaults(tmp_path: Path) -> None:
    for cfg in (parse(None), parse({}), load(None)):
        assert cfg.api == ApiConfig(host="127.0.0.1", port=9696, max_body_bytes=65536, threads=8)
        assert cfg.openflow == OpenFlowConfig(listen_host="127.0.0.1", ports=(6653, 6633))
        assert cfg.auth.strategy == "noauth" and cfg.auth.tokens_file is None
        assert cfg.isolation == IsolationConfig(driver="vlan", vlan_range=(100, 3999))
        assert cfg.log_level == "INFO"
        assert os.path.basename(cfg.store.path) == "sdnapp.db"
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load(str(empty)).api == Config().api


def test_a_full_file_is_read_and_paths_are_relative_to_it(tmp_path: Path) -> None:
    f = tmp_path / "sdnapp.yaml"
    f.write_text(
        """
api: {host: 0.0.0.0, port: 8080, max_body_bytes: 4096, threads: 4}
openflow: {listen_host: "::", ports: [6653]}
store: {path: state/sdnapp.db}
auth: {strategy: token, tokens_file: tokens.yaml}
isolation: {driver: vlan, vlan_range: [10, 20]}
logging: {level: DEBUG}
"""
    )
    cfg = load(str(f))
    assert cfg.api == ApiConfig(host="0.0.0.0", port=8080, max_body_bytes=4096, threads=4)
    assert cfg.openflow == OpenFlowConfig(listen_host="::", ports=(6653,))
    assert cfg.store.path == str(tmp_path / "state" / "sdnapp.db")
    assert cfg.auth.strategy == "token" and cfg.auth.tokens_file == str(tmp_path / "tokens.yaml")
    assert cfg.isolation.vlan_range == (10, 20)
    assert cfg.log_level == "DEBUG"


def test_empty_sections_are_defaults() -> None:
    assert parse({"api": None, "logging": None}).api == ApiConfig()


def test_noauth_on_loopback_is_allowed() -> None:
    assert parse({"api": {"host": "::1"}}).auth.strategy == "noauth"
    assert parse({"api": {"host": "127.0.0.2"}}).api.host == "127.0.0.2"


@pytest.mark.parametrize(
    "raw, named",
    [
        ({"apis": {}}, "apis"),
        ({"database": {"path": "x"}}, "database"),
        ({"api": {"listen": "127.0.0.1"}}, "api.listen"),
        ({"api": {"host": "127.0.0.1", "prot": 1}}, "api.prot"),
        ({"openflow": {"port": 6653}}, "openflow.port"),
        ({"store": {"file": "x.db"}}, "store.file"),
        ({"auth": {"token_file": "t"}}, "auth.token_file"),
        ({"isolation": {"vxlan_range": [1, 2]}}, "isolation.vxlan_range"),
        ({"logging": {"lvl": "INFO"}}, "logging.lvl"),
    ],
)
def test_unknown_sections_and_keys_are_named(raw: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(raw)
    assert str(e.value).startswith(f"{named}:"), str(e.value)
    assert "unknown" in str(e.value)


@pytest.mark.parametrize(
    "raw, named",
    [
        ({"api": {"port": 0}}, "api.port"),
        ({"api": {"port": 65536}}, "api.port"),
        ({"api": {"port": -1}}, "api.port"),
        ({"api": {"port": "9696"}}, "api.port"),
        ({"api": {"port": True}}, "api.port"),
        ({"api": {"port": 9696.5}}, "api.port"),
        ({"api": {"threads": 0}}, "api.threads"),
        ({"api": {"max_body_bytes": 10}}, "api.max_body_bytes"),
        ({"api": {"host": "localhost"}}, "api.host"),
        ({"api": {"host": "300.1.1.1"}}, "api.host"),
        ({"api": {"host": ""}}, "api.host"),
        ({"api": {"host": 127}}, "api.host"),
        ({"api": "127.0.0.1:9696"}, "api"),
        ({"openflow": {"listen_host": "switches"}}, "openflow.listen_host"),
        ({"openflow": {"ports": []}}, "openflow.ports"),
        ({"openflow": {"ports": 6653}}, "openflow.ports"),
        ({"openflow": {"ports": [6653, 6653]}}, "openflow.ports"),
        ({"openflow": {"ports": [6653, 70000]}}, "openflow.ports[1]"),
        ({"store": {"path": ""}}, "store.path"),
        ({"store": {"path": 5}}, "store.path"),
        ({"auth": {"strategy": "keyless"}}, "auth.strategy"),
        ({"auth": {"strategy": "token"}}, "auth.tokens_file"),
        ({"auth": {"strategy": "token", "tokens_file": ""}}, "auth.tokens_file"),
        ({"api": {"host": "0.0.0.0"}}, "auth.strategy"),
        ({"api": {"host": "10.0.0.5"}, "auth": {"strategy": "noauth"}}, "auth.strategy"),
        ({"isolation": {"driver": "gre"}}, "isolation.driver"),
        ({"isolation": {"vlan_range": [200, 100]}}, "isolation.vlan_range"),
        ({"isolation": {"vlan_range": [0, 100]}}, "isolation.vlan_range"),
        ({"isolation": {"vlan_range": [100, 4095]}}, "isolation.vlan_range"),
        ({"isolation": {"vlan_range": [100]}}, "isolation.vlan_range"),
        ({"isolation": {"vlan_range": "100-200"}}, "isolation.vlan_range"),
        ({"isolation": {"vlan_range": [True, 10]}}, "isolation.vlan_range"),
        ({"logging": {"level": "VERBOSE"}}, "logging.level"),
    ],
)
def test_bad_values_are_refused_naming_the_key(raw: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(raw)
    assert str(e.value).startswith(f"{named}:"), str(e.value)


def test_noauth_off_loopback_says_why() -> None:
    with pytest.raises(ConfigError, match="loopback"):
        parse({"api": {"host": "192.0.2.1"}})
    # with tokens it may listen anywhere
    cfg = parse({"api": {"host": "192.0.2.1"}, "auth": {"strategy": "token", "tokens_file": "t.yaml"}})
    assert cfg.api.host == "192.0.2.1"


@pytest.mark.parametrize("top", [[], "api", 5, [{"api": {}}]])
def test_a_document_that_is_not_a_mapping_is_refused(top: object) -> None:
    with pytest.raises(ConfigError, match="mapping"):
        parse(top)


@pytest.mark.parametrize(
    "text",
    [
        "api: {host: 127.0.0.1\n",
        "api:\n  port: 1\n port: 2\n",
        "api: [unclosed\n",
        "\tapi: {}\n",
        "api: {port: 1}\n---\napi: {port: 2}\n",
    ],
)
def test_a_file_that_is_not_valid_yaml_is_refused(tmp_path: Path, text: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(str(f))


def test_a_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(str(tmp_path / "missing.yaml"))


def test_a_yaml_file_with_an_unknown_key_names_it(tmp_path: Path) -> None:
    f = tmp_path / "typo.yaml"
    f.write_text("api:\n  hots: 127.0.0.1\n")
    with pytest.raises(ConfigError, match=r"^api\.hots: unknown key"):
        load(str(f))


@pytest.mark.parametrize(
    "raw, named",
    [
        ({"api": {"port": 9696.0}}, "api.port"),
        ({"openflow": {"ports": [6653, "6633"]}}, "openflow.ports[1]"),
        ({"store": {"path": None}}, "store.path"),
        ({"isolation": {"vni_range": [0, 10]}}, "isolation.vni_range"),
        ({"isolation": {"vni_range": [1, 1 << 24]}}, "isolation.vni_range"),
        ({"isolation": {"vni_range": [10, 9]}}, "isolation.vni_range"),
        ({"isolation": {"tunnel_port": ""}}, "isolation.tunnel_port"),
        ({"isolation": {"tunnel_port": None}}, "isolation.tunnel_port"),
        ({"isolation": {"manage_tunnel_port": "yes"}}, "isolation.manage_tunnel_port"),
        ({"isolation": {"foo": 1}}, "isolation.foo"),
        ({"switches": None}, "switches"),
        ({"switches": {"datapath_id": 1}}, "switches"),
        ({"switches": [1]}, "switches[0]"),
        ({"switches": [{"ovsdb": "unix:/x"}]}, "switches[0].datapath_id"),
        ({"switches": [{"datapath_id": 1, "hostname": "x"}]}, "switches[0].hostname"),
        ({"switches": [{"datapath_id": 1, "host": ""}]}, "switches[0].host"),
        ({"switches": [{"datapath_id": 1, "host": "h"}]}, "switches[0].ovsdb"),
        ({"switches": [{"datapath_id": 1, "host": "h", "ovsdb": "unix:/a"},
                       {"datapath_id": 2, "host": "h", "ovsdb": "unix:/b"}]}, "switches"),
        ({"quotas": {"port": -2}}, "quotas.port"),
        ({"nova": {"token": "t"}}, "nova.url"),
        ({"nova": {"url": "http://n/v2.1", "token": "t", "auth_url": "http://k/v3"}}, "nova.token"),
        ({"nova": {"auth_url": "http://k/v3", "username": "u", "password": "p"}}, "nova.project_name"),
        ({"nova": {"interface": "private"}}, "nova.interface"),
        ({"isolation": {"underlay_mtu": 100}}, "isolation.underlay_mtu"),
        ({"switches": [{"datapath_id": 1}, {"datapath_id": "zz"}]}, "switches[1].datapath_id"),
        ({"switches": [{"datapath_id": True}]}, "switches[0].datapath_id"),
        ({"switches": [{"datapath_id": -1}]}, "switches[0].datapath_id"),
        ({"switches": [{"datapath_id": 1}, {"datapath_id": "0x1"}]}, "switches[1].datapath_id"),
        ({"switches": [{"datapath_id": 1, "ovsdb": "http://x"}]}, "switches[0].ovsdb"),
        ({"switches": [{"datapath_id": 1, "bridge": ""}]}, "switches[0].bridge"),
        ({"switches": [{"datapath_id": 1, "bridge": None}]}, "switches[0].bridge"),
        ({"switches": [{"datapath_id": 1, "tunnel_ip": "::1"}]}, "switches[0].tunnel_ip"),
        ({"switches": [{"datapath_id": 1, "tunnel_ip": "192.0.2.300"}]}, "switches[0].tunnel_ip"),
        ({"isolation": {"driver": "vxlan"}, "switches": [{"datapath_id": 1}]}, "switches[0].tunnel_ip"),
        (
            {"switches": [{"datapath_id": 1, "tunnel_ip": "192.0.2.1"}, {"datapath_id": 2, "tunnel_ip": "192.0.2.1"}]},
            "switches",
        ),
        ({"topology": {"discovery": "no"}}, "topology.discovery"),
        ({"topology": {"lldp_interval": 0.05}}, "topology.lldp_interval"),
        ({"topology": {"lldp_interval": True}}, "topology.lldp_interval"),
        ({"topology": {"links": "1/1-2/1"}}, "topology.links"),
        ({"topology": {"links": [["1/1"]]}}, "topology.links[0]"),
        ({"topology": {"links": [["1/1", "2/1", "3/1"]]}}, "topology.links[0]"),
        ({"topology": {"links": [["1/1", "2/1"], "3/1"]}}, "topology.links[1]"),
        ({"topology": {"links": [["1/1", 2]]}}, "topology.links[0][1]"),
        ({"topology": {"links": [["1/1", "2"]]}}, "topology.links[0][1]"),
        ({"topology": {"links": [["1/1", "2/1/1"]]}}, "topology.links[0][1]"),
        ({"topology": {"links": [["zz/1", "2/1"]]}}, "topology.links[0][0]"),
        ({"topology": {"links": [["1/1", "2/"]]}}, "topology.links[0][1]"),
        ({"topology": {"links": [["1/0", "2/1"]]}}, "topology.links[0][0]"),
        ({"topology": {"links": [["1/4294967041", "2/1"]]}}, "topology.links[0][0]"),
        ({"topology": {"links": [["1/1", "0x1/2"]]}}, "topology.links[0]"),
        ({"topology": {"links": [["1/1", "2/1"], ["3/1", "0000000000000001/1"]]}}, "topology.links[1]"),
    ],
)
def test_bad_switches_links_and_other_values_are_refused_naming_the_key(raw: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(raw)
    assert str(e.value).startswith(f"{named}:"), str(e.value)


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"api": {"port": 70000}}, "api.port: must be an integer from 1 to 65535, got 70000"),
        ({"isolation": {"vlan_range": [0, 100]}},
         "isolation.vlan_range: must be [low, high] with 1 <= low <= high <= 4094, got [0, 100]"),
        ({"isolation": {"foo": 1}},
         "isolation.foo: unknown key (known: driver, manage_tunnel_port, tunnel_port, underlay_mtu, vlan_range, "
         "vni_range)"),
        ({"tracing": {}},
         "tracing: unknown section (known: api, auth, dhcp, external, isolation, logging, metrics, nova, openflow, "
         "quotas, store, switches, topology)"),
        ({"dhcp": {"dns_servers": ["8.8.8.8", "dns.example"]}},
         "dhcp.dns_servers: must be a list of up to 5 IPv4 addresses, got ['8.8.8.8', 'dns.example']"),
        ({"dhcp": {"lease_time": 60}}, "dhcp.lease_time: must be an integer from 120 to 2147483647, got 60"),
        ({"auth": {"strategy": "kerberos"}}, "auth.strategy: must be noauth, token or keystone, got 'kerberos'"),
        ({"api": []}, "api: must be a mapping"),
        ({"topology": {"discovery": 1}}, "topology.discovery: must be true or false, got 1"),
        ({"switches": [{"datapath_id": 1}, {"bridge": "br0"}]}, "switches[1].datapath_id: required"),
        ({"topology": {"links": [["1/1", "2/x/y"]]}},
         "topology.links[0][1]: must be 'DATAPATH_ID/PORT' (port number or name), got '2/x/y'"),
    ],
)
def test_messages_name_the_key_as_a_path(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(raw)
    assert str(e.value) == message


def test_switches_and_links_are_read() -> None:
    cfg = parse(
        {
            "isolation": {"driver": "vxlan"},
            "switches": [
                {"datapath_id": "0000000000000a01", "ovsdb": "unix:/run/db.sock", "tunnel_ip": "192.0.2.11"},
                {"datapath_id": 11, "bridge": "br0", "tunnel_ip": "192.0.2.12", "ovsdb": None},
            ],
            "topology": {"discovery": False, "lldp_interval": 2, "links": [["1/3", "0x2/eth1"]]},
        }
    )
    assert cfg.switches == (
        SwitchConfig(0xA01, "unix:/run/db.sock", "br-int", "192.0.2.11"),
        SwitchConfig(11, None, "br0", "192.0.2.12"),
    )
    assert cfg.topology == TopologyConfig(discovery=False, lldp_interval=2.0, links=(((1, 3), (2, "eth1")),))
    assert isinstance(cfg.topology.lldp_interval, float)


def test_a_key_whose_default_is_none_may_be_null() -> None:
    assert parse({"auth": {"tokens_file": None}}).auth == AuthConfig()
    assert parse({"switches": [{"datapath_id": 1, "ovsdb": None, "tunnel_ip": None}]}).switches == (SwitchConfig(1),)


def test_addresses_are_read_as_python_reads_them() -> None:
    cfg = parse({"api": {"host": "0:0::1"}, "openflow": {"listen_host": "fe80::1%eth0"}})
    assert (cfg.api.host, cfg.openflow.listen_host) == ("::1", "fe80::1%eth0")


# The schema documents the configuration --------------------------------------------------------------

SECTIONS: dict[str, type] = {
    "api": ApiConfig, "openflow": OpenFlowConfig, "store": StoreConfig, "auth": AuthConfig,
    "isolation": IsolationConfig, "topology": TopologyConfig,
}


def _keys(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for name, prop in schema.get("properties", {}).items():
        yield f"{path}{name}", prop
        yield from _keys(prop, f"{path}{name}.")
        if "properties" in prop.get("items", {}):
            yield from _keys(prop["items"], f"{path}{name}[].")


def test_the_schema_is_a_draft_7_schema_with_every_key_described() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    for path, prop in _keys(SCHEMA):
        assert prop.get("description"), path


def test_each_section_has_the_keys_of_its_dataclass_and_their_defaults() -> None:
    sections = {**{name: SCHEMA["properties"][name] for name in SECTIONS},
                "switches": SCHEMA["properties"]["switches"]["items"]}
    for name, cls in {**SECTIONS, "switches": SwitchConfig}.items():
        props = sections[name]["properties"]
        assert set(props) == {f.name for f in dataclasses.fields(cls)}, name
        for f in dataclasses.fields(cls):
            if f.default not in (None, dataclasses.MISSING):
                assert props[f.name]["default"] == json.loads(json.dumps(f.default)), (name, f.name)
    assert SCHEMA["properties"]["logging"]["properties"]["level"]["default"] == Config().log_level


def _readme_example() -> Any:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    found = re.search(r"^### Configuration.*?^```yaml\n(.*?)^```", readme, re.M | re.S)
    assert found, "README.md has a Configuration section with a yaml block"
    return yaml.safe_load(found.group(1))


def _example_keys(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}{k}"
            yield from _example_keys(v, f"{path}{k}.")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield from _example_keys(item, f"{path[:-1]}[].")


def test_the_readme_example_is_valid_and_shows_only_keys_of_the_schema() -> None:
    example = _readme_example()
    documented = {path for path, _ in _keys(SCHEMA)}
    shown = set(_example_keys(example))
    assert shown and shown <= documented, shown - documented
    cfg = parse(example)
    assert cfg.switches[0].tunnel_ip == "192.0.2.11" and len(cfg.topology.links) == 2


def test_the_cli_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config-schema"]) == 0
    assert json.loads(capsys.readouterr().out) == SCHEMA


_GW_SWITCH: dict[str, Any] = {"datapath_id": "00000000000000e1", "ovsdb": "unix:/run/openvswitch/db.sock"}
_EXTERNAL: dict[str, Any] = {"datapath_id": "00000000000000e1", "uplink_port": "eth9", "prefix": "203.0.113.0/24",
             "next_hop": "203.0.113.1", "pool": ["203.0.113.10", "203.0.113.20"]}


def test_the_external_section_is_read() -> None:
    assert parse({}).external is None
    raw: dict[str, Any] = {"switches": [_GW_SWITCH], "external": {**_EXTERNAL, "dns_servers": ["192.0.2.53"]}}
    ext = parse(raw).external
    assert ext is not None
    assert (ext.datapath_id, ext.uplink_port, ext.prefix, ext.next_hop, ext.pool, ext.dns_servers) == (
        0xE1, "eth9", "203.0.113.0/24", "203.0.113.1", ("203.0.113.10", "203.0.113.20"), ("192.0.2.53",))
    assert list(ext.pool_addresses())[:2] == ["203.0.113.10", "203.0.113.11"] and len(list(ext.pool_addresses())) == 11


@pytest.mark.parametrize(("change", "message"), [
    ({"next_hop": "198.51.100.1"}, "external.next_hop: 198.51.100.1 is not a usable address of external.prefix"),
    ({"next_hop": "203.0.113.255"}, "external.next_hop: 203.0.113.255 is not a usable address"),
    ({"pool": ["203.0.113.10", "203.0.114.5"]}, "external.pool: [203.0.113.10, 203.0.114.5] must be first <= last"),
    ({"pool": ["203.0.113.20", "203.0.113.10"]}, "external.pool: [203.0.113.20, 203.0.113.10] must be first"),
    ({"pool": ["203.0.113.1", "203.0.113.5"]}, "external.pool: [203.0.113.1, 203.0.113.5] holds the next hop"),
    ({"pool": ["203.0.113.10"]}, "external.pool: must be [first, last], two IPv4 addresses"),
    ({"prefix": "10.0.0.0/8", "next_hop": "10.0.0.1", "pool": ["10.0.0.2", "10.1.0.0"]},
     "external.pool: [10.0.0.2, 10.1.0.0] has more than 65534 addresses"),
    ({"prefix": "203.0.113.0/33"}, "external.prefix: must be an IPv4 network"),
    ({"prefix": "203.0.113.1/24"}, "external.prefix: must be an IPv4 network"),
    ({"uplink_port": ""}, "external.uplink_port: must be a non-empty string"),
    ({"datapath_id": "00000000000000e2"}, "external.datapath_id: the gateway 00000000000000e2 must be an Open "
                                          "vSwitch bridge"),
    ({"datapath_id": "zz"}, "external.datapath_id:"),
    ({"colour": "red"}, "external.colour: unknown key"),
])
def test_a_bad_external_section_names_the_key(change: dict[str, Any], message: str) -> None:
    raw: dict[str, Any] = {"switches": [_GW_SWITCH], "external": {**_EXTERNAL, **change}}
    with pytest.raises(ConfigError) as e:
        parse(raw)
    assert str(e.value).startswith(message), str(e.value)


def test_the_gateway_must_be_a_switch_reached_over_ovsdb() -> None:
    """The NAT uses Open vSwitch's connection tracker: a gateway sdnapp has no OVSDB for is refused."""
    for switches in ([], [{"datapath_id": "00000000000000e1"}]):
        with pytest.raises(ConfigError, match="must be an Open vSwitch bridge"):
            parse({"switches": switches, "external": _EXTERNAL})
    for key in ("uplink_port", "prefix", "next_hop", "pool"):
        with pytest.raises(ConfigError, match=f"external.{key}: required"):
            parse({"switches": [_GW_SWITCH], "external": {k: v for k, v in _EXTERNAL.items() if k != key}})
