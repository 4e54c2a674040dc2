"""Typed approval-token claims (contract section 5) and the verify result."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from release_gate_client.errors import MalformedToken

__all__ = ["REQUIRED_CLAIMS", "ApprovalClaims", "PolicyRef", "Scope", "Signer", "VerifyResult"]

REQUIRED_CLAIMS: tuple[str, ...] = (
    "iss",
    "aud",
    "sub",
    "iat",
    "nbf",
    "exp",
    "jti",
    "manifest_id",
    "manifest_digest",
    "packet_digest",
    "signers",
    "accepted_objections",
    "scope",
    "policy",
)
_STRING_CLAIMS = ("iss", "aud", "sub", "jti", "manifest_id", "manifest_digest", "packet_digest")
_INTEGER_CLAIMS = ("iat", "nbf", "exp")


@dataclass(frozen=True, slots=True)
class Signer:
    """One valid signature the decision counted: who, in which role."""

    subject: str
    role: str


@dataclass(frozen=True, slots=True)
class Scope:
    """The audience and actions the release was approved for."""

    audience: tuple[str, ...]
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """The policy bundle a decision was made under."""

    revision: str | None
    digest: str


@dataclass(frozen=True, slots=True)
class ApprovalClaims:
    """The verified claims of an approval token; ``raw`` is the whole payload."""

    iss: str
    aud: str
    sub: str
    iat: int
    nbf: int
    exp: int
    jti: str
    manifest_id: str
    manifest_digest: str
    packet_digest: str
    signers: tuple[Signer, ...]
    accepted_objections: tuple[str, ...]
    scope: Scope
    policy: PolicyRef
    raw: Mapping[str, Any]

    @classmethod
    def from_payload(cls, payload: object) -> ApprovalClaims:
        """Read a decoded payload; :class:`MalformedToken` if its shape is wrong.

        Every claim must be present, ``aud`` and the other identifiers
        strings, ``iat``/``nbf``/``exp`` integers (never booleans or floats).
        Unknown claims are kept in ``raw`` and otherwise ignored.
        """
        if not isinstance(payload, Mapping):
            raise MalformedToken("the token payload is not a JSON object")
        return cls._read(payload, raw=copy.deepcopy(dict(payload)))

    @classmethod
    def issue(
        cls,
        *,
        iss: str,
        aud: str,
        sub: str,
        iat: int,
        exp: int,
        jti: str,
        manifest_id: str,
        manifest_digest: str,
        packet_digest: str,
        signers: Sequence[Signer],
        accepted_objections: Sequence[str],
        scope: Scope,
        policy: PolicyRef,
    ) -> ApprovalClaims:
        """The claims of a new token (``nbf`` is ``iat``), for the gate's minter.

        Built as a payload and read back through the verifier's own checks, so
        a minted token has exactly the claims a verifier requires.
        """
        payload: dict[str, Any] = {
            "iss": iss,
            "aud": aud,
            "sub": sub,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "jti": jti,
            "manifest_id": manifest_id,
            "manifest_digest": manifest_digest,
            "packet_digest": packet_digest,
            "signers": [{"subject": s.subject, "role": s.role} for s in signers],
            "accepted_objections": list(accepted_objections),
            "scope": {"audience": list(scope.audience), "actions": list(scope.actions)},
            "policy": {"revision": policy.revision, "digest": policy.digest},
        }
        return cls._read(payload, raw=payload)

    @classmethod
    def _read(cls, payload: Mapping[str, Any], *, raw: dict[str, Any]) -> ApprovalClaims:
        missing = [name for name in REQUIRED_CLAIMS if name not in payload]
        if missing:
            raise MalformedToken(f"missing claims: {', '.join(missing)}")
        for name in _STRING_CLAIMS:
            _string(payload[name], name)
        for name in _INTEGER_CLAIMS:
            if type(payload[name]) is not int:
                raise MalformedToken(f"claim {name!r} must be an integer")
        return cls(
            **{name: payload[name] for name in _STRING_CLAIMS + _INTEGER_CLAIMS},
            signers=_signers(payload["signers"]),
            accepted_objections=_strings(payload["accepted_objections"], "accepted_objections"),
            scope=_scope(payload["scope"]),
            policy=_policy(payload["policy"]),
            raw=MappingProxyType(raw),
        )

    def to_dict(self) -> dict[str, Any]:
        """The claims as JSON-ready data (a deep copy of ``raw``)."""
        return copy.deepcopy(dict(self.raw))


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """``{valid, reason, claims}``: a verdict as data rather than an exception."""

    valid: bool
    reason: str | None
    claims: ApprovalClaims | None

    def to_dict(self) -> dict[str, Any]:
        """The ``/v1/verify`` response body."""
        claims = self.claims.to_dict() if self.claims is not None else None
        return {"valid": self.valid, "reason": self.reason, "claims": claims}


def _string(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise MalformedToken(f"claim {where!r} must be a string")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise MalformedToken(f"claim {where!r} must be an array of strings")
    return tuple(_string(item, where) for item in value)


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedToken(f"claim {where!r} must be an object")
    return value


def _signers(value: object) -> tuple[Signer, ...]:
    if not isinstance(value, list):
        raise MalformedToken("claim 'signers' must be an array")
    entries = [_object(item, "signers") for item in value]
    return tuple(
        Signer(
            subject=_string(entry.get("subject"), "signers.subject"),
            role=_string(entry.get("role"), "signers.role"),
        )
        for entry in entries
    )


def _scope(value: object) -> Scope:
    scope = _object(value, "scope")
    return Scope(
        audience=_strings(scope.get("audience"), "scope.audience"),
        actions=_strings(scope.get("actions"), "scope.actions"),
    )


def _policy(value: object) -> PolicyRef:
    policy = _object(value, "policy")
    revision = policy.get("revision")
    if revision is not None and not isinstance(revision, str):
        raise MalformedToken("claim 'policy.revision' must be a string or null")
    return PolicyRef(revision=revision, digest=_string(policy.get("digest"), "policy.digest"))
