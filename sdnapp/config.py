"""The configuration file (YAML), validated at start.

Its shape is SCHEMA, a JSON schema (draft 7) that says every key's type, limits, default and meaning
(`sdnapp config-schema` prints it). `parse` checks a file against it, then checks what a schema cannot
say well (rules across keys, datapath ids, link ends), then builds the dataclasses below: an unknown
key or a bad value stops the start with a message naming the key. Every key has a safe default, so
sdnapp also starts with no file at all.

Adding a key: a field with its default in the dataclass of its section, and a line in its section of
SCHEMA (the default is taken from the field). A new section: its dataclass, a field of Config, an
entry in SCHEMA and a line in `parse`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

import jsonschema
import yaml

from flows import vlan, vxlan
from flows.nat import MAX_ZONES
from topology.switches import MAX_PORT_NO

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
# Who may call the API; rest.auth has one authenticator for each.
AUTH_STRATEGIES = ("noauth", "token", "keystone")
ISOLATION_DRIVERS = (vlan.DRIVER, vxlan.DRIVER)


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
    url: str | None = None

    @property
    def target(self) -> str:
        """What the store opens: the PostgreSQL URL, else the SQLite file."""
        return self.url if self.url is not None else self.path


@dataclass(frozen=True)
class AuthConfig:
    strategy: str = "noauth"
    tokens_file: str | None = None
    noauth_project: str = "admin"


@dataclass(frozen=True)
class IsolationConfig:
    driver: str = "vlan"
    vlan_range: tuple[int, int] = (100, 3999)
    vni_range: tuple[int, int] = (1000, 999999)
    tunnel_port: str = "vxlan0"
    manage_tunnel_port: bool = True
    underlay_mtu: int = 1500

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
    host: str | None = None  # the hypervisor's name, as Nova's binding:host_id gives it


@dataclass(frozen=True)
class TopologyConfig:
    discovery: bool = True
    lldp_interval: float = 1.0
    hold_time: float = 30.0
    # Each link: two ends, each (datapath id, port number or name).
    links: tuple[tuple[tuple[int, int | str], tuple[int, int | str]], ...] = ()


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = True
    public: bool = False


@dataclass(frozen=True)
class DhcpConfig:
    """What sdnapp's own DHCP tells a VNIC besides its port's address (a subnet's dns_nameservers win)."""

    # Public resolvers, reachable from any network that reaches the outside (through NAT); an operator
    # with resolvers of its own names them here.
    dns_servers: tuple[str, ...] = ("8.8.8.8", "8.8.4.4")
    lease_time: int = 86400  # Neutron's dhcp_lease_duration


@dataclass(frozen=True)
class QuotaConfig:
    """Per project; -1 is unlimited."""

    network: int = -1
    subnet: int = -1
    port: int = -1


@dataclass(frozen=True)
class NovaConfig:
    """Where Neutron-face events go (network-vif-plugged...): Nova's API, with a static token or Keystone
    credentials. Neither url nor auth_url: no events are sent."""

    url: str | None = None
    token: str | None = None
    auth_url: str | None = None
    username: str | None = None
    password: str | None = None
    project_name: str | None = None
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    region_name: str | None = None
    interface: str = "public"
    batch_interval: float = 2.0
    timeout: float = 10.0
    retry_for: float = 60.0

    @property
    def enabled(self) -> bool:
        return self.url is not None or self.auth_url is not None


@dataclass(frozen=True)
class ExternalConfig:
    """The outside of the `nat` extension: the gateway switch (an Open vSwitch bridge, since NAT uses its
    connection tracker), its uplink, the outside prefix and next hop, and the pool of outside addresses
    (inclusive) that networks' external addresses and floating addresses come from."""

    datapath_id: int
    uplink_port: str
    prefix: str
    next_hop: str
    pool: tuple[str, str]
    dns_servers: tuple[str, ...] = ()
    arp_refresh: float = 30.0
    name: str = "public"  # the external network's name in the Neutron face

    def pool_addresses(self) -> Iterator[str]:
        first, last = (ipaddress.IPv4Address(a) for a in self.pool)
        return (str(ipaddress.IPv4Address(i)) for i in range(int(first), int(last) + 1))


@dataclass(frozen=True)
class Config:
    api: ApiConfig = field(default_factory=ApiConfig)
    openflow: OpenFlowConfig = field(default_factory=OpenFlowConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    isolation: IsolationConfig = field(default_factory=IsolationConfig)
    topology: TopologyConfig = field(default_factory=TopologyConfig)
    switches: tuple[SwitchConfig, ...] = ()
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    quotas: QuotaConfig = field(default_factory=QuotaConfig)
    dhcp: DhcpConfig = field(default_factory=DhcpConfig)
    nova: NovaConfig = field(default_factory=NovaConfig)
    external: ExternalConfig | None = None  # None: no `nat` extension
    log_level: str = "INFO"
    log_format: str = "text"


# The schema ------------------------------------------------------------------------------------------
# `errorMessage` (as ajv-errors has it) is the message of any error at or under its key, which is then
# named as a whole: "isolation.vlan_range: must be [low, high] ..." rather than "...vlan_range[0]". As a
# mapping it gives messages for this key's own keywords only: {"minItems": ...}.

Schema = dict[str, Any]


def _int(low: int, high: int, description: str) -> Schema:
    return {"type": "integer", "minimum": low, "maximum": high, "description": description,
            "errorMessage": f"must be an integer from {low} to {high}"}


def _str(description: str, **more: Any) -> Schema:
    return {"type": "string", "minLength": 1, "description": description, "errorMessage": "must be a non-empty string",
            **more}


def _ip(description: str) -> Schema:
    return {"type": "string", "format": "ip", "description": description,
            "errorMessage": "must be an IP address"}


def _bool(description: str) -> Schema:
    return {"type": "boolean", "description": description}


def _enum(names: Iterable[str], description: str) -> Schema:
    *rest, last = names
    return {"enum": [*rest, last], "description": description, "errorMessage": f"must be {', '.join(rest)} or {last}"}


def _range(low: int, high: int, description: str) -> Schema:
    # low <= high is checked after the schema (a schema cannot compare two items).
    return {"type": "array", "items": {"type": "integer", "minimum": low, "maximum": high},
            "minItems": 2, "maxItems": 2, "description": description,
            "errorMessage": f"must be [low, high] with {low} <= low <= high <= {high}"}


def _mapping(cls: type | None, description: str, properties: dict[str, Schema]) -> Schema:
    """A mapping of known keys. With a dataclass: each key's default is its field's; a key whose
    field has no default is required, and one whose default is None may be null (not set)."""
    defaults = {f.name: f.default for f in dataclasses.fields(cls)} if cls else {}
    for name, prop in properties.items():
        default = defaults.get(name)
        if default is None and name in defaults:
            prop["type"] = [prop["type"], "null"]
        elif default is not None and default is not dataclasses.MISSING:
            prop.setdefault("default", json.loads(json.dumps(default)))  # tuples as lists
    required = [k for k in properties if defaults.get(k) is dataclasses.MISSING]
    return {"type": "object", "additionalProperties": False, **({"required": required} if required else {}),
            "description": description, "properties": properties}


def _section(defaults: type | None, description: str, properties: dict[str, Schema]) -> Schema:
    """A top-level section; empty (null) is all defaults."""
    return {**_mapping(defaults, description, properties), "type": ["object", "null"]}


def _list(description: str, item: Schema) -> Schema:
    """A list of mappings."""
    keys = ", ".join(item["properties"])
    return {"type": "array", "default": [], "description": description, "items": item,
            "errorMessage": {"type": f"must be a list of {{{keys}}}"}}


_LINK_END: Schema = {
    "type": "string", "pattern": "^[^/]*/[^/]*$",
    "description": "DATAPATH_ID/PORT: the switch's datapath id (16 hex digits, 0x-hex or decimal), "
                   "then a port number or name.",
    "errorMessage": "must be 'DATAPATH_ID/PORT' (port number or name)",
}

SCHEMA: Schema = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "sdnapp configuration",
    "description": "The YAML file of `sdnapp run --config`. Every key is optional; relative paths are "
                   "relative to the file's directory.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "api": _section(ApiConfig, "The REST API.", {
            "host": _ip("IPv4 or IPv6 address it listens on; with auth.strategy noauth or keystone, a loopback "
                        "address."),
            "port": _int(1, 65535, "TCP port it listens on."),
            "max_body_bytes": _int(1024, 16 << 20, "Largest request body accepted; a larger one gets 413."),
            "threads": _int(1, 64, "Threads serving requests."),
        }),
        "openflow": _section(OpenFlowConfig, "Where switches connect.", {
            "listen_host": _ip("IPv4 or IPv6 address it listens on: 0.0.0.0 (or an address) for switches on other "
                               "machines."),
            "ports": {"type": "array", "items": _int(1, 65535, "A TCP port."), "minItems": 1, "uniqueItems": True,
                      "description": "TCP ports it listens on.",
                      "errorMessage": {k: "must be a non-empty list of distinct ports"
                                       for k in ("type", "minItems", "uniqueItems")}},
        }),
        "store": _section(StoreConfig, "The durable state.", {
            "path": _str("SQLite database file (without url)."),
            "url": _str("Where the state is: postgresql://user:password@host:port/database (several sdnapp "
                        "instances share one PostgreSQL database) or sqlite:///path (a file, as path).",
                        pattern="^(postgresql|postgres)://[^\\s]+$|^sqlite:///[^\\s]+$",
                        errorMessage="must be postgresql://... or sqlite:///path"),
        }),
        "auth": _section(AuthConfig, "Who is calling.", {
            "strategy": _enum(AUTH_STRATEGIES, "noauth: the X-Project-Id and X-Roles headers, trusted (loopback "
                              "only); token: X-Auth-Token, one of auth.tokens_file's; keystone: behind Keystone's "
                              "auth_token middleware, its X-Project-Id and X-Roles only with X-Identity-Status: "
                              "Confirmed (loopback only)."),
            "tokens_file": _str("YAML file of the tokens (required with token): {tokens: [{sha256: <hex of "
                                "sha256(token)>, project_id: p, roles: [admin]}]}."),
            "noauth_project": _str("With noauth, the project a Neutron (v2.0) request without X-Project-Id acts "
                                   "for, as an administrator (v1 answers such a request 401).",
                                   pattern="^[A-Za-z0-9_.-]{1,64}$",
                                   errorMessage="must be 1 to 64 letters, digits, '_', '.' or '-'"),
        }),
        "isolation": _section(IsolationConfig, "How networks are kept apart.", {
            "driver": _enum(ISOLATION_DRIVERS, "vlan: a VLAN id per network across a fabric of switches; "
                            "vxlan: a VNI per network, in tunnels between hypervisors."),
            "vlan_range": _range(vlan.VLAN_MIN, vlan.VLAN_MAX, "[low, high]: the VLAN ids given to networks (vlan)."),
            "vni_range": _range(vxlan.VNI_MIN, vxlan.VNI_MAX, "[low, high]: the VNIs given to networks (vxlan)."),
            "tunnel_port": _str("Name of each hypervisor's tunnel port (vxlan)."),
            "manage_tunnel_port": _bool("Create or repair the tunnel port over OVSDB; false: the operator "
                                        "makes it."),
            "underlay_mtu": _int(576, 9216, "The largest IP packet the switches' links carry (Neutron's "
                                 "global_physnet_mtu): a network's mtu is this on vlan, 50 less on vxlan."),
        }),
        "switches": _list("Switches known before they connect.", _mapping(SwitchConfig, "A switch.", {
            "datapath_id": {"type": ["string", "integer"], "description": "16 hex digits, 0x-hex or decimal.",
                            "errorMessage": {"type": "must be 16 hex digits, 0x-prefixed hex or decimal"}},
            "ovsdb": _str("Its OVSDB server, for VIF bindings from iface-id: unix:PATH, tcp:IP:PORT or ssl:IP:PORT.",
                          pattern="^(unix|tcp|ssl):", errorMessage="must be unix:PATH, tcp:IP:PORT or ssl:IP:PORT"),
            "bridge": _str("Its integration bridge."),
            "tunnel_ip": {"type": "string", "format": "ipv4", "errorMessage": "must be an IPv4 address",
                          "description": "Its VXLAN endpoint (required with isolation.driver vxlan)."},
            "host": _str("The hypervisor it is the integration bridge of, as Nova names it (its CONF.host): "
                         "Neutron ports whose binding:host_id names it are bound here (vif_type ovs).",
                         maxLength=255),
        })),
        "dhcp": _section(DhcpConfig, "DHCP, answered by sdnapp for the VNICs of networks whose subnet has "
                         "enable_dhcp (every v1 network with an address_prefix) and a gateway: the port's address, "
                         "the mask, the gateway as router, the network's MTU, and these.", {
            "dns_servers": {"type": "array", "items": {"type": "string", "format": "ipv4"}, "maxItems": 5,
                            "description": "DNS servers for a subnet without dns_nameservers of its own ([]: none).",
                            "errorMessage": "must be a list of up to 5 IPv4 addresses"},
            "lease_time": _int(120, 2**31 - 1, "Seconds a lease lasts (the client renews at half of it)."),
        }),
        "quotas": _section(QuotaConfig, "How many of each a project may have (-1: unlimited); an "
                           "administrator may set a project's own through PUT /v2.0/quotas/{project}.", {
            r: _int(-1, 2**31 - 1, f"{r.capitalize()}s per project.") for r in ("network", "subnet", "port")
        }),
        "nova": _section(NovaConfig, "Nova, told of Neutron ports going ACTIVE (network-vif-plugged), DOWN "
                         "(network-vif-unplugged) and deleted (network-vif-deleted). Without url and auth_url, "
                         "nothing is sent.", {
            "url": _str("Nova's API with its version, e.g. http://controller:8774/v2.1 (with auth_url: found in "
                        "Keystone's catalog unless given)."),
            "token": _str("A static token sent as X-Auth-Token (instead of Keystone credentials)."),
            "auth_url": _str("Keystone, e.g. http://controller:5000/v3: a password authentication with the "
                             "keys below (keystoneauth1)."),
            "username": _str("Keystone user (with the service or admin role in Nova)."),
            "password": _str("Its password."),
            "project_name": _str("Its project."),
            "user_domain_name": _str("The user's domain."),
            "project_domain_name": _str("The project's domain."),
            "region_name": _str("Region of Nova's endpoint in the catalog."),
            "interface": _enum(("public", "internal", "admin"), "Which of Nova's endpoints in the catalog."),
            "batch_interval": {"type": "number", "minimum": 0, "maximum": 60,
                               "description": "Seconds events are gathered after one is sent (the first goes "
                               "at once).", "errorMessage": "must be seconds from 0 to 60"},
            "timeout": {"type": "number", "minimum": 0.1, "maximum": 300,
                        "description": "Seconds one request to Nova may take.",
                        "errorMessage": "must be seconds from 0.1 to 300"},
            "retry_for": {"type": "number", "minimum": 0, "maximum": 3600,
                          "description": "Seconds undelivered events are retried (with backoff) before they are "
                          "logged and dropped.", "errorMessage": "must be seconds from 0 to 3600"},
        }),
        "topology": _section(TopologyConfig, "Switches and the links between them.", {
            "discovery": _bool("LLDP link discovery; false where LLDP is filtered."),
            "lldp_interval": {"type": "number", "minimum": 0.1, "maximum": 60,
                              "description": "Seconds between probes; a link is dropped after 3.5 intervals unseen.",
                              "errorMessage": "must be seconds from 0.1 to 60"},
            "hold_time": {"type": "number", "minimum": 0, "maximum": 3600,
                          "description": "Seconds a switch that disconnected (or that sdnapp remembers from before "
                                         "a restart) stays in the fabric with its links, so the other switches keep "
                                         "forwarding through it; a link whose port goes down is dropped at once.",
                          "errorMessage": "must be seconds from 0 to 3600"},
            "links": {"type": "array", "description": "The cabling, for fabrics where discovery cannot see it.",
                      "items": {"type": "array", "items": _LINK_END, "minItems": 2, "maxItems": 2,
                                "description": "A link: its two ends.",
                                "errorMessage": {k: 'must be a pair ["DPID/PORT", "DPID/PORT"]'
                                                 for k in ("type", "minItems", "maxItems")}},
                      "errorMessage": {"type": "must be a list of [end, end] pairs"}},
        }),
        "metrics": _section(MetricsConfig, "Prometheus metrics at GET /metrics.", {
            "enabled": _bool("Keep and serve metrics; false: /metrics answers 404 and nothing is counted."),
            "public": _bool("Serve /metrics without credentials, for a scraper that sends none; false: to "
                            "administrators only with auth.strategy token or keystone (with noauth, which trusts "
                            "any caller on loopback anyway, it is always served without credentials)."),
        }),
        "external": {**_mapping(ExternalConfig, "The outside network of the `nat` extension: NATed IPv4 networks "
                                "reach it through the gateway switch. Absent: the extension is not offered.", {
            "datapath_id": {"type": ["string", "integer"], "description": "The gateway switch: 16 hex digits, "
                            "0x-hex or decimal. It must be an Open vSwitch bridge listed in switches with its ovsdb "
                            "(NAT uses its connection tracker).",
                            "errorMessage": {"type": "must be 16 hex digits, 0x-prefixed hex or decimal"}},
            "uplink_port": _str("Name of the gateway switch's port to the outside network."),
            "prefix": {"type": "string", "description": "The outside network, e.g. 203.0.113.0/24.",
                       "errorMessage": "must be an IPv4 network, e.g. 203.0.113.0/24"},
            "next_hop": {"type": "string", "format": "ipv4", "errorMessage": "must be an IPv4 address",
                         "description": "The outside router every translated packet is sent to (its MAC by ARP)."},
            "pool": {"type": "array", "items": {"type": "string", "format": "ipv4"}, "minItems": 2, "maxItems": 2,
                     "description": "[first, last]: the outside addresses handed to networks and floating addresses.",
                     "errorMessage": "must be [first, last], two IPv4 addresses"},
            "dns_servers": {"type": "array", "items": {"type": "string", "format": "ipv4"}, "maxItems": 5,
                            "description": "DNS servers DHCP offers to the VMs of NATed networks.",
                            "errorMessage": "must be a list of up to 5 IPv4 addresses"},
            "arp_refresh": {"type": "number", "minimum": 1, "maximum": 3600,
                            "description": "Seconds between ARP requests for the next hop.",
                            "errorMessage": "must be seconds from 1 to 3600"},
            "name": _str("The external network's name in the Neutron face (a router:external network, the "
                         "one routers' gateways and floating IPs are on).", maxLength=255),
        }), "type": ["object", "null"]},
        "logging": _section(None, "The log (on stderr).", {
            "level": {**_enum(LOG_LEVELS, "Least severity logged."), "default": Config.log_level},
            "format": {**_enum(LOG_FORMATS, "text: one line per record; json: one JSON object per line (ts, "
                               "level, logger, message, exception), for a log collector."),
                       "default": Config.log_format},
        }),
    },
}

