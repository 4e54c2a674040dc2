"""``GET /v1/revocations``: revoked token ids and active holds, signed (JWS)."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from release_gate.api.deps import RuntimeDep, StoreDep, VerifierDep
from release_gate.api.schemas import problem_responses
from release_gate.keys.revocation_list import sign_revocation_list
from release_gate.runtime import Runtime
from release_gate.store import Store

__all__ = ["router"]

router = APIRouter(tags=["tokens"])


def _document(runtime: Runtime, store: Store) -> str:
    now_s = int(time.time())
    return sign_revocation_list(
        key=runtime.signing_key,
        issuer=runtime.settings.issuer,
        revoked=store.revocations.live(now_s=now_s),
        holds=store.holds.active(),
        head=store.decisions.head(),
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
async def revocations(runtime: RuntimeDep, _caller: VerifierDep, store: StoreDep) -> Response:
    document = await run_in_threadpool(_document, runtime, store)
    return Response(
        document,
        media_type="application/jwt",
        headers={"Cache-Control": f"max-age={runtime.settings.revocations_ttl_seconds}"},
    )
