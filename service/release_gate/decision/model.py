"""The typed values of the decision path: :class:`Facts` in, :class:`Decision` out.

A :class:`Decision` is the one value every view is derived from: the HTTP
answer (:meth:`Decision.to_wire`, contract section 4), the record in the
decision log (:mod:`release_gate.store.decisions` maps it to its row), the CLI's
output, and, over the wire, the client's ``release_gate_client.Decision``.
:class:`~release_gate_client.Violation`, :class:`~release_gate_client.PacketRef`,
:class:`~release_gate_client.PolicyRef` and :class:`~release_gate_client.Signer`
are the client's own types: one definition on both sides of the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from release_gate_client.claims import PolicyRef, Signer
from release_gate_client.models import PacketRef, Violation

__all__ = [
    "Basis",
    "Decision",
    "Facts",
    "History",
    "Hold",
    "PacketRef",
    "PolicyRef",
    "Signer",
    "Snapshot",
    "Violation",
    "violation_to_wire",
]


def violation_to_wire(violation: Violation) -> dict[str, str]:
    """One item of a decision's ``violations`` or ``warnings`` (contract section 8)."""
    return {
        "code": violation.code,
        "message": violation.message,
        "path": violation.path,
        "title": violation.title,
        "solution": violation.solution,
    }


@dataclass(frozen=True, slots=True)
class History:
    """The packet's approvals in the lane so far."""

    latest_approved_revision: int | None = None
    latest_approved_digest: str | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """An active hold on one revision of the packet (in one lane, or every lane)."""

    hold_id: str
    revision: int
    lane: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The newest material snapshot a source system reported for one piece of evidence
    (``POST /v1/evidence-events``, contract section 9)."""

    source: str
    ref: str
    digest: str
    observed_at: str


@dataclass(frozen=True, slots=True)
class Facts:
    """What the store knows about a packet that the manifest cannot say itself.

    Read before evaluation and again under the chain lock; an allow whose facts
    moved in between is evaluated again (:mod:`release_gate.decision.decide`).
    ``snapshots`` are the newest material snapshots of the evidence the manifest
    cites (only those a source system reported), sorted by source and ref. The
    JSON form is what the decision log keeps; the policy input carries the same
    facts (docs/policy-input.md).
    """

    history: History = History()
    holds: tuple[Hold, ...] = ()
    snapshots: tuple[Snapshot, ...] = ()

    def snapshot(self, source: str, ref: str) -> Snapshot | None:
        return next((s for s in self.snapshots if s.source == source and s.ref == ref), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "history": {
                "latest_approved_revision": self.history.latest_approved_revision,
                "latest_approved_digest": self.history.latest_approved_digest,
            },
            "holds": [
                {"hold_id": h.hold_id, "revision": h.revision, "lane": h.lane, "reason": h.reason}
                for h in self.holds
            ],
            "snapshots": [
                {"source": s.source, "ref": s.ref, "digest": s.digest, "observed_at": s.observed_at}
                for s in self.snapshots
            ],
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Facts:
        history = value["history"]
        return cls(
            history=History(
                latest_approved_revision=history["latest_approved_revision"],
                latest_approved_digest=history["latest_approved_digest"],
            ),
            holds=tuple(
                Hold(
                    hold_id=h["hold_id"], revision=h["revision"], lane=h["lane"], reason=h["reason"]
                )
                for h in value["holds"]
            ),
            snapshots=tuple(Snapshot(**item) for item in value.get("snapshots", ())),
        )


@dataclass(frozen=True, slots=True)
class Basis:
    """What a decision was made on; kept in its record, never on the wire."""

    manifest_id: str
    manifest_text: str
    supersedes_revision: int | None
    accepted_objections: tuple[str, ...]
    facts: Facts
    engine: str
    evaluated_at_ns: int


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision. ``token`` is set exactly when ``allow`` and the decision was
    recorded (never for a dry run, and never read back from the log: tokens are
    not stored); ``token_expires_at`` is its ``exp``."""

    decision_id: str
    allow: bool
    manifest_digest: str
    packet: PacketRef
    lane: str
    policy: PolicyRef
    violations: tuple[Violation, ...]
    warnings: tuple[Violation, ...]
    token: str | None
    token_expires_at: int | None
    evaluated_at: str
    basis: Basis
    timings: Mapping[str, float] = field(default_factory=dict, compare=False)

    @property
    def token_id(self) -> str | None:
        """The token's ``jti`` (the decision id) when the decision minted one."""
        return self.decision_id if self.token_expires_at is not None else None

    @property
    def codes(self) -> list[str]:
        return [v.code for v in self.violations]

    def to_wire(self) -> dict[str, Any]:
        """The contract's decision object (section 4)."""
        return {
            "decision_id": self.decision_id,
            "allow": self.allow,
            "manifest_digest": self.manifest_digest,
            "packet": {
                "id": self.packet.id,
                "revision": self.packet.revision,
                "digest": self.packet.digest,
            },
            "lane": self.lane,
            "policy": {"revision": self.policy.revision, "digest": self.policy.digest},
            "violations": [violation_to_wire(v) for v in self.violations],
            "warnings": [violation_to_wire(v) for v in self.warnings],
            "token": self.token,
            "evaluated_at": self.evaluated_at,
        }
