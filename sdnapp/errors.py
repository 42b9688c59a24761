"""Typed errors of the service: what went wrong, in the service's own terms.

They know nothing of HTTP: each face of the REST API maps them to statuses and error bodies
(`rest/faults.py`, `rest/v1.py`), as Neutron's API layer maps its exceptions to faults.
"""

from __future__ import annotations


class ServiceError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ServiceError):
    """A value or a combination of values the service does not accept; nothing was changed."""


class Forbidden(ServiceError):
    """The call is for administrators."""


class NotFound(ServiceError):
    """No such resource, or none the caller may see (the two are not told apart)."""


class NetworkNotFound(NotFound):
    pass


class PortNotFound(NotFound):
    pass


class VnicNotFound(NotFound):
    pass


class ExtensionNotFound(NotFound):
    pass


class Conflict(ServiceError):
    """The request is valid but the resources' state does not allow it."""


class NetworkInUse(Conflict):
    pass


class PortInUse(Conflict):
    pass


class AlreadyAttached(Conflict):
    pass


class MacAddressInUse(Conflict):
    pass


class AddressPoolExhausted(Conflict):
    pass


class SegmentPoolExhausted(Conflict):
    pass


class FloatingAddressNotFound(NotFound):
    pass


class FloatingAddressInUse(Conflict):
    """The port already has a floating address."""


class ExternalPoolExhausted(Conflict):
    """Every outside address of the configured pool is held."""


class BindingInUse(Conflict):
    """Another VNIC is already bound to that switch port."""


# What the Neutron face adds; each is named as Neutron names it, so that its clients (Nova above
# all, which tells errors apart by name) read it right; v1 answers them by their base class.


class SubnetNotFound(NotFound):
    pass


class SecurityGroupNotFound(NotFound):
    pass


class SubnetInUse(Conflict):
    """A port still has an address of the subnet."""


class IpAddressInUse(Conflict):
    """The address asked for is another port's, or the gateway's."""


class InvalidIpForSubnet(BadRequest):
    """The address asked for is not one of the subnet's usable addresses."""


class InvalidIpForNetwork(BadRequest):
    """The address asked for is in none of the network's subnets."""


class OverQuota(Conflict):
    pass


class SegmentInUse(Conflict):
    """The segment (VLAN id or VNI) asked for is another network's."""


class PortBound(Conflict):
    """The port is bound to a host; its MAC address cannot change."""


class SecurityGroupsNotEnforced(BadRequest):
    """A request for security group rules this deployment does not enforce (sdnapp filters nothing
    beyond port security, so it offers only each project's allow-all default group)."""


class SecurityGroupRuleNotFound(NotFound):
    pass
