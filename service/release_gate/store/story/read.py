"""Reading a packet's story: one reader per section, each a bounded, indexed query."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, case, func, select, tuple_

from release_gate.store.decisions import DecisionRecord
from release_gate.store.schema import DecisionRow, EvidenceEventRow, HoldEventRow, IntakeOutcomeRow
from release_gate.store.state import ref_digest
from release_gate.store.story.model import (
    AcceptanceEntry,
    AcceptedDisagreement,
    EvidenceEventEntry,
    HoldEntry,
    OutcomeEntry,
    RevisionEntry,
    TokenEntry,
    TokenState,
)
from release_gate.store.story.packets import chunks, revision_state, revocations_of
from release_gate.timestamps import format_ns

__all__ = [
    "disagreements",
    "evidence_events",
    "holds",
    "manifests",
    "outcomes",
    "revisions",
    "tokens",
]


def holds(conn: Connection, packet_id: str) -> tuple[HoldEntry, ...]:
    """Every hold of the packet, placed and lifted, newest placed first."""
    rows = conn.execute(
        select(HoldEventRow).where(HoldEventRow.packet_id == packet_id).order_by(HoldEventRow.seq)
    ).all()
    placed: dict[str, HoldEntry] = {}
    for row in rows:
        if row.kind == "placed":
            placed[row.hold_id] = HoldEntry(
                row.hold_id, row.revision, row.lane, row.reason, row.actor, row.at
            )
        elif row.hold_id in placed:
            hold = placed[row.hold_id]
            placed[row.hold_id] = HoldEntry(
                hold.hold_id, hold.revision, hold.lane, hold.reason, hold.placed_by,
                hold.placed_at, lifted_by=row.actor, lifted_at=row.at,
            )  # fmt: skip
    return tuple(reversed(placed.values()))


def _groups(conn: Connection, packet_id: str) -> dict[tuple[str, int], list[Any]]:
    """Per (lane, revision): one aggregate row per digest seen."""
    allow_seq = case((DecisionRow.allow, DecisionRow.seq), else_=None)
    stmt = (
        select(
            DecisionRow.lane,
            DecisionRow.packet_revision,
            DecisionRow.packet_digest,
            func.count().label("decisions"),
            func.count(allow_seq).label("approvals"),
            func.min(DecisionRow.evaluated_at_ns).label("first_ns"),
            func.max(DecisionRow.evaluated_at_ns).label("last_ns"),
            func.min(allow_seq).label("first_allow"),
            func.max(DecisionRow.seq).label("last_seq"),
        )
        .where(DecisionRow.packet_id == packet_id)
        .group_by(DecisionRow.lane, DecisionRow.packet_revision, DecisionRow.packet_digest)
    )
    groups: dict[tuple[str, int], list[Any]] = {}
    for row in conn.execute(stmt):
        groups.setdefault((row.lane, row.packet_revision), []).append(row)
    return groups


def _rows_at(conn: Connection, seqs: Sequence[int]) -> dict[int, Any]:
    """The decisions at ``seqs`` (the columns a state needs), by seq."""
    columns = (
        DecisionRow.seq,
        DecisionRow.decision_id,
        DecisionRow.allow,
        DecisionRow.violations,
        DecisionRow.token_id,
        DecisionRow.token_expires_at,
    )
    found: dict[int, Any] = {}
    for chunk in chunks(seqs):
        for row in conn.execute(select(*columns).where(DecisionRow.seq.in_(chunk))):
            found[row.seq] = row
    return found


def _first_approval(group: Sequence[Any]) -> int | None:
    seqs = [r.first_allow for r in group if r.first_allow is not None]
    return min(seqs) if seqs else None


def revisions(
    conn: Connection, packet_id: str, active: Sequence[HoldEntry], now_s: int
) -> tuple[RevisionEntry, ...]:
    """Every (lane, revision) the packet was decided at, highest revision first."""
    groups = _groups(conn, packet_id)
    newest = {key: max(r.last_seq for r in group) for key, group in groups.items()}
    approvals = {key: _first_approval(group) for key, group in groups.items()}
    rows = _rows_at(conn, [*newest.values(), *(s for s in approvals.values() if s is not None)])
    revoked = revocations_of(conn, [r.token_id for r in rows.values() if r.token_id])
    entries = []
    for (lane, revision), group in groups.items():
        above = sorted(
            (r, seq) for (ln, r), seq in approvals.items() if ln == lane and r > revision and seq
        )
        hold = next((h for h in active if h.active and h.covers(revision, lane)), None)
        state = revision_state(
            rows[newest[lane, revision]], now_s=now_s, superseded=bool(above), hold=hold,
            revoked=revoked,
        )  # fmt: skip
        entries.append(
            RevisionEntry(
                lane=lane,
                revision=revision,
                digests=tuple(sorted({r.packet_digest for r in group})),
                decisions=sum(r.decisions for r in group),
                approvals=sum(r.approvals for r in group),
                first_decided_at=format_ns(min(r.first_ns for r in group)),
                last_decided_at=format_ns(max(r.last_ns for r in group)),
                superseded_by=above[0][0] if above else None,
                superseded_by_decision=rows[above[0][1]].decision_id if above else None,
                state=state,
            )
        )
    return tuple(sorted(entries, key=lambda e: (-e.revision, e.lane)))


def tokens(
    conn: Connection, records: Sequence[DecisionRecord], now_s: int
) -> tuple[TokenEntry, ...]:
    """The tokens minted by ``records`` (newest first) and their state at ``now_s``."""
    minted = [r.decision for r in records if r.decision.token_id is not None]
    ids = [d.decision_id for d in minted]
    revoked = revocations_of(conn, ids)
    reported = outcomes(conn, ids)
    entries = []
    for decision in minted:
        expires = decision.token_expires_at or 0
        revocation = revoked.get(decision.decision_id)
        state: TokenState = "revoked" if revocation else "expired" if expires <= now_s else "live"
        entries.append(
            TokenEntry(
                token_id=decision.decision_id,
                lane=decision.lane,
                revision=decision.packet.revision,
                issued_at=decision.evaluated_at,
                expires_at=format_ns(expires * 1_000_000_000),
                state=state,
                revocation=revocation,
                outcome=reported.get(decision.decision_id),
            )
        )
    return tuple(entries)


def outcomes(conn: Connection, token_ids: Sequence[str]) -> dict[str, OutcomeEntry]:
    """Intake outcomes by token id (one per token, by its unique index)."""
    found: dict[str, OutcomeEntry] = {}
    for chunk in chunks(token_ids):
        rows = conn.execute(
            select(IntakeOutcomeRow.__table__).where(IntakeOutcomeRow.token_id.in_(chunk))
        )
        for row in rows:
            found[row.token_id] = OutcomeEntry(
                outcome=row.outcome,
                findings=tuple(json.loads(row.findings)),
                note=row.note,
                reported_at=row.at,
            )
    return found


def manifests(records: Sequence[DecisionRecord]) -> dict[str, Any]:
    """Each distinct manifest of ``records``, parsed once, by manifest digest."""
    found: dict[str, Any] = {}
    for record in records:
        digest = record.decision.manifest_digest
        if digest not in found:
            found[digest] = json.loads(record.decision.basis.manifest_text)
    return found


def evidence_events(
    conn: Connection, cited_by: Iterable[Mapping[str, Any]]
) -> tuple[EvidenceEventEntry, ...]:
    """Evidence events about the evidence the manifests ``cited_by`` cite (by source and
    ref, so also those that revoked their tokens), newest first."""
    keys = sorted(
        {(e["source"], ref_digest(e["ref"])) for manifest in cited_by for e in manifest["evidence"]}
    )
    rows: list[Any] = []
    for chunk in chunks(keys):
        rows += conn.execute(
            select(EvidenceEventRow.__table__).where(
                tuple_(EvidenceEventRow.source, EvidenceEventRow.ref_digest).in_(chunk)
            )
        ).all()
    return tuple(
        EvidenceEventEntry(
            event_id=row.event_id,
            source=row.source,
            ref=row.ref,
            digest=row.digest,
            observed_at=row.observed_at,
            material=bool(row.material),
            note=row.note,
            recorded_at=row.at,
            revoked_tokens=tuple(json.loads(row.revoked)),
        )
        for row in sorted(rows, key=lambda row: -row.seq)
    )


def _acceptances(manifest: Any, accepted: Sequence[str]) -> tuple[AcceptanceEntry, ...]:
    ids = set(accepted)
    return tuple(
        AcceptanceEntry(
            objection_id=o["id"],
            summary=o["summary"],
            raised_by=o["raised_by"],
            accepted_by=o["residual_acceptance"]["accepted_by"],
            accepted_at=o["residual_acceptance"]["accepted_at"],
            rationale=o["residual_acceptance"]["rationale"],
        )
        for o in manifest["objections"]
        if o["id"] in ids and o.get("residual_acceptance")
    )


def disagreements(
    records: Sequence[DecisionRecord], parsed: Mapping[str, Any] | None = None
) -> tuple[AcceptedDisagreement, ...]:
    """The accepted residual disagreement of each approval in ``records``, newest first.

    Approvals of one manifest in one lane (re-evaluated) are one entry. The
    acceptances are read from the manifest as received (``parsed``, by manifest
    digest, when already read), restricted to the objection ids the decision
    recorded as accepted.
    """
    found: dict[tuple[str, str], AcceptedDisagreement] = {}
    for record in records:
        decision, basis = record.decision, record.decision.basis
        if not decision.allow:
            continue
        key = (decision.lane, decision.manifest_digest)
        entry = found.get(key)
        if entry is None:
            manifest = (parsed or {}).get(decision.manifest_digest)
            if manifest is None:
                manifest = json.loads(basis.manifest_text)
            entry = AcceptedDisagreement(
                decision.lane, decision.packet.revision, decision.manifest_digest,
                manifest["release_owner"], (), _acceptances(manifest, basis.accepted_objections),
            )  # fmt: skip
        found[key] = AcceptedDisagreement(
            entry.lane, entry.revision, entry.manifest_digest, entry.release_owner,
            (*entry.decision_ids, decision.decision_id), entry.items,
        )  # fmt: skip
    return tuple(found.values())
