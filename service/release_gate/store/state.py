"""The state the appends keep up to date, as one batch sees it.

A batch (:mod:`release_gate.store.appender`) first asks every entry what it
will read (:class:`Needs`) and loads all of it with one statement per table,
by primary key or its prefix; the entries then read and change that state in
memory, in order, so the second of two approvals in one batch sees the first
exactly as it would in a batch of its own; :meth:`BatchState.flush` writes the
changes, in the batch's transaction (the statements are in
:mod:`release_gate.store.state_sql`). No statement depends on the size of the
history, only on the keys the batch touches.

Tables (:mod:`release_gate.store.schema`): ``packet_state``, ``active_holds``,
``live_tokens`` and the evidence they cite (``live_token_evidence``),
``evidence_state``; and rows derived from the entries (``revocations``,
``decision_codes``), written, never read here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement

from release_gate.decision.model import Facts, History, Hold, Snapshot
from release_gate.store.schema import (
    Base,
    LiveTokenRow,
    RevocationRow,
)
from release_gate.timestamps import format_ns

__all__ = [
    "LEEWAY_SECONDS",
    "BatchState",
    "Citation",
    "LiveMatch",
    "LiveToken",
    "Needs",
    "PacketState",
    "ref_digest",
]

#: Seconds a verifier may accept a token after its ``exp`` (contract section 5).
LEEWAY_SECONDS = 60


def ref_digest(ref: str) -> str:
    """The key of an evidence ``ref`` (refs are text of up to 4,096 code points)."""
    return hashlib.sha256(ref.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class LiveToken:
    jti: str
    packet_id: str
    lane: str
    revision: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class LiveMatch:
    """Which live tokens an entry may revoke: of one packet (optionally one lane, and
    revisions below or equal to a number), or the tokens named in ``jtis``."""

    packet_id: str | None = None
    lane: str | None = None
    below: int | None = None
    revision: int | None = None
    jtis: frozenset[str] | None = None

    def matches(self, token: LiveToken) -> bool:
        return (
            (self.jtis is None or token.jti in self.jtis)
            and (self.packet_id is None or token.packet_id == self.packet_id)
            and (self.lane is None or token.lane == self.lane)
            and (self.below is None or token.revision < self.below)
            and (self.revision is None or token.revision == self.revision)
        )

    def sql(self) -> ColumnElement[bool]:
        conditions: list[ColumnElement[bool]] = []
        if self.jtis is not None:
            conditions.append(LiveTokenRow.jti.in_(sorted(self.jtis)))
        if self.packet_id is not None:
            conditions.append(LiveTokenRow.packet_id == self.packet_id)
        if self.lane is not None:
            conditions.append(LiveTokenRow.lane == self.lane)
        if self.below is not None:
            conditions.append(LiveTokenRow.revision < self.below)
        if self.revision is not None:
            conditions.append(LiveTokenRow.revision == self.revision)
        return and_(*conditions)


@dataclass(frozen=True, slots=True)
class Citation:
    """A live token's manifest cites ``digest`` as the snapshot of (source, ref)."""

    jti: str
    source: str
    ref: str
    digest: str


@dataclass
class PacketState:
    """One ``packet_state`` row: a packet's course in one lane."""

    first_seq: int
    first_decision_ns: int
    first_allow_seq: int | None = None
    first_allow_ns: int | None = None
    denials_before_allow: int = 0
    latest_approved_revision: int | None = None
    latest_approved_digest: str | None = None

    @property
    def history(self) -> History:
        return History(self.latest_approved_revision, self.latest_approved_digest)


@dataclass
class Needs:
    """What the entries of a batch will read, loaded before any of them runs."""

    packets: set[tuple[str, str]] = field(default_factory=set)
    hold_packets: set[str] = field(default_factory=set)
    hold_ids: set[str] = field(default_factory=set)
    live: list[LiveMatch] = field(default_factory=list)
    evidence: set[tuple[str, str]] = field(default_factory=set)  # (source, ref)
    citations: set[tuple[str, str]] = field(default_factory=set)  # (source, ref)
    snapshots: set[tuple[str, str, str]] = field(default_factory=set)  # (source, ref, digest)
    tokens: set[str] = field(default_factory=set)  # jtis: their decision and outcome
    policy_digests: set[str] = field(default_factory=set)

    def add(self, other: Needs) -> None:
        self.packets |= other.packets
        self.hold_packets |= other.hold_packets
        self.hold_ids |= other.hold_ids
        self.live += other.live
        self.evidence |= other.evidence
        self.citations |= other.citations
        self.snapshots |= other.snapshots
        self.tokens |= other.tokens
        self.policy_digests |= other.policy_digests


