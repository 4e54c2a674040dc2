"""``POST /v1/evidence-events``: a source system says a piece of evidence changed.

The system that owns the evidence (incident timeline, case management,
entitlement, account review, contract guidance) reports that ``ref``'s
snapshot is now ``digest``, as observed at ``observed_at`` (contract section
9). The event is an entry of the chained log. A *material* event observed
later than any earlier material one for its ``{source, ref}`` revokes every
live approval citing another snapshot of it (``evidence.changed``), and from
then on a manifest citing another snapshot is denied (``evidence.superseded``).
The same ``{source, ref, digest}`` again records nothing: 200 with the first
answer. What is recorded and revoked is the store's
(:mod:`release_gate.store.evidence`); this route checks the body and answers.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from release_gate.api.body import read_model
from release_gate.api.deps import EvidenceSourceDep, MetricsDep, RuntimeDep, StoreDep
from release_gate.api.schemas import json_body, no_nul, problem_responses
from release_gate.decision.manifest import Digest, Id, Text, Timestamp
from release_gate.errors import FieldError, InvalidRequest
from release_gate.policy.governance import DEFAULT_FUTURE_TOLERANCE_SECONDS
from release_gate.runtime import Runtime
from release_gate.store.evidence import EvidenceEvent, EvidenceRecorded
from release_gate.timestamps import parse_timestamp_ns

__all__ = ["router"]

router = APIRouter(tags=["evidence"])


class InvalidEvidenceEvent(InvalidRequest):
    title = "Invalid evidence event"
    type_suffix = "invalid-evidence-event"


class EvidenceEventIn(BaseModel):
    """``{source, ref, digest, observed_at, material, note?}`` (contract section 9)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    source: Id
    ref: Annotated[Text, AfterValidator(no_nul)]
    digest: Digest
    observed_at: Timestamp
    material: bool
    note: Annotated[Text, AfterValidator(no_nul)] | None = None


class EvidenceEventOut(BaseModel):
    event_id: str
    revoked_tokens: list[str]


def _check_not_ahead(runtime: Runtime, observed_at: str, now_ns: int) -> None:
    """An observation from the future would stay the newest until then, and deny every
    other snapshot: refused beyond the governance data's future tolerance (60 s)."""
    tolerance = DEFAULT_FUTURE_TOLERANCE_SECONDS
    if runtime.bundle is not None and runtime.governance is not None:  # validated data
        value = runtime.bundle.governance.get("future_tolerance_seconds", tolerance)
        tolerance = value if type(value) is int else tolerance
    if parse_timestamp_ns(observed_at) - now_ns > tolerance * 1_000_000_000:
        detail = f"observed_at is more than {tolerance} s after the gate's clock"
        raise InvalidEvidenceEvent(detail, errors=(FieldError("/observed_at", detail),))


def _result(recorded: EvidenceRecorded) -> str:
    if not recorded.created:
        return "repeat"
    return "newest" if recorded.newest else "recorded"


@router.post(
    "/v1/evidence-events",
    status_code=201,
    response_model=EvidenceEventOut,
    responses={
        200: {"model": EvidenceEventOut, "description": "the same snapshot again: first answer"},
        **problem_responses(400, 401, 403, 413, 415, 422, 503),
    },
    openapi_extra=json_body(EvidenceEventIn),
    summary="Report an evidence snapshot; a material change revokes approvals citing another",
)
async def record_evidence_event(
    request: Request,
    runtime: RuntimeDep,
    caller: EvidenceSourceDep,
    store: StoreDep,
    metrics: MetricsDep,
) -> Any:
    req = await read_model(
        request,
        EvidenceEventIn,
        max_bytes=runtime.settings.max_body_bytes,
        max_depth=runtime.settings.max_nesting_depth,
        error=InvalidEvidenceEvent,
    )
    caller.require_source(req.source)
    now_ns = time.time_ns()
    _check_not_ahead(runtime, req.observed_at, now_ns)
    event = EvidenceEvent(
        source=req.source,
        ref=req.ref,
        digest=req.digest,
        observed_at=req.observed_at,
        material=req.material,
        note=req.note,
    )
    recorded = await run_in_threadpool(
        lambda: store.evidence.record(event, actor=caller.name, now_ns=now_ns)
    )
    metrics.observe_evidence_event(source=req.source, result=_result(recorded))
    body = {"event_id": recorded.event_id, "revoked_tokens": recorded.revoked_tokens}
    return JSONResponse(body, status_code=201 if recorded.created else 200)
