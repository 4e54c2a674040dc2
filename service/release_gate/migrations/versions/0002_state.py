"""State kept by the appends, and the entries of evidence, intake and policy events.

The facts of a decision (the packet's latest approval in the lane, its active
holds, the newest snapshots of its evidence) and the live tokens an append may
revoke are read by primary key from state tables instead of scanning the
history; the lane reports read counts kept beside the log. An existing log is
replayed into them here; ``release-gate audit verify`` checks them against the
chain. New chained entries: evidence events, intake outcomes, policy events.

Revision ID: 0002_state
Revises: 0001_audit_log
Create Date: 2026-12-01
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time

import sqlalchemy as sa
from alembic import op

revision = "0002_state"
down_revision = "0001_audit_log"
branch_labels = None
depends_on = None

_PACKETS = """
INSERT INTO packet_state (packet_id, lane, first_seq, first_decision_ns, first_allow_seq,
    first_allow_ns, denials_before_allow, latest_approved_revision, latest_approved_digest)
SELECT f.packet_id, f.lane, f.first_seq, d0.evaluated_at_ns, f.first_allow_seq,
    da.evaluated_at_ns,
    (SELECT count(*) FROM decisions x
     WHERE x.packet_id = f.packet_id AND x.lane = f.lane AND NOT x.allow
       AND (f.first_allow_seq IS NULL OR x.seq < f.first_allow_seq)),
    f.latest_revision,
    (SELECT y.packet_digest FROM decisions y
     WHERE y.packet_id = f.packet_id AND y.lane = f.lane AND y.allow
       AND y.packet_revision = f.latest_revision
     ORDER BY y.seq LIMIT 1)
FROM (SELECT packet_id, lane, min(seq) AS first_seq,
             min(CASE WHEN allow THEN seq END) AS first_allow_seq,
             max(CASE WHEN allow THEN packet_revision END) AS latest_revision
      FROM decisions GROUP BY packet_id, lane) f
JOIN decisions d0 ON d0.seq = f.first_seq
LEFT JOIN decisions da ON da.seq = f.first_allow_seq
"""

_HOLDS = """
INSERT INTO active_holds (packet_id, hold_id, revision, lane, reason, placed_by, placed_at, seq)
SELECT packet_id, hold_id, revision, lane, reason, actor, at, seq
FROM hold_events
WHERE kind = 'placed'
  AND hold_id NOT IN (SELECT hold_id FROM hold_events WHERE kind = 'lifted')
"""

_LIVE = """
SELECT packet_id, lane, packet_revision, token_id, token_expires_at, manifest
FROM decisions
WHERE token_id IS NOT NULL AND token_expires_at > :floor
  AND token_id NOT IN (SELECT jti FROM revocations)
