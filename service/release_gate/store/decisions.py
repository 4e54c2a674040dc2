"""The decision log: every decision, allow and deny, appended before it is answered.

:meth:`DecisionStore.append` hands the record to the group-commit writer
(:mod:`release_gate.store.appender`): under the chain's lock it re-reads the
facts the policy decided on (an allow is refused with :class:`FactsChanged` if
they moved), chains and inserts the record, revokes the tokens an approval
supersedes and updates the packet's state, in the batch's one transaction. Only
after the commit may the caller release a token. There is no update or delete
path for the log itself.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from release_gate.decision.log import FactsChanged
from release_gate.decision.model import (
    Basis,
    Decision,
    Facts,
    PacketRef,
    PolicyRef,
    Violation,
    violation_to_wire,
)
from release_gate.errors import StoreUnavailable
from release_gate.store.appender import Appender, Batch
from release_gate.store.chain import ChainHeadState, ChainLink, Unchained, read_head
from release_gate.store.db import Database
from release_gate.store.schema import DecisionCodeRow, DecisionRow
from release_gate.store.state import Citation, LiveMatch, LiveToken, Needs
from release_gate.store.state_sql import read_facts

__all__ = ["DecisionRecord", "DecisionStore", "decision_row"]

logger = logging.getLogger(__name__)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _violations(text: str) -> tuple[Violation, ...]:
    return tuple(Violation(**item) for item in json.loads(text))


def decision_row(decision: Decision) -> dict[str, Any]:
    """The column values that record ``decision`` (not yet chained: no seq or hashes)."""
    basis = decision.basis
    return {
        "decision_id": decision.decision_id,
        "evaluated_at": decision.evaluated_at,
        "evaluated_at_ns": basis.evaluated_at_ns,
        "manifest_id": basis.manifest_id,
        "manifest_digest": decision.manifest_digest,
        "packet_id": decision.packet.id,
        "packet_revision": decision.packet.revision,
        "packet_digest": decision.packet.digest,
        "supersedes_revision": basis.supersedes_revision,
        "lane": decision.lane,
        "allow": decision.allow,
        "violations": _json([violation_to_wire(v) for v in decision.violations]),
        "warnings": _json([violation_to_wire(v) for v in decision.warnings]),
        "accepted_objections": _json(list(basis.accepted_objections)),
        "facts": _json(basis.facts.to_json()),
        "policy_revision": decision.policy.revision,
        "policy_digest": decision.policy.digest,
        "engine": basis.engine,
        "token_id": decision.token_id,
        "token_expires_at": decision.token_expires_at,
        "manifest": basis.manifest_text,
    }


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A decision as the log keeps it, with its place in the chain.

    ``decision.token`` is always ``None``: tokens are never stored, only their
    id (``decision.token_id``) and expiry.
    """

    decision: Decision
    link: ChainLink

    @classmethod
    def from_row(cls, row: Any) -> DecisionRecord:
        """From a ``decisions`` row (an ORM object or a result row)."""
        decision = Decision(
            decision_id=row.decision_id,
            allow=row.allow,
            manifest_digest=row.manifest_digest,
            packet=PacketRef(
                id=row.packet_id, revision=row.packet_revision, digest=row.packet_digest
            ),
            lane=row.lane,
            policy=PolicyRef(revision=row.policy_revision, digest=row.policy_digest),
            violations=_violations(row.violations),
            warnings=_violations(row.warnings),
            token=None,
            token_expires_at=row.token_expires_at,
            evaluated_at=row.evaluated_at,
            basis=Basis(
                manifest_id=row.manifest_id,
                manifest_text=row.manifest,
                supersedes_revision=row.supersedes_revision,
                accepted_objections=tuple(json.loads(row.accepted_objections)),
                facts=Facts.from_json(json.loads(row.facts)),
                engine=row.engine,
                evaluated_at_ns=row.evaluated_at_ns,
            ),
        )
        return cls(decision, ChainLink(row.seq, row.prev_hash, row.record_hash))

    def to_wire(self, *, with_manifest: bool = True) -> dict[str, Any]:
        """The audit API's view (docs/audit.md)."""
        decision, basis = self.decision, self.decision.basis
        wire: dict[str, Any] = {
            "decision_id": decision.decision_id,
            "evaluated_at": decision.evaluated_at,
            "manifest_id": basis.manifest_id,
            "manifest_digest": decision.manifest_digest,
            "packet_id": decision.packet.id,
            "packet_revision": decision.packet.revision,
            "packet_digest": decision.packet.digest,
            "supersedes_revision": basis.supersedes_revision,
            "lane": decision.lane,
            "allow": decision.allow,
            "violations": [violation_to_wire(v) for v in decision.violations],
            "warnings": [violation_to_wire(v) for v in decision.warnings],
            "accepted_objections": list(basis.accepted_objections),
            "facts": basis.facts.to_json(),
            "policy_revision": decision.policy.revision,
            "policy_digest": decision.policy.digest,
            "engine": basis.engine,
            "token_id": decision.token_id,
            "token_expires_at": decision.token_expires_at,
            "seq": self.link.seq,
            "prev_hash": self.link.prev_hash,
            "record_hash": self.link.record_hash,
            "outcome": "allow" if decision.allow else "deny",
        }
        if with_manifest:
            wire["manifest"] = json.loads(basis.manifest_text)
            wire["manifest_text"] = basis.manifest_text
        return wire


