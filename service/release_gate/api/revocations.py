"""``GET /v1/revocations``: revoked token ids and active holds, signed (JWS)."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from release_gate.api.deps import RuntimeDep, VerifierDep
from release_gate.api.schemas import problem_responses
from release_gate.revocation_list import sign_revocation_list
from release_gate.runtime import Runtime
from release_gate.store import StoreUnavailable

__all__ = ["router"]

router = APIRouter(tags=["tokens"])


def _document(runtime: Runtime) -> str:
    if runtime.store is None:
        raise StoreUnavailable("no decision store configured")
    now_s = int(time.time())
    return sign_revocation_list(
        key=runtime.signing_key,
        issuer=runtime.settings.issuer,
        revoked=runtime.store.revocations.live(now_s=now_s),
        holds=runtime.store.holds.active(),
        head=runtime.store.decisions.head(),
        now_s=now_s,
        ttl_seconds=runtime.settings.revocations_ttl_seconds,
    )


@router.get(
    "/v1/revocations",
    responses={
        200: {"content": {"application/jwt": {}}, "description": "a compact JWS"},
        **problem_responses(401, 403, 503),
    },
    summary="Revoked token ids and active holds, as a JWS signed with the token key",
)
async def revocations(runtime: RuntimeDep, _caller: VerifierDep) -> Response:
    document = await run_in_threadpool(_document, runtime)
    return Response(
        document,
        media_type="application/jwt",
        headers={"Cache-Control": f"max-age={runtime.settings.revocations_ttl_seconds}"},
    )
