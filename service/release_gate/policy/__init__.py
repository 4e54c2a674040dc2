"""Policies: the bundle, its governance data, and the engines that evaluate it.

::

    bundle       policies/ read as an OPA bundle, with its digest (policy.bundle)
    governance   data.governance: the trust store and the lanes (policy.governance)
    engine       the PolicyEngine protocol: policy input in, result out (policy.engine)
    embedded     regorus, in-process (policy.embedded)
    opa          a real OPA server (policy.opa); opa_bundle builds and signs its bundle
    metadata     each rule's METADATA: code, title, solution (policy.metadata)
    rego_tests   the Rego unit-test runner behind `release-gate test` (policy.rego_tests)
"""

from __future__ import annotations

from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.engine import (
    ENTRY_POINT,
    EngineStatus,
    PolicyEngine,
    PolicyEngineError,
    PolicyResult,
)

__all__ = [
    "ENTRY_POINT",
    "EngineStatus",
    "PolicyBundle",
    "PolicyEngine",
    "PolicyEngineError",
    "PolicyResult",
    "load_bundle",
]