def _cited(decision: Decision) -> tuple[tuple[str, str, str], ...]:
    """(source, ref, digest) of each evidence item the decision's manifest cites."""
    manifest = json.loads(decision.basis.manifest_text)
    return tuple((e["source"], e["ref"], e["digest"]) for e in manifest["evidence"])


@dataclass(frozen=True, slots=True)
class _Append:
    """A decision as an :class:`~release_gate.store.appender.Entry`.

    Every decision updates its packet's course in the lane (first decision,
    first approval, denials before it) and lists its violation codes for the
    reports. For an allow: the facts it was decided on must still hold under the
    lock (else :class:`FactsChanged`); it becomes the packet's latest approval in
    the lane if its revision is the highest, revokes the live tokens of lower
    revisions there (``superseded``) and adds its own token to the live ones,
    with the evidence snapshots it cites.
    """

    decision: Decision
    expected: Facts | None
    entry: Unchained
    cited: tuple[tuple[str, str, str], ...]

    def needs(self) -> Needs:
        d = self.decision
        needs = Needs(packets={(d.packet.id, d.lane)})
        if self.expected is not None:
            needs.hold_packets.add(d.packet.id)
            needs.evidence |= {(source, ref) for source, ref, _ in self.cited}
        if d.allow:
            needs.live.append(self._lower())
        return needs

    def _lower(self) -> LiveMatch:
        d = self.decision
        return LiveMatch(d.packet.id, lane=d.lane, below=d.packet.revision)

    def apply(self, batch: Batch) -> ChainLink:
        d, state = self.decision, batch.state
        if self.expected is not None:
            evidence = [(source, ref) for source, ref, _ in self.cited]
            current = state.facts(d.packet.id, d.lane, evidence)
            if current != self.expected:
                raise FactsChanged(current)
        link = batch.chain(self.entry)
        at_ns = d.basis.evaluated_at_ns
        state.note_decision(d.packet.id, d.lane, seq=link.seq, at_ns=at_ns, allow=d.allow)
        codes = dict.fromkeys(v.code for v in d.violations)
        state.add_rows(
            DecisionCodeRow,
            [
                {
                    "seq": link.seq,
                    "code": c,
                    "lane": d.lane,
                    "allow": d.allow,
                    "evaluated_at_ns": at_ns,
                }
                for c in codes
            ],
        )
        if d.allow:
            state.approve(d.packet.id, d.lane, revision=d.packet.revision, digest=d.packet.digest)
            state.revoke(self._lower(), reason="superseded", cause=d.decision_id, now_ns=at_ns)
            if d.token_expires_at is not None:
                token = LiveToken(
                    d.decision_id, d.packet.id, d.lane, d.packet.revision, d.token_expires_at
                )
                citations = [Citation(d.decision_id, *item) for item in dict.fromkeys(self.cited)]
                state.add_live(token, citations)
        return link


class DecisionStore:
    """Append and read decisions. Thread-safe."""

    def __init__(self, db: Database, appender: Appender) -> None:
        self._db = db
        self._appender = appender

    def append(self, decision: Decision, *, expected_facts: Facts | None) -> None:
        """Commit ``decision`` durably, or raise :class:`StoreUnavailable` / :class:`FactsChanged`.

        With ``expected_facts`` (an allow), the facts are read again under the
        chain lock and must equal them. The row and its canonical form are built
        here, before the lock; the group-commit writer chains and commits it.
        """
        entry = Unchained.of(DecisionRow, decision_row(decision))
        self._appender.append(_Append(decision, expected_facts, entry, _cited(decision)))

    def facts(
        self, *, packet_id: str, lane: str, evidence: tuple[tuple[str, str], ...] = ()
    ) -> Facts:
        try:
            with self._db.read() as conn:
                return read_facts(conn, packet_id=packet_id, lane=lane, evidence=evidence)
        except SQLAlchemyError as exc:
            logger.error("packet history not readable: %s", type(exc).__name__)
            raise StoreUnavailable(
                "the decision store cannot be read; no decision was made and no token issued"
            ) from exc

    def count(self) -> int:
        try:
            with self._db.read() as conn:
                return int(conn.execute(select(func.count()).select_from(DecisionRow)).scalar_one())
        except SQLAlchemyError as exc:
            raise StoreUnavailable("the decision store cannot be read") from exc

    def get(self, decision_id: str) -> DecisionRecord | None:
        return self._one(DecisionRow.decision_id == decision_id)

    def get_by_token(self, jti: str) -> DecisionRecord | None:
        return self._one(DecisionRow.token_id == jti)

    def _one(self, where: ColumnElement[bool]) -> DecisionRecord | None:
        try:
            with self._db.read() as conn:
                row = conn.execute(select(DecisionRow.__table__).where(where)).first()
                return DecisionRecord.from_row(row) if row else None
        except SQLAlchemyError as exc:
            raise StoreUnavailable("the decision store cannot be read") from exc

    def head(self) -> ChainHeadState:
        try:
            with self._db.read() as conn:
                return read_head(conn)
        except SQLAlchemyError as exc:
            raise StoreUnavailable("the decision store cannot be read") from exc
