"""Listing the decision log: filters and opaque cursor pagination, newest first.

A cursor is ``base64url(JSON {"v": 1, "before": seq})``: stable while new
decisions are appended (they get higher ``seq`` values). Callers treat it as
opaque; a cursor that does not decode is a :class:`InvalidCursor` (400).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from release_gate.errors import BadRequest, FieldError
from release_gate.store.db import Database, StoreUnavailable
from release_gate.store.decisions import DecisionRecord
from release_gate.store.schema import DecisionRow

__all__ = ["DecisionPage", "DecisionQuery", "InvalidCursor", "list_decisions"]


class InvalidCursor(BadRequest):
    title = "Invalid cursor"
    type_suffix = "invalid-cursor"


@dataclass(frozen=True, slots=True)
class DecisionQuery:
    packet_id: str | None = None
    revision: int | None = None
    lane: str | None = None
    allow: bool | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class DecisionPage:
    items: list[DecisionRecord]
    next_cursor: str | None


#: ``seq`` and ``evaluated_at_ns`` are signed 64-bit columns: larger values do not bind.
_INT64_MAX = 2**63 - 1


def _encode(seq: int) -> str:
    raw = json.dumps({"v": 1, "before": seq}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        before = value["before"]
        if value.get("v") != 1 or type(before) is not int or not 1 <= before <= _INT64_MAX:
            raise ValueError("not a cursor")
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError) as exc:
        raise InvalidCursor(
            "the cursor is not one this gate issued", errors=(FieldError("", "invalid cursor"),)
        ) from exc
    return before


def _int64(instant_ns: int) -> int:
    """Clamp an instant to the column's range (years 0001-9999 exceed it in ns; the
    filter means the same, since every stored instant lies within)."""
    return max(-_INT64_MAX - 1, min(_INT64_MAX, instant_ns))


def _filtered(query: DecisionQuery) -> Select[DecisionRow]:
    conditions: list[ColumnElement[bool]] = []
    if query.packet_id is not None:
        conditions.append(DecisionRow.packet_id == query.packet_id)
    if query.revision is not None:
        conditions.append(DecisionRow.packet_revision == query.revision)
    if query.lane is not None:
        conditions.append(DecisionRow.lane == query.lane)
    if query.allow is not None:
        conditions.append(DecisionRow.allow == query.allow)
    if query.since_ns is not None:
        conditions.append(DecisionRow.evaluated_at_ns >= _int64(query.since_ns))
    if query.until_ns is not None:
        conditions.append(DecisionRow.evaluated_at_ns < _int64(query.until_ns))
    if query.cursor is not None:
        conditions.append(DecisionRow.seq < _decode(query.cursor))
    stmt = select(DecisionRow).where(*conditions)
    return stmt.order_by(DecisionRow.seq.desc()).limit(query.limit + 1)


def list_decisions(db: Database, query: DecisionQuery) -> DecisionPage:
    stmt = _filtered(query)
    try:
        with db.read() as conn:
            rows = [DecisionRow(**r._mapping) for r in conn.execute(stmt)]
    except SQLAlchemyError as exc:
        raise StoreUnavailable("the decision store cannot be read") from exc
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursor = _encode(rows[-1].seq) if more and rows else None
    return DecisionPage([DecisionRecord.from_row(r) for r in rows], cursor)
