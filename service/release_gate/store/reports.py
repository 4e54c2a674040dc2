"""Lane reports (contract section 9): how one intake lane's releases went, in a window.

Every figure is an aggregate computed by the database from the covering indexes
of migration 0002 (counts per code or reason by :func:`_counts_by`), never by
loading records into Python; the approval percentiles read one row per packet
whose first approval falls in the window (``packet_state``), never a row per
decision. All of it is read in one
snapshot, so the figures agree with each other. ``since`` is inclusive and
``until`` exclusive, in nanoseconds, compared with:

- ``decisions``, ``denials_by_code``, ``agent_boundary``, ``intake.released``:
  the decision's ``evaluated_at``;
- ``approval``: the packet's first approval in the lane (its first decision in
  the lane may be earlier);
- ``intake.reported`` and the rest of ``intake``: the outcomes reported (at any
  time) for the tokens released in the window;
- ``revocations``: when the lane's token was revoked;
- ``verify_failures``: when ``/v1/verify`` answered ``valid: false`` for the lane.

docs/operators.md says what each figure means for the people running the lane.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, Connection, case, func, select
from sqlalchemy.exc import SQLAlchemyError

from release_gate.errors import BadRequest, FieldError, GateError, StoreUnavailable
from release_gate.store.db import Database
from release_gate.store.schema import (
    DecisionCodeRow,
    DecisionRow,
    IntakeOutcomeRow,
    PacketStateRow,
    RevocationRow,
    VerifyFailureRow,
)
from release_gate.timestamps import format_ns, parse_timestamp_ns

__all__ = [
    "AGENT_BOUNDARY_CODES",
    "DEFAULT_WINDOW_NS",
    "Approval",
    "Intake",
    "LaneNotFound",
    "LaneReport",
    "Window",
    "lane_report",
    "nearest_rank",
    "window",
]

#: The window of a report without ``since``: the 30 days before ``until``.
DEFAULT_WINDOW_NS = 30 * 86400 * 1_000_000_000

#: The codes that say agent-assisted work drifted toward approving, compensating or
#: remediating: an agent in an approver's place, or an action outside the lane.
AGENT_BOUNDARY_CODES = ("lane.action_out_of_scope", "signers.agent_not_permitted")


class LaneNotFound(GateError):
    """A report asked for a lane the governance data does not define."""

    status = 404
    title = "Lane not found"
    type_suffix = "lane-not-found"


@dataclass(frozen=True, slots=True)
class Window:
    """``[since, until)``: instants in ns, and as the report prints them (the caller's own
    text when it gave one, else the gate's UTC timestamp)."""

    since_ns: int
    until_ns: int
    since: str
    until: str

    @classmethod
    def of(cls, since_ns: int, until_ns: int) -> Window:
        return cls(since_ns, until_ns, format_ns(since_ns), format_ns(until_ns))


@dataclass(frozen=True, slots=True)
class Approval:
    """Packets whose first approval in the lane falls in the window."""

    packets: int
    median_seconds: float | None  # first decision in the lane (any revision) to that approval
    p90_seconds: float | None
    median_denials: float | None  # denied decisions before that approval

    def to_wire(self) -> dict[str, Any]:
        return {
            "packets": self.packets,
            "median_seconds": self.median_seconds,
            "p90_seconds": self.p90_seconds,
            "median_denials": self.median_denials,
        }


@dataclass(frozen=True, slots=True)
class Intake:
    """Tokens released in the window, and what the intake lane reported about them."""

    released: int
    reported: int
    accepted: int
    returned: int
    findings: Mapping[str, int]

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.reported if self.reported else None

    def to_wire(self) -> dict[str, Any]:
        return {
            "released": self.released,
            "reported": self.reported,
            "accepted": self.accepted,
            "returned": self.returned,
            "acceptance_rate": self.acceptance_rate,
            "findings": dict(self.findings),
        }


@dataclass(frozen=True, slots=True)
class LaneReport:
    lane: str
    window: Window
    allowed: int
    denied: int
    denials_by_code: Mapping[str, int]
    approval: Approval
    intake: Intake
    revocations: Mapping[str, int]
    verify_failures: Mapping[str, int]

    @property
    def agent_boundary(self) -> dict[str, int]:
        return {c: n for c, n in self.denials_by_code.items() if c in AGENT_BOUNDARY_CODES}

    def to_wire(self) -> dict[str, Any]:
        """The contract's report object (section 9): counts by key list only what happened."""
        return {
            "lane": self.lane,
            "since": self.window.since,
            "until": self.window.until,
            "decisions": {"allow": self.allowed, "deny": self.denied},
            "denials_by_code": dict(self.denials_by_code),
            "agent_boundary": self.agent_boundary,
            "approval": self.approval.to_wire(),
            "intake": self.intake.to_wire(),
            "revocations": dict(self.revocations),
            "verify_failures": dict(self.verify_failures),
        }


def _instant(name: str, value: str) -> int:
    try:
        return parse_timestamp_ns(value)
    except ValueError as exc:
        detail = f"{name} is not an RFC 3339 timestamp: {exc}"
        raise BadRequest(detail, errors=(FieldError("", detail),)) from exc


def window(since: str | None, until: str | None, *, now_ns: int) -> Window:
    """``[since, until)`` in ns from RFC 3339 text: ``until`` defaults to now (whole
    microseconds, as the report prints it), ``since`` to 30 days before ``until``.
    :class:`BadRequest` names a bound that does not parse, or ``since`` after ``until``."""
    until_ns = _instant("until", until) if until is not None else now_ns // 1000 * 1000
    since_ns = _instant("since", since) if since is not None else until_ns - DEFAULT_WINDOW_NS
    if since_ns > until_ns:
        detail = "since is after until: the window [since, until) would be negative"
        raise BadRequest(detail, errors=(FieldError("", detail),))
    defaults = Window.of(since_ns, until_ns)
    return Window(since_ns, until_ns, since or defaults.since, until or defaults.until)


def nearest_rank(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``share`` of the
    values at or below it (sorted ascending, the value at rank ceil(share * n))."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def lane_report(db: Database, lane: str, window: Window) -> LaneReport:
    """The report of ``lane`` for ``window``, as of one snapshot; :class:`StoreUnavailable`
    if the store cannot be read."""
    since_ns, until_ns = window.since_ns, window.until_ns
    try:
        with db.snapshot() as conn:
            allowed, denied = _decisions(conn, lane, since_ns, until_ns)
            return LaneReport(
                lane=lane,
                window=window,
                allowed=allowed,
                denied=denied,
                denials_by_code=_denials(conn, lane, since_ns, until_ns),
                approval=_approval(conn, lane, since_ns, until_ns),
                intake=_intake(conn, lane, since_ns, until_ns, allowed),
                revocations=_revocations(conn, lane, since_ns, until_ns),
                verify_failures=_verify_failures(conn, lane, since_ns, until_ns),
            )
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"the lane report cannot be read: {type(exc).__name__}") from exc


def _decisions(conn: Connection, lane: str, since: int, until: int) -> tuple[int, int]:
    """Allowed and denied decisions in the window: one pass over the index ``(lane,
    evaluated_at_ns, allow)``, no grouping. Every recorded allow carries a token (dry runs
    are never recorded), so the allows are also the tokens released."""
    at = DecisionRow.evaluated_at_ns
    total, allowed = conn.execute(
        select(func.count(), func.count(case((DecisionRow.allow, 1)))).where(
            DecisionRow.lane == lane, at >= since, at < until
        )
    ).one()
    return int(allowed), int(total) - int(allowed)


def _counts_by(
    conn: Connection, key: Column[str], at: Column[int], lane: str, since: int, until: int
) -> dict[str, int]:
    """Rows of ``key``'s table in the lane and window, counted per value of ``key``, from an
    index ``(lane, key, at)``: the distinct values are found by seeking from one to the next
    (a recursive query: as many seeks as values, codes or reasons), then each value's rows
    in the window are counted in its own range of the index. Nothing is sorted, and a short
    window reads few index entries whatever the history's length."""
    table = key.table
    first = select(func.min(key).label("k")).where(table.c.lane == lane)
    keys = first.cte("keys", recursive=True)
    after = table.alias("after")
    following = (
        select(func.min(after.c[key.name]))
        .where(after.c.lane == lane, after.c[key.name] > keys.c.k)
        .scalar_subquery()
    )
    keys = keys.union_all(select(following).where(keys.c.k.is_not(None)))
    rows = table.alias("counted")
    count = (
        select(func.count())
        .select_from(rows)
        .where(
            rows.c.lane == lane,
            rows.c[key.name] == keys.c.k,
            rows.c[at.name] >= since,
            rows.c[at.name] < until,
        )
        .scalar_subquery()
    )
    found = conn.execute(select(keys.c.k, count).where(keys.c.k.is_not(None)))
    return {str(value): int(n) for value, n in found if n}


def _denials(conn: Connection, lane: str, since: int, until: int) -> dict[str, int]:
    """Denied decisions per code: every row of ``decision_codes`` is a denial's (a decision
    with a violation is never an allow)."""
    code = cast("Column[str]", DecisionCodeRow.__table__.c.code)
    at = cast("Column[int]", DecisionCodeRow.__table__.c.evaluated_at_ns)
    return _counts_by(conn, code, at, lane, since, until)


def _approval(conn: Connection, lane: str, since: int, until: int) -> Approval:
    """From the index ``(lane, first_allow_ns, first_decision_ns, denials_before_allow)``:
    one row per packet whose first approval in the lane falls in the window."""
    first_allow = PacketStateRow.first_allow_ns
    # whole microseconds, as the decisions' evaluated_at say: a report agrees with the log
    waited = first_allow // 1000 - PacketStateRow.first_decision_ns // 1000
    rows = conn.execute(
        select(waited, PacketStateRow.denials_before_allow).where(
            PacketStateRow.lane == lane, first_allow >= since, first_allow < until
        )
    ).all()
    if not rows:
        return Approval(0, None, None, None)
    seconds = sorted(us / 1_000_000 for us, _ in rows if us is not None)
    denials = sorted(int(n) for _, n in rows)
    return Approval(
        packets=len(rows),
        median_seconds=statistics.median(seconds),
        p90_seconds=nearest_rank(seconds, 0.9),
        median_denials=statistics.median(denials),
    )


def _intake(conn: Connection, lane: str, since: int, until: int, released: int) -> Intake:
    """The outcomes of the tokens released in the window (each outcome row carries its
    token's release time), by outcome and findings, from the index ``(lane,
    released_at_ns, outcome, findings)``."""
    at = IntakeOutcomeRow.released_at_ns
    rows = conn.execute(
        select(IntakeOutcomeRow.outcome, IntakeOutcomeRow.findings, func.count())
        .where(IntakeOutcomeRow.lane == lane, at >= since, at < until)
        .group_by(IntakeOutcomeRow.outcome, IntakeOutcomeRow.findings)
    ).all()
    outcomes: dict[str, int] = {}
    findings: dict[str, int] = {}
    for outcome, listed, count in rows:
        outcomes[outcome] = outcomes.get(outcome, 0) + int(count)
        for finding in json.loads(listed):
            findings[finding] = findings.get(finding, 0) + int(count)
    return Intake(
        released=released,
        reported=sum(outcomes.values()),
        accepted=outcomes.get("accepted", 0),
        returned=outcomes.get("returned", 0),
        findings=dict(sorted(findings.items())),
    )


def _revocations(conn: Connection, lane: str, since: int, until: int) -> dict[str, int]:
    table = RevocationRow.__table__
    reason = cast("Column[str]", table.c.reason)
    return _counts_by(conn, reason, cast("Column[int]", table.c.revoked_at_ns), lane, since, until)


def _verify_failures(conn: Connection, lane: str, since: int, until: int) -> dict[str, int]:
    table = VerifyFailureRow.__table__
    reason = cast("Column[str]", table.c.reason)
    return _counts_by(conn, reason, cast("Column[int]", table.c.at_ns), lane, since, until)
