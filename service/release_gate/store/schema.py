"""The audit store's tables (SQLAlchemy 2 declarative); migrations create them.

The chain (docs/audit.md): entries of five tables share one sequence (``seq``),
each linked to the one before by its hash; no code path updates or deletes a
row of any of them.

- ``decisions``: every decision, allow and deny, with the manifest as received;
- ``hold_events``: holds placed and lifted;
- ``evidence_events``: what a source system said of an evidence snapshot;
- ``intake_outcomes``: what an intake lane decided about a released token;
- ``policy_events``: a policy change a gate took up, and what it revoked;
- ``chain_head``: one row, the sequence number and hash of the last entry.

Derived, written in the transaction of the entry that causes them:
``revocations`` (token ids revoked, with reason, cause and when).

State the appends keep up to date in the same transaction, so the facts of a
decision are read by primary key whatever the length of the history
(``audit verify`` recomputes it from the chain and compares):

- ``packet_state``: per packet and lane, its first decision and first approval
  (and the denials before it), and the latest approved revision and digest;
- ``active_holds``: holds placed and not lifted, keyed by packet;
- ``live_tokens``: approvals whose token is not revoked (expired ones are
  pruned as the appends go), keyed by packet, lane and revision;
  ``live_token_evidence``: the evidence snapshots each of them cites;
- ``evidence_state``: the newest material snapshot of each (source, ref).

For reports: ``decision_codes`` (each decision's violation codes) and
``verify_failures`` (``/v1/verify`` answers of ``valid: false``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ActiveHoldRow",
    "Base",
    "ChainHead",
    "Chained",
    "DecisionCodeRow",
    "DecisionRow",
    "EvidenceEventRow",
    "EvidenceStateRow",
    "HoldEventRow",
    "IntakeOutcomeRow",
    "LiveTokenEvidenceRow",
    "LiveTokenRow",
    "PacketStateRow",
    "PolicyEventRow",
    "RevocationRow",
    "VerifyFailureRow",
]


class Base(DeclarativeBase):
    pass


class ChainHead(Base):
    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class Chained(Base):
    """An entry of the hash chain: its place and its link to the previous entry."""

    __abstract__ = True

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))


class DecisionRow(Chained):
    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_packet_lane", "packet_id", "lane", "allow", "packet_revision"),
        Index("ix_decisions_evaluated_at_ns", "evaluated_at_ns"),
        Index("ix_decisions_lane", "lane"),
        # the lane reports: the decisions of a lane in a window, from the index alone
        Index("ix_decisions_lane_at", "lane", "evaluated_at_ns", "allow"),
    )

    decision_id: Mapped[str] = mapped_column(String(36), unique=True)
    evaluated_at: Mapped[str] = mapped_column(String(40))
    evaluated_at_ns: Mapped[int] = mapped_column(BigInteger)
    manifest_id: Mapped[str] = mapped_column(String(128))
    manifest_digest: Mapped[str] = mapped_column(String(71))
    packet_id: Mapped[str] = mapped_column(String(128))
    packet_revision: Mapped[int] = mapped_column(BigInteger)
    packet_digest: Mapped[str] = mapped_column(String(71))
    supersedes_revision: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    lane: Mapped[str] = mapped_column(String(128))
    allow: Mapped[bool] = mapped_column(Boolean)
    violations: Mapped[str] = mapped_column(Text)
    warnings: Mapped[str] = mapped_column(Text)
    accepted_objections: Mapped[str] = mapped_column(Text)
    facts: Mapped[str] = mapped_column(Text)
    policy_revision: Mapped[str] = mapped_column(String(256))
    policy_digest: Mapped[str] = mapped_column(String(71))
    engine: Mapped[str] = mapped_column(String(32))
    token_id: Mapped[str | None] = mapped_column(String(36), nullable=True, unique=True)
    token_expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    manifest: Mapped[str] = mapped_column(Text)


class HoldEventRow(Chained):
    __tablename__ = "hold_events"
    __table_args__ = (Index("ix_hold_events_packet", "packet_id", "hold_id"),)

    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    hold_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    packet_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int] = mapped_column(BigInteger)
    lane: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(256))
    at: Mapped[str] = mapped_column(String(40))
    at_ns: Mapped[int] = mapped_column(BigInteger)


class RevocationRow(Base):
    __tablename__ = "revocations"
    __table_args__ = (
        Index("ix_revocations_lane_reason", "lane", "reason", "revoked_at_ns"),  # lane reports
    )

    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    packet_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int] = mapped_column(BigInteger)
    lane: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(80))  # a decision, hold or event id; or a digest
    revoked_at: Mapped[str] = mapped_column(String(40))
    revoked_at_ns: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class PacketStateRow(Base):
    """Per packet and lane: its first decision, its first approval (and the denials
    before it), and its latest approved revision. Every decision updates it."""

    __tablename__ = "packet_state"
    __table_args__ = (  # the lane reports' approval figures, from the index alone
        Index(
            "ix_packet_state_lane_allow",
            "lane",
            "first_allow_ns",
            "first_decision_ns",
            "denials_before_allow",
        ),
    )

    packet_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    lane: Mapped[str] = mapped_column(String(128), primary_key=True)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    first_decision_ns: Mapped[int] = mapped_column(BigInteger)
    first_allow_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    first_allow_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    denials_before_allow: Mapped[int] = mapped_column(BigInteger)
    latest_approved_revision: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    latest_approved_digest: Mapped[str | None] = mapped_column(String(71), nullable=True)


class ActiveHoldRow(Base):
    __tablename__ = "active_holds"

    packet_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hold_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    lane: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(256))
    placed_at: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(BigInteger)


class LiveTokenRow(Base):
    __tablename__ = "live_tokens"
    __table_args__ = (
        Index("ix_live_tokens_expires_at", "expires_at"),
        Index("ix_live_tokens_jti", "jti", unique=True),
    )

    packet_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    lane: Mapped[str] = mapped_column(String(128), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)


class LiveTokenEvidenceRow(Base):
    """The evidence snapshots each live token's manifest cites, by source and ref
    (``ref_digest`` is sha256 of the ref: refs are text, too long for an index)."""

    __tablename__ = "live_token_evidence"
    __table_args__ = (Index("ix_live_token_evidence_jti", "jti"),)

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    ref_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    digest: Mapped[str] = mapped_column(String(71))


class EvidenceEventRow(Chained):
    __tablename__ = "evidence_events"
    __table_args__ = (
        UniqueConstraint("source", "ref_digest", "digest", name="uq_evidence_events_snapshot"),
        Index("ix_evidence_events_ref_digest", "ref_digest"),
    )

    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    source: Mapped[str] = mapped_column(String(128))
    ref: Mapped[str] = mapped_column(Text)
    ref_digest: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(71))
    observed_at: Mapped[str] = mapped_column(String(40))
    observed_at_ns: Mapped[int] = mapped_column(BigInteger)
    material: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    revoked: Mapped[str] = mapped_column(Text)  # JSON array of the jtis this event revoked
    actor: Mapped[str] = mapped_column(String(256))
    at: Mapped[str] = mapped_column(String(40))
    at_ns: Mapped[int] = mapped_column(BigInteger)


class EvidenceStateRow(Base):
    """The newest material snapshot of each piece of evidence (source, ref)."""

    __tablename__ = "evidence_state"
    __table_args__ = (Index("ix_evidence_state_ref_digest", "ref_digest"),)

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    ref_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(71))
    observed_at: Mapped[str] = mapped_column(String(40))
    observed_at_ns: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(36))


class IntakeOutcomeRow(Chained):
    __tablename__ = "intake_outcomes"
    __table_args__ = (
        Index("ix_intake_outcomes_lane_at", "lane", "at_ns"),
        # the lane reports: outcomes of the tokens released in a window, without a join
        Index("ix_intake_outcomes_lane_released", "lane", "released_at_ns", "outcome", "findings"),
    )

    outcome_id: Mapped[str] = mapped_column(String(36), unique=True)
    token_id: Mapped[str] = mapped_column(String(36), unique=True)
    lane: Mapped[str] = mapped_column(String(128))
    released_at_ns: Mapped[int] = mapped_column(BigInteger)  # the token's evaluated_at_ns
    outcome: Mapped[str] = mapped_column(String(16))
    findings: Mapped[str] = mapped_column(Text)  # JSON array
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor: Mapped[str] = mapped_column(String(256))
    at: Mapped[str] = mapped_column(String(40))
    at_ns: Mapped[int] = mapped_column(BigInteger)


class PolicyEventRow(Chained):
    """A policy change a gate took up (reload), and the live approvals it revoked."""

    __tablename__ = "policy_events"

    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    revision: Mapped[str] = mapped_column(String(256))
    digest: Mapped[str] = mapped_column(String(71), index=True)
    previous_digest: Mapped[str | None] = mapped_column(String(71), nullable=True)
    engine: Mapped[str] = mapped_column(String(32))
    revoked: Mapped[str] = mapped_column(Text)  # JSON array of jtis
    actor: Mapped[str] = mapped_column(String(256))
    at: Mapped[str] = mapped_column(String(40))
    at_ns: Mapped[int] = mapped_column(BigInteger)


class DecisionCodeRow(Base):
    """Each violation code of each decision, for the lane reports' counts by code."""

    __tablename__ = "decision_codes"
    __table_args__ = (Index("ix_decision_codes_lane_code", "lane", "code", "evaluated_at_ns"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(128), primary_key=True)
    lane: Mapped[str] = mapped_column(String(128))
    allow: Mapped[bool] = mapped_column(Boolean)
    evaluated_at_ns: Mapped[int] = mapped_column(BigInteger)


class VerifyFailureRow(Base):
    """A ``/v1/verify`` answer of ``valid: false`` (not chained: a count for reports)."""

    __tablename__ = "verify_failures"
    __table_args__ = (Index("ix_verify_failures_lane_reason", "lane", "reason", "at_ns"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    lane: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(64))
    at_ns: Mapped[int] = mapped_column(BigInteger)
