"""A small client of sdnapp's REST API (standard library only), as a compute service would use it."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"{status} {err.get('type')}: {err.get('message')}")
        self.status = status
        self.type = err.get("type")
        self.body = body


def _body(raw: bytes) -> Any:
    """An answer's JSON body; one that is not JSON kept as an error message."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return {"error": {"type": "?", "message": raw[:200].decode("utf-8", "replace")}}


class Client:
    """By default one connection per request; `keep_alive` keeps one per thread, as a compute
    service's HTTP session does (the benchmark uses it; a request is never retried on another)."""

    def __init__(
        self, base_url: str, project: str = "demo", admin: bool = False, token: str | None = None,
        keep_alive: bool = False,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.headers = {"X-Project-Id": project}
        if admin:
            self.headers["X-Roles"] = "admin"
        if token is not None:
            self.headers = {"X-Auth-Token": token}
        self.keep_alive = keep_alive
        self._url = urllib.parse.urlsplit(self.base)
        self._local = threading.local()

    def as_project(self, project: str, admin: bool = False) -> Client:
        """The same service as another project; a keep-alive client shares its connections."""
        other = Client(self.base, project, admin, keep_alive=self.keep_alive)
        other._local = self._local
        return other

    def call(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.keep_alive:
            return self._call_kept(method, path, data, headers, timeout)
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
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

    def _ok(self, method: str, path: str, body: Any = None) -> Any:
        status, out = self.call(method, path, body)
        if status >= 300:
            raise ApiError(status, out or {})
        return out

    def get(self, path: str) -> Any:
        return self._ok("GET", path)

    def create_network(self, name: str = "", address_prefix: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if address_prefix:
            body["address_prefix"] = address_prefix
        return self._ok("POST", "/v1/networks", {"network": body})["network"]

    def create_port(self, network_id: str, name: str = "") -> dict[str, Any]:
        return self._ok("POST", f"/v1/networks/{network_id}/ports", {"port": {"name": name}})["port"]

    def create_vnic(self, mac: str | None = None, name: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if mac:
            body["mac_address"] = mac
        return self._ok("POST", "/v1/vnics", {"vnic": body})["vnic"]

    def plugged_ports(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST /v1/plugged-ports: ports, each with a new VNIC plugged in (and bound), in one call."""
        return list(self._ok("POST", "/v1/plugged-ports", {"plugged_ports": items})["plugged_ports"])

    def plug(self, port_id: str, vnic_id: str) -> None:
        self._ok("PUT", f"/v1/ports/{port_id}/attachment", {"attachment": {"vnic_id": vnic_id}})

    def unplug(self, vnic_id: str) -> None:
        self._ok("DELETE", f"/v1/vnics/{vnic_id}/attachment")

    def bind(self, vnic_id: str, datapath_id: str, port_name: str) -> None:
        self._ok(
            "PUT", f"/v1/vnics/{vnic_id}/binding",
            {"binding": {"datapath_id": datapath_id, "port_name": port_name}},
        )

    def delete(self, path: str) -> None:
        self._ok("DELETE", path)

    def port(self, port_id: str) -> dict[str, Any]:
        return self._ok("GET", f"/v1/ports/{port_id}")["port"]

    def wait_status(self, port_ids: list[str], status: str = "ACTIVE", timeout: float = 30.0) -> float:
        """Poll until every port has `status`; returns the seconds it took."""
        start = time.monotonic()
        pending = set(port_ids)
        while True:
            pending = {p for p in pending if self.port(p)["status"] != status}
            if not pending:
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"ports not {status} after {timeout}s: {sorted(pending)}")
            time.sleep(0.005)
