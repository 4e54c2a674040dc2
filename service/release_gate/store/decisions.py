"""The decision log: every decision, allow and deny, appended before it is answered.

:meth:`DecisionStore.append` runs in the serialized transaction: lock the
chain head, re-read the facts the policy decided on (an allow is refused with
:class:`FactsChanged` if they moved), chain and insert the record, revoke the
tokens an approval supersedes, move the head, commit. Only then may the
caller release a token. There is no update or delete path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from release_gate.store.chain import ChainHeadState, advance_head, lock_head, read_head
from release_gate.store.db import Database, StoreUnavailable
from release_gate.store.facts import read_facts
from release_gate.store.revocations import revoke_live_tokens
from release_gate.store.schema import DecisionRow

__all__ = ["DecisionRecord", "DecisionStore", "FactsChanged"]

logger = logging.getLogger(__name__)

_JSON_FIELDS = ("violations", "warnings", "accepted_objections", "facts")


class FactsChanged(Exception):
    """The store's facts moved between evaluation and append; ``current`` is the new view."""

    def __init__(self, current: dict[str, Any]) -> None:
        super().__init__("facts changed since evaluation")
        self.current = current


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    decision_id: str
    evaluated_at: str
    evaluated_at_ns: int
    manifest_id: str
    manifest_digest: str
    packet_id: str
    packet_revision: int
    packet_digest: str
    supersedes_revision: int | None
    lane: str
    allow: bool
    violations: list[dict[str, str]]
    warnings: list[dict[str, str]]
    accepted_objections: list[str]
    facts: dict[str, Any]
    policy_revision: str
    policy_digest: str
    engine: str
    token_id: str | None
    token_expires_at: int | None
    manifest: str
    seq: int | None = None
    prev_hash: str | None = None
    record_hash: str | None = None

    def _row(self) -> DecisionRow:
        values = asdict(self)
        for name in ("seq", "prev_hash", "record_hash"):
            values.pop(name)
        for name in _JSON_FIELDS:
            values[name] = json.dumps(values[name], separators=(",", ":"), ensure_ascii=False)
        return DecisionRow(**values)

    @classmethod
    def from_row(cls, row: DecisionRow) -> DecisionRecord:
        values = {name: getattr(row, name) for name in cls.__slots__}
        for name in _JSON_FIELDS:
            values[name] = json.loads(values[name])
        return cls(**values)

    def to_wire(self, *, with_manifest: bool = True) -> dict[str, Any]:
        """The audit API's view (docs/audit.md)."""
        wire = {k: v for k, v in asdict(self).items() if k not in ("manifest", "evaluated_at_ns")}
        wire["outcome"] = "allow" if self.allow else "deny"
        if with_manifest:
            wire["manifest"] = json.loads(self.manifest)
            wire["manifest_text"] = self.manifest
        return wire


class DecisionStore:
    """Append and read decisions. Thread-safe: one short transaction per call."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, record: DecisionRecord, *, expected_facts: Mapping[str, Any] | None) -> None:
        """Commit ``record`` durably, or raise :class:`StoreUnavailable` / :class:`FactsChanged`.

        With ``expected_facts`` (an allow), the facts are re-read under the
        chain lock and must equal them; an approval then revokes the live
        tokens of lower revisions of the packet in the lane.
        """
        try:
            with self._db.serialized() as conn:
                head = lock_head(conn)
                if expected_facts is not None:
                    current = read_facts(conn, packet_id=record.packet_id, lane=record.lane)
                    if current != expected_facts:
                        raise FactsChanged(current)
                advance_head(conn, head, record._row())
                if record.allow:
                    revoke_live_tokens(
                        conn,
                        (DecisionRow.packet_id == record.packet_id)
                        & (DecisionRow.lane == record.lane)
                        & (DecisionRow.packet_revision < record.packet_revision),
                        reason="superseded",
                        cause=record.decision_id,
                        now_ns=record.evaluated_at_ns,
                    )
        except SQLAlchemyError as exc:
            logger.error("decision %s not recorded: %s", record.decision_id, type(exc).__name__)
            raise StoreUnavailable("the decision could not be recorded; no token issued") from exc

    def facts(self, *, packet_id: str, lane: str) -> dict[str, Any]:
        try:
            with self._db.read() as conn:
                return read_facts(conn, packet_id=packet_id, lane=lane)
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
        try:
            with self._db.read() as conn:
                row = conn.execute(
                    select(DecisionRow).where(DecisionRow.decision_id == decision_id)
                ).first()
                return DecisionRecord.from_row(DecisionRow(**row._mapping)) if row else None
        except SQLAlchemyError as exc:
            raise StoreUnavailable("the decision store cannot be read") from exc

    def get_by_token(self, jti: str) -> DecisionRecord | None:
        with self._db.read() as conn:
            row = conn.execute(select(DecisionRow).where(DecisionRow.token_id == jti)).first()
            return DecisionRecord.from_row(DecisionRow(**row._mapping)) if row else None

    def head(self) -> ChainHeadState:
        try:
            with self._db.read() as conn:
                return read_head(conn)
        except SQLAlchemyError as exc:
            raise StoreUnavailable("the decision store cannot be read") from exc
