"""The hash chain over the audit log (docs/audit.md).

Each entry (a decision or a hold event) carries ``seq``, ``prev_hash`` and
``record_hash``::

    record_hash = hex(sha256(bytes.fromhex(prev_hash) || JCS(fields)))

``fields`` is every column of the entry except the two hashes, plus ``kind``
(``"decision"`` or ``"hold"``); integers are written as decimal strings (JCS
allows only integers up to 2^53, nanosecond times exceed it), and the manifest
text as received enters as ``"sha256:" + hex(sha256(text))`` (as binding as the
text itself, and canonicalising a 1 MiB string on every append would cost more
than the rest of the decision). The first
entry's ``prev_hash`` is :data:`GENESIS`. Entries are appended only inside
:meth:`Database.serialized` after :func:`lock_head`, so the chain stays one
line however many replicas write. :func:`verify_chain` recomputes it.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import rfc8785
from sqlalchemy import Connection, insert, select, update

from release_gate.store.schema import Chained, ChainHead, DecisionRow, HoldEventRow

__all__ = [
    "GENESIS",
    "PROGRESS_EVERY",
    "ChainHeadState",
    "ChainLink",
    "ChainReport",
    "Progress",
    "advance_head",
    "entry_hash",
    "entry_hash_at",
    "lock_head",
    "read_head",
    "verify_chain",
]

GENESIS = "0" * 64
_HASHES = ("prev_hash", "record_hash")
_DIGESTED = ("manifest",)
_KINDS: dict[type[Chained], str] = {DecisionRow: "decision", HoldEventRow: "hold"}


@dataclass(frozen=True, slots=True)
class ChainHeadState:
    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class ChainLink:
    """An entry's place in the chain."""

    seq: int
    prev_hash: str
    record_hash: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    entries: int
    head: ChainHeadState
    broken_seq: int | None = None
    broken_kind: str | None = None
    broken_id: str | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "ok": self.ok,
            "entries": self.entries,
            "head": {"seq": self.head.seq, "hash": self.head.hash},
        }
        if not self.ok:
            report["first_broken_link"] = {
                "seq": self.broken_seq,
                "kind": self.broken_kind,
                "id": self.broken_id,
                "problem": self.problem,
            }
        return report


def _fields(row: Chained) -> dict[str, Any]:
    fields: dict[str, Any] = {"kind": _KINDS[type(row)]}
    for column in row.__table__.columns:
        if column.name in _HASHES:
            continue
        value = getattr(row, column.name)
        if column.name in _DIGESTED and isinstance(value, str):
            value = "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
        fields[column.name] = str(value) if type(value) is int else value
    return fields


def entry_hash(prev_hash: str, row: Chained) -> str:
    """``record_hash`` of ``row`` following ``prev_hash``."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + rfc8785.dumps(_fields(row))).hexdigest()


def lock_head(conn: Connection) -> ChainHeadState:
    """Read the head, holding its row lock (PostgreSQL) until the transaction ends."""
    row = conn.execute(
        select(ChainHead.seq, ChainHead.hash).where(ChainHead.id == 1).with_for_update()
    ).one()
    return ChainHeadState(seq=row.seq, hash=row.hash)


def read_head(conn: Connection) -> ChainHeadState:
    row = conn.execute(select(ChainHead.seq, ChainHead.hash).where(ChainHead.id == 1)).one()
    return ChainHeadState(seq=row.seq, hash=row.hash)


def advance_head(conn: Connection, head: ChainHeadState, row: Chained) -> ChainHeadState:
    """Chain ``row`` after ``head`` (sets its seq and hashes), insert it, move the head."""
    row.seq = head.seq + 1
    row.prev_hash = head.hash
    row.record_hash = entry_hash(head.hash, row)
    values = {c.name: getattr(row, c.name) for c in row.__table__.columns}
    conn.execute(insert(type(row)).values(**values))
    new = ChainHeadState(seq=row.seq, hash=row.record_hash)
    conn.execute(update(ChainHead).where(ChainHead.id == 1).values(seq=new.seq, hash=new.hash))
    return new


def entry_hash_at(conn: Connection, seq: int) -> str | None:
    """The ``record_hash`` of the entry at ``seq``, or ``None``."""
    for model in (DecisionRow, HoldEventRow):
        found = conn.execute(select(model.record_hash).where(model.seq == seq)).scalar()
        if found is not None:
            return str(found)
    return None


def _rows(conn: Connection, model: type[Chained]) -> Generator[tuple[int, Chained]]:
    stream = conn.execution_options(stream_results=True, yield_per=500)
    with stream.execute(select(model).order_by(model.seq)) as result:
        for row in result:
            entry = model(**row._mapping)
            yield entry.seq, entry


def _entry_id(row: Chained) -> str:
    return str(getattr(row, "decision_id", None) or getattr(row, "event_id", ""))


Progress = Callable[[int, int], None]


def verify_chain(conn: Connection, *, progress: Progress | None = None) -> ChainReport:
    """Walk every entry in ``seq`` order; the first broken link wins.

    ``progress(done, total)`` is called every :data:`PROGRESS_EVERY` entries, with
    the head's ``seq`` as the total.
    """
    sources = (_rows(conn, DecisionRow), _rows(conn, HoldEventRow))
    head = read_head(conn)
    entries: Iterator[tuple[int, Chained]] = heapq.merge(*sources, key=lambda e: e[0])
    if progress is not None:
        entries = _reporting(entries, head.seq, progress)
    try:
        return _walk(head, entries)
    finally:
        for source in sources:
            source.close()


PROGRESS_EVERY = 10_000


def _reporting(
    entries: Iterator[tuple[int, Chained]], total: int, progress: Progress
) -> Iterator[tuple[int, Chained]]:
    for done, entry in enumerate(entries, start=1):
        if done % PROGRESS_EVERY == 0:
            progress(done, total)
        yield entry


def _walk(head: ChainHeadState, entries: Iterator[tuple[int, Chained]]) -> ChainReport:
    prev = ChainHeadState(seq=0, hash=GENESIS)
    count = 0
    for seq, row in entries:
        problem = None
        if seq != prev.seq + 1:
            problem = f"expected seq {prev.seq + 1}, found {seq} (an entry is missing)"
        elif row.prev_hash != prev.hash:
            problem = "prev_hash does not match the previous entry's record_hash"
        elif row.record_hash != entry_hash(prev.hash, row):
            problem = "record_hash does not match the entry's content (altered)"
        if problem:
            return ChainReport(False, count, head, seq, _KINDS[type(row)], _entry_id(row), problem)
        prev = ChainHeadState(seq=seq, hash=row.record_hash)
        count += 1
    if prev != head:
        problem = f"the chain ends at seq {prev.seq} but the head says {head.seq} ({head.hash})"
        return ChainReport(False, count, head, prev.seq + 1, None, None, problem)
    return ChainReport(True, count, head)
