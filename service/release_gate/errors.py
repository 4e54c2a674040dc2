"""The service's exception tree.

::

    GateError                      problem details, status from the class
    ├── BadRequest (400)           not I-JSON, unreadable input
    │   └── ...
    ├── InvalidRequest (422)       a body that does not match its shape
    │   └── InvalidManifest        the manifest does not match contract section 1
    ├── PayloadTooLarge (413)
    ├── UnsupportedMediaType (415)
    ├── ServiceUnavailable (503)   governance data, draining
    │   ├── StoreUnavailable       the decision store cannot be read or written
    │   └── PolicyEngineError      (release_gate.policy.engine)
    └── ConfigurationError         refuses to start

A deny is a decision, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BadRequest",
    "ConfigurationError",
    "FieldError",
    "GateError",
    "InvalidManifest",
    "InvalidRequest",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "StoreUnavailable",
    "UnsupportedMediaType",
    "json_pointer",
]


def json_pointer(parts: tuple[str | int, ...] | list[str | int]) -> str:
    """The RFC 6901 JSON Pointer of a path of member names and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One located error: ``pointer`` is an RFC 6901 JSON Pointer into the body."""

    pointer: str
    detail: str


class GateError(Exception):
    """Root of every error the gate raises on purpose."""

    status: int = 500
    title: str = "Internal error"
    type_suffix: str = "internal"

    def __init__(self, detail: str, *, errors: tuple[FieldError, ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class BadRequest(GateError):
    status = 400
    title = "Bad request"
    type_suffix = "bad-request"


class InvalidRequest(GateError):
    """A request body that parses as I-JSON but does not have the route's shape."""

    status = 422
    title = "Invalid request"
    type_suffix = "invalid-request"


class InvalidManifest(InvalidRequest):
    title = "Invalid manifest"
    type_suffix = "invalid-manifest"


class PayloadTooLarge(GateError):
    status = 413
    title = "Payload too large"
    type_suffix = "payload-too-large"


class UnsupportedMediaType(GateError):
    status = 415
    title = "Unsupported media type"
    type_suffix = "unsupported-media-type"


class ServiceUnavailable(GateError):
    status = 503
    title = "Service unavailable"
    type_suffix = "unavailable"


class StoreUnavailable(ServiceUnavailable):
    title = "Decision store unavailable"
    type_suffix = "store-unavailable"


class ConfigurationError(GateError):
    """Raised at start-up; the service refuses to run with this configuration."""

    status = 503
    title = "Configuration error"
    type_suffix = "configuration"
