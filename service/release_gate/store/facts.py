"""Facts from the store that the policy decides on: history and holds.

``read_facts`` runs twice for an allow: before evaluation (outside any lock)
and again inside the serialized append transaction; if the two differ the
decision is re-evaluated (see :mod:`release_gate.decision.decide`). The shape is the
policy input's ``facts.history`` and ``facts.holds`` (docs/policy-input.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from release_gate.decision.model import Facts, History, Hold
from release_gate.store.schema import DecisionRow, HoldEventRow

__all__ = ["active_holds", "read_facts"]


def _history(conn: Connection, packet_id: str, lane: str) -> History:
    approved = (DecisionRow.packet_id == packet_id) & (DecisionRow.lane == lane) & DecisionRow.allow
    latest = conn.execute(select(func.max(DecisionRow.packet_revision)).where(approved)).scalar()
    digest = None
    if latest is not None:
        digest = conn.execute(
            select(DecisionRow.packet_digest)
            .where(approved & (DecisionRow.packet_revision == latest))
            .order_by(DecisionRow.seq)
            .limit(1)
        ).scalar()
    return History(latest_approved_revision=latest, latest_approved_digest=digest)


def active_holds(conn: Connection, *, packet_id: str | None = None) -> list[dict[str, Any]]:
    """Holds placed and not lifted (of one packet, or all), oldest first."""
    lifted = select(HoldEventRow.hold_id).where(HoldEventRow.kind == "lifted")
    query = select(HoldEventRow).where(
        (HoldEventRow.kind == "placed") & HoldEventRow.hold_id.not_in(lifted)
    )
    if packet_id is not None:
        query = query.where(HoldEventRow.packet_id == packet_id)
    return [
        {
            "hold_id": row.hold_id,
            "packet_id": row.packet_id,
            "revision": row.revision,
            "lane": row.lane,
            "reason": row.reason,
            "placed_by": row.actor,
            "placed_at": row.at,
        }
        for row in conn.execute(query.order_by(HoldEventRow.seq))
    ]


def read_facts(conn: Connection, *, packet_id: str, lane: str) -> Facts:
    """The history and active holds of one packet in one lane."""
    holds = tuple(
        Hold(hold_id=h["hold_id"], revision=h["revision"], lane=h["lane"], reason=h["reason"])
        for h in active_holds(conn, packet_id=packet_id)
    )
    return Facts(history=_history(conn, packet_id, lane), holds=holds)
