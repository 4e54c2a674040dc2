"""The hash chain over the audit log (docs/audit.md).

Each entry (a decision or a hold event) carries ``seq``, ``prev_hash`` and
``record_hash`` (:data:`_KINDS` lists the tables)::

    record_hash = hex(sha256(bytes.fromhex(prev_hash) || JCS(fields)))

``fields`` is every column of the entry except the two hashes, plus ``kind``
(``"decision"`` or ``"hold"``); integers are written as decimal strings (JCS
allows only integers up to 2^53, nanosecond times exceed it), and the manifest
text as received enters as ``"sha256:" + hex(sha256(text))`` (as binding as the
text itself, and canonicalising a 1 MiB string on every append would cost more
than the rest of the decision). The first
entry's ``prev_hash`` is :data:`GENESIS`. Entries are appended only inside
:meth:`Database.serialized` after :func:`lock_head` (by the group-commit writer,
:mod:`release_gate.store.appender`), so the chain stays one line however many
replicas write. :func:`verify_chain` recomputes it.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785
from sqlalchemy import Connection, select, update

from release_gate.store.consistency import StateProblem
from release_gate.store.schema import (
    Chained,
    ChainHead,
    DecisionRow,
    EvidenceEventRow,
    HoldEventRow,
    IntakeOutcomeRow,
    PolicyEventRow,
)

__all__ = [
    "GENESIS",
    "PROGRESS_EVERY",
    "ChainHeadState",
    "ChainLink",
    "ChainReport",
    "Progress",
    "Unchained",
    "entry_hash",
    "entry_hash_at",
    "lock_head",
    "move_head",
    "read_head",
    "verify_chain",
]

GENESIS = "0" * 64
_HASHES = ("prev_hash", "record_hash")
_DIGESTED = ("manifest",)
#: Every table of chained entries, and the ``kind`` its entries hash with.
_KINDS: dict[type[Chained], str] = {
    DecisionRow: "decision",
    HoldEventRow: "hold",
    EvidenceEventRow: "evidence",
    IntakeOutcomeRow: "outcome",
    PolicyEventRow: "policy",
}


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
    state: tuple[StateProblem, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "ok": self.ok,
            "entries": self.entries,
            "head": {"seq": self.head.seq, "hash": self.head.hash},
            "state": {"ok": not self.state, "problems": [p.to_dict() for p in self.state]},
        }
        if self.problem is not None:
            report["first_broken_link"] = {
                "seq": self.broken_seq,
                "kind": self.broken_kind,
                "id": self.broken_id,
                "problem": self.problem,
            }
        return report


def _fields(table: type[Chained], values: Mapping[str, Any]) -> dict[str, Any]:
    """What the hash covers: every column but the two hashes, plus ``kind``."""
    fields: dict[str, Any] = {"kind": _KINDS[table]}
    for column in table.__table__.columns:
        if column.name in _HASHES or column.name not in values:
            continue
        value = values[column.name]
        if column.name in _DIGESTED and isinstance(value, str):
            value = "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
        fields[column.name] = str(value) if type(value) is int else value
    return fields


def entry_hash(prev_hash: str, table: type[Chained], values: Mapping[str, Any]) -> str:
    """``record_hash`` of an entry of ``table`` with column ``values`` (``seq`` included)."""
    fields = _fields(table, values)
    return hashlib.sha256(bytes.fromhex(prev_hash) + rfc8785.dumps(fields)).hexdigest()


@dataclass(frozen=True, slots=True)
class Unchained:
    """An entry ready to be chained: its table, its column values (all but ``seq`` and
    the hashes) and its canonical form split around ``seq``, all computed before the
    chain's lock is taken; :func:`link` then only adds ``seq`` and hashes."""

    table: type[Chained]
    values: Mapping[str, Any]
    _before: bytes
    _after: bytes

    @classmethod
    def of(cls, table: type[Chained], values: Mapping[str, Any]) -> Unchained:
        fields = _fields(table, values)
        # JCS sorts members by name (all ASCII here), so the members before and after
        # "seq" canonicalise on their own and the whole is their join around it.
        before = rfc8785.dumps({k: v for k, v in fields.items() if k < "seq"})[1:-1]
        after = rfc8785.dumps({k: v for k, v in fields.items() if k > "seq"})[1:-1]
        return cls(table, values, before, after)

    def link(self, prev: ChainHeadState) -> dict[str, Any]:
        """The row, chained after ``prev``: values plus ``seq``, ``prev_hash``, ``record_hash``."""
        seq = prev.seq + 1
        members = [self._before, b'"seq":"%d"' % seq, self._after]
        canonical = b"{" + b",".join(m for m in members if m) + b"}"
        record_hash = hashlib.sha256(bytes.fromhex(prev.hash) + canonical).hexdigest()
        return {**self.values, "seq": seq, "prev_hash": prev.hash, "record_hash": record_hash}


