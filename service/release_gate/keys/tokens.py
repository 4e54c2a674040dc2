"""Signing approval tokens (contract section 5) with PyJWT (``EdDSA``).

The claims are the client's :class:`~release_gate_client.ApprovalClaims` (built
with ``ApprovalClaims.issue``) and the header's ``typ`` the client's
``TOKEN_TYPE``: the verifier (``release_gate_client.verify``, which the service
also uses for ``/v1/verify`` and the CLI) and the minter share one definition.
"""

from __future__ import annotations

import jwt

from release_gate.keys.signing import SigningKey
from release_gate_client.claims import ApprovalClaims
from release_gate_client.verify import ALGORITHM, TOKEN_TYPE

__all__ = ["TokenMinter"]


class TokenMinter:
    """Signs approval tokens with the gate's active key."""

    def __init__(self, *, key: SigningKey, issuer: str) -> None:
        self._key = key
        self.issuer = issuer
        self._headers = {"typ": TOKEN_TYPE, "kid": key.kid}

    @property
    def kid(self) -> str:
        return self._key.kid

    def sign(self, claims: ApprovalClaims) -> str:
        """The compact JWS of ``claims``, signed with the active key."""
        return jwt.encode(
            dict(claims.raw), self._key.private_key, algorithm=ALGORITHM, headers=self._headers
        )
