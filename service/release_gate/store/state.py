"""The state the appends keep up to date, as one batch sees it.

A batch (:mod:`release_gate.store.appender`) first asks every entry what it
will read (:class:`Needs`) and loads all of it with one statement per table,
by primary key or its prefix; the entries then read and change that state in
memory, in order, so the second of two approvals in one batch sees the first
exactly as it would in a batch of its own; :meth:`BatchState.flush` writes the
changes, in the batch's transaction. No statement here depends on the size of
the history, only on the keys the batch touches.

Tables (:mod:`release_gate.store.schema`): ``packet_state`` (latest approved
revision and digest per packet and lane), ``active_holds``, ``live_tokens``
(approvals whose token is not revoked; expired ones are pruned as they are
met), and ``revocations`` (written, never read here).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from release_gate.decision.model import Facts, History, Hold
from release_gate.store.schema import (
    ActiveHoldRow,
    HoldEventRow,
    LiveTokenRow,
    PacketStateRow,
    RevocationRow,
)
from release_gate.timestamps import format_ns

__all__ = [
    "LEEWAY_SECONDS",
    "BatchState",
    "LiveMatch",
    "LiveToken",
    "Needs",
    "live_tokens",
    "read_facts",
]

#: Seconds a verifier may accept a token after its ``exp`` (contract section 5).
LEEWAY_SECONDS = 60


@dataclass(frozen=True, slots=True)
class LiveToken:
    jti: str
    packet_id: str
    lane: str
    revision: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class LiveMatch:
    """Which live tokens an entry may revoke: of one packet, optionally one lane,
    and revisions below or equal to a number."""

    packet_id: str
    lane: str | None = None
    below: int | None = None
    revision: int | None = None

    def matches(self, token: LiveToken) -> bool:
        return (
            token.packet_id == self.packet_id
            and (self.lane is None or token.lane == self.lane)
            and (self.below is None or token.revision < self.below)
            and (self.revision is None or token.revision == self.revision)
        )

    def sql(self) -> ColumnElement[bool]:
        conditions = [LiveTokenRow.packet_id == self.packet_id]
        if self.lane is not None:
            conditions.append(LiveTokenRow.lane == self.lane)
        if self.below is not None:
            conditions.append(LiveTokenRow.revision < self.below)
        if self.revision is not None:
            conditions.append(LiveTokenRow.revision == self.revision)
        return and_(*conditions)


@dataclass
class Needs:
    """What the entries of a batch will read, loaded before any of them runs."""

    histories: set[tuple[str, str]] = field(default_factory=set)
    hold_packets: set[str] = field(default_factory=set)
    hold_ids: set[str] = field(default_factory=set)
    live: list[LiveMatch] = field(default_factory=list)

    def add(self, other: Needs) -> None:
        self.histories |= other.histories
        self.hold_packets |= other.hold_packets
        self.hold_ids |= other.hold_ids
        self.live += other.live


def _hold(row: dict[str, Any]) -> Hold:
    return Hold(
        hold_id=row["hold_id"], revision=row["revision"], lane=row["lane"], reason=row["reason"]
    )


class BatchState:
    """Loaded once per batch, changed in memory by its entries, flushed once."""

    def __init__(self) -> None:
        self._history: dict[tuple[str, str], History] = {}
        self._history_stored: set[tuple[str, str]] = set()
        self._history_dirty: set[tuple[str, str]] = set()
        self._holds: dict[str, dict[str, dict[str, Any]]] = {}
        self._holds_added: dict[tuple[str, str], dict[str, Any]] = {}
        self._holds_removed: set[tuple[str, str]] = set()
        self.hold_events: dict[str, list[dict[str, Any]]] = {}
        self._live: dict[str, LiveToken] = {}
        self._live_loaded: set[str] = set()
        self._live_deleted: set[LiveToken] = set()
        self._revocations: list[dict[str, Any]] = []

    # Loading

    def load(self, conn: Connection, needs: Needs) -> None:
        if needs.histories:
            keys = sorted(needs.histories)
            rows = conn.execute(
                select(PacketStateRow).where(
                    tuple_(PacketStateRow.packet_id, PacketStateRow.lane).in_(keys)
                )
            )
            for row in rows:
                key = (row.packet_id, row.lane)
                self._history[key] = History(
                    row.latest_approved_revision, row.latest_approved_digest
                )
                self._history_stored.add(key)
        if needs.hold_packets:
            rows = conn.execute(
                select(ActiveHoldRow.__table__)
                .where(ActiveHoldRow.packet_id.in_(sorted(needs.hold_packets)))
                .order_by(ActiveHoldRow.seq)
            )
            for row in rows:
                self._holds.setdefault(row.packet_id, {})[row.hold_id] = dict(row._mapping)
        if needs.hold_ids:
            rows = conn.execute(
                select(HoldEventRow.__table__)
                .where(HoldEventRow.hold_id.in_(sorted(needs.hold_ids)))
                .order_by(HoldEventRow.seq)
            )
            for row in rows:
                self.hold_events.setdefault(row.hold_id, []).append(dict(row._mapping))
        if needs.live:
            rows = conn.execute(select(LiveTokenRow).where(or_(*(m.sql() for m in needs.live))))
            for row in rows:
                token = LiveToken(row.jti, row.packet_id, row.lane, row.revision, row.expires_at)
                self._live[token.jti] = token
                self._live_loaded.add(token.jti)

    # Reading

    def history(self, packet_id: str, lane: str) -> History:
        return self._history.get((packet_id, lane), History())

    def facts(self, packet_id: str, lane: str) -> Facts:
        holds = self._holds.get(packet_id, {})
        return Facts(
            history=self.history(packet_id, lane),
            holds=tuple(_hold(h) for h in holds.values()),
        )

    # Changing

    def set_history(self, packet_id: str, lane: str, history: History) -> None:
        self._history[(packet_id, lane)] = history
        self._history_dirty.add((packet_id, lane))

    def place_hold(self, row: dict[str, Any]) -> None:
        key = (str(row["packet_id"]), str(row["hold_id"]))
        self._holds.setdefault(key[0], {})[key[1]] = row
        self._holds_added[key] = row

    def lift_hold(self, packet_id: str, hold_id: str) -> None:
        self._holds.get(packet_id, {}).pop(hold_id, None)
        if self._holds_added.pop((packet_id, hold_id), None) is None:
            self._holds_removed.add((packet_id, hold_id))

    def add_live(self, token: LiveToken) -> None:
        self._live[token.jti] = token

    def revoke(self, match: LiveMatch, *, reason: str, cause: str, now_ns: int) -> list[str]:
        """Revoke the live tokens ``match`` selects (it must have been in the batch's
        :class:`Needs`) that are unexpired at ``now_ns``; expired ones it meets are
        pruned. Returns the revoked jtis."""
        revoked: list[str] = []
        floor = now_ns // 1_000_000_000 - LEEWAY_SECONDS
        for token in [t for t in self._live.values() if match.matches(t)]:
            del self._live[token.jti]
            if token.jti in self._live_loaded:
                self._live_deleted.add(token)
            if token.expires_at > floor:
                revoked.append(token.jti)
                self._revocations.append(_revocation(token, reason, cause, now_ns))
        return revoked

    # Writing

    def flush(self, conn: Connection) -> None:
        """Write every change, in the batch's transaction."""
        self._flush_history(conn)
        if self._holds_removed:
            conn.execute(
                delete(ActiveHoldRow).where(
                    tuple_(ActiveHoldRow.packet_id, ActiveHoldRow.hold_id).in_(
                        sorted(self._holds_removed)
                    )
                )
            )
        if self._holds_added:
            conn.execute(insert(ActiveHoldRow), list(self._holds_added.values()))
        if self._live_deleted:
            keys = [(t.packet_id, t.lane, t.revision, t.jti) for t in self._live_deleted]
            conn.execute(
                delete(LiveTokenRow).where(
                    tuple_(
                        LiveTokenRow.packet_id,
                        LiveTokenRow.lane,
                        LiveTokenRow.revision,
                        LiveTokenRow.jti,
                    ).in_(keys)
                )
            )
        added = [t for jti, t in self._live.items() if jti not in self._live_loaded]
        if added:
            conn.execute(insert(LiveTokenRow), [_live_row(t) for t in added])
        if self._revocations:
            conn.execute(insert(RevocationRow), self._revocations)

    def _flush_history(self, conn: Connection) -> None:
        new = [k for k in self._history_dirty if k not in self._history_stored]
        if new:
            conn.execute(insert(PacketStateRow), [self._history_row(k) for k in sorted(new)])
        for key in sorted(self._history_dirty & self._history_stored):
            history = self._history[key]
            conn.execute(
                update(PacketStateRow)
                .where((PacketStateRow.packet_id == key[0]) & (PacketStateRow.lane == key[1]))
                .values(
                    latest_approved_revision=history.latest_approved_revision,
                    latest_approved_digest=history.latest_approved_digest,
                )
            )

    def _history_row(self, key: tuple[str, str]) -> dict[str, Any]:
        history = self._history[key]
        return {
            "packet_id": key[0],
            "lane": key[1],
            "latest_approved_revision": history.latest_approved_revision,
            "latest_approved_digest": history.latest_approved_digest,
        }


