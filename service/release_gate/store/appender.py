"""Group commit: the entries waiting at one moment are chained and committed together.

Callers (a decision, a hold, a lift) hand an :class:`Entry` to
:meth:`Appender.append` and wait. One writer thread per process takes every
entry queued so far and, in one transaction under one acquisition of the
chain's lock (:meth:`Database.serialized`), loads the state they will read
(:class:`~release_gate.store.state.Needs`, one statement per table), applies
them in order, inserts their rows with one statement per table, writes the
state and the head, and commits: one commit, one fsync, for the whole batch.
Only then is each caller answered. Replicas and worker processes each batch
their own entries and meet at the database's lock, so the chain stays one line.

An entry may *refuse* (raise a :class:`~release_gate.errors.GateError` or
:class:`~release_gate.decision.log.FactsChanged`) before it changes anything:
only that caller gets the exception. Any other failure, or a failed commit,
fails every entry of the batch with :class:`StoreUnavailable`: none of them
was recorded, and no token is released for any.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, insert

from release_gate.decision.log import FactsChanged
from release_gate.errors import GateError, StoreUnavailable
from release_gate.store.chain import ChainHeadState, ChainLink, Unchained, lock_head, move_head
from release_gate.store.db import Database
from release_gate.store.schema import Chained, RevocationRow
from release_gate.store.state import BatchState, Needs
from release_gate.store.state_sql import flush, load

__all__ = ["Appender", "Batch", "Entry"]

logger = logging.getLogger(__name__)

#: Entries per transaction at most; more wait for the next one.
MAX_BATCH = 256


class Entry(Protocol):
    """One thing to record. ``apply`` runs in the batch, under the chain's lock: it must
    only refuse (raise) before its first change, and must not do work that could have
    been done before (canonical forms, digests: see :class:`Unchained`)."""

    def needs(self) -> Needs: ...

    def apply(self, batch: Batch) -> Any: ...


@dataclass
class Batch:
    """One transaction's chain position, rows and state, as its entries see them."""

    head: ChainHeadState
    state: BatchState
    _rows: dict[type[Chained], list[dict[str, Any]]] = field(default_factory=dict)

    def chain(self, entry: Unchained) -> ChainLink:
        row = entry.link(self.head)
        self.head = ChainHeadState(seq=row["seq"], hash=row["record_hash"])
        self._rows.setdefault(entry.table, []).append(row)
        return ChainLink(row["seq"], row["prev_hash"], row["record_hash"])

    @property
    def size(self) -> int:
        return sum(len(rows) for rows in self._rows.values())

    def flush(self, conn: Connection) -> None:
        for table, rows in self._rows.items():
            conn.execute(insert(table), rows)
        flush(self.state, conn)
        move_head(conn, self.head)


_STOP = object()
_Item = tuple[Entry, "Future[Any]"]


class Appender:
    """The process's writer: one thread, one transaction per batch."""

    def __init__(self, db: Database, *, timeout: float = 30.0) -> None:
        self._db = db
        self._timeout = timeout
        self._queue: queue.SimpleQueue[_Item | object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0  # transactions committed (read by /metrics)
        self.entries = 0  # entries committed in them
        self.busy_seconds = 0.0  # the writer's time in them, lock waits included
        self._revoked: dict[str, int] = {}  # tokens revoked by committed batches, by reason
        self._tally_lock = threading.Lock()

    def append(self, entry: Entry) -> Any:
        """Record ``entry`` durably and return what it returned; raises its refusal,
        or :class:`StoreUnavailable` if its batch was not committed in time."""
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise StoreUnavailable("the decision store is closed; nothing was recorded")
            self._start()
            self._queue.put((entry, future))
        try:
            return future.result(timeout=self._timeout)
        except TimeoutError as exc:
            raise StoreUnavailable(
                f"the decision store did not commit within {self._timeout:g} s; no token was issued"
            ) from exc

    def revocations(self) -> dict[str, int]:
        """Tokens revoked by the batches this process committed, by reason (for /metrics)."""
        with self._tally_lock:
            return dict(self._revoked)

    def queued(self) -> int:
        """Entries waiting for the next batch (approximate, for tests and metrics)."""
        return self._queue.qsize()

    def close(self) -> None:
        """Finish the entries already queued, then stop the writer."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout=self._timeout)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="appender", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        stop = False
        while not stop:
            items: list[_Item] = []
            for item in self._take():
                if item is _STOP:
                    stop = True
                else:
                    items.append(item)  # type: ignore[arg-type]
            if items:
                self._commit(items)

    def _take(self) -> Iterator[_Item | object]:
        """The next entry (waiting for it), then every entry queued behind it."""
        yield self._queue.get()
        for _ in range(MAX_BATCH - 1):
            try:
                yield self._queue.get_nowait()
            except queue.Empty:
                return

    def _commit(self, items: list[_Item]) -> None:
        started = time.perf_counter()
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._db.serialized() as conn:
                batch = self._batch(conn, [entry for entry, _ in items])
                for entry, _ in items:
                    outcomes.append(_apply(entry, batch))
                batch.flush(conn)
        except Exception as exc:  # every failure of the batch fails all of it, closed
            logger.error("%d entries not recorded: %s", len(items), type(exc).__name__)
            failure = StoreUnavailable("the decision store could not record this; no token issued")
            failure.__cause__ = exc
            for _, future in items:
                future.set_exception(failure)
            return
        self.batches += 1
        self.entries += sum(1 for ok, _ in outcomes if ok)
        self.busy_seconds += time.perf_counter() - started
        self._tally(batch.state.rows.get(RevocationRow, ()))
        for (_, future), (ok, value) in zip(items, outcomes, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _tally(self, revocations: Iterable[dict[str, Any]]) -> None:
        with self._tally_lock:
            for row in revocations:
                reason = str(row["reason"])
                self._revoked[reason] = self._revoked.get(reason, 0) + 1

    @staticmethod
    def _batch(conn: Connection, entries: list[Entry]) -> Batch:
        head = lock_head(conn)
        needs = Needs()
        for entry in entries:
            needs.add(entry.needs())
        state = BatchState()
        load(state, conn, needs)
        return Batch(head=head, state=state)


def _apply(entry: Entry, batch: Batch) -> tuple[bool, Any]:
    before = batch.size
    try:
        return True, entry.apply(batch)
    except (GateError, FactsChanged) as refusal:
        if batch.size != before:  # a refusal after a change would record half an entry
            raise RuntimeError(f"{type(entry).__name__} refused after chaining") from refusal
        return False, refusal
