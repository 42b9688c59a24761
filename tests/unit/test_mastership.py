"""Leases of switches between instances (sdnapp/mastership.py): the plan of one tick, the holder's own
deadline on a fake clock, and keepers on one PostgreSQL store: one master per switch, shares spread
over the instances, a dead holder's switch taken over with a higher generation, and a holder cut from
the database stepping down before the database lets another take over."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sdnapp import mastership as ms
from sdnapp.mastership import MARGIN, TTL, LeaseKeeper, Mastership, plan
from sdnapp.model import Lease
from sdnapp.store import Store

from .. import pgtest


def _lease(d: int, holder: str | None, expires_at: float, generation: int = 1) -> Lease:
    return Lease(d, holder, generation, expires_at)


def test_an_instance_takes_free_and_expired_switches_up_to_its_share() -> None:
    leases = {1: _lease(1, "b", 50.0), 2: _lease(2, "b", 200.0), 3: _lease(3, None, 0.0)}
    p = plan("a", 100.0, 2, leases, {1, 2, 3, 4})  # 4 switches, 2 instances: 2 each
    assert p.renew == set() and p.release == set()
    assert p.take == {1, 3}  # 1 expired, 3 free; 2 is b's; 4 would be a third


def test_an_instance_renews_its_share_and_gives_back_the_rest() -> None:
    leases = {d: _lease(d, "a", 200.0) for d in (1, 2, 3, 4)}
    p = plan("a", 100.0, 2, leases, {1, 2, 3})  # a second instance came: a keeps 2; 4 is not connected here
    assert p.renew == {1, 2} and p.release == {3, 4} and p.take == set()
    alone = plan("a", 100.0, 1, leases, {1, 2, 3, 4})
    assert alone.renew == {1, 2, 3, 4} and not alone.release and not alone.take


def test_a_lease_held_by_another_is_never_taken_before_it_expires() -> None:
    leases = {1: _lease(1, "b", 100.5)}
    assert plan("a", 100.0, 1, leases, {1}).take == set()
    assert plan("a", 100.5, 1, leases, {1}).take == {1}


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_the_holder_believes_its_lease_only_until_ttl_less_margin_after_asking() -> None:
    clock = FakeClock()
    m = Mastership(clock)
    assert m.granted(7, 3, asked_at=clock.t) is True
    assert m.granted(7, 3, asked_at=clock.t) is False  # a renewal, not a takeover
    clock.t += TTL - MARGIN - 0.01
    assert m.is_master(7) and m.expired() == set()
    clock.t += 0.02
    assert not m.is_master(7)  # before the database's TTL: nobody else could take it yet
    assert m.expired() == {7} and m.held() == set()


class FakeSwitches:
    """Switch connections that record the roles told (OVS: a stale generation is refused)."""

    def __init__(self) -> None:
        self.told: list[tuple[int, bool, int]] = []
        self.election: dict[int, int] = {}

    def connection(self, dpid: int) -> object | None:
        return "conn"

    def role(self, dpid: int, master: bool, generation: int) -> bool:
        if generation < self.election.get(dpid, -1):
            return False
        self.election[dpid] = generation
        self.told.append((dpid, master, generation))
        return True


@pytest.fixture
def url(pg_database: str, request: pytest.FixtureRequest) -> str:
    return pgtest.fresh_schema(pg_database, "s_" + request.node.name[:40])


@pytest.fixture
def stores(url: str) -> Iterator[list[Store]]:
    made = [Store(url) for _ in range(3)]
    yield made
    for s in made:
        s.close()


def _keepers(stores: list[Store], switches: set[int], clock: FakeClock) -> tuple[list[LeaseKeeper], list[int]]:
    took: list[int] = []
    keepers = [LeaseKeeper(s, FakeSwitches(), lambda: switches, took.append, Mastership(clock)) for s in stores]
    return keepers, took


def test_three_instances_share_six_switches_one_master_each(stores: list[Store]) -> None:
    clock = FakeClock()
    keepers, _ = _keepers(stores, {1, 2, 3, 4, 5, 6}, clock)
    for _ in range(3):  # the first to tick sees itself alone; shares settle as the others appear
        for k in keepers:
            k.tick()
    held = [k.mastership.held() for k in keepers]
    assert sorted(len(h) for h in held) == [2, 2, 2]
    assert set().union(*held) == {1, 2, 3, 4, 5, 6}


def test_a_dead_holders_switch_is_taken_over_with_a_higher_generation(
    stores: list[Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ms, "TTL", 0.5)  # by the database's clock: the test waits it out
    monkeypatch.setattr(ms, "MARGIN", 0.1)
    clock = FakeClock()
    a, b, _ = _keepers(stores, {9}, clock)[0]
    a.tick()
    b.tick()
    assert a.mastership.held() == {9} and b.mastership.held() == set()
    first = a.mastership.generation(9)
    assert first is not None
    # a dies (ticks no more); b takes the switch once the lease has expired by the database's clock
    time.sleep(0.6)
    b.tick()
    assert b.mastership.held() == {9}
    second = b.mastership.generation(9)
    assert second is not None and second > first
    assert (9, True, second) in b.switches.told  # type: ignore[attr-defined]


def test_a_holder_cut_from_the_database_steps_down_before_another_takes_over(url: str) -> None:
    proxy = pgtest.CuttableProxy(url)
    cut, other = Store(proxy.url), Store(url)
    try:
        took: list[int] = []
        a, b = (LeaseKeeper(s, FakeSwitches(), lambda: {5}, took.append) for s in (cut, other))  # real clocks
        a.tick()
        b.tick()
        assert a.mastership.is_master(5) and not b.mastership.is_master(5)
        proxy.cut()  # a can renew no more; it knows its deadline without the database
        a_down = b_up = None
        start = time.monotonic()
        while b_up is None and time.monotonic() - start < 15:
            if a_down is None and not a.mastership.is_master(5):
                a_down = time.monotonic()
            b.tick()
            if b.mastership.is_master(5):
                b_up = time.monotonic()
            time.sleep(0.05)
        assert a_down is not None and b_up is not None, (a_down, b_up)
        assert a_down < b_up  # never two masters
        assert b_up - start < TTL + 2
    finally:
        cut.close()
        other.close()
        proxy.close()
