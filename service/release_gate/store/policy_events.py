"""Policy events: a gate took up a changed policy, and revoked what it now denies.

After a reload changes the policy digest, the gate evaluates every live approval
again under the new policy (:func:`live_approvals` lists them) and hands the ones
now denied to :meth:`PolicyEventStore.record`. In one transaction of the chain
those still live are revoked (reason ``policy.changed``, cause the new digest)
and the event is chained with the ids it revoked. Several replicas reloading at
once revoke each token once: the second finds it revoked already, and records no
second event for the digest unless it revoked something the first did not.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from release_gate.errors import StoreUnavailable
from release_gate.store.appender import Appender, Batch
from release_gate.store.chain import Unchained
from release_gate.store.db import Database
from release_gate.store.decisions import DecisionRecord
from release_gate.store.schema import DecisionRow, LiveTokenRow, PolicyEventRow
from release_gate.store.state import LEEWAY_SECONDS, LiveMatch, Needs
from release_gate.timestamps import format_ns

__all__ = ["POLICY_CHANGED", "PolicyChange", "PolicyEventStore"]

#: Revocation reason of an approval the new policy denies.
POLICY_CHANGED = "policy.changed"


@dataclass(frozen=True, slots=True)
class PolicyChange:
    revision: str
    digest: str
    previous_digest: str | None
    engine: str
    denied: frozenset[str]  # jtis of live approvals the new policy denies


@dataclass(frozen=True, slots=True)
class _Record:
    change: PolicyChange
    actor: str
    now_ns: int

    def needs(self) -> Needs:
        match = [LiveMatch(jtis=self.change.denied)] if self.change.denied else []
        return Needs(live=match, policy_digests={self.change.digest})

    def apply(self, batch: Batch) -> list[str]:
        c, state = self.change, batch.state
        revoked: list[str] = []
        if c.denied:
            match = LiveMatch(jtis=c.denied)
            revoked = state.revoke(match, reason=POLICY_CHANGED, cause=c.digest, now_ns=self.now_ns)
        if revoked or c.digest not in state.policy_digests:
            batch.chain(Unchained.of(PolicyEventRow, self._row(revoked)))
            state.policy_digests.add(c.digest)
        return revoked

    def _row(self, revoked: list[str]) -> dict[str, Any]:
        c = self.change
        return {
            "event_id": str(uuid.uuid4()),
            "revision": c.revision,
            "digest": c.digest,
            "previous_digest": c.previous_digest,
            "engine": c.engine,
            "revoked": json.dumps(sorted(revoked)),
            "actor": self.actor,
            "at": format_ns(self.now_ns),
            "at_ns": self.now_ns,
        }


class PolicyEventStore:
    def __init__(self, db: Database, appender: Appender) -> None:
        self._db = db
        self._appender = appender

    def record(self, change: PolicyChange, *, actor: str, now_ns: int) -> list[str]:
        """Revoke the denied approvals still live and chain the event; the revoked ids."""
        revoked: list[str] = self._appender.append(_Record(change, actor, now_ns))
        return revoked

    def live_approvals(self, *, now_s: int, batch: int = 500) -> Iterator[DecisionRecord]:
        """The recorded allows whose token is live at ``now_s`` (unexpired, unrevoked)."""
        floor = now_s - LEEWAY_SECONDS
        query = (
            select(DecisionRow.__table__)
            .join(LiveTokenRow, LiveTokenRow.jti == DecisionRow.token_id)
            .where(LiveTokenRow.expires_at > floor)
            .order_by(DecisionRow.seq)
        )
        try:
            with self._db.read() as conn:
                stream = conn.execution_options(stream_results=True, yield_per=batch)
                with stream.execute(query) as rows:
                    yield from (DecisionRecord.from_row(row) for row in rows)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"live approvals cannot be read: {type(exc).__name__}") from exc
