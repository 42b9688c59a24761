"""The operator's commands of `sdnapp`: every v1 resource and the operations views, over the REST API.

Where the API is and who is asking: `--url`, `--token` (auth.strategy token or keystone),
or `--project` and `--roles` (noauth); else the environment (SDNAPP_URL, SDNAPP_TOKEN,
SDNAPP_PROJECT, SDNAPP_ROLES); else a client config file (`--client-config`,
SDNAPP_CLIENT_CONFIG, or ~/.config/sdnapp/client.yaml) with the keys url, token,
project, roles; else http://127.0.0.1:9696 as project `admin` with role admin (noauth).

Output is a table (rich), or the API's JSON with `-f json`. Arguments are checked before
anything is sent (exit 2 with a message); an answer of the API that is an error prints
the API's type and message and exits 1, as does an API that cannot be reached.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich import box
from rich.console import Console
from rich.table import Table

from . import errors, validate
from .apiclient import ApiClient, ApiError

DEFAULT_URL = "http://127.0.0.1:9696"
CONFIG_KEYS = ("url", "token", "project", "roles")
EXIT_API, EXIT_USAGE = 1, 2

Handler = Callable[["Ctx", argparse.Namespace], int]


class UsageError(Exception):
    """An argument or a client setting that is not right: nothing was sent."""


@dataclass
class Ctx:
    api: ApiClient
    fmt: str
    out: Console
    err: Console

    def emit(self, body: Any, table: Callable[[], Table | str]) -> int:
        if self.fmt == "json":
            self.out.print_json(json.dumps(body))
        else:
            self.out.print(table())
        return 0


# arguments -------------------------------------------------------------------------------------------


def _id(kind: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise argparse.ArgumentTypeError(f"a {kind} id is a UUID, not {value!r}") from None

    check.__name__ = f"{kind} id"
    return check


def _mac(value: str) -> str:
    try:
        return validate.unicast_mac(value)
    except errors.BadRequest as e:
        raise argparse.ArgumentTypeError(e.message) from None


def _prefix(value: str) -> str:
    try:
        return validate.ipv4_prefix(value)
    except errors.BadRequest as e:
        raise argparse.ArgumentTypeError(e.message) from None


def _dpid(value: str) -> str:
    try:
        return validate.format_dpid(validate.datapath_id(value))
    except errors.BadRequest as e:
        raise argparse.ArgumentTypeError(e.message) from None


def _port_no(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 0xFFFFFF00:
        raise argparse.ArgumentTypeError(f"a switch port number is 1 to {0xFFFFFF00}, not {value!r}")
    return int(value)


def _vlan(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 4095:
        raise argparse.ArgumentTypeError(f"a VLAN id is 0 to 4095, not {value!r}")
    return int(value)


def _ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IPv4 address: {value!r}") from None


def _mac_or_ipv4(value: str) -> str:
    try:
        return _ipv4(value)
    except argparse.ArgumentTypeError:
        pass
    try:
        return validate.unicast_mac(value) if not _group(value) else value.lower()
    except errors.BadRequest:
        raise argparse.ArgumentTypeError(f"--to is a MAC address or an IPv4 address, not {value!r}") from None


def _group(value: str) -> bool:
    parts = value.replace("-", ":").split(":")
    return len(parts) == 6 and all(len(p) == 2 for p in parts) and all(
        c in "0123456789abcdefABCDEF" for p in parts for c in p) and bool(int(parts[0], 16) & 1)


def _source(value: str) -> str:
    """A port id, or DATAPATH_ID/PORT."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        pass
    dp, slash, port = value.partition("/")
    if not slash or not port:
        raise argparse.ArgumentTypeError(f"--from is a port id or DATAPATH_ID/PORT, not {value!r}")
    return f"{_dpid(dp)}/{port}"


