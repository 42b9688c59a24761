"""Telling Nova what happened to its ports: `network-vif-plugged` when a compute port turns ACTIVE
(`failed` when the switch refused its flows), `network-vif-unplugged` when it goes DOWN after that,
`network-vif-deleted` when it is deleted, sent to Nova's `POST /os-server-external-events` as
Neutron's notifier sends them (neutron/notifiers/nova.py).

Off the API's path: the status book and the service only hand changes over (a dict update under a
lock). One thread sends: the first change after a quiet spell goes at once, later ones are gathered
for `batch_interval` and sent together. What Nova was last told of each port is kept in the store
(`told_nova`), so an event is sent only when a port's status differs from it: a port that went DOWN
and back to ACTIVE within one batch sends nothing, and neither does a restart of sdnapp (every port
is DOWN until its switch is read back, then ACTIVE again, as Nova last heard). A failed delivery (no
connection, a 5xx) is retried with exponential backoff for `retry_for` seconds, then logged with the
events it could not deliver.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from .config import NovaConfig
from .model import Port
from .status import ACTIVE, DOWN, ERROR, Transition
from .store import Store, retried

LOG = logging.getLogger(__name__)

COMPUTE_OWNER_PREFIX = "compute:"
PATH = "/os-server-external-events"
CHUNK = 100  # events per request
FIRST_DELAY, MAX_DELAY = 0.5, 30.0  # backoff between attempts, seconds

Event = dict[str, str]
# Sends one request's events; returns Nova's status and its JSON body (None if it had none).
Post = Callable[[list[Event]], tuple[int, Any]]


def is_compute_port(p: Port) -> bool:
    """A port of a Nova server, as Neutron decides it: owned by `compute:...`, with a UUID device."""
    if not p.device_owner.startswith(COMPUTE_OWNER_PREFIX):
        return False
    try:
        uuid.UUID(p.device_id)
    except ValueError:
        return False
    return True


def event(name: str, p: Port, status: str | None = "completed") -> Event:
    e = {"name": name, "server_uuid": p.device_id, "tag": p.id}
    if status is not None:
        e["status"] = status
    return e


def status_event(p: Port, told: str | None, now: str) -> Event | None:
    """The event for a port now `now` whose server was last told `told` (None: never), if any."""
    if now == ACTIVE and told != ACTIVE:
        return event("network-vif-plugged", p)
    if now == ERROR and told != ERROR:
        return event("network-vif-plugged", p, "failed")
    if now == DOWN and told == ACTIVE:
        return event("network-vif-unplugged", p)
    return None


class NovaNotifier:
    def __init__(self, config: NovaConfig, store: Store, post: Post | None = None) -> None:
        """`post` sends to Nova; by default a keystoneauth1 session made from `config`."""
        self.config = config
        self.store = store
        self._post = post
        self._cond = threading.Condition()
        self._changes: dict[str, str] = {}  # port id -> its status now
        self._deleted: list[Event] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nova-notifier", daemon=True)
        self.delivered = 0  # events Nova accepted (for tests and the log)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)

    # what the rest of sdnapp calls: never waits on Nova ------------------------------------------
    def status_changed(self, changes: list[Transition]) -> None:
        with self._cond:
            for port_id, _, now in changes:
                self._changes[port_id] = now
            self._cond.notify()

    def port_deleted(self, p: Port) -> None:
        if not is_compute_port(p):
            return
        with self._cond:
            self._changes.pop(p.id, None)
            self._deleted.append(event("network-vif-deleted", p, None))
            self._cond.notify()

    # the sending thread -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._changes and not self._deleted and not self._stop.is_set():
                    self._cond.wait()
                changes, deleted = self._changes, self._deleted
                self._changes, self._deleted = {}, []
            try:
                told, events = self._status_events(changes)
                events += deleted
                for i in range(0, len(events), CHUNK):
                    chunk = events[i:i + CHUNK]
                    if self._deliver(chunk):
                        self._remember({e["tag"]: told[e["tag"]] for e in chunk if e["tag"] in told})
            except Exception:
                LOG.exception("notifying Nova failed")
            self._stop.wait(self.config.batch_interval)

    def _status_events(self, changes: dict[str, str]) -> tuple[dict[str, str], list[Event]]:
        """The events for these ports' statuses, and the status each event tells of (by port)."""
        if not changes:
            return {}, []
        with self.store.read() as tx:
            ports = tx.ports(ids=changes)
            told = tx.told_nova(changes)
        out: list[Event] = []
        telling: dict[str, str] = {}
        for p in ports:
            if is_compute_port(p):
                e = status_event(p, told.get(p.id), changes[p.id])
                if e is not None:
                    out.append(e)
                    telling[p.id] = changes[p.id]
        return telling, out

    @retried
    def _remember(self, told: dict[str, str]) -> None:
        if told:
            with self.store.write(announce=False) as tx:
                tx.set_told_nova(told)

    def _deliver(self, events: list[Event]) -> bool:
        """Send, retrying what may succeed later; whether Nova took the request."""
        deadline = time.monotonic() + self.config.retry_for
        delay = FIRST_DELAY
        while True:
            try:
                status, body = self._send(events)
            except Exception as e:  # no connection, no token from Keystone, a timeout
                problem = f"{type(e).__name__}: {e}"
            else:
                if status in (200, 207):
                    self._report(events, status, body)
                    return True
                problem = f"HTTP {status}"
                if status < 500 and status != 429:
                    LOG.error("Nova refused %d event(s) (%s), dropped: %s", len(events), problem, _brief(events))
                    return False
            if self._stop.is_set() or time.monotonic() + delay > deadline:
                LOG.error("could not deliver %d event(s) to Nova (%s), dropped: %s", len(events), problem,
                          _brief(events))
                return False
            LOG.warning("could not deliver %d event(s) to Nova (%s); retrying in %.1f s", len(events), problem, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, MAX_DELAY)

    def _report(self, events: list[Event], status: int, body: Any) -> None:
        answered = body.get("events") if isinstance(body, dict) else None
        if not isinstance(answered, list):
            answered = [{**e, "code": 200} for e in events] if status == 200 else []
        ok = [a for a in answered if isinstance(a, dict) and a.get("code") == 200]
        self.delivered += len(ok)
        LOG.info("Nova took %d of %d event(s): %s", len(ok), len(events), _brief(ok))
        for a in answered:
            if isinstance(a, dict) and a.get("code") != 200:
                LOG.warning("Nova did not take %s for server %s, port %s: code %s", a.get("name"),
                            a.get("server_uuid"), a.get("tag"), a.get("code"))

    def _send(self, events: list[Event]) -> tuple[int, Any]:
        if self._post is None:
            self._post = self._session_post()
        return self._post(events)

    def _session_post(self) -> Post:
        """A keystoneauth1 session: a static token for `url`, or a Keystone password login (the
        endpoint from `url`, or from the catalog), re-authenticating when the token expires."""
        from keystoneauth1 import session as ks_session
        from keystoneauth1.plugin import BaseAuthPlugin

        c = self.config
        auth: BaseAuthPlugin
        if c.token is not None:
            from keystoneauth1 import token_endpoint

            assert c.url is not None  # the configuration requires it with a token
            auth = token_endpoint.Token(c.url, c.token)
        else:
            from keystoneauth1.identity import v3

            assert c.auth_url is not None and c.password is not None  # checked with the configuration
            auth = v3.Password(auth_url=c.auth_url, username=c.username, password=c.password,
                               project_name=c.project_name, user_domain_name=c.user_domain_name,
                               project_domain_name=c.project_domain_name)
        sess = ks_session.Session(auth=auth, timeout=c.timeout)
        where: dict[str, Any] = (
            {"endpoint_override": c.url} if c.url is not None
            else {"endpoint_filter": {"service_type": "compute", "interface": c.interface,
                                      "region_name": c.region_name}}
        )

        def post(events: list[Event]) -> tuple[int, Any]:
            resp = sess.post(PATH, json={"events": events}, raise_exc=False, connect_retries=0,
                             headers={"X-OpenStack-Nova-API-Version": "2.1"}, **where)
            try:
                body = resp.json()
            except ValueError:
                body = None
            return resp.status_code, body

        return post


def _brief(events: list[Any]) -> str:
    shown = ", ".join(f"{e.get('name')} {e.get('server_uuid')}/{e.get('tag')}" for e in events[:10])
    return shown + (f" and {len(events) - 10} more" if len(events) > 10 else "")
