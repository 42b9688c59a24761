"""How the Neutron face answers errors: `{"NeutronError": {"type", "message", "detail"}}` with the
status and the type name Neutron gives the same error, so that its clients tell them apart (Nova
and python-neutronclient by type, openstacksdk by status)."""

from __future__ import annotations

from typing import Any

from sdnapp import errors

from .. import faults


class HTTPBadRequest(faults.HttpError):
    """A body, filter, sort or page Neutron's API layer refuses before its plugin sees it."""


class InvalidInput(faults.HttpError):
    """A value Neutron's API layer cannot convert (a filter's `maybe` for a boolean)."""


class HTTPNotFound(faults.HttpError):
    """A thing of the API layer that is not there (an extension alias)."""


FAULTS: faults.FaultMap = {
    **faults.HTTP_FAULTS,
    HTTPBadRequest: 400,
    InvalidInput: 400,
    HTTPNotFound: 404,
    errors.BadRequest: 400,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.SegmentPoolExhausted: 503,
    errors.NotRoutedOutside: 404,  # Neutron says the external gateway is not found; v1 says 400
}

# Where Neutron's name differs from the service's (looked up along the class's MRO).
_RENAMED: dict[type[Exception], str] = {
    errors.BadRequest: "InvalidInput",
    errors.SecurityGroupsNotEnforced: "BadRequest",
    errors.Forbidden: "PolicyNotAuthorized",
    errors.NotFound: "HTTPNotFound",
    errors.ExtensionNotFound: "HTTPNotFound",
    errors.VnicNotFound: "HTTPNotFound",
    errors.Conflict: "Conflict",
    errors.AddressPoolExhausted: "IpAddressGenerationFailure",
    errors.SegmentPoolExhausted: "NoNetworkAvailable",
    errors.IpAddressInUse: "IpAddressAlreadyAllocated",
    errors.ExternalPoolExhausted: "IpAddressGenerationFailure",
    errors.FloatingAddressNotFound: "FloatingIPNotFound",
    errors.FloatingAddressInUse: "FloatingIPPortAlreadyAssociated",
    errors.BadL3Request: "BadRequest",
    errors.NotRoutedOutside: "ExternalGatewayForFloatingIPNotFound",
    errors.GatewayInUseByFloating: "RouterExternalGatewayInUseByFloatingIp",
    errors.InterfaceInUseByFloating: "RouterInterfaceInUseByFloatingIP",
    errors.RouterPortInUse: "ServicePortInUse",
    faults.Unauthorized: "HTTPUnauthorized",
    faults.NotFound: "HTTPNotFound",
    faults.MethodNotAllowed: "HTTPMethodNotAllowed",
    faults.RequestTooLarge: "HTTPRequestEntityTooLarge",
    faults.UnsupportedMediaType: "HTTPUnsupportedMediaType",
    faults.ServiceUnavailable: "HTTPServiceUnavailable",
}
# The service's errors that Neutron names the same.
_SAME = {
    errors.NetworkNotFound, errors.PortNotFound, errors.SubnetNotFound, errors.SecurityGroupNotFound,
    errors.SecurityGroupRuleNotFound, errors.NetworkInUse, errors.PortInUse, errors.SubnetInUse,
    errors.MacAddressInUse, errors.OverQuota, errors.InvalidIpForSubnet, errors.InvalidIpForNetwork,
    errors.PortBound, errors.SegmentInUse, HTTPBadRequest, InvalidInput, HTTPNotFound, errors.RouterNotFound,
    errors.RouterInUse, errors.RouterInterfaceNotFound, errors.RouterInterfaceNotFoundForSubnet,
}


def error_type(cls: type[Exception]) -> str:
    for c in cls.__mro__:
        if c in _SAME:
            return c.__name__
        if c in _RENAMED:
            return _RENAMED[c]
    return "HTTPInternalServerError"


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"NeutronError": {"type": error_type, "message": message, "detail": ""}}
