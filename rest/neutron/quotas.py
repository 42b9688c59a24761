"""Quotas (`/v2.0/quotas`): a project's limits (Nova reads its port limit before creating ports),
their use, and an administrator's changes."""

from __future__ import annotations

from typing import Any

from sdnapp import errors
from sdnapp.core import QUOTA_RESOURCES

from ..routes import Body, Call, Ok, RequestBody, Route
from .attrs import Schema

LIMIT: Schema = {"type": "integer", "minimum": -1}
LIMIT_IN: Schema = {"type": "integer", "minimum": -1, "maximum": 2**31 - 1}
QUOTA_OUT: Schema = {"type": "object", "properties": {r: LIMIT for r in QUOTA_RESOURCES},
                     "required": list(QUOTA_RESOURCES)}
USAGE: Schema = {"type": "object", "properties": {"used": {"type": "integer"}, "limit": LIMIT,
                                                  "reserved": {"type": "integer"}},
                 "required": ["used", "limit", "reserved"]}
DETAILS_OUT: Schema = {"type": "object", "properties": {r: USAGE for r in QUOTA_RESOURCES},
                       "required": list(QUOTA_RESOURCES)}
UPDATE = RequestBody("NeutronQuotaUpdateRequest", {
    "type": "object",
    "properties": {"quota": {"type": "object", "title": "QuotaUpdate",
                             "properties": {r: LIMIT_IN for r in QUOTA_RESOURCES}, "additionalProperties": False}},
    "required": ["quota"],
    "additionalProperties": False,
})


def list_quotas(c: Call) -> Body:
    found = c.svc.list_quotas(c.caller)
    return {"quotas": [{**limits, "project_id": p, "tenant_id": p} for p, limits in found.items()]}


def show_quota(c: Call) -> Body:
    return {"quota": c.svc.get_quota(c.caller, c.path["project_id"])}


def show_quota_details(c: Call) -> Body:
    usage = c.svc.quota_usage(c.caller, c.path["project_id"])
    return {"quota": {r: {"used": used, "limit": limit, "reserved": 0} for r, (used, limit) in usage.items()}}


def update_quota(c: Call) -> Body:
    limits: dict[str, Any] = c.body["quota"]
    return {"quota": c.svc.update_quota(c.caller, c.path["project_id"], limits)}


def reset_quota(c: Call) -> Body:
    c.svc.reset_quota(c.caller, c.path["project_id"])
    return None


P = "/v2.0/quotas"
ROUTES: tuple[Route, ...] = (
    Route("GET", P, list_quotas, "quotas", "List the projects whose quotas differ from the defaults",
          Ok(200, "NeutronQuotasResponse", "Those projects' limits"), admin=True),
    Route("GET", P + "/{project_id}", show_quota, "quotas", "Show a project's quota",
          Ok(200, "NeutronQuotaResponse", "Its limits; -1 is unlimited"), (errors.Forbidden,),
          description="Any caller may read its own project's; another's is for administrators."),
    Route("GET", P + "/{project_id}/details.json", show_quota_details, "quotas", "Show a project's quota usage",
          Ok(200, "NeutronQuotaDetailsResponse", "Per resource: in use, limit, reserved"), (errors.Forbidden,)),
    Route("PUT", P + "/{project_id}", update_quota, "quotas", "Set a project's quota",
          Ok(200, "NeutronQuotaResponse", "Its limits"), body=UPDATE, admin=True),
    Route("DELETE", P + "/{project_id}", reset_quota, "quotas", "Reset a project's quota to the defaults",
          Ok(204, None, "Reset"), admin=True),
)
