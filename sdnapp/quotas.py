"""Quotas: how many networks, subnets and ports a project may have (unlimited unless configured, or
set per project by an administrator). Every create of either face is checked (`ServiceCore._check_quota`)."""

from __future__ import annotations

from collections.abc import Mapping

from . import errors, validate
from .core import QUOTA_RESOURCES, UNLIMITED, ServiceCore
from .model import Caller
from .store import retried

MAX_LIMIT = 2**31 - 1


class QuotaOps(ServiceCore):
    def _quota_project(self, caller: Caller, project: str) -> str:
        project = validate.project_id(project)
        if project != caller.project_id and not caller.is_admin:
            raise errors.Forbidden("another project's quota is for administrators")
        return project

    def get_quota(self, caller: Caller, project: str) -> dict[str, int]:
        project = self._quota_project(caller, project)
        with self.store.read() as tx:
            return self._limits(tx, project)

    def quota_usage(self, caller: Caller, project: str) -> dict[str, tuple[int, int]]:
        """(in use, limit) per resource."""
        project = self._quota_project(caller, project)
        with self.store.read() as tx:
            limits = self._limits(tx, project)
            used = {"network": tx.count_networks(project), "subnet": tx.count_subnets(project),
                    "port": tx.count_ports(project)}
        return {r: (used[r], limits[r]) for r in QUOTA_RESOURCES}

    def list_quotas(self, caller: Caller) -> dict[str, dict[str, int]]:
        """The projects whose quotas an administrator set, with their limits."""
        self._require_admin(caller, "listing quotas")
        with self.store.read() as tx:
            return {p: self._limits(tx, p) for p in tx.quota_projects()}

    @retried
    def update_quota(self, caller: Caller, project: str, limits: Mapping[str, int]) -> dict[str, int]:
        self._require_admin(caller, "setting quotas")
        project = validate.project_id(project)
        for resource, limit in limits.items():
            if resource not in QUOTA_RESOURCES:
                raise errors.BadRequest(f"unknown quota resource {resource[:64]!r}: known are {QUOTA_RESOURCES}")
            if isinstance(limit, bool) or not isinstance(limit, int) or not UNLIMITED <= limit <= MAX_LIMIT:
                raise errors.BadRequest(f"quota limit for {resource} must be an integer from -1 to {MAX_LIMIT}")
        with self.store.write() as tx:
            for resource, limit in limits.items():
                tx.set_quota(project, resource, limit)
            return self._limits(tx, project)

    @retried
    def reset_quota(self, caller: Caller, project: str) -> None:
        self._require_admin(caller, "resetting quotas")
        with self.store.write() as tx:
            tx.delete_quotas(validate.project_id(project))
