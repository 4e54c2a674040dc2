"""``POST /v1/verify``: check an approval token for a lane and a packet digest.

Uses the client package's verifier (one verifier for the gate, the CLI and the
intake lanes) with the gate's own keys: the active key and retired ones. Only
when the signature and every claim pass does it ask the store whether the
token was revoked (a newer approval or a hold): ``token.revoked``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from release_gate.api.body import read_body
from release_gate.api.deps import RuntimeDep, VerifierDep
from release_gate.api.schemas import VerifyIn, VerifyOut, json_body, problem_responses
from release_gate.errors import FieldError, InvalidManifest
from release_gate.ijson import parse_ijson
from release_gate.manifest import json_pointer
from release_gate.runtime import Runtime
from release_gate.store import StoreUnavailable
from release_gate_client.claims import VerifyResult
from release_gate_client.errors import TokenRevoked
from release_gate_client.verify import verify_result

__all__ = ["router"]

router = APIRouter(tags=["tokens"])


class InvalidVerifyRequest(InvalidManifest):
    title = "Invalid verify request"
    type_suffix = "invalid-request"


def _parse(body: bytes, max_depth: int) -> VerifyIn:
    document = parse_ijson(body, max_depth=max_depth)
    try:
        return VerifyIn.model_validate(document)
    except ValidationError as exc:
        errors = tuple(
            FieldError(json_pointer(list(e["loc"])), e["msg"])
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise InvalidVerifyRequest("invalid verify request", errors=errors) from exc


@router.post(
    "/v1/verify",
    response_model=VerifyOut,
    responses=problem_responses(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=json_body(VerifyIn),
    summary="Verify an approval token for a lane and packet digest",
)
async def verify(request: Request, runtime: RuntimeDep, _caller: VerifierDep) -> JSONResponse:
    body = await read_body(request, max_bytes=runtime.settings.max_body_bytes)
    req = _parse(body, runtime.settings.max_nesting_depth)
    result = verify_result(
        req.token,
        keys=runtime.verification_keys(),
        issuer=runtime.settings.issuer,
        audience=req.lane,
        packet_digest=req.packet_digest,
    )
    if result.claims is not None and await run_in_threadpool(_revoked, runtime, result.claims.jti):
        result = VerifyResult(valid=False, reason=TokenRevoked.code, claims=None)
    return JSONResponse(result.to_dict())


def _revoked(runtime: Runtime, jti: str) -> bool:
    if runtime.store is None:
        raise StoreUnavailable("no decision store: revocations cannot be checked")
    return runtime.store.revocations.is_revoked(jti)
