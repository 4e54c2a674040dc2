"""The signed revocation list served at ``GET /v1/revocations`` (docs/audit.md).

A compact JWS, header ``{alg: EdDSA, typ: release-revocations+jwt, kid}``,
signed with the gate's token key, claims::

    {iss, iat, next_update,
     revoked: [{jti, exp, reason, packet_id, revision, lane, revoked_at}],
     holds:   [{hold_id, packet_id, revision, lane, reason, placed_by, placed_at}],
     chain_head: {seq, hash}}

``revoked`` lists tokens not yet expired; ``holds`` the active ones. Offline
verifiers (``release_gate_client.RevocationList``) cache it until
``next_update`` and refuse to use it after. ``chain_head`` anchors the audit
log: keep the documents and a rewritten chain shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jwt

from release_gate.keys.signing import SigningKey
from release_gate.store import ChainHeadState

__all__ = ["REVOCATIONS_TYPE", "sign_revocation_list"]

REVOCATIONS_TYPE = "release-revocations+jwt"


def sign_revocation_list(
    *,
    key: SigningKey,
    issuer: str,
    revoked: Sequence[dict[str, Any]],
    holds: Sequence[dict[str, Any]],
    head: ChainHeadState,
    now_s: int,
    ttl_seconds: int,
) -> str:
    claims = {
        "iss": issuer,
        "iat": now_s,
        "next_update": now_s + ttl_seconds,
        "revoked": list(revoked),
        "holds": list(holds),
        "chain_head": {"seq": head.seq, "hash": head.hash},
    }
    headers = {"typ": REVOCATIONS_TYPE, "kid": key.kid}
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers=headers)
