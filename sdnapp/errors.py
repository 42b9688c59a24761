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


class BindingInUse(Conflict):
    """Another VNIC is already bound to that switch port."""
