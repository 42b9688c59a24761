"""A small stand-in for Nova's `POST /v2.1/os-server-external-events`, on loopback, for tests and
benchmarks: it records each event with when it arrived, and answers as Nova does (every event back
with its `code`: 200 for a server it was told to know, 404 otherwise; 207 if any is not 200)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/v2.1/os-server-external-events"


@dataclass
class Received:
    event: dict[str, Any]
    at: float  # time.monotonic() when it arrived
    headers: dict[str, str] = field(default_factory=dict)


class FakeNova:
    def __init__(self, port: int = 0, token: str | None = None, servers: Iterable[str] | None = None,
                 fail_first: int = 0) -> None:
        """`token`: the X-Auth-Token required (401 otherwise); `servers`: the known server ids (all if None);
        `fail_first`: answer that many requests 503 first (to see the sender retry)."""
        self.token = token
        self.servers = set(servers) if servers is not None else None
        self.fail_first = fail_first
        self.received: list[Received] = []
        self.requests = 0
        self._cond = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-nova", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v2.1"

    def start(self) -> FakeNova:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def know(self, *server_ids: str) -> None:
        with self._cond:
            if self.servers is not None:
                self.servers.update(server_ids)

    def wait_for(self, name: str, tag: str, timeout: float = 10.0) -> Received | None:
        """The first event `name` for port `tag`, waiting for it up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = next((r for r in self.received if r.event.get("name") == name and r.event.get("tag") == tag),
                             None)
                left = deadline - time.monotonic()
                if found is not None or left <= 0:
                    return found
                self._cond.wait(left)

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [r.event for r in self.received if name is None or r.event.get("name") == name]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        nova = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                at = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with nova._cond:
                    nova.requests += 1
                    failing = nova.requests <= nova.fail_first
                if self.path != PATH:
                    return self._answer(404, {"itemNotFound": {"message": "no such path"}})
                if nova.token is not None and self.headers.get("X-Auth-Token") != nova.token:
                    return self._answer(401, {"error": "unauthorized"})
                if failing:
                    return self._answer(503, {"error": "try later"})
                events = json.loads(body)["events"]
                answered = []
                with nova._cond:
                    for e in events:
                        known = nova.servers is None or e.get("server_uuid") in nova.servers
                        answered.append({**e, "status": e.get("status", "completed"), "code": 200 if known else 404})
                        nova.received.append(Received(e, at, dict(self.headers)))
                    nova._cond.notify_all()
                self._answer(200 if all(a["code"] == 200 for a in answered) else 207, {"events": answered})

            def _answer(self, status: int, doc: Any) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
