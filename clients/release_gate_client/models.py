"""Typed results of the gate's HTTP API (contract section 4), read strictly.

A success body that does not match the contract raises
:class:`~release_gate_client.UnexpectedResponse`: a client that cannot read an
answer must not guess at one (in particular, an ``allow`` without a token or a
``deny`` with one is refused).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

from release_gate_client.claims import ApprovalClaims, PolicyRef, VerifyResult
from release_gate_client.errors import MalformedToken, UnexpectedResponse

__all__ = [
    "FINDINGS",
    "OUTCOMES",
    "Decision",
    "OutcomeReport",
    "PacketRef",
    "Violation",
    "decision_from_json",
    "outcome_report_from_json",
    "verify_result_from_json",
]

#: What an intake lane may report about a token (contract section 9), and why it
#: returned one.
OUTCOMES = ("accepted", "returned")
FINDINGS = (
    "hidden_disagreement",
    "stale_evidence",
    "wrong_audience",
    "out_of_scope_action",
    "other",
)

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Violation:
    """One violation or warning: a stable ``code`` and a JSON Pointer ``path``.

    ``title`` and ``solution`` explain it: the rule's METADATA ``title`` and
    ``custom.solution`` (``""`` where the rule has none). A gate older than
    contract section 8 sends neither; both are then ``""``.
    """

    code: str
    message: str
    path: str
    title: str = ""
    solution: str = ""


@dataclass(frozen=True, slots=True)
class PacketRef:
    """The exact packet revision a decision is about."""

    id: str
    revision: int
    digest: str


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision from ``POST /v1/evaluate``; ``token`` is set exactly when ``allow``."""

    decision_id: str
    allow: bool
    manifest_digest: str
    packet: PacketRef
    lane: str
    policy: PolicyRef
    violations: tuple[Violation, ...]
    warnings: tuple[Violation, ...]
    token: str | None
    evaluated_at: str
    raw: Mapping[str, Any]


def _get(data: Mapping[str, Any], name: str, kind: type[_T], where: str) -> _T:
    value = data.get(name)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise UnexpectedResponse(f"{where}.{name} is not a {kind.__name__}")
    return value


def _optional_str(data: Mapping[str, Any], name: str, where: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise UnexpectedResponse(f"{where}.{name} is not a string or null")
    return value


def _explanation(item: Mapping[str, Any], name: str, where: str) -> str:
    """``title`` or ``solution``: a string, or ``""`` when an older gate omits it."""
    if name not in item:
        return ""
    return _get(item, name, str, where)


def _violations(data: Mapping[str, Any], name: str) -> tuple[Violation, ...]:
    items = _get(data, name, list, "decision")
    result = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise UnexpectedResponse(f"decision.{name}[{index}] is not an object")
        where = f"decision.{name}[{index}]"
        result.append(
            Violation(
                code=_get(item, "code", str, where),
                message=_get(item, "message", str, where),
                path=_get(item, "path", str, where),
                title=_explanation(item, "title", where),
                solution=_explanation(item, "solution", where),
            )
        )
    return tuple(result)


def decision_from_json(data: object) -> Decision:
    """Read a ``/v1/evaluate`` 200 body."""
    if not isinstance(data, dict):
        raise UnexpectedResponse("the decision is not a JSON object")
    packet = _get(data, "packet", dict, "decision")
    policy = _get(data, "policy", dict, "decision")
    decision = Decision(
        decision_id=_get(data, "decision_id", str, "decision"),
        allow=_get(data, "allow", bool, "decision"),
        manifest_digest=_get(data, "manifest_digest", str, "decision"),
        packet=PacketRef(
            id=_get(packet, "id", str, "packet"),
            revision=_get(packet, "revision", int, "packet"),
            digest=_get(packet, "digest", str, "packet"),
        ),
        lane=_get(data, "lane", str, "decision"),
        policy=PolicyRef(
            revision=_optional_str(policy, "revision", "policy"),
            digest=_get(policy, "digest", str, "policy"),
        ),
        violations=_violations(data, "violations"),
        warnings=_violations(data, "warnings"),
        token=_optional_str(data, "token", "decision"),
        evaluated_at=_get(data, "evaluated_at", str, "decision"),
        raw=MappingProxyType(copy.deepcopy(data)),
    )
    if decision.allow != (decision.token is not None):
        raise UnexpectedResponse("a decision carries a token exactly when it allows")
    return decision


def verify_result_from_json(data: object) -> VerifyResult:
    """Read a ``/v1/verify`` 200 body."""
    if not isinstance(data, dict):
        raise UnexpectedResponse("the verify result is not a JSON object")
    valid = _get(data, "valid", bool, "result")
    reason = _optional_str(data, "reason", "result")
    raw_claims = data.get("claims")
    if valid != (reason is None) or valid != (raw_claims is not None):
        raise UnexpectedResponse("a valid result has claims and no reason; else the reverse")
    try:
        claims = ApprovalClaims.from_payload(raw_claims) if valid else None
    except MalformedToken as exc:
        raise UnexpectedResponse(f"the verify result's claims: {exc}") from exc
    return VerifyResult(valid=valid, reason=reason, claims=claims)


@dataclass(frozen=True, slots=True)
class OutcomeReport:
    """The gate's receipt for an intake outcome (``POST /v1/intake-outcomes``).

    ``created`` is false when the gate already had exactly this outcome for the
    token (a retry): nothing new was recorded.
    """

    outcome_id: str
    created: bool


def outcome_report_from_json(data: object, *, created: bool) -> OutcomeReport:
    """Read a ``/v1/intake-outcomes`` 201 (or, for a repeat, 200) body."""
    if not isinstance(data, dict):
        raise UnexpectedResponse("the outcome receipt is not a JSON object")
    return OutcomeReport(outcome_id=_get(data, "outcome_id", str, "receipt"), created=created)
