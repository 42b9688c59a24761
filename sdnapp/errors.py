"""Typed errors of the service. `rest/` maps each to its HTTP status by `status`."""

from __future__ import annotations


class ServiceError(Exception):
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def type(self) -> str:
        return type(self).__name__


class BadRequest(ServiceError):
    status = 400


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class NetworkNotFound(NotFound):
    pass


class PortNotFound(NotFound):
    pass


class VnicNotFound(NotFound):
    pass


class ExtensionNotFound(NotFound):
    pass


class MethodNotAllowed(ServiceError):
    status = 405


class Conflict(ServiceError):
    status = 409


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


class RequestTooLarge(ServiceError):
    status = 413


class UnsupportedMediaType(ServiceError):
    status = 415


class ServiceUnavailable(ServiceError):
    status = 503