def _seconds(value: str) -> float:
    try:
        s = float(value)
    except ValueError:
        s = -1
    if not 0 < s <= 3600:
        raise argparse.ArgumentTypeError(f"a timeout is seconds from 0 to 3600, not {value!r}")
    return s


# where the API is ------------------------------------------------------------------------------------


def client_settings(args: argparse.Namespace, env: dict[str, str] | None = None) -> dict[str, str]:
    """url, and token or project and roles: from the flags, else the environment, else the config file."""
    env = dict(os.environ) if env is None else env
    path = args.client_config or env.get("SDNAPP_CLIENT_CONFIG")
    explicit = path is not None
    path = path or str(Path.home() / ".config" / "sdnapp" / "client.yaml")
    file: dict[str, str] = {}
    if explicit or os.path.exists(path):
        file = _read_client_config(path)
    out: dict[str, str] = {}
    for key in CONFIG_KEYS:
        value = getattr(args, key, None) or env.get(f"SDNAPP_{key.upper()}") or file.get(key)
        if value:
            out[key] = value
    out.setdefault("url", DEFAULT_URL)
    url = urllib.parse.urlsplit(out["url"])
    if url.scheme not in ("http", "https") or not url.hostname:
        raise UsageError(f"the API's url must be http(s)://HOST[:PORT], not {out['url']!r}")
    try:
        url.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise UsageError(f"the API's url has a bad port: {out['url']!r}") from None
    return out


