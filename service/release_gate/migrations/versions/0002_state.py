"""State kept by the appends: packet_state, active_holds, live_tokens (filled from the log).

The facts of a decision (the packet's latest approval in the lane, its active
holds) and the live tokens an append may revoke are read by primary key from
these tables instead of scanning the history. An existing log is replayed into
them here; ``release-gate audit verify`` checks them against the chain.

Revision ID: 0002_state
Revises: 0001_audit_log
Create Date: 2026-12-01
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0002_state"
down_revision = "0001_audit_log"
branch_labels = None
depends_on = None

_LATEST = """
INSERT INTO packet_state (packet_id, lane, latest_approved_revision, latest_approved_digest)
SELECT d.packet_id, d.lane, d.packet_revision, d.packet_digest
FROM decisions d
WHERE d.allow AND d.seq = (
    SELECT min(f.seq) FROM decisions f
    WHERE f.packet_id = d.packet_id AND f.lane = d.lane AND f.allow
      AND f.packet_revision = (
          SELECT max(m.packet_revision) FROM decisions m
          WHERE m.packet_id = d.packet_id AND m.lane = d.lane AND m.allow
      )
)
"""

_HOLDS = """
INSERT INTO active_holds (packet_id, hold_id, revision, lane, reason, placed_by, placed_at, seq)
SELECT packet_id, hold_id, revision, lane, reason, actor, at, seq
FROM hold_events
WHERE kind = 'placed'
  AND hold_id NOT IN (SELECT hold_id FROM hold_events WHERE kind = 'lifted')
"""

_LIVE = """
INSERT INTO live_tokens (packet_id, lane, revision, jti, expires_at)
SELECT packet_id, lane, packet_revision, token_id, token_expires_at
FROM decisions
WHERE token_id IS NOT NULL AND token_expires_at > :floor
  AND token_id NOT IN (SELECT jti FROM revocations)
"""


def upgrade() -> None:
    op.create_table(
        "packet_state",
        sa.Column("packet_id", sa.String(128), primary_key=True),
        sa.Column("lane", sa.String(128), primary_key=True),
        sa.Column("latest_approved_revision", sa.BigInteger, nullable=False),
        sa.Column("latest_approved_digest", sa.String(71), nullable=False),
    )
    op.create_table(
        "active_holds",
        sa.Column("packet_id", sa.String(128), primary_key=True),
        sa.Column("hold_id", sa.String(36), primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("lane", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("placed_by", sa.String(256), nullable=False),
        sa.Column("placed_at", sa.String(40), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "live_tokens",
        sa.Column("packet_id", sa.String(128), primary_key=True),
        sa.Column("lane", sa.String(128), primary_key=True),
        sa.Column("revision", sa.BigInteger, primary_key=True),
        sa.Column("jti", sa.String(36), primary_key=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_live_tokens_expires_at", "live_tokens", ["expires_at"])
    op.execute(sa.text(_LATEST))
    op.execute(sa.text(_HOLDS))
    op.execute(sa.text(_LIVE).bindparams(floor=int(time.time()) - 60))


def downgrade() -> None:
    for table in ("live_tokens", "active_holds", "packet_state"):
        op.drop_table(table)
