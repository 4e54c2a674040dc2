"""``POST /v1/evaluate``: one manifest in, one recorded decision out."""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from release_gate.api.body import read_body
from release_gate.api.deps import EvaluatorDep, MetricsDep, RuntimeDep
from release_gate.api.schemas import MANIFEST_REF, DecisionOut, problem_responses
from release_gate.errors import GateError, ServiceUnavailable

__all__ = ["router"]

logger = logging.getLogger(__name__)


class Draining(ServiceUnavailable):
    title = "Shutting down"
    type_suffix = "draining"


router = APIRouter(tags=["decisions"])

_MANIFEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": MANIFEST_REF}},
    }
}


@router.post(
    "/v1/evaluate",
    response_model=DecisionOut,
    responses=problem_responses(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=_MANIFEST_BODY,
    summary="Decide whether a manifest's packet revision may enter its lane",
)
async def evaluate(
    request: Request, runtime: RuntimeDep, metrics: MetricsDep, _caller: EvaluatorDep
) -> JSONResponse:
    try:
        if runtime.drain.active:
            raise Draining("the gate is shutting down; send the evaluation to another replica")
        body = await read_body(request, max_bytes=runtime.settings.max_body_bytes)
        with runtime.serving() as policy:  # a reload meanwhile: this one ends on its revision
            started = time.perf_counter()
            decision = await run_in_threadpool(policy.gate.evaluate, body)
    except GateError as exc:
        metrics.observe_failure("invalid" if exc.status < 500 else "error")
        raise
    metrics.observe_decision(
        allow=decision.allow,
        codes=decision.codes,
        seconds=time.perf_counter() - started,
        stages=decision.timings,
    )
    metrics.observe_warnings(w.code for w in decision.warnings)
    logger.info(
        "decision %s allow=%s packet=%s@%s lane=%s violations=%s warnings=%s",
        decision.decision_id,
        decision.allow,
        decision.packet.id,
        decision.packet.revision,
        decision.lane,
        ",".join(decision.codes) or "-",
        ",".join(w.code for w in decision.warnings) or "-",
    )
    return JSONResponse(decision.to_wire())
