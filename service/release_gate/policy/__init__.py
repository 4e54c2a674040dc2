"""Policy bundles and the engines that evaluate them."""

from __future__ import annotations

from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.engine import (
    ENTRY_POINT,
    EngineStatus,
    PolicyEngine,
    PolicyEngineError,
    PolicyResult,
    RawViolation,
)

__all__ = [
    "ENTRY_POINT",
    "EngineStatus",
    "PolicyBundle",
    "PolicyEngine",
    "PolicyEngineError",
    "PolicyResult",
    "RawViolation",
    "load_bundle",
]
