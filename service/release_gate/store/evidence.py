"""Evidence events: a source system says that a piece of evidence changed.

``POST /v1/evidence-events`` (contract section 9) records one as an entry of
the chain, through the group-commit writer. The same ``{source, ref, digest}``
again records nothing and gives the first answer. A *material* event observed
later than the newest material one for its ``{source, ref}`` becomes the newest
snapshot (``evidence_state``, read as facts by every later decision: a manifest
citing another snapshot is denied, ``evidence.superseded``) and revokes, in the
same transaction, every live approval whose manifest cites that evidence with
another digest (reason ``evidence.changed``, cause the event id). An older or
non-material event only records.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from release_gate.decision.model import Snapshot
from release_gate.store.appender import Appender, Batch
from release_gate.store.chain import Unchained
from release_gate.store.schema import EvidenceEventRow
from release_gate.store.state import LiveMatch, Needs, ref_digest
from release_gate.timestamps import format_ns, parse_timestamp_ns

__all__ = ["EvidenceEvent", "EvidenceRecorded", "EvidenceStore"]

#: Revocation reason of an approval whose evidence a newer material snapshot replaced.
EVIDENCE_CHANGED = "evidence.changed"


@dataclass(frozen=True, slots=True)
class EvidenceEvent:
    source: str
    ref: str
    digest: str
    observed_at: str
    material: bool
    note: str | None


@dataclass(frozen=True, slots=True)
class EvidenceRecorded:
    """The answer: ``created`` is false for a repeat (the first answer, nothing new)."""

    event_id: str
    revoked_tokens: list[str]
    created: bool
    newest: bool  # it became the newest material snapshot


@dataclass(frozen=True, slots=True)
class _Record:
    event: EvidenceEvent
    actor: str
    now_ns: int

    def needs(self) -> Needs:
        e = self.event
        return Needs(
            evidence={(e.source, e.ref)},
            citations={(e.source, e.ref)} if e.material else set(),
            snapshots={(e.source, e.ref, e.digest)},
        )

    def apply(self, batch: Batch) -> EvidenceRecorded:
        e, state = self.event, batch.state
        earlier = state.evidence_events.get((e.source, e.ref, e.digest))
        if earlier is not None:
            return EvidenceRecorded(
                earlier["event_id"], json.loads(earlier["revoked"]), False, False
            )
        observed_ns = parse_timestamp_ns(e.observed_at)
        current = state.evidence.get((e.source, e.ref))
        newest = e.material and (
            current is None or observed_ns > parse_timestamp_ns(current.observed_at)
        )
        event_id = str(uuid.uuid4())
        revoked: list[str] = []
        if newest:
            stale = {c.jti for c in state.citing(e.source, e.ref) if c.digest != e.digest}
            if stale:
                match = LiveMatch(jtis=frozenset(stale))
                revoked = state.revoke(
                    match, reason=EVIDENCE_CHANGED, cause=event_id, now_ns=self.now_ns
                )
            snapshot = Snapshot(e.source, e.ref, e.digest, e.observed_at)
            state.set_snapshot(snapshot, observed_at_ns=observed_ns, event_id=event_id)
        row = self._row(event_id, observed_ns, revoked)
        batch.chain(Unchained.of(EvidenceEventRow, row))
        state.evidence_events[(e.source, e.ref, e.digest)] = row
        return EvidenceRecorded(event_id, revoked, True, newest)

    def _row(self, event_id: str, observed_ns: int, revoked: list[str]) -> dict[str, Any]:
        e = self.event
        return {
            "event_id": event_id,
            "source": e.source,
            "ref": e.ref,
            "ref_digest": ref_digest(e.ref),
            "digest": e.digest,
            "observed_at": e.observed_at,
            "observed_at_ns": observed_ns,
            "material": e.material,
            "note": e.note,
            "revoked": json.dumps(sorted(revoked)),
            "actor": self.actor,
            "at": format_ns(self.now_ns),
            "at_ns": self.now_ns,
        }


class EvidenceStore:
    def __init__(self, appender: Appender) -> None:
        self._appender = appender

    def record(self, event: EvidenceEvent, *, actor: str, now_ns: int) -> EvidenceRecorded:
        """Record ``event`` (or find it recorded); :class:`StoreUnavailable` if not."""
        recorded: EvidenceRecorded = self._appender.append(_Record(event, actor, now_ns))
        return recorded
