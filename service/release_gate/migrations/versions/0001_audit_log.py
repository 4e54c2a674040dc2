"""The audit log: chain head, decisions, hold events, revocations.

Revision ID: 0001_audit_log
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_audit_log"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _chained() -> list[sa.Column[object]]:
    return [
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
    ]


def _decisions() -> None:
    op.create_table(
        "decisions",
        *_chained(),
        sa.Column("decision_id", sa.String(36), nullable=False, unique=True),
        sa.Column("evaluated_at", sa.String(40), nullable=False),
        sa.Column("evaluated_at_ns", sa.BigInteger, nullable=False),
        sa.Column("manifest_id", sa.String(128), nullable=False),
        sa.Column("manifest_digest", sa.String(71), nullable=False),
        sa.Column("packet_id", sa.String(128), nullable=False),
        sa.Column("packet_revision", sa.BigInteger, nullable=False),
        sa.Column("packet_digest", sa.String(71), nullable=False),
        sa.Column("supersedes_revision", sa.BigInteger, nullable=True),
        sa.Column("lane", sa.String(128), nullable=False),
        sa.Column("allow", sa.Boolean, nullable=False),
        sa.Column("violations", sa.Text, nullable=False),
        sa.Column("warnings", sa.Text, nullable=False),
        sa.Column("accepted_objections", sa.Text, nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
        sa.Column("policy_revision", sa.String(256), nullable=False),
        sa.Column("policy_digest", sa.String(71), nullable=False),
        sa.Column("engine", sa.String(32), nullable=False),
        sa.Column("token_id", sa.String(36), nullable=True, unique=True),
        sa.Column("token_expires_at", sa.BigInteger, nullable=True),
        sa.Column("manifest", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_decisions_packet_lane", "decisions", ["packet_id", "lane", "allow", "packet_revision"]
    )
    op.create_index("ix_decisions_evaluated_at_ns", "decisions", ["evaluated_at_ns"])
    op.create_index("ix_decisions_lane", "decisions", ["lane"])


def _holds() -> None:
    op.create_table(
        "hold_events",
        *_chained(),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("hold_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("packet_id", sa.String(128), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("lane", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("at_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_hold_events_packet", "hold_events", ["packet_id", "hold_id"])
    op.create_index("ix_hold_events_hold_id", "hold_events", ["hold_id"])


def upgrade() -> None:
    head = op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    _decisions()
    _holds()
    op.create_table(
        "revocations",
        sa.Column("jti", sa.String(36), primary_key=True),
        sa.Column("packet_id", sa.String(128), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("lane", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("cause", sa.String(36), nullable=False),
        sa.Column("revoked_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_revocations_expires_at", "revocations", ["expires_at"])


def downgrade() -> None:
    for table in ("revocations", "hold_events", "decisions", "chain_head"):
        op.drop_table(table)
