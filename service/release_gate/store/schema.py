"""The audit store's tables (SQLAlchemy 2 declarative); migrations create them.

- ``chain_head``: one row, the sequence number and hash of the chain's last entry;
- ``decisions``: every decision, allow and deny, with the manifest as received;
- ``hold_events``: holds placed and lifted (append-only events, never edited);
- ``revocations``: token ids revoked by a newer approval or a hold (derived,
  written in the same transaction as the entry that caused them).

State the appends keep up to date in the same transaction, so the facts of a
decision are read by primary key whatever the length of the history
(``audit verify`` recomputes it from the chain and compares):

- ``packet_state``: per packet and lane, the latest approved revision and digest;
- ``active_holds``: holds placed and not lifted, keyed by packet;
- ``live_tokens``: approvals whose token is not revoked (expired ones are
  pruned as the appends go), keyed by packet, lane and revision.

``decisions`` and ``hold_events`` share one sequence (``seq``): together they
form the hash chain (docs/audit.md). No code path updates or deletes a row of
either table.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ActiveHoldRow",
    "Base",
    "ChainHead",
    "Chained",
    "DecisionRow",
    "HoldEventRow",
    "LiveTokenRow",
    "PacketStateRow",
    "RevocationRow",
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

    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    packet_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int] = mapped_column(BigInteger)
    lane: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(36))
    revoked_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class PacketStateRow(Base):
    __tablename__ = "packet_state"

    packet_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    lane: Mapped[str] = mapped_column(String(128), primary_key=True)
    latest_approved_revision: Mapped[int] = mapped_column(BigInteger)
    latest_approved_digest: Mapped[str] = mapped_column(String(71))


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
    __table_args__ = (Index("ix_live_tokens_expires_at", "expires_at"),)

    packet_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    lane: Mapped[str] = mapped_column(String(128), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)