def lock_head(conn: Connection) -> ChainHeadState:
    """Read the head, holding its row lock (PostgreSQL) until the transaction ends."""
    row = conn.execute(
        select(ChainHead.seq, ChainHead.hash).where(ChainHead.id == 1).with_for_update()
    ).one()
    return ChainHeadState(seq=row.seq, hash=row.hash)


def read_head(conn: Connection) -> ChainHeadState:
    row = conn.execute(select(ChainHead.seq, ChainHead.hash).where(ChainHead.id == 1)).one()
    return ChainHeadState(seq=row.seq, hash=row.hash)


def move_head(conn: Connection, head: ChainHeadState) -> None:
    conn.execute(update(ChainHead).where(ChainHead.id == 1).values(seq=head.seq, hash=head.hash))


def entry_hash_at(conn: Connection, seq: int) -> str | None:
    """The ``record_hash`` of the entry at ``seq``, or ``None``."""
    for model in _KINDS:
        found = conn.execute(select(model.record_hash).where(model.seq == seq)).scalar()
        if found is not None:
            return str(found)
    return None


_Entry = tuple[int, type[Chained], Mapping[str, Any]]


def _rows(conn: Connection, model: type[Chained]) -> Generator[_Entry]:
    stream = conn.execution_options(stream_results=True, yield_per=500)
    query = select(model.__table__).order_by(model.seq)
    with stream.execute(query) as result:
        for row in result:
            yield int(row.seq), model, dict(row._mapping)


def _entry_id(values: Mapping[str, Any]) -> str:
    return str(values.get("decision_id") or values.get("event_id") or "")


Progress = Callable[[int, int], None]


def verify_chain(conn: Connection, *, progress: Progress | None = None) -> ChainReport:
    """Walk every entry in ``seq`` order; the first broken link wins.

    ``conn`` must be in a snapshot transaction (:meth:`Database.snapshot`): the head
    and the entries are then read as of one instant, however many writers append
    meanwhile. ``progress(done, total)`` is called every :data:`PROGRESS_EVERY`
    entries, with the head's ``seq`` as the total.
    """
    head = read_head(conn)
    sources = tuple(_rows(conn, model) for model in _KINDS)
    entries: Iterator[_Entry] = heapq.merge(*sources, key=lambda e: e[0])
    if progress is not None:
        entries = _reporting(entries, head.seq, progress)
    try:
        return _walk(head, entries)
    finally:
        for source in sources:
            source.close()


PROGRESS_EVERY = 10_000


def _reporting(entries: Iterator[_Entry], total: int, progress: Progress) -> Iterator[_Entry]:
    for done, entry in enumerate(entries, start=1):
        if done % PROGRESS_EVERY == 0:
            progress(done, total)
        yield entry


def _walk(head: ChainHeadState, entries: Iterator[_Entry]) -> ChainReport:
    prev = ChainHeadState(seq=0, hash=GENESIS)
    count = 0
    for seq, table, row in entries:
        problem = None
        if seq != prev.seq + 1:
            problem = f"expected seq {prev.seq + 1}, found {seq} (an entry is missing)"
        elif row["prev_hash"] != prev.hash:
            problem = "prev_hash does not match the previous entry's record_hash"
        elif row["record_hash"] != entry_hash(prev.hash, table, row):
            problem = "record_hash does not match the entry's content (altered)"
        if problem:
            return ChainReport(False, count, head, seq, _KINDS[table], _entry_id(row), problem)
        prev = ChainHeadState(seq=seq, hash=row["record_hash"])
        count += 1
    if prev != head:
        problem = f"the chain ends at seq {prev.seq} but the head says {head.seq} ({head.hash})"
        return ChainReport(False, count, head, prev.seq + 1, None, None, problem)
    return ChainReport(True, count, head)
