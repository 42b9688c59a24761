"""Security groups as this deployment enforces them: not at all beyond port security.

sdnapp's switches filter what a port may send as itself (MAC, address, allowed address pairs) and
nothing else, so the only security group it can offer truthfully is one that allows everything:
each project's `default` group, whose four rules (in and out, IPv4 and IPv6, from and to anywhere)
say exactly what the switches do. Other groups, and rules that would filter, are refused rather than
stored and ignored; so is a port with port security and an address in no group (Neutron drops all
of such a port's traffic, which sdnapp does not).

A group's id is derived from its project (and a rule's from its group), so a port shows its group
without a lookup; the store keeps when each project's group was first used.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from . import errors, validate
from .core import ServiceCore, now
from .model import Caller, Port
from .specs import Unset
from .store import Txn, retried

_NAMESPACE = uuid.UUID("8d6ad3f5-3f0e-4a55-9c36-5b1f0d6e3c2a")
DEFAULT_NAME = "default"
DEFAULT_DESCRIPTION = "Default security group: sdnapp filters nothing beyond port security"
TRUSTED_OWNER_PREFIX = "network:"  # Neutron gives ports of its own services no security group


@dataclass(frozen=True)
class Rule:
    id: str
    group_id: str
    tenant_id: str
    direction: str  # ingress or egress
    ethertype: str  # IPv4 or IPv6


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    tenant_id: str
    created_at: float

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(
            Rule(str(uuid.uuid5(uuid.UUID(self.id), f"{d}/{e}")), self.id, self.tenant_id, d, e)
            for d in ("egress", "ingress") for e in ("IPv4", "IPv6")
        )


def group_id(project: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, project))


def in_default_group(p: Port) -> bool:
    """Whether a port is in its project's default group: with port security and an address, as Neutron puts
    a port there, unless one of Neutron's own services owns it."""
    return p.port_security and p.ip_address is not None and not p.device_owner.startswith(TRUSTED_OWNER_PREFIX)


class SecurityGroupOps(ServiceCore):
    def _ensure_group(self, tx: Txn, project: str) -> None:
        if not tx.security_groups(project):
            tx.insert_security_group(group_id(project), project, now())

    def _check_groups(self, tx: Txn, project: str, asked: tuple[str, ...] | Unset, port_security: bool,
                      has_ip: bool, owner: str) -> None:
        """The groups a port asks for must be the groups it is in (see the module's docstring)."""
        eligible = port_security and has_ip and not owner.startswith(TRUSTED_OWNER_PREFIX)
        if eligible:
            self._ensure_group(tx, project)
        if isinstance(asked, Unset):
            return
        mine = group_id(project)
        for g in asked:
            if g != mine:
                raise errors.SecurityGroupNotFound(f"security group {g[:64]} does not exist")
        if asked and not (port_security and has_ip):
            raise errors.BadRequest(
                "port security must be enabled and port must have an IP address in order to use security groups"
            )
        if not asked and eligible:
            raise errors.SecurityGroupsNotEnforced(
                "a port with port security and an address is in its project's default security group: sdnapp "
                "cannot drop all of its traffic as Neutron does for a port in no group (disable port security)"
            )

    @retried
    def list_security_groups(self, caller: Caller, tenant_filter: str | None = None) -> list[SecurityGroup]:
        """The projects' default groups; the caller's own is made on first sight, as Neutron makes it."""
        with self.store.read() as tx:
            missing = not tx.security_groups(caller.project_id)
        if missing:
            with self.store.write() as tx:
                self._ensure_group(tx, caller.project_id)
        with self.store.read() as tx:
            return [SecurityGroup(*row) for row in tx.security_groups(self._scope(caller, tenant_filter))]

    def get_security_group(self, caller: Caller, raw_id: str) -> SecurityGroup:
        gid = validate.resource_id(raw_id, "security group", errors.SecurityGroupNotFound)
        found = next((g for g in self.list_security_groups(caller) if g.id == gid), None)
        if found is None or not caller.sees(found.tenant_id):
            raise errors.SecurityGroupNotFound(f"security group {gid} does not exist")
        return found

    def get_security_group_rule(self, caller: Caller, raw_id: str) -> Rule:
        rid = validate.resource_id(raw_id, "security group rule", errors.SecurityGroupRuleNotFound)
        for g in self.list_security_groups(caller):
            for r in g.rules:
                if r.id == rid:
                    return r
        raise errors.SecurityGroupRuleNotFound(f"security group rule {rid} does not exist")

    def groups_of(self, p: Port) -> tuple[str, ...]:
        return (group_id(p.tenant_id),) if in_default_group(p) else ()
