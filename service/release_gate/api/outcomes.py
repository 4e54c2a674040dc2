"""``POST /v1/intake-outcomes``: an intake lane reports what it decided about a token.

One outcome per token (contract section 9): ``accepted`` (no findings), or
``returned`` with at least one finding (``hidden_disagreement``,
``stale_evidence``, ``wrong_audience``, ``out_of_scope_action``, ``other``).
The token is the ``jti`` of a recorded allow (else 404); the same outcome again
is a 200 with the first answer, a different one a 409. The outcome is an entry
of the chained log, read by the lane reports (``intake``) and the packet pages.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from starlette.concurrency import run_in_threadpool

from release_gate.api.body import read_model
from release_gate.api.deps import IntakeDep, MetricsDep, RuntimeDep, StoreDep
from release_gate.api.schemas import json_body, no_nul, problem_responses
from release_gate.decision.manifest import Text
from release_gate.errors import InvalidRequest
from release_gate.store.outcomes import IntakeOutcome, TokenNotFound

__all__ = ["router"]

router = APIRouter(tags=["intake"])

Finding = Literal[
    "hidden_disagreement", "stale_evidence", "wrong_audience", "out_of_scope_action", "other"
]


class InvalidIntakeOutcome(InvalidRequest):
    title = "Invalid intake outcome"
    type_suffix = "invalid-intake-outcome"


class IntakeOutcomeIn(BaseModel):
    """``{token_id, outcome, findings, note?}`` (contract section 9)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    token_id: Annotated[str, Field(max_length=128)]
    outcome: Literal["accepted", "returned"]
    findings: Annotated[list[Finding], Field(max_length=5)]
    note: Annotated[Text, AfterValidator(no_nul)] | None = None

    @field_validator("findings")
    @classmethod
    def _fit_the_outcome(cls, findings: list[str], info: ValidationInfo) -> list[str]:
        if len(set(findings)) != len(findings):
            raise ValueError("findings must be distinct")
        outcome = info.data.get("outcome")
        if outcome == "accepted" and findings:
            raise ValueError("an accepted outcome has no findings")
        if outcome == "returned" and not findings:
            raise ValueError("a returned outcome names at least one finding")
        return findings


class IntakeOutcomeOut(BaseModel):
    outcome_id: str


def _token_id(value: str) -> str:
    """The canonical form of a token id (a UUID); anything else names no token (404)."""
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise TokenNotFound(f"no recorded approval has token {value[:64]!r}") from exc


@router.post(
    "/v1/intake-outcomes",
    status_code=201,
    response_model=IntakeOutcomeOut,
    responses={
        200: {"model": IntakeOutcomeOut, "description": "the same outcome again: first answer"},
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
    },
    openapi_extra=json_body(IntakeOutcomeIn),
    summary="Report what the intake lane decided about a token: accepted, or returned",
)
async def report_outcome(
    request: Request,
    runtime: RuntimeDep,
    caller: IntakeDep,
    store: StoreDep,
    metrics: MetricsDep,
) -> Any:
    req = await read_model(
        request,
        IntakeOutcomeIn,
        max_bytes=runtime.settings.max_body_bytes,
        max_depth=runtime.settings.max_nesting_depth,
        error=InvalidIntakeOutcome,
    )
    token_id = _token_id(req.token_id)
    if caller.lanes is not None:  # a key tied to lanes reports for their tokens only
        record = await run_in_threadpool(store.decisions.get_by_token, token_id)
        if record is None:
            raise TokenNotFound(f"no recorded approval has token {token_id!r}")
        caller.require_lane(record.decision.lane, "this token")
    outcome = IntakeOutcome(
        token_id=token_id,
        outcome=req.outcome,
        findings=tuple(req.findings),
        note=req.note,
    )
    recorded = await run_in_threadpool(
        lambda: store.outcomes.record(outcome, actor=caller.name, now_ns=time.time_ns())
    )
    if recorded.created:
        metrics.observe_intake_outcome(
            lane=recorded.lane, outcome=req.outcome, findings=req.findings
        )
    return JSONResponse(
        {"outcome_id": recorded.outcome_id}, status_code=201 if recorded.created else 200
    )
