"""Listing the decision log: filters and opaque cursor pagination, newest first.

A cursor is ``base64url(JSON {"v": 2, "before": seq, "q": <filters' hash>})``:
stable while new decisions are appended (they get higher ``seq`` values), and
bound to the filters of the query that issued it. Callers treat it as opaque.
A cursor that does not decode exactly, or was issued for other filters, is an
:class:`InvalidCursor` (400). It is a position, not a secret: anyone who may
list decisions may start at any position.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from release_gate.errors import BadRequest, FieldError
from release_gate.store.db import Database, StoreUnavailable
from release_gate.store.decisions import DecisionRecord
from release_gate.store.schema import DecisionRow
from release_gate_client.b64url import b64url_decode, b64url_encode

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


_CURSOR_VERSION = 2
_MAX_CURSOR_LENGTH = 256


def _filters_hash(query: DecisionQuery) -> str:
    """What a cursor is bound to: every filter, not the page size."""
    filters = [
        query.packet_id,
        query.revision,
        query.lane,
        query.allow,
        query.since_ns,
        query.until_ns,
    ]
    return hashlib.sha256(json.dumps(filters).encode()).hexdigest()[:16]


def _encode(seq: int, query: DecisionQuery) -> str:
    value = {"v": _CURSOR_VERSION, "before": seq, "q": _filters_hash(query)}
    raw = json.dumps(value, separators=(",", ":")).encode()
    return b64url_encode(raw)


def _invalid(detail: str) -> InvalidCursor:
    return InvalidCursor(detail, errors=(FieldError("", f"invalid cursor: {detail}"),))


def _decode(cursor: str, query: DecisionQuery) -> int:
    """The ``seq`` a cursor of this query starts before; :class:`InvalidCursor` otherwise."""
    if len(cursor) > _MAX_CURSOR_LENGTH:
        raise _invalid("the cursor is not one this gate issued")
    try:
        value = json.loads(b64url_decode(cursor))
    except (ValueError, UnicodeError) as exc:
        raise _invalid("the cursor is not one this gate issued") from exc
    if not isinstance(value, dict) or set(value) != {"v", "before", "q"}:
        raise _invalid("the cursor is not one this gate issued")
    before, version = value["before"], value["v"]
    if type(version) is not int or version != _CURSOR_VERSION:
        raise _invalid("the cursor is not one this gate issued")
    if type(before) is not int or not 1 <= before <= _INT64_MAX:
        raise _invalid("the cursor is not one this gate issued")
    if value["q"] != _filters_hash(query):
        raise _invalid("the cursor was issued for other filters; start from the first page")
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
        conditions.append(DecisionRow.seq < _decode(query.cursor, query))
    stmt = select(DecisionRow).where(*conditions)
    return stmt.order_by(DecisionRow.seq.desc()).limit(query.limit + 1)


def list_decisions(db: Database, query: DecisionQuery) -> DecisionPage:
    stmt = _filtered(query)
    try:
        with db.read() as conn:
            rows = list(conn.execute(stmt))
    except SQLAlchemyError as exc:
        raise StoreUnavailable("the decision store cannot be read") from exc
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursor = _encode(rows[-1].seq, query) if more and rows else None
    return DecisionPage([DecisionRecord.from_row(r) for r in rows], cursor)
