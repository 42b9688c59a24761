"""Nova's notifier: which events, batched off the API's path, retried with backoff, logged when dropped;
and the real keystoneauth1 session against a small fake Nova on loopback."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sdnapp.config import NovaConfig
from sdnapp.core import SegmentPool
from sdnapp.model import Caller
from sdnapp.nova import Event, NovaNotifier, is_compute_port
from sdnapp.service import NetworkService
from sdnapp.specs import PortSpec, SubnetSpec
from sdnapp.status import ACTIVE, DOWN, ERROR, StatusBook
from sdnapp.store import Store
from testbeds.fake_nova import FakeNova
from topology.switches import Topology

ME = Caller("tenant-a")
URL = "http://127.0.0.1:1/v2.1"


class Recorder:
    """Stands in for the HTTP post: records each request's events; fails the first `fail` with `error`."""

    def __init__(self, fail: int = 0, error: Exception | None = None, status: int = 200) -> None:
        self.calls: list[tuple[float, list[Event]]] = []
        self.fail = fail
        self.error = error or ConnectionError("refused")
        self.status = status
        self.done = threading.Event()

    def __call__(self, events: list[Event]) -> tuple[int, Any]:
        self.calls.append((time.monotonic(), events))
        if len(self.calls) <= self.fail:
            raise self.error
        self.done.set()
        return self.status, {"events": [{**e, "code": 200} for e in events]}

    @property
    def events(self) -> list[Event]:
        return [e for _, batch in self.calls[self.fail:] for e in batch]


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[NetworkService]:
    store = Store(str(tmp_path / "n.db"))
    yield NetworkService(store, SegmentPool("vlan", 100, 3999), Topology(), StatusBook())
    store.close()


def _ports(svc: NetworkService, n: int, owner: str = "compute:nova") -> list[Any]:
    net = svc.create_network(ME, "net")
    svc.create_subnets(ME, [SubnetSpec(net.id, "10.0.0.0/24")])
    return svc.create_ports(ME, [PortSpec(net.id, device_id=str(uuid.uuid4()), device_owner=owner)
                                 for _ in range(n)])


def _notifier(svc: NetworkService, post: Recorder, **cfg: Any) -> NovaNotifier:
    n = NovaNotifier(NovaConfig(url=URL, token="t", **{"batch_interval": 0.3, **cfg}), svc.store, post)
    svc.status.watch(n.status_changed)
    svc._on_port_deleted = n.port_deleted
    n.start()
    return n


