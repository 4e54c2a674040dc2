"""``POST /v1/verify``: check an approval token for a lane and a packet digest.

Uses the client package's verifier (one verifier for the gate, the CLI and the
intake lanes) with the gate's own keys: the active key and retired ones. Only
when the signature and every claim pass does it ask the store whether the
token was revoked (a newer approval or a hold): ``token.revoked``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from release_gate.api.body import read_model
from release_gate.api.deps import RuntimeDep, StoreDep, VerifierDep
from release_gate.api.schemas import VerifyIn, VerifyOut, json_body, problem_responses
from release_gate.errors import InvalidRequest
from release_gate_client.claims import VerifyResult
from release_gate_client.errors import TokenRevoked
from release_gate_client.verify import verify_result

__all__ = ["router"]

router = APIRouter(tags=["tokens"])


class InvalidVerifyRequest(InvalidRequest):
    title = "Invalid verify request"


@router.post(
    "/v1/verify",
    response_model=VerifyOut,
    responses=problem_responses(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=json_body(VerifyIn),
    summary="Verify an approval token for a lane and packet digest",
)
async def verify(
    request: Request, runtime: RuntimeDep, _caller: VerifierDep, store: StoreDep
) -> JSONResponse:
    req = await read_model(
        request,
        VerifyIn,
        max_bytes=runtime.settings.max_body_bytes,
        max_depth=runtime.settings.max_nesting_depth,
        error=InvalidVerifyRequest,
    )
    result = verify_result(
        req.token,
        keys=runtime.verification_keys(),
        issuer=runtime.settings.issuer,
        audience=req.lane,
        packet_digest=req.packet_digest,
    )
    claims = result.claims
    if claims is not None and await run_in_threadpool(store.revocations.is_revoked, claims.jti):
        result = VerifyResult(valid=False, reason=TokenRevoked.code, claims=None)
    return JSONResponse(result.to_dict())
