"""sdnapp.config: defaults, and a bad file stops the start with a message naming the key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from sdnapp.config import ApiConfig, Config, ConfigError, IsolationConfig, OpenFlowConfig, load, parse


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
