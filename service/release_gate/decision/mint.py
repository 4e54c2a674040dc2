"""Mint: the approval token of an allow, bound to the exact revision and lane.

Signed in memory here; the decision path releases it only once the decision is
recorded (:mod:`release_gate.decision.decide`).
"""

from __future__ import annotations

from dataclasses import dataclass

from release_gate.decision.manifest import Manifest
from release_gate.decision.signatures import SignatureStatus
from release_gate.keys.tokens import TokenMinter
from release_gate.policy.engine import PolicyEngineError
from release_gate.policy.governance import Governance
from release_gate_client.claims import ApprovalClaims, PolicyRef, Scope, Signer

__all__ = ["Minted", "accepted_objections", "mint"]


@dataclass(frozen=True, slots=True)
class Minted:
    token: str
    expires_at: int


def accepted_objections(manifest: Manifest) -> tuple[str, ...]:
    """Open objections with a residual acceptance, in manifest order."""
    return tuple(
        o.id
        for o in manifest.objections
        if o.status == "open" and o.residual_acceptance is not None
    )


def _valid_signers(
    manifest: Manifest, statuses: tuple[SignatureStatus, ...], governance: Governance
) -> list[Signer]:
    return [
        Signer(subject=s.subject, role=s.role)
        for s, status in zip(manifest.signatures, statuses, strict=True)
        if status is SignatureStatus.VERIFIED and s.role in governance.roles_of(s.subject)
    ]


def mint(
    *,
    minter: TokenMinter,
    governance: Governance,
    decision_id: str,
    manifest: Manifest,
    digest: str,
    statuses: tuple[SignatureStatus, ...],
    policy: PolicyRef,
    issued_at: int,
) -> Minted:
    """Sign the token of an allowed manifest; :class:`PolicyEngineError` if its lane is unknown."""
    lane = governance.lanes.get(manifest.lane)
    if lane is None:
        raise PolicyEngineError(f"the policy allowed lane {manifest.lane!r}, unknown to governance")
    claims = ApprovalClaims.issue(
        iss=minter.issuer,
        aud=manifest.lane,
        sub=f"{manifest.packet.id}@{manifest.packet.revision}",
        iat=issued_at,
        exp=issued_at + lane.token_ttl_seconds,
        jti=decision_id,
        manifest_id=manifest.manifest_id,
        manifest_digest=digest,
        packet_digest=manifest.packet.digest,
        signers=_valid_signers(manifest, statuses, governance),
        accepted_objections=accepted_objections(manifest),
        scope=Scope(audience=tuple(manifest.audience), actions=tuple(manifest.requested_actions)),
        policy=policy,
    )
    return Minted(token=minter.sign(claims), expires_at=claims.exp)
