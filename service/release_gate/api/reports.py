"""``GET /v1/reports/lanes/{lane}``: how one lane's releases went (contract section 9).

For the people running the workflow: decisions and what blocked them, the
agent boundary, the time and denials from a packet's first attempt to its
approval, what the intake lane reported back, revocations and failed
verifications, for one lane in a window (``since`` inclusive, ``until``
exclusive, default the last 30 days). Aggregates read by the store
(:mod:`release_gate.store.reports`); a lane the governance data does not
define is a 404.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from release_gate.api.deps import AuditorDep, RuntimeDep, StoreDep
from release_gate.api.schemas import problem_responses
from release_gate.policy.governance import GovernanceError
from release_gate.runtime import Runtime
from release_gate.store.reports import LaneNotFound, lane_report, window

__all__ = ["check_lane", "router"]

router = APIRouter(tags=["reports"])


def check_lane(runtime: Runtime, lane: str) -> None:
    """A lane the loaded governance data defines (503 while no policy is loaded)."""
    governance = runtime.governance
    if governance is None:
        raise GovernanceError(runtime.load_error or "policies are not loaded")
    if lane not in governance.lanes:
        raise LaneNotFound(f"lane {lane[:128]!r} is not defined in the governance data")


@router.get(
    "/v1/reports/lanes/{lane}",
    responses=problem_responses(400, 401, 403, 404, 503),
    summary="A lane's report: denials, approval time, intake outcomes, revocations",
)
async def report(
    lane: str,
    runtime: RuntimeDep,
    _caller: AuditorDep,
    store: StoreDep,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """``since`` inclusive, ``until`` exclusive (RFC 3339); default the last 30 days."""
    check_lane(runtime, lane)
    asked = window(since, until, now_ns=time.time_ns())
    found = await run_in_threadpool(lane_report, store.db, lane, asked)
    return found.to_wire()
