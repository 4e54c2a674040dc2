"""The state of a batch, read from and written to its tables (:mod:`release_gate.store.state`).

:func:`load` reads what a batch's entries declared they need (:class:`Needs`), one
statement per table, by primary key or an indexed column: scalar ``IN`` lists
(compiled once and cached) rather than tuple ``IN`` (rendered anew each time),
the rest filtered here. :func:`flush` writes what the entries changed, one
statement per table (``executemany`` where rows differ). :func:`read_facts` is
the decision path's read before evaluation, outside any lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, update

from release_gate.decision.model import Facts, Snapshot
from release_gate.store.schema import (
    ActiveHoldRow,
    DecisionRow,
    EvidenceEventRow,
    EvidenceStateRow,
    HoldEventRow,
    IntakeOutcomeRow,
    LiveTokenEvidenceRow,
    LiveTokenRow,
    PacketStateRow,
    PolicyEventRow,
)
from release_gate.store.state import (
    LEEWAY_SECONDS,
    BatchState,
    Citation,
    LiveMatch,
    LiveToken,
    Needs,
    PacketState,
    ref_digest,
)

__all__ = ["flush", "live_tokens", "load", "read_facts"]


def load(state: BatchState, conn: Connection, needs: Needs) -> None:
    _load_packets(state, conn, needs.packets)
    if needs.hold_packets:
        rows = conn.execute(
            select(ActiveHoldRow.__table__)
            .where(ActiveHoldRow.packet_id.in_(sorted(needs.hold_packets)))
            .order_by(ActiveHoldRow.seq)
        )
        for row in rows:
            state.holds.setdefault(row.packet_id, {})[row.hold_id] = dict(row._mapping)
    if needs.hold_ids:
        rows = conn.execute(
            select(HoldEventRow.__table__)
            .where(HoldEventRow.hold_id.in_(sorted(needs.hold_ids)))
            .order_by(HoldEventRow.seq)
        )
        for row in rows:
            state.hold_events.setdefault(row.hold_id, []).append(dict(row._mapping))
    _load_evidence(state, conn, needs.evidence)
    _load_entries(state, conn, needs)
    live = list(needs.live)
    if needs.citations:
        cited = _load_citations(state, conn, needs.citations)
        if cited:
            live.append(LiveMatch(jtis=frozenset(cited)))
    if live:
        rows = conn.execute(select(LiveTokenRow).where(or_(*(m.sql() for m in live))))
        for row in rows:
            token = LiveToken(row.jti, row.packet_id, row.lane, row.revision, row.expires_at)
            state.live[token.jti] = token
            state.live_loaded.add(token.jti)


def _load_packets(state: BatchState, conn: Connection, keys: set[tuple[str, str]]) -> None:
    if not keys:
        return
    # packet_id IN (...) and the lane filtered here: scalar parameters compile once
    # and are cached, where a tuple IN is rendered anew for every batch.
    packet_ids = sorted({packet_id for packet_id, _ in keys})
    rows = conn.execute(
        select(PacketStateRow.__table__).where(PacketStateRow.packet_id.in_(packet_ids))
    )
    for row in rows:
        values = dict(row._mapping)
        key = (values.pop("packet_id"), values.pop("lane"))
        if key in keys:
            state.packets[key] = PacketState(**values)
            state.packets_stored.add(key)


def _load_evidence(state: BatchState, conn: Connection, refs: set[tuple[str, str]]) -> None:
    if not refs:
        return
    by_key = {(source, ref_digest(ref)): (source, ref) for source, ref in refs}
    digests = sorted({digest for _, digest in by_key})
    rows = conn.execute(select(EvidenceStateRow).where(EvidenceStateRow.ref_digest.in_(digests)))
    for row in rows:
        found = by_key.get((row.source, row.ref_digest))
        if found is not None:
            source, ref = found
            state.evidence[found] = Snapshot(source, ref, row.digest, row.observed_at)
            state.evidence_stored.add(found)


def _load_entries(state: BatchState, conn: Connection, needs: Needs) -> None:
    """Earlier entries an entry must not repeat: the same evidence snapshot, an
    outcome for the same token, a policy event for the same digest."""
    if needs.snapshots:
        keys = {(s, ref_digest(r), d): (s, r, d) for s, r, d in needs.snapshots}
        digests = sorted({digest for _, digest, _ in keys})
        rows = conn.execute(
            select(EvidenceEventRow.__table__).where(EvidenceEventRow.ref_digest.in_(digests))
        )
        for row in rows:
            key = keys.get((row.source, row.ref_digest, row.digest))
            if key is not None:
                state.evidence_events[key] = dict(row._mapping)
    if needs.tokens:
        jtis = sorted(needs.tokens)
        rows = conn.execute(
            select(DecisionRow.token_id, DecisionRow.lane, DecisionRow.evaluated_at_ns).where(
                DecisionRow.token_id.in_(jtis)
            )
        )
        for row in rows:
            state.token_lanes[row.token_id] = row.lane
            state.token_released[row.token_id] = row.evaluated_at_ns
        rows = conn.execute(
            select(IntakeOutcomeRow.__table__).where(IntakeOutcomeRow.token_id.in_(jtis))
        )
        state.outcomes.update({row.token_id: dict(row._mapping) for row in rows})
    if needs.policy_digests:
        rows = conn.execute(
            select(PolicyEventRow.digest).where(
                PolicyEventRow.digest.in_(sorted(needs.policy_digests))
            )
        )
        state.policy_digests.update(row.digest for row in rows)


def _load_citations(state: BatchState, conn: Connection, refs: set[tuple[str, str]]) -> set[str]:
    by_key = {(source, ref_digest(ref)): (source, ref) for source, ref in refs}
    digests = sorted({digest for _, digest in by_key})
    rows = conn.execute(
        select(LiveTokenEvidenceRow).where(LiveTokenEvidenceRow.ref_digest.in_(digests))
    )
    jtis = set()
    for row in rows:
        found = by_key.get((row.source, row.ref_digest))
        if found is None:
            continue
        state.citations.setdefault(row.jti, []).append(Citation(row.jti, *found, row.digest))
        jtis.add(row.jti)
    return jtis


def flush(state: BatchState, conn: Connection) -> None:
    """Write every change, in the batch's transaction."""
    _flush_packets(state, conn)
    _flush_holds(state, conn)
    _flush_live(state, conn)
    _flush_evidence(state, conn)
    for table, rows in state.rows.items():
        conn.execute(insert(table), rows)


