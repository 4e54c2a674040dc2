"""``POST /v1/verify``: check an approval token for a lane and a packet digest.

Uses the client package's verifier (one verifier for the gate, the CLI and the
intake lanes) with the gate's own keys: the active key and retired ones. Only
when the signature and every claim pass does it ask the store whether the
token was revoked (a newer approval, a hold, an evidence change, a policy
change): ``token.revoked``.

Every ``valid: false`` is counted for the lane reports (``verify_failures``, by
the lane asked for and the reason) and in ``/metrics``. The lane is the
caller's: one the governance data does not define is counted under
:data:`UNDEFINED_LANE`, so no caller can add lanes to the store. Failing to
count does not change the answer (``valid: false`` either way).
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from release_gate.api.body import read_model
from release_gate.api.deps import MetricsDep, RuntimeDep, StoreDep, VerifierDep
from release_gate.api.schemas import VerifyIn, VerifyOut, json_body, problem_responses
from release_gate.errors import InvalidRequest, StoreUnavailable
from release_gate.runtime import Runtime
from release_gate.store import Store
from release_gate_client.claims import VerifyResult
from release_gate_client.errors import TokenRevoked
from release_gate_client.verify import verify_result

__all__ = ["UNDEFINED_LANE", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["tokens"])

#: The lane a failed verification is counted under when the governance data does not
#: define the lane asked for (not an id, so it is never a lane).
UNDEFINED_LANE = "(undefined lane)"


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
    request: Request,
    runtime: RuntimeDep,
    caller: VerifierDep,
    store: StoreDep,
    metrics: MetricsDep,
) -> JSONResponse:
    req = await read_model(
        request,
        VerifyIn,
        max_bytes=runtime.settings.max_body_bytes,
        max_depth=runtime.settings.max_nesting_depth,
        error=InvalidVerifyRequest,
    )
    caller.require_lane(req.lane, "this verification")
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
    if not result.valid:
        metrics.observe_verify_failure(lane=req.lane, reason=result.reason)
        await run_in_threadpool(_count_failure, runtime, store, req.lane, result.reason)
    return JSONResponse(result.to_dict())


def _count_failure(runtime: Runtime, store: Store, lane: str, reason: str | None) -> None:
    governance = runtime.governance
    defined = governance is not None and lane in governance.lanes
    try:
        store.verify_failures.record(
            lane=lane if defined else UNDEFINED_LANE,
            reason=str(reason),
            now_ns=time.time_ns(),
        )
    except StoreUnavailable as exc:
        logger.warning("a failed verification was not counted: %s", exc.detail)
