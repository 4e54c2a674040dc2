"""The state the appends keep up to date, as one batch sees it.

A batch (:mod:`release_gate.store.appender`) first asks every entry what it
will read (:class:`Needs`) and loads all of it with one statement per table,
by primary key or its prefix; the entries then read and change that state in
memory, in order, so the second of two approvals in one batch sees the first
exactly as it would in a batch of its own; :meth:`BatchState.flush` writes the
changes, in the batch's transaction. No statement here depends on the size of
the history, only on the keys the batch touches.

Tables (:mod:`release_gate.store.schema`): ``packet_state``, ``active_holds``,
``live_tokens`` and the evidence they cite (``live_token_evidence``),
``evidence_state``; and rows derived from the entries (``revocations``,
``decision_codes``), written, never read here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from release_gate.decision.model import Facts, History, Hold, Snapshot
from release_gate.store.schema import (
    ActiveHoldRow,
    Base,
    DecisionRow,
    EvidenceEventRow,
    EvidenceStateRow,
    HoldEventRow,
    IntakeOutcomeRow,
    LiveTokenEvidenceRow,
    LiveTokenRow,
    PacketStateRow,
    PolicyEventRow,
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
    "live_tokens",
    "read_facts",
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
        self._packets_stored: set[tuple[str, str]] = set()
        self._holds: dict[str, dict[str, dict[str, Any]]] = {}
        self._holds_added: dict[tuple[str, str], dict[str, Any]] = {}
        self._holds_removed: set[tuple[str, str]] = set()
        self.hold_events: dict[str, list[dict[str, Any]]] = {}
        self._live: dict[str, LiveToken] = {}
        self._live_loaded: set[str] = set()
        self._live_deleted: set[LiveToken] = set()
        self._citations: dict[str, list[Citation]] = {}  # by jti
        self._citations_added: list[Citation] = []
        self.evidence: dict[tuple[str, str], Snapshot] = {}
        self._evidence_dirty: dict[tuple[str, str], dict[str, Any]] = {}
        self._evidence_stored: set[tuple[str, str]] = set()
        self.rows: dict[type[Base], list[dict[str, Any]]] = {}  # derived rows to insert
        #: Entries recorded before (or earlier in the batch), by their natural key:
        self.evidence_events: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.token_lanes: dict[str, str] = {}  # jti -> lane of its recorded allow
        self.token_released: dict[str, int] = {}  # jti -> its allow's evaluated_at_ns
        self.outcomes: dict[str, dict[str, Any]] = {}  # jti -> its intake outcome
        self.policy_digests: set[str] = set()  # digests a policy event names

    # Loading

    def load(self, conn: Connection, needs: Needs) -> None:
        self._load_packets(conn, needs.packets)
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
        self._load_evidence(conn, needs.evidence)
        self._load_entries(conn, needs)
        live = list(needs.live)
        if needs.citations:
            cited = self._load_citations(conn, needs.citations)
            if cited:
                live.append(LiveMatch(jtis=frozenset(cited)))
        if live:
            rows = conn.execute(select(LiveTokenRow).where(or_(*(m.sql() for m in live))))
            for row in rows:
                token = LiveToken(row.jti, row.packet_id, row.lane, row.revision, row.expires_at)
                self._live[token.jti] = token
                self._live_loaded.add(token.jti)

    def _load_packets(self, conn: Connection, keys: set[tuple[str, str]]) -> None:
        if not keys:
            return
        rows = conn.execute(
            select(PacketStateRow.__table__).where(
                tuple_(PacketStateRow.packet_id, PacketStateRow.lane).in_(sorted(keys))
            )
        )
        for row in rows:
            values = dict(row._mapping)
            key = (values.pop("packet_id"), values.pop("lane"))
            self.packets[key] = PacketState(**values)
            self._packets_stored.add(key)

    def _load_evidence(self, conn: Connection, refs: set[tuple[str, str]]) -> None:
        if not refs:
            return
        by_key = {(source, ref_digest(ref)): (source, ref) for source, ref in refs}
        rows = conn.execute(
            select(EvidenceStateRow).where(
                tuple_(EvidenceStateRow.source, EvidenceStateRow.ref_digest).in_(sorted(by_key))
            )
        )
        for row in rows:
            source, ref = by_key[(row.source, row.ref_digest)]
            self.evidence[(source, ref)] = Snapshot(source, ref, row.digest, row.observed_at)
            self._evidence_stored.add((source, ref))

    def _load_entries(self, conn: Connection, needs: Needs) -> None:
        """Earlier entries an entry must not repeat: the same evidence snapshot, an
        outcome for the same token, a policy event for the same digest."""
        if needs.snapshots:
            keys = {(s, ref_digest(r), d): (s, r, d) for s, r, d in needs.snapshots}
            rows = conn.execute(
                select(EvidenceEventRow.__table__).where(
                    tuple_(
                        EvidenceEventRow.source,
                        EvidenceEventRow.ref_digest,
                        EvidenceEventRow.digest,
                    ).in_(sorted(keys))
                )
            )
            for row in rows:
                key = keys[(row.source, row.ref_digest, row.digest)]
                self.evidence_events[key] = dict(row._mapping)
        if needs.tokens:
            jtis = sorted(needs.tokens)
            rows = conn.execute(
                select(DecisionRow.token_id, DecisionRow.lane, DecisionRow.evaluated_at_ns).where(
                    DecisionRow.token_id.in_(jtis)
                )
            )
            for row in rows:
                self.token_lanes[row.token_id] = row.lane
                self.token_released[row.token_id] = row.evaluated_at_ns
            rows = conn.execute(
                select(IntakeOutcomeRow.__table__).where(IntakeOutcomeRow.token_id.in_(jtis))
            )
            self.outcomes.update({row.token_id: dict(row._mapping) for row in rows})
        if needs.policy_digests:
            rows = conn.execute(
                select(PolicyEventRow.digest).where(
                    PolicyEventRow.digest.in_(sorted(needs.policy_digests))
                )
            )
            self.policy_digests.update(row.digest for row in rows)

    def _load_citations(self, conn: Connection, refs: set[tuple[str, str]]) -> set[str]:
        by_key = {(source, ref_digest(ref)): (source, ref) for source, ref in refs}
        rows = conn.execute(
            select(LiveTokenEvidenceRow).where(
                tuple_(LiveTokenEvidenceRow.source, LiveTokenEvidenceRow.ref_digest).in_(
                    sorted(by_key)
                )
            )
        )
        jtis = set()
        for row in rows:
            source, ref = by_key[(row.source, row.ref_digest)]
            self._citations.setdefault(row.jti, []).append(
                Citation(row.jti, source, ref, row.digest)
            )
            jtis.add(row.jti)
        return jtis

    # Reading

    def history(self, packet_id: str, lane: str) -> History:
        packet = self.packets.get((packet_id, lane))
        return packet.history if packet else History()

    def facts(self, packet_id: str, lane: str, evidence: Iterable[tuple[str, str]] = ()) -> Facts:
        """The facts a decision of ``packet_id`` in ``lane`` citing ``evidence`` sees."""
        holds = self._holds.get(packet_id, {})
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
            for jti, citations in self._citations.items()
            if jti in self._live
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
        self._holds.setdefault(key[0], {})[key[1]] = row
        self._holds_added[key] = row

    def lift_hold(self, packet_id: str, hold_id: str) -> None:
        self._holds.get(packet_id, {}).pop(hold_id, None)
        if self._holds_added.pop((packet_id, hold_id), None) is None:
            self._holds_removed.add((packet_id, hold_id))

    def add_live(self, token: LiveToken, citations: list[Citation]) -> None:
        self._live[token.jti] = token
        self._citations[token.jti] = list(citations)
        self._citations_added += citations

    def set_snapshot(self, snapshot: Snapshot, *, observed_at_ns: int, event_id: str) -> None:
        key = (snapshot.source, snapshot.ref)
        self.evidence[key] = snapshot
        self._evidence_dirty[key] = {
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
        for token in [t for t in self._live.values() if match.matches(t)]:
            del self._live[token.jti]
            if token.jti in self._live_loaded:
                self._live_deleted.add(token)
            if token.expires_at > floor:
                revoked.append(token.jti)
                self.add_rows(RevocationRow, [_revocation(token, reason, cause, now_ns)])
        return revoked

    # Writing

    def flush(self, conn: Connection) -> None:
        """Write every change, in the batch's transaction."""
        self._flush_packets(conn)
        self._flush_holds(conn)
        self._flush_live(conn)
        self._flush_evidence(conn)
        for table, rows in self.rows.items():
            conn.execute(insert(table), rows)

    def _flush_packets(self, conn: Connection) -> None:
        new = [k for k in self.packets if k not in self._packets_stored]
        if new:
            conn.execute(insert(PacketStateRow), [self._packet_row(k) for k in sorted(new)])
        for key in sorted(self._packets_stored):
            values = self._packet_row(key)
            conn.execute(
                update(PacketStateRow)
                .where((PacketStateRow.packet_id == key[0]) & (PacketStateRow.lane == key[1]))
                .values({k: v for k, v in values.items() if k not in ("packet_id", "lane")})
            )

    def _packet_row(self, key: tuple[str, str]) -> dict[str, Any]:
        packet = self.packets[key]
        return {
            "packet_id": key[0],
            "lane": key[1],
            "first_seq": packet.first_seq,
            "first_decision_ns": packet.first_decision_ns,
            "first_allow_seq": packet.first_allow_seq,
            "first_allow_ns": packet.first_allow_ns,
            "denials_before_allow": packet.denials_before_allow,
            "latest_approved_revision": packet.latest_approved_revision,
            "latest_approved_digest": packet.latest_approved_digest,
        }

    def _flush_holds(self, conn: Connection) -> None:
        if self._holds_removed:
            keys = sorted(self._holds_removed)
            conn.execute(
                delete(ActiveHoldRow).where(
                    tuple_(ActiveHoldRow.packet_id, ActiveHoldRow.hold_id).in_(keys)
                )
            )
        if self._holds_added:
            conn.execute(insert(ActiveHoldRow), list(self._holds_added.values()))

    def _flush_live(self, conn: Connection) -> None:
        if self._live_deleted:
            keys = sorted((t.packet_id, t.lane, t.revision, t.jti) for t in self._live_deleted)
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
            gone = sorted(t.jti for t in self._live_deleted)
            conn.execute(delete(LiveTokenEvidenceRow).where(LiveTokenEvidenceRow.jti.in_(gone)))
        added = [t for jti, t in self._live.items() if jti not in self._live_loaded]
        if added:
            conn.execute(insert(LiveTokenRow), [_live_row(t) for t in added])
        cited = [c for c in self._citations_added if c.jti in self._live]
        if cited:
            conn.execute(insert(LiveTokenEvidenceRow), [_citation_row(c) for c in cited])

    def _flush_evidence(self, conn: Connection) -> None:
        for (source, ref), values in sorted(self._evidence_dirty.items()):
            key = {"source": source, "ref_digest": ref_digest(ref)}
            if (source, ref) in self._evidence_stored:
                conn.execute(
                    update(EvidenceStateRow)
                    .where(
                        (EvidenceStateRow.source == source)
                        & (EvidenceStateRow.ref_digest == key["ref_digest"])
                    )
                    .values(values)
                )
            else:
                conn.execute(insert(EvidenceStateRow), [{**key, **values}])


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


