"""The two database engines under the store: SQLite (embedded, the default) and PostgreSQL (shared by
several sdnapp instances).

Each gives the store the same thing: transactions over a connection whose `execute` takes SQL with
`?` parameters. The engines' differences stay here: parameter style, how a write transaction begins
(SQLite's BEGIN IMMEDIATE takes the one writer's lock; PostgreSQL's is SERIALIZABLE, so two instances'
allocations that would hand out one value twice cannot both commit), and which of their errors mean
"the database is gone" (`StoreUnavailable`) or "another writer got there first, run it again"
(`StoreConflict`).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

LOG = logging.getLogger(__name__)

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
# Long enough for a database on another machine to answer; short enough that an API call on a lost
# database answers 503 in seconds rather than hanging.
CONNECT_TIMEOUT = 5.0
RECONNECT_SPAN = 8.0


class StoreError(Exception):
    """The store cannot be used (not reachable at start, wrong schema version, not a database)."""


class StoreUnavailable(StoreError):
    """The database stopped answering: nothing was written (or what was is unknown and was not acknowledged)."""


class StoreConflict(StoreError):
    """A write conflicted with a concurrent one (another instance's) and was rolled back: run it again."""


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """What the store's queries run on: `?` parameters, whichever the engine."""

    def execute(self, sql: str, args: Sequence[object] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> Any: ...


class ChangeSource(Protocol):
    """The change feed of a shared store, on a connection of its own (sdnapp/changefeed.py drives it)."""

    def open(self) -> None:
        """Connect and listen; StoreUnavailable if the database cannot be reached."""
        ...

    def wait(self, timeout: float) -> bool:
        """Until a change is announced (True) or `timeout` seconds pass (False)."""
        ...

    def since(self, seq: int) -> tuple[int, bool]:
        """The newest change's number, and whether another instance made one after `seq`."""
        ...

    def prune(self, keep: int) -> None:
        """Forget all but the newest `keep` changes."""
        ...

    def close(self) -> None: ...


class Engine(Protocol):
    name: str
    where: str  # for messages: a file, or a database URL without its password

    @contextmanager
    def transaction(self, write: bool) -> Iterator[Conn]:
        """One transaction; a write is made while no other write (of any instance) is, so two
        instances starting together do not both create the tables."""
        ...

    def tables(self, conn: Conn) -> set[str]: ...

    def clock(self, conn: Conn) -> float:
        """The database's time (seconds since 1970): what leases expire by, whichever instance asks."""
        ...

    def record_change(self, conn: Conn, writer: str) -> None:
        """At the end of a write transaction: number it in the change feed, for the other instances."""
        ...

    def change_source(self, writer: str) -> ChangeSource | None:
        """The feed of the other instances' changes (None: no other instance can share the store)."""
        ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...


def engine_for(target: str) -> Engine:
    """`postgresql://...` (or postgres://) is PostgreSQL; `sqlite:///path` or a plain path is SQLite."""
    if target.startswith(("postgresql://", "postgres://")):
        return PostgresEngine(target)
    return SqliteEngine(target.removeprefix("sqlite:///") if target.startswith("sqlite:///") else target)


class SqliteEngine:
    """One connection, serialised by a lock; WAL, synchronous=FULL, foreign keys on."""

    name = SQLITE

    def __init__(self, path: str) -> None:
        self.where = path
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise StoreError(f"store directory {parent} does not exist")
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as e:
            raise StoreError(f"cannot use {path} as the store: {e}") from None

    @contextmanager
    def transaction(self, write: bool) -> Iterator[Conn]:
        # BEGIN IMMEDIATE excludes every other writer of the file.
        with self._lock:
            if not write:
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def tables(self, conn: Conn) -> set[str]:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    def clock(self, conn: Conn) -> float:
        return time.time()  # one instance, one clock

    def record_change(self, conn: Conn, writer: str) -> None:
        pass  # a file is one instance's: nobody else reads the feed

    def change_source(self, writer: str) -> ChangeSource | None:
        return None

    def ping(self) -> bool:
        try:
            with self._lock:
                self._db.execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def close(self) -> None:
        with self._lock:
            self._db.close()


@functools.lru_cache(maxsize=4096)
def _pg_sql(sql: str) -> str:
    """`?` parameters as psycopg's `%s` (a literal % doubled first)."""
    return sql.replace("%", "%%").replace("?", "%s")


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


class _PgConn:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, args: Sequence[object] = ()) -> Cursor:
        cur: Cursor = self._conn.execute(_pg_sql(sql), list(args))
        return cur

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> Any:
        rows = [list(r) for r in rows]
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(_pg_sql(sql), rows)


# The key of the advisory lock every write holds (any constant of ours; "sdna" in ASCII).
_WRITE_LOCK = 0x73646E61
# A session that holds a transaction open this long without a word (its instance cut off or frozen)
# is ended by the server, which frees the write lock for the other instances.
IDLE_IN_TRANSACTION = "10s"


class PostgresEngine:
    """A pool of connections (psycopg_pool), each transaction on one of them.

    Writes take one advisory lock of the database first, so the writes of all instances are made one
    after the other, each reading what the previous committed: an allocation (the next free segment,
    MAC or address) can no more pick what another instance took than it could on SQLite. SERIALIZABLE
    was tried first: twenty concurrent creations conflicted with each other (every one reads the same
    ranges) until retries ran out. The schema's unique constraints stay the backstop; a violation (or a
    deadlock) is a StoreConflict that `Store.retry` runs again. Reads are REPEATABLE READ: one snapshot
    for every query of a read, and they never wait for a write.
    """

    name = POSTGRESQL

    def __init__(self, url: str, max_connections: int = 16) -> None:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
        from psycopg_pool import ConnectionPool

        self.where = redact(url)
        self._psycopg = psycopg
        # Connect once by hand first: the pool only says that it timed out, this says why.
        try:
            psycopg.connect(url, connect_timeout=int(CONNECT_TIMEOUT)).close()
        except psycopg.Error as e:
            raise StoreError(f"cannot connect to the store's PostgreSQL database {self.where}: "
                             f"{str(e).strip()}") from None
        # Added to the URL's own options (a search_path, say), which a keyword would replace.
        given = conninfo_to_dict(url).get("options") or ""
        options = f"{given} -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION}".strip()
        self._pool = ConnectionPool(
            url, min_size=1, max_size=max_connections, open=False, timeout=CONNECT_TIMEOUT,
            kwargs={"autocommit": True, "connect_timeout": int(CONNECT_TIMEOUT), "options": options},
            check=ConnectionPool.check_connection, name="sdnapp-store",
            # The pool backs off between reconnection attempts (1 s, doubling); giving an attempt up after
            # RECONNECT_SPAN lets the next transaction start a new one, so a returning database is found
            # within seconds, not after a backoff grown through a long outage.
            reconnect_timeout=RECONNECT_SPAN,
        )
        self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        self._url, self._options = url, options

    @contextmanager
    def transaction(self, write: bool) -> Iterator[Conn]:
        from psycopg import errors as pgerrors
        from psycopg_pool import PoolTimeout

        begin = "BEGIN ISOLATION LEVEL READ COMMITTED" if write else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        try:
            with self._pool.connection() as conn:
                conn.execute(begin)
                try:
                    if write:
                        # Every write of every instance waits for this lock, and as the transaction is
                        # READ COMMITTED each of its statements then reads every write committed before
                        # it: the writes are in one order, as SQLite's BEGIN IMMEDIATE puts them.
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                    yield _PgConn(conn)
                except BaseException:
                    if not conn.broken:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        except (pgerrors.SerializationFailure, pgerrors.DeadlockDetected, pgerrors.UniqueViolation) as e:
            raise StoreConflict(f"a concurrent write conflicted: {str(e).strip()}") from None
        except (self._psycopg.OperationalError, PoolTimeout) as e:
            raise StoreUnavailable(f"the store's database {self.where} is unavailable: {str(e).strip()}") from None

    def tables(self, conn: Conn) -> set[str]:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
        return {r[0] for r in rows}

    def clock(self, conn: Conn) -> float:
        return float(conn.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())").fetchone()[0])

    def record_change(self, conn: Conn, writer: str) -> None:
        # Numbered under the write lock, so in commit order; the NOTIFY is delivered at commit.
        conn.execute("INSERT INTO changes (seq, writer, at) SELECT COALESCE(MAX(seq), 0) + 1, ?, ? FROM changes",
                     (writer, time.time()))
        conn.execute(f"NOTIFY {CHANNEL}")

    def change_source(self, writer: str) -> ChangeSource | None:
        return _PgChangeSource(self._url, self._options, writer, self.where)

    def ping(self) -> bool:
        try:
            with self.transaction(write=False) as conn:
                conn.execute("SELECT 1").fetchone()
            return True
        except StoreError:
            return False

    def close(self) -> None:
        self._pool.close()


# The channel every instance of every store LISTENs on: one per database (a schema's instances
# ignore what they cannot see in their own `changes`).
CHANNEL = "sdnapp_changes"


class _PgChangeSource:
    def __init__(self, url: str, options: str, writer: str, where: str) -> None:
        self._url, self._options, self._writer, self._where = url, options, writer, where
        self._conn: Any = None

    def _failed(self, e: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"the store's database {self._where} is unavailable: {str(e).strip()}")

    def open(self) -> None:
        import psycopg

        self.close()
        try:
            self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT),
                                         options=self._options)
            self._conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as e:
            raise self._failed(e) from None

    def wait(self, timeout: float) -> bool:
        import psycopg

        try:
            return any(True for _ in self._conn.notifies(timeout=timeout, stop_after=1))
        except psycopg.Error as e:
            raise self._failed(e) from None

    def since(self, seq: int) -> tuple[int, bool]:
        import psycopg

        try:
            top, theirs = self._conn.execute(
                "SELECT MAX(seq), MAX(CASE WHEN writer <> %s THEN seq END) FROM changes WHERE seq > %s",
                (self._writer, seq),
            ).fetchone()
        except psycopg.Error as e:
            raise self._failed(e) from None
        return (seq if top is None else int(top)), theirs is not None

    def prune(self, keep: int) -> None:
        import psycopg

        try:
            self._conn.execute("DELETE FROM changes WHERE seq <= (SELECT MAX(seq) FROM changes) - %s", (keep,))
        except psycopg.Error as e:
            raise self._failed(e) from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
