"""Governance data (contract section 2): the trust store and the lane rules.

Loaded from the policy bundle (``data.governance``) and checked before use.
Errors here are governance errors: ``serve`` stays up but answers 503 naming
the error, and the CLI exits 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from release_gate.errors import ServiceUnavailable
from release_gate_client.b64url import b64url_decode

__all__ = [
    "MAX_AGE_LIMIT_SECONDS",
    "Governance",
    "GovernanceError",
    "Lane",
    "SignerKey",
    "SignerRecord",
    "load_governance",
]

#: Policy input ages are clamped to 4e18 ns; a maximum age must stay below it.
MAX_AGE_LIMIT_SECONDS = 4_000_000_000

#: The contract's values, used when the governance data does not set them: contract
#: section 2 lists only ``signers`` and ``lanes``, so data with nothing else must load.
DEFAULT_RELEASE_OWNER_ROLE = "support_release_owner"
DEFAULT_FUTURE_TOLERANCE_SECONDS = 60


class GovernanceError(ServiceUnavailable):
    """The governance data is unusable; no decision can be made with it."""

    title = "Governance data invalid"
    type_suffix = "governance-invalid"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SignerKey(_Strict):
    key_id: str = Field(min_length=1)
    alg: Literal["Ed25519"]
    public_key: str
    status: Literal["active", "revoked"]


class SignerRecord(_Strict):
    kind: Literal["human", "agent"] = "human"
    roles: list[str]
    keys: list[SignerKey]


class Lane(_Strict):
    required_roles: list[str]
    allowed_audience: list[str]
    allowed_actions: list[str]
    required_evidence_sources: list[str]
    max_evidence_age_seconds: dict[str, Annotated[int, Field(ge=0, le=MAX_AGE_LIMIT_SECONDS)]]
    distinct_signers: bool
    token_ttl_seconds: Annotated[int, Field(ge=1, le=7 * 86400)]


class _GovernanceDoc(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    release_owner_role: str = Field(default=DEFAULT_RELEASE_OWNER_ROLE, min_length=1)
    future_tolerance_seconds: Annotated[int, Field(ge=0, le=86400)] = (
        DEFAULT_FUTURE_TOLERANCE_SECONDS
    )
    signers: dict[str, SignerRecord]
    lanes: dict[str, Lane]


@dataclass(frozen=True, slots=True)
class Governance:
    """Validated governance data plus the decoded keys.

    ``active_keys`` verify signatures; ``key_bytes`` holds the raw 32 bytes of every
    key, active or revoked, under ``(subject, key_id)``. Compare keys by these
    bytes, never by the text of ``SignerKey.public_key``.
    """

    release_owner_role: str
    signers: dict[str, SignerRecord]
    lanes: dict[str, Lane]
    active_keys: dict[tuple[str, str], Ed25519PublicKey]
    key_bytes: Mapping[tuple[str, str], bytes]

    def roles_of(self, subject: str) -> frozenset[str]:
        record = self.signers.get(subject)
        return frozenset(record.roles) if record else frozenset()


def _decode_key(subject: str, key: SignerKey) -> bytes:
    """The key's 32 bytes. One key has exactly one accepted text (the strict decoder)."""
    try:
        raw = b64url_decode(key.public_key)
        if len(raw) != 32:
            raise ValueError("not 32 bytes")
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise GovernanceError(
            f"governance: signer {subject!r} key {key.key_id!r} is not a raw Ed25519 key "
            "in canonical unpadded base64url (43 characters, unused trailing bits zero)"
        ) from exc
    return raw


def _keys(doc: _GovernanceDoc) -> dict[tuple[str, str], bytes]:
    """Every key's bytes; refuses a key_id twice under a subject, or one key listed twice.

    One key under two entries would let a revoked entry live on as an active one, or
    one key holder sign as two subjects; compared as bytes, so no re-encoding hides it.
    """
    found: dict[tuple[str, str], bytes] = {}
    owner: dict[bytes, tuple[str, str]] = {}
    for subject, record in doc.signers.items():
        for key in record.keys:
            where = (subject, key.key_id)
            if where in found:
                raise GovernanceError(
                    f"governance: signer {subject!r} has two keys with key_id {key.key_id!r}"
                )
            raw = found[where] = _decode_key(subject, key)
            if raw in owner:
                other_subject, other_id = owner[raw]
                raise GovernanceError(
                    f"governance: signer {subject!r} key {key.key_id!r} is the same key as "
                    f"signer {other_subject!r} key {other_id!r}: list each key once"
                )
            owner[raw] = where
    return found


def _check(doc: _GovernanceDoc) -> dict[tuple[str, str], bytes]:
    keys = _keys(doc)
    for lane_id, lane in doc.lanes.items():
        for source in lane.required_evidence_sources:
            if source not in lane.max_evidence_age_seconds:
                raise GovernanceError(
                    f"governance: lane {lane_id!r} requires evidence source {source!r} "
                    "but sets no maximum age for it"
                )
    return keys


def load_governance(data: Any) -> Governance:
    """Validate ``data.governance``; raise :class:`GovernanceError` naming the problem."""
    try:
        doc = _GovernanceDoc.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise GovernanceError(f"governance: {where}: {first['msg']}") from exc
    keys = _check(doc)
    active = {
        (subject, key.key_id): Ed25519PublicKey.from_public_bytes(keys[(subject, key.key_id)])
        for subject, record in doc.signers.items()
        for key in record.keys
        if key.status == "active"
    }
    return Governance(
        release_owner_role=doc.release_owner_role,
        signers=dict(doc.signers),
        lanes=dict(doc.lanes),
        active_keys=active,
        key_bytes=keys,
    )