def _read_client_config(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
    except OSError as e:
        raise UsageError(f"cannot read the client config {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise UsageError(f"the client config {path} is not valid YAML: {e}") from None
    raw = raw or {}
    if not isinstance(raw, dict):
        raise UsageError(f"the client config {path} must be a mapping of {', '.join(CONFIG_KEYS)}")
    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    if unknown:
        raise UsageError(f"the client config {path}: unknown key {unknown[0]!r} (known: {', '.join(CONFIG_KEYS)})")
    bad = [k for k, v in raw.items() if not isinstance(v, str) or not v]
    if bad:
        raise UsageError(f"the client config {path}: {bad[0]} must be a non-empty string")
    return dict(raw)


def make_client(settings: dict[str, str]) -> ApiClient:
    if "token" in settings:
        headers = {"X-Auth-Token": settings["token"]}
    else:
        headers = {"X-Project-Id": settings.get("project", "admin"), "X-Roles": settings.get("roles", "admin")}
    return ApiClient(settings["url"], headers, timeout=30.0)


# tables ----------------------------------------------------------------------------------------------


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    return t


def _fields(title: str, obj: dict[str, Any]) -> Table:
    rows = []
    for k, v in obj.items():
        rows.append((k, json.dumps(v) if isinstance(v, dict | list) else v))
    return _table(title, ("field", "value"), rows)


def _binding(b: dict[str, Any] | None) -> str:
    return "" if not b else f"{b['datapath_id']}/{b.get('port_name') or b.get('port_no')}"


def _q(**params: str | None) -> str:
    given = {k: v for k, v in params.items() if v}
    return "?" + urllib.parse.urlencode(given) if given else ""


# commands --------------------------------------------------------------------------------------------


def cmd_status(c: Ctx, a: argparse.Namespace) -> int:
    status, health = c.api.call("GET", "/healthz")
    topo = c.api.get("/v1/topology")
    switches, links = topo["switches"], topo["links"]
    ports = [p for n in topo["networks"] for p in n["ports"]]
    by_status = {s: sum(p["status"] == s for p in ports) for s in ("ACTIVE", "DOWN", "ERROR")}
    problems = [f"switch {s['datapath_id']} lacks {', '.join(s['capabilities']['missing'])}"
                for s in switches if s.get("capabilities") and not s["capabilities"]["supported"]]
    problems += [f"switch {s['datapath_id']} is not connected" for s in switches if not s["connected"]
                 and not (s.get("capabilities") and not s["capabilities"]["supported"])]
    problems += [f"link {lk['src']['datapath_id']}/{lk['src']['port_no']} <-> {lk['dst']['datapath_id']}/"
                 f"{lk['dst']['port_no']} is {lk['state']}" for lk in links if lk["state"] != "up"]
    body = {
        "health": health, "switches": {"known": len(switches), "connected": sum(s["connected"] for s in switches)},
        "links": {"known": len(links), "up": sum(lk["state"] == "up" for lk in links)},
        "networks": len(topo["networks"]), "ports": by_status, "problems": problems,
    }
    c.emit(body, lambda: _table("sdnapp status", ("what", "state"), [
        ("health", "ok" if status == 200 else json.dumps(health)),
        ("switches", f"{body['switches']['connected']} of {len(switches)} connected"),
        ("links", f"{body['links']['up']} of {len(links)} up"),
        ("networks", len(topo["networks"])),
        ("ports", ", ".join(f"{n} {s}" for s, n in by_status.items())),
        *[("problem", p) for p in problems],
    ]))
    return 0 if status == 200 else EXIT_API


def cmd_switches(c: Ctx, a: argparse.Namespace) -> int:
    body = c.api.get("/v1/switches")

    def table() -> Table:
        rows = []
        for s in body["switches"]:
            caps = s.get("capabilities") or {}
            flows = s.get("flows") or {}
            rows.append((s["datapath_id"], "yes" if s["connected"] else "no",
                         f"{sum(p['up'] for p in s['ports'])}/{len(s['ports'])}",
                         caps.get("openflow_version", ""), flows.get("installed"),
                         "; ".join(caps.get("missing", []) + caps.get("warnings", [])) or "",
                         (s.get("tunnel") or {}).get("problem") or ""))
        return _table("switches", ("datapath id", "connected", "ports up", "OpenFlow", "flows held",
                                   "lacks / warnings", "tunnel problem"), rows)

    return c.emit(body, table)


def cmd_links(c: Ctx, a: argparse.Namespace) -> int:
    if a.all:
        body: dict[str, Any] = {"links": c.api.get("/v1/topology")["links"]}
    else:
        body = c.api.get("/v1/links")

    def table() -> Table:
        rows = [(f"{lk['src']['datapath_id']}/{lk['src']['port_no']}", f"{lk['dst']['datapath_id']}/"
                 f"{lk['dst']['port_no']}", lk["source"], lk.get("state", "up")) for lk in body["links"]]
        rows += [("", "", "problem", p) for p in body.get("problems", [])]
        return _table("links", ("end", "end", "known by", "state"), rows)

    return c.emit(body, table)


def cmd_networks(c: Ctx, a: argparse.Namespace) -> int:
    body = c.api.get("/v1/networks" + _q(tenant_id=a.tenant))
    rows = [(n["id"], n["name"], n["tenant_id"], n["address_prefix"],
             f"{n['segment']['type']} {n['segment']['id']}" if "segment" in n else "") for n in body["networks"]]
    return c.emit(body, lambda: _table("networks", ("id", "name", "tenant", "address range", "segment"), rows))


def cmd_ports(c: Ctx, a: argparse.Namespace) -> int:
    body = c.api.get("/v1/ports" + _q(network_id=a.network, tenant_id=a.tenant))
    rows = [(p["id"], p["name"], p["network_id"], p["vnic_id"], p["ip_address"], p["status"]) for p in body["ports"]]
    return c.emit(body, lambda: _table("ports", ("id", "name", "network", "vnic", "address", "status"), rows))


def cmd_vnics(c: Ctx, a: argparse.Namespace) -> int:
    body = c.api.get("/v1/vnics" + _q(tenant_id=a.tenant))
    rows = [(v["id"], v["name"], v["mac_address"], v["port_id"], _binding(v["binding"]), v["status"])
            for v in body["vnics"]]
    return c.emit(body, lambda: _table("vnics", ("id", "name", "MAC", "port", "bound to", "status"), rows))


def cmd_extensions(c: Ctx, a: argparse.Namespace) -> int:
    body = c.api.get("/v1/extensions")
    rows = [(e["alias"], e["name"], e["description"]) for e in body["extensions"]]
    return c.emit(body, lambda: _table("extensions", ("alias", "name", "description"), rows))


def _show(kind: str, path: str) -> Handler:
    def run(c: Ctx, a: argparse.Namespace) -> int:
        body = c.api.get(path.format(**vars(a)))
        return c.emit(body, lambda: _fields(kind, body[kind]))

    return run


def _delete(path: str, what: str) -> Handler:
    def run(c: Ctx, a: argparse.Namespace) -> int:
        c.api.ok("DELETE", path.format(**vars(a)))
        return c.emit({}, lambda: what.format(**vars(a)))

    return run


def cmd_network_create(c: Ctx, a: argparse.Namespace) -> int:
    net: dict[str, Any] = {"name": a.name}
    if a.prefix:
        net["address_prefix"] = a.prefix
    body = c.api.ok("POST", "/v1/networks", {"network": net})
    return c.emit(body, lambda: _fields("network", body["network"]))


def cmd_port_create(c: Ctx, a: argparse.Namespace) -> int:
    body = c.api.ok("POST", f"/v1/networks/{a.network}/ports", {"port": {"name": a.name}})
    return c.emit(body, lambda: _fields("port", body["port"]))


def cmd_vnic_create(c: Ctx, a: argparse.Namespace) -> int:
    vnic: dict[str, Any] = {"name": a.name}
    if a.mac:
        vnic["mac_address"] = a.mac
    body = c.api.ok("POST", "/v1/vnics", {"vnic": vnic})
    return c.emit(body, lambda: _fields("vnic", body["vnic"]))


def cmd_plug(c: Ctx, a: argparse.Namespace) -> int:
    body = c.api.ok("PUT", f"/v1/ports/{a.id}/attachment", {"attachment": {"vnic_id": a.vnic}})
    if a.wait:
        return _wait_active(c, [a.id], a.timeout, body)
    return c.emit(body, lambda: _fields("attachment", body["attachment"]))


def cmd_attachment(c: Ctx, a: argparse.Namespace) -> int:
    body = c.api.get(f"/v1/ports/{a.id}/attachment")
    return c.emit(body, lambda: _fields("attachment", body["attachment"]))


def cmd_bind(c: Ctx, a: argparse.Namespace) -> int:
    binding: dict[str, Any] = {"datapath_id": a.datapath_id}
    if a.port_name is not None:
        binding["port_name"] = a.port_name
    else:
        binding["port_no"] = a.port_no
    body = c.api.ok("PUT", f"/v1/vnics/{a.id}/binding", {"binding": binding})
    if a.wait:
        port = c.api.get(f"/v1/vnics/{a.id}")["vnic"]["port_id"]
        if port is None:
            raise UsageError(f"--wait: VNIC {a.id} is bound but plugged into no port, so nothing can become ACTIVE")
        return _wait_active(c, [port], a.timeout, body)
    return c.emit(body, lambda: _fields("binding", body["binding"]))


def _wait_active(c: Ctx, port_ids: list[str], timeout: float, body: Any) -> int:
    """Poll the ports until every one is ACTIVE, showing progress; exit 1 on ERROR or when time runs out."""
    start = time.monotonic()
    states: dict[str, str] = {}
    with c.err.status("waiting for ACTIVE") as progress:
        while True:
            for p in port_ids:
                if states.get(p) != "ACTIVE":
                    states[p] = c.api.get(f"/v1/ports/{p}")["port"]["status"]
            done = sum(s == "ACTIVE" for s in states.values())
            took = time.monotonic() - start
            progress.update(f"waiting for ACTIVE: {done} of {len(port_ids)} ports, {took:.1f}s "
                            f"({', '.join(sorted(set(states.values())))})")
            if done == len(port_ids) or "ERROR" in states.values() or took > timeout:
                break
            time.sleep(0.1)
    result = {"waited": {"ports": states, "seconds": round(took, 3)}, **(body or {})}
    c.emit(result, lambda: _table(f"after {took:.2f}s", ("port", "status"), sorted(states.items())))
    if done == len(port_ids):
        return 0
    bad = sorted(p for p, s in states.items() if s != "ACTIVE")
    c.err.print(f"sdnapp: port(s) {', '.join(bad)} not ACTIVE after {took:.1f}s: "
                f"{', '.join(states[p] for p in bad)}", highlight=False)
    return EXIT_API


def cmd_flows(c: Ctx, a: argparse.Namespace) -> int:
    body = c.api.get(f"/v1/ports/{a.port}/flows")

    def table() -> Table | str:
        if not body["flows"]:
            return f"no flows: {body['note'] or 'none wanted'}"
        installed = {True: "yes", False: "MISSING", None: "unknown"}
        rows = [(f["datapath_id"], f["table"], f["priority"], f["role"], installed[f["installed"]], f["explanation"])
                for f in body["flows"]]
        where = body["port"]
        return _table(f"flows of port {where['port_id']} (VNIC {where['vnic_id']} on {where['datapath_id']}/"
                      f"{where['port_name'] or where['port_no']})",
                      ("switch", "table", "prio", "role", "installed", "what it does"), rows)

    return c.emit(body, table)


def cmd_trace(c: Ctx, a: argparse.Namespace) -> int:
    if a.arp and ":" in a.to:
        raise UsageError("--arp traces an ARP request for an IPv4 address: give --to as one")
    q = {"from": a.source, "to": a.to, "eth_src": a.src_mac, "ipv4_src": a.src_ip,
         "vlan": None if a.vlan is None else str(a.vlan), "arp": "true" if a.arp else None}
    body = c.api.get("/v1/trace" + _q(**q))
    trace = body["trace"]
    compared = None
    if a.compare:
        from .ovstrace import OvsUnavailable, compare

        try:
            compared = compare(trace)
        except OvsUnavailable as e:
            raise UsageError(str(e)) from None
        body["compare"] = [{"hop": h.hop, "datapath_id": h.datapath_id, "bridge": h.bridge, "flow": h.spec,
                            "differences": h.differences} for h in compared]
    c.emit(body, lambda: _trace_text(trace, compared))
    if compared is not None and any(h.differences for h in compared):
        return EXIT_API
    return 0


def _trace_text(trace: dict[str, Any], compared: Any) -> Table:
    rows: list[Sequence[Any]] = []
    for h in trace["hops"]:
        for i, t in enumerate(h["tables"]):
            f = t["flow"]
            outs = ", ".join(f"{o['port']} ({o['kind']}{' -> hop ' + str(o['next_hop']) if o['next_hop'] else ''})"
                             for o in h["outputs"]) if i == len(h["tables"]) - 1 else ""
            rows.append((h["hop"] if i == 0 else "", h["datapath_id"] if i == 0 else "",
                         h["in_port"] if i == 0 else "", t["table"],
                         f"prio {f['priority']} cookie {f['cookie']}" if f else "no match",
                         f["explanation"] if f else "drop (table miss)", outs or ("drop" if i == len(h["tables"]) - 1
                                                                                    else "")))
    v = trace["verdict"]
    verdict = v["outcome"] + (f" by {v['rule']}" if v["rule"] else "") + f": {v['reason']}"
    t = _table("trace", ("hop", "switch", "in", "table", "flow", "what it does", "out"), rows)
    t.caption = verdict + "".join(
        f"\nswitch {h.datapath_id} (hop {h.hop}): " + (
            "not a bridge of the local Open vSwitch" if h.bridge is None else
            ("the switch agrees" if not h.differences else "; ".join(h.differences)))
        for h in (compared or []))
    t.caption_justify = "left"
    return t


# the parser ------------------------------------------------------------------------------------------


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the operator's commands to the `sdnapp` parser's subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("where the API is and who is asking")
    g.add_argument("--url", help=f"the REST API (env SDNAPP_URL; default {DEFAULT_URL})")
    g.add_argument("--token", help="X-Auth-Token, with auth.strategy token or keystone (env SDNAPP_TOKEN)")
    g.add_argument("--project", help="the project, with auth.strategy noauth (env SDNAPP_PROJECT; default admin)")
    g.add_argument("--roles", help="roles, with auth.strategy noauth (env SDNAPP_ROLES; default admin)")
    g.add_argument("--client-config", help="YAML file of url, token, project, roles (env SDNAPP_CLIENT_CONFIG; "
                   "default ~/.config/sdnapp/client.yaml)")
    common.add_argument("-f", "--format", choices=("table", "json"), default="table", help="output (default table)")

    def cmd(name: str, handler: Handler, help: str, parent: Any = sub) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help, description=help, parents=[common])
        p.set_defaults(handler=handler)
        return p

    cmd("status", cmd_status, "health, switches, links, ports by status and every problem at once")
    cmd("switches", cmd_switches, "switches: connected, ports, OpenFlow version, flows held, what a switch lacks")
    cmd("links", cmd_links, "inter-switch links in use").add_argument(
        "--all", action="store_true", help="every link known, with its state (up, down, problem)")
    cmd("networks", cmd_networks, "networks").add_argument("--tenant", help="admins: only this project's")
    p = cmd("ports", cmd_ports, "ports")
    p.add_argument("--network", type=_id("network"), help="only this network's")
    p.add_argument("--tenant", help="admins: only this project's")
    cmd("vnics", cmd_vnics, "VNICs").add_argument("--tenant", help="admins: only this project's")
    cmd("extensions", cmd_extensions, "the extensions this deployment offers")
    cmd("flows", cmd_flows, "the flows that carry a port's traffic, explained, and whether the switches hold "
        "them").add_argument("--port", type=_id("port"), required=True, help="the port's id")
    p = cmd("trace", cmd_trace, "where a frame goes: hop by hop through the flows sdnapp wants")
    p.add_argument("--from", dest="source", type=_source, required=True,
                   help="a port's id, or DATAPATH_ID/PORT (a switch port by number or name)")
    p.add_argument("--to", type=_mac_or_ipv4, required=True, help="a MAC or an IPv4 address")
    p.add_argument("--src-mac", type=_mac, help="the frame's source MAC instead of the VNIC's own (spoofing)")
    p.add_argument("--src-ip", type=_ipv4, help="the frame's source address instead of the port's own")
    p.add_argument("--vlan", type=_vlan, help="the frame arrives tagged with this VLAN id")
    p.add_argument("--arp", action="store_true", help="an ARP request for --to (an IPv4 address)")
    p.add_argument("--compare", action="store_true", help="also ask the local Open vSwitch (ovs-appctl "
                   "ofproto/trace) and report where it differs; exit 1 if it does")

    def noun(name: str, help: str) -> Any:
        p = sub.add_parser(name, help=help, description=help)
        return p.add_subparsers(dest="action", required=True, metavar="ACTION")

    net = noun("network", "show, create or delete a network")
    cmd("show", _show("network", "/v1/networks/{id}"), "show a network", net).add_argument("id", type=_id("network"))
    p = cmd("create", cmd_network_create, "create a network", net)
    p.add_argument("--name", default="")
    p.add_argument("--prefix", type=_prefix, help="an IPv4 range, like 10.1.0.0/24 (/29 or larger)")
    cmd("delete", _delete("/v1/networks/{id}", "network {id} deleted"), "delete a network and its ports",
        net).add_argument("id", type=_id("network"))

    port = noun("port", "show, create, delete, plug or unplug a port")
    cmd("show", _show("port", "/v1/ports/{id}"), "show a port", port).add_argument("id", type=_id("port"))
    p = cmd("create", cmd_port_create, "create a port in a network", port)
    p.add_argument("--network", type=_id("network"), required=True)
    p.add_argument("--name", default="")
    cmd("delete", _delete("/v1/ports/{id}", "port {id} deleted"), "delete a port", port).add_argument(
        "id", type=_id("port"))
    p = cmd("plug", cmd_plug, "plug a VNIC into a port", port)
    p.add_argument("id", type=_id("port"))
    p.add_argument("--vnic", type=_id("vnic"), required=True)
    p.add_argument("--wait", action="store_true", help="wait until the port is ACTIVE, showing progress")
    p.add_argument("--timeout", type=_seconds, default=30.0, help="seconds --wait waits (default 30)")
    cmd("unplug", _delete("/v1/ports/{id}/attachment", "port {id} unplugged"), "unplug whatever VNIC a port has",
        port).add_argument("id", type=_id("port"))
    cmd("attachment", cmd_attachment, "show which VNIC a port has", port).add_argument("id", type=_id("port"))

    vnic = noun("vnic", "show, create, delete, bind, unbind or unplug a VNIC")
    cmd("show", _show("vnic", "/v1/vnics/{id}"), "show a VNIC", vnic).add_argument("id", type=_id("vnic"))
    p = cmd("create", cmd_vnic_create, "create a VNIC", vnic)
    p.add_argument("--mac", type=_mac, help="its MAC (default: the server picks one)")
    p.add_argument("--name", default="")
    cmd("delete", _delete("/v1/vnics/{id}", "VNIC {id} deleted"), "delete a VNIC (unplugging it)", vnic).add_argument(
        "id", type=_id("vnic"))
    cmd("unplug", _delete("/v1/vnics/{id}/attachment", "VNIC {id} unplugged"), "unplug a VNIC",
        vnic).add_argument("id", type=_id("vnic"))
    p = cmd("bind", cmd_bind, "say which switch port a VNIC is on (admins)", vnic)
    p.add_argument("id", type=_id("vnic"))
    p.add_argument("--datapath-id", type=_dpid, required=True, help="16 hex digits, 0x-hex or decimal")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--port-name", help="the switch port's name")
    where.add_argument("--port-no", type=_port_no, help="the switch port's number")
    p.add_argument("--wait", action="store_true", help="wait until its port is ACTIVE, showing progress")
    p.add_argument("--timeout", type=_seconds, default=30.0, help="seconds --wait waits (default 30)")
    cmd("unbind", _delete("/v1/vnics/{id}/binding", "VNIC {id} unbound"), "unbind a VNIC (admins)",
        vnic).add_argument("id", type=_id("vnic"))

    ext = noun("extension", "show an extension")
    cmd("show", _show("extension", "/v1/extensions/{alias}"), "show an extension", ext).add_argument("alias")


def run(args: argparse.Namespace, out: Console | None = None, err: Console | None = None) -> int:
    """Run the operator's command `args` asked for; its exit code."""
    err = err or Console(stderr=True, highlight=False)
    out = out or Console(highlight=False, soft_wrap=args.format == "json",
                         width=None if sys.stdout.isatty() else 200)
    settings: dict[str, str] = {}
    try:
        settings = client_settings(args)
        code: int = args.handler(Ctx(make_client(settings), args.format, out, err), args)
        return code
    except UsageError as e:
        err.print(f"sdnapp: {e}", markup=False)
        return EXIT_USAGE
    except ApiError as e:
        err.print(f"sdnapp: {e.status} {e.type}: {e.message}", markup=False)
        return EXIT_API
    except OSError as e:
        err.print(f"sdnapp: cannot reach the API at {settings.get('url')}: {getattr(e, 'reason', None) or e}",
                  markup=False)
        return EXIT_API
