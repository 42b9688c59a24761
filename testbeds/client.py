"""A small client of sdnapp's REST API (standard library only), as a compute service would use it."""

from __future__ import annotations

import time
from typing import Any

from sdnapp.apiclient import ApiClient, ApiError

__all__ = ["ApiError", "Client"]


class Client(ApiClient):
    """As a project (with the noauth headers, admin or not), or with a token."""

    def __init__(
        self, base_url: str, project: str = "demo", admin: bool = False, token: str | None = None,
        keep_alive: bool = False,
    ) -> None:
        headers = {"X-Project-Id": project}
        if admin:
            headers["X-Roles"] = "admin"
        if token is not None:
            headers = {"X-Auth-Token": token}
        super().__init__(base_url, headers, keep_alive)

    def as_project(self, project: str, admin: bool = False) -> Client:
        """The same service as another project; a keep-alive client shares its connections."""
        other = Client(self.base, project, admin, keep_alive=self.keep_alive)
        other._local = self._local
        return other

    def _ok(self, method: str, path: str, body: Any = None) -> Any:
        """`ok` under the name the helpers below use."""
        return self.ok(method, path, body)

    def create_network(self, name: str = "", address_prefix: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if address_prefix:
            body["address_prefix"] = address_prefix
        return self._ok("POST", "/v1/networks", {"network": body})["network"]

    def create_networks(self, names: list[str]) -> list[dict[str, Any]]:
        """POST /v1/networks with `networks`: many networks in one call (all or none)."""
        return list(self._ok("POST", "/v1/networks", {"networks": [{"name": n} for n in names]})["networks"])

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


def create_networks_by_tenant(tenants: list[Client], count: int, batch: int) -> list[str]:
    """Networks n0 .. n<count-1>, network n made by tenants[n % len(tenants)] through POST /v1/networks
    with `networks`, each tenant's in calls of up to `batch`; their ids, in order."""
    ids: dict[int, str] = {}
    for k, tenant in enumerate(tenants):
        mine = list(range(k, count, len(tenants)))
        for first in range(0, len(mine), batch):
            chunk = mine[first:first + batch]
            made = tenant.create_networks([f"n{n}" for n in chunk])
            ids.update((n, str(m["id"])) for n, m in zip(chunk, made, strict=True))
    return [ids[n] for n in range(count)]
