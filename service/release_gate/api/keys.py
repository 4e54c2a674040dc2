"""``GET /.well-known/jwks.json``: the keys that verify approval tokens."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from release_gate.api.deps import RuntimeDep
from release_gate.keys import jwks_document

__all__ = ["router"]

router = APIRouter(tags=["tokens"])


@router.get("/.well-known/jwks.json", summary="Public keys of approval tokens (JWKS)")
async def jwks(runtime: RuntimeDep) -> JSONResponse:
    document = jwks_document(runtime.verification_keys())
    return JSONResponse(
        document,
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )
