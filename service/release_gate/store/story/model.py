"""The packet story's values: one frozen entry type per kind of thing that happened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from release_gate.store.decisions import DecisionRecord

__all__ = [
    "AcceptanceEntry",
    "AcceptedDisagreement",
    "EvidenceEventEntry",
    "HoldEntry",
    "OutcomeEntry",
    "PacketPage",
    "PacketStory",
    "PacketSummary",
    "RevisionEntry",
    "RevisionState",
    "RevocationEntry",
    "TokenEntry",
    "TokenState",
]

TokenState = Literal["live", "expired", "revoked"]


@dataclass(frozen=True, slots=True)
class HoldEntry:
    """A hold, placed and maybe lifted (``lane`` None: every lane)."""

    hold_id: str
    revision: int
    lane: str | None
    reason: str
    placed_by: str
    placed_at: str
    lifted_by: str | None = None
    lifted_at: str | None = None

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    def covers(self, revision: int, lane: str) -> bool:
        return self.revision == revision and self.lane in (None, lane)


@dataclass(frozen=True, slots=True)
class RevocationEntry:
    """Why a token was revoked: ``superseded`` or ``hold`` (``policy.changed`` and
    ``evidence.changed`` to come); ``cause`` the decision, hold or event id."""

    reason: str
    cause: str
    revoked_at: str


@dataclass(frozen=True, slots=True)
class RevisionState:
    """Where a revision stands, from its newest decision, its holds and later approvals.

    ``kind``: ``live`` (approved, its token live), ``expired`` or ``revoked``
    (approved, its token no longer valid; ``revocation`` says why),
    ``blocked`` (denied: ``codes``), ``on_hold`` (``hold``), ``superseded``
    (a higher revision was approved in the lane).
    """

    kind: Literal["live", "expired", "revoked", "blocked", "on_hold", "superseded"]
    codes: tuple[str, ...] = ()
    hold: HoldEntry | None = None
    revocation: RevocationEntry | None = None


@dataclass(frozen=True, slots=True)
class RevisionEntry:
    """One revision of the packet in one lane, as its decisions saw it."""

    lane: str
    revision: int
    digests: tuple[str, ...]
    decisions: int
    approvals: int
    first_decided_at: str
    last_decided_at: str
    superseded_by: int | None  # the first approved revision above it in the lane
    superseded_by_decision: str | None  # the decision that approved that revision first
    state: RevisionState


@dataclass(frozen=True, slots=True)
class AcceptanceEntry:
    """One open objection the release owner accepted as residual disagreement."""

    objection_id: str
    summary: str
    raised_by: str
    accepted_by: str
    accepted_at: str
    rationale: str


@dataclass(frozen=True, slots=True)
class AcceptedDisagreement:
    """The residual disagreement an approval accepted (one manifest, maybe approved twice)."""

    lane: str
    revision: int
    manifest_digest: str
    release_owner: str
    decision_ids: tuple[str, ...]  # newest first
    items: tuple[AcceptanceEntry, ...]


@dataclass(frozen=True, slots=True)
class OutcomeEntry:
    """What the intake lane reported for a token (issue 10)."""

    outcome: str
    findings: tuple[str, ...]
    note: str | None
    reported_at: str


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """A token the gate minted (its id is the decision id) and its state now."""

    token_id: str
    lane: str
    revision: int
    issued_at: str
    expires_at: str
    state: TokenState
    revocation: RevocationEntry | None
    outcome: OutcomeEntry | None


@dataclass(frozen=True, slots=True)
class EvidenceEventEntry:
    """A source system's evidence event touching the packet's evidence (issue 10)."""

    event_id: str
    source: str
    ref: str
    digest: str
    observed_at: str
    material: bool
    note: str | None
    recorded_at: str
    revoked_tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PacketStory:
    """Everything about one packet; each section newest first."""

    packet_id: str
    revisions: tuple[RevisionEntry, ...]
    decisions: tuple[DecisionRecord, ...]  # one page of the audit API's records
    next_cursor: str | None  # older decisions
    disagreements: tuple[AcceptedDisagreement, ...]
    tokens: tuple[TokenEntry, ...]
    holds: tuple[HoldEntry, ...]
    evidence_events: tuple[EvidenceEventEntry, ...]

    @property
    def empty(self) -> bool:
        return not self.revisions and not self.holds


@dataclass(frozen=True, slots=True)
class PacketSummary:
    """A row of the list of recent packets: one packet in one lane."""

    packet_id: str
    lane: str
    revision: int  # the highest revision decided in the lane
    digest: str
    decision_id: str  # that revision's newest decision
    decided_at: str
    last_activity_at: str  # the packet's newest decision in the lane (any revision)
    state: RevisionState


@dataclass(frozen=True, slots=True)
class PacketPage:
    items: tuple[PacketSummary, ...]
    next_cursor: str | None