def _wait(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_only_compute_ports_with_a_server_id_are_novas() -> None:
    from sdnapp.model import Port

    def p(owner: str, device: str) -> Port:
        return Port("p", "t", "n", "", None, None, device_id=device, device_owner=owner)

    assert is_compute_port(p("compute:nova", str(uuid.uuid4())))
    assert not is_compute_port(p("compute:nova", "not-a-uuid"))
    assert not is_compute_port(p("network:dhcp", str(uuid.uuid4())))
    assert not is_compute_port(p("", ""))


def test_plugged_unplugged_failed_and_deleted(svc: NetworkService) -> None:
    a, b, c = _ports(svc, 3)
    other = _ports(svc, 1, owner="network:router_interface")[0]
    post = Recorder()
    notifier = _notifier(svc, post)
    try:
        svc.status.touch({a.id, b.id, c.id, other.id})
        gen = svc.status.now()
        for p in (a, b, other):
            svc.status.confirm_on(p.id, gen, 1, frozenset({1}), usable=True, error=False)
        svc.status.confirm_on(c.id, gen, 1, frozenset({1}), usable=True, error=True)
        _wait(lambda: len(post.events) == 3)
        assert sorted((e["name"], e["tag"], e["status"]) for e in post.events) == sorted([
            ("network-vif-plugged", a.id, "completed"), ("network-vif-plugged", b.id, "completed"),
            ("network-vif-plugged", c.id, "failed")])
        assert {e["server_uuid"] for e in post.events} == {a.device_id, b.device_id, c.device_id}
        svc.status.touch({a.id})  # a goes DOWN
        svc.delete_port(ME, b.id)
        _wait(lambda: len(post.events) == 5)
        assert sorted(post.events[3:], key=lambda e: e["name"]) == [
            {"name": "network-vif-deleted", "server_uuid": b.device_id, "tag": b.id},
            {"name": "network-vif-unplugged", "server_uuid": a.device_id, "tag": a.id, "status": "completed"},
        ]
        assert notifier.delivered == 5
    finally:
        notifier.stop()


def test_the_first_event_goes_at_once_later_ones_are_batched_and_blips_send_nothing(svc: NetworkService) -> None:
    ports = _ports(svc, 4)
    post = Recorder()
    notifier = _notifier(svc, post, batch_interval=0.5)
    try:
        def up(p: Any) -> None:
            svc.status.touch({p.id})
            svc.status.confirm_on(p.id, svc.status.now(), 1, frozenset({1}), usable=True, error=False)

        t0 = time.monotonic()
        up(ports[0])
        _wait(lambda: len(post.calls) == 1)
        assert post.calls[0][0] - t0 < 0.3  # at once
        up(ports[1])
        up(ports[2])
        up(ports[0])  # ACTIVE -> DOWN -> ACTIVE within the batch: Nova hears nothing of it
        _wait(lambda: len(post.calls) == 2)
        assert post.calls[1][0] - post.calls[0][0] >= 0.45  # gathered for batch_interval
        assert sorted(e["tag"] for e in post.calls[1][1]) == sorted([ports[1].id, ports[2].id])
        assert all(e["name"] == "network-vif-plugged" for e in post.events)
    finally:
        notifier.stop()


def test_calls_never_wait_for_nova(svc: NetworkService) -> None:
    p = _ports(svc, 1)[0]
    gate = threading.Event()

    def stuck(events: list[Event]) -> tuple[int, Any]:
        gate.wait(5)
        return 200, None

    notifier = NovaNotifier(NovaConfig(url=URL, token="t", batch_interval=0), svc.store, stuck)
    svc.status.watch(notifier.status_changed)
    notifier.start()
    try:
        t0 = time.monotonic()
        for _ in range(50):
            svc.status.touch({p.id})
            svc.status.confirm_on(p.id, svc.status.now(), 1, frozenset({1}), usable=True, error=False)
        assert time.monotonic() - t0 < 0.5  # Nova hangs; the status book does not
    finally:
        gate.set()
        notifier.stop()


def test_a_failed_delivery_is_retried_with_backoff(svc: NetworkService) -> None:
    p = _ports(svc, 1)[0]
    post = Recorder(fail=3)
    notifier = _notifier(svc, post)
    try:
        svc.status.touch({p.id})
        svc.status.confirm_on(p.id, svc.status.now(), 1, frozenset({1}), usable=True, error=False)
        assert post.done.wait(10)
        times = [t for t, _ in post.calls]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert len(times) == 4 and gaps[1] > gaps[0] * 1.5 and gaps[2] > gaps[1] * 1.5  # 0.5, 1, 2 s
        assert post.events == [{"name": "network-vif-plugged", "server_uuid": p.device_id, "tag": p.id,
                                "status": "completed"}]
    finally:
        notifier.stop()


def test_what_cannot_be_delivered_is_logged_and_dropped(svc: NetworkService, caplog: pytest.LogCaptureFixture) -> None:
    p, q = _ports(svc, 2)
    post = Recorder(fail=100)
    notifier = _notifier(svc, post, retry_for=1.0)
    caplog.set_level(logging.WARNING, "sdnapp.nova")
    try:
        svc.status.touch({p.id})
        svc.status.confirm_on(p.id, svc.status.now(), 1, frozenset({1}), usable=True, error=False)
        _wait(lambda: "dropped" in caplog.text)
        assert p.device_id in caplog.text and "ConnectionError" in caplog.text
        refused = Recorder(status=400)
        notifier._post = refused  # a whole request refused (403, 400...): no retry
        svc.status.touch({q.id})
        svc.status.confirm_on(q.id, svc.status.now(), 1, frozenset({1}), usable=True, error=False)
        _wait(lambda: "Nova refused" in caplog.text, timeout=10)
        assert len(refused.calls) == 1
    finally:
        notifier.stop()


def test_the_keystoneauth_session_posts_what_nova_expects(svc: NetworkService) -> None:
    p = _ports(svc, 1)[0]
    nova = FakeNova(token="secret", fail_first=1).start()
    notifier = NovaNotifier(NovaConfig(url=nova.url, token="secret", batch_interval=0.1), svc.store)
    svc.status.watch(notifier.status_changed)
    notifier.start()
    try:
        svc.status.touch({p.id})
        svc.status.confirm_on(p.id, svc.status.now(), 1, frozenset({1}), usable=True, error=False)
        got = nova.wait_for("network-vif-plugged", p.id)
        assert got is not None and got.event == {"name": "network-vif-plugged", "server_uuid": p.device_id,
                                                 "tag": p.id, "status": "completed"}
        assert got.headers["X-Auth-Token"] == "secret" and got.headers["X-OpenStack-Nova-API-Version"] == "2.1"
        assert nova.requests == 2  # the first answered 503, the second after a backoff
    finally:
        notifier.stop()
        nova.stop()


def test_status_transitions_are_told_once_each() -> None:
    book = StatusBook()
    told: list[tuple[str, str, str]] = []
    book.watch(told.extend)
    book.touch({"p"})  # DOWN already: nothing
    gen = book.now()
    book.confirm_on("p", gen, 1, frozenset({1, 2}), usable=True, error=False)  # not all switches yet
    book.confirm_on("p", gen, 2, frozenset({1, 2}), usable=True, error=False)
    book.confirm_on("p", gen, 2, frozenset({1, 2}), usable=True, error=False)  # again: no change
    book.unconfirm({"p"}, 2)  # switch 2 went away
    book.confirm_on("p", gen, 2, frozenset({1, 2}), usable=True, error=False)  # and came back
    book.touch({"p"})
    book.confirm_on("p", book.now(), 1, frozenset({1}), usable=True, error=True)
    book.forget("p")
    assert told == [("p", DOWN, ACTIVE), ("p", ACTIVE, DOWN), ("p", DOWN, ACTIVE), ("p", ACTIVE, DOWN),
                    ("p", DOWN, ERROR)]



def test_nova_hears_only_what_differs_from_what_it_was_told_last_also_after_a_restart(svc: NetworkService) -> None:
    told, new = _ports(svc, 2)
    post = Recorder()
    first = _notifier(svc, post)
    try:
        svc.status.touch({told.id})
        svc.status.confirm_on(told.id, svc.status.now(), 1, frozenset({1}), usable=True, error=False)
        _wait(lambda: len(post.events) == 1)
    finally:
        first.stop()
    # sdnapp restarts: a new status book (every port DOWN), then the switches are read back
    svc.status = StatusBook()
    post2 = Recorder()
    second = _notifier(svc, post2)
    try:
        for p in (told, new):
            svc.status.touch({p.id})
            svc.status.confirm_on(p.id, svc.status.now(), 1, frozenset({1}), usable=True, error=False)
        _wait(lambda: len(post2.events) == 1)
        time.sleep(0.5)
        assert [e["tag"] for e in post2.events] == [new.id]  # the port Nova already knew ACTIVE: nothing
    finally:
        second.stop()
