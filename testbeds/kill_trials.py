"""Crash trials: acknowledged writes survive a SIGKILL of the process, and the store stays consistent.

Each trial: writer threads fire a bounded stream of mixed writes over HTTP as two or three
tenants (and an admin for bindings), every request journaled with its outcome; after a
random delay the process is killed with SIGKILL, restarted on the same store, and the
store (read over the API as admin) is checked against the journal and against invariants.

The check reasons per resource. A write that got a 2xx happened; a 4xx changed nothing;
a write with no answer may or may not have happened, but whole. Writes are linearizable
(one SQLite transaction each), so a write X cannot be the last to touch a resource if an
acknowledged write to the same resource was sent after X was answered.

Run: `python -m testbeds.kill_trials --trials 50 --seed 1`. It starts its own sdnapp on
API port 19750 and OpenFlow port 16750 in a temporary directory; no switch is needed.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import random
import signal
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .client import Client
from .process import SdnappProcess

API_PORT = 19750
OF_PORT = 16750
ADMIN_PROJECT = "ops"
TENANTS = ("red", "green", "blue")
DATAPATHS = ("00000000000000aa", "00000000000000bb")
PORT_NAMES = tuple(f"tap{i}" for i in range(6))
MAC_POOL = tuple(f"02:00:5e:00:00:{i:02x}" for i in range(24))
PREFIX_LENGTHS = (24, 28, 29)
SEGMENTS = (100, 163)  # a small pool, so segments are freed and handed out again

ACKED, REJECTED, UNANSWERED, FAILED = "acked", "rejected", "unanswered", "failed"

Resource = dict[str, Any]
V = TypeVar("V")


@dataclass
class Write:
    """One write request and what came of it."""

    seq: int
    trial: int
    writer: int
    project: str
    admin: bool
    op: str
    method: str
    path: str
    body: dict[str, Any] | None
    args: dict[str, str | None]
    invoked: float = 0.0
    answered: float | None = None
    status: int | None = None
    answer: Any = None
    error: str | None = None

    @property
    def outcome(self) -> str:
        if self.status is None:
            return UNANSWERED
        if 200 <= self.status < 300:
            return ACKED
        if 400 <= self.status < 500:
            return REJECTED
        return FAILED

    @property
    def maybe(self) -> bool:
        """Whether it may have taken effect (it did, for sure, when acknowledged)."""
        return self.outcome != REJECTED

    @property
    def end(self) -> float:
        """When it was over at the latest: if it had an effect, the effect came before this."""
        return self.answered if self.answered is not None and self.status is not None else math.inf

    def arg(self, key: str) -> str:
        v = self.args.get(key)
        assert v is not None, (self.op, key)
        return v

    def created(self) -> Resource | None:
        """The resource an acknowledged create answered with."""
        if self.outcome != ACKED or not self.op.startswith("create_") or not isinstance(self.answer, dict):
            return None
        res = self.answer.get(self.op.removeprefix("create_"))
        return res if isinstance(res, dict) else None

    def brief(self) -> str:
        ids = ", ".join(f"{k}={v}" for k, v in self.args.items() if v is not None and k != "owner")
        answer = self.status if self.status is not None else f"no answer ({self.error})"
        return f"#{self.seq} {self.op}({ids}) as {self.project}: {answer}"


class Journal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self.writes: list[Write] = []

    def add(self, w: Write) -> None:
        with self._lock:
            self._seq += 1
            w.seq = self._seq
            self.writes.append(w)


@dataclass
class Snapshot:
    """The whole store as an admin reads it over the API."""

    networks: dict[str, Resource]
    ports: dict[str, Resource]
    vnics: dict[str, Resource]

    @classmethod
    def empty(cls) -> Snapshot:
        return cls({}, {}, {})

    @classmethod
    def read(cls, admin: Client) -> Snapshot:
        def listing(kind: str) -> dict[str, Resource]:
            status, body = admin.call("GET", f"/v1/{kind}")
            if status != 200 or not isinstance(body, dict):
                raise RuntimeError(f"GET /v1/{kind} answered {status}: {body}")
            return {r["id"]: r for r in body[kind]}

        return cls(listing("networks"), listing("ports"), listing("vnics"))

    def of(self, kind: str) -> dict[str, Resource]:
        return {"network": self.networks, "port": self.ports, "vnic": self.vnics}[kind]


class Knowledge:
    """What the writers of a trial know exists (from the baseline and their own answers); shared."""

    def __init__(self, snap: Snapshot) -> None:
        self.lock = threading.Lock()
        self.networks = {n["id"]: n["tenant_id"] for n in snap.networks.values()}
        self.ports = {p["id"]: (p["tenant_id"], p["network_id"]) for p in snap.ports.values()}
        self.vnics = {v["id"]: v["tenant_id"] for v in snap.vnics.values()}
        self.plugged = {v["id"]: v["port_id"] for v in snap.vnics.values() if v["port_id"]}

    def owned(self, tenant: str) -> tuple[list[str], list[str], list[str]]:
        with self.lock:
            nets = sorted(k for k, t in self.networks.items() if t == tenant)
            ports = sorted(k for k, (t, _) in self.ports.items() if t == tenant)
            vnics = sorted(k for k, t in self.vnics.items() if t == tenant)
        return nets, ports, vnics

    def learn(self, w: Write) -> None:
        if w.outcome != ACKED:
            return
        with self.lock:
            res = w.created()
            if w.op == "create_network" and res:
                self.networks[res["id"]] = res["tenant_id"]
            elif w.op == "create_port" and res:
                self.ports[res["id"]] = (res["tenant_id"], res["network_id"])
            elif w.op == "create_vnic" and res:
                self.vnics[res["id"]] = res["tenant_id"]
            elif w.op == "destroy_network":
                nid = w.arg("network_id")
                self.networks.pop(nid, None)
                for pid in [p for p, (_, n) in self.ports.items() if n == nid]:
                    self.ports.pop(pid, None)
            elif w.op == "destroy_port":
                self.ports.pop(w.arg("port_id"), None)
            elif w.op == "destroy_vnic":
                self.vnics.pop(w.arg("vnic_id"), None)
                self.plugged.pop(w.arg("vnic_id"), None)
            elif w.op == "plug":
                self.plugged[w.arg("vnic_id")] = w.arg("port_id")
            elif w.op == "unplug_vnic":
                self.plugged.pop(w.arg("vnic_id"), None)
            elif w.op == "unplug_port":
                for v in [v for v, p in self.plugged.items() if p == w.arg("port_id")]:
                    self.plugged.pop(v, None)


class Writer(threading.Thread):
    """Fires writes until told to stop, out of writes, out of time, or the process stops answering."""

    def __init__(
        self, trial: int, index: int, url: str, tenants: list[str], known: Knowledge, journal: Journal,
        rng: random.Random, stop: threading.Event, max_writes: int, deadline: float,
    ) -> None:
        super().__init__(name=f"writer-{index}", daemon=True)
        self.trial, self.index, self.url, self.tenants = trial, index, url, tenants
        self.known, self.journal, self.rng, self.stop = known, journal, rng, stop
        self.max_writes, self.deadline = max_writes, deadline
        self.clients = {t: Client(url, t) for t in tenants}
        self.admin = Client(url, ADMIN_PROJECT, admin=True)
        self.sent = 0

    def run(self) -> None:
        while not self.stop.is_set() and self.sent < self.max_writes and time.monotonic() < self.deadline:
            w = self.next_write()
            self.sent += 1
            self.send(w)
            if w.outcome == UNANSWERED:
                return  # the process is gone (or hangs): nothing more to learn this trial
            self.known.learn(w)

    def send(self, w: Write) -> None:
        client = self.admin if w.admin else self.clients[w.project]
        self.journal.add(w)
        w.invoked = time.monotonic()
        try:
            w.status, w.answer = client.call(w.method, w.path, w.body, timeout=5.0)
        except Exception as e:  # noqa: BLE001 - any failure to get an answer is "no answer"
            w.error = f"{type(e).__name__}: {e}"
        w.answered = time.monotonic()

    def _write(self, tenant: str, op: str, method: str, path: str, body: dict[str, Any] | None,
               admin: bool = False, **args: str | None) -> Write:
        project = ADMIN_PROJECT if admin else tenant
        return Write(0, self.trial, self.index, project, admin, op, method, path, body, dict(args))

    def next_write(self) -> Write:
        rng = self.rng
        vid: str | None
        pid: str | None
        nid: str | None
        tenant = rng.choice(self.tenants)
        nets, ports, vnics = self.known.owned(tenant)
        mine = set(vnics)
        with self.known.lock:
            plugged = {v: p for v, p in self.known.plugged.items() if v in mine}
        busy_ports = set(plugged.values())
        name = f"k{self.trial}.{self.index}.{self.sent}"
        many = len(vnics) + len(ports) > 40  # keep the store from growing without end
        weights = {
            "create_network": 2 if many else 6, "create_port": 4 if many else 12,
            "create_vnic": 4 if many else 12, "plug": 18, "unplug_vnic": 5, "unplug_port": 4,
            "destroy_port": 9, "destroy_vnic": 9, "destroy_network": 4, "bind": 8, "unbind": 4, "foreign": 2,
        }
        op = rng.choices(list(weights), list(weights.values()))[0]

        def pick(xs: Iterable[str]) -> str | None:
            choices = sorted(xs)
            return rng.choice(choices) if choices else None

        if op == "create_port" and nets:
            nid = rng.choice(nets)
            return self._write(tenant, op, "POST", f"/v1/networks/{nid}/ports", {"port": {"name": name}},
                               network_id=nid, name=name)
        if op == "create_vnic" or (op in ("plug", "destroy_vnic", "unplug_vnic", "bind", "unbind") and not vnics):
            mac = rng.choice(MAC_POOL) if rng.random() < 0.5 else None
            body: dict[str, Any] = {"name": name}
            if mac is not None:
                body["mac_address"] = mac
            return self._write(tenant, "create_vnic", "POST", "/v1/vnics", {"vnic": body}, name=name, mac_address=mac)
        if op == "plug" and ports:
            # Mostly a free VNIC into a free port; sometimes anything (PortInUse, AlreadyAttached).
            free_v = [v for v in vnics if v not in plugged] if rng.random() < 0.8 else vnics
            free_p = [p for p in ports if p not in busy_ports] if rng.random() < 0.8 else ports
            vid, pid = pick(free_v) or rng.choice(vnics), pick(free_p) or rng.choice(ports)
            return self._write(tenant, op, "PUT", f"/v1/ports/{pid}/attachment", {"attachment": {"vnic_id": vid}},
                               port_id=pid, vnic_id=vid)
        if op == "unplug_vnic":
            vid = pick(plugged) if plugged and rng.random() < 0.8 else rng.choice(vnics)
            assert vid is not None
            return self._write(tenant, op, "DELETE", f"/v1/vnics/{vid}/attachment", None, vnic_id=vid)
        if op == "unplug_port" and ports:
            pid = pick(busy_ports) if busy_ports and rng.random() < 0.8 else rng.choice(ports)
            return self._write(tenant, op, "DELETE", f"/v1/ports/{pid}/attachment", None, port_id=pid)
        if op == "destroy_port" and ports:
            pid = pick(set(ports) - busy_ports) if rng.random() < 0.8 else None
            pid = pid or rng.choice(ports)
            return self._write(tenant, op, "DELETE", f"/v1/ports/{pid}", None, port_id=pid)
        if op == "destroy_vnic":
            vid = rng.choice(vnics)
            return self._write(tenant, op, "DELETE", f"/v1/vnics/{vid}", None, vnic_id=vid)
        if op == "destroy_network" and nets:
            with self.known.lock:
                used = {self.known.ports[p][1] for p in busy_ports if p in self.known.ports}
            nid = pick(set(nets) - used) if rng.random() < 0.8 else None
            nid = nid or rng.choice(nets)
            return self._write(tenant, op, "DELETE", f"/v1/networks/{nid}", None, network_id=nid)
        if op == "bind":
            vid, dpid, port_name = rng.choice(vnics), rng.choice(DATAPATHS), rng.choice(PORT_NAMES)
            return self._write(tenant, op, "PUT", f"/v1/vnics/{vid}/binding",
                               {"binding": {"datapath_id": dpid, "port_name": port_name}}, admin=True,
                               vnic_id=vid, datapath_id=dpid, port_name=port_name)
        if op == "unbind":
            vid = rng.choice(vnics)
            return self._write(tenant, op, "DELETE", f"/v1/vnics/{vid}/binding", None, admin=True, vnic_id=vid)
        if op == "foreign":
            # Another tenant's VNIC or port: must answer 404 and change nothing.
            with self.known.lock:
                theirs = [("vnic", k, t) for k, t in self.known.vnics.items() if t != tenant]
                theirs += [("port", k, t) for k, (t, _) in self.known.ports.items() if t != tenant]
            if theirs:
                kind, rid, owner = rng.choice(sorted(theirs))
                return self._write(tenant, f"destroy_{kind}", "DELETE", f"/v1/{kind}s/{rid}", None,
                                   owner=owner, **{f"{kind}_id": rid})
        prefix = None
        if rng.random() < 0.6:
            length = rng.choice(PREFIX_LENGTHS)
            prefix = f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/{length}"
        body = {"name": name}
        if prefix is not None:
            body["address_prefix"] = prefix
        return self._write(tenant, "create_network", "POST", "/v1/networks", {"network": body},
                           name=name, address_prefix=prefix)


# --- the check --------------------------------------------------------------------------------------

IMMUTABLE = {
    "network": ("tenant_id", "name", "address_prefix", "segment"),
    "port": ("tenant_id", "network_id", "name", "ip_address"),
    "vnic": ("tenant_id", "name", "mac_address"),
}


def check_invariants(s: Snapshot) -> list[str]:
    """What must hold of any store, however it got there."""
    out: list[str] = []
    n: Resource | None
    p: Resource | None
    v: Resource | None
    segments: dict[tuple[str, int], str] = {}
    for n in s.networks.values():
        seg = n.get("segment")
        if not isinstance(seg, dict):
            out.append(f"network {n['id']} shows no segment to an admin")
            continue
        key = (seg["type"], seg["id"])
        if key in segments:
            out.append(f"networks {segments[key]} and {n['id']} share segment {key}")
        segments[key] = n["id"]
    ips: dict[tuple[str, str], str] = {}
    for p in s.ports.values():
        n = s.networks.get(p["network_id"])
        if n is None:
            out.append(f"port {p['id']} references missing network {p['network_id']}")
            continue
        if n["tenant_id"] != p["tenant_id"]:
            out.append(f"port {p['id']} of {p['tenant_id']} is in network {n['id']} of {n['tenant_id']}")
        ip = p["ip_address"]
        if n["address_prefix"] is None:
            if ip is not None:
                out.append(f"port {p['id']} has address {ip} in network {n['id']} without a range")
            continue
        if ip is None:
            out.append(f"port {p['id']} has no address in network {n['id']} ({n['address_prefix']})")
            continue
        net = ipaddress.IPv4Network(n["address_prefix"])
        addr = ipaddress.IPv4Address(ip)
        if addr not in net or addr in (net.network_address, net.network_address + 1, net.broadcast_address):
            out.append(f"port {p['id']} has address {ip}, not a host address of {net} (or its gateway)")
        if (n["id"], ip) in ips:
            out.append(f"ports {ips[(n['id'], ip)]} and {p['id']} of network {n['id']} share address {ip}")
        ips[(n["id"], ip)] = p["id"]
    macs: dict[tuple[str, str], str] = {}
    switch_ports: dict[tuple[str, str], str] = {}
    for v in s.vnics.values():
        key = (v["tenant_id"], v["mac_address"])
        if key in macs:
            out.append(f"vnics {macs[key]} and {v['id']} of {key[0]} share mac_address {key[1]}")
        macs[key] = v["id"]
        if v["port_id"] is not None:
            p = s.ports.get(v["port_id"])
            if p is None:
                out.append(f"vnic {v['id']} is plugged into missing port {v['port_id']}")
            elif p["vnic_id"] != v["id"]:
                out.append(f"vnic {v['id']} says port {p['id']}, which says vnic {p['vnic_id']}")
            elif p["tenant_id"] != v["tenant_id"]:
                out.append(f"vnic {v['id']} of {v['tenant_id']} is plugged into port {p['id']} of {p['tenant_id']}")
        b = v["binding"]
        if b is not None:
            sp = (b["datapath_id"], b["port_name"])
            if sp in switch_ports:
                out.append(f"vnics {switch_ports[sp]} and {v['id']} are both bound to switch port {sp}")
            switch_ports[sp] = v["id"]
    for p in s.ports.values():
        if p["vnic_id"] is not None:
            v = s.vnics.get(p["vnic_id"])
            if v is None:
                out.append(f"port {p['id']} says missing vnic {p['vnic_id']}")
            elif v["port_id"] != p["id"]:
                out.append(f"port {p['id']} says vnic {v['id']}, which says port {v['port_id']}")
    by_net_mac: dict[tuple[str, str], str] = {}
    for v in s.vnics.values():
        p = s.ports.get(v["port_id"] or "")
        if p is not None:
            key = (p["network_id"], v["mac_address"])
            if key in by_net_mac:
                out.append(f"vnics {by_net_mac[key]} and {v['id']} with mac {key[1]} are both in network {key[0]}")
            by_net_mac[key] = v["id"]
    return out


def allowed_finals(baseline: V, definitive: list[tuple[Write, V]], conditional: list[tuple[Write, V]]) -> list[V]:
    """The values a resource's field may end with.

    `definitive`: writes that set the field whenever they take effect; `conditional`: writes
    that may set it (depending on state at the time). The last write to take effect is one
    that no acknowledged definitive write followed (sent after it was answered); the
    baseline survives only if no definitive write is acknowledged.
    """
    acked = [w for w, _ in definitive if w.outcome == ACKED]
    out = [] if acked else [baseline]
    for w, value in definitive + conditional:
        if w.maybe and not any(y.invoked > w.end for y in acked):
            out.append(value)
    return out


def _writes_text(ws: Iterable[Write]) -> str:
    return "; ".join(w.brief() for w in sorted(ws, key=lambda w: w.seq)) or "none"


def verify(trial: int, before: Snapshot, writes: list[Write], after: Snapshot) -> list[str]:
    """Everything wrong with `after`, given `before` and the journal of the writes in between."""
    out = [f"trial {trial}: {m}" for m in check_invariants(after)]

    def bad(msg: str) -> None:
        out.append(f"trial {trial}: {msg}")

    for w in writes:
        if w.outcome == FAILED:
            bad(f"server error: {w.brief()} {w.answer}")
        owner = w.args.get("owner")
        if owner is not None and owner != w.project:
            if w.outcome == ACKED:
                bad(f"a tenant changed another tenant's resource: {w.brief()}")
            elif w.outcome == REJECTED and w.status != 404:
                bad(f"another tenant's resource answered {w.status}, not 404: {w.brief()}")

    # Creates: every new resource comes from one create that may have happened, whole.
    creates = {(w.op.removeprefix("create_"), w.arg("name")): w for w in writes if w.op.startswith("create_")}
    known: dict[str, dict[str, Resource]] = {k: dict(before.of(k)) for k in IMMUTABLE}
    for w in writes:
        res = w.created()
        if res is not None:
            kind = w.op.removeprefix("create_")
            known[kind][res["id"]] = res
            if res["tenant_id"] != w.project or res["name"] != w.args["name"]:
                bad(f"create answered a resource of other owner or name: {w.brief()} {res}")
            if kind == "vnic" and w.args["mac_address"] and res["mac_address"] != w.args["mac_address"]:
                bad(f"vnic created with another MAC than asked: {w.brief()} {res}")
            if kind == "network" and res["address_prefix"] != w.args["address_prefix"]:
                bad(f"network created with another prefix than asked: {w.brief()} {res}")
            if kind == "port" and res["network_id"] != w.args["network_id"]:
                bad(f"port created in another network than asked: {w.brief()} {res}")
    for kind in IMMUTABLE:
        names: dict[str, str] = {}
        for rid, r in after.of(kind).items():
            if r["name"] in names:
                bad(f"{kind}s {names[r['name']]} and {rid} share the name {r['name']!r}: one create applied twice?")
            names[r["name"]] = rid
            if rid in known[kind]:
                continue
            c = creates.get((kind, r["name"]))
            if c is None:
                bad(f"{kind} {rid} ({r['name']!r}) appeared from no create")
            elif c.outcome == ACKED:
                bad(f"{kind} {rid} exists besides the one the create was answered with: {c.brief()}")
            elif c.outcome == REJECTED:
                bad(f"{kind} {rid} exists although its create was rejected: {c.brief()}")
            elif r["tenant_id"] != c.project or any(
                r[k] != c.args[k] for k in ("address_prefix", "network_id", "mac_address") if c.args.get(k)
            ):
                bad(f"{kind} {rid} does not match the unanswered create it came from: {c.brief()} {r}")
            elif (kind == "port" and r["vnic_id"]) or (kind == "vnic" and (r["port_id"] or r["binding"])):
                bad(f"{kind} {rid}, created by an unanswered request, has state no request gave it: {r}")

    # Existence and immutable fields of every resource known to have existed.
    destroys: dict[tuple[str, str], list[Write]] = defaultdict(list)
    for w in writes:
        if w.op.startswith("destroy_") and w.maybe:
            kind = w.op.removeprefix("destroy_")
            destroys[(kind, w.arg(f"{kind}_id"))].append(w)
    for kind in IMMUTABLE:
        for rid, r in known[kind].items():
            ds = list(destroys[(kind, rid)])
            if kind == "port":
                ds += destroys[("network", r["network_id"])]
            now = after.of(kind).get(rid)
            acked = [w for w in ds if w.outcome == ACKED]
            if acked and now is not None:
                bad(f"{kind} {rid} exists after an acknowledged destroy: {_writes_text(acked)}")
            elif not ds and now is None:
                origin = next((w for w in writes if (w.created() or {}).get("id") == rid), None)
                how = f"acknowledged create {origin.brief()}" if origin else "it was in the store before the trial"
                bad(f"{kind} {rid} is gone though nothing destroyed it ({how})")
            if now is not None:
                for k in IMMUTABLE[kind]:
                    if k in r and r[k] != now.get(k):
                        bad(f"{kind} {rid}: {k} was {r[k]!r}, is {now.get(k)!r}")

    # Attachments, seen from the VNIC and from the port.
    plugs = [w for w in writes if w.op == "plug" and w.maybe]
    for vid, v in after.vnics.items():
        was = before.vnics.get(vid, {}).get("port_id")
        definitive: list[tuple[Write, str | None]] = [(w, w.arg("port_id")) for w in plugs if w.arg("vnic_id") == vid]
        definitive += [(w, None) for w in writes if w.op == "unplug_vnic" and w.args.get("vnic_id") == vid]
        maybe_on = {was} | {p for _, p in definitive}
        conditional: list[tuple[Write, str | None]] = [
            (w, None) for w in writes if w.op == "unplug_port" and w.args.get("port_id") in maybe_on
        ]
        finals = allowed_finals(was, definitive, conditional)
        if v["port_id"] not in finals:
            ws = [w for w, _ in definitive + conditional]
            bad(f"vnic {vid} is plugged into {v['port_id']}, expected one of {sorted(map(str, set(finals)))} "
                f"(was {was}; writes: {_writes_text(ws)})")
    for pid, p in after.ports.items():
        had = before.ports.get(pid, {}).get("vnic_id")
        pdef: list[tuple[Write, str | None]] = [(w, w.arg("vnic_id")) for w in plugs if w.arg("port_id") == pid]
        pdef += [(w, None) for w in writes if w.op == "unplug_port" and w.args.get("port_id") == pid]
        maybe_holds = {had} | {v for _, v in pdef}
        pcond: list[tuple[Write, str | None]] = [
            (w, None) for w in writes
            if w.op in ("unplug_vnic", "destroy_vnic") and w.args.get("vnic_id") in maybe_holds
        ]
        finals = allowed_finals(had, pdef, pcond)
        if p["vnic_id"] not in finals:
            ws = [w for w, _ in pdef + pcond]
            bad(f"port {pid} holds vnic {p['vnic_id']}, expected one of {sorted(map(str, set(finals)))} "
                f"(was {had}; writes: {_writes_text(ws)})")

    # Bindings.
    def binding(b: Any) -> tuple[str, str | None] | None:
        return None if b is None else (b["datapath_id"], b["port_name"])

    for vid, v in after.vnics.items():
        b = v["binding"]
        if b is not None and (b["source"] != "api" or b["port_no"] is not None):
            bad(f"vnic {vid} has binding {b}; only the API bound it, by port name")
        was_b = binding(before.vnics.get(vid, {}).get("binding"))
        bdef: list[tuple[Write, tuple[str, str | None] | None]] = [
            (w, (w.arg("datapath_id"), w.args["port_name"]))
            for w in writes if w.op == "bind" and w.args.get("vnic_id") == vid
        ]
        bdef += [(w, None) for w in writes if w.op == "unbind" and w.args.get("vnic_id") == vid]
        bfinals = allowed_finals(was_b, bdef, [])
        if binding(b) not in bfinals:
            bad(f"vnic {vid} is bound to {binding(b)}, expected one of {sorted(map(str, set(bfinals)))} "
                f"(was {was_b}; writes: {_writes_text(w for w, _ in bdef)})")
    return out


# --- the run ----------------------------------------------------------------------------------------


@dataclass
class Report:
    trials: int = 0
    acknowledged: int = 0
    rejected: int = 0
    unanswered: int = 0
    unanswered_creates: int = 0
    unanswered_creates_applied: int = 0  # an unanswered create is the one kind of write seen to have happened
    violations: list[str] = field(default_factory=list)
    by_op: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, writes: Iterable[Write]) -> None:
        for w in writes:
            outcome = w.outcome
            if outcome == ACKED:
                self.acknowledged += 1
            elif outcome == REJECTED:
                self.rejected += 1
            else:
                self.unanswered += 1
            counts = self.by_op.setdefault(w.op, {})
            counts[outcome] = counts.get(outcome, 0) + 1

    def count_applied(self, writes: Iterable[Write], after: Snapshot) -> None:
        for w in writes:
            if w.outcome == UNANSWERED and w.op.startswith("create_"):
                self.unanswered_creates += 1
                kind = w.op.removeprefix("create_")
                self.unanswered_creates_applied += any(r["name"] == w.args["name"] for r in after.of(kind).values())

    def summary(self) -> str:
        return (
            f"kill trials: {self.trials} trials, {self.acknowledged} writes acknowledged, "
            f"{self.rejected} rejected, {self.unanswered} unanswered "
            f"({self.unanswered_creates_applied} of {self.unanswered_creates} unanswered creates had happened), "
            f"{len(self.violations)} violations"
        )


def run_trials(
    workdir: Path,
    trials: int,
    seed: int,
    writers: int = 4,
    max_delay: float = 0.6,
    writes_per_writer: int = 200,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Run `trials` kill-and-restart trials against one sdnapp store in `workdir`."""
    if not 1 <= writers <= 32 or trials < 0:
        raise ValueError("writers must be 1..32 and trials >= 0")
    rng = random.Random(seed)
    report = Report()
    proc = SdnappProcess(
        Path(workdir), api_port=API_PORT, of_ports=(OF_PORT,),
        extra={"isolation": {"vlan_range": list(SEGMENTS)}, "logging": {"level": "WARNING"}},
    )
    proc.start()
    try:
        admin = Client(proc.url, ADMIN_PROJECT, admin=True)
        before = Snapshot.read(admin)
        for trial in range(1, trials + 1):
            tenants = rng.sample(TENANTS, rng.choice((2, 3)))
            known = Knowledge(before)
            journal = Journal()
            stop = threading.Event()
            deadline = time.monotonic() + max_delay + 2.0
            threads = [
                Writer(trial, i, proc.url, tenants, known, journal, random.Random(rng.random()), stop,
                       writes_per_writer, deadline)
                for i in range(writers)
            ]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.05, max_delay))
            proc.stop(signal.SIGKILL)
            stop.set()
            for t in threads:
                t.join(timeout=15)
                if t.is_alive():
                    report.violations.append(f"trial {trial}: {t.name} did not stop (a request hangs?)")
            report.trials = trial
            report.count(journal.writes)
            try:
                proc.start()
            except (RuntimeError, TimeoutError) as e:
                report.violations.append(f"trial {trial}: the process does not start on its store again: {e}")
                break
            after = Snapshot.read(admin)
            found = verify(trial, before, journal.writes, after)
            report.violations += found
            report.count_applied(journal.writes, after)
            if progress is not None:
                acked = sum(w.outcome == ACKED for w in journal.writes)
                lost = sum(w.outcome == UNANSWERED for w in journal.writes)
                progress(f"trial {trial}: {len(journal.writes)} writes, {acked} acknowledged, {lost} unanswered; "
                         f"store has {len(after.networks)} networks, {len(after.ports)} ports, "
                         f"{len(after.vnics)} vnics; {len(found)} violations")
            before = after
    finally:
        proc.stop()
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--max-delay", type=float, default=0.6, help="latest kill, seconds after the writers start")
    ap.add_argument("--workdir", help="keep the store and log here (default: a temporary directory)")
    ap.add_argument("--quiet", action="store_true", help="no line per trial")
    args = ap.parse_args(argv)
    if not 1 <= args.trials <= 10000:
        ap.error("--trials must be 1..10000")
    if not 1 <= args.writers <= 32:
        ap.error("--writers must be 1..32")
    if not 0.05 <= args.max_delay <= 10:
        ap.error("--max-delay must be 0.05..10")
    progress = None if args.quiet else print

    def run(workdir: Path) -> Report:
        return run_trials(workdir, args.trials, args.seed, args.writers, args.max_delay, progress=progress)

    if args.workdir:
        report = run(Path(args.workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="kill-trials-") as tmp:
            report = run(Path(tmp))
    for v in report.violations:
        print("VIOLATION", v)
    print(report.summary())
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