class BatchState:
    """Loaded once per batch, changed in memory by its entries, flushed once."""

    def __init__(self) -> None:
        self.packets: dict[tuple[str, str], PacketState] = {}
        self.packets_stored: set[tuple[str, str]] = set()
        self.holds: dict[str, dict[str, dict[str, Any]]] = {}
        self.holds_added: dict[tuple[str, str], dict[str, Any]] = {}
        self.holds_removed: set[tuple[str, str]] = set()
        self.hold_events: dict[str, list[dict[str, Any]]] = {}
        self.live: dict[str, LiveToken] = {}
        self.live_loaded: set[str] = set()
        self.live_deleted: set[LiveToken] = set()
        self.citations: dict[str, list[Citation]] = {}  # by jti
        self.citations_added: list[Citation] = []
        self.evidence: dict[tuple[str, str], Snapshot] = {}
        self.evidence_dirty: dict[tuple[str, str], dict[str, Any]] = {}
        self.evidence_stored: set[tuple[str, str]] = set()
        self.rows: dict[type[Base], list[dict[str, Any]]] = {}  # derived rows to insert
        #: Entries recorded before (or earlier in the batch), by their natural key:
        self.evidence_events: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.token_lanes: dict[str, str] = {}  # jti -> lane of its recorded allow
        self.token_released: dict[str, int] = {}  # jti -> its allow's evaluated_at_ns
        self.outcomes: dict[str, dict[str, Any]] = {}  # jti -> its intake outcome
        self.policy_digests: set[str] = set()  # digests a policy event names

    # Reading

    def history(self, packet_id: str, lane: str) -> History:
        packet = self.packets.get((packet_id, lane))
        return packet.history if packet else History()

    def facts(self, packet_id: str, lane: str, evidence: Iterable[tuple[str, str]] = ()) -> Facts:
        """The facts a decision of ``packet_id`` in ``lane`` citing ``evidence`` sees."""
        holds = self.holds.get(packet_id, {})
        snapshots = sorted(
            (s for key in set(evidence) if (s := self.evidence.get(key)) is not None),
            key=lambda s: (s.source, s.ref),
        )
        return Facts(
            history=self.history(packet_id, lane),
            holds=tuple(_hold(h) for h in holds.values()),
            snapshots=tuple(snapshots),
        )

    def citing(self, source: str, ref: str) -> list[Citation]:
        """The citations of (source, ref) by tokens still live in this batch."""
        return [
            c
            for jti, citations in self.citations.items()
            if jti in self.live
            for c in citations
            if c.source == source and c.ref == ref
        ]

    # Changing

    def note_decision(
        self, packet_id: str, lane: str, *, seq: int, at_ns: int, allow: bool
    ) -> None:
        """Keep the packet's course in the lane: first decision, first approval, denials."""
        key = (packet_id, lane)
        packet = self.packets.setdefault(key, PacketState(first_seq=seq, first_decision_ns=at_ns))
        if packet.first_allow_seq is None:
            if allow:
                packet.first_allow_seq, packet.first_allow_ns = seq, at_ns
            else:
                packet.denials_before_allow += 1

    def approve(self, packet_id: str, lane: str, *, revision: int, digest: str) -> None:
        """The approval of ``revision`` becomes the latest if it is the highest."""
        packet = self.packets[(packet_id, lane)]
        latest = packet.latest_approved_revision
        if latest is None or revision > latest:
            packet.latest_approved_revision, packet.latest_approved_digest = revision, digest

    def place_hold(self, row: dict[str, Any]) -> None:
        key = (str(row["packet_id"]), str(row["hold_id"]))
        self.holds.setdefault(key[0], {})[key[1]] = row
        self.holds_added[key] = row

    def lift_hold(self, packet_id: str, hold_id: str) -> None:
        self.holds.get(packet_id, {}).pop(hold_id, None)
        if self.holds_added.pop((packet_id, hold_id), None) is None:
            self.holds_removed.add((packet_id, hold_id))

    def add_live(self, token: LiveToken, citations: list[Citation]) -> None:
        self.live[token.jti] = token
        self.citations[token.jti] = list(citations)
        self.citations_added += citations

    def set_snapshot(self, snapshot: Snapshot, *, observed_at_ns: int, event_id: str) -> None:
        key = (snapshot.source, snapshot.ref)
        self.evidence[key] = snapshot
        self.evidence_dirty[key] = {
            "digest": snapshot.digest,
            "observed_at": snapshot.observed_at,
            "observed_at_ns": observed_at_ns,
            "event_id": event_id,
        }

    def add_rows(self, table: type[Base], rows: list[dict[str, Any]]) -> None:
        if rows:
            self.rows.setdefault(table, []).extend(rows)

    def revoke(self, match: LiveMatch, *, reason: str, cause: str, now_ns: int) -> list[str]:
        """Revoke the live tokens ``match`` selects (it must have been in the batch's
        :class:`Needs`) that are unexpired at ``now_ns``; expired ones it meets are
        pruned. Returns the revoked jtis."""
        revoked: list[str] = []
        floor = now_ns // 1_000_000_000 - LEEWAY_SECONDS
        for token in [t for t in self.live.values() if match.matches(t)]:
            del self.live[token.jti]
            if token.jti in self.live_loaded:
                self.live_deleted.add(token)
            if token.expires_at > floor:
                revoked.append(token.jti)
                self.add_rows(RevocationRow, [_revocation(token, reason, cause, now_ns)])
        return revoked


def _hold(row: dict[str, Any]) -> Hold:
    return Hold(
        hold_id=row["hold_id"], revision=row["revision"], lane=row["lane"], reason=row["reason"]
    )


def _revocation(token: LiveToken, reason: str, cause: str, now_ns: int) -> dict[str, Any]:
    return {
        "jti": token.jti,
        "packet_id": token.packet_id,
        "revision": token.revision,
        "lane": token.lane,
        "reason": reason,
        "cause": cause,
        "revoked_at": format_ns(now_ns),
        "revoked_at_ns": now_ns // 1000 * 1000,  # the instant revoked_at says (microseconds)
        "expires_at": token.expires_at,
    }
