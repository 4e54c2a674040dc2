"""``GET /.well-known/jwks.json``: the keys that verify approval tokens."""

from __future__ import annotations

from fastapi import APIRouter

from release_gate.api.deps import RuntimeDep
from release_gate.api.schemas import JwkSetResponse, JwksOut
from release_gate.keys.signing import jwks_of

__all__ = ["router"]

router = APIRouter(tags=["tokens"])


JWKS_MAX_AGE = 30


@router.get(
    "/.well-known/jwks.json",
    response_class=JwkSetResponse,
    responses={200: {"model": JwksOut}},
    summary="Public keys of approval tokens (JWKS): the active key, then retired keys "
    "while tokens they signed can still be valid",
)
async def jwks(runtime: RuntimeDep) -> JwkSetResponse:
    document = jwks_of(runtime.verification_keys())
    # Short: a cache in front must not hide a new key for longer than a verifier's own
    # refresh interval (JWKSFetcher's min_refresh_interval, 30 s) after a rotation.
    return JwkSetResponse(document, headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"})
