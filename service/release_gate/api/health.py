"""``/healthz`` (the process answers), ``/readyz`` (it can decide), ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from release_gate.api.deps import MetricsDep, RuntimeDep
from release_gate.api.schemas import MetricsResponse, ReadyOut
from release_gate.errors import GateError

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _checks(runtime: Any) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    if runtime.drain.active:
        checks["drain"] = {"ok": False, "detail": "shutting down (SIGTERM)"}
    try:
        with runtime.serving() as policy:
            status = policy.engine.status()
        checks["policy"] = {
            "ok": status.ready,
            "detail": status.detail,
            "engine": policy.engine.name,
            **dict(status.extra),
        }
    except GateError as exc:
        checks["policy"] = {"ok": False, "detail": exc.detail}
    try:
        if runtime.store is None:
            raise GateError("no decision store configured")
        runtime.store.ping()
        checks["store"] = {"ok": True, "backend": runtime.store.backend}
    except GateError as exc:
        checks["store"] = {"ok": False, "detail": exc.detail}
    return checks


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "not ready, or draining"}},
    summary="Readiness: policies loaded, engine and store reachable, not draining",
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks = await run_in_threadpool(_checks, runtime)
    ready = all(c["ok"] for c in checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "unavailable", "checks": checks}
    if runtime.reload_error is not None:  # the previous policy still serves (contract section 8)
        body["reload_error"] = runtime.reload_error.to_wire()
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=MetricsResponse, summary="Prometheus metrics")
async def metrics(metrics: MetricsDep) -> Response:
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
