"""The audit store: decision log, holds and revocations on one database.

::

    Store
    ├── db           Database: engine, serialized write transaction (store.db)
    ├── appender     Appender: group commit, one writer thread (store.appender)
    ├── decisions    DecisionStore: append (chained), get, facts (store.decisions)
    ├── holds        HoldStore: place and lift, as chained events (store.holds)
    ├── evidence     EvidenceStore: evidence events, chained (store.evidence)
    ├── outcomes     OutcomeStore: intake outcomes, chained (store.outcomes)
    ├── policy_events PolicyEventStore: reloads and their revocations (store.policy_events)
    ├── revocations  RevocationStore: revoked token ids (store.revocations)
    └── verify_failures VerifyFailureStore: failed verifications (store.verify_failures)

Schema by Alembic migrations (``store.migrate``); the chain in ``store.chain``;
the state the appends keep (facts by primary key) in ``store.state``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from release_gate.decision.log import FactsChanged
from release_gate.decision.model import Decision, Facts
from release_gate.errors import StoreUnavailable
from release_gate.store.appender import Appender
from release_gate.store.chain import (
    ChainHeadState,
    ChainReport,
    Progress,
    entry_hash_at,
    verify_chain,
)
from release_gate.store.consistency import check_state
from release_gate.store.db import Database
from release_gate.store.decisions import DecisionRecord, DecisionStore
from release_gate.store.evidence import EvidenceStore
from release_gate.store.holds import HoldAlreadyLifted, HoldNotFound, HoldStore
from release_gate.store.outcomes import OutcomeStore
from release_gate.store.policy_events import PolicyEventStore
from release_gate.store.revocations import RevocationStore
from release_gate.store.verify_failures import VerifyFailureStore

__all__ = [
    "ChainHeadState",
    "ChainReport",
    "Database",
    "DecisionRecord",
    "DecisionStore",
    "FactsChanged",
    "HoldAlreadyLifted",
    "HoldNotFound",
    "HoldStore",
    "RevocationStore",
    "Store",
    "StoreUnavailable",
]


class Store:
    """Everything the gate keeps, on the database at ``url``."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)
        self.backend = self.db.backend
        self.appender = Appender(self.db)
        self.decisions = DecisionStore(self.db, self.appender)
        self.holds = HoldStore(self.db, self.appender)
        self.revocations = RevocationStore(self.db)
        self.evidence = EvidenceStore(self.appender)
        self.outcomes = OutcomeStore(self.appender)
        self.policy_events = PolicyEventStore(self.db, self.appender)
        self.verify_failures = VerifyFailureStore(self.db)

    def verify_chain(self, *, progress: Progress | None = None) -> ChainReport:
        """Walk the chain and check the state kept beside it, both as of one instant;
        :class:`StoreUnavailable` if it cannot be read."""
        try:
            with self.db.snapshot() as conn:
                report = verify_chain(conn, progress=progress)
                problems = tuple(check_state(conn, now_s=int(time.time())))
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"cannot read the audit log: {type(exc).__name__}") from exc
        return replace(report, ok=report.ok and not problems, state=problems)

    def check_anchor(self, anchor: str) -> dict[str, Any]:
        """Is ``"SEQ:HASH"`` (a head recorded elsewhere) still an entry of the chain?"""
        seq_text, _, expected = anchor.partition(":")
        if not seq_text.isdigit() or len(expected) != 64:
            return {"ok": False, "detail": "the anchor is not SEQ:HASH"}
        with self.db.read() as conn:
            found = entry_hash_at(conn, int(seq_text))
        if found != expected:
            return {
                "ok": False,
                "detail": f"entry {seq_text} is {found or 'missing'}, not {expected}",
            }
        return {"ok": True, "detail": f"entry {seq_text} matches the anchor"}

    # The decision log, as the decision path sees it (release_gate.decision.log.DecisionLog).

    def facts(
        self, *, packet_id: str, lane: str, evidence: tuple[tuple[str, str], ...] = ()
    ) -> Facts:
        return self.decisions.facts(packet_id=packet_id, lane=lane, evidence=evidence)

    def append(self, decision: Decision, *, expected_facts: Facts | None) -> None:
        self.decisions.append(decision, expected_facts=expected_facts)

    def get(self, decision_id: str) -> DecisionRecord | None:
        return self.decisions.get(decision_id)

    def count(self) -> int:
        return self.decisions.count()

    def ping(self) -> None:
        """Reachable and at the newest schema revision, or a :class:`GateError` (503)."""
        from release_gate.store.migrate import check

        check(self.db)

    def close(self) -> None:
        self.appender.close()
        self.db.close()
