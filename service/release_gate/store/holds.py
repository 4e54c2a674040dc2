"""Holds on a packet revision, as append-only events (``placed``, ``lifted``).

Placing a hold is an entry of the chain like a decision (through the
group-commit writer, :mod:`release_gate.store.appender`): the event is chained,
the hold joins the packet's active holds, and the live tokens of the held
revision (in the held lane, or every lane) are revoked, all in one commit. An
evaluation that appends after that commit re-reads the holds under the same
lock, so a hold placed at one replica is honoured by every replica at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from release_gate.errors import GateError, StoreUnavailable
from release_gate.store.appender import Appender, Batch
from release_gate.store.chain import Unchained
from release_gate.store.db import Database
from release_gate.store.schema import ActiveHoldRow, HoldEventRow
from release_gate.store.state import LiveMatch, Needs
from release_gate.timestamps import format_ns

__all__ = ["HoldAlreadyLifted", "HoldNotFound", "HoldStore", "active_holds"]


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
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "hold_id": hold_id,
        "kind": kind,
        "packet_id": fields["packet_id"],
        "revision": fields["revision"],
        "lane": fields["lane"],
        "reason": fields["reason"],
        "actor": actor,
        "at": format_ns(now_ns),
        "at_ns": now_ns,
    }


@dataclass(frozen=True, slots=True)
class _Place:
    event: dict[str, Any]
    entry: Unchained

    def _match(self) -> LiveMatch:
        e = self.event
        return LiveMatch(e["packet_id"], lane=e["lane"], revision=e["revision"])

    def needs(self) -> Needs:
        return Needs(live=[self._match()])

    def apply(self, batch: Batch) -> list[str]:
        e = self.event
        link = batch.chain(self.entry)
        batch.state.place_hold(
            {
                **{name: e[name] for name in ("hold_id", *_HOLD_FIELDS)},
                "placed_by": e["actor"],
                "placed_at": e["at"],
                "seq": link.seq,
            }
        )
        return batch.state.revoke(
            self._match(), reason="hold", cause=e["hold_id"], now_ns=e["at_ns"]
        )


@dataclass(frozen=True, slots=True)
class _Lift:
    hold_id: str
    actor: str
    now_ns: int

    def needs(self) -> Needs:
        return Needs(hold_ids={self.hold_id})

    def apply(self, batch: Batch) -> dict[str, Any]:
        events = batch.state.hold_events.setdefault(self.hold_id, [])
        placed = next((e for e in events if e["kind"] == "placed"), None)
        if placed is None:
            raise HoldNotFound(f"no hold {self.hold_id}")
        if any(e["kind"] == "lifted" for e in events):
            raise HoldAlreadyLifted(f"hold {self.hold_id} is already lifted")
        fields = {k: placed[k] for k in _HOLD_FIELDS}
        lifted = _event("lifted", self.hold_id, fields, self.actor, self.now_ns)
        batch.chain(Unchained.of(HoldEventRow, lifted))
        events.append(lifted)
        batch.state.lift_hold(placed["packet_id"], self.hold_id)
        return placed


class HoldStore:
    def __init__(self, db: Database, appender: Appender) -> None:
        self._db = db
        self._appender = appender

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
        event = _event("placed", hold_id, fields, actor, now_ns)
        revoked = self._appender.append(_Place(event, Unchained.of(HoldEventRow, event)))
        placed = {"placed_by": actor, "placed_at": format_ns(now_ns)}
        return {"hold_id": hold_id, **fields, **placed, "active": True, "revoked_tokens": revoked}

    def lift(self, hold_id: str, *, actor: str, now_ns: int) -> dict[str, Any]:
        placed = self._appender.append(_Lift(hold_id, actor, now_ns))
        return {
            "hold_id": hold_id,
            **{k: placed[k] for k in _HOLD_FIELDS},
            "placed_by": placed["actor"],
            "placed_at": placed["at"],
            "active": False,
            "lifted_by": actor,
            "lifted_at": format_ns(now_ns),
        }

    def active(self, *, packet_id: str | None = None) -> list[dict[str, Any]]:
        """Holds placed and not lifted (of one packet, or all), oldest first."""
        try:
            with self._db.read() as conn:
                return active_holds(conn, packet_id=packet_id)
        except SQLAlchemyError as exc:
            raise StoreUnavailable("the decision store cannot be read") from exc


def active_holds(conn: Connection, *, packet_id: str | None = None) -> list[dict[str, Any]]:
    """Holds placed and not lifted (of one packet, or all), oldest first, from the state
    the appends keep (by primary key for one packet)."""
    query = select(ActiveHoldRow.__table__).order_by(ActiveHoldRow.seq)
    if packet_id is not None:
        query = query.where(ActiveHoldRow.packet_id == packet_id)
    fields = ("hold_id", *_HOLD_FIELDS, "placed_by", "placed_at")
    return [{name: row._mapping[name] for name in fields} for row in conn.execute(query)]
