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
        SELECT d.packet_id, d.lane, d.packet_revision, d.packet_digest FROM decisions d
        WHERE d.allow AND d.seq = (
            SELECT min(f.seq) FROM decisions f
            WHERE f.packet_id = d.packet_id AND f.lane = d.lane AND f.allow
              AND f.packet_revision = (
                  SELECT max(m.packet_revision) FROM decisions m
                  WHERE m.packet_id = d.packet_id AND m.lane = d.lane AND m.allow))""",
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
    "packet_state": """SELECT packet_id, lane, latest_approved_revision,
        latest_approved_digest FROM packet_state""",
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
