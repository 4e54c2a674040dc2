"""Holds on a packet revision, as append-only events (``placed``, ``lifted``).

Placing a hold runs in the serialized transaction, like a decision append:
the event is chained, and the live tokens of the held revision (in the held
lane, or every lane) are revoked in the same commit. An evaluation that
appends after that commit re-reads the holds under the same lock, so a hold
placed at one replica is honoured by every replica at once.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from release_gate.errors import GateError
from release_gate.store.chain import advance_head, lock_head
from release_gate.store.db import Database, StoreUnavailable
from release_gate.store.facts import active_holds
from release_gate.store.revocations import revoke_live_tokens
from release_gate.store.schema import DecisionRow, HoldEventRow
from release_gate.timestamps import format_ns

__all__ = ["HoldAlreadyLifted", "HoldNotFound", "HoldStore"]


_HOLD_FIELDS = ("packet_id", "revision", "lane", "reason")


class HoldNotFound(GateError):
    status = 404
    title = "Hold not found"
    type_suffix = "hold-not-found"


class HoldAlreadyLifted(GateError):
    status = 409
    title = "Hold already lifted"
    type_suffix = "hold-already-lifted"


def _event(
    kind: str, hold_id: str, fields: dict[str, Any], actor: str, now_ns: int
) -> HoldEventRow:
    return HoldEventRow(
        event_id=str(uuid.uuid4()),
        hold_id=hold_id,
        kind=kind,
        packet_id=fields["packet_id"],
        revision=fields["revision"],
        lane=fields["lane"],
        reason=fields["reason"],
        actor=actor,
        at=format_ns(now_ns),
        at_ns=now_ns,
    )


class HoldStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def place(
        self,
        *,
        packet_id: str,
        revision: int,
        lane: str | None,
        reason: str,
        actor: str,
        now_ns: int,
    ) -> dict[str, Any]:
        """Place a hold; returns it with the ids of the tokens it revoked."""
        hold_id = str(uuid.uuid4())
        fields = {"packet_id": packet_id, "revision": revision, "lane": lane, "reason": reason}
        where = (DecisionRow.packet_id == packet_id) & (DecisionRow.packet_revision == revision)
        if lane is not None:
            where = where & (DecisionRow.lane == lane)
        try:
            with self._db.serialized() as conn:
                head = lock_head(conn)
                advance_head(conn, head, _event("placed", hold_id, fields, actor, now_ns))
                revoked = revoke_live_tokens(
                    conn, where, reason="hold", cause=hold_id, now_ns=now_ns
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailable("the hold could not be recorded") from exc
        placed = {"placed_by": actor, "placed_at": format_ns(now_ns)}
        return {"hold_id": hold_id, **fields, **placed, "active": True, "revoked_tokens": revoked}

    def lift(self, hold_id: str, *, actor: str, now_ns: int) -> dict[str, Any]:
        try:
            with self._db.serialized() as conn:
                head = lock_head(conn)
                events = conn.execute(
                    select(HoldEventRow).where(HoldEventRow.hold_id == hold_id)
                ).all()
                placed = next((e for e in events if e.kind == "placed"), None)
                if placed is None:
                    raise HoldNotFound(f"no hold {hold_id}")
                if any(e.kind == "lifted" for e in events):
                    raise HoldAlreadyLifted(f"hold {hold_id} is already lifted")
                fields = {k: getattr(placed, k) for k in _HOLD_FIELDS}
                advance_head(conn, head, _event("lifted", hold_id, fields, actor, now_ns))
        except SQLAlchemyError as exc:
            raise StoreUnavailable("the hold could not be lifted") from exc
        lifted = {"lifted_by": actor, "lifted_at": format_ns(now_ns)}
        return {
            "hold_id": hold_id,
            **fields,
            "placed_by": placed.actor,
            "placed_at": placed.at,
            "active": False,
            **lifted,
        }

    def active(self) -> list[dict[str, Any]]:
        try:
            with self._db.read() as conn:
                return active_holds(conn)
        except SQLAlchemyError as exc:
            raise StoreUnavailable("the decision store cannot be read") from exc
