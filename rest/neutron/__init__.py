"""The Neutron v2.0 face (shared/NEUTRON.md): Networking API v2.0 under `/v2.0`, over the same
service and store as v1, so that Nova, openstacksdk and the `openstack` CLI work against sdnapp.

One module per resource, each with its attribute map, its views, its handlers and its routes; the
face's errors in `faults`, its list queries in `query`.
"""

from __future__ import annotations

import dataclasses

from ..routes import Face, Route
from . import extensions, floatingips, networks, ports, quotas, routers, secgroups, subnets
from .attrs import body_error
from .faults import FAULTS, HTTPBadRequest, InvalidInput, error_body, error_type

PREFIX = "/v2.0"


def _with_api_errors(r: Route) -> Route:
    """A route that reads a body or a query may also answer Neutron's API-layer refusals."""
    if r.body is None and not r.raw_query:
        return r
    return dataclasses.replace(r, errors=(*r.errors, HTTPBadRequest, InvalidInput))


ROUTES: tuple[Route, ...] = tuple(
    _with_api_errors(r)
    for r in (*extensions.ROUTES, *networks.ROUTES, *subnets.ROUTES, *ports.ROUTES, *routers.ROUTES,
              *floatingips.ROUTES, *quotas.ROUTES, *secgroups.ROUTES)
)

FACE = Face(
    prefix=PREFIX,
    tags=("versions", "extensions", "networks", "subnets", "ports", "routers", "floatingips", "quotas",
          "security-groups"),
    routes=ROUTES,
    faults=FAULTS,
    error_body=error_body,
    error_type=error_type,
    body_error=body_error,
    version=extensions.version,
    internal_error="HTTPInternalServerError",
)
