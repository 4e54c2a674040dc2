"""Minting approval tokens (contract section 5) with PyJWT (``EdDSA``).

Verification lives in the client package (``release_gate_client.verify``), which
the service reuses for ``/v1/verify`` and the CLI, so there is one verifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from release_gate.keys import SigningKey

__all__ = ["TOKEN_TYPE", "MintedToken", "TokenMinter"]

TOKEN_TYPE = "release-approval+jwt"  # noqa: S105 - a media type, not a secret


@dataclass(frozen=True, slots=True)
class MintedToken:
    token: str
    jti: str
    issued_at: int
    expires_at: int


class TokenMinter:
    """Signs approval tokens with the gate's active key."""

    def __init__(self, *, key: SigningKey, issuer: str) -> None:
        self._key = key
        self._issuer = issuer
        self._headers = {"typ": TOKEN_TYPE, "kid": key.kid}

    @property
    def kid(self) -> str:
        return self._key.kid

    def mint(
        self,
        *,
        jti: str,
        issued_at: int,
        ttl_seconds: int,
        lane: str,
        packet_id: str,
        packet_revision: int,
        packet_digest: str,
        manifest_id: str,
        manifest_digest: str,
        signers: Sequence[tuple[str, str]],
        accepted_objections: Sequence[str],
        audience: Sequence[str],
        actions: Sequence[str],
        policy_revision: str,
        policy_digest: str,
    ) -> MintedToken:
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": lane,
            "sub": f"{packet_id}@{packet_revision}",
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + ttl_seconds,
            "jti": jti,
            "manifest_id": manifest_id,
            "manifest_digest": manifest_digest,
            "packet_digest": packet_digest,
            "signers": [{"subject": s, "role": r} for s, r in signers],
            "accepted_objections": list(accepted_objections),
            "scope": {"audience": list(audience), "actions": list(actions)},
            "policy": {"revision": policy_revision, "digest": policy_digest},
        }
        token = jwt.encode(claims, self._key.private_key, algorithm="EdDSA", headers=self._headers)
        return MintedToken(
            token=token, jti=jti, issued_at=issued_at, expires_at=issued_at + ttl_seconds
        )
