"""Security groups (`/v2.0/security-groups`, `/v2.0/security-group-rules`), read only: each
project's `default` group, whose rules allow everything, which is what sdnapp's switches enforce
beyond port security (see sdnapp/secgroups.py). Creating, changing or deleting groups or rules is
not offered (405): a rule sdnapp would store and not enforce would be a lie."""

from __future__ import annotations

from typing import Any

from sdnapp import errors
from sdnapp.secgroups import DEFAULT_DESCRIPTION, DEFAULT_NAME, Rule, SecurityGroup

from ..routes import Body, Call, Ok, Route
from . import query
from .attrs import BOOL, NAME, NULL_STR, UUID_OUT, Attr, Resource, iso, q_bool, q_str, standard

GROUP = Resource("security_group", "security_groups", (
    *standard(),
    Attr("name", NAME, query=q_str, sort=True),
    Attr("stateful", BOOL, query=q_bool),
    Attr("shared", BOOL, query=q_bool),
    Attr("security_group_rules", {"type": "array", "items": {"type": "object"}}),
))
RULE = Resource("security_group_rule", "security_group_rules", (
    *standard(),
    Attr("security_group_id", UUID_OUT, query=q_str, sort=True),
    Attr("direction", {"type": "string", "enum": ["ingress", "egress"]}, query=q_str, sort=True),
    Attr("ethertype", {"type": "string", "enum": ["IPv4", "IPv6"]}, query=q_str, sort=True),
    *(Attr(n, NULL_STR, query=q_str, sort=True) for n in (
        "protocol", "remote_ip_prefix", "remote_group_id", "remote_address_group_id", "normalized_cidr")),
    *(Attr(n, {"type": ["integer", "null"]}, query=q_str, sort=True) for n in ("port_range_min", "port_range_max")),
    Attr("belongs_to_default_sg", BOOL, query=q_bool),
))


def _times(created: float) -> dict[str, Any]:
    return {"created_at": iso(created), "updated_at": iso(created), "revision_number": 0}


def rule_view(r: Rule, created: float) -> dict[str, Any]:
    return {
        "id": r.id, "tenant_id": r.tenant_id, "project_id": r.tenant_id, "security_group_id": r.group_id,
        "direction": r.direction, "ethertype": r.ethertype, "protocol": None, "port_range_min": None,
        "port_range_max": None, "remote_ip_prefix": None, "remote_group_id": None, "remote_address_group_id": None,
        "normalized_cidr": "0.0.0.0/0" if r.ethertype == "IPv4" else "::/0", "belongs_to_default_sg": True,
        "description": "", **_times(created),
    }


def group_view(g: SecurityGroup) -> dict[str, Any]:
    return {
        "id": g.id, "tenant_id": g.tenant_id, "project_id": g.tenant_id, "name": DEFAULT_NAME,
        "description": DEFAULT_DESCRIPTION, "stateful": True, "shared": False,
        "security_group_rules": [rule_view(r, g.created_at) for r in g.rules], **_times(g.created_at),
    }


def list_security_groups(c: Call) -> Body:
    q = query.parse(c.items, GROUP)
    groups = [group_view(g) for g in c.svc.list_security_groups(c.caller)]
    page = query.select(c.req, groups, q, not_found=errors.SecurityGroupNotFound)
    return {"security_groups": page.items, **({"security_groups_links": page.links} if page.links else {})}


def show_security_group(c: Call) -> Body:
    g = c.svc.get_security_group(c.caller, c.path["security_group_id"])
    return {"security_group": query.only(group_view(g), query.fields_of(c.items))}


def list_security_group_rules(c: Call) -> Body:
    q = query.parse(c.items, RULE)
    rules = [rule_view(r, g.created_at) for g in c.svc.list_security_groups(c.caller) for r in g.rules]
    page = query.select(c.req, rules, q, not_found=errors.SecurityGroupRuleNotFound)
    return {"security_group_rules": page.items,
            **({"security_group_rules_links": page.links} if page.links else {})}


def show_security_group_rule(c: Call) -> Body:
    r = c.svc.get_security_group_rule(c.caller, c.path["rule_id"])
    g = c.svc.get_security_group(c.caller, r.group_id)
    return {"security_group_rule": query.only(rule_view(r, g.created_at), query.fields_of(c.items))}


ROUTES: tuple[Route, ...] = (
    Route("GET", "/v2.0/security-groups", list_security_groups, "security-groups", "List security groups",
          Ok(200, "NeutronSecurityGroupsResponse", "The projects' default groups (the caller's made on first sight)"),
          (errors.SecurityGroupNotFound,), raw_query=True),
    Route("GET", "/v2.0/security-groups/{security_group_id}", show_security_group, "security-groups",
          "Show a security group", Ok(200, "NeutronSecurityGroupResponse", "The group with its rules"),
          (errors.SecurityGroupNotFound,), raw_query=True),
    Route("GET", "/v2.0/security-group-rules", list_security_group_rules, "security-groups",
          "List security group rules", Ok(200, "NeutronSecurityGroupRulesResponse", "The default groups' rules"),
          (errors.SecurityGroupRuleNotFound,), raw_query=True),
    Route("GET", "/v2.0/security-group-rules/{rule_id}", show_security_group_rule, "security-groups",
          "Show a security group rule", Ok(200, "NeutronSecurityGroupRuleResponse", "The rule"),
          (errors.SecurityGroupRuleNotFound,), raw_query=True),
)
