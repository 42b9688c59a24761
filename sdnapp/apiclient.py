"""A small client of sdnapp's REST API (standard library only): the operator's CLI uses it, and so do the testbeds."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    """An answer of 300 or more: its status, and the API's error type and message."""

    def __init__(self, status: int, body: Any) -> None:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        self.status = status
        self.type = err.get("type") if isinstance(err, dict) else None
        self.message = err.get("message") if isinstance(err, dict) else None
        self.body = body
        super().__init__(f"{status} {self.type}: {self.message}")


def _body(raw: bytes) -> Any:
    """An answer's JSON body; one that is not JSON kept as an error message."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return {"error": {"type": "?", "message": raw[:200].decode("utf-8", "replace")}}


class ApiClient:
    """By default one connection per request; `keep_alive` keeps one per thread, as a compute
    service's HTTP session does (the benchmark uses it; a request is never retried on another).
    Failing to reach the API raises OSError."""

    def __init__(self, base_url: str, headers: Mapping[str, str], keep_alive: bool = False,
                 timeout: float = 10.0) -> None:
        self.base = base_url.rstrip("/")
        self.headers = dict(headers)
        self.keep_alive = keep_alive
        self.timeout = timeout
        self._url = urllib.parse.urlsplit(self.base)
        self._local = threading.local()

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        timeout = self.timeout if timeout is None else timeout
        if self.keep_alive:
            return self._call_kept(method, path, data, headers, timeout)
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
                return resp.status, _body(raw)
        except urllib.error.HTTPError as e:
            return e.code, _body(e.read())

    def _call_kept(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str], timeout: float
    ) -> tuple[int, Any]:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self._url.hostname or "127.0.0.1", self._url.port or 80,
                                              timeout=timeout)
            self._local.conn = conn
        try:
            conn.request(method, self._url.path + path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            self._local.conn = None
            raise
        return resp.status, _body(raw)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        """The answer's body; ApiError for an answer of 300 or more."""
        status, out = self.call(method, path, body)
        if status >= 300:
            raise ApiError(status, out or {})
        return out

    def get(self, path: str) -> Any:
        return self.ok("GET", path)