def _flush_packets(state: BatchState, conn: Connection) -> None:
    new = [_packet_row(state, k) for k in sorted(state.packets) if k not in state.packets_stored]
    if new:
        conn.execute(insert(PacketStateRow), new)
    stored = [_packet_row(state, k) for k in sorted(state.packets_stored)]
    if stored:  # one statement, executed for every row
        conn.execute(_UPDATE_PACKET, [_keyed(row) for row in stored])


def _packet_row(state: BatchState, key: tuple[str, str]) -> dict[str, Any]:
    packet = state.packets[key]
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


def _flush_holds(state: BatchState, conn: Connection) -> None:
    if state.holds_removed:
        hold_ids = sorted(hold_id for _, hold_id in state.holds_removed)
        conn.execute(delete(ActiveHoldRow).where(ActiveHoldRow.hold_id.in_(hold_ids)))
    if state.holds_added:
        conn.execute(insert(ActiveHoldRow), list(state.holds_added.values()))


def _flush_live(state: BatchState, conn: Connection) -> None:
    if state.live_deleted:
        gone = sorted(t.jti for t in state.live_deleted)
        conn.execute(delete(LiveTokenRow).where(LiveTokenRow.jti.in_(gone)))
        conn.execute(delete(LiveTokenEvidenceRow).where(LiveTokenEvidenceRow.jti.in_(gone)))
    added = [t for jti, t in state.live.items() if jti not in state.live_loaded]
    if added:
        conn.execute(insert(LiveTokenRow), [_live_row(t) for t in added])
    cited = [c for c in state.citations_added if c.jti in state.live]
    if cited:
        conn.execute(insert(LiveTokenEvidenceRow), [_citation_row(c) for c in cited])


def _flush_evidence(state: BatchState, conn: Connection) -> None:
    for (source, ref), values in sorted(state.evidence_dirty.items()):
        key = {"source": source, "ref_digest": ref_digest(ref)}
        if (source, ref) in state.evidence_stored:
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


_UPDATE_PACKET = (
    update(PacketStateRow)
    .where(
        (PacketStateRow.packet_id == bindparam("key_packet_id"))
        & (PacketStateRow.lane == bindparam("key_lane"))
    )
    .values(
        {
            name: bindparam(name)
            for name in (
                "first_seq",
                "first_decision_ns",
                "first_allow_seq",
                "first_allow_ns",
                "denials_before_allow",
                "latest_approved_revision",
                "latest_approved_digest",
            )
        }
    )
)


def _keyed(row: dict[str, Any]) -> dict[str, Any]:
    """A packet_state row as the parameters of :data:`_UPDATE_PACKET`."""
    values = {k: v for k, v in row.items() if k not in ("packet_id", "lane")}
    return {**values, "key_packet_id": row["packet_id"], "key_lane": row["lane"]}


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
    load(state, conn, needs)
    return state.facts(packet_id, lane, evidence)


def live_tokens(conn: Connection, *, now_s: int) -> Iterator[LiveToken]:
    """Every live token not yet expired (policy reload re-checks these)."""
    rows = conn.execute(
        select(LiveTokenRow).where(LiveTokenRow.expires_at > now_s - LEEWAY_SECONDS)
    )
    for row in rows:
        yield LiveToken(row.jti, row.packet_id, row.lane, row.revision, row.expires_at)
