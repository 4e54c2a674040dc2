"""release-gate-client: ask the gate for decisions and verify its approval tokens.

Usage::

    from release_gate_client import GateClient, JWKSFetcher, verify_token

    with GateClient("https://gate.example", api_key=KEY) as gate:
        decision = gate.evaluate(manifest_bytes)        # a deny is a result
    if decision.allow:
        with JWKSFetcher("https://gate.example/.well-known/jwks.json") as jwks:
            claims = verify_token(decision.token, jwks=jwks, issuer="release-gate",
                                  audience="exec-review", packet_digest=digest)
        print(claims.sub, claims.signers)               # raises TokenError if refused

Revocation (``token.revoked``): pass ``revocations=RevocationFetcher(...)``
(the gate's signed list, cached). Single-use intake (``token.replayed``):
:class:`release_gate_client.intake.IntakeVerifier`, with the ``[intake]`` extra.
An intake lane reports what it decided with ``GateClient.report_outcome(...)``
(or ``IntakeVerifier.report_outcome``).

Every refusal is a :class:`TokenError` whose ``code`` is the contract reason
(``token.expired``...); transport problems are :class:`ClientError`.
"""

from __future__ import annotations

from release_gate_client.claims import ApprovalClaims, PolicyRef, Scope, Signer, VerifyResult
from release_gate_client.client import AsyncGateClient, GateClient
from release_gate_client.errors import (
    TOKEN_ERRORS,
    BadSignature,
    ClientError,
    DigestMismatch,
    GateHTTPError,
    GateUnavailable,
    KeySetError,
    MalformedToken,
    Problem,
    ProblemError,
    ReleaseGateClientError,
    RevocationListError,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    TokenReplayed,
    TokenRevoked,
    UnexpectedResponse,
    UnknownKid,
    WrongAudience,
    WrongIssuer,
    WrongType,
)
from release_gate_client.jwk import jwk_thumbprint, load_jwk, load_jwks, public_jwk
from release_gate_client.jwks import JWKSFetcher
from release_gate_client.models import (
    FINDINGS,
    OUTCOMES,
    Decision,
    OutcomeReport,
    PacketRef,
    Violation,
)
from release_gate_client.revocations import (
    REVOCATIONS_TYPE,
    Hold,
    RevocationFetcher,
    RevocationList,
    RevocationSource,
)
from release_gate_client.verify import (
    ALGORITHM,
    MAX_LEEWAY,
    TOKEN_TYPE,
    KeySource,
    RevocationCheck,
    verify_result,
    verify_token,
)

__all__ = [
    "ALGORITHM",
    "FINDINGS",
    "MAX_LEEWAY",
    "OUTCOMES",
    "REVOCATIONS_TYPE",
    "TOKEN_ERRORS",
    "TOKEN_TYPE",
    "ApprovalClaims",
    "AsyncGateClient",
    "BadSignature",
    "ClientError",
    "Decision",
    "DigestMismatch",
    "GateClient",
    "GateHTTPError",
    "GateUnavailable",
    "Hold",
    "JWKSFetcher",
    "KeySetError",
    "KeySource",
    "MalformedToken",
    "OutcomeReport",
    "PacketRef",
    "PolicyRef",
    "Problem",
    "ProblemError",
    "ReleaseGateClientError",
    "RevocationCheck",
    "RevocationFetcher",
    "RevocationList",
    "RevocationListError",
    "RevocationSource",
    "Scope",
    "Signer",
    "TokenError",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenReplayed",
    "TokenRevoked",
    "UnexpectedResponse",
    "UnknownKid",
    "VerifyResult",
    "Violation",
    "WrongAudience",
    "WrongIssuer",
    "WrongType",
    "jwk_thumbprint",
    "load_jwk",
    "load_jwks",
    "public_jwk",
    "verify_result",
    "verify_token",
]
