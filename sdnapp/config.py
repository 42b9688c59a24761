"""The configuration file (YAML), validated at start.

An unknown key or a bad value stops the start with a message naming the key.
Every key has a safe default, so sdnapp also starts with no file at all.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from flows.vlan import VLAN_MAX, VLAN_MIN
from flows.vxlan import VNI_MAX, VNI_MIN
from topology.switches import MAX_PORT_NO

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Who may call the API; rest.auth has one authenticator for each.
AUTH_STRATEGIES = ("noauth", "token", "keystone")


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 9696
    max_body_bytes: int = 65536
    threads: int = 8


@dataclass(frozen=True)
class OpenFlowConfig:
    listen_host: str = "127.0.0.1"
    ports: tuple[int, ...] = (6653, 6633)


@dataclass(frozen=True)
class StoreConfig:
    path: str = "sdnapp.db"


@dataclass(frozen=True)
class AuthConfig:
    strategy: str = "noauth"
    tokens_file: str | None = None


@dataclass(frozen=True)
class IsolationConfig:
    driver: str = "vlan"
    vlan_range: tuple[int, int] = (100, 3999)
    vni_range: tuple[int, int] = (1000, 999999)
    tunnel_port: str = "vxlan0"
    manage_tunnel_port: bool = True

    @property
    def segment_range(self) -> tuple[int, int]:
        return self.vlan_range if self.driver == "vlan" else self.vni_range


@dataclass(frozen=True)
class SwitchConfig:
    """A switch sdnapp knows before it connects: its OVSDB (for VIF bindings) and tunnel address."""

    datapath_id: int
    ovsdb: str | None = None
    bridge: str = "br-int"
    tunnel_ip: str | None = None


@dataclass(frozen=True)
class TopologyConfig:
    discovery: bool = True
    lldp_interval: float = 1.0
    # Each link: two ends, each (datapath id, port number or name).
    links: tuple[tuple[tuple[int, int | str], tuple[int, int | str]], ...] = ()


@dataclass(frozen=True)
class Config:
    api: ApiConfig = field(default_factory=ApiConfig)
    openflow: OpenFlowConfig = field(default_factory=OpenFlowConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    isolation: IsolationConfig = field(default_factory=IsolationConfig)
    topology: TopologyConfig = field(default_factory=TopologyConfig)
    switches: tuple[SwitchConfig, ...] = ()
    log_level: str = "INFO"


def _section(raw: dict[str, Any], name: str, allowed: set[str]) -> dict[str, Any]:
    sec = raw.get(name, {})
    if sec is None:
        return {}
    if not isinstance(sec, dict):
        raise ConfigError(f"{name}: must be a mapping")
    for k in sec:
        if k not in allowed:
            raise ConfigError(f"{name}.{k}: unknown key (known: {', '.join(sorted(allowed))})")
    return sec


def _int(sec: dict[str, Any], key: str, path: str, default: int, low: int, high: int) -> int:
    v = sec.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise ConfigError(f"{path}: must be an integer from {low} to {high}, got {v!r}")
    return v


def _str(sec: dict[str, Any], key: str, path: str, default: str | None) -> str | None:
    v = sec.get(key, default)
    if v is not None and (not isinstance(v, str) or not v):
        raise ConfigError(f"{path}: must be a non-empty string, got {v!r}")
    return v


def _host(v: str | None, path: str) -> str:
    try:
        return str(ipaddress.ip_address(v or ""))
    except ValueError:
        raise ConfigError(f"{path}: must be an IP address, got {v!r}") from None


def parse(raw: object, base_dir: str = ".") -> Config:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("the configuration must be a mapping of sections")
    top = {"api", "openflow", "store", "auth", "isolation", "topology", "switches", "logging"}
    for k in raw:
        if k not in top:
            raise ConfigError(f"{k}: unknown section (known: {', '.join(sorted(top))})")

    a = _section(raw, "api", {"host", "port", "max_body_bytes", "threads"})
    api = ApiConfig(
        host=_host(_str(a, "host", "api.host", ApiConfig.host), "api.host"),
        port=_int(a, "port", "api.port", ApiConfig.port, 1, 65535),
        max_body_bytes=_int(a, "max_body_bytes", "api.max_body_bytes", ApiConfig.max_body_bytes, 1024, 16 << 20),
        threads=_int(a, "threads", "api.threads", ApiConfig.threads, 1, 64),
    )

    o = _section(raw, "openflow", {"listen_host", "ports"})
    ports = o.get("ports", list(OpenFlowConfig.ports))
    if not isinstance(ports, list) or not ports or len(set(map(str, ports))) != len(ports):
        raise ConfigError(f"openflow.ports: must be a non-empty list of distinct ports, got {ports!r}")
    for i, p in enumerate(ports):
        _int({"p": p}, "p", f"openflow.ports[{i}]", 0, 1, 65535)
    of = OpenFlowConfig(
        listen_host=_host(_str(o, "listen_host", "openflow.listen_host", OpenFlowConfig.listen_host),
                          "openflow.listen_host"),
        ports=tuple(ports),
    )

    s = _section(raw, "store", {"path"})
    path = _str(s, "path", "store.path", StoreConfig.path)
    assert path is not None
    store = StoreConfig(path=os.path.join(base_dir, path))

    au = _section(raw, "auth", {"strategy", "tokens_file"})
    strategy = _str(au, "strategy", "auth.strategy", "noauth")
    if strategy not in AUTH_STRATEGIES:
        raise ConfigError(f"auth.strategy: must be noauth, token or keystone, got {strategy!r}")
    tokens_file = _str(au, "tokens_file", "auth.tokens_file", None)
    if strategy == "token" and tokens_file is None:
        raise ConfigError("auth.tokens_file: required with auth.strategy token")
    if strategy == "noauth" and not ipaddress.ip_address(api.host).is_loopback:
        raise ConfigError(
            f"auth.strategy: noauth trusts any caller, so the API must listen on a loopback "
            f"address, not {api.host} (use auth.strategy token or keystone)"
        )
    if strategy == "keystone" and not ipaddress.ip_address(api.host).is_loopback:
        # The identity headers are only as good as what sets them: Keystone's auth_token
        # middleware in a front end. Listening elsewhere would let clients set them.
        raise ConfigError(
            f"auth.strategy: keystone trusts the identity headers of its front end (Keystone's "
            f"auth_token middleware), so the API must listen on a loopback address behind it, not {api.host}"
        )
    auth = AuthConfig(strategy=strategy, tokens_file=os.path.join(base_dir, tokens_file) if tokens_file else None)

    iso = _section(raw, "isolation", {"driver", "vlan_range", "vni_range", "tunnel_port", "manage_tunnel_port"})
    driver = _str(iso, "driver", "isolation.driver", "vlan")
    if driver not in ("vlan", "vxlan"):
        raise ConfigError(f"isolation.driver: must be vlan or vxlan, got {driver!r}")
    tunnel_port = _str(iso, "tunnel_port", "isolation.tunnel_port", IsolationConfig.tunnel_port)
    manage = iso.get("manage_tunnel_port", True)
    if not isinstance(manage, bool):
        raise ConfigError(f"isolation.manage_tunnel_port: must be true or false, got {manage!r}")
    assert driver is not None and tunnel_port is not None
    isolation = IsolationConfig(
        driver=driver,
        vlan_range=_range(iso, "vlan_range", IsolationConfig.vlan_range, VLAN_MIN, VLAN_MAX),
        vni_range=_range(iso, "vni_range", IsolationConfig.vni_range, VNI_MIN, VNI_MAX),
        tunnel_port=tunnel_port,
        manage_tunnel_port=manage,
    )
    switches = _switches(raw.get("switches", []), driver)

    topology = _topology(_section(raw, "topology", {"discovery", "lldp_interval", "links"}))

    lg = _section(raw, "logging", {"level"})
    level = _str(lg, "level", "logging.level", "INFO")
    if level not in LOG_LEVELS:
        raise ConfigError(f"logging.level: must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    assert level is not None

    return Config(
        api=api, openflow=of, store=store, auth=auth, isolation=isolation, topology=topology,
        switches=switches, log_level=level,
    )


def _range(sec: dict[str, Any], key: str, default: tuple[int, int], low: int, high: int) -> tuple[int, int]:
    v = sec.get(key, list(default))
    if (
        not isinstance(v, list) or len(v) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in v)
        or not low <= v[0] <= v[1] <= high
    ):
        raise ConfigError(f"isolation.{key}: must be [low, high] with {low} <= low <= high <= {high}, got {v!r}")
    return v[0], v[1]


def _switches(raw: object, driver: str) -> tuple[SwitchConfig, ...]:
    from .validate import datapath_id

    if not isinstance(raw, list):
        raise ConfigError("switches: must be a list of {datapath_id, ovsdb, bridge, tunnel_ip}")
    out: list[SwitchConfig] = []
    seen: set[int] = set()
    for i, item in enumerate(raw):
        path = f"switches[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{path}: must be a mapping")
        for k in item:
            if k not in ("datapath_id", "ovsdb", "bridge", "tunnel_ip"):
                raise ConfigError(f"{path}.{k}: unknown key (known: bridge, datapath_id, ovsdb, tunnel_ip)")
        if "datapath_id" not in item:
            raise ConfigError(f"{path}.datapath_id: required")
        try:
            dpid = datapath_id(item["datapath_id"])
        except Exception as e:
            raise ConfigError(f"{path}.datapath_id: {e}") from None
        if dpid in seen:
            raise ConfigError(f"{path}.datapath_id: {dpid:016x} is listed twice")
        seen.add(dpid)
        ovsdb = _str(item, "ovsdb", f"{path}.ovsdb", None)
        if ovsdb is not None and not ovsdb.startswith(("unix:", "tcp:", "ssl:")):
            raise ConfigError(f"{path}.ovsdb: must be unix:PATH, tcp:IP:PORT or ssl:IP:PORT, got {ovsdb!r}")
        bridge = _str(item, "bridge", f"{path}.bridge", "br-int")
        tunnel_ip = _str(item, "tunnel_ip", f"{path}.tunnel_ip", None)
        if tunnel_ip is not None:
            try:
                tunnel_ip = str(ipaddress.IPv4Address(tunnel_ip))
            except ValueError:
                raise ConfigError(f"{path}.tunnel_ip: must be an IPv4 address, got {tunnel_ip!r}") from None
        elif driver == "vxlan":
            raise ConfigError(f"{path}.tunnel_ip: required with isolation.driver vxlan")
        assert bridge is not None
        out.append(SwitchConfig(dpid, ovsdb, bridge, tunnel_ip))
    ips = [s.tunnel_ip for s in out if s.tunnel_ip]
    if len(ips) != len(set(ips)):
        raise ConfigError("switches: two switches share one tunnel_ip")
    return tuple(out)


def _link_end(value: object, path: str) -> tuple[int, int | str]:
    from .validate import datapath_id

    if not isinstance(value, str) or value.count("/") != 1:
        raise ConfigError(f"{path}: must be 'DATAPATH_ID/PORT' (port number or name), got {value!r}")
    dp, port = value.split("/")
    try:
        dpid = datapath_id(dp)
    except Exception as e:
        raise ConfigError(f"{path}: {e}") from None
    if not port:
        raise ConfigError(f"{path}: the port is missing in {value!r}")
    if port.isdigit():
        n = int(port)
        if not 1 <= n <= MAX_PORT_NO:
            raise ConfigError(f"{path}: port {n} is not a physical port number")
        return dpid, n
    return dpid, port


def _topology(sec: dict[str, Any]) -> TopologyConfig:
    discovery = sec.get("discovery", True)
    if not isinstance(discovery, bool):
        raise ConfigError(f"topology.discovery: must be true or false, got {discovery!r}")
    interval = sec.get("lldp_interval", 1.0)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0.1 <= interval <= 60:
        raise ConfigError(f"topology.lldp_interval: must be seconds from 0.1 to 60, got {interval!r}")
    raw_links = sec.get("links", [])
    if not isinstance(raw_links, list):
        raise ConfigError("topology.links: must be a list of [end, end] pairs")
    links = []
    seen: set[tuple[int, int | str]] = set()
    for i, pair in enumerate(raw_links):
        path = f"topology.links[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise ConfigError(f"{path}: must be a pair [\"DPID/PORT\", \"DPID/PORT\"], got {pair!r}")
        a, b = _link_end(pair[0], f"{path}[0]"), _link_end(pair[1], f"{path}[1]")
        if a[0] == b[0]:
            raise ConfigError(f"{path}: both ends are on switch {a[0]:016x}")
        for end in (a, b):
            if end in seen:
                raise ConfigError(f"{path}: port {end[0]:016x}/{end[1]} is already in another link")
            seen.add(end)
        links.append((a, b))
    return TopologyConfig(discovery=discovery, lldp_interval=float(interval), links=tuple(links))


def read_yaml(path: str, what: str = "") -> object:
    """A YAML file's content; a missing, unreadable or malformed file is a ConfigError."""
    prefix = f"{what}: " if what else ""
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except OSError as e:
        raise ConfigError(f"{prefix}cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{prefix}{path} is not valid YAML: {e}") from None


def load(path: str | None) -> Config:
    if path is None:
        return parse({})
    return parse(read_yaml(path), os.path.dirname(os.path.abspath(path)))