def _live_row(token: LiveToken) -> dict[str, Any]:
    return {
        "jti": token.jti,
        "packet_id": token.packet_id,
        "lane": token.lane,
        "revision": token.revision,
        "expires_at": token.expires_at,
    }


def _citation_row(citation: Citation) -> dict[str, Any]:
    return {
        "source": citation.source,
        "ref_digest": ref_digest(citation.ref),
        "jti": citation.jti,
        "digest": citation.digest,
    }


def read_facts(
    conn: Connection, *, packet_id: str, lane: str, evidence: tuple[tuple[str, str], ...] = ()
) -> Facts:
    """One packet's facts in one lane, by primary key (outside any lock); ``evidence``
    names the (source, ref) pairs the manifest cites."""
    state = BatchState()
    needs = Needs(packets={(packet_id, lane)}, hold_packets={packet_id}, evidence=set(evidence))
    state.load(conn, needs)
    return state.facts(packet_id, lane, evidence)


def live_tokens(conn: Connection, *, now_s: int) -> Iterator[LiveToken]:
    """Every live token not yet expired (policy reload re-checks these)."""
    rows = conn.execute(
        select(LiveTokenRow).where(LiveTokenRow.expires_at > now_s - LEEWAY_SECONDS)
    )
    for row in rows:
        yield LiveToken(row.jti, row.packet_id, row.lane, row.revision, row.expires_at)
