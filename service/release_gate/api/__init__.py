"""HTTP API: one router per resource."""

from __future__ import annotations

from release_gate.api.decisions import router as decisions_router
from release_gate.api.evaluate import router as evaluate_router
from release_gate.api.evidence import router as evidence_router
from release_gate.api.health import router as health_router
from release_gate.api.holds import router as holds_router
from release_gate.api.keys import router as keys_router
from release_gate.api.outcomes import router as outcomes_router
from release_gate.api.policy import router as policy_router
from release_gate.api.reports import router as reports_router
from release_gate.api.revocations import router as revocations_router
from release_gate.api.verify import router as verify_router

__all__ = ["ROUTERS"]

ROUTERS = (
    evaluate_router,
    verify_router,
    revocations_router,
    holds_router,
    evidence_router,
    outcomes_router,
    decisions_router,
    reports_router,
    policy_router,
    keys_router,
    health_router,
)
