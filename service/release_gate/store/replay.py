"""Recorded decisions for an impact replay: filtered, newest first, in bounded chunks.

``release-gate policy impact`` decides recorded decisions again under a
candidate policy (:mod:`release_gate.impact`). It reads what each decision was
made on (the manifest as received, the facts and the evaluation time stored
with it) and what it decided (allow and violation codes), nothing else.

:func:`replay_chunks` reads only the chain positions (``seq``) of the matching
decisions and cuts them into :class:`Chunk` s of at most ``size`` decisions,
newest first; :func:`read_chunk` reads one chunk's decisions. So memory stays
bounded by the chunk size, and several processes can replay chunks side by
side. Dry runs are never recorded, so never replayed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from release_gate.decision.model import Facts
from release_gate.errors import StoreUnavailable
from release_gate.store.db import Database
from release_gate.store.schema import DecisionRow, LiveTokenRow
from release_gate.store.state import LEEWAY_SECONDS

__all__ = ["Chunk", "Recorded", "ReplayFilter", "read_chunk", "replay_chunks"]

#: ``evaluated_at_ns`` is a signed 64-bit column: larger bounds do not bind.
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Which decisions: evaluated in [``since_ns``, ``until_ns``), in ``lane``, and with
    ``live_at_s`` only the approvals whose token is live then (unexpired, not revoked)."""

    since_ns: int | None = None
    until_ns: int | None = None
    lane: str | None = None
    live_at_s: int | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """The matching decisions with ``low <= seq <= high``: ``count`` of them."""

    high: int
    low: int
    count: int


@dataclass(frozen=True, slots=True)
class Recorded:
    """One recorded decision: what it was made on and what it decided."""

    seq: int
    decision_id: str
    packet_id: str
    revision: int
    lane: str
    allow: bool
    codes: frozenset[str]  # its violation codes
    manifest_text: str
    manifest_digest: str
    facts: Facts
    evaluated_at_ns: int


def _clamp(instant_ns: int) -> int:
    return max(-_INT64_MAX - 1, min(_INT64_MAX, instant_ns))


def _where(query: ReplayFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.since_ns is not None:
        conditions.append(DecisionRow.evaluated_at_ns >= _clamp(query.since_ns))
    if query.until_ns is not None:
        conditions.append(DecisionRow.evaluated_at_ns < _clamp(query.until_ns))
    if query.lane is not None:
        conditions.append(DecisionRow.lane == query.lane)
    if query.live_at_s is not None:  # the live_tokens row goes when a token is revoked
        live = select(LiveTokenRow.jti).where(
            LiveTokenRow.expires_at > query.live_at_s - LEEWAY_SECONDS
        )
        conditions.append(DecisionRow.token_id.in_(live))
    return conditions


def _read(db: Database, statement: Select[Any]) -> Iterator[int]:
    try:
        with db.read() as conn:
            stream = conn.execution_options(stream_results=True, yield_per=2000)
            with stream.execute(statement) as rows:
                yield from (row[0] for row in rows)
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"recorded decisions cannot be read: {type(exc).__name__}") from exc


def replay_chunks(db: Database, query: ReplayFilter, *, size: int = 250) -> list[Chunk]:
    """The matching decisions, newest first, as chunks of at most ``size``."""
    statement = select(DecisionRow.seq).where(*_where(query)).order_by(DecisionRow.seq.desc())
    chunks: list[Chunk] = []
    high = low = count = 0
    for seq in _read(db, statement):
        if count == 0:
            high = seq
        low, count = seq, count + 1
        if count == size:
            chunks.append(Chunk(high, low, count))
            count = 0
    if count:
        chunks.append(Chunk(high, low, count))
    return chunks


_COLUMNS = (
    DecisionRow.seq,
    DecisionRow.decision_id,
    DecisionRow.packet_id,
    DecisionRow.packet_revision,
    DecisionRow.lane,
    DecisionRow.allow,
    DecisionRow.violations,
    DecisionRow.manifest,
    DecisionRow.manifest_digest,
    DecisionRow.facts,
    DecisionRow.evaluated_at_ns,
)


def read_chunk(db: Database, query: ReplayFilter, chunk: Chunk) -> list[Recorded]:
    """The decisions of ``chunk`` that match ``query``, newest first."""
    statement = (
        select(*_COLUMNS)
        .where(DecisionRow.seq <= chunk.high, DecisionRow.seq >= chunk.low, *_where(query))
        .order_by(DecisionRow.seq.desc())
    )
    try:
        with db.read() as conn:
            rows = conn.execute(statement).all()
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"recorded decisions cannot be read: {type(exc).__name__}") from exc
    return [
        Recorded(
            seq=row.seq,
            decision_id=row.decision_id,
            packet_id=row.packet_id,
            revision=row.packet_revision,
            lane=row.lane,
            allow=row.allow,
            codes=frozenset(item["code"] for item in json.loads(row.violations)),
            manifest_text=row.manifest,
            manifest_digest=row.manifest_digest,
            facts=Facts.from_json(json.loads(row.facts)),
            evaluated_at_ns=row.evaluated_at_ns,
        )
        for row in rows
    ]
