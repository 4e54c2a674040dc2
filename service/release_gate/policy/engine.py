"""The policy engine interface: policy input in, policy result out.

Two implementations pass the same test suite: :mod:`release_gate.policy.embedded`
(regorus, in-process) and :mod:`release_gate.policy.opa` (a real OPA server).

An engine never decides anything by itself and never fails open: every engine
error, timeout or undefined result raises :class:`PolicyEngineError`, which the
API turns into a 503 without a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from release_gate.errors import ServiceUnavailable
from release_gate_client.models import Violation

__all__ = [
    "ENTRY_POINT",
    "EngineStatus",
    "PolicyEngine",
    "PolicyEngineError",
    "PolicyResult",
    "parse_policy_result",
]

#: The rule every engine evaluates. Its value is
#: ``{"allow": bool, "violations": [...], "warnings": [...]}``.
ENTRY_POINT = "data.release.gate.decision"


class PolicyEngineError(ServiceUnavailable):
    """The engine could not produce a decision (error, timeout, undefined result)."""

    status = 503
    title = "Policy engine unavailable"
    type_suffix = "engine-unavailable"


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """What the policy decided, plus the digest of the policy that decided it."""

    allow: bool
    violations: tuple[Violation, ...]
    warnings: tuple[Violation, ...]
    policy_revision: str
    policy_digest: str


@dataclass(frozen=True, slots=True)
class EngineStatus:
    ready: bool
    detail: str
    extra: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class PolicyEngine(Protocol):
    """Evaluates :data:`ENTRY_POINT` for one policy input.

    Implementations are safe to call from several threads at once.
    """

    name: str

    def evaluate(self, policy_input_json: str) -> PolicyResult:
        """Evaluate the decision for ``policy_input_json`` (the input as JSON text).

        Raises :class:`PolicyEngineError` on any failure, including an undefined
        or malformed result.
        """
        ...

    def status(self) -> EngineStatus:
        """Readiness: can this engine evaluate right now, and with which policy?"""
        ...

    def close(self) -> None:
        """Release connections and threads."""
        ...


def _violations(value: Any, what: str) -> tuple[Violation, ...]:
    if not isinstance(value, list):
        raise PolicyEngineError(f"policy result {what} is not an array")
    out: list[Violation] = []
    for item in value:
        if not isinstance(item, dict):
            raise PolicyEngineError(f"policy result {what} holds a non-object")
        code, message, path = item.get("code"), item.get("message"), item.get("path")
        if not (isinstance(code, str) and isinstance(message, str) and isinstance(path, str)):
            raise PolicyEngineError(f"policy result {what} entry lacks code, message or path")
        out.append(Violation(code=code, message=message, path=path))
    out.sort(key=lambda v: (v.code, v.path, v.message))
    return tuple(out)


def parse_policy_result(value: Any, *, policy_revision: str, policy_digest: str) -> PolicyResult:
    """Check the shape of a decision value and fail closed on anything unexpected.

    ``allow`` must be the JSON boolean ``true`` *and* there must be no violation;
    anything else (undefined, ``1.0``, a string) is either a deny or an error.
    """
    if value is None:
        raise PolicyEngineError(f"{ENTRY_POINT} is undefined")
    if not isinstance(value, dict):
        raise PolicyEngineError(f"{ENTRY_POINT} is not an object")
    allow = value.get("allow")
    if not isinstance(allow, bool):
        raise PolicyEngineError(f"{ENTRY_POINT}.allow is not a boolean")
    violations = _violations(value.get("violations"), "violations")
    warnings = _violations(value.get("warnings", []), "warnings")
    if allow and violations:
        raise PolicyEngineError(f"{ENTRY_POINT} allows with violations present")
    return PolicyResult(
        allow=allow and not violations,
        violations=violations,
        warnings=warnings,
        policy_revision=policy_revision,
        policy_digest=policy_digest,
    )
