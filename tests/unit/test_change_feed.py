"""The change feed between instances sharing a PostgreSQL store: another instance's write is heard at
once (NOTIFY), one's own is not, a lost notification is found by the poll, and changes made while the
database was out of reach are heard when it is back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from sdnapp.changefeed import ChangeFeed
from sdnapp.model import Caller
from sdnapp.service import NetworkService, SegmentPool
from sdnapp.status import StatusBook
from sdnapp.store import Store
from topology.switches import Topology

from .. import pgtest

TENANT = Caller("tenant-a")


class Heard:
    def __init__(self) -> None:
        self.count = 0
        self._cond = threading.Condition()

    def __call__(self) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def wait_for(self, n: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.count >= n, timeout)


@pytest.fixture
def url(pg_database: str, request: pytest.FixtureRequest) -> str:
    return pgtest.fresh_schema(pg_database, "s_" + request.node.name[:40])


def _service(store: Store) -> NetworkService:
    return NetworkService(store, SegmentPool("vlan", 100, 3999), Topology(), StatusBook())


@pytest.fixture
def stores(url: str) -> Iterator[tuple[Store, Store]]:
    a, b = Store(url), Store(url)
    yield a, b
    a.close()
    b.close()


def _feed(store: Store, heard: Heard, poll: float) -> ChangeFeed:
    source = store.change_feed()
    assert source is not None
    feed = ChangeFeed(source, heard, poll=poll)
    feed.start()
    time.sleep(0.3)  # listening
    return feed


def test_another_instances_write_is_heard_at_once_and_ones_own_is_not(stores: tuple[Store, Store]) -> None:
    a, b = stores
    heard = Heard()
    feed = _feed(a, heard, poll=60)  # only a notification can be heard in time
    try:
        _service(a).create_network(TENANT, "mine")
        assert not heard.wait_for(1, 1.0)
        t0 = time.monotonic()
        _service(b).create_network(TENANT, "theirs")
        assert heard.wait_for(1, 2.0)
        assert time.monotonic() - t0 < 1.0
        with a.read() as tx:
            assert {n.name for n in tx.networks()} == {"mine", "theirs"}
    finally:
        feed.stop()


def test_a_lost_notification_only_delays_a_change(stores: tuple[Store, Store], url: str) -> None:
    a, _ = stores
    heard = Heard()
    feed = _feed(a, heard, poll=0.5)
    try:
        with psycopg.connect(url, autocommit=True) as conn:  # a change written without its NOTIFY
            conn.execute("INSERT INTO changes (seq, writer, at) "
                         "SELECT COALESCE(MAX(seq), 0) + 1, 'other', 0 FROM changes")
        assert heard.wait_for(1, 3.0)
    finally:
        feed.stop()


def test_changes_made_while_the_database_was_out_of_reach_are_heard_when_it_is_back(url: str) -> None:
    proxy = pgtest.CuttableProxy(url)
    a, b = Store(proxy.url), Store(url)
    heard = Heard()
    feed = _feed(a, heard, poll=0.5)
    try:
        proxy.cut()
        time.sleep(1.0)
        _service(b).create_network(TENANT, "meanwhile")
        assert not heard.wait_for(1, 1.0)
        proxy.mend()
        assert heard.wait_for(1, 10.0)
    finally:
        feed.stop()
        a.close()
        b.close()
        proxy.close()


def test_a_sqlite_store_has_no_feed(tmp_path: object) -> None:
    store = Store(f"sqlite:///{tmp_path}/s.db")
    assert store.change_feed() is None
    store.close()
