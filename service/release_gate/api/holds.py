"""``/v1/holds``: a release owner holds a packet revision, or lifts the hold.

Placing a hold revokes the revision's live tokens and denies new evaluations
(``packet.on_hold``) at every replica until it is lifted. Holds are events in
the chained audit log; lifting appends a ``lifted`` event.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from release_gate.api.body import read_model
from release_gate.api.deps import ReleaseOwnerDep, RuntimeDep, StoreDep
from release_gate.api.schemas import json_body, problem_responses
from release_gate.errors import FieldError, InvalidRequest
from release_gate.policy.governance import GovernanceError
from release_gate.runtime import Runtime
from release_gate.store import HoldNotFound

__all__ = ["router"]

router = APIRouter(tags=["holds"])

_ID = r"^[A-Za-z0-9._:@+-]{1,128}$"


class InvalidHoldRequest(InvalidRequest):
    title = "Invalid hold request"


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000: refused here (422), not a 503 from the store
    if "\x00" in value:
        raise ValueError("reason may not contain U+0000")
    return value


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    packet_id: str = Field(pattern=_ID)
    revision: int = Field(ge=1, le=2**53 - 1)
    lane: str | None = Field(default=None, pattern=_ID)
    reason: Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_no_nul)]


def _check_lane(runtime: Runtime, lane: str) -> None:
    """A hold names a lane the governance data defines (a typo would hold nothing)."""
    if runtime.governance is None:
        raise GovernanceError(
            f"cannot check lane {lane!r}: {runtime.load_error or 'policies are not loaded'}; "
            "a hold without a lane (every lane) can still be placed"
        )
    if lane not in runtime.governance.lanes:
        detail = f"lane {lane!r} is not defined in the governance data"
        raise InvalidHoldRequest(detail, errors=(FieldError("/lane", detail),))


@router.post(
    "/v1/holds",
    status_code=201,
    responses=problem_responses(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=json_body(HoldIn),
    summary="Hold a packet revision: revoke its live tokens, deny new evaluations",
)
async def place_hold(
    request: Request, runtime: RuntimeDep, caller: ReleaseOwnerDep, store: StoreDep
) -> Any:
    req = await read_model(
        request,
        HoldIn,
        max_bytes=runtime.settings.max_body_bytes,
        max_depth=runtime.settings.max_nesting_depth,
        error=InvalidHoldRequest,
    )
    if req.lane is not None:
        _check_lane(runtime, req.lane)
    hold = await run_in_threadpool(
        lambda: store.holds.place(
            packet_id=req.packet_id,
            revision=req.revision,
            lane=req.lane,
            reason=req.reason,
            actor=caller.name,
            now_ns=time.time_ns(),
        )
    )
    return JSONResponse(hold, status_code=201, headers={"Location": f"/v1/holds/{hold['hold_id']}"})


@router.delete(
    "/v1/holds/{hold_id}",
    responses=problem_responses(401, 403, 404, 409, 503),
    summary="Lift a hold",
)
async def lift_hold(hold_id: str, caller: ReleaseOwnerDep, store: StoreDep) -> Any:
    try:
        canonical = str(uuid.UUID(hold_id))
    except ValueError as exc:
        raise HoldNotFound(f"no hold {hold_id[:64]!r}") from exc
    return await run_in_threadpool(
        lambda: store.holds.lift(canonical, actor=caller.name, now_ns=time.time_ns())
    )


@router.get("/v1/holds", responses=problem_responses(401, 403, 503), summary="Active holds")
async def list_holds(_caller: ReleaseOwnerDep, store: StoreDep) -> Any:
    return {"holds": await run_in_threadpool(store.holds.active)}
