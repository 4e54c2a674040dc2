"""FastAPI dependencies: the runtime built in the lifespan, injected per request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from release_gate.metrics import Metrics
from release_gate.runtime import Runtime

__all__ = ["MetricsDep", "RuntimeDep", "get_metrics", "get_runtime"]


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
