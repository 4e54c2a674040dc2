"""Signature verification against the governance trust store (contract sections 1-3).

The gate does the cryptography; the policy decides what a verified signature
means (roles, lanes). Each signature gets one status, in the contract's order:
``unknown_key`` (no active key for ``(subject, key_id)``), ``invalid`` (the key
resolves but the signature does not verify over the signature's approval
statement), else ``verified``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from release_gate.decision.canonical import approval_statement, manifest_digest
from release_gate.decision.manifest import Signature
from release_gate.policy.governance import Governance
from release_gate_client.b64url import b64url_decode, b64url_encode

__all__ = ["SignatureStatus", "sign_manifest", "verify_signatures"]


class SignatureStatus(StrEnum):
    VERIFIED = "verified"
    UNKNOWN_KEY = "unknown_key"
    INVALID = "invalid"


def _verify_one(signature: Signature, *, digest: str, governance: Governance) -> SignatureStatus:
    key = governance.active_keys.get((signature.subject, signature.key_id))
    if key is None:
        return SignatureStatus.UNKNOWN_KEY
    statement = approval_statement(
        manifest_digest=digest, subject=signature.subject, role=signature.role
    )
    raw = b64url_decode(signature.signature)  # canonical: checked with the manifest
    try:
        key.verify(raw, statement)
    except InvalidSignature:
        return SignatureStatus.INVALID
    return SignatureStatus.VERIFIED


def verify_signatures(
    signatures: Sequence[Signature], *, digest: str, governance: Governance
) -> tuple[SignatureStatus, ...]:
    """One status per signature, index-aligned with ``signatures``."""
    return tuple(_verify_one(s, digest=digest, governance=governance) for s in signatures)


def sign_manifest(
    document: Mapping[str, Any],
    *,
    private_key: Ed25519PrivateKey,
    subject: str,
    role: str,
    key_id: str,
) -> dict[str, Any]:
    """A copy of ``document`` with one more signature over its approval statement."""
    statement = approval_statement(
        manifest_digest=manifest_digest(document), subject=subject, role=role
    )
    value = b64url_encode(private_key.sign(statement))
    signatures = [
        *(document.get("signatures") or []),
        {
            "subject": subject,
            "role": role,
            "key_id": key_id,
            "alg": "Ed25519",
            "signature": value,
        },
    ]
    return {**document, "signatures": signatures}
