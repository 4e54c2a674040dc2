"""Intake outcomes: what an intake lane decided about a released token.

``POST /v1/intake-outcomes`` (contract section 9) records one outcome per token,
as an entry of the chain, through the group-commit writer: the ``jti`` of a
recorded allow (else :class:`TokenNotFound`, 404), ``accepted`` or ``returned``
with its findings. The same outcome again records nothing and gives the first
answer; a different one for the same token is :class:`OutcomeConflict` (409).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from release_gate.errors import GateError
from release_gate.store.appender import Appender, Batch
from release_gate.store.chain import Unchained
from release_gate.store.schema import IntakeOutcomeRow
from release_gate.store.state import Needs
from release_gate.timestamps import format_ns

__all__ = ["IntakeOutcome", "OutcomeConflict", "OutcomeRecorded", "OutcomeStore", "TokenNotFound"]


class TokenNotFound(GateError):
    status = 404
    title = "Token not found"
    type_suffix = "token-not-found"


class OutcomeConflict(GateError):
    status = 409
    title = "Outcome already reported"
    type_suffix = "outcome-conflict"


@dataclass(frozen=True, slots=True)
class IntakeOutcome:
    token_id: str
    outcome: str  # "accepted" or "returned"
    findings: tuple[str, ...]
    note: str | None


@dataclass(frozen=True, slots=True)
class OutcomeRecorded:
    outcome_id: str
    lane: str
    created: bool


@dataclass(frozen=True, slots=True)
class _Record:
    outcome: IntakeOutcome
    actor: str
    now_ns: int

    def needs(self) -> Needs:
        return Needs(tokens={self.outcome.token_id})

    def apply(self, batch: Batch) -> OutcomeRecorded:
        o, state = self.outcome, batch.state
        lane = state.token_lanes.get(o.token_id)
        if lane is None:
            raise TokenNotFound(f"no recorded approval has token {o.token_id}")
        earlier = state.outcomes.get(o.token_id)
        if earlier is not None:
            same = (
                earlier["outcome"] == o.outcome
                and sorted(json.loads(earlier["findings"])) == sorted(o.findings)
                and earlier["note"] == o.note
            )
            if not same:
                raise OutcomeConflict(
                    f"token {o.token_id} already has the outcome {earlier['outcome']} "
                    f"(reported {earlier['at']}); one outcome per token"
                )
            return OutcomeRecorded(earlier["outcome_id"], lane, False)
        row = self._row(lane, state.token_released[o.token_id])
        batch.chain(Unchained.of(IntakeOutcomeRow, row))
        state.outcomes[o.token_id] = row
        return OutcomeRecorded(row["outcome_id"], lane, True)

    def _row(self, lane: str, released_at_ns: int) -> dict[str, Any]:
        o = self.outcome
        return {
            "outcome_id": str(uuid.uuid4()),
            "token_id": o.token_id,
            "lane": lane,
            "released_at_ns": released_at_ns,
            "outcome": o.outcome,
            "findings": json.dumps(list(o.findings)),
            "note": o.note,
            "actor": self.actor,
            "at": format_ns(self.now_ns),
            "at_ns": self.now_ns,
        }


class OutcomeStore:
    def __init__(self, appender: Appender) -> None:
        self._appender = appender

    def record(self, outcome: IntakeOutcome, *, actor: str, now_ns: int) -> OutcomeRecorded:
        """Record ``outcome`` (or find it recorded); raises its refusal (404, 409)."""
        recorded: OutcomeRecorded = self._appender.append(_Record(outcome, actor, now_ns))
        return recorded