# Integers are ints: JSON schema's "integer" would take 9696.0 too.
_Validator = jsonschema.validators.extend(
    jsonschema.Draft7Validator,
    type_checker=jsonschema.Draft7Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, v: isinstance(v, int) and not isinstance(v, bool)
    ),
)
# Formats: "ipv4" as draft 7 has it; "ip", ours, is an IPv4 or IPv6 address as Python reads it (with
# an IPv6 scope id, which draft 7's "ipv6" refuses).
_FORMATS = jsonschema.FormatChecker(["ipv4"])
_FORMATS.checks("ip", raises=ValueError)(lambda v: not isinstance(v, str) or bool(ipaddress.ip_address(v)))
_VALIDATOR = _Validator(SCHEMA, format_checker=_FORMATS)
_TYPES = {"object": "a mapping", "array": "a list", "string": "a string", "boolean": "true or false",
          "integer": "an integer", "number": "a number"}


def _where(path: Iterable[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _schema_error(e: jsonschema.ValidationError, raw: object) -> ConfigError:
    """The message of an error the schema found, naming its key as `a.b[2].c`."""
    path, node, value = list(e.absolute_path), SCHEMA, cast(Any, raw)
    for depth in range(len(path) + 1):  # the outermost errorMessage over the error speaks for it
        if isinstance(node.get("errorMessage"), str):
            return ConfigError(f"{_where(path[:depth])}: {node['errorMessage']}, got {value!r}")
        if depth < len(path):
            key = path[depth]
            node = node.get("items", {}) if isinstance(key, int) else node.get("properties", {}).get(key, {})
            value = value[key]
    where, schema, kind, wanted = _where(path), cast(Schema, e.schema), e.validator, cast(Any, e.validator_value)
    if kind in schema.get("errorMessage", {}):
        return ConfigError(f"{where}: {schema['errorMessage'][kind]}, got {value!r}")
    if kind == "additionalProperties":
        unknown = next(k for k in value if k not in schema["properties"])
        known = ", ".join(sorted(schema["properties"]))
        return ConfigError(f"{_where([*path, unknown])}: unknown {'key' if path else 'section'} (known: {known})")
    if kind == "required":
        return ConfigError(f"{where}.{next(k for k in wanted if k not in value)}: required")
    if kind == "type" and not path:
        return ConfigError("the configuration must be a mapping of sections")
    if kind == "type" and "object" in wanted:
        return ConfigError(f"{where}: must be a mapping")
    if kind == "type":
        types = [wanted] if isinstance(wanted, str) else wanted
        return ConfigError(f"{where}: must be {' or '.join(_TYPES[t] for t in types if t != 'null')}, got {value!r}")
    return ConfigError(f"{where}: {e.message}")


# After the schema ------------------------------------------------------------------------------------

T = TypeVar("T", bound="DataclassInstance")


def _build(cls: type[T], values: dict[str, Any], **convert: Callable[[Any], Any]) -> T:
    """A section's dataclass from its checked values, with some of them converted (absent: the default)."""
    made = cls(**values)
    return dataclasses.replace(made, **{k: f(getattr(made, k)) for k, f in convert.items()})


def _ip_address(value: str) -> str:
    return str(ipaddress.ip_address(value))


def _low_high(key: str, value: Sequence[int]) -> tuple[int, int]:
    if value[0] > value[1]:
        message = SCHEMA["properties"]["isolation"]["properties"][key]["errorMessage"]
        raise ConfigError(f"isolation.{key}: {message}, got {value!r}")
    return value[0], value[1]


def parse(raw: object, base_dir: str = ".") -> Config:
    raw = {} if raw is None else raw
    error = next(_VALIDATOR.iter_errors(raw), None)
    if error is not None:
        raise _schema_error(error, raw)
    assert isinstance(raw, dict)
    sec: dict[str, Any] = {name: raw.get(name) or {} for name in SCHEMA["properties"]}

    def rel(path: str | None) -> str | None:
        return os.path.join(base_dir, path) if path else None

    api = _build(ApiConfig, sec["api"], host=_ip_address)
    auth = _build(AuthConfig, sec["auth"], tokens_file=rel)
    _check_auth(auth, api.host)
    isolation = _build(IsolationConfig, sec["isolation"], vlan_range=lambda v: _low_high("vlan_range", v),
                       vni_range=lambda v: _low_high("vni_range", v))
    return Config(
        api=api,
        openflow=_build(OpenFlowConfig, sec["openflow"], listen_host=_ip_address, ports=tuple),
        store=_store(sec["store"], rel),
        auth=auth,
        isolation=isolation,
        switches=_switches(raw.get("switches", []), isolation.driver),
        topology=_build(TopologyConfig, sec["topology"], lldp_interval=float, hold_time=float, links=_links),
        metrics=_build(MetricsConfig, sec["metrics"]),
        quotas=_build(QuotaConfig, sec["quotas"]),
        dhcp=_build(DhcpConfig, sec["dhcp"], dns_servers=lambda v: tuple(str(ipaddress.IPv4Address(a)) for a in v)),
        nova=_nova(_build(NovaConfig, sec["nova"], batch_interval=float, timeout=float, retry_for=float)),
        external=_external(raw.get("external"), _switches_seen(raw)),
        log_level=sec["logging"].get("level", Config.log_level),
        log_format=sec["logging"].get("format", Config.log_format),
    )


def _switches_seen(raw: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {_datapath_id(item["datapath_id"], f"switches[{i}].datapath_id"): item
            for i, item in enumerate(raw.get("switches", []))}


def _external(raw: dict[str, Any] | None, switches: dict[int, dict[str, Any]]) -> ExternalConfig | None:
    """The external section, with what a schema cannot say: the prefix holds the next hop and the pool,
    and the gateway is an Open vSwitch bridge sdnapp reaches over OVSDB."""
    if raw is None:
        return None
    dpid = _datapath_id(raw["datapath_id"], "external.datapath_id")
    sw = switches.get(dpid)
    if sw is None or not sw.get("ovsdb"):
        raise ConfigError(
            f"external.datapath_id: the gateway {dpid:016x} must be an Open vSwitch bridge (NAT uses its "
            "connection tracker): list it in switches with its ovsdb, which is how sdnapp knows it is one")
    try:
        net = ipaddress.IPv4Network(raw["prefix"])
    except ValueError:
        message = SCHEMA["properties"]["external"]["properties"]["prefix"]["errorMessage"]
        raise ConfigError(f"external.prefix: {message}, got {raw['prefix']!r}") from None
    hop = ipaddress.IPv4Address(raw["next_hop"])
    first, last = (ipaddress.IPv4Address(a) for a in raw["pool"])
    usable = range(int(net.network_address) + 1, int(net.broadcast_address))
    if int(hop) not in usable:
        raise ConfigError(f"external.next_hop: {hop} is not a usable address of external.prefix {net}")
    if first > last or int(first) not in usable or int(last) not in usable:
        raise ConfigError(f"external.pool: [{first}, {last}] must be first <= last, both usable addresses of "
                          f"external.prefix {net}")
    if first <= hop <= last:
        raise ConfigError(f"external.pool: [{first}, {last}] holds the next hop {hop}")
    if int(last) - int(first) + 1 > MAX_ZONES:  # a network's conntrack zone comes from its address's offset
        raise ConfigError(f"external.pool: [{first}, {last}] has more than {MAX_ZONES} addresses")
    return _build(ExternalConfig, {**raw, "datapath_id": dpid, "prefix": str(net)}, pool=tuple,
                  dns_servers=tuple, arp_refresh=float)


def _store(raw: dict[str, Any], rel: Callable[[str | None], str | None]) -> StoreConfig:
    """A sqlite:/// URL is a path like store.path (relative to the file's folder); a PostgreSQL URL is kept."""
    url = raw.get("url")
    if url is not None and "path" in raw:
        raise ConfigError("store.url: give store.url or store.path, not both")
    if url is not None and url.startswith("sqlite:///"):
        return StoreConfig(path=cast(str, rel(url.removeprefix("sqlite:///"))))
    return _build(StoreConfig, raw, path=rel)


def _nova(nova: NovaConfig) -> NovaConfig:
    if nova.token is not None and nova.auth_url is not None:
        raise ConfigError("nova.token: give a token or Keystone credentials (auth_url), not both")
    if nova.token is not None and nova.url is None:
        raise ConfigError("nova.url: required with nova.token")
    if nova.auth_url is not None:
        missing = [k for k in ("username", "password", "project_name") if getattr(nova, k) is None]
        if missing:
            raise ConfigError(f"nova.{missing[0]}: required with nova.auth_url")
    return nova


def _check_auth(auth: AuthConfig, host: str) -> None:
    if auth.strategy == "token" and auth.tokens_file is None:
        raise ConfigError("auth.tokens_file: required with auth.strategy token")
    if auth.strategy == "noauth" and not ipaddress.ip_address(host).is_loopback:
        raise ConfigError(
            f"auth.strategy: noauth trusts any caller, so the API must listen on a loopback "
            f"address, not {host} (use auth.strategy token or keystone)"
        )
    if auth.strategy == "keystone" and not ipaddress.ip_address(host).is_loopback:
        # The identity headers are only as good as what sets them: Keystone's auth_token
        # middleware in a front end. Listening elsewhere would let clients set them.
        raise ConfigError(
            f"auth.strategy: keystone trusts the identity headers of its front end (Keystone's "
            f"auth_token middleware), so the API must listen on a loopback address behind it, not {host}"
        )


def _datapath_id(value: object, path: str) -> int:
    from .validate import datapath_id

    try:
        return datapath_id(value)
    except Exception as e:
        raise ConfigError(f"{path}: {e}") from None


def _switches(raw: list[dict[str, Any]], driver: str) -> tuple[SwitchConfig, ...]:
    out: list[SwitchConfig] = []
    seen: set[int] = set()
    for i, item in enumerate(raw):
        path = f"switches[{i}]"
        dpid = _datapath_id(item["datapath_id"], f"{path}.datapath_id")
        if dpid in seen:
            raise ConfigError(f"{path}.datapath_id: {dpid:016x} is listed twice")
        seen.add(dpid)
        # tunnel_ip as written: the schema's ipv4 format (Python's IPv4Address) takes only the canonical form.
        switch = SwitchConfig(**{**item, "datapath_id": dpid})
        if driver == vxlan.DRIVER and switch.tunnel_ip is None:
            raise ConfigError(f"{path}.tunnel_ip: required with isolation.driver vxlan")
        if switch.host is not None and switch.ovsdb is None:
            raise ConfigError(f"{path}.ovsdb: required with host (its VIFs are bound from OVSDB)")
        out.append(switch)
    ips = [s.tunnel_ip for s in out if s.tunnel_ip]
    if len(ips) != len(set(ips)):
        raise ConfigError("switches: two switches share one tunnel_ip")
    hosts = [s.host for s in out if s.host]
    if len(hosts) != len(set(hosts)):
        raise ConfigError("switches: two switches name one host")
    return tuple(out)


def _link_end(value: str, path: str) -> tuple[int, int | str]:
    dp, port = value.split("/")
    dpid = _datapath_id(dp, path)
    if not port:
        raise ConfigError(f"{path}: the port is missing in {value!r}")
    if port.isdigit():
        n = int(port)
        if not 1 <= n <= MAX_PORT_NO:
            raise ConfigError(f"{path}: port {n} is not a physical port number")
        return dpid, n
    return dpid, port


def _links(raw: Iterable[list[str]]) -> tuple[tuple[tuple[int, int | str], tuple[int, int | str]], ...]:
    links = []
    seen: set[tuple[int, int | str]] = set()
    for i, pair in enumerate(raw):
        path = f"topology.links[{i}]"
        a, b = _link_end(pair[0], f"{path}[0]"), _link_end(pair[1], f"{path}[1]")
        if a[0] == b[0]:
            raise ConfigError(f"{path}: both ends are on switch {a[0]:016x}")
        for end in (a, b):
            if end in seen:
                raise ConfigError(f"{path}: port {end[0]:016x}/{end[1]} is already in another link")
            seen.add(end)
        links.append((a, b))
    return tuple(links)


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
