"""Durable state: networks, subnets, ports, VNICs, attachments, bindings, allocations, quotas.

On SQLite (embedded, the default) or PostgreSQL (shared by several instances): the same schema,
queries and transactions (sdnapp/engines.py holds what differs). Every write is one transaction
committed before the caller answers; on PostgreSQL a write that conflicts with another instance's is
run again whole (`retried`). Uniqueness that must never break (segment ids, MACs per tenant, addresses per
network, one VNIC per port, one VNIC per switch port) is also a constraint of
the schema, so even a bug in the service cannot hand a value out twice.
"""

from __future__ import annotations

import functools
import json
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from topology.fabric import Link, LinkEnd
from topology.switches import SwitchPort

from .engines import ChangeSource, Conn, StoreConflict, StoreError, StoreUnavailable, engine_for
from .ipam import default_gateway, default_pools
from .metrics import NO_METRICS, Metrics
from .model import AddressPair, Binding, FloatingAddress, Lease, Network, Port, Router, Subnet, Vnic

# The schema as a list of steps: step N takes a store from version N-1 to N, so a new store and an
# old one reach the current version the same way. A change of schema is a new step at the end,
# never an edit of an old one. Keep the SQL portable (no rowid, no SQLite-only functions); a step that
# cannot be says what it is on each engine. Types: DOUBLE PRECISION for times and BIGINT for port numbers
# (OpenFlow's reach 0xffffff00), which are what REAL and INTEGER were on SQLite (same affinity: the old
# steps name them so without changing a SQLite store) and hold the same on PostgreSQL; datapath ids stay
# 16 hex digits as TEXT (unsigned 64 bits fit no signed BIGINT).
_STEPS: tuple[str | Mapping[str, str], ...] = (
    # 1: networks, ports, VNICs, attachments and bindings
    """
CREATE TABLE networks (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    address_prefix TEXT,
    segment_type TEXT NOT NULL,
    segment_id INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    UNIQUE (segment_type, segment_id)
);
CREATE TABLE ports (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    ip_address TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    UNIQUE (network_id, ip_address)
);
CREATE INDEX ports_network ON ports(network_id);
CREATE TABLE vnics (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    mac_address TEXT NOT NULL,
    port_id TEXT UNIQUE REFERENCES ports(id) ON DELETE RESTRICT,
    created_at DOUBLE PRECISION NOT NULL,
    UNIQUE (tenant_id, mac_address)
);
CREATE INDEX vnics_mac ON vnics(mac_address);
CREATE TABLE bindings (
    vnic_id TEXT PRIMARY KEY REFERENCES vnics(id) ON DELETE CASCADE,
    datapath_id TEXT NOT NULL,
    port_no BIGINT,
    port_name TEXT,
    source TEXT NOT NULL CHECK (source IN ('api', 'switch')),
    UNIQUE (datapath_id, port_no),
    UNIQUE (datapath_id, port_name)
);
""",
    # 2: the topology as last seen (the switches' ports, the discovered links), so that a restarted
    # controller starts from the fabric it knew instead of forgetting it until discovery is done
    """
CREATE TABLE switch_ports (
    datapath_id TEXT NOT NULL,
    port_no BIGINT NOT NULL,
    name TEXT NOT NULL,
    up INTEGER NOT NULL,
    PRIMARY KEY (datapath_id, port_no)
);
CREATE TABLE links (
    a_datapath_id TEXT NOT NULL,
    a_port_no BIGINT NOT NULL,
    b_datapath_id TEXT NOT NULL,
    b_port_no BIGINT NOT NULL,
    PRIMARY KEY (a_datapath_id, a_port_no, b_datapath_id, b_port_no)
);
""",
    # 3: what the Neutron face adds. Networks and ports: admin state, description, port security,
    # a port's device and host binding, update time and revision number (booleans as 0/1). Subnets:
    # a network's address range as a Neutron subnet (the range itself stays networks.address_prefix);
    # gateway_ip NULL with has_gateway 1 is the first usable address, allocation_pools NULL the whole
    # range but the network, broadcast and gateway addresses. Networks that already have a range get
    # their subnet here, with the network's id as the subnet's. Per-project quotas; each project's
    # default security group, made when first needed. A port's told_nova is the status Nova was last
    # told of (so that a restart, which finds every port DOWN until its switch is read, tells it nothing).
    """
ALTER TABLE networks ADD COLUMN admin_state_up INTEGER NOT NULL DEFAULT 1;
ALTER TABLE networks ADD COLUMN port_security INTEGER NOT NULL DEFAULT 1;
ALTER TABLE networks ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE networks ADD COLUMN updated_at DOUBLE PRECISION;
ALTER TABLE networks ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ports ADD COLUMN admin_state_up INTEGER NOT NULL DEFAULT 1;
ALTER TABLE ports ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
ALTER TABLE ports ADD COLUMN device_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE ports ADD COLUMN port_security INTEGER NOT NULL DEFAULT 1;
ALTER TABLE ports ADD COLUMN address_pairs TEXT NOT NULL DEFAULT '[]';
ALTER TABLE ports ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE ports ADD COLUMN vnic_type TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE ports ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';
ALTER TABLE ports ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE ports ADD COLUMN updated_at DOUBLE PRECISION;
ALTER TABLE ports ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ports ADD COLUMN told_nova TEXT;
CREATE INDEX ports_device ON ports(device_id);
CREATE INDEX ports_tenant ON ports(tenant_id);
CREATE TABLE subnets (
    id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL UNIQUE REFERENCES networks(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    gateway_ip TEXT,
    has_gateway INTEGER NOT NULL DEFAULT 1,
    allocation_pools TEXT,
    enable_dhcp INTEGER NOT NULL DEFAULT 1,
    dns_nameservers TEXT NOT NULL DEFAULT '[]',
    host_routes TEXT NOT NULL DEFAULT '[]',
    description TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION,
    revision INTEGER NOT NULL DEFAULT 0
);
INSERT INTO subnets (id, network_id, tenant_id, name, created_at)
    SELECT id, id, tenant_id, '', created_at FROM networks WHERE address_prefix IS NOT NULL;
CREATE TABLE quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource)
);
CREATE TABLE security_groups (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL UNIQUE,
    created_at DOUBLE PRECISION NOT NULL
);
""",
    # 4: the `nat` extension. A network is NATed or not; every outside address handed out of the
    # configured pool is one row here, either a NATed network's external address (network_id) or a
    # floating address (floating_id, with the port it is associated with, if any). The primary key
    # is what makes allocation race-free: two writers can never hold one address, and a network
    # or a port has at most one.
    """
ALTER TABLE networks ADD COLUMN nat INTEGER NOT NULL DEFAULT 0;
CREATE TABLE external_addresses (
    address TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    network_id TEXT UNIQUE REFERENCES networks(id) ON DELETE CASCADE,
    floating_id TEXT UNIQUE,
    port_id TEXT UNIQUE REFERENCES ports(id) ON DELETE SET NULL,
    created_at DOUBLE PRECISION NOT NULL,
    CHECK ((network_id IS NULL) <> (floating_id IS NULL)),
    CHECK (port_id IS NULL OR floating_id IS NOT NULL)
);
CREATE INDEX external_addresses_tenant ON external_addresses(tenant_id);
""",
    # 5: the order of bindings (which of two naming one switch port came first) as a column of its own
    # instead of SQLite's rowid, which PostgreSQL has not. A SQLite store's bindings keep their rowid
    # order, all older than any binding made from now on (times since 1970).
    {
        "sqlite": "ALTER TABLE bindings ADD COLUMN bound_at DOUBLE PRECISION NOT NULL DEFAULT 0;"
                  "UPDATE bindings SET bound_at = rowid",
        "postgresql": "ALTER TABLE bindings ADD COLUMN bound_at DOUBLE PRECISION NOT NULL DEFAULT 0",
    },
    # 6: the change feed of a shared store: one row per committed write, numbered in commit order (the
    # writes are made one at a time), naming the instance that made it. The others read what is newer
    # than what they saw (ChangeFeed); old rows are pruned.
    """
CREATE TABLE changes (
    seq BIGINT PRIMARY KEY,
    writer TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
""",
    # 7: mastership of switches between instances (sdnapp/mastership.py): each live instance's
    # heartbeat, and a lease per switch; times by the database's clock.
    """
CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE leases (
    datapath_id TEXT PRIMARY KEY,
    holder TEXT,
    generation BIGINT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
""",
    # 8: Neutron's routers over the `nat` extension. A router's interface is a port of a tenant network
    # (holding the subnet's gateway address); its external gateway is an outside address held by the
    # router (router_id), which is also the source of the network it NATs (network_id) while it does.
    # The outside addresses' table is made anew for that (a CHECK cannot be altered), with the
    # description, update time and revision a floating IP has in Neutron.
    """
CREATE TABLE routers (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    admin_state_up INTEGER NOT NULL DEFAULT 1,
    port_id TEXT UNIQUE REFERENCES ports(id) ON DELETE SET NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION,
    revision INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX routers_tenant ON routers(tenant_id);
CREATE TABLE outside_addresses (
    address TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    network_id TEXT UNIQUE REFERENCES networks(id) ON DELETE CASCADE,
    floating_id TEXT UNIQUE,
    router_id TEXT UNIQUE REFERENCES routers(id) ON DELETE CASCADE,
    port_id TEXT UNIQUE REFERENCES ports(id) ON DELETE SET NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION,
    revision INTEGER NOT NULL DEFAULT 0,
    CHECK ((floating_id IS NULL) <> (network_id IS NULL AND router_id IS NULL)),
    CHECK (port_id IS NULL OR floating_id IS NOT NULL)
);
INSERT INTO outside_addresses (address, tenant_id, network_id, floating_id, port_id, created_at)
    SELECT address, tenant_id, network_id, floating_id, port_id, created_at FROM external_addresses;
DROP TABLE external_addresses;
ALTER TABLE outside_addresses RENAME TO external_addresses;
CREATE INDEX external_addresses_tenant ON external_addresses(tenant_id);
""",
)
SCHEMA_VERSION = len(_STEPS)