def _revocation(token: LiveToken, reason: str, cause: str, now_ns: int) -> dict[str, Any]:
    return {
        "jti": token.jti,
        "packet_id": token.packet_id,
        "revision": token.revision,
        "lane": token.lane,
        "reason": reason,
        "cause": cause,
        "revoked_at": format_ns(now_ns),
        "expires_at": token.expires_at,
    }


def _live_row(token: LiveToken) -> dict[str, Any]:
    return {
        "jti": token.jti,
        "packet_id": token.packet_id,
        "lane": token.lane,
        "revision": token.revision,
        "expires_at": token.expires_at,
    }


def read_facts(conn: Connection, *, packet_id: str, lane: str) -> Facts:
    """One packet's facts in one lane, by primary key (outside any lock)."""
    state = BatchState()
    state.load(conn, Needs(histories={(packet_id, lane)}, hold_packets={packet_id}))
    return state.facts(packet_id, lane)


def live_tokens(conn: Connection, *, now_s: int) -> Iterator[LiveToken]:
    """Every live token not yet expired (policy reload re-checks these)."""
    rows = conn.execute(
        select(LiveTokenRow).where(LiveTokenRow.expires_at > now_s - LEEWAY_SECONDS)
    )
    for row in rows:
        yield LiveToken(row.jti, row.packet_id, row.lane, row.revision, row.expires_at)
