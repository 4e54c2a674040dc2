"""Recent packets, one row per packet and lane, newest activity first; and a revision's state.

The list walks the decision log backwards by ``seq`` (the primary key), in
batches, collecting each (packet, lane) the first time it appears, so a page
costs at most :data:`MAX_SCAN` rows read whatever the log's size. A cursor is a
position in that walk (``base64url(JSON {"v": 1, "before": seq, "lane": ...})``):
every pair with a decision at or after it was on an earlier page, and is
skipped (one indexed look-up per pair met). Like the audit API's cursor it is
opaque, bound to its filter, and a position rather than a secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from release_gate.store.holds import active_holds
from release_gate.store.query import InvalidCursor
from release_gate.store.schema import DecisionRow, RevocationRow
from release_gate.store.story.model import (
    HoldEntry,
    PacketPage,
    PacketSummary,
    RevisionState,
    RevocationEntry,
)
from release_gate_client.b64url import b64url_decode, b64url_encode

__all__ = ["MAX_SCAN", "chunks", "read_packet_page", "revision_state", "revocations_of"]

_BATCH = 500
#: Rows of the log one page may read, whatever the log's size.
MAX_SCAN = 20_000
_IN_CHUNK = 500
_INT64_MAX = 2**63 - 1


def chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """``values`` in slices small enough for one ``IN (...)``."""
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def revocations_of(conn: Connection, token_ids: Sequence[str]) -> dict[str, RevocationEntry]:
    """The revocations of ``token_ids`` (by primary key), by token id."""
    found: dict[str, RevocationEntry] = {}
    for chunk in chunks(token_ids):
        for row in conn.execute(select(RevocationRow).where(RevocationRow.jti.in_(chunk))):
            found[row.jti] = RevocationEntry(row.reason, row.cause, row.revoked_at)
    return found


def revision_state(
    newest: Any,
    *,
    now_s: int,
    superseded: bool,
    hold: HoldEntry | None,
    revoked: Mapping[str, RevocationEntry],
) -> RevisionState:
    """The state of a revision whose newest decision (a row) is ``newest``."""
    if superseded:
        return RevisionState("superseded")
    if hold is not None:
        return RevisionState("on_hold", hold=hold)
    if not newest.allow:
        codes = tuple(dict.fromkeys(v["code"] for v in json.loads(newest.violations)))
        return RevisionState("blocked", codes=codes)
    revocation = revoked.get(newest.token_id) if newest.token_id else None
    if revocation is not None:
        return RevisionState("revoked", revocation=revocation)
    if newest.token_expires_at is None or newest.token_expires_at <= now_s:
        return RevisionState("expired")
    return RevisionState("live")


def _encode(before: int, lane: str | None) -> str:
    value = {"v": 1, "before": before, "lane": lane}
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode())


def _decode(cursor: str, lane: str | None) -> int:
    problem = "the cursor is not one this gate issued"
    try:
        value = json.loads(b64url_decode(cursor)) if len(cursor) <= 256 else None
    except (ValueError, UnicodeError) as exc:
        raise InvalidCursor(problem) from exc
    if not isinstance(value, dict) or set(value) != {"v", "before", "lane"} or value["v"] != 1:
        raise InvalidCursor(problem)
    before = value["before"]
    if type(before) is not int or not 1 <= before <= _INT64_MAX:
        raise InvalidCursor(problem)
    if value["lane"] != lane:
        raise InvalidCursor("the cursor was issued for another lane; start from the first page")
    return before


def _listed_before(conn: Connection, packet_id: str, lane: str, position: int) -> bool:
    """Has the pair a decision at or after ``position`` (so an earlier page listed it)?"""
    stmt = select(DecisionRow.seq).where(
        (DecisionRow.packet_id == packet_id)
        & (DecisionRow.lane == lane)
        & (DecisionRow.seq >= position)
    )
    return conn.execute(stmt.limit(1)).first() is not None


def _walk(
    conn: Connection, lane: str | None, before: int | None, limit: int, scan_limit: int
) -> tuple[list[tuple[str, str, int]], int | None]:
    """Up to ``limit`` pairs met walking back from ``before``, and where the next page starts.

    At most ``scan_limit`` rows are read; a page cut short by it says where to go on.
    """
    found: list[tuple[str, str, int]] = []
    seen: set[tuple[str, str]] = set()
    position, scanned = before, 0
    while scanned < scan_limit:
        stmt = select(DecisionRow.seq, DecisionRow.packet_id, DecisionRow.lane)
        if position is not None:
            stmt = stmt.where(DecisionRow.seq < position)
        if lane is not None:
            stmt = stmt.where(DecisionRow.lane == lane)
        batch = min(_BATCH, scan_limit - scanned)
        rows = conn.execute(stmt.order_by(DecisionRow.seq.desc()).limit(batch)).all()
        if not rows:
            return found, None
        for row in rows:
            pair = (row.packet_id, row.lane)
            if pair in seen:
                continue
            seen.add(pair)
            if before is not None and _listed_before(conn, *pair, before):
                continue
            if len(found) == limit:  # a pair for the next page: it starts after the last one
                return found, found[-1][2]
            found.append((*pair, row.seq))
        scanned += len(rows)
        position = rows[-1].seq
    return found, position


def _summary(conn: Connection, packet_id: str, lane: str, newest_seq: int, now_s: int) -> Any:
    pair = (DecisionRow.packet_id == packet_id) & (DecisionRow.lane == lane)
    revision = conn.execute(select(func.max(DecisionRow.packet_revision)).where(pair)).scalar_one()
    columns = (
        DecisionRow.decision_id,
        DecisionRow.packet_digest,
        DecisionRow.evaluated_at,
        DecisionRow.allow,
        DecisionRow.violations,
        DecisionRow.token_id,
        DecisionRow.token_expires_at,
    )
    newest = conn.execute(
        select(*columns)
        .where(pair & (DecisionRow.packet_revision == revision))
        .order_by(DecisionRow.seq.desc())
        .limit(1)
    ).one()
    last = conn.execute(select(DecisionRow.evaluated_at).where(DecisionRow.seq == newest_seq))
    holds = [
        HoldEntry(
            h["hold_id"], h["revision"], h["lane"], h["reason"], h["placed_by"], h["placed_at"]
        )
        for h in active_holds(conn, packet_id=packet_id)
    ]
    hold = next((h for h in holds if h.covers(revision, lane)), None)
    revoked = revocations_of(conn, [newest.token_id] if newest.token_id else [])
    return PacketSummary(
        packet_id=packet_id,
        lane=lane,
        revision=revision,
        digest=newest.packet_digest,
        decision_id=newest.decision_id,
        decided_at=newest.evaluated_at,
        last_activity_at=last.scalar_one(),
        state=revision_state(newest, now_s=now_s, superseded=False, hold=hold, revoked=revoked),
    )


def read_packet_page(
    conn: Connection,
    *,
    lane: str | None,
    limit: int,
    cursor: str | None,
    now_s: int,
    scan_limit: int = MAX_SCAN,
) -> PacketPage:
    """One page of recent packets (newest activity first); :class:`InvalidCursor` if bad."""
    before = _decode(cursor, lane) if cursor is not None else None
    pairs, next_before = _walk(conn, lane, before, limit, scan_limit)
    items = tuple(_summary(conn, pid, ln, seq, now_s) for pid, ln, seq in pairs)
    return PacketPage(items, _encode(next_before, lane) if next_before is not None else None)