class Store:
    """The durable state on either engine (`engine_for`): the same schema, queries and transactions."""

    def __init__(self, target: str, metrics: Metrics = NO_METRICS) -> None:
        """`target`: a SQLite file (a path, or sqlite:///path) or a PostgreSQL URL (postgresql://...)."""
        self._engine = engine_for(target)
        self.path = self._engine.where
        self.engine = self._engine.name
        self._metrics = metrics
        self._local = threading.local()  # the thread's open transaction: a read inside a write joins it
        # Committed writes, this instance's and (on a shared store) the others' as the change feed finds
        # them: a reader's cache of the desired state is fresh while this is unchanged.
        self.writes = 0
        self._writes_lock = threading.Lock()
        self.instance = uuid.uuid4().hex  # who this process is in the change feed
        try:
            self._migrate()
        except sqlite3.DatabaseError as e:
            self._engine.close()
            raise StoreError(f"cannot use {self.path} as the store: {e}") from None
        except BaseException:
            self._engine.close()
            raise

    def _migrate(self) -> None:
        """Bring the store to SCHEMA_VERSION, all missing steps in one transaction; refuse what is not ours."""
        with self._engine.transaction(write=True) as db:
            tables = self._engine.tables(db)
            if not tables:
                db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                db.execute("INSERT INTO meta VALUES ('schema_version', '0')")
            elif "meta" not in tables:
                raise StoreError(f"{self.path} is a database but not an sdnapp store")
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            found = row[0] if row else "none"
            if not found.isdigit() or not 0 <= int(found) <= SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {found}; this sdnapp knows versions up to {SCHEMA_VERSION}"
                )
            for version in range(int(found) + 1, SCHEMA_VERSION + 1):
                step = _STEPS[version - 1]
                sql = step if isinstance(step, str) else step[self.engine]
                for stmt in sql.split(";"):
                    if stmt.strip():
                        db.execute(stmt)
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self._engine.close()

    def ping(self) -> bool:
        return self._engine.ping()

    @contextmanager
    def read(self) -> Iterator[Txn]:
        """One consistent view for every query made in it (inside a write: that write's own)."""
        open_txn: Txn | None = getattr(self._local, "txn", None)
        if open_txn is not None:
            yield open_txn
            return
        with self._metrics.store_transaction("read"), self._engine.transaction(write=False) as db:
            self._local.txn = txn = Txn(db, self._engine.clock)
            try:
                yield txn
            finally:
                self._local.txn = None

    @contextmanager
    def write(self, announce: bool = True) -> Iterator[Txn]:
        """One atomic, durable transaction: committed on success, rolled back on any error.

        Without `announce`: a write that changes nothing the switches should hold and that other
        instances need not hear of (a lease's renewal, the topology this instance remembers, what it
        told Nova); it neither counts in `writes` nor is announced. (Counted, the topology's writes
        while a fleet connected made every switch's job read every network again.)

        On PostgreSQL it may fail with StoreConflict (another instance's write made what it read
        stale): the caller's whole operation is then run again by `retry`."""
        with self._metrics.store_transaction("write"), self._engine.transaction(write=True) as db:
            outer, self._local.txn = getattr(self._local, "txn", None), Txn(db, self._engine.clock)
            try:
                yield self._local.txn
            finally:
                self._local.txn = outer
            if announce:
                self._engine.record_change(db, self.instance)
        if announce:
            self.changed()

    def changed(self) -> None:
        """A write was committed, here or (told by the change feed) by another instance."""
        with self._writes_lock:
            self.writes += 1

    def change_feed(self) -> ChangeSource | None:
        """Where other instances' writes are announced; None on an engine no other instance shares."""
        return self._engine.change_source(self.instance)

    def retry(self, operation: Callable[[], _T]) -> _T:
        """Run `operation` (which makes its own transactions) until none of them conflicts, a few times.

        The one retry of every write path (`retried`): what a conflict rolled back is recomputed from
        what the winner committed (the next free segment, MAC or address). Nested calls run once: the
        outermost one retries."""
        if getattr(self._local, "retrying", False):
            return operation()
        self._local.retrying = True
        try:
            for attempt in range(RETRIES):
                try:
                    return operation()
                except StoreConflict as e:
                    if attempt == RETRIES - 1:
                        raise StoreUnavailable(f"the store stayed too busy with conflicting writes: {e}") from None
                    time.sleep(random.uniform(0, 0.005 * 2**attempt))
            raise AssertionError("unreachable")
        finally:
            self._local.retrying = False