"""


def _chained() -> list[sa.Column[object]]:
    return [
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
    ]


def _state_tables() -> None:
    op.create_table(
        "packet_state",
        sa.Column("packet_id", sa.String(128), primary_key=True),
        sa.Column("lane", sa.String(128), primary_key=True),
        sa.Column("first_seq", sa.BigInteger, nullable=False),
        sa.Column("first_decision_ns", sa.BigInteger, nullable=False),
        sa.Column("first_allow_seq", sa.BigInteger, nullable=True),
        sa.Column("first_allow_ns", sa.BigInteger, nullable=True),
        sa.Column("denials_before_allow", sa.BigInteger, nullable=False),
        sa.Column("latest_approved_revision", sa.BigInteger, nullable=True),
        sa.Column("latest_approved_digest", sa.String(71), nullable=True),
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
    op.create_index("ix_live_tokens_jti", "live_tokens", ["jti"], unique=True)
    op.create_table(
        "live_token_evidence",
        sa.Column("source", sa.String(128), primary_key=True),
        sa.Column("ref_digest", sa.String(64), primary_key=True),
        sa.Column("jti", sa.String(36), primary_key=True),
        sa.Column("digest", sa.String(71), nullable=False),
    )
    op.create_index("ix_live_token_evidence_jti", "live_token_evidence", ["jti"])
    op.create_table(
        "evidence_state",
        sa.Column("source", sa.String(128), primary_key=True),
        sa.Column("ref_digest", sa.String(64), primary_key=True),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("observed_at", sa.String(40), nullable=False),
        sa.Column("observed_at_ns", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_evidence_state_ref_digest", "evidence_state", ["ref_digest"])


def _entry_tables() -> None:
    op.create_table(
        "evidence_events",
        *_chained(),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("ref", sa.Text, nullable=False),
        sa.Column("ref_digest", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("observed_at", sa.String(40), nullable=False),
        sa.Column("observed_at_ns", sa.BigInteger, nullable=False),
        sa.Column("material", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("revoked", sa.Text, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("at_ns", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("source", "ref_digest", "digest", name="uq_evidence_events_snapshot"),
    )
    op.create_index("ix_evidence_events_ref_digest", "evidence_events", ["ref_digest"])
    op.create_table(
        "intake_outcomes",
        *_chained(),
        sa.Column("outcome_id", sa.String(36), nullable=False, unique=True),
        sa.Column("token_id", sa.String(36), nullable=False, unique=True),
        sa.Column("lane", sa.String(128), nullable=False),
        sa.Column("released_at_ns", sa.BigInteger, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("findings", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("at_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_intake_outcomes_lane_at", "intake_outcomes", ["lane", "at_ns"])
    op.create_index(
        "ix_intake_outcomes_lane_released",
        "intake_outcomes",
        ["lane", "released_at_ns", "outcome", "findings"],
    )
    op.create_table(
        "policy_events",
        *_chained(),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("revision", sa.String(256), nullable=False),
        sa.Column("digest", sa.String(71), nullable=False, index=True),
        sa.Column("previous_digest", sa.String(71), nullable=True),
        sa.Column("engine", sa.String(32), nullable=False),
        sa.Column("revoked", sa.Text, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("at_ns", sa.BigInteger, nullable=False),
    )


def _report_tables() -> None:
    op.create_table(
        "decision_codes",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("code", sa.String(128), primary_key=True),
        sa.Column("lane", sa.String(128), nullable=False),
        sa.Column("allow", sa.Boolean, nullable=False),
        sa.Column("evaluated_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_decision_codes_lane_code", "decision_codes", ["lane", "code", "evaluated_at_ns"]
    )
    op.create_table(
        "verify_failures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("lane", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("at_ns", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_verify_failures_lane_reason", "verify_failures", ["lane", "reason", "at_ns"]
    )
    # The lane reports read aggregates by lane and time from covering indexes, so a window
    # of 100,000 decisions is counted from the indexes alone (store/reports.py).
    op.create_index("ix_decisions_lane_at", "decisions", ["lane", "evaluated_at_ns", "allow"])
    op.create_index(
        "ix_packet_state_lane_allow",
        "packet_state",
        ["lane", "first_allow_ns", "first_decision_ns", "denials_before_allow"],
    )
    op.create_index(
        "ix_revocations_lane_reason", "revocations", ["lane", "reason", "revoked_at_ns"]
    )


def _replay(conn: sa.Connection) -> None:
    """Fill the state and report tables from an existing log."""
    conn.execute(sa.text(_PACKETS))
    conn.execute(sa.text(_HOLDS))
    floor = int(time.time()) - 60
    live, cited = [], []
    for row in conn.execute(sa.text(_LIVE), {"floor": floor}):
        live.append(
            {
                "packet_id": row.packet_id,
                "lane": row.lane,
                "revision": row.packet_revision,
                "jti": row.token_id,
                "expires_at": row.token_expires_at,
            }
        )
        items = {(e["source"], e["ref"], e["digest"]) for e in json.loads(row.manifest)["evidence"]}
        cited += [
            {
                "source": source,
                "ref_digest": hashlib.sha256(ref.encode("utf-8")).hexdigest(),
                "jti": row.token_id,
                "digest": digest,
            }
            for source, ref, digest in sorted(items)
        ]
    meta = sa.MetaData()
    meta.reflect(conn, only=["live_tokens", "live_token_evidence", "decision_codes"])
    if live:
        conn.execute(meta.tables["live_tokens"].insert(), live)
    if cited:
        conn.execute(meta.tables["live_token_evidence"].insert(), cited)
    codes = []
    query = "SELECT seq, lane, allow, evaluated_at_ns, violations FROM decisions"
    for row in conn.execute(sa.text(query)):
        codes += [
            {
                "seq": row.seq,
                "code": code,
                "lane": row.lane,
                "allow": bool(row.allow),
                "evaluated_at_ns": row.evaluated_at_ns,
            }
            for code in dict.fromkeys(v["code"] for v in json.loads(row.violations))
        ]
    if codes:
        conn.execute(meta.tables["decision_codes"].insert(), codes)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _revoked_at_ns(conn: sa.Connection) -> None:
    """When each earlier revocation happened, in ns, from its ``revoked_at`` text (the
    gate's own UTC timestamp, microseconds), for the reports' windows."""
    rows = conn.execute(sa.text("SELECT jti, revoked_at FROM revocations")).all()
    for row in rows:
        since = dt.datetime.fromisoformat(row.revoked_at.replace("Z", "+00:00")) - _EPOCH
        seconds = since.days * 86400 + since.seconds  # integers: exact, unlike a float
        ns = seconds * 1_000_000_000 + since.microseconds * 1000
        conn.execute(
            sa.text("UPDATE revocations SET revoked_at_ns = :ns WHERE jti = :jti"),
            {"ns": ns, "jti": row.jti},
        )


def upgrade() -> None:
    with op.batch_alter_table("revocations") as table:  # a policy digest is a cause too
        table.alter_column("cause", type_=sa.String(80), existing_nullable=False)
        table.add_column(sa.Column("revoked_at_ns", sa.BigInteger, nullable=True))
    _revoked_at_ns(op.get_bind())
    with op.batch_alter_table("revocations") as table:
        table.alter_column("revoked_at_ns", existing_type=sa.BigInteger, nullable=False)
    _state_tables()
    _entry_tables()
    _report_tables()
    _replay(op.get_bind())


def downgrade() -> None:
    for table in (
        "verify_failures",
        "decision_codes",
        "policy_events",
        "intake_outcomes",
        "evidence_events",
        "evidence_state",
        "live_token_evidence",
        "live_tokens",
        "active_holds",
        "packet_state",
    ):
        op.drop_table(table)
    op.drop_index("ix_revocations_lane_reason", table_name="revocations")
    op.drop_index("ix_decisions_lane_at", table_name="decisions")
    with op.batch_alter_table("revocations") as revocations:
        revocations.drop_column("revoked_at_ns")
        revocations.alter_column("cause", type_=sa.String(36), existing_nullable=False)
