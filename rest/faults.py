"""Errors of the HTTP layer itself, and how an error class finds its HTTP status.

Each face of the API keeps its own map from error class to status (a `FaultMap`, as Neutron's
`FAULT_MAP`), looked up along the class's MRO: a subclass answers as its nearest mapped base
(`NetworkNotFound` as `NotFound`), so a new domain error needs an entry only to differ from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class HttpError(Exception):
    """A request refused before the service is called, or an answer only HTTP has."""

    def __init__(self, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})


class Unauthorized(HttpError):
    """No credentials, or ones the configured strategy does not accept."""


class NotFound(HttpError):
    """No route at the path (the service's `NotFound` is a resource that is not there)."""


class MethodNotAllowed(HttpError):
    """The path has routes, none for this method; the answer's Allow header names theirs."""

    def __init__(self, message: str, allowed: Iterable[str]) -> None:
        super().__init__(message, {"Allow": ", ".join(allowed)})


class RequestTooLarge(HttpError):
    pass


class UnsupportedMediaType(HttpError):
    pass


class ServiceUnavailable(HttpError):
    """The health check's answer while the store or the OpenFlow listener is down."""


class StoreUnavailable(ServiceUnavailable):
    """The store's database cannot be reached (or stayed too busy): nothing was written; try again later."""


FaultMap = Mapping[type[Exception], int]

HTTP_FAULTS: FaultMap = {
    Unauthorized: 401,
    NotFound: 404,
    MethodNotAllowed: 405,
    RequestTooLarge: 413,
    UnsupportedMediaType: 415,
    ServiceUnavailable: 503,
}


def status_of(faults: FaultMap, cls: type[BaseException]) -> int | None:
    """The status of `cls` or of its nearest mapped base; None for an error no face expects (a 500)."""
    return next((faults[c] for c in cls.__mro__ if c in faults), None)