_T = TypeVar("_T")
_P = ParamSpec("_P")
# Conflicts happen between instances allocating at the same moment; each retry waits a random while,
# growing, so that the same two do not collide again.
RETRIES = 8


class _HasStore(Protocol):
    store: Store


_S = TypeVar("_S", bound=_HasStore)


def retried(method: Callable[Concatenate[_S, _P], _T]) -> Callable[Concatenate[_S, _P], _T]:
    """A method that writes to `self.store`: run again whole when its write conflicts with another's."""

    @functools.wraps(method)
    def run(self: _S, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        return self.store.retry(lambda: method(self, *args, **kwargs))

    return run


_NET_COLS = (
    "n.id, n.tenant_id, n.name, n.address_prefix, n.segment_type, n.segment_id, n.admin_state_up, n.port_security, "
    "n.description, n.created_at, COALESCE(n.updated_at, n.created_at), n.revision, n.nat, "
    "(SELECT e.address FROM external_addresses e WHERE e.network_id = n.id), "
    "(SELECT s.gateway_ip FROM subnets s WHERE s.network_id = n.id), "
    "(SELECT s.has_gateway FROM subnets s WHERE s.network_id = n.id)"
)
_PORT_FIELDS = (
    "p.id", "p.tenant_id", "p.network_id", "p.name", "p.ip_address", "v.id", "v.mac_address", "p.admin_state_up",
    "p.device_id", "p.device_owner", "p.port_security", "p.address_pairs", "p.host", "p.vnic_type", "p.profile",
    "p.description", "p.created_at", "COALESCE(p.updated_at, p.created_at)", "p.revision",
)
_PORT_COLS = ", ".join(_PORT_FIELDS)
_PORT_NCOLS = len(_PORT_FIELDS)
_VNIC_COLS = "v.id, v.tenant_id, v.name, v.mac_address, v.port_id, b.datapath_id, b.port_no, b.port_name, b.source"
_SUBNET_COLS = (
    "s.id, s.network_id, s.tenant_id, s.name, n.address_prefix, s.gateway_ip, s.has_gateway, s.allocation_pools, "
    "s.enable_dhcp, s.dns_nameservers, s.host_routes, s.description, s.created_at, "
    "COALESCE(s.updated_at, s.created_at), s.revision"
)
_PORTS_FROM = "ports p LEFT JOIN vnics v ON v.port_id = p.id"
_FLOATING_COLS = (
    "e.floating_id, e.tenant_id, e.address, e.port_id, p.ip_address, p.network_id, e.created_at, e.description, "
    "COALESCE(e.updated_at, e.created_at), e.revision"
)
_ROUTER_COLS = (
    "r.id, r.tenant_id, r.name, r.description, r.admin_state_up, e.address, r.port_id, p.network_id, r.created_at, "
    "COALESCE(r.updated_at, r.created_at), r.revision"
)
_ROUTERS_FROM = ("routers r LEFT JOIN external_addresses e ON e.router_id = r.id "
                 "LEFT JOIN ports p ON p.id = r.port_id")
_FLOATING_FROM = "external_addresses e LEFT JOIN ports p ON p.id = e.port_id"


def _network(r: tuple) -> Network:
    # A subnet's gateway NULL with has_gateway 1 is its range's first usable address (see step 3).
    gateway = r[14] if r[14] is not None or not r[15] or r[3] is None else default_gateway(r[3])
    return Network(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), bool(r[7]), r[8], r[9], r[10], r[11], bool(r[12]),
                   r[13], gateway)


def _floating(r: tuple) -> FloatingAddress:
    return FloatingAddress(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9])


def _router(r: tuple) -> Router:
    return Router(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7], r[8], r[9], r[10])


def _port(r: tuple) -> Port:
    pairs = tuple(AddressPair(a["ip_address"], a["mac_address"]) for a in json.loads(r[11]))
    return Port(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9], bool(r[10]), pairs, r[12], r[13],
                r[14], r[15], r[16], r[17], r[18])


def _vnic(r: tuple) -> Vnic:
    binding = None if r[5] is None else Binding(int(r[5], 16), r[6], r[7], r[8])
    return Vnic(r[0], r[1], r[2], r[3], r[4], binding)


def _subnet(r: tuple) -> Subnet:
    """A subnet row; the defaults (gateway, pools) follow from the range (see step 2)."""
    cidr = r[4]
    gateway = r[5] if r[5] is not None or not r[6] else default_gateway(cidr)
    pools = json.loads(r[7]) if r[7] is not None else default_pools(cidr, gateway)
    return Subnet(
        r[0], r[1], r[2], r[3], cidr, gateway, tuple((a, b) for a, b in pools), bool(r[8]),
        tuple(json.loads(r[9])), tuple((d, h) for d, h in json.loads(r[10])), r[11], r[12], r[13], r[14],
    )


def _pairs_json(pairs: Iterable[AddressPair]) -> str:
    return json.dumps([{"ip_address": a.ip_address, "mac_address": a.mac_address} for a in pairs])


