"""The client's exception tree; every class has a stable ``code``.

::

    ReleaseGateClientError            client
    ├── TokenError                    token.*        a token was refused
    │   ├── MalformedToken            token.malformed
    │   ├── BadSignature              token.bad_signature
    │   ├── WrongType                 token.wrong_type
    │   ├── UnknownKid                token.unknown_kid
    │   ├── WrongIssuer               token.wrong_issuer
    │   ├── WrongAudience             token.wrong_audience
    │   ├── TokenExpired              token.expired
    │   ├── TokenNotYetValid          token.not_yet_valid
    │   ├── DigestMismatch            token.digest_mismatch
    │   ├── TokenRevoked              token.revoked
    │   └── TokenReplayed             token.replayed
    ├── KeySetError                   jwks.invalid   a JWK or JWKS document is unusable
    ├── RevocationListError           revocations.invalid  a revocation list does not verify
    └── ClientError                   client.*       talking to the gate failed
        ├── GateHTTPError             client.http_error      a problem+json answer
        ├── GateUnavailable           client.unavailable     502/503/504, connect/read errors
        └── UnexpectedResponse        client.bad_response    a 2xx the client cannot read

``code`` is a class attribute, so ``except TokenError as exc: exc.code`` always
yields a contract reason code. :data:`TOKEN_ERRORS` maps each code back to its
class (the service uses it to answer ``/v1/verify``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

__all__ = [
    "TOKEN_ERRORS",
    "BadSignature",
    "ClientError",
    "DigestMismatch",
    "GateHTTPError",
    "GateUnavailable",
    "KeySetError",
    "MalformedToken",
    "Problem",
    "ProblemError",
    "ReleaseGateClientError",
    "RevocationListError",
    "TokenError",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenReplayed",
    "TokenRevoked",
    "UnexpectedResponse",
    "UnknownKid",
    "WrongAudience",
    "WrongIssuer",
    "WrongType",
]


class ReleaseGateClientError(Exception):
    """Root of every exception this package raises on purpose."""

    code: ClassVar[str] = "client"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# -- tokens ------------------------------------------------------------------


class TokenError(ReleaseGateClientError):
    """An approval token was refused; ``code`` is the contract reason."""

    code: ClassVar[str] = "token.invalid"


class MalformedToken(TokenError):
    code: ClassVar[str] = "token.malformed"


class BadSignature(TokenError):
    code: ClassVar[str] = "token.bad_signature"


class WrongType(TokenError):
    code: ClassVar[str] = "token.wrong_type"


class UnknownKid(TokenError):
    code: ClassVar[str] = "token.unknown_kid"


class WrongIssuer(TokenError):
    code: ClassVar[str] = "token.wrong_issuer"


class WrongAudience(TokenError):
    code: ClassVar[str] = "token.wrong_audience"


class TokenExpired(TokenError):
    code: ClassVar[str] = "token.expired"


class TokenNotYetValid(TokenError):
    code: ClassVar[str] = "token.not_yet_valid"


class DigestMismatch(TokenError):
    code: ClassVar[str] = "token.digest_mismatch"


class TokenRevoked(TokenError):
    """Raised by revocation checks layered on top of :func:`verify_token`."""

    code: ClassVar[str] = "token.revoked"


class TokenReplayed(TokenError):
    """Raised by single-use intake when a ``jti`` is presented twice."""

    code: ClassVar[str] = "token.replayed"


TOKEN_ERRORS: Mapping[str, type[TokenError]] = MappingProxyType(
    {
        cls.code: cls
        for cls in (
            MalformedToken,
            BadSignature,
            WrongType,
            UnknownKid,
            WrongIssuer,
            WrongAudience,
            TokenExpired,
            TokenNotYetValid,
            DigestMismatch,
            TokenRevoked,
            TokenReplayed,
        )
    }
)


# -- key sets ----------------------------------------------------------------


class KeySetError(ReleaseGateClientError):
    """A JWK or JWKS document cannot be used (not a parse of a token)."""

    code: ClassVar[str] = "jwks.invalid"


# -- transport ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProblemError:
    """One entry of a problem's ``errors`` list: a JSON Pointer and a detail."""

    pointer: str
    detail: str


@dataclass(frozen=True, slots=True)
class Problem:
    """An RFC 9457 problem details body, as far as it could be read."""

    status: int
    title: str = ""
    detail: str = ""
    type: str = "about:blank"
    errors: tuple[ProblemError, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)


class ClientError(ReleaseGateClientError):
    """Talking to the gate failed; no decision or verdict was obtained."""

    code: ClassVar[str] = "client.error"


class GateHTTPError(ClientError):
    """The gate answered with an error status (usually a problem+json body)."""

    code: ClassVar[str] = "client.http_error"

    def __init__(self, detail: str, *, status: int, problem: Problem | None) -> None:
        super().__init__(detail)
        self.status = status
        self.problem = problem


class GateUnavailable(ClientError):
    """The gate could not be reached or said it cannot decide (503)."""

    code: ClassVar[str] = "client.unavailable"

    def __init__(
        self, detail: str, *, status: int | None = None, problem: Problem | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.problem = problem


class RevocationListError(ClientError):
    """A revocation list does not verify or cannot be read (never "not revoked").

    A :class:`ClientError`: no trustworthy verdict was obtained, so code that
    refuses on a client error refuses here too.
    """

    code: ClassVar[str] = "revocations.invalid"


class UnexpectedResponse(ClientError):
    """A success status with a body that does not match the contract."""

    code: ClassVar[str] = "client.bad_response"
