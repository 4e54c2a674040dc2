"""``GET /v1/policy``: which policy decides, and its rules."""

from __future__ import annotations

from fastapi import APIRouter

from release_gate.api.deps import RuntimeDep
from release_gate.api.schemas import PolicyOut, problem_responses
from release_gate.policy.governance import GovernanceError

__all__ = ["router"]

router = APIRouter(tags=["policy"])


@router.get("/v1/policy", response_model=PolicyOut, responses=problem_responses(503))
async def policy(runtime: RuntimeDep) -> PolicyOut:
    if runtime.bundle is None or runtime.rules is None or runtime.engine is None:
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
        for _, r in sorted(runtime.rules.by_code.items())
    ]
    return PolicyOut.model_validate(
        {
            "engine": runtime.engine.name,
            "revision": runtime.bundle.revision,
            "digest": runtime.bundle.digest,
            "rules": rules,
        }
    )
