"""``audit verify``'s second half: the state the appends keep, recomputed from the log.

The facts a decision is made on come from ``packet_state`` and ``active_holds``,
and revocations from ``live_tokens`` (:mod:`release_gate.store.state`). Each is
derived from the chained entries, so each is recomputed here from them, in the
same snapshot as the chain walk, and compared row for row (SQL ``EXCEPT`` both
ways, so nothing is loaded into memory but the first differences).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

__all__ = ["StateProblem", "check_state"]

#: What each state table must hold, computed from the log (decisions, hold events,
#: revocations). ``:floor`` is the earliest unexpired ``exp``: expired tokens may or
#: may not have been pruned yet, so neither side lists them.
_EXPECTED = {
    "packet_state": """
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
        LEFT JOIN decisions da ON da.seq = f.first_allow_seq""",
    "active_holds": """
        SELECT packet_id, hold_id, revision, lane, reason, actor, at, seq FROM hold_events
        WHERE kind = 'placed'
          AND hold_id NOT IN (SELECT hold_id FROM hold_events WHERE kind = 'lifted')""",
    "live_tokens": """
        SELECT packet_id, lane, packet_revision, token_id, token_expires_at FROM decisions
        WHERE token_id IS NOT NULL AND token_expires_at > :floor
          AND token_id NOT IN (SELECT jti FROM revocations)""",
}
_ACTUAL = {
    "packet_state": """SELECT packet_id, lane, first_seq, first_decision_ns, first_allow_seq,
        first_allow_ns, denials_before_allow, latest_approved_revision, latest_approved_digest
        FROM packet_state""",
    "active_holds": """SELECT packet_id, hold_id, revision, lane, reason, placed_by,
        placed_at, seq FROM active_holds""",
    "live_tokens": """SELECT packet_id, lane, revision, jti, expires_at FROM live_tokens
        WHERE expires_at > :floor""",
}
_SAMPLE = 5


@dataclass(frozen=True, slots=True)
class StateProblem:
    table: str
    missing: tuple[tuple[object, ...], ...]  # rows the log implies and the table lacks
    extra: tuple[tuple[object, ...], ...]  # rows the table has and the log does not imply

    def to_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "missing": [list(row) for row in self.missing],
            "extra": [list(row) for row in self.extra],
        }


def check_state(conn: Connection, *, now_s: int) -> list[StateProblem]:
    """Every state table that differs from what the log implies (at most 5 rows each way)."""
    floor = {"floor": now_s - 60}
    problems = []
    for table, expected in _EXPECTED.items():
        actual = _ACTUAL[table]
        # Constant SQL from the tables above, nothing from outside.
        missing = conn.execute(text(f"{expected} EXCEPT {actual} LIMIT {_SAMPLE}"), floor).all()
        extra = conn.execute(text(f"{actual} EXCEPT {expected} LIMIT {_SAMPLE}"), floor).all()
        if missing or extra:
            problems.append(
                StateProblem(table, tuple(map(tuple, missing)), tuple(map(tuple, extra)))
            )
    return problems
