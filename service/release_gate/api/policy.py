"""``GET /v1/policy``: which policy decides, and its rules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from release_gate.api.deps import RuntimeDep
from release_gate.api.schemas import PolicyOut, problem_responses
from release_gate.policy.governance import GovernanceError

__all__ = ["router"]

router = APIRouter(tags=["policy"])


@router.get(
    "/v1/policy",
    response_model=PolicyOut,
    response_model_exclude_unset=True,
    responses=problem_responses(503),
)
async def policy(runtime: RuntimeDep) -> PolicyOut:
    served = runtime.policy  # read once: every field below is of one revision
    if served is None:
        raise GovernanceError(runtime.load_error or "policies are not loaded")
    rules = [
        {
            "code": r.code,
            "title": r.title,
            "description": r.description,
            "solution": r.solution,
            "level": r.level,
            "effective_on": r.effective_on,
        }
        for _, r in sorted(served.rules.by_code.items())
    ]
    body: dict[str, Any] = {
        "engine": served.engine.name,
        "revision": served.revision,
        "digest": served.digest,
        "rules": rules,
    }
    if runtime.reload_error is not None:  # absent while the last reload succeeded
        body["reload_error"] = runtime.reload_error.to_wire()
    return PolicyOut.model_validate(body)