def _tenant_clause(tenant_id: str | None, col: str) -> tuple[str, tuple[str, ...]]:
    return ("", ()) if tenant_id is None else (f" WHERE {col} = ?", (tenant_id,))


def _port_is(port_no: int | None, port_name: str | None) -> tuple[str, list[object]]:
    """A binding (b) to a switch port given by number, by name, or by either (what is given)."""
    conds = [f"b.{col} = ?" for col, v in (("port_no", port_no), ("port_name", port_name)) if v is not None]
    return "(" + (" OR ".join(conds) or "1 = 0") + ")", [v for v in (port_no, port_name) if v is not None]


def _where(conds: list[str]) -> str:
    return (" WHERE " + " AND ".join(conds)) if conds else ""


def _in(col: str, values: Iterable[str], conds: list[str], args: list[object]) -> None:
    vals = sorted(set(values))
    conds.append(f"{col} IN ({', '.join('?' * len(vals))})" if vals else "1 = 0")
    args.extend(vals)


class Txn:
    """Queries and writes within one transaction (or one locked read)."""

    def __init__(self, db: Conn, clock: Callable[[Conn], float]) -> None:
        self.db = db
        self._clock = clock

    def clock(self) -> float:
        """The database's time."""
        return self._clock(self.db)

    # mastership (sdnapp/mastership.py)
    def heartbeat(self, instance: str, now: float, ttl: float) -> int:
        """This instance is alive until now + ttl (0: it is leaving); how many instances are alive."""
        self.db.execute("DELETE FROM instances WHERE id = ? OR expires_at <= ?", (instance, now))
        if ttl > 0:
            self.db.execute("INSERT INTO instances (id, expires_at) VALUES (?, ?)", (instance, now + ttl))
        return int(self.db.execute("SELECT COUNT(*) FROM instances").fetchone()[0])

    def leases(self) -> dict[int, Lease]:
        rows = self.db.execute("SELECT datapath_id, holder, generation, expires_at FROM leases")
        return {int(r[0], 16): Lease(int(r[0], 16), r[1], int(r[2]), float(r[3])) for r in rows}

    def renew_leases(self, holder: str, dpids: Iterable[int], expires_at: float) -> None:
        self.db.executemany("UPDATE leases SET expires_at = ? WHERE datapath_id = ? AND holder = ?",
                            [(expires_at, f"{d:016x}", holder) for d in dpids])

    def release_leases(self, holder: str, dpids: Iterable[int], now: float) -> None:
        """Free at once for another instance (the generation stays: the next holder's is higher)."""
        self.db.executemany("UPDATE leases SET holder = NULL, expires_at = ? WHERE datapath_id = ? AND holder = ?",
                            [(now, f"{d:016x}", holder) for d in dpids])

    def take_lease(self, holder: str, dpid: int, now: float, expires_at: float) -> int | None:
        """The switch's lease for `holder` if it is free or expired, with a new generation; None if not."""
        key = f"{dpid:016x}"
        self.db.execute("INSERT INTO leases (datapath_id, holder, generation, expires_at) "
                        "SELECT ?, NULL, 0, ? WHERE NOT EXISTS (SELECT 1 FROM leases WHERE datapath_id = ?)",
                        (key, now, key))
        # The generation goes up by one, and is at least the database's time in milliseconds: a switch
        # remembers the highest it was told (OVS: for as long as the bridge exists), which a store made
        # anew (or restored) would otherwise start below, every role request refused as stale.
        floor = int(now * 1000)
        self.db.execute("UPDATE leases SET holder = ?, expires_at = ?, "
                        "generation = CASE WHEN generation + 1 > ? THEN generation + 1 ELSE ? END "
                        "WHERE datapath_id = ? AND expires_at <= ?", (holder, expires_at, floor, floor, key, now))
        r = self.db.execute("SELECT holder, generation FROM leases WHERE datapath_id = ?", (key,)).fetchone()
        return int(r[1]) if r is not None and r[0] == holder else None

    # networks
    def network(self, network_id: str) -> Network | None:
        r = self.db.execute(f"SELECT {_NET_COLS} FROM networks n WHERE n.id = ?", (network_id,)).fetchone()
        return None if r is None else _network(r)

    def networks(self, tenant_id: str | None = None, ids: Iterable[str] | None = None) -> list[Network]:
        conds: list[str] = []
        args: list[object] = []
        if tenant_id is not None:
            conds.append("n.tenant_id = ?")
            args.append(tenant_id)
        if ids is not None:
            _in("n.id", ids, conds, args)
        q = f"SELECT {_NET_COLS} FROM networks n{_where(conds)} ORDER BY n.created_at, n.id"
        return [_network(r) for r in self.db.execute(q, args)]

    def count_networks(self, tenant_id: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM networks WHERE tenant_id = ?", (tenant_id,)).fetchone()[0])

    def insert_network(self, n: Network) -> None:
        self.db.execute(
            "INSERT INTO networks (id, tenant_id, name, address_prefix, segment_type, segment_id, admin_state_up, "
            "port_security, description, created_at, updated_at, revision, nat) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (n.id, n.tenant_id, n.name, n.address_prefix, n.segment_type, n.segment_id, int(n.admin_state_up),
             int(n.port_security), n.description, n.created_at, n.updated_at, n.revision, int(n.nat)),
        )

    def update_network(self, n: Network) -> None:
        """Write what may change of a network: its address range, names and states, time and revision."""
        self.db.execute(
            "UPDATE networks SET address_prefix = ?, name = ?, admin_state_up = ?, port_security = ?, "
            "description = ?, updated_at = ?, revision = ? WHERE id = ?",
            (n.address_prefix, n.name, int(n.admin_state_up), int(n.port_security), n.description, n.updated_at,
             n.revision, n.id),
        )

    def delete_network(self, network_id: str) -> None:
        self.db.execute("DELETE FROM networks WHERE id = ?", (network_id,))

    def segment_taken(self, segment_type: str, segment_id: int) -> bool:
        r = self.db.execute(
            "SELECT 1 FROM networks WHERE segment_type = ? AND segment_id = ?", (segment_type, segment_id)
        ).fetchone()
        return r is not None

    def free_segment(self, segment_type: str, low: int, high: int) -> int | None:
        """A segment id in [low, high] no network holds: the one after the highest held while the pool
        has one (a single lookup in the unique index: scanning every held id for the lowest free one
        made creating N networks cost N^2/2 rows), then the lowest free one."""
        (top,) = self.db.execute(
            "SELECT MAX(segment_id) FROM networks WHERE segment_type = ? AND segment_id BETWEEN ? AND ?",
            (segment_type, low, high),
        ).fetchone()
        if top is None:
            return low
        if top < high:
            return int(top) + 1
        used = self.db.execute(
            "SELECT segment_id FROM networks WHERE segment_type = ? AND segment_id BETWEEN ? AND ? "
            "ORDER BY segment_id",
            (segment_type, low, high),
        )
        candidate = low
        for (sid,) in used:
            if sid > candidate:
                break
            candidate = sid + 1
        return candidate if candidate <= high else None

    # subnets
    def subnet(self, subnet_id: str) -> Subnet | None:
        r = self.db.execute(
            f"SELECT {_SUBNET_COLS} FROM subnets s JOIN networks n ON n.id = s.network_id WHERE s.id = ?",
            (subnet_id,),
        ).fetchone()
        return None if r is None else _subnet(r)

    def subnet_of(self, network_id: str) -> Subnet | None:
        r = self.db.execute(
            f"SELECT {_SUBNET_COLS} FROM subnets s JOIN networks n ON n.id = s.network_id WHERE s.network_id = ?",
            (network_id,),
        ).fetchone()
        return None if r is None else _subnet(r)

    def subnets(self, tenant_id: str | None = None, network_ids: Iterable[str] | None = None) -> list[Subnet]:
        conds: list[str] = []
        args: list[object] = []
        if tenant_id is not None:
            conds.append("s.tenant_id = ?")
            args.append(tenant_id)
        if network_ids is not None:
            _in("s.network_id", network_ids, conds, args)
        q = (
            f"SELECT {_SUBNET_COLS} FROM subnets s JOIN networks n ON n.id = s.network_id{_where(conds)} "
            "ORDER BY s.created_at, s.id"
        )
        return [_subnet(r) for r in self.db.execute(q, args)]

    def count_subnets(self, tenant_id: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM subnets WHERE tenant_id = ?", (tenant_id,)).fetchone()[0])

    def insert_subnet(self, s: Subnet) -> None:
        self.db.execute(
            "INSERT INTO subnets (id, network_id, tenant_id, name, created_at) VALUES (?, ?, ?, ?, ?)",
            (s.id, s.network_id, s.tenant_id, s.name, s.created_at),
        )
        self.update_subnet(s)

    def update_subnet(self, s: Subnet) -> None:
        """Write a subnet's attributes (its range is its network's address_prefix)."""
        self.db.execute(
            "UPDATE subnets SET name = ?, gateway_ip = ?, has_gateway = ?, allocation_pools = ?, enable_dhcp = ?, "
            "dns_nameservers = ?, host_routes = ?, description = ?, updated_at = ?, revision = ? WHERE id = ?",
            (s.name, s.gateway_ip, int(s.gateway_ip is not None), json.dumps([list(p) for p in s.allocation_pools]),
             int(s.enable_dhcp), json.dumps(list(s.dns_nameservers)), json.dumps([list(r) for r in s.host_routes]),
             s.description, s.updated_at, s.revision, s.id),
        )

    def delete_subnet(self, subnet_id: str) -> None:
        self.db.execute("DELETE FROM subnets WHERE id = ?", (subnet_id,))

    # ports
    def port(self, port_id: str) -> Port | None:
        r = self.db.execute(f"SELECT {_PORT_COLS} FROM {_PORTS_FROM} WHERE p.id = ?", (port_id,)).fetchone()
        return None if r is None else _port(r)

    def ports(
        self,
        tenant_id: str | None = None,
        network_id: str | None = None,
        ids: Iterable[str] | None = None,
        device_ids: Iterable[str] | None = None,
        network_ids: Iterable[str] | None = None,
    ) -> list[Port]:
        """Ports, all or narrowed (each argument given narrows: by project, network, ids, devices)."""
        conds: list[str] = []
        args: list[object] = []
        if tenant_id is not None:
            conds.append("p.tenant_id = ?")
            args.append(tenant_id)
        if network_id is not None:
            conds.append("p.network_id = ?")
            args.append(network_id)
        for col, values in (("p.id", ids), ("p.device_id", device_ids), ("p.network_id", network_ids)):
            if values is not None:
                _in(col, values, conds, args)
        q = f"SELECT {_PORT_COLS} FROM {_PORTS_FROM}{_where(conds)} ORDER BY p.created_at, p.id"
        return [_port(r) for r in self.db.execute(q, args)]

    def count_ports(self, tenant_id: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM ports WHERE tenant_id = ?", (tenant_id,)).fetchone()[0])

    def used_addresses(self, network_id: str) -> set[str]:
        rows = self.db.execute(
            "SELECT ip_address FROM ports WHERE network_id = ? AND ip_address IS NOT NULL", (network_id,)
        )
        return {r[0] for r in rows}

    def address_holder(self, network_id: str, ip_address: str) -> str | None:
        r = self.db.execute(
            "SELECT id FROM ports WHERE network_id = ? AND ip_address = ?", (network_id, ip_address)
        ).fetchone()
        return None if r is None else str(r[0])

    def insert_port(self, p: Port) -> None:
        self.db.execute(
            "INSERT INTO ports (id, tenant_id, network_id, name, ip_address, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (p.id, p.tenant_id, p.network_id, p.name, p.ip_address, p.created_at),
        )
        self.update_port(p)

    def update_port(self, p: Port) -> None:
        """Write what may change of a port (not its VNIC: see set_attachment, set_vnic_mac)."""
        self.db.execute(
            "UPDATE ports SET name = ?, ip_address = ?, admin_state_up = ?, device_id = ?, device_owner = ?, "
            "port_security = ?, address_pairs = ?, host = ?, vnic_type = ?, profile = ?, description = ?, "
            "updated_at = ?, revision = ? WHERE id = ?",
            (p.name, p.ip_address, int(p.admin_state_up), p.device_id, p.device_owner, int(p.port_security),
             _pairs_json(p.address_pairs), p.host, p.vnic_type, p.profile, p.description, p.updated_at, p.revision,
             p.id),
        )

    def delete_port(self, port_id: str) -> None:
        self.db.execute("DELETE FROM ports WHERE id = ?", (port_id,))

    def network_has_attachment(self, network_id: str) -> bool:
        r = self.db.execute(
            "SELECT 1 FROM ports p JOIN vnics v ON v.port_id = p.id WHERE p.network_id = ? LIMIT 1",
            (network_id,),
        ).fetchone()
        return r is not None

    def told_nova(self, port_ids: Iterable[str]) -> dict[str, str | None]:
        """The status each port's Nova server was last told of (None: never)."""
        conds: list[str] = []
        args: list[object] = []
        _in("id", port_ids, conds, args)
        return {str(r[0]): r[1] for r in self.db.execute(f"SELECT id, told_nova FROM ports{_where(conds)}", args)}

    def set_told_nova(self, told: dict[str, str]) -> None:
        for port_id, status in told.items():
            self.db.execute("UPDATE ports SET told_nova = ? WHERE id = ?", (status, port_id))

    # quotas and security groups
    def quota_limits(self, project_id: str) -> dict[str, int]:
        rows = self.db.execute("SELECT resource, hard_limit FROM quotas WHERE project_id = ?", (project_id,))
        return {str(r[0]): int(r[1]) for r in rows}

    def quota_projects(self) -> list[str]:
        return [str(r[0]) for r in self.db.execute("SELECT DISTINCT project_id FROM quotas ORDER BY project_id")]

    def set_quota(self, project_id: str, resource: str, limit: int) -> None:
        self.db.execute("DELETE FROM quotas WHERE project_id = ? AND resource = ?", (project_id, resource))
        self.db.execute("INSERT INTO quotas VALUES (?, ?, ?)", (project_id, resource, limit))

    def delete_quotas(self, project_id: str) -> None:
        self.db.execute("DELETE FROM quotas WHERE project_id = ?", (project_id,))

    def security_groups(self, tenant_id: str | None = None) -> list[tuple[str, str, float]]:
        """(id, project, created_at) of the projects' default security groups."""
        where, args = _tenant_clause(tenant_id, "tenant_id")
        rows = self.db.execute(f"SELECT id, tenant_id, created_at FROM security_groups{where} ORDER BY created_at, id",
                               args)
        return [(str(r[0]), str(r[1]), float(r[2])) for r in rows]

    def insert_security_group(self, group_id: str, tenant_id: str, created_at: float) -> None:
        self.db.execute("INSERT INTO security_groups VALUES (?, ?, ?)", (group_id, tenant_id, created_at))

    # vnics
    def vnic(self, vnic_id: str) -> Vnic | None:
        r = self.db.execute(
            f"SELECT {_VNIC_COLS} FROM vnics v LEFT JOIN bindings b ON b.vnic_id = v.id WHERE v.id = ?",
            (vnic_id,),
        ).fetchone()
        return None if r is None else _vnic(r)

    def vnics(self, tenant_id: str | None = None) -> list[Vnic]:
        where, args = _tenant_clause(tenant_id, "v.tenant_id")
        q = (
            f"SELECT {_VNIC_COLS} FROM vnics v LEFT JOIN bindings b ON b.vnic_id = v.id{where} "
            "ORDER BY v.created_at, v.id"
        )
        return [_vnic(r) for r in self.db.execute(q, args)]

    def mac_in_use(self, mac: str, tenant_id: str | None = None) -> bool:
        if tenant_id is None:
            r = self.db.execute("SELECT 1 FROM vnics WHERE mac_address = ? LIMIT 1", (mac,)).fetchone()
        else:
            r = self.db.execute(
                "SELECT 1 FROM vnics WHERE mac_address = ? AND tenant_id = ? LIMIT 1", (mac, tenant_id)
            ).fetchone()
        return r is not None

    def mac_in_network(self, mac: str, network_id: str) -> str | None:
        r = self.db.execute(
            "SELECT v.id FROM vnics v JOIN ports p ON v.port_id = p.id WHERE v.mac_address = ? AND p.network_id = ?",
            (mac, network_id),
        ).fetchone()
        return None if r is None else str(r[0])

    def insert_vnic(self, v: Vnic) -> None:
        self.db.execute(
            "INSERT INTO vnics (id, tenant_id, name, mac_address, port_id, created_at) VALUES (?, ?, ?, ?, NULL, ?)",
            (v.id, v.tenant_id, v.name, v.mac_address, time.time()),
        )

    def insert_plugged(self, made: list[tuple[Port, Vnic]]) -> None:
        """New ports, each with a new VNIC plugged into it and bound where it has a binding."""
        now = time.time()
        # Distinct creation times keep the listing in the order the caller gave.
        self.db.executemany(
            "INSERT INTO ports (id, tenant_id, network_id, name, ip_address, created_at, port_security, revision) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(p.id, p.tenant_id, p.network_id, p.name, p.ip_address, now + i * 1e-6, int(p.port_security), p.revision)
             for i, (p, _) in enumerate(made)],
        )
        self.db.executemany(
            "INSERT INTO vnics (id, tenant_id, name, mac_address, port_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(v.id, v.tenant_id, v.name, v.mac_address, v.port_id, now + i * 1e-6) for i, (_, v) in enumerate(made)],
        )
        self.db.executemany(
            "INSERT INTO bindings (vnic_id, datapath_id, port_no, port_name, source, bound_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(v.id, f"{v.binding.datapath_id:016x}", v.binding.port_no, v.binding.port_name, v.binding.source,
              now + i * 1e-6) for i, (_, v) in enumerate(made) if v.binding is not None],
        )

    def delete_vnic(self, vnic_id: str) -> None:
        self.db.execute("DELETE FROM vnics WHERE id = ?", (vnic_id,))

    def set_vnic_mac(self, vnic_id: str, mac: str) -> None:
        self.db.execute("UPDATE vnics SET mac_address = ? WHERE id = ?", (mac, vnic_id))

    def set_attachment(self, vnic_id: str, port_id: str | None) -> None:
        self.db.execute("UPDATE vnics SET port_id = ? WHERE id = ?", (port_id, vnic_id))

    # bindings
    def binding_holder(self, dpid: int, port_no: int | None, port_name: str | None) -> str | None:
        """The VNIC bound to that switch port, by number or by name."""
        where, args = _port_is(port_no, port_name)
        r = self.db.execute(
            f"SELECT vnic_id FROM bindings b WHERE b.datapath_id = ? AND {where}", (f"{dpid:016x}", *args)
        ).fetchone()
        return None if r is None else str(r[0])

    def set_binding(self, vnic_id: str, b: Binding) -> None:
        self.db.execute("DELETE FROM bindings WHERE vnic_id = ?", (vnic_id,))
        self.db.execute(
            "INSERT INTO bindings (vnic_id, datapath_id, port_no, port_name, source, bound_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (vnic_id, f"{b.datapath_id:016x}", b.port_no, b.port_name, b.source, time.time()),
        )

    def delete_binding(self, vnic_id: str) -> None:
        self.db.execute("DELETE FROM bindings WHERE vnic_id = ?", (vnic_id,))

    def switch_bindings(self, dpid: int) -> dict[str, str]:
        """Interface name -> VNIC id of the bindings a switch made itself on its interfaces."""
        rows = self.db.execute(
            "SELECT port_name, vnic_id FROM bindings WHERE datapath_id = ? AND source = 'switch' "
            "AND port_name IS NOT NULL",
            (f"{dpid:016x}",),
        )
        return {str(r[0]): str(r[1]) for r in rows}

    # what the data plane needs
    def attached_vnics(
        self, segment_type: str, segment_ids: Iterable[int] | None = None
    ) -> list[tuple[int, Port, Vnic]]:
        """(segment id, port, vnic) of every plugged and bound VNIC, for some segments or all; a port or a
        network whose admin state is down carries no traffic, so it has none here."""
        q = (
            f"SELECT n.segment_id, {_PORT_COLS}, {_VNIC_COLS} FROM networks n "
            "JOIN ports p ON p.network_id = n.id JOIN vnics v ON v.port_id = p.id "
            "JOIN bindings b ON b.vnic_id = v.id WHERE n.segment_type = ? "
            "AND n.admin_state_up = 1 AND p.admin_state_up = 1"
        )
        args: list[object] = [segment_type]
        if segment_ids is not None:
            ids = sorted(set(segment_ids))
            q += f" AND n.segment_id IN ({', '.join('?' * len(ids))})"
            args.extend(ids)
        out = []
        for r in self.db.execute(q, args):
            out.append((int(r[0]), _port(r[1:1 + _PORT_NCOLS]), _vnic(r[1 + _PORT_NCOLS:])))
        return out

    def attached_on(
        self, segment_type: str, dpid: int, port_no: int | None = None, port_name: str | None = None
    ) -> list[tuple[int, str]]:
        """(segment id, port id) of plugged VNICs bound to a switch, or, given a number or a name, to
        that port. Through the bindings' unique indexes: a port-status event must not cost a scan of
        every attachment."""
        q = (
            "SELECT n.segment_id, p.id FROM bindings b JOIN vnics v ON v.id = b.vnic_id "
            "JOIN ports p ON p.id = v.port_id JOIN networks n ON n.id = p.network_id "
            "WHERE n.segment_type = ? AND b.datapath_id = ?"
        )
        args: list[object] = [segment_type, f"{dpid:016x}"]
        if port_no is not None or port_name is not None:
            where, more = _port_is(port_no, port_name)
            q += f" AND {where}"
            args += more
        return [(int(r[0]), str(r[1])) for r in self.db.execute(q, args)]

    def bindings_naming(self, ports: dict[int, tuple[set[int], set[str]]]) -> list[tuple[str, Binding]]:
        """Bindings to any of these switch ports (per switch: numbers, names), oldest first.

        One lookup by number and one by name, each on its unique index: a single query with
        `port_no IN (..) OR port_name IN (..)` made SQLite scan every binding of the switch."""
        found: dict[tuple[float, str], tuple[str, Binding]] = {}
        for dpid, (nos, names) in ports.items():
            for col, values in (("port_no", sorted(nos)), ("port_name", sorted(names))):
                if not values:
                    continue
                rows = self.db.execute(
                    "SELECT bound_at, vnic_id, datapath_id, port_no, port_name, source FROM bindings "
                    f"WHERE datapath_id = ? AND {col} IN ({', '.join('?' * len(values))})",
                    [f"{dpid:016x}", *values],
                )
                for r in rows:
                    found[(float(r[0]), str(r[1]))] = (str(r[1]), Binding(int(r[2], 16), r[3], r[4], r[5]))
        return [found[key] for key in sorted(found)]

    def bindings_on(self, dpids: Iterable[int]) -> list[tuple[str, Binding]]:
        """Every binding on these switches, oldest first."""
        keys = sorted({f"{d:016x}" for d in dpids})
        if not keys:
            return []
        rows = self.db.execute(
            "SELECT vnic_id, datapath_id, port_no, port_name, source FROM bindings "
            f"WHERE datapath_id IN ({', '.join('?' * len(keys))}) ORDER BY bound_at, vnic_id",
            keys,
        )
        return [(str(r[0]), Binding(int(r[1], 16), r[2], r[3], r[4])) for r in rows]

    def segments(self, segment_type: str) -> list[int]:
        rows = self.db.execute("SELECT segment_id FROM networks WHERE segment_type = ?", (segment_type,))
        return [int(r[0]) for r in rows]

    # outside addresses (the `nat` extension)
    def external_taken(self) -> set[str]:
        return {str(r[0]) for r in self.db.execute("SELECT address FROM external_addresses")}

    def set_external_address(self, network_id: str, tenant_id: str, address: str) -> None:
        self.db.execute(
            "INSERT INTO external_addresses (address, tenant_id, network_id, created_at) VALUES (?, ?, ?, ?)",
            (address, tenant_id, network_id, time.time()),
        )

    def floating(self, floating_id: str) -> FloatingAddress | None:
        r = self.db.execute(f"SELECT {_FLOATING_COLS} FROM {_FLOATING_FROM} WHERE e.floating_id = ?",
                            (floating_id,)).fetchone()
        return None if r is None else _floating(r)

    def floatings(self, tenant_id: str | None = None) -> list[FloatingAddress]:
        """Floating addresses, all or one project's."""
        where, args = ("", ()) if tenant_id is None else (" AND e.tenant_id = ?", (tenant_id,))
        q = f"SELECT {_FLOATING_COLS} FROM {_FLOATING_FROM} WHERE e.floating_id IS NOT NULL{where} " \
            "ORDER BY e.created_at, e.floating_id"
        return [_floating(r) for r in self.db.execute(q, args)]

    def floating_of_port(self, port_id: str) -> str | None:
        r = self.db.execute("SELECT floating_id FROM external_addresses WHERE port_id = ?", (port_id,)).fetchone()
        return None if r is None else str(r[0])

    def insert_floating(self, f: FloatingAddress) -> None:
        self.db.execute(
            "INSERT INTO external_addresses (address, tenant_id, floating_id, port_id, description, created_at, "
            "updated_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (f.address, f.tenant_id, f.id, f.port_id, f.description, f.created_at, f.updated_at, f.revision),
        )

    def update_floating(self, f: FloatingAddress) -> None:
        """Write what may change of a floating address: its port, description, time and revision."""
        self.db.execute(
            "UPDATE external_addresses SET port_id = ?, description = ?, updated_at = ?, revision = ? "
            "WHERE floating_id = ?", (f.port_id, f.description, f.updated_at, f.revision, f.id))

    def floatings_behind(self, network_id: str) -> list[str]:
        """The floating addresses associated with ports of a network."""
        rows = self.db.execute("SELECT e.floating_id FROM external_addresses e JOIN ports p ON p.id = e.port_id "
                               "WHERE p.network_id = ? ORDER BY e.floating_id", (network_id,))
        return [str(r[0]) for r in rows]

    # routers (Neutron's, over the `nat` extension)
    def router(self, router_id: str) -> Router | None:
        r = self.db.execute(f"SELECT {_ROUTER_COLS} FROM {_ROUTERS_FROM} WHERE r.id = ?", (router_id,)).fetchone()
        return None if r is None else _router(r)

    def routers(self, tenant_id: str | None = None) -> list[Router]:
        where, args = ("", ()) if tenant_id is None else (" WHERE r.tenant_id = ?", (tenant_id,))
        q = f"SELECT {_ROUTER_COLS} FROM {_ROUTERS_FROM}{where} ORDER BY r.created_at, r.id"
        return [_router(r) for r in self.db.execute(q, args)]

    def router_of_network(self, network_id: str) -> str | None:
        """The router with an interface on this network, if one has."""
        r = self.db.execute("SELECT r.id FROM routers r JOIN ports p ON p.id = r.port_id WHERE p.network_id = ?",
                            (network_id,)).fetchone()
        return None if r is None else str(r[0])

    def insert_router(self, r: Router) -> None:
        self.db.execute(
            "INSERT INTO routers (id, tenant_id, name, description, admin_state_up, port_id, created_at, updated_at, "
            "revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (r.id, r.tenant_id, r.name, r.description, int(r.admin_state_up), r.port_id, r.created_at, r.updated_at,
             r.revision),
        )

    def update_router(self, r: Router) -> None:
        """Write a router's own columns (its gateway address: set_router_address)."""
        self.db.execute(
            "UPDATE routers SET name = ?, description = ?, admin_state_up = ?, port_id = ?, updated_at = ?, "
            "revision = ? WHERE id = ?",
            (r.name, r.description, int(r.admin_state_up), r.port_id, r.updated_at, r.revision, r.id),
        )

    def delete_router(self, router_id: str) -> None:
        self.db.execute("DELETE FROM routers WHERE id = ?", (router_id,))  # its address goes with it

    def set_router_address(self, router_id: str, tenant_id: str, address: str | None) -> None:
        """Give the router this outside address as its gateway, or (None) take its gateway away."""
        self.db.execute("DELETE FROM external_addresses WHERE router_id = ?", (router_id,))
        if address is not None:
            self.db.execute(
                "INSERT INTO external_addresses (address, tenant_id, router_id, created_at) VALUES (?, ?, ?, ?)",
                (address, tenant_id, router_id, time.time()),
            )

    def set_router_nat(self, router_id: str, network_id: str | None) -> None:
        """The network the router's address is the source of (None: none)."""
        self.db.execute("UPDATE external_addresses SET network_id = ? WHERE router_id = ?", (network_id, router_id))

    def set_network_nat(self, network_id: str, nat: bool) -> None:
        self.db.execute("UPDATE networks SET nat = ? WHERE id = ?", (int(nat), network_id))

    def delete_floating(self, floating_id: str) -> None:
        self.db.execute("DELETE FROM external_addresses WHERE floating_id = ?", (floating_id,))

    def nat_segments(
        self, segment_type: str, segment_ids: Iterable[int] | None = None
    ) -> dict[int, tuple[str, str, list[tuple[str, str]]]]:
        """Per segment of a NATed network with an address range (some segments or all): its range, its
        external address, and its ports' (address, floating address), by port address."""
        q = ("SELECT n.segment_id, n.address_prefix, e.address FROM networks n "
             "JOIN external_addresses e ON e.network_id = n.id "
             "WHERE n.nat = 1 AND n.address_prefix IS NOT NULL AND n.admin_state_up = 1 AND n.segment_type = ?")
        args: list[object] = [segment_type]
        if segment_ids is not None:
            ids = sorted(set(segment_ids))
            q += f" AND n.segment_id IN ({', '.join('?' * len(ids))})"
            args.extend(ids)
        out: dict[int, tuple[str, str, list[tuple[str, str]]]] = {
            int(r[0]): (str(r[1]), str(r[2]), []) for r in self.db.execute(q, args)}
        rows = self.db.execute(
            "SELECT n.segment_id, p.ip_address, e.address FROM external_addresses e "
            "JOIN ports p ON p.id = e.port_id JOIN networks n ON n.id = p.network_id "
            "WHERE n.segment_type = ? AND p.ip_address IS NOT NULL ORDER BY p.ip_address", (segment_type,))
        for seg, fixed, fa in rows:
            if int(seg) in out:
                out[int(seg)][2].append((str(fixed), str(fa)))
        return out

    # the topology as last seen
    def remembered_switches(self) -> dict[int, list[SwitchPort]]:
        out: dict[int, list[SwitchPort]] = {}
        rows = self.db.execute("SELECT datapath_id, port_no, name, up FROM switch_ports ORDER BY datapath_id, port_no")
        for dpid, port_no, name, up in rows:
            out.setdefault(int(dpid, 16), []).append(SwitchPort(int(port_no), str(name), bool(up)))
        return out

    def remembered_links(self) -> list[Link]:
        rows = self.db.execute("SELECT a_datapath_id, a_port_no, b_datapath_id, b_port_no FROM links")
        return [Link.of(LinkEnd(int(a, 16), int(ap)), LinkEnd(int(b, 16), int(bp))) for a, ap, b, bp in rows]

    def remember_ports(self, dpid: int, ports: Iterable[SwitchPort]) -> None:
        key = f"{dpid:016x}"
        self.db.execute("DELETE FROM switch_ports WHERE datapath_id = ?", (key,))
        self.db.executemany(
            "INSERT INTO switch_ports (datapath_id, port_no, name, up) VALUES (?, ?, ?, ?)",
            [(key, p.port_no, p.name, int(p.up)) for p in ports],
        )

    def remember_links(self, links: Iterable[Link]) -> None:
        self.db.execute("DELETE FROM links")
        self.db.executemany(
            "INSERT INTO links (a_datapath_id, a_port_no, b_datapath_id, b_port_no) VALUES (?, ?, ?, ?)",
            [(f"{lk.a.datapath_id:016x}", lk.a.port_no, f"{lk.b.datapath_id:016x}", lk.b.port_no) for lk in links],
        )
