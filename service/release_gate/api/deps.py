"""FastAPI dependencies: the runtime built in the lifespan, injected per request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from release_gate.errors import StoreUnavailable
from release_gate.keys.api_keys import Principal
from release_gate.ops.metrics import Metrics
from release_gate.runtime import Runtime
from release_gate.store import Store

__all__ = [
    "AuditorDep",
    "EvaluatorDep",
    "EvidenceSourceDep",
    "IntakeDep",
    "MetricsDep",
    "ReleaseOwnerDep",
    "RuntimeDep",
    "StoreDep",
    "VerifierDep",
    "get_metrics",
    "get_runtime",
    "get_store",
    "require_role",
]


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def get_store(request: Request) -> Store:
    """The decision store; 503 when the runtime has none (a dry-run runtime)."""
    store = get_runtime(request).store
    if store is None:
        raise StoreUnavailable("no decision store configured")
    return store


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
StoreDep = Annotated[Store, Depends(get_store)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def require_role(role: str) -> Any:
    """A dependency that answers 401/403 unless the caller's API key holds ``role``."""

    def dependency(request: Request) -> Principal:
        runtime = get_runtime(request)
        return runtime.auth.require(request.headers.get("authorization"), role)

    return Depends(dependency)


EvaluatorDep = Annotated[Principal, require_role("evaluator")]
VerifierDep = Annotated[Principal, require_role("verifier")]
AuditorDep = Annotated[Principal, require_role("auditor")]
ReleaseOwnerDep = Annotated[Principal, require_role("release_owner")]
EvidenceSourceDep = Annotated[Principal, require_role("evidence_source")]
IntakeDep = Annotated[Principal, require_role("intake")]
