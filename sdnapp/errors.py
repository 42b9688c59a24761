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


# Neutron's routers and floating IPs (over the `nat` extension).


class RouterNotFound(NotFound):
    pass


class RouterInUse(Conflict):
    """The router still has its interface."""


class RouterInterfaceNotFound(NotFound):
    """The router has no interface with that port id."""


class RouterInterfaceNotFoundForSubnet(NotFound):
    """The router has no interface on that subnet."""


class BadL3Request(BadRequest):
    """A router or floating IP request Neutron would refuse, or a case sdnapp's routers cannot express (a
    router joins one tenant subnet to the outside; NATed networks stay isolated from each other)."""


class NotRoutedOutside(BadRequest):
    """A floating address for a port whose network is not NATed (no router with a gateway joins it)."""


class GatewayInUseByFloating(Conflict):
    """The router's gateway carries a floating address of a port behind it."""


class InterfaceInUseByFloating(Conflict):
    """The router's interface carries a floating address of a port behind it."""


class RouterPortInUse(Conflict):
    """The port is a router's interface: it changes through the router, not the port API."""
